"""A creator's scorecard: the score, the top bottlenecks and recommendations, and the overall score
under each weighting scheme side by side, from one validation and one scoring of the record.

:func:`scorecard` validates and scores the creator once (:func:`kpi_core.scoring.assess`), hands
that scored creator to :func:`kpi_core.diagnose` and :func:`kpi_core.recommend` (no new parse),
and scores the same validated columns under the other schemes with the kernel alone. Every number
is the library's; the ``show_scorecard`` tool only wraps the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from pydantic import BaseModel, ConfigDict, Field

from kpi_core.catalogue import KPI_IDS, load_catalogue
from kpi_core.diagnosis import Bottleneck, WhatIf, diagnose
from kpi_core.kernel import score_arrays
from kpi_core.metrics import CreatorMetrics
from kpi_core.recommendations import EvidenceArg, Recommendation, recommend
from kpi_core.scoring import Band, ScoredCreator, ScoreResult, assess, significant
from kpi_core.weights import Weighting, WeightingArg, resolve_weighting
from prompts import inert, render

__all__ = [
    "COMPARED_SCHEMES",
    "TOP_BOTTLENECKS",
    "TOP_RECOMMENDATIONS",
    "EditableMetric",
    "SchemeOverall",
    "Scorecard",
    "ScorecardAnswer",
    "scorecard",
    "scorecard_answer",
]

#: Bottlenecks and recommendations the scorecard shows.
TOP_BOTTLENECKS = 3
TOP_RECOMMENDATIONS = 3
#: Longest creator id the view shows (the catalogue's cap on creator_id).
MAX_CREATOR_ID = 128
#: The schemes always shown side by side (the call's own custom scheme is added when there is one).
COMPARED_SCHEMES: tuple[str, ...] = ("tiered", "equal")


class SchemeOverall(BaseModel):
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

    summary: str = Field(description="What to say first (the same text as the text content).")
    creator_id: str | None = Field(
        description="The creator's id as the view shows it: invisible and control characters "
        "removed (score.creator_id is the id as given)."
    )
    score: ScoreResult = Field(description="score_creator's result for these arguments.")
    bottlenecks: list[Bottleneck] = Field(description="diagnose's top bottlenecks.")
    bottlenecks_total: int
    what_if: WhatIf = Field(description="diagnose's what-ifs for the bottlenecks shown.")
    recommendations: list[Recommendation] = Field(description="recommend's top interventions.")
    recommendations_total: int
    schemes: list[SchemeOverall] = Field(description="tiered and equal (and custom) side by side.")
    editable_metrics: list[EditableMetric]
    metrics: dict[str, float | str] = Field(
        description="The metrics given, under canonical names (money in score.currency): "
        "re-send them to re-score."
    )
    weighting: str | dict[str, float] = Field(description="The weighting argument used.")
    model_version: str


class BriefItem(BaseModel):
    """A bottleneck or a recommendation as the compact scorecard names it."""

    model_config = ConfigDict(frozen=True)

    kpi: str
    label: str = Field(description="The KPI's label, or the recommendation's title.")
    points: float = Field(
        description="A bottleneck's impact, or a recommendation's mid expected uplift "
        "(overall score points)."
    )
    id: str | None = Field(default=None, description="The recommendation's id.")


class SchemeBrief(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    overall_score: float
    band: Band


class ScorecardAnswer(BaseModel):
    """``show_scorecard``'s answer: what a model reads (the view's whole :class:`Scorecard`
    travels beside it, in the result's ``_meta``; ``card`` holds it with detail="full")."""

    model_config = ConfigDict(frozen=True)

    summary: str = Field(description="What to say first (the same text as the text content).")
    creator_id: str | None = None
    overall_score: float
    band: Band
    coverage: float
    bottlenecks: list[BriefItem] = Field(description="The top bottlenecks, largest impact first.")
    bottlenecks_total: int
    recommendations: list[BriefItem] = Field(description="The top recommendations.")
    recommendations_total: int
    schemes: list[SchemeBrief] = Field(description="The overall score under each scheme.")
    model_version: str
    card: Scorecard | None = Field(default=None, description="The whole scorecard (full).")


