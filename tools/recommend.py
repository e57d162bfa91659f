"""`recommend`: prioritised interventions for a creator, each with the A/B test that proves it."""

from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from kpi_core.interventions import Objective
from kpi_core.recommendations import MAX_ITEMS, Recommendations, recommend
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._params import as_object, as_weighting
from tools._shared import UNITS_NOTE, CurrencyArg, MetricsArg, WeightingArg
from tools._store import open_store, recommend_evidence

DESCRIPTION = f"""Recommend what a TikTok creator should change to raise revenue, in priority order.

Takes the same `metrics` and `weighting` as score_creator. Interventions come from a fixed
catalogue (see kpi://interventions) for the diagnosed bottlenecks whose preconditions hold.
`expected_uplift` is the change of the overall score (points; low/mid/high) if the intervention's
lift range is applied to the metrics and moved through the shop funnel. `priority` = objective
weight x mid uplift x feasibility / effort cost (low 1, medium 2, high 4); higher first.
`objective`: "balanced" (default), "grow_gmv", "improve_conversion" or "build_audience".
Each item's `ab_test` holds the arguments of design_ab_test (MDE at the low end of the lift range,
baseline from the creator's metrics); fill in its `missing` fields and call design_ab_test.
{UNITS_NOTE} Every sentence is from a template; every number from the scoring core."""


def build(config: ServerConfig) -> Tool:
    store = open_store(config)

    async def recommend_tool(
        metrics: MetricsArg,
        weighting: WeightingArg = "tiered",
        max_items: Annotated[
            int, Field(ge=1, le=MAX_ITEMS, strict=True, description="Recommendations to return.")
        ] = 5,
        objective: Objective = "balanced",
        currency: CurrencyArg = None,
    ) -> Annotated[CallToolResult, Recommendations]:
        def body(_: CallControl) -> CallToolResult:
            creator = as_object(metrics, "metrics")
            evidence, warning = recommend_evidence(store, creator)
            result = recommend(
                creator,
                as_weighting(weighting),
                max_items,
                objective,
                evidence,
                currency=currency,
                fx_to_default=config.fx_to_default,
            )
            text = result.summary if warning is None else f"{result.summary}\n{warning}"
            return ok_result(text, result)

        return await run_tool("recommend", body, time_limit=config.time_limit)

    return Tool.from_function(
        recommend_tool,
        name="recommend",
        title="Recommend changes",
        description=DESCRIPTION,
        annotations=ToolAnnotations(
            read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
        ),
        structured_output=True,
    )
