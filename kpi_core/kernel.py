"""The one scoring kernel: metric name -> numpy array (one entry per creator) in, scores out.

Everything that scores goes through :func:`score_arrays`: ``score`` (one creator) calls it with
arrays of length one and ``score_frame`` (pandas), cohorts, the engines, the scorecard and the
what-ifs hand it columns. NaN means "missing". The maths, per creator (README "The scoring model";
``docs/methodology.md`` has every figure):

1. missing metrics are derived from their inputs where possible (:func:`derive`);
2. noisy rates with known trials are shrunk toward the benchmark for the creator's size
   (:mod:`kpi_core.shrinkage`);
3. each scored metric's position ``u = (t(x) - t(floor)) / (t(target) - t(floor))`` (``t`` is
   ``log1p`` for log-scaled metrics) scores ``s(u)``, a soft saturation: the identity on
   ``[knee, 1 - knee]`` with hyperbolic tails, so the score keeps ranking creators beyond the
   target and below the floor (:func:`kpi_core.estimation.saturate`);
4. ``missing="benchmark"`` (the default): each missing metric is estimated from its prior at the
   benchmark for the creator's size, conditioned on the observed metrics
   (:mod:`kpi_core.priors`); a KPI's score is the weighted sum of all its metrics' scores and the
   overall score is ``100 * sum(w_k S_k)`` with the scheme's full nominal weights, so
   ``contribution = 100 * w_k * S_k`` and ``effective_weight = w_k``. ``missing="renormalise"``
   (optimistic; the behaviour before kpi-2026.12): a KPI's score is the weighted mean over its
   observed metrics (NaN if none) and the overall score ``100 * sum(w_k S_k) / coverage`` over
   the KPIs with data;
5. ``coverage`` is the scheme's weight of the KPIs with at least one observed metric and
   ``revenue_coverage`` the same share of tier 1; a KPI without data is ``imputed``;
6. with ``intervals``, every score carries an interval at the catalogue's level for the score
   the creator would get with every metric reported and measured without noise
   (:mod:`kpi_core.estimation`).

Inputs are validated before they arrive here (:func:`kpi_core.validation.validate`). The kernel
never writes into the arrays it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from statistics import NormalDist
from typing import Literal, cast, get_args

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import KPI_IDS, Catalogue, Metric, load_catalogue
from kpi_core.errors import InvalidValueError
from kpi_core.estimation import (
    CHUNK_ROWS,
    Layout,
    RowEstimates,
    estimate_rows,
    rows_dot,
    rows_matmul,
    saturate,
)
from kpi_core.priors import PriorModel, position, prior_model
from kpi_core.shrinkage import ShrunkRates, shrink_rates

__all__ = [
    "DERIVATIONS",
    "MISSING_MODES",
    "KernelOutput",
    "Missing",
    "benchmark_values",
    "check_missing",
    "derive",
    "interval_z",
    "normalise",
    "score_arrays",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Columns = Mapping[str, FloatArray]

#: How missing metrics count: at their prior (default), or left out with the weights
#: renormalised over what has data (optimistic).
Missing = Literal["benchmark", "renormalise"]
MISSING_MODES: tuple[str, ...] = get_args(Missing)


def check_missing(missing: object) -> Missing:
    """``missing`` when it is one of :data:`MISSING_MODES`; else an error naming the field."""
    if missing in MISSING_MODES:
        return cast("Missing", missing)
    raise InvalidValueError(
        "missing",
        "must be 'benchmark' (missing metrics count at their prior) or 'renormalise'",
        missing,
    )


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
    """The metric's 0..1 score for each value: the soft-saturated position (NaN stays NaN)."""
    return saturate(position(metric, values), load_catalogue().model.saturation_knee)


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
    score that could not be computed (a KPI without data under ``renormalise``, a creator with
    nothing to score). Interval bounds are filled when the kernel ran with ``intervals``; the
    fields after ``log10_size`` only with ``components``."""

    overall: FloatArray
    band_codes: npt.NDArray[np.int8]
    coverage: FloatArray
    revenue_coverage: FloatArray
    kpi_scores: FloatArray
    #: True where a KPI had no observed metric (its score is its prior, or NaN).
    imputed: BoolArray
    missing: Missing
    level: float
    overall_low: FloatArray | None = None
    overall_high: FloatArray | None = None
    kpi_low: FloatArray | None = None
    kpi_high: FloatArray | None = None
    #: log10(follower_count), or its estimate where follower_count is missing.
    log10_size: FloatArray | None = None
    size_assumed: BoolArray | None = None
    effective_weights: FloatArray | None = None
    contributions: FloatArray | None = None
    benchmark_scores: FloatArray | None = None
    values: dict[str, FloatArray] = field(default_factory=dict[str, FloatArray])
    #: Each scored metric's score (observed or imputed), and its position (imputed: estimated).
    normalised: dict[str, FloatArray] = field(default_factory=dict[str, FloatArray])
    positions: dict[str, FloatArray] = field(default_factory=dict[str, FloatArray])
    observed: dict[str, BoolArray] = field(default_factory=dict[str, BoolArray])
    benchmarks: dict[str, FloatArray] = field(default_factory=dict[str, FloatArray])
    rates: ShrunkRates = field(default_factory=ShrunkRates)
    derived: Derived = field(default_factory=Derived)


def _length(columns: Columns) -> int:
    lengths = {len(array) for array in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"all metric arrays must have one length; got {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def _size_logs(values: Columns, size: int) -> tuple[FloatArray, BoolArray]:
    """log10(follower_count) per creator (NaN where missing or < 1), and where it is known."""
    followers = values.get("follower_count", np.full(size, np.nan))
    known = followers >= 1
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(known, np.log10(followers), np.nan), known


def _revenue_coverage(scored: BoolArray, catalogue: Catalogue) -> FloatArray:
    """The share of tier 1's tiered weight with data."""
    revenue = np.array(
        [
            catalogue.kpis[kpi].tiered_weight if catalogue.kpis[kpi].tier == 1 else 0.0
            for kpi in KPI_IDS
        ]
    )
    total = 0.0
    for weight in revenue:  # the order rows_dot adds in, so full coverage is exactly 1
        if weight != 0.0:
            total += weight
    return rows_dot(scored.astype(np.float64), revenue) / total


