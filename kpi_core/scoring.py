"""Scoring one creator (:func:`score`) or a table of creators (:func:`score_frame`).

Both are thin adapters over the one validation path (:func:`kpi_core.validation.validate`) and the
one kernel (:func:`kpi_core.kernel.score_arrays`): ``score`` validates one record and calls the
kernel with arrays of length one; ``score_frame`` validates the columns of a DataFrame and hands
them over as they are. pandas is imported only by ``score_frame``, so a single-creator call never
pays for it. :func:`assess` keeps the validated record and the kernel's output
(:class:`ScoredCreator`), so diagnose, recommend and the scorecard parse a creator once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal, cast

import numpy as np
from pydantic import BaseModel, Field

from kpi_core.catalogue import KPI_IDS, Catalogue, Direction, Kpi, Scale, load_catalogue
from kpi_core.errors import InvalidValueError, KpiError, Problem
from kpi_core.kernel import (
    DERIVATIONS,
    REFERENCE_LOG10_FOLLOWERS,
    KernelOutput,
    score_arrays,
)
from kpi_core.metrics import CreatorMetrics, validate_creator
from kpi_core.validation import ValidatedMetrics, validate
from kpi_core.weights import Weighting, WeightingArg, resolve_weighting
from prompts import render

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Band",
    "KpiResult",
    "MetricComponent",
    "ScoreResult",
    "ScoreWarning",
    "ScoredCreator",
    "TierSubtotal",
    "assess",
    "score",
    "score_frame",
]

Band = Literal["excellent", "strong", "average", "weak", "poor"]

#: Interaction shares (likes/comments/shares ratios) should sum to about 1; beyond this, warn.
RATIO_SUM_TOLERANCE = 0.05


class MetricComponent(BaseModel):
    """One raw metric behind a KPI: the value used, its 0..1 score and its benchmark."""

    metric: str
    value: float | None = Field(description="Value used (after derivation); null when missing.")
    normalised: float | None = Field(description="0..1 score of the value; null when missing.")
    benchmark: float = Field(description="What a typical creator of this size achieves.")
    benchmark_normalised: float
    weight: float = Field(description="Weight of this metric inside its KPI.")
    derived: bool = Field(description="True when the value was computed from other metrics.")
    direction: Direction
    scale: Scale
    floor: float
    target: float


class KpiResult(BaseModel):
    """One KPI's score and its share of the overall score."""

    kpi: str
    label: str
    tier: int
    score: float | None = Field(description="0..1; null when no metric of this KPI was given.")
    weight: float = Field(description="Nominal weight under the scheme.")
    effective_weight: float = Field(description="Weight after renormalising over scored KPIs.")
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


class ScoreResult(BaseModel):
    """A creator's overall score, per-KPI breakdown and everything needed to trace it."""

    summary: str = Field(description="What to say first (the same text as the text content).")
    creator_id: str | None
    overall_score: float = Field(description="0-100, over the KPIs that have data.")
    band: Band
    coverage: float = Field(description="Share of the scheme's weight that had data (0-1).")
    revenue_coverage: float = Field(description="Share of tier 1 (revenue) weight with data.")
    weighting: str
    kpis: list[KpiResult]
    tiers: list[TierSubtotal]
    warnings: list[ScoreWarning]
    currency: str
    model_version: str


def _warning(code: str, field: str, **facts: object) -> ScoreWarning:
    return ScoreWarning(
        code=code, field=field, message=render("warning.txt.j2", code=code, field=field, **facts)
    )


