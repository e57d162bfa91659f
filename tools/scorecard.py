"""`show_scorecard`: a creator's scorecard as an MCP App, with the same data as structured content.

The tool is bound (``_meta.ui.resourceUri``) to the ``ui://`` resource :data:`SCORECARD_URI`, an
HTML view served as ``text/html;profile=mcp-app`` through the SDK's Apps extension. A host with
MCP Apps renders the view inline and hands it this tool's result; the view's what-if form re-scores
by calling this tool again through the host. A client without Apps gets the same result: a short
summary as text and the whole scorecard as structured content.

The view is one self-contained file, ``prompts/templates/scorecard.html``, built from
``prompts/templates/scorecard/`` by ``tests/browser/build-scorecard.mjs`` (it inlines the app side
of ``@modelcontextprotocol/ext-apps``, so the page loads nothing from the network).
"""

from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations

from kpi_core.scorecard import TOP_BOTTLENECKS, TOP_RECOMMENDATIONS, Scorecard, scorecard
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._params import as_object, as_weighting
from tools._scorecard_view import SCORECARD_HTML, SCORECARD_URI, apps
from tools._shared import UNITS_NOTE, CurrencyArg, MetricsArg, WeightingArg
from tools._store import open_store, recommend_evidence

__all__ = ["SCORECARD_HTML", "SCORECARD_URI", "apps", "build"]

DESCRIPTION = f"""Show one TikTok creator's revenue scorecard (an interactive view in hosts with
MCP Apps; the same data as structured content everywhere else).

Takes the same `metrics`, `weighting` and `currency` as score_creator. Returns `score` (exactly
score_creator's result: overall 0-100, band, the 13 KPIs by tier with their benchmark scores),
the top {TOP_BOTTLENECKS} `bottlenecks` and `what_if` (as diagnose), the top
{TOP_RECOMMENDATIONS} `recommendations` (as recommend, balanced objective), `schemes` (the weights
and the overall score under tiered and under equal weighting, side by side), `editable_metrics`
(what the view's what-if form may change, with kind and valid range) and `metrics` (the inputs,
under canonical names, for re-scoring). The view's what-if form calls this tool again with one
metric changed. {UNITS_NOTE}"""


def build(config: ServerConfig) -> Tool:
    store = open_store(config)

    async def show_scorecard(
        metrics: MetricsArg,
        weighting: WeightingArg = "tiered",
        currency: CurrencyArg = None,
    ) -> Annotated[CallToolResult, Scorecard]:
        def body(_: CallControl) -> CallToolResult:
            creator = as_object(metrics, "metrics")
            evidence, warning = recommend_evidence(store, creator)
            card = scorecard(
                creator,
                as_weighting(weighting),
                currency=currency,
                fx_to_default=config.fx_to_default,
                evidence=evidence,
            )
            text = card.summary if warning is None else f"{card.summary}\n{warning}"
            return ok_result(text, card)

        return await run_tool("show_scorecard", body, time_limit=config.time_limit)

    return Tool.from_function(
        show_scorecard,
        name="show_scorecard",
        title="Show a creator's scorecard",
        description=DESCRIPTION,
        annotations=ToolAnnotations(
            read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
        ),
        meta={"ui": {"resourceUri": SCORECARD_URI}},
        structured_output=True,
    )
