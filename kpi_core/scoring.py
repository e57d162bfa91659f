"""Scoring one creator (:func:`score`) or a table of creators (:func:`score_frame`).

Both are thin adapters over the one kernel (:func:`kpi_core.kernel.score_arrays`): ``score``
validates one record and calls the kernel with arrays of length one; ``score_frame`` validates the
columns of a DataFrame and hands them over as they are. pandas is imported only by
``score_frame``, so a single-creator call never pays for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, Field

from kpi_core.catalogue import KPI_IDS, Catalogue, load_catalogue
from kpi_core.errors import InvalidValueError, Problem
from kpi_core.kernel import (
    DERIVATIONS,
    REFERENCE_LOG10_FOLLOWERS,
    KernelOutput,
    score_arrays,
)
from kpi_core.metrics import MONEY_FIELDS, CreatorMetrics, bad_rows, parse_metrics, violation
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
    "TierSubtotal",
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
    direction: Literal["higher", "lower"]
    scale: Literal["linear", "log"]
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
    currency: str,
) -> list[ScoreWarning]:
    found: list[ScoreWarning] = []
    if currency != catalogue.default_currency:
        found.append(
            _warning(
                "currency_converted", "currency", currency=currency, to=catalogue.default_currency
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


def score(
    metrics: Mapping[str, object] | CreatorMetrics,
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
    currency needs its rate in ``fx_to_default``.
    """
    catalogue = load_catalogue()
    scheme = resolve_weighting(weighting)
    record_currency: object = None
    if isinstance(metrics, CreatorMetrics):
        record_currency = metrics.currency
    elif isinstance(metrics, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance] - JSON may send a list
        record_currency = metrics.get("currency")
    raw_currency = record_currency if isinstance(record_currency, str) else None
    call_currency = currency or raw_currency or catalogue.default_currency
    parsed = parse_metrics(metrics, fx_to_default=fx_to_default, currency=currency)
    numeric = parsed.numeric()
    scored_inputs = [
        name for name in numeric if catalogue.metrics[name].scored or name in _derivation_inputs()
    ]
    if not scored_inputs:
        raise InvalidValueError(
            "metrics",
            "must contain at least one metric that feeds a KPI",
            sorted(numeric),
            "see kpi://metrics for the metrics and the KPIs they feed",
        )
    columns = {name: np.array([value]) for name, value in numeric.items()}
    out = score_arrays(columns, scheme.vector, components=True, n=1)
    if math.isnan(out.overall[0]):
        raise InvalidValueError(
            "metrics",
            "must give enough data to score at least one KPI",
            sorted(numeric),
            "derived metrics need all of their inputs; see kpi://metrics",
        )
    return _single_result(
        out,
        parsed=parsed,
        numeric=numeric,
        scheme=scheme,
        catalogue=catalogue,
        currency=call_currency,
    )


@cache
def _derivation_inputs() -> frozenset[str]:
    """Metrics that feed no KPI themselves but derive one that does (computed once)."""
    derivations = load_catalogue().derivations.values()
    return frozenset(item for derivation in derivations for item in derivation.inputs)


def _single_result(
    out: KernelOutput,
    *,
    parsed: CreatorMetrics,
    numeric: Mapping[str, float],
    scheme: Weighting,
    catalogue: Catalogue,
    currency: str,
) -> ScoreResult:
    assert out.effective_weights is not None
    assert out.contributions is not None
    assert out.benchmark_scores is not None
    kpis: list[KpiResult] = []
    for k, kpi_id in enumerate(KPI_IDS):
        kpi = catalogue.kpis[kpi_id]
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
                    normalised=(
                        float(normalised[0]) if present and normalised is not None else None
                    ),
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
                components=components,
            )
        )
    tiers = [
        TierSubtotal(
            tier=tier,
            label=label,
            weight=math.fsum(item.weight for item in kpis if item.tier == tier),
            points=math.fsum(item.contribution for item in kpis if item.tier == tier),
        )
        for tier, label in sorted(catalogue.tiers.items())
    ]
    band = catalogue.bands[int(out.band_codes[0])][0]
    return ScoreResult(
        creator_id=parsed.creator_id,
        overall_score=float(out.overall[0]),
        band=band,  # pyright: ignore[reportArgumentType]
        coverage=float(out.coverage[0]),
        revenue_coverage=float(out.revenue_coverage[0]),
        weighting=scheme.name,
        kpis=kpis,
        tiers=tiers,
        warnings=_warnings(out, numeric, catalogue, scheme, currency),
        currency=currency,
        model_version=catalogue.model_version,
    )


