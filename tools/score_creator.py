"""`score_creator`: one creator's metrics in, the overall score with its interval and the 13 KPIs
out."""

from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from kpi_core.kernel import Missing
from kpi_core.score_models import DetailLevel
from kpi_core.scoring import ScoreAnswer, score_answer
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._params import as_object, as_weighting
from tools._shared import CurrencyArg, MetricsArg, WeightingArg

DESCRIPTION = """Score one TikTok creator for e-commerce revenue on 13 KPIs (0-100 overall, with an
80% interval).

Give `metrics` as an object of raw 30-day metrics with canonical names (see the resource
kpi://metrics). Every field is optional: a missing metric counts at its prior (the benchmark for a
creator of this size, adjusted by what was given) and widens the interval; `coverage` says how
much of the weight had data. Units: rates and shares are fractions in 0..1, never percent (3.5% is
0.035); counts are whole numbers; money is in `currency` (USD by default); growth rates are
relative changes (0.2 = +20%, may be negative). `likes_ratio`, `comments_ratio` and `shares_ratio`
are shares of interactions, not rates per view. `total_revenue` is an alias of `gmv`. Derived
metrics (engagement_rate, avg_order_value, product_ctr, conversion_rate, gpm, cpm) are computed
from their inputs; rates with their counts are shrunk toward the benchmark when the counts are
small.

`weighting` is "tiered" (default: revenue drivers 55%, enablers 32%, health 13%), "equal", or an
object giving all 13 KPI ids weights that sum to 1. Returns `overall_score`, `score_interval`,
`band`, `coverage`, `revenue_coverage` and per KPI its score, benchmark score, weight,
contribution (points; they sum to the overall) and whether it was imputed; `detail="full"` adds
per-KPI intervals and the metrics behind each KPI. Call `diagnose` next to see what holds the
score back."""

MissingArg = Annotated[
    Missing,
    Field(
        description='"benchmark" (default): a missing metric counts at its prior and widens the '
        'interval; "renormalise": missing metrics are left out (optimistic for thin data).'
    ),
]
DetailArg = Annotated[
    DetailLevel,
    Field(description='"summary" (default, compact) or "full" (per-KPI intervals, components).'),
]


def build(config: ServerConfig) -> Tool:
    async def score_creator(
        metrics: MetricsArg,
        weighting: WeightingArg = "tiered",
        currency: CurrencyArg = None,
        missing: MissingArg = "benchmark",
        detail: DetailArg = "summary",
    ) -> Annotated[CallToolResult, ScoreAnswer]:
        def body(_: CallControl) -> CallToolResult:
            result = score_answer(
                as_object(metrics, "metrics"),
                as_weighting(weighting),
                currency=currency,
                fx_to_default=config.fx_to_default,
                missing=missing,
                detail=detail,
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
