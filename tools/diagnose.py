"""`diagnose`: what holds a creator's score back, the funnel leak, and what-ifs."""

from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from kpi_core.diagnosis import MAX_TOP_N, Diagnosis, diagnose
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._params import as_object, as_weighting
from tools._shared import UNITS_NOTE, CurrencyArg, MetricsArg, WeightingArg

DESCRIPTION = f"""Find what holds a TikTok creator's revenue score back.

Takes the same `metrics` and `weighting` as score_creator. Returns `bottlenecks` ranked by impact
(points of overall score lost: effective weight x gap, where gap is the KPI's benchmark score for a
creator of this size minus its score), each with the metrics behind it against their benchmarks;
the shop `funnel` (views -> product clicks -> orders -> orders net of refunds) with the step that
leaks most; `what_if` (the overall score if each bottleneck's metrics reached their benchmarks,
moved through the funnel, and all together); `strengths`; and `data_gaps` (KPIs not scored, with
the metrics that would fill them). `top_n` (default 3) bounds the bottlenecks shown.
{UNITS_NOTE} Call `recommend` next for what to change."""


def build(config: ServerConfig) -> Tool:
    async def diagnose_tool(
        metrics: MetricsArg,
        weighting: WeightingArg = "tiered",
        top_n: Annotated[
            int, Field(ge=1, le=MAX_TOP_N, strict=True, description="Bottlenecks to show.")
        ] = 3,
        currency: CurrencyArg = None,
    ) -> Annotated[CallToolResult, Diagnosis]:
        def body(_: CallControl) -> CallToolResult:
            result = diagnose(
                as_object(metrics, "metrics"),
                as_weighting(weighting),
                top_n,
                currency=currency,
                fx_to_default=config.fx_to_default,
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
