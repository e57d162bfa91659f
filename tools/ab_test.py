"""`design_ab_test` and `analyze_ab_test`: plan an experiment, then read its outcome.

Each tool's arguments are the fields of one kpi_core model (:class:`DesignRequest`,
:class:`AnalysisArgs`): the signature below is built from the model, so its bounds and enums
are the input schema a client sees, while every value is checked by kpi_core in our words.
"""

import inspect
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field, SkipValidation

from kpi_core.experiments.analysis import AbTestAnalysis, analyze_ab_test
from kpi_core.experiments.args import AnalysisArgs, DesignRequest
from kpi_core.experiments.design import AbTestDesign, plan_experiment
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool

__all__ = ["build_analyze", "build_design"]

READ_ONLY = ToolAnnotations(
    read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
)

DESIGN_DESCRIPTION = """Plan a fixed-horizon A/B test: sample size per arm, duration, SRM check.

For a `proportion` (a rate such as conversion_rate, as a fraction: 2% is 0.02) or a `mean` (give
`baseline_sd`). `mde` is the smallest lift worth detecting: relative to the baseline by default
(0.1 = +10%), or absolute with mde_type "absolute". `unit` says what is randomised: "viewer"
(give daily_units for a duration), "creator" (a cohort of creators split between arms; give
baseline_sd between creators and available_units) or "time_block" (a switchback within one
creator: alternating blocks of block_days; baseline_sd between blocks). More than two arms use a
Bonferroni-adjusted alpha; cuped_correlation (0-1) shrinks the variance by 1 - rho^2. The
`ab_test` object of a `recommend` result can be passed here as it is, once its `missing` fields
are filled in. Returns n_per_arm, n_total, duration_days (whole weeks), feasible,
detectable_mde_in_4_weeks, the hypothesis, primary metric, guardrails and the SRM check."""

ANALYZE_DESCRIPTION = """Read an A/B test's outcome: lifts, intervals, p-values, SRM and a decision.

`arms` lists the arms, control first: for a proportion each {name, conversions, units}; for a
mean each {name, mean, sd, n}. Proportions use a pooled two-sided z-test with a Wald interval;
means use Welch's t-test. Several treatment arms are corrected with Holm (default) or Bonferroni.
The sample ratio mismatch (SRM) check compares the units per arm with planned_allocation
(equal by default); an alarm (p < 0.001) means the split is broken: do not trust the result.
Give planned_n_per_arm to be warned when the test is read before it reached its sample size."""


def arguments_of(model: type[BaseModel], returns: object) -> inspect.Signature:
    """A keyword-only signature with one parameter per field of ``model``.

    Each parameter keeps the field's type, bounds and description (so the SDK's input schema
    shows them) and skips pydantic's validation, so kpi_core checks every value in our words.
    """
    parameters: list[inspect.Parameter] = []
    for name, field in model.model_fields.items():
        metadata = (Field(description=field.description), *field.metadata, SkipValidation)
        annotation: Any = Annotated[(field.annotation, *metadata)]  # pyright: ignore[reportInvalidTypeArguments]
        default = (
            inspect.Parameter.empty
            if field.is_required()
            else field.get_default(call_default_factory=True)
        )
        parameters.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )
    return inspect.Signature(parameters, return_annotation=returns)


Handler = Callable[..., Coroutine[Any, Any, CallToolResult]]


def _with_arguments_of(model: type[BaseModel], handler: Handler) -> Handler:
    """``handler`` (which takes ``**arguments``) with the signature of ``model``'s fields."""
    returns = inspect.signature(handler, eval_str=True).return_annotation
    vars(handler)["__signature__"] = arguments_of(model, returns)
    return handler


def build_design(config: ServerConfig) -> Tool:
    async def design_ab_test(**arguments: Any) -> Annotated[CallToolResult, AbTestDesign]:
        def body(_: CallControl) -> CallToolResult:
            result = plan_experiment(DesignRequest.model_construct(**arguments))
            return ok_result(result.summary, result)

        return await run_tool("design_ab_test", body, time_limit=config.time_limit)

    return Tool.from_function(
        _with_arguments_of(DesignRequest, design_ab_test),
        name="design_ab_test",
        title="Plan an A/B test",
        description=DESIGN_DESCRIPTION,
        annotations=READ_ONLY,
        structured_output=True,
    )


def build_analyze(config: ServerConfig) -> Tool:
    async def analyze(**arguments: Any) -> Annotated[CallToolResult, AbTestAnalysis]:
        def body(_: CallControl) -> CallToolResult:
            result = analyze_ab_test(**arguments)
            return ok_result(result.summary, result)

        return await run_tool("analyze_ab_test", body, time_limit=config.time_limit)

    return Tool.from_function(
        _with_arguments_of(AnalysisArgs, analyze),
        name="analyze_ab_test",
        title="Read an A/B test",
        description=ANALYZE_DESCRIPTION,
        annotations=READ_ONLY,
        structured_output=True,
    )
