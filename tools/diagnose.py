"""`diagnose`: what holds a creator's score back, the funnel leak, and what-ifs."""

from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from kpi_core.diagnosis import MAX_BOTTLENECKS, Diagnosis, diagnose
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._params import as_weighting
from tools._shared import (
    CreatorRefArg,
    CurrencyArg,
    DetailArg,
    MetricsObjectArg,
    WeightingArg,
    creator_record,
)

DESCRIPTION = """Find what holds a creator's revenue score back (after score_creator; pass its
`creator_ref`). Returns `summary`, `bottlenecks` by `impact` (overall points regained at the
size's benchmark) with their metrics, the shop `funnel`, `what_if` scores, `strengths` and
`data_gaps`. Call recommend next."""


def build(config: ServerConfig) -> Tool:
    async def diagnose_tool(
        metrics: MetricsObjectArg = None,
        creator_ref: CreatorRefArg = None,
        weighting: WeightingArg = "tiered",
        top_n: Annotated[
            int, Field(ge=1, le=MAX_BOTTLENECKS, strict=True, description="Bottlenecks to show.")
        ] = 3,
        currency: CurrencyArg = None,
        detail: DetailArg = "summary",
    ) -> Annotated[CallToolResult, Diagnosis]:
        def body(_: CallControl) -> CallToolResult:
            result = diagnose(
                creator_record(metrics, creator_ref),
                as_weighting(weighting),
                top_n,
                currency=currency,
                fx_to_default=config.fx_to_default,
                detail=detail,
            )
            return ok_result(result.summary, result)

        return await run_tool("diagnose", body, time_limit=config.time_limit)

    return Tool.from_function(
        diagnose_tool,
        name="diagnose",
        title="Diagnose a creator",
        description=DESCRIPTION,
        annotations=ToolAnnotations(
            read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
        ),
        structured_output=True,
    )