def _band_codes(overall: FloatArray, catalogue: Catalogue) -> npt.NDArray[np.int8]:
    """Each creator's band as its index in ``catalogue.bands`` (-1 when not scored)."""
    thresholds = np.array([lower for _, lower in reversed(catalogue.bands)])
    band_codes = (len(thresholds) - np.searchsorted(thresholds, overall, side="right")).astype(
        np.int8
    )
    band_codes[np.isnan(overall)] = -1
    return band_codes


def interval_z(level: float) -> float:
    """The standard normal quantile of a two-sided interval at ``level`` (1.2816 at 80%)."""
    return NormalDist().inv_cdf(0.5 + level / 2.0)


@dataclass(slots=True)
class _Inputs:
    """What every block reads: metric columns (rates shrunk), their noise, the sizes."""

    columns: list[FloatArray | None]
    noise: list[FloatArray | None]
    log10_size: FloatArray
    size_known: BoolArray


def _inputs(
    values: Columns, rates: ShrunkRates, log10_size: FloatArray, known: BoolArray, model: PriorModel
) -> _Inputs:
    catalogue = load_catalogue()
    columns: list[FloatArray | None] = []
    noise: list[FloatArray | None] = []
    for name in model.metrics:
        columns.append(rates.estimates.get(name, values.get(name)))
        variance = rates.variance.get(name)
        if variance is None or not variance.any():
            noise.append(None)
        else:
            span = catalogue.metrics[name].norm_offset_span[1]
            noise.append(variance / span**2)
    return _Inputs(columns, noise, log10_size, known)


