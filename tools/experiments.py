"""`register_experiment`, `record_outcome`, `list_experiments`: the feedback loop's tools.

They translate between MCP and :class:`kpi_core.experiments.store.ExperimentStore` (at
``ServerConfig.store_path``, env ``CREATOR_KPI_DB``, opened by ``tools._store``).
"""

from typing import Annotated, Any

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field, SkipValidation

from kpi_core.experiments.args import MAX_ARMS, MAX_GUARDRAILS, Correction
from kpi_core.experiments.evidence import MAX_CATEGORY_CHARS
from kpi_core.experiments.plans import (
    DEFAULT_PAGE_SIZE,
    MAX_CREATOR_ID_CHARS,
    MAX_ID_CHARS,
    MAX_PAGE_SIZE,
    ExperimentPage,
    RecordedOutcome,
    Registration,
    Status,
)
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._schema import lean
from tools._shared import DetailArg
from tools._store import open_store

__all__ = ["build_list", "build_record", "build_register"]

WRITES = ToolAnnotations(
    read_only_hint=False, idempotent_hint=True, destructive_hint=False, open_world_hint=False
)
READ_ONLY = ToolAnnotations(
    read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
)

REGISTER_DESCRIPTION = """Register a recommendation's A/B test before it runs: `plan` (the
result of design_ab_test as it is), `intervention_id`, `creator_id`, `category`. Returns
`summary` and `plan_id`; the plan's metric, guardrails, MDE and sample never change. Then
record_outcome."""

RECORD_DESCRIPTION = """Record a registered test's outcome (each arm at its planned sample):
analysed as planned, it becomes evidence recommend uses. `arms` and `guardrails` as
analyze_ab_test's. Returns `summary`, the analysis and the updated evidence; idempotent."""

LIST_DESCRIPTION = """List registered experiments, newest first; filters `intervention_id`,
`status` ("registered", "completed"), `category`, `creator_id`; pages of `limit` with
`next_cursor`. Returns `summary`, `experiments`, `total`."""


#: A plan's settings that a compact answer leaves to detail="full" (the metric, MDE, sample,
#: guardrails and who is tested stay).
_PLAN_SETTINGS = (
    "mde_type",
    "alpha",
    "power",
    "sides",
    "arms",
    "allocation",
    "method",
    "correction",
    "sequential",
    "sequential_tuning",
    "guardrail_margins",
    "arm_names",
)
REGISTER_FULL_ONLY = tuple(f"experiment.plan.{name}" for name in _PLAN_SETTINGS)
RECORD_FULL_ONLY = (
    *REGISTER_FULL_ONLY,
    "analysis.summary",
    "analysis.decision",
    "analysis.analysis_method",
)
LIST_FULL_ONLY = tuple(f"experiments.*.plan.{name}" for name in _PLAN_SETTINGS)


def _omitted(detail: str, full_only: tuple[str, ...]) -> tuple[str, ...]:
    return () if detail == "full" else full_only


def build_register(config: ServerConfig) -> Tool:
    store = open_store(config)

    async def register_experiment(
        plan: Annotated[
            dict[str, Any],
            SkipValidation,
            Field(description="design_ab_test's result, as it is (checked on the server)."),
        ],
        intervention_id: Annotated[
            str,
            Field(description="The recommendation's id.", max_length=MAX_ID_CHARS),
        ],
        creator_id: Annotated[
            str | None,
            Field(description="The creator tested.", max_length=MAX_CREATOR_ID_CHARS),
        ] = None,
        category: Annotated[
            str | None,
            Field(description="The creator's category.", max_length=MAX_CATEGORY_CHARS),
        ] = None,
        plan_id: Annotated[
            str | None,
            Field(description="Your own id; default from the content.", max_length=MAX_ID_CHARS),
        ] = None,
        measured_as: Annotated[
            str | None,
            SkipValidation,
            Field(
                description="The primary metric or '1 - metric'; by default as recommend plans "
                "it (a lower-is-better rate is measured as its complement)."
            ),
        ] = None,
        detail: DetailArg = "summary",
    ) -> Annotated[CallToolResult, Registration]:
        def body(_: CallControl) -> CallToolResult:
            result = store.register_experiment(
                plan,
                intervention_id,
                creator_id=creator_id,
                category=category,
                plan_id=plan_id,
                measured_as=measured_as,
            )
            return ok_result(result.summary, result, omit=_omitted(detail, REGISTER_FULL_ONLY))

        return await run_tool("register_experiment", body, time_limit=config.time_limit)

    tool = Tool.from_function(
        register_experiment,
        name="register_experiment",
        title="Register an experiment",
        description=REGISTER_DESCRIPTION,
        annotations=WRITES,
        structured_output=True,
    )
    return lean(tool, full_only=REGISTER_FULL_ONLY)


