"""What the choice of KPI weights does to scores and rankings, measured rather than asserted.

:func:`compare_single` scores one creator under several schemes and says which KPIs drive each
difference. :func:`compare_cohort` compares the rankings of a cohort under several schemes and,
given a next-period ``outcome`` (such as ``next_gmv``), measures each scheme's rank quality with a
bootstrap 95% interval, the difference from the reference scheme with a paired interval, and can
fit weights to the outcome by cross-validation. Every sentence comes from a
``prompts/templates/compare_*.txt.j2`` template. scipy is imported only inside the helpers that
need it (normal quantiles and non-negative least squares); pandas only by :func:`compare_cohort`.

**Scores.** KPI scores do not depend on the weighting, so they are computed once through the
kernel and combined per scheme exactly as the kernel does: ``100 * sum_k w_k S_k / sum_k w_k``
over the KPIs scored for that creator (a creator with no data on any KPI a scheme weights has no
score under it and is rejected).

**Rank quality** (against the outcome, over the creators kept):

* Spearman's rho is Pearson's correlation of average ranks (tied values share the mean of the
  ranks they span), which is what ``scipy.stats.spearmanr`` returns.
* NDCG@k: ``DCG@k = sum_{i=1..k} g(pi_i) / log2(i + 1)``, with ``pi`` the creators in descending
  score order (ties broken by input order) and ``IDCG@k`` the same sum in descending gain order;
  ``NDCG@k = DCG@k / IDCG@k``. The gain ``g`` of a creator is the outcome's **percentile in the
  cohort**: its average rank divided by the number of creators, in (0, 1]. A percentile gain is
  scale-free, unmoved by a few huge outcomes and defined for negative outcomes; a random ranking
  scores about 0.5 and a perfect one 1.

**Bootstrap.** ``n_boot`` resamples of the creators with replacement (row indices drawn
uniformly, ``numpy.random.default_rng`` seeded from ``seed``); every statistic is recomputed on
each resample, with duplicated creators tied (they share their average rank). The same resamples
serve every scheme, so a difference between two schemes is a paired difference. Intervals are
the 2.5% and 97.5% percentiles. A resample is summarised by how many times each creator was drawn,
and its ranks follow from those counts in linear time (no sort per resample); the result equals
ranking the expanded resample (a test pins this against ``scipy.stats.spearmanr``).

**Improvement** of a scheme over the reference is ``(rho - rho_ref) / rho_ref``, the relative
difference in Spearman's rho, reported with its paired percentile interval; it is undefined (None)
when the reference's rho is not above 0 in the sample or in any resample.

**Fitted weights** (the scheme named ``fitted``): the outcome is turned into normal scores
(``Phi^-1(average rank / (m + 1))`` over the m training creators: invariant to any increasing
transform of the outcome and robust to its heavy tail), regressed on the KPI scores by
non-negative least squares with an intercept (missing KPI scores filled with the training mean of
that KPI; a KPI with no data gets weight 0), and the coefficients are divided by their sum. If the
outcome is ``f(sum_k w_k S_k + noise)`` for an increasing ``f`` and roughly normal noise, the
normal scores are close to linear in the KPI scores and the fit recovers ``w``. With ``folds``-fold
cross-validation (creators shuffled from ``seed``), each fold is scored with weights fitted on the
other folds; every fitted score, rank and rank quality in a result is out of fold. The reported
weights are fitted on all kept creators, for reading only; the weights of each fold are reported
too. The fitted scheme's interval treats the fold weights as fixed (it does not include the
variation of refitting on each resample).

**Circularity guard.** An outcome that is an input of the same period flatters whichever scheme
weights that input most (the tiered scheme weights GMV most). Refused, by name: a catalogue
metric (``gmv``, ``orders``, ``gpm``: every derivation target and input is one), an alias
(``total_revenue``), or a KPI score (``sales_performance``, ``overall_score``,
``<kpi>_score``). Refused, by data: an outcome column proportional within 1e-9 (so also a copy in
other units) or rank-correlated above 0.999 with an input metric, a derived metric, or a
same-period reconstruction from the inputs (:data:`RECONSTRUCTIONS`, such as GMV = gpm x views /
1000). A next period's value such as ``next_gmv`` passes.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from kpi_core.catalogue import KPI_IDS, Catalogue, load_catalogue
from kpi_core.errors import InvalidValueError, KpiError, Problem, WeightingError, truncate
from kpi_core.kernel import Missing, derive
from kpi_core.metrics import parse_metrics
from kpi_core.scoring import score, score_frame
from kpi_core.weights import Weighting, resolve_weighting
from prompts import render

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CI_LEVEL",
    "RANK_IDENTICAL",
    "RECONSTRUCTIONS",
    "CohortComparison",
    "CreatorScores",
    "Difference",
    "FittedWeights",
    "KpiDriver",
    "RankMove",
    "RankQuality",
    "RankShift",
    "Reconstruction",
    "RejectedRow",
    "SchemeArg",
    "SchemeScore",
    "SchemeWeights",
    "SingleComparison",
    "average_ranks",
    "check_cohort_options",
    "compare_cohort",
    "compare_single",
    "ndcg_at_k",
    "percentile_gains",
    "spearman",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: A scheme: a name (``tiered``, ``equal``, ``fitted``), a mapping of all 13 KPI ids to weights
#: summing to 1, or a resolved :class:`~kpi_core.weights.Weighting` (its name is kept).
SchemeArg = str | Mapping[str, float] | Weighting

SchemeKind = Literal["named", "custom", "fitted"]

#: Coverage of every interval.
CI_LEVEL = 0.95
#: An outcome rank-correlated above this with a same-period input is the input (circular).
RANK_IDENTICAL = 0.999
#: An outcome proportional to a same-period input within this relative tolerance is that input.
PROPORTIONAL_TOLERANCE = 1e-9
#: Fewest shared rows for the rank-correlation test (10 rows in perfect order by chance: 1 in 10!).
MIN_ROWS_RANK_TEST = 10
#: Rows the rank-correlation test looks at first (evenly spaced; all rows confirm a finding).
RANK_TEST_SAMPLE = 20_000
#: Fewest shared rows for the proportionality test.
MIN_ROWS_PROPORTIONAL_TEST = 3
#: Fewest creators a cohort comparison needs after rejections.
MIN_CREATORS = 3
MAX_SCHEMES = 8
MIN_BOOT = 20
MAX_BOOT = 100_000
MAX_FOLDS = 20
MAX_LIMIT = 1000
#: Rejected rows and ignored field names listed in a result (the counts are always complete).
MAX_LISTED = 50
#: Creators listed as the largest rank moves per scheme.
MAX_MOVES = 5
#: Longest creator id echoed (the catalogue's limit) and longest ignored field name listed.
MAX_ID_CHARS = 128
MAX_NAME_CHARS = 60
#: Progress is reported at least this many times during the bootstrap (every 5%).
PROGRESS_STEPS = 20

NAMED = ("tiered", "equal", "fitted")
NAMED_FIXED = ("tiered", "equal")


@dataclass(frozen=True, slots=True)
class Reconstruction:
    """A same-period quantity rebuilt from input metrics (an outcome equal to it is circular)."""

    quantity: str
    formula: str
    inputs: tuple[str, ...]
    compute: Callable[[Mapping[str, FloatArray]], FloatArray]


#: Same-period GMV and orders rebuilt from the inputs, beyond the catalogue's own derivations
#: (which go the other way, from GMV to GPM); the funnel is DESIGN.md's.
RECONSTRUCTIONS: tuple[Reconstruction, ...] = (
    Reconstruction(
        "GMV", "gpm * views / 1000", ("gpm", "views"), lambda c: c["gpm"] * c["views"] / 1000.0
    ),
    Reconstruction(
        "GMV",
        "orders * avg_order_value",
        ("orders", "avg_order_value"),
        lambda c: c["orders"] * c["avg_order_value"],
    ),
    Reconstruction(
        "GMV",
        "product_clicks * conversion_rate * avg_order_value",
        ("product_clicks", "conversion_rate", "avg_order_value"),
        lambda c: c["product_clicks"] * c["conversion_rate"] * c["avg_order_value"],
    ),
    Reconstruction(
        "GMV",
        "views * product_ctr * conversion_rate * avg_order_value",
        ("views", "product_ctr", "conversion_rate", "avg_order_value"),
        lambda c: c["views"] * c["product_ctr"] * c["conversion_rate"] * c["avg_order_value"],
    ),
    Reconstruction(
        "GMV",
        "creator_cost / cost_to_gmv",
        ("creator_cost", "cost_to_gmv"),
        lambda c: _divide(c["creator_cost"], c["cost_to_gmv"]),
    ),
    Reconstruction(
        "orders",
        "product_clicks * conversion_rate",
        ("product_clicks", "conversion_rate"),
        lambda c: c["product_clicks"] * c["conversion_rate"],
    ),
    Reconstruction(
        "orders",
        "gmv / avg_order_value",
        ("gmv", "avg_order_value"),
        lambda c: _divide(c["gmv"], c["avg_order_value"]),
    ),
)


# --------------------------------------------------------------------------------------------
# Result models
# --------------------------------------------------------------------------------------------

_RESULT_CONFIG = ConfigDict(frozen=True, use_attribute_docstrings=True)


class SchemeWeights(BaseModel):
    """One weighting scheme of a comparison."""

    model_config = _RESULT_CONFIG

    name: str
    """``tiered``, ``equal``, ``fitted``, a Weighting's own name, or ``custom`` (``custom_2``
    and on when there are several)."""
    kind: SchemeKind
    weights: dict[str, float]
    """One weight per KPI id, summing to 1. For ``fitted``: the fit on all kept creators, for
    reading only; the fitted scores and rank quality use out-of-fold weights."""
    reference: bool
    """True for the first scheme, which every difference is taken against."""


class KpiDriver(BaseModel):
    """One scored KPI's share of a scheme's difference from the reference."""

    model_config = _RESULT_CONFIG

    kpi: str
    score: float
    """The KPI's 0..1 score (the same under every scheme)."""
    weight: float
    reference_weight: float
    contribution: float
    """Points of the overall score under this scheme."""
    reference_contribution: float
    difference: float
    """contribution - reference_contribution; the drivers' differences sum to the scheme's."""