def _block_positions(
    inputs: _Inputs, layout: Layout, rows: slice, count: int, intervals: bool
) -> tuple[FloatArray, FloatArray | None]:
    positions = np.empty((count, len(layout.metrics)))
    noise = np.zeros((count, len(layout.metrics))) if intervals else None
    for j, metric in enumerate(layout.metrics):
        column = inputs.columns[j]
        if column is None:
            positions[:, j] = np.nan
            continue
        positions[:, j] = position(metric, column[rows])
        variance = inputs.noise[j]
        if noise is not None and variance is not None:
            noise[:, j] = variance[rows]
    return positions, noise


def score_arrays(
    columns: Columns,
    weights: FloatArray,
    *,
    components: bool = False,
    intervals: bool = False,
    missing: Missing = "benchmark",
    n: int | None = None,
) -> KernelOutput:
    """Score every creator in ``columns`` (metric name -> float64 array) under ``weights``.

    ``weights`` has one entry per KPI in ``KPI_IDS`` order and sums to 1. Unknown column names are
    ignored (text columns do not belong here). ``missing`` says how missing metrics count (see the
    module docstring). With ``intervals`` each score carries its interval bounds; with
    ``components`` the output also carries each metric's value, estimate, score and benchmark,
    and each KPI's benchmark score, effective weight and contribution.
    """
    catalogue = load_catalogue()
    model = prior_model()
    size = _length(columns) if n is None else n
    values, derived = derive(columns, catalogue, track=components)
    log10_size, known = _size_logs(values, size)
    rates = shrink_rates(values, log10_size, catalogue)
    layout = Layout.of(catalogue, model.metrics, weights)
    inputs = _inputs(values, rates, log10_size, known, model)
    blocks = _Blocks.empty(size, len(model.metrics), components=components, intervals=intervals)
    renormalise = missing == "renormalise"
    for start in range(0, max(size, 1), CHUNK_ROWS):
        rows = slice(start, min(start + CHUNK_ROWS, size))
        count = rows.stop - rows.start
        positions, noise = _block_positions(inputs, layout, rows, count, intervals)
        block = estimate_rows(
            positions,
            noise,
            log10_size[rows],
            known[rows],
            layout=layout,
            model=model,
            renormalise=renormalise,
            keep_positions=components,
        )
        blocks.store(rows, block, positions)
    result = blocks.output(catalogue, layout, missing, known)
    if components:
        _add_components(result, blocks, values, rates, derived, layout, model)
    return result