def _warnings(
    out: KernelOutput,
    parsed: Mapping[str, float],
    catalogue: Catalogue,
    weighting: Weighting,
    validated: ValidatedMetrics,
) -> list[ScoreWarning]:
    found: list[ScoreWarning] = []
    if validated.converted:
        found.append(
            _warning(
                "currency_converted",
                "currency",
                currency=validated.input_currency,
                to=validated.currency,
            )
        )
    for name, rows in out.derived.disagree.items():
        if rows[0]:
            derivation = catalogue.derivations[name]
            found.append(
                _warning(
                    "derived_disagrees",
                    name,
                    given=parsed[name],
                    derived=float(out.values[name][0]) if name not in parsed else None,
                    formula=derivation.formula,
                    recomputed=_recompute(out, name),
                    tolerance=derivation.tolerance,
                )
            )
    for name, rows in out.derived.clipped.items():
        if rows[0] and name not in parsed:
            metric = catalogue.metrics[name]
            found.append(
                _warning(
                    "derived_clipped",
                    name,
                    formula=catalogue.derivations[name].formula,
                    low=metric.low,
                    high=metric.high,
                )
            )
    ratios = [parsed.get(name) for name in ("likes_ratio", "comments_ratio", "shares_ratio")]
    if all(value is not None for value in ratios):
        total = math.fsum(value for value in ratios if value is not None)
        if abs(total - 1.0) > RATIO_SUM_TOLERANCE:
            found.append(_warning("ratios_sum", "likes_ratio", total=total))
    if out.size_assumed is not None and out.size_assumed[0]:
        found.append(
            _warning("size_assumed", "follower_count", followers=10**REFERENCE_LOG10_FOLLOWERS)
        )
    missing = [kpi for k, kpi in enumerate(KPI_IDS) if math.isnan(out.kpi_scores[0, k])]
    if missing:
        found.append(
            _warning(
                "kpis_not_scored",
                "metrics",
                kpis=missing,
                coverage=float(out.coverage[0]),
                scheme=weighting.name,
            )
        )
    if out.revenue_coverage[0] < 1.0:
        found.append(
            _warning(
                "revenue_uncovered", "metrics", revenue_coverage=float(out.revenue_coverage[0])
            )
        )
    return found


def _recompute(out: KernelOutput, name: str) -> float:
    return float(DERIVATIONS[name](out.values)[0])


@dataclass(frozen=True, slots=True)
class ScoredCreator:
    """One creator validated once and scored once, with what diagnose and recommend reuse.

    ``validated`` is the record through the one validation path; ``out`` is the kernel's output
    with components; ``values`` are the metric values after derivation (finite only) and
    ``benchmarks`` each scored metric's benchmark for the creator's size, all in ``currency``.
    """

    validated: ValidatedMetrics
    scheme: Weighting
    out: KernelOutput
    result: ScoreResult
    values: dict[str, float]
    benchmarks: dict[str, float]
    size_assumed: bool

    @property
    def category(self) -> str | None:
        category = self.validated.text("category", [0])[0]
        return category if isinstance(category, str) else None

    def kpi(self, kpi_id: str) -> KpiResult:
        return self.result.kpis[KPI_IDS.index(kpi_id)]

    def gap(self, kpi_id: str) -> float:
        """benchmark score - score, floored at 0 (0 when the KPI is not scored)."""
        item = self.kpi(kpi_id)
        if item.score is None:
            return 0.0
        gap = item.benchmark_score - item.score
        return gap if gap > GAP_EPSILON else 0.0

    def impact(self, kpi_id: str) -> float:
        return 100.0 * self.kpi(kpi_id).effective_weight * self.gap(kpi_id)

    def worse_than_benchmark(self, metric: str) -> bool:
        value = self.values.get(metric)
        bench = self.benchmarks.get(metric)
        if value is None or bench is None:
            return False
        if load_catalogue().metrics[metric].direction == "lower":
            return value > bench
        return value < bench

    def reweighted(self, weighting: WeightingArg | Weighting) -> ScoredCreator:
        """The same record scored under another scheme (the kernel again; no new parse)."""
        scheme = resolve_weighting(weighting)
        if scheme.name == self.scheme.name and np.array_equal(scheme.vector, self.scheme.vector):
            return self
        return _scored(self.validated, scheme)


