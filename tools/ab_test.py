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
from tools._schema import lean
from tools._shared import DetailArg
from tools._store import open_store

__all__ = ["build_analyze", "build_design"]

READ_ONLY = ToolAnnotations(
    read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
)

DESIGN_DESCRIPTION = """Plan an A/B test: pass a recommendation's `ab_test` (`missing` filled in)
or give `metric_kind`, `baseline` and `mde` (relative by default: 0.1 = +10%). `unit`: viewer
(give daily_units), creator (available_units) or time_block (block_days). Returns `summary`,
`n_per_arm`, `duration_days`, `feasible`, `primary_metric`, `guardrails`; pass the result to
register_experiment."""

ANALYZE_DESCRIPTION = """Read an A/B test: lifts, intervals, p-values, SRM, guardrails, decision.
`arms`, control first: {name, conversions, units}; {name, mean, sd, n} or sums (with CUPED's
pre-period sums); ratio sums. `plan_id` reads as a registered plan says."""

#: Prose a compact answer leaves to detail="full" (the summary says what matters of it).
DESIGN_FULL_ONLY = ("method_label", "analysis_method", "stopping_rule", "assumptions")
ANALYZE_FULL_ONLY = ("analysis_method",)

DETAIL = inspect.Parameter(
    "detail",
    inspect.Parameter.KEYWORD_ONLY,
    default="summary",
    annotation=DetailArg,
)


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
    return inspect.Signature([*parameters, DETAIL], return_annotation=returns)


Handler = Callable[..., Coroutine[Any, Any, CallToolResult]]


def _with_arguments_of(model: type[BaseModel], handler: Handler) -> Handler:
    """``handler`` (which takes ``**arguments``) with the signature of ``model``'s fields."""
    returns = inspect.signature(handler, eval_str=True).return_annotation
    vars(handler)["__signature__"] = arguments_of(model, returns)
    return handler


def build_design(config: ServerConfig) -> Tool:
    async def design_ab_test(**arguments: Any) -> Annotated[CallToolResult, AbTestDesign]:
        omit = DESIGN_FULL_ONLY if arguments.pop("detail", "summary") != "full" else ()

        def body(_: CallControl) -> CallToolResult:
            result = plan_experiment(DesignRequest.model_construct(**arguments))
            return ok_result(result.summary, result, omit=omit)

        return await run_tool("design_ab_test", body, time_limit=config.time_limit)

    tool = Tool.from_function(
        _with_arguments_of(DesignRequest, design_ab_test),
        name="design_ab_test",
        title="Plan an A/B test",
        description=DESIGN_DESCRIPTION,
        annotations=READ_ONLY,
        structured_output=True,
    )
    return lean(tool, full_only=DESIGN_FULL_ONLY)


def build_analyze(config: ServerConfig) -> Tool:
    store = open_store(config)

    async def analyze(**arguments: Any) -> Annotated[CallToolResult, AbTestAnalysis]:
        omit = ANALYZE_FULL_ONLY if arguments.pop("detail", "summary") != "full" else ()

        def body(_: CallControl) -> CallToolResult:
            result = read_experiment(arguments, store)
            return ok_result(result.summary, result, omit=omit)

        return await run_tool("analyze_ab_test", body, time_limit=config.time_limit)

    tool = Tool.from_function(
        _with_arguments_of(AnalysisRequest, analyze),
        name="analyze_ab_test",
        title="Read an A/B test",
        description=ANALYZE_DESCRIPTION,
        annotations=READ_ONLY,
        structured_output=True,
    )
    return lean(tool, full_only=ANALYZE_FULL_ONLY)
