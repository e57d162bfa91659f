"""The estimates behind every score: metric scores, imputed metrics and the variance of each score.

:func:`estimate_rows` works on one block of creators at a time (the kernel hands it blocks of
``CHUNK_ROWS``), on the matrix of metric *positions* ``u`` (creators x scored metrics, NaN where
missing; see :mod:`kpi_core.priors`):

* a metric's score is its soft-saturated position ``s(u)`` (:func:`saturate`);
* ``missing="benchmark"``: creators are grouped by their pattern of observed metrics (and whether
  their size is known); each missing position is estimated from the observed ones by the
  pattern's :class:`~kpi_core.priors.Conditioning`, and scores ``(s(m + sd) + s(m - sd)) / 2``,
  the two-point Gauss-Hermite mean of ``s`` over its conditional distribution ``N(m, sd^2)``;
  a KPI's score is the weighted sum of all its metrics' scores and the overall score
  ``100 * sum(w_k S_k)`` over all 13 KPIs;
* ``missing="renormalise"``: a KPI's score is the weighted mean over its observed metrics and
  the overall score the weighted mean over the KPIs with data (the optimistic option);
* with ``intervals``: the variance of each score, by the delta method, from the missing metrics
  (``g C g'`` with ``C`` the conditional covariance and ``g`` the score's slopes, each metric's
  slope ``(s(m + sd) - s(m - sd)) / (2 sd)``, the same two-point rule) plus the variance of the
  shrunk rates (each through its total slope: its own score and the estimates it moves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import KPI_IDS, Catalogue, Metric
from kpi_core.priors import Conditioning, PriorModel

__all__ = [
    "CHUNK_ROWS",
    "INFLUENCE_SDS",
    "Layout",
    "RowEstimates",
    "estimate_rows",
    "rows_dot",
    "rows_matmul",
    "saturate",
    "saturation_slope",
    "secant_slope",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

#: Creators per block: bounds the working memory (a block's matrices are a few MB).
CHUNK_ROWS = 32_768

#: Positions are kept within +-this before saturation (a log-scaled growth of -100% is -inf).
_POSITION_LIMIT = 1e6

#: An observed position moves the estimates of the missing ones by at most this many prior
#: standard deviations from its prior mean (bounded influence: an extreme value, such as a
#: growth of -100%, cannot drag every estimate with it). Assumption.
INFLUENCE_SDS = 4.0


def rows_matmul(rows: FloatArray, matrix: FloatArray) -> FloatArray:
    """``rows @ matrix`` computed so that each row's result does not depend on the rows beside
    it: a single row goes through the matrix kernel doubled (BLAS rounds a vector product
    differently), so a creator scores to the same bits alone, in a cohort or in any batch."""
    if len(rows) == 1:
        return (np.concatenate((rows, rows)) @ matrix)[:1]
    return rows @ matrix


def rows_dot(rows: FloatArray, vector: FloatArray) -> FloatArray:
    """``rows @ vector``, column by column (the same bits for a row wherever it sits)."""
    out = np.zeros(len(rows))
    for j, weight in enumerate(vector):
        if weight != 0.0:
            out += rows[:, j] * weight
    return out


def saturate(positions: FloatArray, knee: float) -> FloatArray:
    """s(u) = clip(u, knee, 1 - knee) + knee * d / (|d| + knee), d = u - clip(...): the identity
    on [knee, 1 - knee], strictly increasing, with hyperbolic tails toward 0 and 1 (a new
    array; NaN stays NaN)."""
    inner = np.clip(positions, knee, 1.0 - knee)
    outside = positions - inner
    np.clip(outside, -_POSITION_LIMIT, _POSITION_LIMIT, out=outside)
    tail = np.abs(outside)
    tail += knee
    np.divide(outside, tail, out=outside)
    outside *= knee
    inner += outside
    return inner


def saturation_slope(positions: FloatArray, knee: float) -> FloatArray:
    """ds/du: 1 on [knee, 1 - knee], knee^2 / (|d| + knee)^2 beyond."""
    outside = np.abs(positions - np.clip(positions, knee, 1.0 - knee)) + knee
    return (knee / outside) ** 2


def secant_slope(positions: FloatArray, sd: FloatArray, knee: float) -> FloatArray:
    """(s(u + sd) - s(u - sd)) / (2 sd): the two-point Gauss-Hermite slope of s over N(u, sd^2)
    (ds/du where sd is 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        secant = (saturate(positions + sd, knee) - saturate(positions - sd, knee)) / (2.0 * sd)
    return np.where(sd > 0, secant, saturation_slope(positions, knee))


@dataclass(frozen=True, slots=True)
class Layout:
    """How metric scores add up, for one weighting: each scored metric's weight inside its KPI,
    its KPI, and its coefficient in the overall score (``100 * w_kpi * weight``)."""

    metrics: tuple[Metric, ...]
    within: FloatArray
    kpi_of: IntArray
    #: metrics x KPIs: the metric's weight inside the KPI in its KPI's column.
    membership: FloatArray
    coefficient: FloatArray
    weights: FloatArray
    #: 2^j for metric j: a pattern's code is the sum over its observed metrics.
    bits: FloatArray
    knee: float

    @classmethod
    def of(cls, catalogue: Catalogue, names: Sequence[str], weights: FloatArray) -> Layout:
        metrics = tuple(catalogue.metrics[name] for name in names)
        within = np.array([m.weight for m in metrics])
        kpi_of = np.array([KPI_IDS.index(str(m.kpi)) for m in metrics], dtype=np.intp)
        membership = np.zeros((len(metrics), len(KPI_IDS)))
        membership[np.arange(len(metrics)), kpi_of] = within
        return cls(
            metrics=metrics,
            within=within,
            kpi_of=kpi_of,
            membership=membership,
            coefficient=100.0 * weights[kpi_of] * within,
            weights=weights,
            bits=np.power(2.0, np.arange(len(metrics), dtype=np.float64)),
            knee=catalogue.model.saturation_knee,
        )


@dataclass(slots=True)
class RowEstimates:
    """What :func:`estimate_rows` returns for a block of creators (``positions``, with the
    missing ones estimated, only when asked for)."""

    metric_scores: FloatArray
    positions: FloatArray | None
    kpi_scores: FloatArray
    #: Each KPI's weight of observed metrics inside it (0: the KPI has no data).
    weight_present: FloatArray
    overall: FloatArray
    overall_variance: FloatArray | None
    kpi_variance: FloatArray | None
    #: log10 size estimated from the metrics where follower_count is missing (else as given).
    log10_size: FloatArray


@dataclass(frozen=True, slots=True)
class _Block:
    """One block's inputs."""

    positions: FloatArray
    noise: FloatArray | None
    log10_size: FloatArray
    size_known: BoolArray


def estimate_rows(
    positions: FloatArray,
    noise: FloatArray | None,
    log10_size: FloatArray,
    size_known: BoolArray,
    *,
    layout: Layout,
    model: PriorModel,
    renormalise: bool,
    keep_positions: bool = True,
) -> RowEstimates:
    """Scores of one block of creators (see the module docstring).

    ``positions`` is creators x scored metrics (NaN missing; not modified); ``noise`` the
    variance of each position (0 where exact), or None when no interval is wanted;
    ``keep_positions``: return the positions with the missing ones estimated.
    """
    block = _Block(positions, noise, log10_size, size_known)
    if renormalise:
        return _renormalised(block, layout)
    rows = len(positions)
    observed = ~np.isnan(positions)
    result = RowEstimates(
        metric_scores=np.empty(positions.shape, order="F"),  # filled and read by column
        positions=positions.copy() if keep_positions else None,
        kpi_scores=np.empty((rows, len(KPI_IDS))),
        weight_present=np.empty((rows, len(KPI_IDS))),
        overall=np.empty(rows),
        overall_variance=None if noise is None else np.zeros(rows),
        kpi_variance=None if noise is None else np.zeros((rows, len(KPI_IDS))),
        log10_size=log10_size.copy(),
    )
    if rows == 0:
        groups: list[IntArray | slice] = []
    elif bool((observed == observed[0]).all()) and (size_known.all() or not size_known.any()):
        groups = [slice(None)]  # one pattern (the common case of a warehouse export)
    else:
        groups = _groups(observed.astype(np.float64) @ layout.bits + np.where(size_known, 0.5, 0.0))
    for rows_of in groups:
        first = 0 if isinstance(rows_of, slice) else int(rows_of[0])
        known = bool(size_known[first])
        pattern = observed[first : first + 1]
        result.weight_present[rows_of] = rows_matmul(pattern.astype(np.float64), layout.membership)
        conditioning = model.condition(np.flatnonzero(pattern[0]), known)
        _impute(block, rows_of, known, conditioning, model, layout, result)
    result.kpi_scores = _kpi_scores(result.metric_scores, layout)
    result.overall = rows_dot(result.kpi_scores, 100.0 * layout.weights)
    return result


def _kpi_scores(scores: FloatArray, layout: Layout) -> FloatArray:
    """Each KPI's score, the sum of its metrics' weighted scores, added metric by metric in the
    catalogue's order (no BLAS call: the same bits for a row wherever it sits, and fast)."""
    out = np.zeros((len(scores), len(KPI_IDS)), order="F")
    term = np.empty(len(scores))
    for j, kpi in enumerate(layout.kpi_of):
        np.multiply(scores[:, j], layout.within[j], out=term)
        out[:, kpi] += term
    return out


def _groups(codes: FloatArray) -> list[IntArray | slice]:
    """Row indices of each distinct code, in the order of the codes."""
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], len(codes))
    return [order[start:end] for start, end in zip(starts, ends, strict=True)]