def scorecard_answer(card: Scorecard, *, full: bool = False) -> ScorecardAnswer:
    """The compact answer to a :class:`Scorecard` (scores to 4 significant digits)."""
    return ScorecardAnswer(
        summary=card.summary,
        creator_id=card.creator_id,
        overall_score=significant(card.score.overall_score),
        band=card.score.band,
        coverage=significant(card.score.coverage),
        bottlenecks=[
            BriefItem(kpi=item.kpi, label=item.label, points=significant(item.impact))
            for item in card.bottlenecks
        ],
        bottlenecks_total=card.bottlenecks_total,
        recommendations=[
            BriefItem(
                kpi=item.kpi,
                label=item.title,
                points=significant(item.expected_uplift.mid),
                id=item.id,
            )
            for item in card.recommendations
        ],
        recommendations_total=card.recommendations_total,
        schemes=[
            SchemeBrief(
                name=item.name, overall_score=significant(item.overall_score), band=item.band
            )
            for item in card.schemes
        ],
        model_version=card.model_version,
        card=card if full else None,
    )


def _editable_metrics() -> list[EditableMetric]:
    catalogue = load_catalogue()
    rows: list[EditableMetric] = []
    for kpi in KPI_IDS:
        for name in catalogue.kpis[kpi].metrics:
            metric = catalogue.metrics[name]
            rows.append(
                EditableMetric(
                    metric=name, kpi=kpi, kind=metric.kind, low=metric.low, high=metric.high
                )
            )
    return rows


def _scheme_overall(scored: ScoredCreator, scheme: Weighting) -> SchemeOverall:
    """The overall score under ``scheme``: the kernel on the validated columns, nothing else."""
    if scheme.name == scored.scheme.name:
        result = scored.result
        return SchemeOverall(
            name=scheme.name,
            weights=scored.scheme.as_dict(),
            overall_score=result.overall_score,
            band=result.band,
            coverage=result.coverage,
        )
    out = score_arrays(scored.validated.columns, scheme.vector, n=1)
    return SchemeOverall(
        name=scheme.name,
        weights=scheme.as_dict(),
        overall_score=float(out.overall[0]),
        band=cast("Band", load_catalogue().bands[int(out.band_codes[0])][0]),
        coverage=float(out.coverage[0]),
    )


def _summary(
    scored: ScoredCreator,
    others: list[SchemeOverall],
    bottlenecks: list[Bottleneck],
    bottlenecks_total: int,
    recommendations: list[Recommendation],
    recommendations_total: int,
) -> str:
    return render(
        "scorecard_summary.txt.j2",
        creator_id=scored.result.creator_id,
        result=scored.result,
        others=others,
        top=bottlenecks[0] if bottlenecks else None,
        bottlenecks_total=bottlenecks_total,
        advice=recommendations[0] if recommendations else None,
        recommendations_total=recommendations_total,
    )


def scorecard(
    metrics: Mapping[str, object] | CreatorMetrics | ScoredCreator,
    weighting: WeightingArg | None = None,
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    evidence: EvidenceArg | None = None,
) -> Scorecard:
    """The scorecard of one creator (see the module docstring).

    ``metrics``, ``weighting`` (``"tiered"`` by default), ``currency`` and ``fx_to_default`` are
    those of :func:`kpi_core.score`; ``evidence`` is that of :func:`kpi_core.recommendations`.
    """
    scored = assess(metrics, weighting, currency=currency, fx_to_default=fx_to_default)
    scheme = scored.scheme
    creator_id = scored.result.creator_id
    used = weighting if weighting is not None else scheme.name
    if scheme.name == "custom":
        used = scheme.as_dict()
    diagnosis = diagnose(scored, top_n=TOP_BOTTLENECKS)
    advice = recommend(scored, max_items=TOP_RECOMMENDATIONS, evidence=evidence)
    names = list(COMPARED_SCHEMES)
    if scheme.name not in names:
        names.append(scheme.name)
    schemes = [
        _scheme_overall(scored, scheme if name == scheme.name else resolve_weighting(name))
        for name in names
    ]
    others = [item for item in schemes if item.name != scheme.name]
    return Scorecard(
        summary=_summary(
            scored,
            others,
            diagnosis.bottlenecks,
            diagnosis.bottlenecks_total,
            advice.recommendations,
            advice.total,
        ),
        creator_id=None if creator_id is None else inert(creator_id, MAX_CREATOR_ID),
        score=scored.result,
        bottlenecks=diagnosis.bottlenecks,
        bottlenecks_total=diagnosis.bottlenecks_total,
        what_if=diagnosis.what_if,
        recommendations=advice.recommendations,
        recommendations_total=advice.total,
        schemes=schemes,
        editable_metrics=_editable_metrics(),
        metrics=scored.validated.record(0),
        weighting=used if isinstance(used, str) else dict(used),
        model_version=scored.result.model_version,
    )
