"""The ``fitted`` scheme: non-negative weights fitted to the outcome, scored out of fold.

The outcome is turned into normal scores (``Phi^-1(average rank / (m + 1))`` over the m training
creators: invariant to any increasing transform of the outcome and robust to its heavy tail),
regressed on the KPI scores by non-negative least squares with an intercept (missing KPI scores
filled with the training mean of that KPI; a KPI with no data gets weight 0), and the
coefficients are divided by their sum. If the outcome is ``f(sum_k w_k S_k + noise)`` for an
increasing ``f`` and roughly normal noise, the normal scores are close to linear in the KPI
scores and the fit recovers ``w``. With ``folds``-fold cross-validation (creators shuffled from
the seed), each fold is scored with weights fitted on the other folds; every fitted score, rank
and rank quality in a result is out of fold. The reported weights are fitted on all kept
creators, for reading only; the weights of each fold are reported too. The fitted scheme's
interval treats the fold weights as fixed (it does not include the variation of refitting on
each resample).

scipy is imported on first use (normal quantiles and non-negative least squares).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np

from kpi_core.catalogue import KPI_IDS
from kpi_core.compare.ranks import FloatArray, average_ranks
from kpi_core.compare.schemes import KpiMatrix

__all__ = ["FIT_METHOD", "FIT_TARGET", "Fit", "cross_validate"]

FIT_METHOD = (
    "non-negative least squares with an intercept, coefficients divided by their sum; "
    "cross-validated, every fitted score out of fold"
)
FIT_TARGET = "normal scores of the outcome: inverse normal CDF of average rank / (m + 1)"


class _Ndtri(Protocol):
    def __call__(self, x: FloatArray, /) -> FloatArray: ...


class _Nnls(Protocol):
    def __call__(self, a: FloatArray, b: FloatArray, /) -> tuple[FloatArray, float]: ...


def _normal_quantiles(probabilities: FloatArray) -> FloatArray:
    """``Phi^-1(p)`` elementwise (scipy.special.ndtri, imported on first use)."""
    special = importlib.import_module("scipy.special")
    ndtri = cast("_Ndtri", special.ndtri)
    return np.asarray(ndtri(probabilities), dtype=np.float64)


def _nnls(matrix: FloatArray, target: FloatArray) -> FloatArray:
    """argmin ||matrix @ x - target|| subject to x >= 0 (scipy.optimize.nnls)."""
    optimize = importlib.import_module("scipy.optimize")
    solve = cast("_Nnls", optimize.nnls)
    solution, _ = solve(matrix, target)
    return np.asarray(solution, dtype=np.float64)


def _nnls_gram(design: FloatArray, target: FloatArray) -> FloatArray:
    """NNLS of ``target`` on ``design`` through the 13 x 13 Gram matrix ``G = X'X``.

    ``||X b - t||^2 = b'G b - 2 b'X't + t't``, and with ``G = V diag(l) V'`` that is
    ``||diag(sqrt l) V'b - diag(1 / sqrt l) V'X't||^2`` up to a constant (over the directions
    with ``l > 0``, where ``X't`` lies), so a 13-row problem has the tall problem's minimiser.
    """
    gram = design.T @ design
    moment = design.T @ target
    eigen = np.linalg.eigh(gram)
    values: FloatArray = eigen.eigenvalues
    vectors: FloatArray = eigen.eigenvectors
    largest = float(values.max(initial=0.0))
    if not largest > 0.0:
        return np.zeros(int(design.shape[1]))
    keep = values > largest * 1e-12
    root = np.sqrt(values[keep])
    basis = vectors[:, keep].T
    return _nnls(root[:, None] * basis, (basis @ moment) / root)


def _fit_weights(kpi_scores: FloatArray, outcome: FloatArray) -> FloatArray | None:
    """Non-negative weights summing to 1 from NNLS of the outcome's normal scores on the KPI
    scores (with an intercept); None when no KPI rises with the outcome."""
    count = len(outcome)
    target = _normal_quantiles(average_ranks(outcome) / (count + 1.0))
    present = ~np.isnan(kpi_scores)
    usable = present.any(axis=0)
    weights = np.zeros(len(KPI_IDS))
    if not usable.any():
        return None
    columns = kpi_scores[:, usable]
    seen = present[:, usable]
    means = np.where(seen, columns, 0.0).sum(axis=0) / seen.sum(axis=0)
    design = np.where(seen, columns, means)
    design = design - design.mean(axis=0)
    centred = target - target.mean()
    coefficients = _nnls_gram(design, centred)
    total = float(coefficients.sum())
    if not total > 0.0:
        return None
    weights[usable] = coefficients / total
    return weights


@dataclass(frozen=True, slots=True)
class Fit:
    """Out-of-fold fitted scores, the weights of each fold and the fit on all creators."""

    out_of_fold: FloatArray
    all_rows: FloatArray
    fold_weights: list[FloatArray]
    fallback_folds: list[int]
    unweighted: int


def _equal_over_data(kpi_scores: FloatArray) -> FloatArray:
    usable = (~np.isnan(kpi_scores)).any(axis=0).astype(np.float64)
    return usable / usable.sum()


def cross_validate(
    kpi_scores: FloatArray, outcome: FloatArray, folds: int, rng: np.random.Generator
) -> Fit:
    """Fit on all folds but one, score that one, for each fold; then fit on everyone."""
    count = len(outcome)
    fold_of = np.empty(count, dtype=np.intp)
    fold_of[rng.permutation(count)] = np.arange(count) % folds
    out_of_fold = np.empty(count)
    fold_weights: list[FloatArray] = []
    fallback: list[int] = []
    unweighted = 0
    for fold in range(folds):
        held_out = fold_of == fold
        train = ~held_out
        weights = _fit_weights(kpi_scores[train], outcome[train])
        if weights is None:
            fallback.append(fold)
            weights = _equal_over_data(kpi_scores[train])
        fold_weights.append(weights)
        scores = KpiMatrix.of(kpi_scores[held_out]).overall(weights)
        missing = np.isnan(scores)
        unweighted += int(missing.sum())
        out_of_fold[held_out] = np.where(missing, 0.0, scores)
    everything = _fit_weights(kpi_scores, outcome)
    if everything is None:
        everything = _equal_over_data(kpi_scores)
    return Fit(out_of_fold, everything, fold_weights, fallback, unweighted)