def build_record(config: ServerConfig) -> Tool:
    store = open_store(config)

    async def record_outcome(
        plan_id: Annotated[
            str,
            Field(description="From register_experiment.", max_length=MAX_ID_CHARS),
        ],
        arms: Annotated[
            list[dict[str, Any]],
            Field(
                min_length=2,
                max_length=MAX_ARMS,
                description="The arms' results, control first, as analyze_ab_test's arms.",
            ),
            SkipValidation,
        ],
        guardrails: Annotated[
            list[dict[str, Any]] | None,
            Field(
                max_length=MAX_GUARDRAILS,
                description="Each {metric, arms}, arms as analyze_ab_test's, in the same order.",
            ),
            SkipValidation,
        ] = None,
        correction: Annotated[
            Correction | None,
            Field(description="The plan's correction (the default); another one is refused."),
            SkipValidation,
        ] = None,
        detail: DetailArg = "summary",
    ) -> Annotated[CallToolResult, RecordedOutcome]:
        def body(_: CallControl) -> CallToolResult:
            result = store.record_outcome(
                plan_id, arms, guardrails=guardrails, correction=correction
            )
            return ok_result(result.summary, result, omit=_omitted(detail, RECORD_FULL_ONLY))

        return await run_tool("record_outcome", body, time_limit=config.time_limit)

    tool = Tool.from_function(
        record_outcome,
        name="record_outcome",
        title="Record an experiment's outcome",
        description=RECORD_DESCRIPTION,
        annotations=WRITES,
        structured_output=True,
    )
    return lean(tool, full_only=RECORD_FULL_ONLY)


def build_list(config: ServerConfig) -> Tool:
    store = open_store(config)

    async def list_experiments(
        intervention_id: Annotated[str | None, Field(max_length=MAX_ID_CHARS)] = None,
        status: Annotated[Status | None, SkipValidation] = None,
        category: Annotated[str | None, Field(max_length=MAX_CATEGORY_CHARS)] = None,
        creator_id: Annotated[str | None, Field(max_length=MAX_CREATOR_ID_CHARS)] = None,
        limit: Annotated[
            int, Field(description="Experiments per page.", ge=1, le=MAX_PAGE_SIZE, strict=True)
        ] = DEFAULT_PAGE_SIZE,
        cursor: Annotated[
            str | None, SkipValidation, Field(description="next_cursor of the previous page.")
        ] = None,
        detail: DetailArg = "summary",
    ) -> Annotated[CallToolResult, ExperimentPage]:
        def body(_: CallControl) -> CallToolResult:
            page = store.list_experiments(
                intervention_id=intervention_id,
                status=status,
                category=category,
                creator_id=creator_id,
                limit=limit,
                cursor=cursor,
            )
            return ok_result(page.summary, page, omit=_omitted(detail, LIST_FULL_ONLY))

        return await run_tool("list_experiments", body, time_limit=config.time_limit)

    tool = Tool.from_function(
        list_experiments,
        name="list_experiments",
        title="List experiments",
        description=LIST_DESCRIPTION,
        annotations=READ_ONLY,
        structured_output=True,
    )
    return lean(tool, full_only=LIST_FULL_ONLY)
