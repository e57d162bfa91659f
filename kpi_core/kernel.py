"""The one scoring kernel: metric name -> numpy array (one entry per creator) in, scores out.

Everything that scores goes through :func:`score_arrays`: ``score`` (one creator) calls it with
arrays of length one and ``score_frame`` (pandas) hands it the frame's columns. NaN means
"missing". The maths, per creator:

* each scored metric is normalised to 0..1:
  ``clip((t(x) - t(floor)) / (t(target) - t(floor)), 0, 1)``, where ``t`` is ``log1p`` for
  log-scaled metrics and the identity otherwise;
* a KPI's score is the weighted mean of its normalised metrics over those present (NaN if none);
* the overall score is ``100 * sum(w_k S_k) / sum(w_k)`` over the scored KPIs, and ``coverage``
  is that ``sum(w_k)``; ``effective_weight = w_k / coverage``; ``contribution`` is
  ``100 * effective_weight * S_k``, so contributions sum to the overall score.

Inputs are validated before they arrive here (``metrics.parse_metrics`` / ``metrics.bad_rows``).
The kernel never writes into the arrays it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import KPI_IDS, Catalogue, Kpi, Metric, load_catalogue

__all__ = [
    "DERIVATIONS",
    "REFERENCE_LOG10_FOLLOWERS",
    "KernelOutput",
    "benchmark_values",
    "derive",
    "normalise",
    "score_arrays",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Columns = Mapping[str, FloatArray]

#: Size assumed for benchmarks when follower_count is missing: 10^4.65, about 45K followers
#: (the middle of the 20-100K band; see catalogue.toml [bands]).
REFERENCE_LOG10_FOLLOWERS = 4.65

#: Relative disagreement is judged against |derived| plus this, so zeros compare sanely.
_DISAGREE_ABS = 1e-12


def _ratio(numerator: FloatArray, denominator: FloatArray, scale: float = 1.0) -> FloatArray:
    """numerator / denominator * scale, NaN where the denominator is 0 or missing, or so close
    to 0 that the quotient overflows (no ratio is then known)."""
    out = np.full(np.shape(numerator), np.nan)
    with np.errstate(over="ignore"):
        np.divide(numerator, denominator, out=out, where=denominator > 0)
        if scale != 1.0:
            out *= scale
    out[np.isinf(out)] = np.nan
    return out


def _interactions(c: Columns) -> FloatArray:
    return c["likes"] + c["comments"] + c["shares"]


#: The formula of each derivation in catalogue.toml (the TOML's `formula` text documents it).
DERIVATIONS: dict[str, Callable[[Columns], FloatArray]] = {
    "engagement_rate": lambda c: _ratio(_interactions(c) + c["saves"], c["views"]),
    "share_rate": lambda c: _ratio(c["shares"], c["views"]),
    "save_rate": lambda c: _ratio(c["saves"], c["views"]),
    "likes_ratio": lambda c: _ratio(c["likes"], _interactions(c)),
    "comments_ratio": lambda c: _ratio(c["comments"], _interactions(c)),
    "shares_ratio": lambda c: _ratio(c["shares"], _interactions(c)),
    "avg_order_value": lambda c: _ratio(c["gmv"], c["orders"]),
    "product_ctr": lambda c: _ratio(c["product_clicks"], c["product_impressions"]),
    "conversion_rate": lambda c: _ratio(c["orders"], c["product_clicks"]),
    "gpm": lambda c: _ratio(c["gmv"], c["views"], 1000.0),
    "cpm": lambda c: _ratio(c["creator_cost"], c["views"], 1000.0),
    "cost_to_gmv": lambda c: _ratio(c["creator_cost"], c["gmv"]),
    "avg_watch_ratio": lambda c: _ratio(c["avg_watch_time_s"], c["avg_video_duration_s"]),
}


@dataclass(slots=True)
class Derived:
    """What :func:`derive` did, per derived metric: rows filled, rows disagreeing, rows clipped."""

    filled: dict[str, BoolArray] = field(default_factory=dict[str, BoolArray])
    disagree: dict[str, BoolArray] = field(default_factory=dict[str, BoolArray])
    clipped: dict[str, BoolArray] = field(default_factory=dict[str, BoolArray])


def derive(
    columns: Columns, catalogue: Catalogue, *, track: bool = False
) -> tuple[dict[str, FloatArray], Derived]:
    """Columns with every derivable missing metric filled in from its inputs.

    A derived value outside its metric's valid range (for instance more orders than product
    clicks) is clipped into the range. With ``track``, the returned :class:`Derived` records which
    rows were filled, clipped, or carried a given value that disagrees with the derived one.
    """
    out = dict(columns)
    record = Derived()
    for name, derivation in catalogue.derivations.items():
        if not all(item in columns for item in derivation.inputs):
            continue
        metric = catalogue.metrics[name]
        derived = DERIVATIONS[name](columns)
        if track:
            record.clipped[name] = (derived < metric.low) | (derived > metric.high)
        np.clip(derived, metric.low, metric.high, out=derived)
        given = columns.get(name)
        if given is None:
            out[name] = derived
            if track:
                record.filled[name] = ~np.isnan(derived)
            continue
        missing = np.isnan(given)
        out[name] = np.where(missing, derived, given)
        if track:
            record.filled[name] = missing & ~np.isnan(derived)
            with np.errstate(invalid="ignore"):
                gap = np.abs(given - derived)
                record.disagree[name] = gap > derivation.tolerance * np.abs(derived) + _DISAGREE_ABS
    return out, record


def normalise(metric: Metric, values: FloatArray) -> FloatArray:
    """The metric's 0..1 score for each value (NaN stays NaN); a new array."""
    offset, span = metric.norm_offset_span
    if metric.scale == "log":
        scaled = np.log1p(values)
        scaled -= offset
    else:
        scaled = values - offset
    scaled /= span
    np.clip(scaled, 0.0, 1.0, out=scaled)
    return scaled


