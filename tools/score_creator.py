"""`score_creator`: one creator's metrics in, the overall score and the 13-KPI breakdown out."""

from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations

from kpi_core import score
from kpi_core.scoring import ScoreResult
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._params import as_object, as_weighting
from tools._shared import CurrencyArg, MetricsArg, WeightingArg

DESCRIPTION = """Score one TikTok creator for e-commerce revenue on 13 KPIs (0-100 overall).

Give `metrics` as an object of raw 30-day metrics with canonical names (see the resource
kpi://metrics). Every field is optional: a KPI without data is reported as not scored, and the
overall score is taken over the weight that has data (`coverage` says how much). Units: rates and
shares are fractions in 0..1, never percent (3.5% is 0.035); counts are whole numbers; money is in
`currency` (USD by default); growth rates are relative changes (0.2 = +20%, may be negative).
`likes_ratio`, `comments_ratio` and `shares_ratio` are shares of interactions, not rates per view.
`total_revenue` is accepted as an alias of `gmv`. Missing derived metrics (engagement_rate,
avg_order_value, product_ctr, conversion_rate, gpm, cpm) are computed from their inputs.

`weighting` is "tiered" (default: revenue drivers 55%, enablers 32%, health 13%), "equal", or an
object giving all 13 KPI ids weights that sum to 1. Returns `overall_score`, `band`, `coverage`,
`revenue_coverage` and per KPI its score, weights, contribution (points; they sum to the overall)
and the metrics behind it with their benchmarks for a creator of this size. Call `diagnose` next
to see what holds the score back."""


def build(config: ServerConfig) -> Tool:
    async def score_creator(
        metrics: MetricsArg,
        weighting: WeightingArg = "tiered",
        currency: CurrencyArg = None,
    ) -> Annotated[CallToolResult, ScoreResult]:
        def body(_: CallControl) -> CallToolResult:
            result = score(
                as_object(metrics, "metrics"),
                as_weighting(weighting),
                currency=currency,
                fx_to_default=config.fx_to_default,
            )
            return ok_result(result.summary, result)

        return await run_tool("score_creator", body, time_limit=config.time_limit)

    return Tool.from_function(
        score_creator,
        name="score_creator",
        title="Score a creator",
        description=DESCRIPTION,
        annotations=ToolAnnotations(
            read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
        ),
        structured_output=True,
    )
