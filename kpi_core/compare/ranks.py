"""Rank statistics: average ranks, Spearman's rho and NDCG@k, on a sample or a resample.

* Spearman's rho is Pearson's correlation of average ranks (tied values share the mean of the
  ranks they span), which is what ``scipy.stats.spearmanr`` returns.
* NDCG@k: ``DCG@k = sum_{i=1..k} g(pi_i) / log2(i + 1)``, with ``pi`` the creators in descending
  score order (ties broken by input order) and ``IDCG@k`` the same sum in descending gain order;
  ``NDCG@k = DCG@k / IDCG@k``. The gain ``g`` of a creator is the outcome's **percentile in the
  cohort**: its average rank divided by the number of creators, in (0, 1]. A percentile gain is
  scale-free, unmoved by a few huge outcomes and defined for negative outcomes; a random ranking
  scores about 0.5 and a perfect one 1.

A bootstrap resample is summarised by how many times each creator was drawn; :class:`Ranker`
and :func:`top_k_dcg` take those counts, so a resample's ranks follow in linear time (no sort
per resample) and equal those of the expanded resample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "Centred",
    "FloatArray",
    "IntArray",
    "Ranker",
    "average_ranks",
    "descending",
    "discounts",
    "dot",
    "ndcg_at_k",
    "percentile_gains",
    "spearman",
    "top_k_dcg",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class Ranker:
    """One variable prepared for ranking any resample of it in linear time.

    ``groups[i]`` is the index of creator i's value among the sorted distinct values. Given how
    many times each creator was drawn, a group's average rank in the resample is the number of
    draws with a smaller value plus (draws in the group + 1) / 2.
    """

    groups: IntArray
    size: int

    @classmethod
    def of(cls, values: FloatArray) -> Ranker:
        distinct, groups = np.unique(values, return_inverse=True)
        return cls(groups=groups.astype(np.intp).reshape(-1), size=len(distinct))

    def ranks(self, counts: FloatArray) -> FloatArray:
        """Average rank of each creator's value in the resample that drew it ``counts`` times."""
        drawn = np.bincount(self.groups, weights=counts, minlength=self.size)
        below = np.cumsum(drawn) - drawn
        return (below + (drawn + 1.0) / 2.0)[self.groups]


def average_ranks(values: npt.ArrayLike) -> FloatArray:
    """Ranks 1..n of ``values``; tied values share the mean of the ranks they span.

    ``average_ranks([10, 30, 20, 30])`` is ``[1, 3.5, 2, 3.5]`` (scipy.stats.rankdata's default).
    """
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    return Ranker.of(array).ranks(np.ones(len(array)))


def dot(a: FloatArray, b: FloatArray) -> float:
    """sum(a * b) by numpy's pairwise summation: no BLAS call, so no thread start-up on a busy
    machine, and the same bytes whatever the thread count."""
    return float(np.multiply(a, b).sum())


@dataclass(frozen=True, slots=True)
class Centred:
    """A variable minus its weighted mean, times the weights, and its weighted sum of squares."""

    weighted: FloatArray
    deviations: FloatArray
    squares: float

    @classmethod
    def of(cls, values: FloatArray, weights: FloatArray) -> Centred:
        deviations = values - dot(weights, values) / float(weights.sum())
        weighted = weights * deviations
        return cls(weighted, deviations, dot(weighted, deviations))

    def correlation(self, other: Centred) -> float:
        """Weighted Pearson correlation; NaN when either variable is constant."""
        if self.squares <= 0.0 or other.squares <= 0.0:
            return math.nan
        return dot(self.weighted, other.deviations) / math.sqrt(self.squares * other.squares)


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Spearman's rank correlation: Pearson's correlation of the average ranks of x and y.

    Equal to ``scipy.stats.spearmanr(x, y).statistic`` (ties included); NaN when either input is
    constant. Hand check: x = [1, 2, 3, 4, 5], y = [5, 6, 7, 8, 7] have ranks [1..5] and
    [1, 2, 3.5, 5, 3.5]; centred on 3 they are [-2, -1, 0, 1, 2] and
    [-2, -1, 0.5, 2, 0.5]: the products sum to 8, the squares to 10 and 9.5, so
    rho = 8 / sqrt(95) = 0.8208.
    """
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    ys = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(xs) != len(ys):
        raise ValueError(f"x and y must have one length; got {len(xs)} and {len(ys)}")
    if np.isnan(xs).any() or np.isnan(ys).any():
        raise ValueError("x and y must not contain NaN")
    ones = np.ones(len(xs))
    return Centred.of(average_ranks(xs), ones).correlation(Centred.of(average_ranks(ys), ones))


def percentile_gains(outcome: npt.ArrayLike) -> FloatArray:
    """The NDCG gain of each creator: its outcome's average rank / n, in (0, 1]."""
    values = np.asarray(outcome, dtype=np.float64).reshape(-1)
    return average_ranks(values) / len(values)


def discounts(k: int) -> FloatArray:
    """1 / log2(i + 1) for positions i = 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def top_k_dcg(order: IntArray, counts: IntArray, gains: FloatArray, weights: FloatArray) -> float:
    """DCG of the first k draws of a resample listed in ``order`` (k = len(weights), the
    position discounts).

    Creator ``order[j]`` was drawn ``counts[order[j]]`` times; its copies take consecutive
    positions. Only a prefix of ``order`` is scanned (a resample draws each creator once on
    average, so 4k + 64 creators hold k draws but for odds below 1e-12; then all are scanned).
    """
    k = len(weights)
    drawn = counts[order[: 4 * k + 64]]
    cumulative = np.cumsum(drawn)
    if cumulative[-1] < k:
        drawn = counts[order]
        cumulative = np.cumsum(drawn)
    reach = int(np.searchsorted(cumulative, k)) + 1
    picked = np.repeat(order[:reach], drawn[:reach])[:k]
    return dot(gains[picked], weights[: len(picked)])


def descending(values: FloatArray) -> IntArray:
    """Indices in descending order of ``values``; ties keep input order."""
    return np.argsort(-values, kind="stable").astype(np.intp)


def ndcg_at_k(scores: npt.ArrayLike, gains: npt.ArrayLike, k: int) -> float:
    """NDCG@k of the ranking by ``scores`` (descending; ties by input order) under ``gains``.

    ``DCG@k = sum_{i=1..k} gain(i-th ranked) / log2(i + 1)``; ``NDCG@k = DCG@k / IDCG@k``, IDCG
    being the DCG of the ranking by gain. k larger than n counts all n. NaN when IDCG is 0.

    Hand check: scores [0.9, 0.8, 0.1, 0.5], gains [1, 0, 3, 2], k = 3. The ranking is creators
    0, 1, 3: DCG = 1/log2(2) + 0/log2(3) + 2/log2(4) = 1 + 0 + 1 = 2. The ideal takes gains
    3, 2, 1: IDCG = 3 + 2/log2(3) + 1/2 = 4.761860. NDCG@3 = 2 / 4.761860 = 0.420004.
    """
    score_values = np.asarray(scores, dtype=np.float64).reshape(-1)
    gain_values = np.asarray(gains, dtype=np.float64).reshape(-1)
    if len(score_values) != len(gain_values):
        raise ValueError("scores and gains must have one length")
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    weights = discounts(min(k, len(score_values)))
    ones = np.ones(len(score_values), dtype=np.intp)
    ideal = top_k_dcg(descending(gain_values), ones, gain_values, weights)
    if ideal <= 0.0:
        return math.nan
    return top_k_dcg(descending(score_values), ones, gain_values, weights) / ideal