# --------------------------------------------------------------------------------------------
# many creators


def _frame_columns(
    frame: pd.DataFrame, catalogue: Catalogue
) -> tuple[dict[str, np.ndarray], dict[int, list[Problem]]]:
    """Float64 views of the frame's numeric metric columns, and the problems of each bad row."""
    import pandas as pd

    columns: dict[str, np.ndarray] = {}
    problems: dict[int, list[Problem]] = {}
    for name in frame.columns:
        key = str(name)
        target = catalogue.aliases.get(key, key)
        metric = catalogue.metrics.get(target)
        if metric is None or not metric.is_numeric:
            continue
        series = frame[name]
        if not (
            pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series)
        ):
            raise InvalidValueError(key, "must be a numeric column", str(series.dtype))
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = bad_rows(metric, values)
        bad |= np.isinf(values)
        if bad.any():
            for row in np.flatnonzero(bad):
                problem = violation(metric, float(values[row]))
                assert problem is not None
                problems.setdefault(int(row), []).append(
                    Problem(key, problem.rule, problem.value, problem.hint)
                )
        if target in columns:
            given = columns[target]
            with np.errstate(invalid="ignore"):
                conflict = ~np.isclose(given, values, rtol=1e-9, atol=1e-9, equal_nan=True)
                conflict &= ~np.isnan(given) & ~np.isnan(values)
            for row in np.flatnonzero(conflict):
                problems.setdefault(int(row), []).append(
                    Problem(key, f"is an alias of {target} and must equal it", str(values[row]))
                )
            columns[target] = np.where(np.isnan(given), values, given)
        else:
            columns[target] = values
    return columns, problems


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

    A row with an invalid value raises :class:`~kpi_core.errors.KpiError` naming the column, the
    row and the value; with ``on_invalid="reject"`` it is left unscored instead and a
    ``rejected`` column gives its reasons.
    """
    import pandas as pd

    catalogue = load_catalogue()
    scheme = resolve_weighting(weighting)
    columns, problems = _frame_columns(frame, catalogue)
    call_currency = currency or catalogue.default_currency
    rates = {catalogue.default_currency: 1.0, **(fx_to_default or {})}
    if call_currency not in rates:
        raise InvalidValueError(
            "currency",
            f"must be one of the configured currencies ({', '.join(sorted(rates))})",
            call_currency,
        )
    if "currency" in frame.columns:
        other = (frame["currency"].astype("string") != call_currency).fillna(False).to_numpy(bool)
        for row in np.flatnonzero(other):
            problems.setdefault(int(row), []).append(
                Problem(
                    "currency", "must match the call's currency", str(frame["currency"].iloc[row])
                )
            )
    rate = rates[call_currency]
    if rate != 1.0:
        for name in MONEY_FIELDS:
            if name in columns:
                columns[name] = columns[name] * rate

    if problems and on_invalid == "raise":
        row = min(problems)
        first = problems[row][0]
        raise InvalidValueError.from_problems(
            [
                Problem(
                    first.field,
                    first.rule,
                    f"{first.value} in row {frame.index[row]!r}",
                    first.hint,
                ),
                *problems[row][1:],
            ]
        )
    if problems:
        keep = np.ones(len(frame), dtype=bool)
        keep[list(problems)] = False
        for name, values in columns.items():
            columns[name] = np.where(keep, values, np.nan)

    out = score_arrays(columns, scheme.vector, components=components, n=len(frame))
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
    if problems:
        reasons = np.full(len(frame), None, dtype=object)
        for row, found in problems.items():
            reasons[row] = "; ".join(problem.message() for problem in found)
        data["rejected"] = reasons
    if problems and on_invalid == "reject":
        rejected_rows = sorted(problems)
        overall = data["overall_score"]
        assert isinstance(overall, np.ndarray)
        overall[rejected_rows] = np.nan
    return pd.DataFrame(data, index=frame.index, copy=False)
