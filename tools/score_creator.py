"""`score_creator`: one creator's metrics in, the overall score with its interval and the 13 KPIs
out."""

from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from kpi_core.kernel import Missing
from kpi_core.scoring import ScoreAnswer, score_answer
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._params import as_object, as_weighting
from tools._shared import REFS, CurrencyArg, DetailArg, MetricsArg, WeightingArg

DESCRIPTION = """Score a TikTok creator for e-commerce revenue: the first call. `metrics`: raw
30-day metrics, all optional (rates are fractions: 3.5% is 0.035; see kpi://metrics). Returns
`summary`, overall score 0-100 with its 80% interval, band, coverage, the 13 KPIs against their
benchmarks for this size, and `creator_ref` for the other tools instead of the metrics."""

MissingArg = Annotated[
    Missing,
    Field(
        description='"benchmark" (default): a missing metric counts at its prior; "renormalise": '
        "left out (optimistic)."
    ),
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
                refs=REFS,
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