class SchemeScore(BaseModel):
    """One creator's score under one scheme."""

    model_config = _RESULT_CONFIG

    name: str
    kind: SchemeKind
    weights: dict[str, float]
    overall_score: float
    """0-100, over the KPIs with data (renormalised), as score_creator computes it."""
    band: str
    coverage: float
    """Share of this scheme's weight that had data."""
    difference: float
    """overall_score minus the reference's, in points (0 for the reference)."""
    drivers: list[KpiDriver]
    """Scored KPIs, largest absolute difference first (empty for the reference)."""


class SingleComparison(BaseModel):
    """One creator under several weighting schemes."""

    model_config = _RESULT_CONFIG

    creator_id: str | None
    reference: str
    schemes: list[SchemeScore]
    scores: dict[str, float]
    """Overall score by scheme name."""
    summary: str
    model_version: str


class CreatorScores(BaseModel):
    """One kept creator's score and rank (1 = best) under each scheme."""

    model_config = _RESULT_CONFIG

    row: int
    """Position of the creator in the input (0-based)."""
    creator_id: str | None
    scores: dict[str, float]
    """Overall score by scheme (``fitted``: out of fold)."""
    ranks: dict[str, int]
    """Rank by scheme; ties go to the earlier row."""
    outcome: float | None


class RankMove(BaseModel):
    """A creator whose rank changes most between the reference and a scheme."""

    model_config = _RESULT_CONFIG

    row: int
    creator_id: str | None
    reference_rank: int
    rank: int
    shift: int
    """reference_rank - rank: positive when the scheme ranks the creator higher."""


class RankShift(BaseModel):
    """How a scheme's ranking differs from the reference's (no outcome needed)."""

    model_config = _RESULT_CONFIG

    scheme: str
    versus: str
    rank_correlation: float | None
    """Spearman's rho between the two schemes' scores; None when either is constant."""
    mean_abs_shift: float
    median_abs_shift: float
    max_abs_shift: int
    share_moved: float
    """Share of creators whose rank changes."""
    top_k_shared: int
    """Creators in both top-k sets."""
    top_k_overlap: float
    """top_k_shared / k."""
    largest_moves: list[RankMove]


class RankQuality(BaseModel):
    """How well a scheme's ranking orders creators by the outcome."""

    model_config = _RESULT_CONFIG

    scheme: str
    spearman: float | None
    """Spearman's rho between the scheme's scores and the outcome; None when undefined."""
    ndcg_at_k: float | None
    """NDCG@k with percentile gains (see ndcg_gain); None when undefined."""
    ci_low: float | None
    """Bootstrap 95% percentile interval of spearman."""
    ci_high: float | None
    ndcg_ci_low: float | None
    """Bootstrap 95% percentile interval of ndcg_at_k."""
    ndcg_ci_high: float | None
    out_of_sample: bool
    """True for ``fitted``: measured on out-of-fold scores only."""


class Difference(BaseModel):
    """A scheme's rank quality minus the reference's, with paired bootstrap intervals."""

    model_config = _RESULT_CONFIG

    scheme: str
    versus: str
    spearman_diff: float | None
    ci_low: float | None
    """Paired bootstrap 95% percentile interval of spearman_diff."""
    ci_high: float | None
    relative_improvement: float | None
    """spearman_diff / the reference's rho ("improvement"); None when that rho is not above 0."""
    rel_ci_low: float | None
    """Paired bootstrap 95% interval of relative_improvement; None when any resample's reference
    rho is not above 0."""
    rel_ci_high: float | None
    ndcg_diff: float | None
    ndcg_ci_low: float | None
    ndcg_ci_high: float | None