#: Gaps below this are float noise, not a shortfall.
GAP_EPSILON = 1e-9


def assess(
    metrics: Mapping[str, object] | CreatorMetrics | ScoredCreator,
    weighting: WeightingArg | Weighting | None = None,
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
) -> ScoredCreator:
    """Validate and score one creator, keeping what diagnose and recommend need.

    A :class:`ScoredCreator` is returned as it is (scored again only under another
    ``weighting``, without a new parse). ``weighting`` defaults to ``"tiered"``; the other
    arguments are those of :func:`score`.
    """
    if isinstance(metrics, ScoredCreator):
        return metrics if weighting is None else metrics.reweighted(weighting)
    scheme = resolve_weighting("tiered" if weighting is None else weighting)
    validated = validate_creator(metrics, currency=currency, fx_to_default=fx_to_default)
    return _scored(validated, scheme)


def score(
    metrics: Mapping[str, object] | CreatorMetrics | ScoredCreator,
    weighting: WeightingArg | Weighting = "tiered",
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
) -> ScoreResult:
    """Score one creator.

    ``metrics`` is a mapping of canonical metric names to values (or a :class:`CreatorMetrics`);
    ``weighting`` is ``"tiered"``, ``"equal"`` or a mapping of all 13 KPI ids to weights summing to
    1. A bad field raises a :class:`~kpi_core.errors.KpiError` naming the field, the rule and the
    value. Money is in ``currency`` (default: the record's ``currency`` field, else USD); another
    currency needs its rate in ``fx_to_default``, and the result reports the catalogue's currency
    (the one its numbers are in) with a ``currency_converted`` warning.
    """
    return assess(metrics, weighting, currency=currency, fx_to_default=fx_to_default).result


def _given(validated: ValidatedMetrics) -> dict[str, float]:
    """The numeric metrics the record gave (aliases resolved, money converted)."""
    return {
        name: float(column[0])
        for name, column in validated.columns.items()
        if not math.isnan(column[0])
    }


def _scored(validated: ValidatedMetrics, scheme: Weighting) -> ScoredCreator:
    catalogue = load_catalogue()
    numeric = _given(validated)
    derivation_inputs = _derivation_inputs()
    if not any(catalogue.metrics[name].scored or name in derivation_inputs for name in numeric):
        raise InvalidValueError(
            "metrics",
            "must contain at least one metric that feeds a KPI",
            sorted(numeric),
            "see kpi://metrics for the metrics and the KPIs they feed",
        )
    out = score_arrays(validated.columns, scheme.vector, components=True, n=1)
    if math.isnan(out.overall[0]):
        raise InvalidValueError(
            "metrics",
            "must give enough data to score at least one KPI",
            sorted(numeric),
            "derived metrics need all of their inputs; see kpi://metrics",
        )
    result = _single_result(out, validated, numeric=numeric, scheme=scheme, catalogue=catalogue)
    return ScoredCreator(
        validated=validated,
        scheme=scheme,
        out=out,
        result=result,
        values={
            name: float(array[0]) for name, array in out.values.items() if math.isfinite(array[0])
        },
        benchmarks={name: float(array[0]) for name, array in out.benchmarks.items()},
        size_assumed=out.size_assumed is not None and bool(out.size_assumed[0]),
    )


@cache
def _derivation_inputs() -> frozenset[str]:
    """Metrics that feed no KPI themselves but derive one that does (computed once)."""
    derivations = load_catalogue().derivations.values()
    return frozenset(item for derivation in derivations for item in derivation.inputs)