def _put(target: FloatArray, rows: IntArray | slice, columns: IntArray, values: FloatArray) -> None:
    """``target[rows, columns] = values`` for a slice or an index array of rows."""
    if isinstance(rows, slice):
        target[rows, columns] = values
    else:
        target[np.ix_(rows, columns)] = values


def _impute(
    block: _Block,
    rows: IntArray | slice,
    known: bool,
    conditioning: Conditioning,
    model: PriorModel,
    layout: Layout,
    result: RowEstimates,
) -> None:
    """Estimate one pattern's missing positions and fill their scores (and the variances)."""
    count = model.size
    observed = conditioning.observed
    metric_rows = conditioning.missing < count
    missing = conditioning.missing[metric_rows]
    sizes = block.log10_size[rows]
    if known:
        prior_observed = model.prior_positions(sizes, observed)
        estimate = model.prior_positions(sizes, conditioning.missing)
    else:
        prior = np.broadcast_to(model.joint_mean, (len(sizes), count + 1))
        prior_observed = prior[:, observed]
        estimate = prior[:, conditioning.missing]  # a new array (fancy indexing)
    observed_positions = block.positions[rows][:, observed]
    _put(result.metric_scores, rows, observed, saturate(observed_positions, layout.knee))
    residual = observed_positions - prior_observed
    limit = INFLUENCE_SDS * model.prior_sd(known)[observed]
    np.clip(residual, -limit, limit, out=residual)
    scale = _t_scale(residual, conditioning, model) if block.noise is not None else None
    shift = rows_matmul(residual, conditioning.weights.T)
    upward = shift > 0.0  # evidence that a missing metric beats its prior counts less
    every_metric = bool(metric_rows.all())
    if not every_metric:
        upward[:, ~metric_rows] = False  # the size's estimate moves in full
    np.multiply(shift, model.upward_evidence, out=shift, where=upward)
    estimate += shift
    if not known:
        result.log10_size[rows] = estimate[:, -1]
    means = estimate if every_metric else estimate[:, metric_rows]
    sd = conditioning.sd[metric_rows]
    high = saturate(means + sd, layout.knee)
    low = saturate(means - sd, layout.knee)
    if result.positions is not None:
        _put(result.positions, rows, missing, means)
    high += low
    high *= 0.5
    _put(result.metric_scores, rows, missing, high)
    if block.noise is None:
        return
    slope = secant_slope(means, np.broadcast_to(sd, means.shape), layout.knee)
    _variances(block, rows, conditioning, metric_rows, slope, layout, result, scale)


