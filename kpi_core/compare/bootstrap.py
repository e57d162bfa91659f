"""Rank quality against the outcome, with paired bootstrap intervals.

``n_boot`` resamples of the creators with replacement (row indices drawn uniformly, a
``numpy.random.Generator`` seeded by the caller); every statistic is recomputed on each resample,
with duplicated creators tied (they share their average rank). The same resamples serve every
ranking, so a difference between two rankings is a paired difference. Intervals are the 2.5% and
97.5% percentiles. A resample is summarised by how many times each creator was drawn, and its
ranks follow from those counts in linear time (see :mod:`kpi_core.compare.ranks`).

**Improvement** of a scheme over the reference is ``(rho - rho_ref) / rho_ref``, the relative
difference in Spearman's rho, reported with its paired percentile interval; it is undefined
(None) when the reference's rho is not above 0 in the sample or in any resample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from kpi_core.compare.models import Difference, RankQuality
from kpi_core.compare.ranks import (
    Centred,
    FloatArray,
    IntArray,
    Ranker,
    descending,
    discounts,
    percentile_gains,
    top_k_dcg,
)

__all__ = [
    "CI_LEVEL",
    "PROGRESS_STEPS",
    "Quality",
    "interval",
    "measure_quality",
    "optional",
    "progress_message",
]

#: Coverage of every interval.
CI_LEVEL = 0.95
#: Progress is reported at least this many times during the bootstrap (every 5%).
PROGRESS_STEPS = 20


def interval(samples: FloatArray) -> tuple[float | None, float | None]:
    """The 95% percentile interval of the finite samples (None, None when there are none)."""
    finite = samples[np.isfinite(samples)]
    if len(finite) == 0:
        return None, None
    tail = (1.0 - CI_LEVEL) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def optional(value: float) -> float | None:
    """A finite number, or None."""
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Quality:
    """Point estimates and bootstrap samples (resamples x rankings) of rank quality."""

    spearman: FloatArray
    ndcg: FloatArray
    spearman_samples: FloatArray
    ndcg_samples: FloatArray

    def rank_quality(self, column: int, scheme: str, *, out_of_sample: bool) -> RankQuality:
        """The rank quality of ranking ``column``, with its intervals."""
        low, high = interval(self.spearman_samples[:, column])
        ndcg_low, ndcg_high = interval(self.ndcg_samples[:, column])
        return RankQuality(
            scheme=scheme,
            spearman=optional(float(self.spearman[column])),
            ndcg_at_k=optional(float(self.ndcg[column])),
            ci_low=low,
            ci_high=high,
            ndcg_ci_low=ndcg_low,
            ndcg_ci_high=ndcg_high,
            out_of_sample=out_of_sample,
        )

    def difference(self, column: int, versus: int, names: Sequence[str]) -> Difference:
        """Ranking ``column`` minus ranking ``versus``, with paired intervals."""
        rho_diff = self.spearman_samples[:, column] - self.spearman_samples[:, versus]
        ndcg_diff = self.ndcg_samples[:, column] - self.ndcg_samples[:, versus]
        low, high = interval(rho_diff)
        ndcg_low, ndcg_high = interval(ndcg_diff)
        versus_rho = float(self.spearman[versus])
        point_diff = float(self.spearman[column]) - versus_rho
        relative: float | None = None
        rel_low: float | None = None
        rel_high: float | None = None
        if versus_rho > 0.0:
            relative = optional(point_diff / versus_rho)
            versus_samples = self.spearman_samples[:, versus]
            if bool((versus_samples > 0.0).all()):
                rel_low, rel_high = interval(rho_diff / versus_samples)
        return Difference(
            scheme=names[column],
            versus=names[versus],
            spearman_diff=optional(point_diff),
            ci_low=low,
            ci_high=high,
            relative_improvement=relative,
            rel_ci_low=rel_low,
            rel_ci_high=rel_high,
            ndcg_diff=optional(float(self.ndcg[column] - self.ndcg[versus])),
            ndcg_ci_low=ndcg_low,
            ndcg_ci_high=ndcg_high,
        )


def progress_message(done: float, total: float) -> str:
    """What the comparison is doing once ``done`` of ``total`` resamples are measured (the
    progress :func:`measure_quality` reports), for a progress notification."""
    from prompts import render

    return render("progress.txt.j2", task="bootstrap", done=round(done), total=round(total))


def measure_quality(
    rankings: list[FloatArray],
    outcome: FloatArray,
    k: int,
    n_boot: int,
    rng: np.random.Generator,
    progress: Callable[[float, float], None] | None,
) -> Quality:
    """Spearman and NDCG@k of each ranking against the outcome, on the sample and on ``n_boot``
    resamples (the same resamples for every ranking); ``progress(done, n_boot)`` every 5%."""
    count = len(outcome)
    gains = percentile_gains(outcome)
    position_weights = discounts(k)
    outcome_ranker = Ranker.of(outcome)
    rankers = [Ranker.of(scores) for scores in rankings]
    orders = [descending(scores) for scores in rankings]
    ideal_order = descending(gains)

    def measure(counts: IntArray) -> tuple[FloatArray, FloatArray]:
        weights = counts.astype(np.float64)
        outcome_ranks = Centred.of(outcome_ranker.ranks(weights), weights)
        ideal = top_k_dcg(ideal_order, counts, gains, position_weights)
        rho = np.array(
            [
                Centred.of(ranker.ranks(weights), weights).correlation(outcome_ranks)
                for ranker in rankers
            ]
        )
        ndcg = np.array(
            [top_k_dcg(order, counts, gains, position_weights) / ideal for order in orders]
        )
        return rho, ndcg

    point_rho, point_ndcg = measure(np.ones(count, dtype=np.intp))
    rho_samples = np.empty((n_boot, len(rankings)))
    ndcg_samples = np.empty((n_boot, len(rankings)))
    step = max(1, n_boot // PROGRESS_STEPS)
    for resample in range(n_boot):
        drawn = rng.integers(0, count, size=count)
        counts = np.bincount(drawn, minlength=count).astype(np.intp)
        rho_samples[resample], ndcg_samples[resample] = measure(counts)
        done = resample + 1
        if progress is not None and (done % step == 0 or done == n_boot):
            progress(float(done), float(n_boot))
    return Quality(point_rho, point_ndcg, rho_samples, ndcg_samples)