def _components(out: KernelOutput, kpi: Kpi, numeric: Mapping[str, float]) -> list[MetricComponent]:
    catalogue = load_catalogue()
    components: list[MetricComponent] = []
    for name in kpi.metrics:
        metric = catalogue.metrics[name]
        assert metric.direction is not None
        assert metric.scale is not None
        value = out.values.get(name)
        normalised = out.normalised.get(name)
        bench = float(out.benchmarks[name][0])
        present = value is not None and not math.isnan(value[0])
        components.append(
            MetricComponent(
                metric=name,
                value=float(value[0]) if present and value is not None else None,
                normalised=(float(normalised[0]) if present and normalised is not None else None),
                benchmark=bench,
                benchmark_normalised=metric.normalise(bench),
                weight=metric.weight,
                derived=present and name not in numeric,
                direction=metric.direction,
                scale=metric.scale,
                floor=metric.floor,
                target=metric.target,
            )
        )
    return components


def _kpi_results(
    out: KernelOutput, numeric: Mapping[str, float], scheme: Weighting, catalogue: Catalogue
) -> list[KpiResult]:
    assert out.effective_weights is not None
    assert out.contributions is not None
    assert out.benchmark_scores is not None
    kpis: list[KpiResult] = []
    for k, kpi_id in enumerate(KPI_IDS):
        kpi = catalogue.kpis[kpi_id]
        kpi_score = float(out.kpi_scores[0, k])
        kpis.append(
            KpiResult(
                kpi=kpi_id,
                label=kpi.label,
                tier=kpi.tier,
                score=None if math.isnan(kpi_score) else kpi_score,
                weight=float(scheme.vector[k]),
                effective_weight=float(out.effective_weights[0, k]),
                contribution=float(out.contributions[0, k]),
                benchmark_score=float(out.benchmark_scores[0, k]),
                components=_components(out, kpi, numeric),
            )
        )
    return kpis


def _single_result(
    out: KernelOutput,
    validated: ValidatedMetrics,
    *,
    numeric: Mapping[str, float],
    scheme: Weighting,
    catalogue: Catalogue,
) -> ScoreResult:
    kpis = _kpi_results(out, numeric, scheme, catalogue)
    tiers = [
        TierSubtotal(
            tier=tier,
            label=label,
            weight=math.fsum(item.weight for item in kpis if item.tier == tier),
            points=math.fsum(item.contribution for item in kpis if item.tier == tier),
        )
        for tier, label in sorted(catalogue.tiers.items())
    ]
    given_id = validated.text("creator_id", [0])[0]
    creator_id = given_id if isinstance(given_id, str) else None
    warnings = _warnings(out, numeric, catalogue, scheme, validated)
    overall, coverage = float(out.overall[0]), float(out.coverage[0])
    revenue_coverage = float(out.revenue_coverage[0])
    band = cast("Band", catalogue.bands[int(out.band_codes[0])][0])
    summary = render(
        "score_summary.txt.j2",
        creator_id=creator_id,
        overall_score=overall,
        band=band,
        weighting=scheme.name,
        coverage=coverage,
        revenue_coverage=revenue_coverage,
        **_highlights(kpis, warnings),
    )
    return ScoreResult(
        summary=summary,
        creator_id=creator_id,
        overall_score=overall,
        band=band,
        coverage=coverage,
        revenue_coverage=revenue_coverage,
        weighting=scheme.name,
        kpis=kpis,
        tiers=tiers,
        warnings=warnings,
        currency=validated.currency,
        model_version=catalogue.model_version,
    )


#: Warnings the summary's coverage line already says.
COVERAGE_WARNINGS = frozenset({"kpis_not_scored", "revenue_uncovered"})


def _highlights(kpis: list[KpiResult], warnings: list[ScoreWarning]) -> dict[str, object]:
    """What the summary names besides the score: strongest and weakest KPIs, notes."""
    scored = [item for item in kpis if item.score is not None]
    ranked = sorted(scored, key=lambda item: (-(item.score or 0.0), item.kpi))
    return {
        "strongest": ranked[:2],
        "weakest": list(reversed(ranked[-2:])) if len(ranked) > 2 else [],
        "unscored": [item.kpi for item in kpis if item.score is None],
        "notes": [w for w in warnings if w.code not in COVERAGE_WARNINGS],
    }