@cache
def _anchors(metric: Metric) -> tuple[FloatArray, FloatArray]:
    """The benchmark anchors as arrays: log10 followers, and values (log1p for log metrics)."""
    xs = np.array([x for x, _ in metric.benchmark])
    ys = np.array([y for _, y in metric.benchmark])
    return xs, (np.log1p(ys) if metric.scale == "log" else ys)


def benchmark_values(metric: Metric, log10_followers: FloatArray) -> FloatArray:
    """The metric's benchmark for creators of these sizes (interpolated on log10 followers,
    in log1p of the value for log-scaled metrics)."""
    xs, ys = _anchors(metric)
    if len(xs) == 1:
        return np.full(log10_followers.shape, metric.benchmark[0][1])
    if metric.scale == "log":
        return np.expm1(np.interp(log10_followers, xs, ys))
    return np.interp(log10_followers, xs, ys)


@dataclass(slots=True)
class KernelOutput:
    """Per-creator results. Matrices are (creators x 13 KPIs) in ``KPI_IDS`` order; NaN marks a
    KPI (or an overall score) that could not be scored. Fields after ``kpi_scores`` are filled
    only when the kernel ran with ``components=True``."""

    overall: FloatArray
    band_codes: npt.NDArray[np.int8]
    coverage: FloatArray
    revenue_coverage: FloatArray
    kpi_scores: FloatArray
    effective_weights: FloatArray | None = None
    contributions: FloatArray | None = None
    benchmark_scores: FloatArray | None = None
    values: dict[str, FloatArray] = field(default_factory=dict[str, FloatArray])
    normalised: dict[str, FloatArray] = field(default_factory=dict[str, FloatArray])
    benchmarks: dict[str, FloatArray] = field(default_factory=dict[str, FloatArray])
    derived: Derived = field(default_factory=Derived)
    size_assumed: BoolArray | None = None