class FittedWeights(BaseModel):
    """How the ``fitted`` scheme was fitted, and its weights."""

    model_config = _RESULT_CONFIG

    method: str
    target: str
    folds: int
    weights: dict[str, float]
    """Fitted on all kept creators (for reading; never used to score them)."""
    fold_weights: list[dict[str, float]]
    """The weights that scored fold f, fitted on the other folds."""
    fallback_folds: list[int]
    """Folds (0-based) where no KPI rose with the outcome; they used equal weights."""
    unweighted_creators: int
    """Creators whose scored KPIs all got weight 0 in their fold; their fitted score is 0."""


class RejectedRow(BaseModel):
    """A row left out of the comparison, and why."""

    model_config = _RESULT_CONFIG

    row: int
    creator_id: str | None
    reasons: list[str]


class CohortComparison(BaseModel):
    """A cohort ranked under several weighting schemes, and (with an outcome) measured."""

    model_config = _RESULT_CONFIG

    reference: str
    schemes: list[SchemeWeights]
    count: int
    """Creators compared (rows kept)."""
    scores: list[CreatorScores]
    """Creators in reference-rank order from scores_offset, at most the requested limit."""
    scores_offset: int
    rank_shifts: list[RankShift]
    """One per scheme after the reference."""
    k: int
    """The k of top-k and NDCG@k (at most count)."""
    outcome: str | None
    rank_quality: list[RankQuality]
    """One per scheme, when an outcome was given."""
    differences: list[Difference]
    """One per scheme after the reference, when an outcome was given."""
    ci_level: float
    n_boot: int
    seed: int
    ndcg_gain: str
    fitted: FittedWeights | None
    rejected: list[RejectedRow]
    """The first rejected rows (at most 50)."""
    rejected_count: int
    ignored_fields: list[str]
    """Fields of the rows that are neither metrics nor the outcome (first 50, sorted)."""
    notes: list[str]
    summary: str
    model_version: str


NDCG_GAIN = "outcome percentile in the cohort: average rank / number of creators, in (0, 1]"
FIT_METHOD = (
    "non-negative least squares with an intercept, coefficients divided by their sum; "
    "cross-validated, every fitted score out of fold"
)
FIT_TARGET = "normal scores of the outcome: inverse normal CDF of average rank / (m + 1)"


# --------------------------------------------------------------------------------------------
# scipy at one typed boundary
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Rank statistics
# --------------------------------------------------------------------------------------------


