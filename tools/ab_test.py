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

from kpi_core.experiments.analysis import AbTestAnalysis
from kpi_core.experiments.args import AnalysisRequest, DesignRequest
from kpi_core.experiments.design import AbTestDesign, plan_experiment
from kpi_core.experiments.store import read_experiment
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._store import open_store

__all__ = ["build_analyze", "build_design"]

READ_ONLY = ToolAnnotations(
    read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
)

DESIGN_DESCRIPTION = """Plan an A/B test: sample size per arm, duration, SRM check, feasibility.

For a `proportion` (a rate such as conversion_rate, as a fraction: 2% is 0.02), a `mean` (give
`baseline_sd`) or a `ratio` of sums over the units such as GMV per order (baseline_sd: its
delta-method sd per unit, which analyze_ab_test reports as unit_sd). `mde` is the smallest lift
worth detecting: relative to the baseline by default (0.1 = +10%), or absolute with mde_type
"absolute". `unit` says what is randomised: "viewer"
(give daily_units for a duration), "creator" (a cohort of creators split between arms; give
baseline_sd between creators and available_units) or "time_block" (a switchback within one
creator: alternating blocks of block_days; baseline_sd between blocks). More than two arms use a
Bonferroni-adjusted alpha; cuped_correlation (0-1) shrinks the variance by 1 - rho^2 (record the
pre-period sums then). `sequential` plans an always-valid analysis (read it any time) and reports
its cost in units; `guardrail_margins` sets non-inferiority margins. Under 30 units per arm the
plan uses t quantiles. The `ab_test` object of a `recommend` result can be passed here as it is,
once its `missing` fields are filled in. Returns n_per_arm, n_total, duration_days (whole weeks),
feasible, detectable_mde_in_4_weeks, the hypothesis, primary metric, guardrails and SRM check."""

ANALYZE_DESCRIPTION = """Read an A/B test: lifts, intervals, p-values, SRM, guardrails, a decision.

`arms`, control first: a proportion's {name, conversions, units}; a mean's {name, mean, sd, n} or
{name, n, sum, sum_squares}, plus pre_sum, pre_sum_squares, sum_of_products for CUPED (ANCOVA); a
ratio's {name, n, numerator_sum, numerator_sum_squares, denominator_sum, denominator_sum_squares,
sum_of_products} (delta method). Proportions: pooled z-test with the score interval that inverts
it, Fisher's exact test for small counts; means: Welch t. `sides` 1 tests only an improvement in
`improvement`'s direction; method "relative_lift" decides on the log ratio; `sequential` gives
always-valid results. Holm (default) or Bonferroni across arms, with intervals that agree with
the decisions. `guardrails` ({metric, arms}) are tested for non-inferiority; a failed one blocks
shipping. The SRM check compares units per arm with planned_allocation (alarm at p < 0.001).
Give `plan_id` to analyse as a registered plan says (then omit the settings)."""


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
    store = open_store(config)

    async def analyze(**arguments: Any) -> Annotated[CallToolResult, AbTestAnalysis]:
        def body(_: CallControl) -> CallToolResult:
            result = read_experiment(arguments, store)
            return ok_result(result.summary, result)

        return await run_tool("analyze_ab_test", body, time_limit=config.time_limit)

    return Tool.from_function(
        _with_arguments_of(AnalysisRequest, analyze),
        name="analyze_ab_test",
        title="Read an A/B test",
        description=ANALYZE_DESCRIPTION,
        annotations=READ_ONLY,
        structured_output=True,
    )