# --------------------------------------------------------------------------------------------
# many creators


def score_frame(
    frame: pd.DataFrame,
    weighting: WeightingArg | Weighting = "tiered",
    *,
    components: bool = False,
    on_invalid: Literal["raise", "reject"] = "raise",
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Score every row of ``frame`` (one creator per row, canonical metric names as columns).

    Returns a frame on the same index with ``overall_score`` (0-100), ``band`` (categorical),
    ``coverage``, ``revenue_coverage`` and one ``<kpi>_score`` column per KPI (NaN when not
    scored); a ``creator_id`` column is carried over. With ``components``, also
    ``<kpi>_contribution``, ``<kpi>_effective_weight``, ``<kpi>_benchmark`` and
    ``<metric>_normalised`` columns. Columns that are not metrics are ignored; NaN means missing.
    The rows are validated by :func:`kpi_core.validation.validate`.

    A row with an invalid value raises :class:`~kpi_core.errors.KpiError` naming the column, the
    row and the value; with ``on_invalid="reject"`` it is left unscored instead and a
    ``rejected`` column gives its reasons.
    """
    import pandas as pd

    scheme = resolve_weighting(weighting)
    validated = validate(frame, currency=currency, fx_to_default=fx_to_default, field="frame")
    rejected = np.flatnonzero(validated.rejected)
    if len(rejected) and on_invalid == "raise":
        raise _row_error(validated, int(rejected[0]), frame.index[int(rejected[0])])
    columns = dict(validated.columns)
    if len(rejected):  # a rejected row is left unscored: none of its values count
        columns = {name: np.where(validated.rejected, np.nan, v) for name, v in columns.items()}
    out = score_arrays(columns, scheme.vector, components=components, n=len(frame))
    data = _frame_data(out, frame, components=components)
    if len(rejected):
        reasons = np.full(len(frame), None, dtype=object)
        for row in rejected:
            found = validated.problems(int(row))
            reasons[row] = "; ".join(problem.message() for problem in found)
        data["rejected"] = reasons
    return pd.DataFrame(data, index=frame.index, copy=False)


def _row_error(validated: ValidatedMetrics, row: int, label: object) -> KpiError:
    """The error of a frame's first bad row: its problems, the first naming the row's label."""
    found = validated.found(row)
    kind, first = found[0]
    located = Problem(first.field, first.rule, f"{first.value} in row {label!r}", first.hint)
    return kind.from_problems([located, *(problem for _, problem in found[1:])])


def _frame_data(out: KernelOutput, frame: pd.DataFrame, *, components: bool) -> dict[str, object]:
    """The columns of score_frame's result, in their documented order."""
    import pandas as pd

    catalogue = load_catalogue()
    data: dict[str, object] = {}
    if "creator_id" in frame.columns:
        data["creator_id"] = frame["creator_id"].to_numpy()
    data["overall_score"] = out.overall
    data["band"] = pd.Categorical.from_codes(
        out.band_codes, categories=[name for name, _ in catalogue.bands]
    )
    data["coverage"] = out.coverage
    data["revenue_coverage"] = out.revenue_coverage
    for k, kpi_id in enumerate(KPI_IDS):
        data[f"{kpi_id}_score"] = out.kpi_scores[:, k]
    if components:
        assert out.contributions is not None
        assert out.effective_weights is not None
        assert out.benchmark_scores is not None
        for k, kpi_id in enumerate(KPI_IDS):
            data[f"{kpi_id}_contribution"] = out.contributions[:, k]
            data[f"{kpi_id}_effective_weight"] = out.effective_weights[:, k]
            data[f"{kpi_id}_benchmark"] = out.benchmark_scores[:, k]
        for name, values in out.normalised.items():
            data[f"{name}_normalised"] = values
    return data
