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

from kpi_core.scorecard import ScorecardAnswer, scorecard, scorecard_answer
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._params import as_weighting
from tools._scorecard_view import SCORECARD_HTML, SCORECARD_URI, apps
from tools._shared import (
    CreatorRefArg,
    CurrencyArg,
    DetailArg,
    MetricsObjectArg,
    WeightingArg,
    creator_record,
)
from tools._store import open_store, recommend_evidence

__all__ = ["SCORECARD_HTML", "SCORECARD_META", "SCORECARD_URI", "apps", "build"]

#: The key of the result's ``_meta`` that carries the view's data (the whole scorecard).
SCORECARD_META = "creator-kpi/scorecard"

DESCRIPTION = """Show a creator's scorecard: an interactive view in hosts with MCP Apps (KPIs
against benchmarks, bottlenecks, advice, tiered vs equal, a what-if form). Pass `creator_ref`.
Returns `summary`, score, band, top bottlenecks and recommendations; the view's data is in the
result's `_meta` (`detail="full"`: also in `card`)."""


def build(config: ServerConfig) -> Tool:
    store = open_store(config)

    async def show_scorecard(
        metrics: MetricsObjectArg = None,
        creator_ref: CreatorRefArg = None,
        weighting: WeightingArg = "tiered",
        currency: CurrencyArg = None,
        detail: DetailArg = "summary",
    ) -> Annotated[CallToolResult, ScorecardAnswer]:
        def body(_: CallControl) -> CallToolResult:
            creator = creator_record(metrics, creator_ref)
            evidence, warning = recommend_evidence(store, creator)
            card = scorecard(
                creator,
                as_weighting(weighting),
                currency=currency,
                fx_to_default=config.fx_to_default,
                evidence=evidence,
            )
            text = card.summary if warning is None else f"{card.summary}\n{warning}"
            answer = scorecard_answer(card, full=detail == "full")
            view = {SCORECARD_META: card.model_dump(mode="json")}
            return ok_result(text, answer, meta=view)

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
