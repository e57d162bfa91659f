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

from collections.abc import Mapping
from typing import Annotated

from mcp.server.apps import Apps
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from kpi_core import KPI_IDS, ScoreResult, load_catalogue, resolve_weighting, score, weights
from kpi_core.diagnose import Bottleneck, WhatIf, diagnose, display_text
from kpi_core.recommend import EvidenceArg, Recommendation, recommend
from kpi_core.scoring import Band
from prompts import TEMPLATE_DIR, render
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._params import as_object, as_weighting
from tools._shared import UNITS_NOTE, CurrencyArg, MetricsArg, WeightingArg
from tools._store import open_store, recommend_evidence

__all__ = ["SCORECARD_URI", "Scorecard", "apps", "build", "scorecard"]

SCORECARD_URI = "ui://creator-kpi/scorecard.html"
#: The built, self-contained view (see the module docstring for how it is made).
SCORECARD_HTML = TEMPLATE_DIR / "scorecard.html"
#: Bottlenecks and recommendations the scorecard shows.
TOP_BOTTLENECKS = 3
TOP_RECOMMENDATIONS = 3
#: The schemes always shown side by side (the call's own custom scheme is added when there is one).
COMPARED_SCHEMES: tuple[str, ...] = ("tiered", "equal")

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


class SchemeScore(BaseModel):
    """One weighting scheme: its weights and the creator's overall score under it."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description='"tiered", "equal" or "custom" (the call\'s own weights).')
    weights: dict[str, float] = Field(description="KPI id -> nominal weight (they sum to 1).")
    overall_score: float
    band: Band
    coverage: float


class EditableMetric(BaseModel):
    """A metric the what-if form offers: which KPI it feeds, its kind and its valid range."""

    model_config = ConfigDict(frozen=True)

    metric: str
    kpi: str
    kind: str = Field(description="fraction, count, money, growth, seconds, per_week or ratio.")
    low: float
    high: float


class Scorecard(BaseModel):
    """Everything the scorecard view shows, each part exactly as the library computes it."""

    model_config = ConfigDict(frozen=True)

    creator_id: str | None
    score: ScoreResult = Field(description="score_creator's result for these arguments.")
    bottlenecks: list[Bottleneck] = Field(description="diagnose's top bottlenecks.")
    bottlenecks_total: int
    what_if: WhatIf = Field(description="diagnose's what-ifs for the bottlenecks shown.")
    recommendations: list[Recommendation] = Field(description="recommend's top interventions.")
    recommendations_total: int
    schemes: list[SchemeScore] = Field(description="tiered and equal (and custom) side by side.")
    editable_metrics: list[EditableMetric]
    metrics: dict[str, float | str] = Field(
        description="The metrics given, under canonical names: re-send them to re-score."
    )
    weighting: str | dict[str, float] = Field(description="The weighting argument used.")
    model_version: str


def _canonical(metrics: Mapping[str, object]) -> dict[str, float | str]:
    """The given metrics under canonical names (aliases resolved), without nulls.

    Called after the core accepted them, so every value is a number or a capped string.
    """
    aliases = load_catalogue().aliases
    canonical: dict[str, float | str] = {}
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            continue
        canonical[aliases.get(name, name)] = value if isinstance(value, str) else float(value)
    return canonical


def _editable_metrics() -> list[EditableMetric]:
    catalogue = load_catalogue()
    rows: list[EditableMetric] = []
    for kpi in KPI_IDS:
        for name in catalogue.kpis[kpi].metrics:
            metric = catalogue.metrics[name]
            rows.append(
                EditableMetric(
                    metric=name,
                    kpi=kpi,
                    kind=metric.kind,
                    low=float(metric.low),
                    high=float(metric.high),
                )
            )
    return rows


def scorecard(
    metrics: Mapping[str, object],
    weighting: weights.WeightingArg = "tiered",
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    evidence: EvidenceArg | None = None,
) -> Scorecard:
    """Assemble the scorecard from ``score``, ``diagnose`` and ``recommend`` (no new maths)."""
    result = score(metrics, weighting, currency=currency, fx_to_default=fx_to_default)
    diagnosis = diagnose(
        metrics, weighting, TOP_BOTTLENECKS, currency=currency, fx_to_default=fx_to_default
    )
    advice = recommend(
        metrics,
        weighting,
        TOP_RECOMMENDATIONS,
        "balanced",
        evidence,
        currency=currency,
        fx_to_default=fx_to_default,
    )
    names = list(COMPARED_SCHEMES)
    if result.weighting not in names:
        names.append(result.weighting)
    schemes: list[SchemeScore] = []
    for name in names:
        own = name == result.weighting
        under = (
            result if own else score(metrics, name, currency=currency, fx_to_default=fx_to_default)
        )
        schemes.append(
            SchemeScore(
                name=name,
                weights=resolve_weighting(weighting if own else name).as_dict(),
                overall_score=under.overall_score,
                band=under.band,
                coverage=under.coverage,
            )
        )
    return Scorecard(
        creator_id=result.creator_id,
        score=result,
        bottlenecks=diagnosis.bottlenecks,
        bottlenecks_total=diagnosis.bottlenecks_total,
        what_if=diagnosis.what_if,
        recommendations=advice.recommendations,
        recommendations_total=advice.total,
        schemes=schemes,
        editable_metrics=_editable_metrics(),
        metrics=_canonical(metrics),
        weighting=weighting if isinstance(weighting, str) else dict(weighting),
        model_version=result.model_version,
    )


def summary(card: Scorecard) -> str:
    top = card.bottlenecks[0] if card.bottlenecks else None
    advice = card.recommendations[0] if card.recommendations else None
    return render(
        "scorecard_summary.txt.j2",
        creator_id=display_text(card.creator_id),
        result=card.score,
        others=[item for item in card.schemes if item.name != card.score.weighting],
        top=top,
        bottlenecks_total=card.bottlenecks_total,
        advice=advice,
        recommendations_total=card.recommendations_total,
    )


def apps() -> Apps:
    """The Apps extension carrying the scorecard view (pass it to ``MCPServer(extensions=...)``).

    Reads the built view from disk once, when the server is built.
    """
    extension = Apps()
    extension.add_html_resource(
        SCORECARD_URI,
        SCORECARD_HTML.read_text(encoding="utf-8"),
        name="scorecard",
        title="Creator scorecard",
        description=(
            "Interactive view of show_scorecard's result: overall score and band, the 13 KPIs "
            "against their benchmarks, bottlenecks, recommendations, tiered vs equal weights "
            "and a what-if form. Self-contained: it loads nothing from the network."
        ),
        prefers_border=True,
    )
    return extension


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
            text = summary(card)
            return ok_result(text if warning is None else f"{text}\n{warning}", card)

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