def _t_scale(residual: FloatArray, conditioning: Conditioning, model: PriorModel) -> FloatArray:
    """(nu + d2) / (nu + n): the multivariate-t prior's scale of the conditional covariance, d2
    each creator's Mahalanobis distance of its n observed positions from their priors."""
    observed = len(conditioning.observed)
    freedom = model.degrees_of_freedom
    if observed == 0:
        return np.ones(len(residual))
    distance = np.einsum("ij,jk,ik->i", residual, conditioning.precision, residual)
    return (freedom + distance) / (freedom + observed)


def _variances(
    block: _Block,
    rows: IntArray | slice,
    conditioning: Conditioning,
    metric_rows: BoolArray,
    slope: FloatArray,
    layout: Layout,
    result: RowEstimates,
    scale: FloatArray | None,
) -> None:
    """The variance of the overall score and of each KPI score, for one pattern's rows."""
    assert block.noise is not None
    assert result.overall_variance is not None
    assert result.kpi_variance is not None
    observed = conditioning.observed
    missing = conditioning.missing[metric_rows]
    covariance = conditioning.covariance[np.ix_(metric_rows, metric_rows)]
    weights = conditioning.weights[metric_rows]
    noise = block.noise[rows][:, observed]
    noisy = bool(noise.any())
    observed_slope = secant_slope(block.positions[rows][:, observed], np.sqrt(noise), layout.knee)
    gradient = slope * layout.coefficient[missing]
    variance = np.einsum("ij,jk,ik->i", gradient, covariance, gradient)
    if scale is not None:
        variance *= scale
    if noisy:
        total = observed_slope * layout.coefficient[observed] + rows_matmul(gradient, weights)
        variance += np.einsum("ij,ij,ij->i", total, total, noise)
    result.overall_variance[rows] = variance
    kpi_variance = np.zeros((len(variance), len(KPI_IDS)))
    for k in range(len(KPI_IDS)):
        inside = layout.kpi_of[missing] == k
        part = slope[:, inside] * layout.within[missing[inside]]
        block_cov = covariance[np.ix_(inside, inside)]
        kpi_variance[:, k] = np.einsum("ij,jk,ik->i", part, block_cov, part)
        if scale is not None:
            kpi_variance[:, k] *= scale
        if noisy:
            own = layout.kpi_of[observed] == k
            total = rows_matmul(part, weights[inside])
            total[:, own] += observed_slope[:, own] * layout.within[observed[own]]
            kpi_variance[:, k] += np.einsum("ij,ij,ij->i", total, total, noise)
    result.kpi_variance[rows] = kpi_variance


