"""`register_experiment`, `record_outcome`, `list_experiments`: the feedback loop's tools.

They translate between MCP and :class:`kpi_core.store.ExperimentStore` (at
``ServerConfig.store_path``, env ``CREATOR_KPI_DB``). :func:`recommend_evidence` is what the
``recommend`` tool uses to read the store: a failing store gives no evidence and a warning
sentence, never a failed ``recommend``.
"""

import logging
from collections.abc import Mapping
from typing import Annotated, Literal

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field, SkipValidation

from kpi_core.abtest import MeanArm, ProportionArm
from kpi_core.interventions import load_interventions
from kpi_core.recommendations import InterventionEvidence
from kpi_core.store import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ExperimentPage,
    ExperimentPlan,
    ExperimentStore,
    RecordedOutcome,
    Registration,
    Status,
    StoreError,
)
from prompts import render
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool

__all__ = ["build_list", "build_record", "build_register", "open_store", "recommend_evidence"]

logger = logging.getLogger("creator_kpi.tools")

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

`arms` lists the results, control first, once every arm has reached its planned sample: for a
viewer-level proportion plan each {name, conversions, units}; for any other plan (a mean, or
creator or time_block units) each {name, mean, sd, n}, the per-unit mean of the primary metric,
its standard deviation between units, and the number of units. The outcome is analysed like
analyze_ab_test (the plan's allocation for the sample-ratio check) and its lift, with its
standard error, is blended with the intervention's catalogue range. Recording the same outcome
again changes nothing; a different outcome for the same plan is refused."""

LIST_DESCRIPTION = f"""List registered experiments, newest first, with their status and outcome.

Filters (all optional, combined): `intervention_id`, `status` ("registered": awaiting an outcome;
"completed"), `category`, `creator_id`. Returns up to `limit` (1-{MAX_PAGE_SIZE}, default
{DEFAULT_PAGE_SIZE}) experiments, the `total` that match, and `next_cursor`: pass it as `cursor`
for the next page."""


def open_store(config: ServerConfig) -> ExperimentStore:
    """The store a server with this configuration uses (no I/O until its first operation)."""
    return ExperimentStore(config.store_path)


def recommend_evidence(
    store: ExperimentStore, metrics: Mapping[str, object]
) -> tuple[Mapping[str, InterventionEvidence] | None, str | None]:
    """Evidence for ``recommend`` for the creator's category, or None and a warning sentence.

    A store that cannot be read (unreadable, locked, newer schema) must not stop ``recommend``:
    the catalogue's ranges are used and the warning says why.
    """
    category = metrics.get("category")
    try:
        return store.evidence(category if isinstance(category, str) else None), None
    except StoreError as error:
        logger.warning("recommend ran without recorded evidence: %s", error.rule)
        return None, render("experiments_store_warning.txt.j2", problem=str(error))


def _target(intervention_id: str) -> str | None:
    item = load_interventions().get(intervention_id)
    return None if item is None else item.metric


def registration_summary(result: Registration) -> str:
    return render("experiments_registered.txt.j2", result=result, plan=result.experiment.plan)


def outcome_summary(result: RecordedOutcome) -> str:
    plan = result.experiment.plan
    return render(
        "experiments_outcome.txt.j2",
        result=result,
        plan=plan,
        outcome=result.experiment.outcome,
        target=_target(plan.intervention_id),
    )


def page_summary(page: ExperimentPage, filters: Mapping[str, object]) -> str:
    return render(
        "experiments_list.txt.j2",
        page=page,
        filters={name: value for name, value in filters.items() if value is not None},
        targets={e.plan.intervention_id: _target(e.plan.intervention_id) for e in page.experiments},
    )


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
            return ok_result(registration_summary(result), result)

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
            list[ProportionArm | MeanArm],
            SkipValidation,
            Field(description="The arms' results, control first."),
        ],
        correction: Annotated[Literal["holm", "bonferroni", "none"], SkipValidation] = "holm",
    ) -> Annotated[CallToolResult, RecordedOutcome]:
        def body(_: CallControl) -> CallToolResult:
            result = store.record_outcome(plan_id, arms, correction=correction)
            return ok_result(outcome_summary(result), result)

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
            filters = {
                "intervention_id": intervention_id,
                "status": status,
                "category": category,
                "creator_id": creator_id,
            }
            return ok_result(page_summary(page, filters), page)

        return await run_tool("list_experiments", body, time_limit=config.time_limit)

    return Tool.from_function(
        list_experiments,
        name="list_experiments",
        title="List experiments",
        description=LIST_DESCRIPTION,
        annotations=READ_ONLY,
        structured_output=True,
    )
