"""The result models of scoring: the full :class:`ScoreResult` of :func:`kpi_core.score`, and the
compact :class:`ScoreAnswer` the ``score_creator`` tool returns (its fields beyond the compact set
come only with ``detail="full"``, and are left out of the answer, not sent as null)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer
from pydantic.json_schema import SkipJsonSchema

from kpi_core.catalogue import Direction, Scale
from kpi_core.kernel import Missing

__all__ = [
    "Band",
    "DetailLevel",
    "KpiAnswer",
    "KpiResult",
    "MetricComponent",
    "ScoreAnswer",
    "ScoreInterval",
    "ScoreResult",
    "ScoreWarning",
    "TierSubtotal",
    "WarningAnswer",
]

Band = Literal["excellent", "strong", "average", "weak", "poor"]
#: How much an answer carries: the compact default, or everything.
DetailLevel = Literal["summary", "full"]


class MetricComponent(BaseModel):
    """One raw metric behind a KPI: the value given, the estimate used, its score and benchmark."""

    metric: str
    value: float | None = Field(
        description="Value given or derived from other metrics; null when missing."
    )
    estimate: float | None = Field(
        description="Value the score uses: the value itself, a noisy rate shrunk toward its "
        "benchmark (see trials), or for a missing metric its estimate from the prior."
    )
    normalised: float = Field(description="0..1 score of the estimate (soft-saturated).")
    benchmark: float = Field(description="What a typical creator of this size achieves.")
    benchmark_normalised: float
    weight: float = Field(description="Weight of this metric inside its KPI.")
    derived: bool = Field(description="True when the value was computed from other metrics.")
    imputed: bool = Field(description="True when the metric was missing and took its prior.")
    shrunk: bool = Field(description="True when the estimate is the rate shrunk by its trials.")
    trials: float | None = Field(description="The rate's trials (its denominator count).")
    direction: Direction
    scale: Scale
    floor: float
    target: float


class KpiResult(BaseModel):
    """One KPI's score, its interval and its share of the overall score."""

    kpi: str
    label: str
    tier: int
    score: float | None = Field(
        description="0..1; a KPI without data takes its prior (null only with "
        "missing='renormalise')."
    )
    score_low: float | None = Field(description="Lower bound of the score's interval.")
    score_high: float | None = Field(description="Upper bound of the score's interval.")
    imputed: bool = Field(description="True when no metric of this KPI was given.")
    weight: float = Field(description="Nominal weight under the scheme.")
    effective_weight: float = Field(
        description="Weight in the overall score: the nominal weight (renormalised over the KPIs "
        "with data under missing='renormalise')."
    )
    contribution: float = Field(description="Points of the overall score (they sum to it).")
    benchmark_score: float = Field(
        description="Score of a creator of this size whose metrics sit at their benchmarks."
    )
    components: list[MetricComponent] = Field(default_factory=list[MetricComponent])


class TierSubtotal(BaseModel):
    tier: int
    label: str
    weight: float = Field(description="Nominal weight of the tier under the scheme.")
    points: float = Field(description="Sum of the tier's contributions.")


class ScoreWarning(BaseModel):
    code: str
    field: str
    message: str


class ScoreInterval(BaseModel):
    """An interval for the score the creator would get with every metric reported and measured
    without noise."""

    low: float
    high: float
    level: float = Field(description="Coverage probability of the interval (0.8 = 80%).")


class ScoreResult(BaseModel):
    """A creator's overall score, per-KPI breakdown and everything needed to trace it."""

    summary: str = Field(description="What to say first (the same text as the text content).")
    creator_id: str | None
    overall_score: float = Field(description="0-100, with every nominal weight counted.")
    score_interval: ScoreInterval
    band: Band = Field(description="Named from the point score.")
    coverage: float = Field(description="Share of the scheme's weight that had data (0-1).")
    revenue_coverage: float = Field(description="Share of tier 1 (revenue) weight with data.")
    weighting: str
    missing: Missing
    kpis: list[KpiResult]
    tiers: list[TierSubtotal]
    warnings: list[ScoreWarning]
    currency: str
    model_version: str


class _Compact(BaseModel):
    """A model whose unset optional fields are left out of its serialised form."""

    @model_serializer(mode="wrap")
    def _without_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None or key == "score"}


class WarningAnswer(_Compact):
    code: str = Field(description="Stable code, such as kpis_imputed or size_estimated.")
    message: str
    field: str | SkipJsonSchema[None] = None


class KpiAnswer(_Compact):
    """One KPI in ``score_creator``'s answer (the fields after ``imputed`` with detail='full')."""

    kpi: str
    score: float | None = Field(description="0..1 (4 significant digits).")
    benchmark_score: float = Field(description="Score at the benchmarks for this size.")
    weight: float = Field(description="Nominal weight under the scheme.")
    contribution: float = Field(description="Points of the overall score (they sum to it).")
    imputed: bool = Field(description="True when the KPI had no data and took its prior.")
    tier: int | SkipJsonSchema[None] = None
    label: str | SkipJsonSchema[None] = None
    score_low: float | SkipJsonSchema[None] = None
    score_high: float | SkipJsonSchema[None] = None
    effective_weight: float | SkipJsonSchema[None] = None
    components: list[MetricComponent] | SkipJsonSchema[None] = None


class ScoreAnswer(_Compact):
    """``score_creator``'s answer: the score, its interval and the 13 KPIs in brief."""

    summary: str = Field(description="What to say first (the same text as the text content).")
    creator_ref: str = Field(
        default="",
        description="Handle of this record: pass it to diagnose, recommend, show_scorecard or "
        "compare_weighting instead of metrics.",
    )
    creator_id: str | SkipJsonSchema[None] = None
    overall_score: float = Field(description="0-100, with every nominal weight counted.")
    score_interval: ScoreInterval
    band: Band = Field(description="Named from the point score.")
    coverage: float = Field(description="Share of the scheme's weight that had data (0-1).")
    revenue_coverage: float = Field(description="Share of tier 1 (revenue) weight with data.")
    missing: Missing
    kpis: list[KpiAnswer]
    warnings: list[WarningAnswer]
    currency: str = Field(description="The currency every money figure is in.")
    weighting: str | SkipJsonSchema[None] = None
    tiers: list[TierSubtotal] | SkipJsonSchema[None] = None
    model_version: str