def _length(columns: Columns) -> int:
    lengths = {len(array) for array in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"all metric arrays must have one length; got {sorted(lengths)}")
    return lengths.pop() if lengths else 0


@dataclass(slots=True)
class _KpiPass:
    """What the pass over the KPIs produces: scores, which KPIs are complete for every creator,
    and (with components) benchmark scores, normalised values and benchmark values."""

    scores: FloatArray
    complete: BoolArray
    benchmark_scores: FloatArray | None
    normalised: dict[str, FloatArray]
    benchmarks: dict[str, FloatArray]


def _size_logs(values: Columns, size: int) -> tuple[FloatArray, BoolArray]:
    """log10(follower_count) per creator (the reference size where it is missing or < 1), and
    where the size was assumed."""
    followers = values.get("follower_count", np.full(size, np.nan))
    size_assumed = np.isnan(followers) | (followers < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        follower_log = np.where(size_assumed, REFERENCE_LOG10_FOLLOWERS, np.log10(followers))
    return follower_log, size_assumed


def _kpi_pass(
    values: Columns, size: int, catalogue: Catalogue, follower_log: FloatArray | None
) -> _KpiPass:
    """Each KPI's score: the weighted mean of its normalised metrics over those present."""
    components = follower_log is not None
    result = _KpiPass(
        scores=np.empty((size, len(KPI_IDS)), order="F"),
        complete=np.ones(len(KPI_IDS), dtype=bool),
        benchmark_scores=np.empty((size, len(KPI_IDS)), order="F") if components else None,
        normalised={},
        benchmarks={},
    )
    for k, kpi_id in enumerate(KPI_IDS):
        _one_kpi(k, catalogue.kpis[kpi_id], values, size, catalogue, follower_log, result)
    return result


def _one_kpi(  # noqa: PLR0912 - rewritten by issue 15 (priors and intervals), which splits it
    k: int,
    kpi: Kpi,
    values: Columns,
    size: int,
    catalogue: Catalogue,
    follower_log: FloatArray | None,
    result: _KpiPass,
) -> None:
    components = follower_log is not None
    numerator = np.zeros(size)
    denominator_const = 0.0
    denominator_rows: FloatArray | None = None
    bench_numerator = np.zeros(size) if components else None
    bench_all = np.zeros(size) if components else None
    for name in kpi.metrics:
        metric = catalogue.metrics[name]
        bench_norm: FloatArray | None = None
        if follower_log is not None and bench_all is not None:
            bench_value = benchmark_values(metric, follower_log)
            result.benchmarks[name] = bench_value
            bench_norm = normalise(metric, bench_value)
            bench_all += metric.weight * bench_norm
        raw = values.get(name)
        if raw is None:
            continue
        scaled = normalise(metric, raw)
        if components:
            result.normalised[name] = scaled.copy()
        if np.isnan(scaled.sum()):
            present = ~np.isnan(scaled)
            np.copyto(scaled, 0.0, where=~present)
            weight_rows = present * metric.weight
            denominator_rows = (
                weight_rows if denominator_rows is None else denominator_rows + weight_rows
            )
            if bench_numerator is not None and bench_norm is not None:
                bench_numerator += weight_rows * bench_norm
        else:
            denominator_const += metric.weight
            if bench_numerator is not None and bench_norm is not None:
                bench_numerator += metric.weight * bench_norm
        scaled *= metric.weight
        numerator += scaled
    column = result.scores[:, k]
    if denominator_rows is None:
        if denominator_const > 0:
            np.divide(numerator, denominator_const, out=column)
        else:
            column[:] = np.nan
            result.complete[k] = False
        denominator = np.full(size, denominator_const)
    else:
        denominator = denominator_rows + denominator_const
        column[:] = np.nan
        np.divide(numerator, denominator, out=column, where=denominator > 0)
        result.complete[k] = False
    benchmark_scores = result.benchmark_scores
    if benchmark_scores is not None and bench_numerator is not None and bench_all is not None:
        bench_column = benchmark_scores[:, k]
        np.divide(bench_numerator, denominator, out=bench_column, where=denominator > 0)
        np.copyto(bench_column, bench_all, where=~(denominator > 0))


def _overall(
    kpi_scores: FloatArray, complete: BoolArray, weights: FloatArray, size: int
) -> tuple[FloatArray, FloatArray]:
    """The overall score (0-100) over the scored KPIs, and coverage (their weight)."""
    if complete.all():
        overall = kpi_scores @ weights
        coverage = np.full(size, float(weights.sum()))
        overall *= 100.0 / coverage
        return overall, coverage
    overall_sum = np.zeros(size)
    coverage = np.zeros(size)
    for k in range(len(KPI_IDS)):
        column = kpi_scores[:, k]
        if complete[k]:
            overall_sum += weights[k] * column
            coverage += weights[k]
        else:
            present = ~np.isnan(column)
            overall_sum += weights[k] * np.where(present, column, 0.0)
            coverage += weights[k] * present
    overall = np.full(size, np.nan)
    np.divide(overall_sum, coverage, out=overall, where=coverage > 0)
    overall *= 100.0
    return overall, coverage


def _revenue_coverage(kpi_scores: FloatArray, catalogue: Catalogue) -> FloatArray:
    """The share of tier 1's tiered weight that was scored."""
    tiered = np.array([catalogue.kpis[kpi].tiered_weight for kpi in KPI_IDS])
    revenue = np.array([catalogue.kpis[kpi].tier == 1 for kpi in KPI_IDS])
    revenue_weights = tiered[revenue] / tiered[revenue].sum()
    return (~np.isnan(kpi_scores[:, revenue])) @ revenue_weights


def _band_codes(overall: FloatArray, catalogue: Catalogue) -> npt.NDArray[np.int8]:
    """Each creator's band as its index in ``catalogue.bands`` (-1 when not scored)."""
    thresholds = np.array([lower for _, lower in reversed(catalogue.bands)])
    band_codes = (len(thresholds) - np.searchsorted(thresholds, overall, side="right")).astype(
        np.int8
    )
    band_codes[np.isnan(overall)] = -1
    return band_codes


def score_arrays(
    columns: Columns,
    weights: FloatArray,
    *,
    components: bool = False,
    n: int | None = None,
) -> KernelOutput:
    """Score every creator in ``columns`` (metric name -> float64 array) under ``weights``.

    ``weights`` has one entry per KPI in ``KPI_IDS`` order and sums to 1. Unknown column names are
    ignored (text columns do not belong here). With ``components`` the output also carries each
    metric's value, normalised score and benchmark, each KPI's benchmark score, effective weight
    and contribution; without, only what the overall score needs is computed.
    """
    catalogue = load_catalogue()
    size = _length(columns) if n is None else n
    values, derived = derive(columns, catalogue, track=components)
    follower_log, size_assumed = _size_logs(values, size) if components else (None, None)
    kpis = _kpi_pass(values, size, catalogue, follower_log)
    overall, coverage = _overall(kpis.scores, kpis.complete, weights, size)
    result = KernelOutput(
        overall=overall,
        band_codes=_band_codes(overall, catalogue),
        coverage=coverage,
        revenue_coverage=_revenue_coverage(kpis.scores, catalogue),
        kpi_scores=kpis.scores,
    )
    if components:
        scored = ~np.isnan(kpis.scores)
        with np.errstate(invalid="ignore", divide="ignore"):
            effective = np.where(scored, weights / coverage[:, None], 0.0)
        result.effective_weights = effective
        result.contributions = 100.0 * effective * np.where(scored, kpis.scores, 0.0)
        result.benchmark_scores = kpis.benchmark_scores
        result.values = values
        result.normalised = kpis.normalised
        result.benchmarks = kpis.benchmarks
        result.derived = derived
        result.size_assumed = size_assumed
    return result
