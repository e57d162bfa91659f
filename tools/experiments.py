"""`register_experiment`, `record_outcome`, `list_experiments`: the feedback loop's tools.

They translate between MCP and :class:`kpi_core.experiments.store.ExperimentStore` (at
``ServerConfig.store_path``, env ``CREATOR_KPI_DB``, opened by ``tools._store``).
"""

from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field, SkipValidation

from kpi_core.experiments.args import MAX_ARMS, MAX_GUARDRAILS, Arm, Correction, GuardrailArms
from kpi_core.experiments.plans import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ExperimentPage,
    ExperimentPlan,
    RecordedOutcome,
    Registration,
    Status,
)
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._store import open_store

__all__ = ["build_list", "build_record", "build_register"]

WRITES = ToolAnnotations(
    read_only_hint=False, idempotent_hint=True, destructive_hint=False, open_world_hint=False
)
READ_ONLY = ToolAnnotations(
    read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
)

REGISTER_DESCRIPTION = """Register an intervention's A/B test plan; its outcome is recorded later.

`plan` is the result of design_ab_test, passed as it is (at least metric_kind, baseline, mde,
allocation and n_per_arm). `intervention_id` is the id of the recommendation being tested (such
as "sc_pin_product_link"); `creator_id` and `category` say whose test it is: evidence for
creators of the same category is preferred once it exists. Returns `plan_id`: the same plan
registered again gets the same id and is stored once. A registered plan's primary metric, MDE
and sample size never change; pass your own `plan_id` only to name a plan (reusing it for a
different plan is refused). Call record_outcome with the plan_id once the test has run."""

RECORD_DESCRIPTION = """Record a registered A/B test's outcome; it becomes evidence for recommend.

`arms` lists the results, control first, once every arm has reached its planned sample (a
sequential plan: once it has decided): for a viewer-level proportion plan each {name,
conversions, units}; for a ratio plan each {name, n, numerator_sum, numerator_sum_squares,
denominator_sum, denominator_sum_squares, sum_of_products}; for any other plan each {name, mean,
sd, n} or {name, n, sum, sum_squares} of the per-unit primary metric, with pre_sum,
pre_sum_squares and sum_of_products when the plan uses CUPED. `guardrails` gives each planned
guardrail's arms the same way ({metric, arms}). The outcome is analysed as the plan says (sides,
method, correction, CUPED, sequential, guardrail margins) and its lift is blended with the
intervention's catalogue range (an implausible lift waits for an operator's confirmation).
Recording the same outcome again changes nothing; a different outcome for the plan is refused."""

LIST_DESCRIPTION = f"""List registered experiments, newest first, with their status and outcome.

Filters (all optional, combined): `intervention_id`, `status` ("registered": awaiting an outcome;
"completed"), `category`, `creator_id`. Returns up to `limit` (1-{MAX_PAGE_SIZE}, default
{DEFAULT_PAGE_SIZE}) experiments, the `total` that match, and `next_cursor`: pass it as `cursor`
for the next page."""


def build_register(config: ServerConfig) -> Tool:
    store = open_store(config)

    async def register_experiment(
        plan: Annotated[
            ExperimentPlan,
            SkipValidation,
            Field(description="The result of design_ab_test, as it is."),
        ],
        intervention_id: Annotated[
            str,
            SkipValidation,
            Field(description="The id of the recommendation under test."),
        ],
        creator_id: Annotated[
            str | None, SkipValidation, Field(description="The creator tested (if one).")
        ] = None,
        category: Annotated[
            str | None, SkipValidation, Field(description="The creator's category.")
        ] = None,
        plan_id: Annotated[
            str | None,
            SkipValidation,
            Field(description="Your own name for the plan; by default derived from its content."),
        ] = None,
        measured_as: Annotated[
            str | None,
            SkipValidation,
            Field(
                description="The primary metric or '1 - metric'; by default as recommend plans "
                "it (a lower-is-better rate is measured as its complement)."
            ),
        ] = None,
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
            return ok_result(result.summary, result)

        return await run_tool("register_experiment", body, time_limit=config.time_limit)

    return Tool.from_function(
        register_experiment,
        name="register_experiment",
        title="Register an experiment",
        description=REGISTER_DESCRIPTION,
        annotations=WRITES,
        structured_output=True,
    )


def build_record(config: ServerConfig) -> Tool:
    store = open_store(config)

    async def record_outcome(
        plan_id: Annotated[str, SkipValidation, Field(description="From register_experiment.")],
        arms: Annotated[
            list[Arm],
            Field(
                min_length=2, max_length=MAX_ARMS, description="The arms' results, control first."
            ),
            SkipValidation,
        ],
        guardrails: Annotated[
            list[GuardrailArms] | None,
            Field(
                max_length=MAX_GUARDRAILS,
                description="The plan's guardrails: each {metric, arms} in the same arm order.",
            ),
            SkipValidation,
        ] = None,
        correction: Annotated[
            Correction | None,
            Field(description="The plan's correction (the default); another one is refused."),
            SkipValidation,
        ] = None,
    ) -> Annotated[CallToolResult, RecordedOutcome]:
        def body(_: CallControl) -> CallToolResult:
            result = store.record_outcome(
                plan_id, arms, guardrails=guardrails, correction=correction
            )
            return ok_result(result.summary, result)

        return await run_tool("record_outcome", body, time_limit=config.time_limit)

    return Tool.from_function(
        record_outcome,
        name="record_outcome",
        title="Record an experiment's outcome",
        description=RECORD_DESCRIPTION,
        annotations=WRITES,
        structured_output=True,
    )


def build_list(config: ServerConfig) -> Tool:
    store = open_store(config)

    async def list_experiments(
        intervention_id: Annotated[str | None, SkipValidation] = None,
        status: Annotated[Status | None, SkipValidation] = None,
        category: Annotated[str | None, SkipValidation] = None,
        creator_id: Annotated[str | None, SkipValidation] = None,
        limit: Annotated[
            int, SkipValidation, Field(description=f"Experiments per page, 1-{MAX_PAGE_SIZE}.")
        ] = DEFAULT_PAGE_SIZE,
        cursor: Annotated[
            str | None, SkipValidation, Field(description="next_cursor of the previous page.")
        ] = None,
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
            return ok_result(page.summary, page)

        return await run_tool("list_experiments", body, time_limit=config.time_limit)

    return Tool.from_function(
        list_experiments,
        name="list_experiments",
        title="List experiments",
        description=LIST_DESCRIPTION,
        annotations=READ_ONLY,
        structured_output=True,
    )