@dataclass(slots=True)
class _Blocks:
    """The kernel's outputs, filled block by block."""

    overall: FloatArray
    kpi_scores: FloatArray
    weight_present: FloatArray
    log10_size: FloatArray
    overall_variance: FloatArray | None
    kpi_variance: FloatArray | None
    metric_scores: FloatArray | None
    positions: FloatArray | None
    observed: BoolArray | None

    @classmethod
    def empty(cls, size: int, metrics: int, *, components: bool, intervals: bool) -> _Blocks:
        kpis = len(KPI_IDS)
        return cls(
            overall=np.empty(size),
            kpi_scores=np.empty((size, kpis)),
            weight_present=np.empty((size, kpis)),
            log10_size=np.empty(size),
            overall_variance=np.empty(size) if intervals else None,
            kpi_variance=np.empty((size, kpis)) if intervals else None,
            metric_scores=np.empty((size, metrics)) if components else None,
            positions=np.empty((size, metrics)) if components else None,
            observed=np.empty((size, metrics), dtype=bool) if components else None,
        )

    def store(self, rows: slice, block: RowEstimates, positions: FloatArray) -> None:
        self.overall[rows] = block.overall
        self.kpi_scores[rows] = block.kpi_scores
        self.weight_present[rows] = block.weight_present
        self.log10_size[rows] = block.log10_size
        if self.overall_variance is not None and block.overall_variance is not None:
            self.overall_variance[rows] = block.overall_variance
        if self.kpi_variance is not None and block.kpi_variance is not None:
            self.kpi_variance[rows] = block.kpi_variance
        if self.metric_scores is not None and self.positions is not None:
            assert block.positions is not None
            self.metric_scores[rows] = block.metric_scores
            self.positions[rows] = block.positions
        if self.observed is not None:
            self.observed[rows] = ~np.isnan(positions)

    def output(
        self, catalogue: Catalogue, layout: Layout, missing: Missing, known: BoolArray
    ) -> KernelOutput:
        scored = self.weight_present > 0
        nothing = ~scored.any(axis=1)
        if nothing.any():  # nothing observed: a pure prior is no score
            self.overall[nothing] = np.nan
            self.kpi_scores[nothing] = np.nan
        level = catalogue.model.interval_level
        result = KernelOutput(
            overall=self.overall,
            band_codes=_band_codes(self.overall, catalogue),
            coverage=rows_dot(scored.astype(np.float64), layout.weights),
            revenue_coverage=_revenue_coverage(scored, catalogue),
            kpi_scores=self.kpi_scores,
            imputed=~scored,
            missing=missing,
            level=level,
            log10_size=self.log10_size,
            size_assumed=~known,
        )
        if self.overall_variance is not None and self.kpi_variance is not None:
            z = interval_z(level)
            half = z * np.sqrt(self.overall_variance)
            result.overall_low = np.clip(self.overall - half, 0.0, 100.0)
            result.overall_high = np.clip(self.overall + half, 0.0, 100.0)
            half_kpi = z * np.sqrt(self.kpi_variance)
            result.kpi_low = np.clip(self.kpi_scores - half_kpi, 0.0, 1.0)
            result.kpi_high = np.clip(self.kpi_scores + half_kpi, 0.0, 1.0)
        return result


def _add_components(
    result: KernelOutput,
    blocks: _Blocks,
    values: dict[str, FloatArray],
    rates: ShrunkRates,
    derived: Derived,
    layout: Layout,
    model: PriorModel,
) -> None:
    """Each metric's value, score, position and benchmark; each KPI's benchmark score,
    effective weight and contribution."""
    assert blocks.metric_scores is not None
    assert blocks.positions is not None
    assert blocks.observed is not None
    assert result.size_assumed is not None
    low, high = load_catalogue().model.size_prior
    estimated = np.clip(
        np.nan_to_num(blocks.log10_size, nan=float(model.joint_mean[-1])), low, high
    )
    size = np.where(result.size_assumed, estimated, blocks.log10_size)
    result.log10_size = size
    bench_scores = saturate(model.prior_positions(size), layout.knee)
    scored = blocks.weight_present > 0
    weights = layout.weights
    if result.missing == "benchmark":
        result.benchmark_scores = rows_matmul(bench_scores, layout.membership)
        result.effective_weights = np.broadcast_to(weights, result.kpi_scores.shape).copy()
        result.contributions = 100.0 * weights * result.kpi_scores
    else:
        present = rows_matmul(np.where(blocks.observed, bench_scores, 0.0), layout.membership)
        full = rows_matmul(bench_scores, layout.membership)
        with np.errstate(invalid="ignore", divide="ignore"):
            result.benchmark_scores = np.where(scored, present / blocks.weight_present, full)
            effective = np.where(scored, weights / result.coverage[:, None], 0.0)
        result.effective_weights = effective
        result.contributions = 100.0 * effective * np.where(scored, result.kpi_scores, 0.0)
    for j, metric in enumerate(layout.metrics):
        result.normalised[metric.name] = blocks.metric_scores[:, j]
        result.positions[metric.name] = blocks.positions[:, j]
        result.observed[metric.name] = blocks.observed[:, j]
        result.benchmarks[metric.name] = benchmark_values(metric, size)
    result.values = values
    result.rates = rates
    result.derived = derived