def _divide(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


@dataclass(frozen=True, slots=True)
class _Ranker:
    """One variable prepared for ranking any resample of it in linear time.

    ``groups[i]`` is the index of creator i's value among the sorted distinct values. Given how
    many times each creator was drawn, a group's average rank in the resample is the number of
    draws with a smaller value plus (draws in the group + 1) / 2.
    """

    groups: IntArray
    size: int

    @classmethod
    def of(cls, values: FloatArray) -> _Ranker:
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
    return _Ranker.of(array).ranks(np.ones(len(array)))


def _dot(a: FloatArray, b: FloatArray) -> float:
    """sum(a * b) by numpy's pairwise summation: no BLAS call, so no thread start-up on a busy
    machine, and the same bytes whatever the thread count."""
    return float(np.multiply(a, b).sum())


@dataclass(frozen=True, slots=True)
class _Centred:
    """A variable minus its weighted mean, times the weights, and its weighted sum of squares."""

    weighted: FloatArray
    deviations: FloatArray
    squares: float

    @classmethod
    def of(cls, values: FloatArray, weights: FloatArray) -> _Centred:
        deviations = values - _dot(weights, values) / float(weights.sum())
        weighted = weights * deviations
        return cls(weighted, deviations, _dot(weighted, deviations))

    def correlation(self, other: _Centred) -> float:
        """Weighted Pearson correlation; NaN when either variable is constant."""
        if self.squares <= 0.0 or other.squares <= 0.0:
            return math.nan
        return _dot(self.weighted, other.deviations) / math.sqrt(self.squares * other.squares)


def _weighted_correlation(x: FloatArray, y: FloatArray, weights: FloatArray) -> float:
    """Pearson's correlation of x and y with each pair counted ``weights`` times; NaN when
    either is constant."""
    return _Centred.of(x, weights).correlation(_Centred.of(y, weights))


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
    return _weighted_correlation(average_ranks(xs), average_ranks(ys), ones)


def percentile_gains(outcome: npt.ArrayLike) -> FloatArray:
    """The NDCG gain of each creator: its outcome's average rank / n, in (0, 1]."""
    values = np.asarray(outcome, dtype=np.float64).reshape(-1)
    return average_ranks(values) / len(values)


def _discounts(k: int) -> FloatArray:
    """1 / log2(i + 1) for positions i = 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _top_k_dcg(
    order: IntArray, counts: IntArray, gains: FloatArray, discounts: FloatArray
) -> float:
    """DCG of the first k draws of a resample listed in ``order`` (k = len(discounts)).

    Creator ``order[j]`` was drawn ``counts[order[j]]`` times; its copies take consecutive
    positions. Only a prefix of ``order`` is scanned (a resample draws each creator once on
    average, so 4k + 64 creators hold k draws but for odds below 1e-12; then all are scanned).
    """
    k = len(discounts)
    drawn = counts[order[: 4 * k + 64]]
    cumulative = np.cumsum(drawn)
    if cumulative[-1] < k:
        drawn = counts[order]
        cumulative = np.cumsum(drawn)
    reach = int(np.searchsorted(cumulative, k)) + 1
    picked = np.repeat(order[:reach], drawn[:reach])[:k]
    return _dot(gains[picked], discounts[: len(picked)])


def _descending(values: FloatArray) -> IntArray:
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
    discounts = _discounts(min(k, len(score_values)))
    ones = np.ones(len(score_values), dtype=np.intp)
    ideal = _top_k_dcg(_descending(gain_values), ones, gain_values, discounts)
    if ideal <= 0.0:
        return math.nan
    return _top_k_dcg(_descending(score_values), ones, gain_values, discounts) / ideal


def _interval(samples: FloatArray) -> tuple[float | None, float | None]:
    """The 95% percentile interval of the finite samples (None, None when there are none)."""
    finite = samples[np.isfinite(samples)]
    if len(finite) == 0:
        return None, None
    tail = (1.0 - CI_LEVEL) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def _optional(value: float) -> float | None:
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------------------------
# Schemes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scheme:
    name: str
    kind: SchemeKind
    #: None for ``fitted`` (known only after fitting).
    vector: FloatArray | None


def _schemes_field(index: int, problem: Problem) -> Problem:
    field = problem.field.replace("weighting", f"schemes[{index}]", 1)
    return Problem(field, problem.rule, problem.value, problem.hint)


def _resolve_schemes(schemes: object, *, fitted_hint: str | None) -> list[_Scheme]:
    """Resolve the ``schemes`` argument; ``fitted_hint`` is the reason ``fitted`` is refused."""
    received: object = schemes  # echoed as given, before isinstance narrows it
    if isinstance(schemes, str | Mapping | Weighting) or not isinstance(schemes, Sequence):
        raise WeightingError(
            "schemes",
            "must be a list of schemes (names or objects of KPI weights)",
            received,
            "pass a list such as ['tiered', 'equal']",
        )
    items = list(cast("Sequence[object]", schemes))
    if not 1 <= len(items) <= MAX_SCHEMES:
        raise WeightingError(
            "schemes",
            f"must list 1 to {MAX_SCHEMES} schemes",
            len(items),
            "the first is the reference",
        )
    customs = sum(1 for item in items if isinstance(item, Mapping))
    resolved: list[_Scheme] = []
    custom_number = 0
    for index, item in enumerate(items):
        if isinstance(item, str) and item == "fitted":
            if fitted_hint is not None:
                raise WeightingError(f"schemes[{index}]", fitted_hint, item)
            resolved.append(_Scheme("fitted", "fitted", None))
            continue
        if isinstance(item, str) and item not in NAMED:
            raise WeightingError(
                f"schemes[{index}]",
                f"must be one of {', '.join(NAMED)} or an object of KPI weights",
                item,
            )
        if not isinstance(item, str | Mapping | Weighting):
            raise WeightingError(
                f"schemes[{index}]", "must be a scheme name or an object of KPI weights", item
            )
        try:
            weighting = resolve_weighting(cast("str | Mapping[str, float] | Weighting", item))
        except WeightingError as error:
            problems = [_schemes_field(index, problem) for problem in error.problems]
            raise WeightingError.from_problems(problems) from None
        if isinstance(item, Mapping):
            custom_number += 1
            name = "custom" if customs == 1 else f"custom_{custom_number}"
            resolved.append(_Scheme(name, "custom", weighting.vector))
        else:
            kind: SchemeKind = "named" if weighting.name in NAMED_FIXED else "custom"
            resolved.append(_Scheme(weighting.name, kind, weighting.vector))
    names = [scheme.name for scheme in resolved]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise WeightingError(f"schemes[{index}]", "must name each scheme at most once", name)
    return resolved


def _as_dict(vector: FloatArray) -> dict[str, float]:
    return {kpi: float(weight) for kpi, weight in zip(KPI_IDS, vector, strict=True)}


@dataclass(frozen=True, slots=True)
class _KpiMatrix:
    """KPI scores (creators x 13) split for fast weighted means: zeros where not scored."""

    filled: FloatArray
    present: FloatArray

    @classmethod
    def of(cls, kpi_scores: FloatArray) -> _KpiMatrix:
        present = ~np.isnan(kpi_scores)
        return cls(filled=np.where(present, kpi_scores, 0.0), present=present.astype(np.float64))

    def coverage(self, weights: FloatArray) -> FloatArray:
        return self.present @ weights

    def overall(self, weights: FloatArray) -> FloatArray:
        """``100 * sum_k w_k S_k / sum_k w_k`` over each creator's scored KPIs (NaN if none)."""
        coverage = self.coverage(weights)
        out = np.full(len(coverage), np.nan)
        np.divide(self.filled @ weights, coverage, out=out, where=coverage > 0)
        out *= 100.0
        return out


# --------------------------------------------------------------------------------------------
# One creator
# --------------------------------------------------------------------------------------------


def compare_single(
    metrics: Mapping[str, object],
    schemes: Sequence[SchemeArg] = ("tiered", "equal"),
    *,
    currency: str | None = None,
) -> SingleComparison:
    """One creator's overall score under each scheme, and the KPIs behind each difference.

    ``schemes`` lists names (``tiered``, ``equal``), mappings of all 13 KPI ids to weights, or
    :class:`~kpi_core.weights.Weighting` objects; the first is the reference. Each KPI driver is
    the KPI's contribution under the scheme minus under the reference (points); they sum to the
    difference in overall score. ``fitted`` needs a cohort with an outcome and is refused here. A
    bad field raises :class:`~kpi_core.errors.KpiError`, as :func:`~kpi_core.scoring.score` does.
    """
    catalogue = load_catalogue()
    resolved = _resolve_schemes(
        schemes,
        fitted_hint=(
            "is fitted to a cohort's outcome and needs compare_cohort with an outcome such as "
            "next_gmv"
        ),
    )
    reference_vector = resolved[0].vector
    assert reference_vector is not None
    base = score(metrics, Weighting(resolved[0].name, reference_vector), currency=currency)
    kpi_scores = np.array([math.nan if item.score is None else item.score for item in base.kpis])
    matrix = _KpiMatrix.of(kpi_scores.reshape(1, -1))
    scored = ~np.isnan(kpi_scores)

    def contributions(vector: FloatArray) -> tuple[float, float, FloatArray]:
        coverage = float(matrix.coverage(vector)[0])
        overall = float(matrix.overall(vector)[0])
        return overall, coverage, 100.0 * vector * matrix.filled[0] / coverage

    reference_overall, _, reference_points = contributions(reference_vector)
    results: list[SchemeScore] = []
    for position, scheme in enumerate(resolved):
        vector = scheme.vector
        assert vector is not None
        if not float(matrix.coverage(vector)[0]) > 0.0:
            raise InvalidValueError(
                "metrics",
                f"must have data on at least one KPI that scheme {scheme.name} weights",
                sorted(kpi for kpi, has in zip(KPI_IDS, scored, strict=True) if has),
                "give metrics for a KPI with a positive weight in every scheme",
            )
        overall, _, points = contributions(vector)
        drivers: list[KpiDriver] = []
        if position > 0:
            for k in np.flatnonzero(scored):
                drivers.append(
                    KpiDriver(
                        kpi=KPI_IDS[k],
                        score=float(kpi_scores[k]),
                        weight=float(vector[k]),
                        reference_weight=float(reference_vector[k]),
                        contribution=float(points[k]),
                        reference_contribution=float(reference_points[k]),
                        difference=float(points[k] - reference_points[k]),
                    )
                )
            drivers.sort(key=lambda driver: -abs(driver.difference))
        results.append(
            SchemeScore(
                name=scheme.name,
                kind=scheme.kind,
                weights=_as_dict(vector),
                overall_score=overall,
                band=catalogue.band(overall),
                coverage=float(np.dot(vector, [not item.imputed for item in base.kpis])),
                difference=overall - reference_overall,
                drivers=drivers,
            )
        )
    return SingleComparison(
        creator_id=base.creator_id,
        reference=resolved[0].name,
        schemes=results,
        scores={item.name: item.overall_score for item in results},
        summary=render(
            "compare_single_summary.txt.j2",
            creator_id=base.creator_id,
            reference=results[0],
            others=results[1:],
        ),
        model_version=catalogue.model_version,
    )


# --------------------------------------------------------------------------------------------
# Circularity guard
# --------------------------------------------------------------------------------------------

_GUARD_RULE = "must be a later period's outcome, not an input of the same period"
_GUARD_ADVICE = (
    "validating a score against the period it was computed from flatters the scheme that "
    "weights that input most; use the next period's value, such as next_gmv"
)


def _circular(outcome: str, finding: str) -> InvalidValueError:
    """The guard's error: the outcome as the value, what was found and what to do as the hint."""
    return InvalidValueError("outcome", _GUARD_RULE, outcome, f"{finding}; {_GUARD_ADVICE}")


def _canonical_name(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def _check_outcome_name(outcome: object, catalogue: Catalogue) -> str:
    """The outcome field name, refused when it names a same-period input or score."""
    if not isinstance(outcome, str) or not outcome.strip():
        raise InvalidValueError(
            "outcome", "must be the name of a field of each creator", outcome, "such as next_gmv"
        )
    name = _canonical_name(outcome)
    reason = ""
    if name in catalogue.aliases:
        reason = f"it is an alias of {catalogue.aliases[name]}, an input of the scores"
    elif name in catalogue.metrics:
        feeds = [d.metric for d in catalogue.derivations.values() if name in d.inputs]
        derivation = catalogue.derivations.get(name)
        reason = "it is a metric the scores are computed from"
        if derivation is not None:
            reason += f" (derived as {derivation.formula})"
        elif feeds:
            reason += f" (an input of {', '.join(feeds)})"
    elif name in KPI_IDS or name == "overall_score" or name.removesuffix("_score") in KPI_IDS:
        reason = "it is a score computed from the same period's inputs"
    if reason:
        raise _circular(outcome, reason)
    return outcome


def _proportional(outcome: FloatArray, candidate: FloatArray) -> bool:
    """outcome = c x candidate for one c > 0, within PROPORTIONAL_TOLERANCE (relative)."""
    norm = _dot(candidate, candidate)
    largest = float(np.abs(outcome).max())
    if norm <= 0.0 or largest <= 0.0:
        return False
    scale = _dot(outcome, candidate) / norm
    if scale <= 0.0:
        return False
    return float(np.abs(outcome - scale * candidate).max()) <= PROPORTIONAL_TOLERANCE * largest


def _check_outcome_data(
    outcome: str, values: FloatArray, columns: Mapping[str, FloatArray], catalogue: Catalogue
) -> None:
    """Refuse an outcome column that is an input, a derived input or a reconstruction of one."""
    derived, _ = derive(columns, catalogue)
    candidates: dict[str, FloatArray] = {
        name: column
        for name, column in derived.items()
        if name in catalogue.metrics and catalogue.metrics[name].is_numeric
    }
    for rebuilt in RECONSTRUCTIONS:
        if all(name in derived for name in rebuilt.inputs):
            label = f"{rebuilt.formula} (this period's {rebuilt.quantity})"
            candidates[label] = rebuilt.compute(derived)
    outcome_known = np.isfinite(values)
    for label, candidate in candidates.items():
        shared = outcome_known & np.isfinite(candidate)
        rows = int(shared.sum())
        if rows < MIN_ROWS_PROPORTIONAL_TEST:
            continue
        ys, xs = values[shared], candidate[shared]
        finding = ""
        if _proportional(ys, xs):
            finding = f"it equals {label} up to a constant factor on {rows} rows"
        elif rows >= MIN_ROWS_RANK_TEST:
            # A sample decides quickly; only a near-identical sample is checked on every row.
            sample = np.linspace(0, rows - 1, min(rows, RANK_TEST_SAMPLE)).astype(np.intp)
            rho = spearman(ys[sample], xs[sample])
            if rho > RANK_IDENTICAL and len(sample) < rows:
                rho = spearman(ys, xs)
            if rho > RANK_IDENTICAL:
                finding = f"it has rank correlation {rho:.5f} with {label} on {rows} rows"
        if finding:
            raise _circular(outcome, finding)


# --------------------------------------------------------------------------------------------
# Loading a cohort
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Cohort:
    """A cohort's KPI scores and outcome, with the rows left out and why."""

    kpi_scores: FloatArray
    outcome: FloatArray | None
    creator_ids: list[str | None]
    columns: dict[str, FloatArray]
    rejected: dict[int, list[str]]
    ignored: set[str]


def _outcome_value(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _missing_outcome(outcome: str, value: object) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if missing or not isinstance(value, str | int | float):
        shown = "missing"
    else:
        shown = f"not a finite number (got {truncate(value)})"
    return f"{outcome} is {shown}; every creator needs the outcome"


def _no_outcome_field(outcome: str) -> InvalidValueError:
    return InvalidValueError(
        "outcome",
        "must name a field of the creators",
        outcome,
        "give each creator the next period's outcome, such as next_gmv",
    )


def _creator_id(value: object) -> str | None:
    return value[:MAX_ID_CHARS] if isinstance(value, str) else None


def _from_mappings(
    rows: Sequence[object], outcome: str | None, currency: str | None, catalogue: Catalogue
) -> _Cohort:
    """Validate each row with parse_metrics (a bad row is rejected, not the call)."""
    known = {*catalogue.metrics, *catalogue.aliases}
    size = len(rows)
    columns: dict[str, FloatArray] = {}
    outcome_values = np.full(size, np.nan) if outcome is not None else None
    creator_ids: list[str | None] = [None] * size
    rejected: dict[int, list[str]] = {}
    ignored: set[str] = set()
    if outcome is not None and not any(isinstance(row, Mapping) and outcome in row for row in rows):
        raise _no_outcome_field(outcome)
    for row_number, row in enumerate(rows):
        if not isinstance(row, Mapping):
            rejected[row_number] = ["must be an object of metric names to values"]
            continue
        fields = cast("Mapping[object, object]", row)
        given: dict[str, object] = {}
        for key, value in fields.items():
            name = str(key)
            if name in known:
                given[name] = value
            elif name != outcome:
                ignored.add(name[:MAX_NAME_CHARS])
        creator_ids[row_number] = _creator_id(given.get("creator_id"))
        reasons: list[str] = []
        numeric: dict[str, float] = {}
        try:
            numeric = parse_metrics(given, currency=currency).numeric()
        except KpiError as error:
            reasons.extend(problem.message() for problem in error.problems)
        if outcome_values is not None and outcome is not None:
            value = _outcome_value(fields.get(outcome))
            if value is None:
                reasons.append(_missing_outcome(outcome, fields.get(outcome)))
            else:
                outcome_values[row_number] = value
        if reasons:
            rejected[row_number] = reasons
            continue
        for name, value in numeric.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = np.full(size, np.nan)
            column[row_number] = value
    return _Cohort(
        kpi_scores=np.empty((0, len(KPI_IDS))),
        outcome=outcome_values,
        creator_ids=creator_ids,
        columns=columns,
        rejected=rejected,
        ignored=ignored,
    )


class _Column(Protocol):
    """The members of a pandas Series used here (pandas' own annotations are partial)."""

    @property
    def dtype(self) -> object: ...

    def to_numpy(self, dtype: type[np.float64], *, na_value: float) -> FloatArray: ...

    def tolist(self) -> list[object]: ...


def _column(frame: pd.DataFrame, label: object) -> _Column:
    return cast("_Column", frame[label])


def _is_number_column(column: _Column) -> bool:
    """True for a numeric, non-boolean dtype (pandas.api.types, imported on first use)."""
    types = importlib.import_module("pandas.api.types")
    is_numeric = cast("Callable[[object], bool]", types.is_numeric_dtype)
    is_bool = cast("Callable[[object], bool]", types.is_bool_dtype)
    return is_numeric(column.dtype) and not is_bool(column.dtype)


def _floats(column: _Column) -> FloatArray:
    return np.asarray(column.to_numpy(np.float64, na_value=np.nan), dtype=np.float64)


def _frame_outcome(frame: pd.DataFrame, outcome: str, rejected: dict[int, list[str]]) -> FloatArray:
    """The outcome column as floats; rows without a finite number are rejected."""
    if outcome not in frame.columns:
        raise _no_outcome_field(outcome)
    column = _column(frame, outcome)
    if _is_number_column(column):
        values = _floats(column)
    else:
        numbers = [_outcome_value(raw) for raw in column.tolist()]
        values = np.array([math.nan if number is None else number for number in numbers])
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raw_values = column.tolist()
        for row in bad:
            reason = _missing_outcome(outcome, raw_values[int(row)])
            rejected.setdefault(int(row), []).append(reason)
    return values


def _frame_numeric_columns(frame: pd.DataFrame, catalogue: Catalogue) -> dict[str, FloatArray]:
    """The frame's numeric metric columns by canonical name (an alias fills its target's gaps)."""
    columns: dict[str, FloatArray] = {}
    for label in frame.columns:
        key = str(label)
        name = catalogue.aliases.get(key, key)
        metric = catalogue.metrics.get(name)
        if metric is None or not metric.is_numeric:
            continue
        column = _column(frame, label)
        if not _is_number_column(column):
            continue
        values = _floats(column)
        given = columns.get(name)
        columns[name] = values if given is None else np.where(np.isnan(given), values, given)
    return columns


def _from_frame(
    frame: pd.DataFrame, outcome: str | None, how: tuple[str | None, Missing], catalogue: Catalogue
) -> tuple[_Cohort, pd.DataFrame]:
    """The cohort of a DataFrame, and its scores (score_frame rejects bad rows)."""
    rejected: dict[int, list[str]] = {}
    known = {*catalogue.metrics, *catalogue.aliases}
    labels = [str(label) for label in frame.columns]
    ignored = {label[:MAX_NAME_CHARS] for label in labels if label not in known | {outcome}}
    outcome_values = None if outcome is None else _frame_outcome(frame, outcome, rejected)
    scored = score_frame(frame, on_invalid="reject", currency=how[0], missing=how[1])
    creator_ids: list[str | None] = [None] * len(frame)
    if "creator_id" in labels:
        creator_ids = [_creator_id(value) for value in _column(frame, "creator_id").tolist()]
    if "rejected" in scored.columns:
        for row, reason in enumerate(_column(scored, "rejected").tolist()):
            if isinstance(reason, str):
                rejected.setdefault(row, []).insert(0, reason)
    cohort = _Cohort(
        kpi_scores=np.empty((0, len(KPI_IDS))),
        outcome=outcome_values,
        creator_ids=creator_ids,
        columns=_frame_numeric_columns(frame, catalogue),
        rejected=rejected,
        ignored=ignored,
    )
    return cohort, scored


def _load(
    rows: Sequence[Mapping[str, object]] | pd.DataFrame,
    outcome: str | None,
    how: tuple[str | None, Missing],
    catalogue: Catalogue,
) -> _Cohort:
    """Validate, score once (score_frame; ``how``: currency, missing), collect rejected rows."""
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        cohort, scored = _from_frame(rows, outcome, how, catalogue)
    else:
        if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Sequence):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidValueError(
                "creators",
                "must be a list of objects of metrics or a DataFrame",
                type(rows).__name__,
            )
        cohort = _from_mappings(rows, outcome, how[0], catalogue)
        scored = score_frame(pd.DataFrame(cohort.columns, index=range(len(rows))), missing=how[1])
    cohort.kpi_scores = np.column_stack(
        [_floats(_column(scored, f"{kpi}_score")) for kpi in KPI_IDS]
    ).reshape(len(scored), len(KPI_IDS))
    nothing = np.isnan(cohort.kpi_scores).all(axis=1)
    for row in np.flatnonzero(nothing):
        cohort.rejected.setdefault(int(row), ["has no metric that feeds a KPI"])
    return cohort


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------


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
class _Fit:
    out_of_fold: FloatArray
    all_rows: FloatArray
    fold_weights: list[FloatArray]
    fallback_folds: list[int]
    unweighted: int


def _equal_over_data(kpi_scores: FloatArray) -> FloatArray:
    usable = (~np.isnan(kpi_scores)).any(axis=0).astype(np.float64)
    return usable / usable.sum()


def _cross_validate(
    kpi_scores: FloatArray, outcome: FloatArray, folds: int, rng: np.random.Generator
) -> _Fit:
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
        scores = _KpiMatrix.of(kpi_scores[held_out]).overall(weights)
        missing = np.isnan(scores)
        unweighted += int(missing.sum())
        out_of_fold[held_out] = np.where(missing, 0.0, scores)
    everything = _fit_weights(kpi_scores, outcome)
    if everything is None:
        everything = _equal_over_data(kpi_scores)
    return _Fit(out_of_fold, everything, fold_weights, fallback, unweighted)


# --------------------------------------------------------------------------------------------
# The bootstrap
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Quality:
    """Point estimates and bootstrap samples (resamples x schemes) of rank quality."""

    spearman: FloatArray
    ndcg: FloatArray
    spearman_samples: FloatArray
    ndcg_samples: FloatArray


def _rank_quality(
    scheme_scores: list[FloatArray],
    outcome: FloatArray,
    k: int,
    n_boot: int,
    rng: np.random.Generator,
    progress: Callable[[float, float], None] | None,
) -> _Quality:
    count = len(outcome)
    gains = percentile_gains(outcome)
    discounts = _discounts(k)
    outcome_ranker = _Ranker.of(outcome)
    rankers = [_Ranker.of(scores) for scores in scheme_scores]
    orders = [_descending(scores) for scores in scheme_scores]
    ideal_order = _descending(gains)

    def measure(counts: IntArray) -> tuple[FloatArray, FloatArray]:
        weights = counts.astype(np.float64)
        outcome_ranks = _Centred.of(outcome_ranker.ranks(weights), weights)
        ideal = _top_k_dcg(ideal_order, counts, gains, discounts)
        rho = np.array(
            [
                _Centred.of(ranker.ranks(weights), weights).correlation(outcome_ranks)
                for ranker in rankers
            ]
        )
        ndcg = np.array([_top_k_dcg(order, counts, gains, discounts) / ideal for order in orders])
        return rho, ndcg

    point_rho, point_ndcg = measure(np.ones(count, dtype=np.intp))
    rho_samples = np.empty((n_boot, len(scheme_scores)))
    ndcg_samples = np.empty((n_boot, len(scheme_scores)))
    step = max(1, n_boot // PROGRESS_STEPS)
    for resample in range(n_boot):
        drawn = rng.integers(0, count, size=count)
        counts = np.bincount(drawn, minlength=count).astype(np.intp)
        rho_samples[resample], ndcg_samples[resample] = measure(counts)
        done = resample + 1
        if progress is not None and (done % step == 0 or done == n_boot):
            progress(float(done), float(n_boot))
    return _Quality(point_rho, point_ndcg, rho_samples, ndcg_samples)


def _difference(quality: _Quality, scheme: int, reference: int, names: list[str]) -> Difference:
    rho_diff = quality.spearman_samples[:, scheme] - quality.spearman_samples[:, reference]
    ndcg_diff = quality.ndcg_samples[:, scheme] - quality.ndcg_samples[:, reference]
    low, high = _interval(rho_diff)
    ndcg_low, ndcg_high = _interval(ndcg_diff)
    reference_rho = float(quality.spearman[reference])
    point_diff = float(quality.spearman[scheme]) - reference_rho
    relative: float | None = None
    rel_low: float | None = None
    rel_high: float | None = None
    if reference_rho > 0.0:
        relative = _optional(point_diff / reference_rho)
        reference_samples = quality.spearman_samples[:, reference]
        if bool((reference_samples > 0.0).all()):
            rel_low, rel_high = _interval(rho_diff / reference_samples)
    return Difference(
        scheme=names[scheme],
        versus=names[reference],
        spearman_diff=_optional(point_diff),
        ci_low=low,
        ci_high=high,
        relative_improvement=relative,
        rel_ci_low=rel_low,
        rel_ci_high=rel_high,
        ndcg_diff=_optional(float(quality.ndcg[scheme] - quality.ndcg[reference])),
        ndcg_ci_low=ndcg_low,
        ndcg_ci_high=ndcg_high,
    )


# --------------------------------------------------------------------------------------------
# Rankings
# --------------------------------------------------------------------------------------------


def _ordinal_ranks(scores: FloatArray) -> IntArray:
    """Rank 1 = highest score; ties go to the earlier row."""
    ranks = np.empty(len(scores), dtype=np.intp)
    ranks[_descending(scores)] = np.arange(1, len(scores) + 1)
    return ranks


def _rank_shift(
    name: str,
    reference: str,
    scores: FloatArray,
    reference_scores: FloatArray,
    ranks: IntArray,
    reference_ranks: IntArray,
    k: int,
    rows: IntArray,
    creator_ids: list[str | None],
) -> RankShift:
    shift = reference_ranks - ranks
    moved = np.abs(shift)
    shared = len(
        set(_descending(scores)[:k].tolist()) & set(_descending(reference_scores)[:k].tolist())
    )
    biggest = np.argsort(-moved, kind="stable")[:MAX_MOVES]
    moves = [
        RankMove(
            row=int(rows[i]),
            creator_id=creator_ids[int(rows[i])],
            reference_rank=int(reference_ranks[i]),
            rank=int(ranks[i]),
            shift=int(shift[i]),
        )
        for i in biggest
        if moved[i] > 0
    ]
    return RankShift(
        scheme=name,
        versus=reference,
        rank_correlation=_optional(spearman(scores, reference_scores)),
        mean_abs_shift=float(moved.mean()),
        median_abs_shift=float(np.median(moved)),
        max_abs_shift=int(moved.max()),
        share_moved=float((moved > 0).mean()),
        top_k_shared=shared,
        top_k_overlap=shared / k,
        largest_moves=moves,
    )


# --------------------------------------------------------------------------------------------
# A cohort
# --------------------------------------------------------------------------------------------


def _whole(field: str, value: object, low: int, high: int, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidValueError(field, f"must be a whole number in [{low}, {high}]", value, hint)
    return value


def _note(code: str, **facts: object) -> str:
    return render("compare_note.txt.j2", code=code, **facts)


def check_cohort_options(
    k: object, n_boot: object, seed: object, folds: object, limit: object, offset: object
) -> tuple[int, int, int, int, int, int]:
    """The cohort options of :func:`compare_cohort`, checked, in that order."""
    return (
        _whole("k", k, 1, 100_000),
        _whole("n_boot", n_boot, MIN_BOOT, MAX_BOOT, "200 to 2000 resamples is usual"),
        _whole("seed", seed, 0, 2**63 - 1),
        _whole("folds", folds, 2, MAX_FOLDS),
        _whole("limit", limit, 0, MAX_LIMIT),
        _whole("offset", offset, 0, 2**63 - 1),
    )


def compare_cohort(
    rows: Sequence[Mapping[str, object]] | pd.DataFrame,
    schemes: Sequence[SchemeArg] = ("tiered", "equal"),
    outcome: str | None = None,
    k: int = 10,
    n_boot: int = 200,
    seed: int = 0,
    folds: int = 5,
    progress: Callable[[float, float], None] | None = None,
    *,
    limit: int = 20,
    offset: int = 0,
    currency: str | None = None,
    missing: Missing = "benchmark",
) -> CohortComparison:
    """Rank a cohort under each scheme and, given ``outcome``, measure each ranking against it.

    ``rows`` is a list of metric objects (each may carry ``creator_id``, the outcome field and
    other fields, which are ignored and listed) or a DataFrame with one creator per row. A row
    that fails validation, has no KPI data, has no score under a scheme, or lacks a finite
    outcome is listed in ``rejected`` and left out; the call fails only when fewer than 3
    creators remain. ``schemes`` as in :func:`compare_single`, plus ``fitted`` (weights fitted to
    the outcome by ``folds``-fold cross-validation, reported out of sample only).

    Without ``outcome``: scores, ranks, rank shifts and top-``k`` overlap against the reference.
    With it: also ``rank_quality`` (Spearman and NDCG@k) and ``differences`` from the reference,
    each with a bootstrap 95% interval from ``n_boot`` resamples; ``progress(done, total)`` is
    called at least every 5% of the resamples. The same ``seed`` gives the same result. An
    outcome that is an input of the same period is refused (see the module docstring).
    ``scores`` lists ``limit`` creators from ``offset`` in reference-rank order.
    """
    catalogue = load_catalogue()
    k, n_boot, seed, folds, limit, offset = check_cohort_options(
        k, n_boot, seed, folds, limit, offset
    )
    if outcome is not None:
        outcome = _check_outcome_name(outcome, catalogue)
    resolved = _resolve_schemes(
        schemes,
        fitted_hint=(
            None
            if outcome is not None
            else "needs an outcome to fit to; name the field holding the next period's outcome"
        ),
    )
    fold_rng, boot_rng = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(2)
    )
    cohort = _load(rows, outcome, (currency, missing), catalogue)
    size = len(cohort.kpi_scores)
    matrix = _KpiMatrix.of(cohort.kpi_scores)
    fixed_scores: dict[str, FloatArray] = {}
    for scheme in resolved:
        if scheme.vector is None:
            continue
        overall = matrix.overall(scheme.vector)
        fixed_scores[scheme.name] = overall
        for row in np.flatnonzero(np.isnan(overall)):
            if int(row) not in cohort.rejected:
                cohort.rejected[int(row)] = [
                    f"has no data on any KPI that scheme {scheme.name} weights"
                ]
    keep = np.ones(size, dtype=bool)
    keep[list(cohort.rejected)] = False
    rows_kept = np.flatnonzero(keep).astype(np.intp)
    count = len(rows_kept)
    if count < MIN_CREATORS:
        first = [f"row {row}: {'; '.join(why)}" for row, why in sorted(cohort.rejected.items())]
        raise InvalidValueError(
            "creators",
            f"must contain at least {MIN_CREATORS} valid creators",
            f"{count} valid of {size}",
            ("; ".join(first[:3]) or "give more creators")[:300],
        )
    outcome_kept = None if cohort.outcome is None else cohort.outcome[rows_kept]
    if outcome is not None and outcome_kept is not None:
        _check_outcome_data(
            outcome,
            outcome_kept,
            {name: column[rows_kept] for name, column in cohort.columns.items()},
            catalogue,
        )
    if any(scheme.kind == "fitted" for scheme in resolved) and folds > count:
        raise InvalidValueError(
            "folds", f"must not exceed the number of valid creators ({count})", folds
        )

    kpi_kept = cohort.kpi_scores[rows_kept]
    fit: _Fit | None = None
    if outcome_kept is not None and any(scheme.kind == "fitted" for scheme in resolved):
        fit = _cross_validate(kpi_kept, outcome_kept, folds, fold_rng)
    names = [scheme.name for scheme in resolved]
    scores_by_scheme: list[FloatArray] = []
    weights_by_scheme: list[FloatArray] = []
    for scheme in resolved:
        if scheme.vector is None:
            assert fit is not None
            scores_by_scheme.append(fit.out_of_fold)
            weights_by_scheme.append(fit.all_rows)
        else:
            scores_by_scheme.append(fixed_scores[scheme.name][rows_kept])
            weights_by_scheme.append(scheme.vector)
    k_used = min(k, count)
    ranks_by_scheme = [_ordinal_ranks(scores) for scores in scores_by_scheme]

    shifts = [
        _rank_shift(
            names[s],
            names[0],
            scores_by_scheme[s],
            scores_by_scheme[0],
            ranks_by_scheme[s],
            ranks_by_scheme[0],
            k_used,
            rows_kept,
            cohort.creator_ids,
        )
        for s in range(1, len(resolved))
    ]

    quality_models: list[RankQuality] = []
    differences: list[Difference] = []
    if outcome_kept is not None:
        quality = _rank_quality(scores_by_scheme, outcome_kept, k_used, n_boot, boot_rng, progress)
        for s, scheme in enumerate(resolved):
            low, high = _interval(quality.spearman_samples[:, s])
            ndcg_low, ndcg_high = _interval(quality.ndcg_samples[:, s])
            quality_models.append(
                RankQuality(
                    scheme=scheme.name,
                    spearman=_optional(float(quality.spearman[s])),
                    ndcg_at_k=_optional(float(quality.ndcg[s])),
                    ci_low=low,
                    ci_high=high,
                    ndcg_ci_low=ndcg_low,
                    ndcg_ci_high=ndcg_high,
                    out_of_sample=scheme.kind == "fitted",
                )
            )
        differences = [_difference(quality, s, 0, names) for s in range(1, len(resolved))]

    listed = np.argsort(ranks_by_scheme[0], kind="stable")[offset : offset + limit]
    creator_scores = [
        CreatorScores(
            row=int(rows_kept[i]),
            creator_id=cohort.creator_ids[int(rows_kept[i])],
            scores={name: float(scores_by_scheme[s][i]) for s, name in enumerate(names)},
            ranks={name: int(ranks_by_scheme[s][i]) for s, name in enumerate(names)},
            outcome=None if outcome_kept is None else float(outcome_kept[i]),
        )
        for i in listed
    ]
    rejected_rows = [
        RejectedRow(row=row, creator_id=cohort.creator_ids[row], reasons=reasons)
        for row, reasons in sorted(cohort.rejected.items())[:MAX_LISTED]
    ]
    ignored = sorted(cohort.ignored)
    fitted_model = None
    if fit is not None:
        fitted_model = FittedWeights(
            method=FIT_METHOD,
            target=FIT_TARGET,
            folds=folds,
            weights=_as_dict(fit.all_rows),
            fold_weights=[_as_dict(weights) for weights in fit.fold_weights],
            fallback_folds=fit.fallback_folds,
            unweighted_creators=fit.unweighted,
        )

    notes: list[str] = []
    if k_used < k:
        notes.append(_note("k_clipped", k=k, count=count))
    if fit is not None:
        notes.append(_note("fitted_out_of_fold", folds=folds))
        if fit.fallback_folds:
            notes.append(_note("fitted_fallback", folds=fit.fallback_folds))
        if fit.unweighted:
            notes.append(_note("fitted_unweighted", count=fit.unweighted))
    if any(item.rel_ci_low is None for item in differences):
        notes.append(_note("relative_undefined", reference=names[0]))
    if ignored:
        notes.append(_note("ignored_fields", fields=ignored[:10], count=len(ignored)))
    if cohort.rejected:
        notes.append(_note("rejected", count=len(cohort.rejected), total=size))

    summary = render(
        "compare_cohort_summary.txt.j2",
        count=count,
        rejected_count=len(cohort.rejected),
        reference=names[0],
        names=names,
        shifts=shifts,
        k=k_used,
        outcome=outcome,
        quality=quality_models,
        differences=differences,
        n_boot=n_boot,
    )
    return CohortComparison(
        reference=names[0],
        schemes=[
            SchemeWeights(
                name=scheme.name,
                kind=scheme.kind,
                weights=_as_dict(weights),
                reference=position == 0,
            )
            for position, (scheme, weights) in enumerate(
                zip(resolved, weights_by_scheme, strict=True)
            )
        ],
        count=count,
        scores=creator_scores,
        scores_offset=offset,
        rank_shifts=shifts,
        k=k_used,
        outcome=outcome,
        rank_quality=quality_models,
        differences=differences,
        ci_level=CI_LEVEL,
        n_boot=n_boot,
        seed=seed,
        ndcg_gain=NDCG_GAIN,
        fitted=fitted_model,
        rejected=rejected_rows,
        rejected_count=len(cohort.rejected),
        ignored_fields=ignored[:MAX_LISTED],
        notes=notes,
        summary=summary,
        model_version=catalogue.model_version,
    )
