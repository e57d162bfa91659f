"""`recommend`: prioritised interventions for a creator, each with the A/B test that proves it."""

from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from kpi_core.interventions import Objective
from kpi_core.recommendations import FULL_ONLY, MAX_ITEMS, Recommendations, recommend
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._params import as_weighting
from tools._schema import lean
from tools._shared import (
    CreatorRefArg,
    CurrencyArg,
    DetailArg,
    MetricsObjectArg,
    WeightingArg,
    creator_record,
)
from tools._store import open_store, recommend_evidence

DESCRIPTION = """Recommend what a creator should change, in priority order (after diagnose; pass
`creator_ref`). Returns `summary` and `recommendations`: `title`, `text`, `priority`,
`expected_uplift` (overall score points), `evidence`, and `ab_test` (design_ab_test's arguments;
fill in `missing`). With nothing below benchmark it aims at a stretch goal; `data_needed` names
metrics to add."""


#: Recommendations a default answer shows (max_items asks for more, up to MAX_ITEMS).
DEFAULT_ITEMS = 3


def build(config: ServerConfig) -> Tool:
    store = open_store(config)

    async def recommend_tool(
        metrics: MetricsObjectArg = None,
        creator_ref: CreatorRefArg = None,
        weighting: WeightingArg = "tiered",
        max_items: Annotated[
            int, Field(ge=1, le=MAX_ITEMS, strict=True, description="Recommendations to return.")
        ] = DEFAULT_ITEMS,
        objective: Objective = "balanced",
        currency: CurrencyArg = None,
        detail: DetailArg = "summary",
    ) -> Annotated[CallToolResult, Recommendations]:
        def body(_: CallControl) -> CallToolResult:
            creator = creator_record(metrics, creator_ref)
            evidence, warning = recommend_evidence(store, creator)
            result = recommend(
                creator,
                as_weighting(weighting),
                max_items,
                objective,
                evidence,
                currency=currency,
                fx_to_default=config.fx_to_default,
                detail=detail,
            )
            text = result.summary if warning is None else f"{result.summary}\n{warning}"
            return ok_result(text, result)

        return await run_tool("recommend", body, time_limit=config.time_limit)

    tool = Tool.from_function(
        recommend_tool,
        name="recommend",
        title="Recommend changes",
        description=DESCRIPTION,
        annotations=ToolAnnotations(
            read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
        ),
        structured_output=True,
    )
    return lean(tool, full_only=FULL_ONLY)
