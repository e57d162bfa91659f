"""Scoring one creator (:func:`score`) or a table of creators (:func:`score_frame`).

Both are thin adapters over the one validation path (:func:`kpi_core.validation.validate`) and the
one kernel (:func:`kpi_core.kernel.score_arrays`): ``score`` validates one record and calls the
kernel with arrays of length one; ``score_frame`` validates the columns of a DataFrame and hands
them over as they are. pandas is imported only by ``score_frame``, so a single-creator call never
pays for it. :func:`assess` keeps the validated record and the kernel's output
(:class:`ScoredCreator`), so diagnose, recommend and the scorecard parse a creator once.
:func:`score_answer` is the compact answer of the ``score_creator`` tool.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal, cast

import numpy as np

from kpi_core.catalogue import KPI_IDS, Catalogue, Kpi, load_catalogue
from kpi_core.errors import InvalidValueError, KpiError, Problem
from kpi_core.kernel import (
    DERIVATIONS,
    KernelOutput,
    Missing,
    check_missing,
    normalise,
    score_arrays,
)
from kpi_core.metrics import CreatorMetrics, validate_creator
from kpi_core.priors import value_at
from kpi_core.refs import CreatorRefs, creator_ref
from kpi_core.score_models import (
    Band,
    DetailLevel,
    KpiAnswer,
    KpiResult,
    MetricComponent,
    ScoreAnswer,
    ScoreInterval,
    ScoreResult,
    ScoreWarning,
    TierSubtotal,
    WarningAnswer,
)
from kpi_core.standing import strengths, weaknesses
from kpi_core.validation import ValidatedMetrics, validate
from kpi_core.weights import Weighting, WeightingArg, resolve_weighting
from prompts import render

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Band",
    "DetailLevel",
    "KpiResult",
    "MetricComponent",
    "ScoreAnswer",
    "ScoreResult",
    "ScoreWarning",
    "ScoredCreator",
    "TierSubtotal",
    "assess",
    "compact_answer",
    "score",
    "score_answer",
    "score_frame",
]

#: Interaction shares (likes/comments/shares ratios) should sum to about 1; beyond this, warn.
RATIO_SUM_TOLERANCE = 0.05

#: Gaps below this are float noise, not a shortfall.
GAP_EPSILON = 1e-9

#: Significant digits of scores, weights and contributions in the compact answer.
ANSWER_DIGITS = 4


def _warning(code: str, field: str, **facts: object) -> ScoreWarning:
    return ScoreWarning(
        code=code, field=field, message=render("warning.txt.j2", code=code, field=field, **facts)
    )


def _data_warnings(
    out: KernelOutput, parsed: Mapping[str, float], catalogue: Catalogue
) -> list[ScoreWarning]:
    """What the data itself says: derivations that disagree or clip, ratios that do not add up,
    rates without their counts."""
    found: list[ScoreWarning] = []
    for name, rows in out.derived.disagree.items():
        if rows[0]:
            derivation = catalogue.derivations[name]
            found.append(
                _warning(
                    "derived_disagrees",
                    name,
                    given=parsed[name],
                    formula=derivation.formula,
                    recomputed=float(DERIVATIONS[name](out.values)[0]),
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
    unshrunk = [name for name, rows in out.rates.without_trials.items() if rows[0]]
    if unshrunk:
        trials = {name: catalogue.shrinkage[name] for name in unshrunk}
        found.append(_warning("rates_as_given", unshrunk[0], rates=unshrunk, trials=trials))
    return found


def _coverage_warnings(
    out: KernelOutput, catalogue: Catalogue, weighting: Weighting
) -> list[ScoreWarning]:
    """What is missing: the size, whole KPIs, the revenue drivers."""
    found: list[ScoreWarning] = []
    if out.size_assumed is not None and out.size_assumed[0] and out.log10_size is not None:
        found.append(
            _warning("size_estimated", "follower_count", followers=10 ** float(out.log10_size[0]))
        )
    imputed = [catalogue.kpis[kpi].label for k, kpi in enumerate(KPI_IDS) if out.imputed[0, k]]
    if imputed:
        found.append(
            _warning(
                "kpis_imputed" if out.missing == "benchmark" else "kpis_not_scored",
                "metrics",
                kpis=imputed,
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
    found.extend(_data_warnings(out, parsed, catalogue))
    found.extend(_coverage_warnings(out, catalogue, weighting))
    return found


@dataclass(frozen=True, slots=True)
class ScoredCreator:
    """One creator validated once and scored once, with what diagnose and recommend reuse.

    ``validated`` is the record through the one validation path; ``out`` is the kernel's output
    with components and intervals; ``values`` are the metric values after derivation (finite
    only) and ``benchmarks`` each scored metric's benchmark for the creator's size (estimated
    when follower_count is missing), all in ``currency``.
    """

    validated: ValidatedMetrics
    scheme: Weighting
    out: KernelOutput
    result: ScoreResult
    values: dict[str, float]
    benchmarks: dict[str, float]
    size_assumed: bool
    missing: Missing

    @property
    def category(self) -> str | None:
        category = self.validated.text("category", [0])[0]
        return category if isinstance(category, str) else None

    def kpi(self, kpi_id: str) -> KpiResult:
        return self.result.kpis[KPI_IDS.index(kpi_id)]

    def gap(self, kpi_id: str) -> float:
        """benchmark score - score, floored at 0 (0 for a KPI without data: its score is its
        prior, not a shortfall the creator showed)."""
        item = self.kpi(kpi_id)
        if item.score is None or item.imputed:
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
        return _scored(self.validated, scheme, self.missing)


def assess(
    metrics: Mapping[str, object] | CreatorMetrics | ScoredCreator,
    weighting: WeightingArg | Weighting | None = None,
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    missing: Missing = "benchmark",
) -> ScoredCreator:
    """Validate and score one creator, keeping what diagnose and recommend need.

    A :class:`ScoredCreator` is returned as it is (scored again only under another
    ``weighting``, without a new parse). ``weighting`` defaults to ``"tiered"``; the other
    arguments are those of :func:`score`.
    """
    if isinstance(metrics, ScoredCreator):
        return metrics if weighting is None else metrics.reweighted(weighting)
    scheme = resolve_weighting("tiered" if weighting is None else weighting)
    check_missing(missing)
    validated = validate_creator(metrics, currency=currency, fx_to_default=fx_to_default)
    return _scored(validated, scheme, missing)


def score(
    metrics: Mapping[str, object] | CreatorMetrics | ScoredCreator,
    weighting: WeightingArg | Weighting = "tiered",
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    missing: Missing = "benchmark",
) -> ScoreResult:
    """Score one creator.

    ``metrics`` is a mapping of canonical metric names to values (or a :class:`CreatorMetrics`);
    ``weighting`` is ``"tiered"``, ``"equal"`` or a mapping of all 13 KPI ids to weights summing to
    1. A bad field raises a :class:`~kpi_core.errors.KpiError` naming the field, the rule and the
    value. Money is in ``currency`` (default: the record's ``currency`` field, else USD); another
    currency needs its rate in ``fx_to_default``, and the result reports the catalogue's currency
    (the one its numbers are in) with a ``currency_converted`` warning.

    ``missing="benchmark"`` (default): a missing metric counts at its prior (the benchmark for the
    creator's size, conditioned on the metrics given) and widens the interval; every nominal
    weight counts. ``missing="renormalise"``: missing metrics are left out and the weights
    renormalised over what has data, which flatters thin data (optimistic).
    """
    return assess(
        metrics, weighting, currency=currency, fx_to_default=fx_to_default, missing=missing
    ).result


def _given(validated: ValidatedMetrics) -> dict[str, float]:
    """The numeric metrics the record gave (aliases resolved, money converted)."""
    return {
        name: float(column[0])
        for name, column in validated.columns.items()
        if not math.isnan(column[0])
    }


def _scored(validated: ValidatedMetrics, scheme: Weighting, missing: Missing) -> ScoredCreator:
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
    out = score_arrays(
        validated.columns, scheme.vector, components=True, intervals=True, missing=missing, n=1
    )
    if math.isnan(out.overall[0]) or not out.coverage[0] > 0:
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
        missing=missing,
    )


@cache
def _derivation_inputs() -> frozenset[str]:
    """Metrics that feed no KPI themselves but derive one that does (computed once)."""
    derivations = load_catalogue().derivations.values()
    return frozenset(item for derivation in derivations for item in derivation.inputs)


def _optional(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _component(out: KernelOutput, name: str, numeric: Mapping[str, float]) -> MetricComponent:
    metric = load_catalogue().metrics[name]
    assert metric.direction is not None
    assert metric.scale is not None
    value = float(out.values[name][0]) if name in out.values else math.nan
    observed = bool(out.observed[name][0])
    shrunk = out.rates.variance.get(name)
    trials = out.rates.trials.get(name)
    if observed:  # the value itself, or the rate as shrunk
        estimate = float(out.rates.estimates[name][0]) if name in out.rates.estimates else value
    else:  # the estimate of the missing metric, back on its own scale
        estimate = float(value_at(metric, out.positions[name][:1])[0])
    bench = float(out.benchmarks[name][0])
    return MetricComponent(
        metric=name,
        value=_optional(value),
        estimate=_optional(estimate),
        normalised=float(out.normalised[name][0]),
        benchmark=bench,
        benchmark_normalised=float(normalise(metric, np.array([bench]))[0]),
        weight=metric.weight,
        derived=observed and name not in numeric,
        imputed=not observed,
        shrunk=shrunk is not None and observed and bool(shrunk[0] > 0),
        trials=None if trials is None else _optional(float(trials[0])),
        direction=metric.direction,
        scale=metric.scale,
        floor=metric.floor,
        target=metric.target,
    )


def _kpi_results(
    out: KernelOutput, numeric: Mapping[str, float], scheme: Weighting, catalogue: Catalogue
) -> list[KpiResult]:
    assert out.effective_weights is not None
    assert out.contributions is not None
    assert out.benchmark_scores is not None
    assert out.kpi_low is not None
    assert out.kpi_high is not None
    kpis: list[KpiResult] = []
    for k, kpi_id in enumerate(KPI_IDS):
        kpi: Kpi = catalogue.kpis[kpi_id]
        kpi_score = _optional(float(out.kpi_scores[0, k]))
        kpis.append(
            KpiResult(
                kpi=kpi_id,
                label=kpi.label,
                tier=kpi.tier,
                score=kpi_score,
                score_low=None if kpi_score is None else float(out.kpi_low[0, k]),
                score_high=None if kpi_score is None else float(out.kpi_high[0, k]),
                imputed=bool(out.imputed[0, k]),
                weight=float(scheme.vector[k]),
                effective_weight=float(out.effective_weights[0, k]),
                contribution=float(out.contributions[0, k]),
                benchmark_score=float(out.benchmark_scores[0, k]),
                components=[_component(out, name, numeric) for name in kpi.metrics],
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
    assert out.overall_low is not None
    assert out.overall_high is not None
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
    interval = ScoreInterval(
        low=float(out.overall_low[0]), high=float(out.overall_high[0]), level=out.level
    )
    revenue_coverage = float(out.revenue_coverage[0])
    band = cast("Band", catalogue.bands[int(out.band_codes[0])][0])
    summary = render(
        "score_summary.txt.j2",
        creator_id=creator_id,
        overall_score=overall,
        interval=interval,
        band=band,
        bands_spanned=_bands_spanned(interval, catalogue),
        weighting=scheme.name,
        missing=out.missing,
        coverage=coverage,
        revenue_coverage=revenue_coverage,
        **_highlights(kpis, warnings),
    )
    return ScoreResult(
        summary=summary,
        creator_id=creator_id,
        overall_score=overall,
        score_interval=interval,
        band=band,
        coverage=coverage,
        revenue_coverage=revenue_coverage,
        weighting=scheme.name,
        missing=out.missing,
        kpis=kpis,
        tiers=tiers,
        warnings=warnings,
        currency=validated.currency,
        model_version=catalogue.model_version,
    )


def _bands_spanned(interval: ScoreInterval, catalogue: Catalogue) -> list[str]:
    """The bands the interval reaches into, highest first."""
    return [
        name
        for k, (name, lower) in enumerate(catalogue.bands)
        if interval.high >= lower and (k == 0 or interval.low < catalogue.bands[k - 1][1])
    ]


#: Warnings the summary's coverage line already says.
COVERAGE_WARNINGS = frozenset({"kpis_imputed", "kpis_not_scored", "revenue_uncovered"})


def _highlights(kpis: list[KpiResult], warnings: list[ScoreWarning]) -> dict[str, object]:
    """What the summary names besides the score: the two strengths and the two weaknesses that
    are worth most (kpi_core.standing, as diagnose names them), the imputed KPIs, and one note
    (the estimated size first)."""
    notes = sorted(
        (w for w in warnings if w.code not in COVERAGE_WARNINGS),
        key=lambda w: w.code != "size_estimated",
    )
    return {
        "above": strengths(kpis)[:2],
        "below": weaknesses(kpis)[:2],
        "imputed": [item.label for item in kpis if item.imputed],
        "notes": notes[:1],
    }


# --------------------------------------------------------------------------------------------
# the compact answer of score_creator


def check_detail(detail: object) -> DetailLevel:
    """The ``detail`` argument of an answer: "summary" (compact) or "full"."""
    if detail not in ("summary", "full"):
        raise InvalidValueError("detail", "must be 'summary' or 'full'", detail)
    return "full" if detail == "full" else "summary"


def significant(value: float, digits: int = ANSWER_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (0 stays 0)."""
    if value == 0.0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _rounded_contributions(overall: float, contributions: list[float]) -> list[float]:
    """Contributions rounded to 4 significant digits, the largest absorbing what rounding moved,
    so they still sum to the rounded overall score within 0.01."""
    rounded = [significant(value) for value in contributions]
    largest = max(range(len(rounded)), key=lambda k: abs(contributions[k]))
    remainder = significant(overall) - math.fsum(rounded)
    rounded[largest] = round(rounded[largest] + remainder, 4)
    return rounded


def score_answer(
    metrics: Mapping[str, object] | CreatorMetrics | ScoredCreator,
    weighting: WeightingArg | Weighting = "tiered",
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    missing: Missing = "benchmark",
    detail: DetailLevel = "summary",
    refs: CreatorRefs | None = None,
) -> ScoreAnswer:
    """``score_creator``'s answer for one creator (the arguments of :func:`score`): compact by
    default (about 2-3 KB), everything with ``detail="full"``. Its ``creator_ref`` names the
    validated record (:mod:`kpi_core.refs`), which ``refs`` keeps when given."""
    check_detail(detail)
    scored = assess(
        metrics, weighting, currency=currency, fx_to_default=fx_to_default, missing=missing
    )
    record = scored.validated.record(0)
    ref = creator_ref(record) if refs is None else refs.remember(record)
    return compact_answer(scored.result, detail).model_copy(update={"creator_ref": ref})


def compact_answer(result: ScoreResult, detail: DetailLevel = "summary") -> ScoreAnswer:
    """A :class:`ScoreResult` as ``score_creator`` answers it. Scores, weights and contributions
    are rounded to 4 significant digits (the largest contribution absorbing what rounding moved);
    interval bounds are kept as computed."""
    full = detail == "full"
    contributions = _rounded_contributions(
        result.overall_score, [item.contribution for item in result.kpis]
    )
    kpis = [
        KpiAnswer(
            kpi=item.kpi,
            score=None if item.score is None else significant(item.score),
            benchmark_score=significant(item.benchmark_score),
            weight=significant(item.weight),
            contribution=contribution,
            imputed=item.imputed,
            tier=item.tier if full else None,
            label=item.label if full else None,
            score_low=item.score_low if full else None,
            score_high=item.score_high if full else None,
            effective_weight=significant(item.effective_weight) if full else None,
            components=item.components if full else None,
        )
        for item, contribution in zip(result.kpis, contributions, strict=True)
    ]
    return ScoreAnswer(
        summary=result.summary,
        creator_id=result.creator_id,
        overall_score=significant(result.overall_score),
        score_interval=result.score_interval,
        band=result.band,
        coverage=significant(result.coverage),
        revenue_coverage=significant(result.revenue_coverage),
        missing=result.missing,
        kpis=kpis,
        warnings=[
            WarningAnswer(code=w.code, message=w.message, field=w.field if full else None)
            for w in result.warnings
        ],
        weighting=result.weighting if full else None,
        currency=result.currency,
        tiers=result.tiers if full else None,
        model_version=result.model_version,
    )


# --------------------------------------------------------------------------------------------
# many creators


def score_frame(
    frame: pd.DataFrame,
    weighting: WeightingArg | Weighting = "tiered",
    *,
    components: bool = False,
    intervals: bool = True,
    on_invalid: Literal["raise", "reject"] = "raise",
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    missing: Missing = "benchmark",
) -> pd.DataFrame:
    """Score every row of ``frame`` (one creator per row, canonical metric names as columns).

    Returns a frame on the same index with ``overall_score`` (0-100), ``score_low`` and
    ``score_high`` (the interval at the catalogue's level; with ``intervals``), ``band``
    (categorical), ``coverage``, ``revenue_coverage`` and one ``<kpi>_score`` column per KPI; a
    ``creator_id`` column is carried over. With ``components``, also ``<kpi>_low``,
    ``<kpi>_high`` (with ``intervals``), ``<kpi>_imputed``, ``<kpi>_contribution``,
    ``<kpi>_effective_weight``, ``<kpi>_benchmark`` and ``<metric>_normalised`` columns.
    Columns that are not metrics are ignored; NaN means missing. ``missing`` is that of
    :func:`score`. The rows are validated by :func:`kpi_core.validation.validate`.

    A row with an invalid value raises :class:`~kpi_core.errors.KpiError` naming the column, the
    row and the value; with ``on_invalid="reject"`` it is left unscored instead and a
    ``rejected`` column gives its reasons.
    """
    import pandas as pd

    scheme = resolve_weighting(weighting)
    check_missing(missing)
    validated = validate(frame, currency=currency, fx_to_default=fx_to_default, field="frame")
    rejected = np.flatnonzero(validated.rejected)
    if len(rejected) and on_invalid == "raise":
        raise _row_error(validated, int(rejected[0]), frame.index[int(rejected[0])])
    columns = dict(validated.columns)
    if len(rejected):  # a rejected row is left unscored: none of its values count
        columns = {name: np.where(validated.rejected, np.nan, v) for name, v in columns.items()}
    out = score_arrays(
        columns,
        scheme.vector,
        components=components,
        intervals=intervals,
        missing=missing,
        n=len(frame),
    )
    _blank_unscored(out, validated.rejected)
    data = _frame_data(out, frame, components=components)
    if len(rejected):
        reasons = np.full(len(frame), None, dtype=object)
        for row in rejected:
            found = validated.problems(int(row))
            reasons[row] = "; ".join(problem.message() for problem in found)
        data["rejected"] = reasons
    return pd.DataFrame(data, index=frame.index, copy=False)


def _blank_unscored(
    out: KernelOutput, rejected: np.ndarray[tuple[int], np.dtype[np.bool_]]
) -> None:
    """Rejected rows get no score (NaN) and no band (the kernel already blanks rows without
    data)."""
    unscored = rejected
    if not unscored.any():
        return
    out.overall[unscored] = np.nan
    out.kpi_scores[unscored] = np.nan
    out.band_codes[unscored] = -1
    for bound in (out.overall_low, out.overall_high, out.kpi_low, out.kpi_high):
        if bound is not None:
            bound[unscored] = np.nan


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
    if out.overall_low is not None and out.overall_high is not None:
        data["score_low"] = out.overall_low
        data["score_high"] = out.overall_high
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
            if out.kpi_low is not None and out.kpi_high is not None:
                data[f"{kpi_id}_low"] = out.kpi_low[:, k]
                data[f"{kpi_id}_high"] = out.kpi_high[:, k]
            data[f"{kpi_id}_imputed"] = out.imputed[:, k]
            data[f"{kpi_id}_contribution"] = out.contributions[:, k]
            data[f"{kpi_id}_effective_weight"] = out.effective_weights[:, k]
            data[f"{kpi_id}_benchmark"] = out.benchmark_scores[:, k]
        for name, values in out.normalised.items():
            data[f"{name}_normalised"] = values
    return data