def _renormalised(block: _Block, layout: Layout) -> RowEstimates:
    """Today's optimistic option: weighted means over what was observed; noise-only variance."""
    positions = block.positions
    rows = len(positions)
    observed = ~np.isnan(positions)
    scores = saturate(positions, layout.knee)
    present = np.where(observed, scores, 0.0)
    weight_present = rows_matmul(observed.astype(np.float64), layout.membership)
    kpi_scores = np.full((rows, len(KPI_IDS)), np.nan)
    np.divide(
        rows_matmul(present, layout.membership),
        weight_present,
        out=kpi_scores,
        where=weight_present > 0,
    )
    scored = weight_present > 0
    coverage = rows_dot(scored.astype(np.float64), layout.weights)
    overall = np.full(rows, np.nan)
    np.divide(
        rows_dot(np.where(scored, kpi_scores, 0.0), 100.0 * layout.weights),
        coverage,
        out=overall,
        where=coverage > 0,
    )
    result = RowEstimates(
        metric_scores=scores,
        positions=positions.copy(),
        kpi_scores=kpi_scores,
        weight_present=weight_present,
        overall=overall,
        overall_variance=None,
        kpi_variance=None,
        log10_size=block.log10_size.copy(),
    )
    if block.noise is not None:
        slope = np.where(observed, secant_slope(positions, np.sqrt(block.noise), layout.knee), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = layout.within / weight_present[:, layout.kpi_of]
            kpi_part = np.where(observed, slope * share, 0.0)
            members = np.where(layout.membership > 0, 1.0, 0.0)
            kpi_variance = rows_matmul(kpi_part**2 * block.noise, members)
            overall_part = kpi_part * (100.0 * layout.weights[layout.kpi_of]) / coverage[:, None]
        result.kpi_variance = kpi_variance
        result.overall_variance = np.nansum(overall_part**2 * block.noise, axis=1)
    return result
