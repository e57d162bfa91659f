"""The result of a weighting comparison: one model for one creator and for a cohort.

:class:`WeightingComparison` is what :func:`~kpi_core.compare.compare_single`,
:func:`~kpi_core.compare.compare_cohort` and :func:`~kpi_core.compare.compare_weighting` return
and what the ``compare_weighting`` tool answers: ``summary`` first, then the fields of both modes
(``schemes``, per-creator ``scores``), then those of one creator (``breakdown``) or of a cohort
(rank shifts, rank quality and differences with intervals, the fitted weights, rejected rows).
A field of the other mode is empty (``[]``) or None.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CreatorScores",
    "Difference",
    "FittedWeights",
    "KpiDriver",
    "Mode",
    "RankMove",
    "RankQuality",
    "RankShift",
    "RejectedRow",
    "SchemeBreakdown",
    "SchemeKind",
    "SchemeWeights",
    "WeightingComparison",
]

#: How a scheme was given: by name (``tiered``, ``equal``), as weights, or fitted to the outcome.
SchemeKind = Literal["named", "custom", "fitted"]
#: One creator or a cohort.
Mode = Literal["single", "cohort"]

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


class CreatorScores(BaseModel):
    """One creator's score and rank (1 = best) under each scheme."""

    model_config = _RESULT_CONFIG

    row: int
    """Position of the creator in the input (0-based)."""
    creator_id: str | None
    scores: dict[str, float]
    """Overall score (0-100) by scheme (``fitted``: out of fold)."""
    ranks: dict[str, int]
    """Rank by scheme; ties go to the earlier row (1 for a single creator)."""
    outcome: float | None


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


class SchemeBreakdown(BaseModel):
    """One creator under one scheme: band, coverage and the KPIs behind the difference."""

    model_config = _RESULT_CONFIG

    scheme: str
    band: str
    coverage: float
    """Share of this scheme's weight that had data."""
    difference: float
    """The overall score minus the reference's, in points (0 for the reference)."""
    drivers: list[KpiDriver]
    """Scored KPIs, largest absolute difference first (empty for the reference)."""


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


class WeightingComparison(BaseModel):
    """What the choice of weighting does: one creator's score or a cohort's ranking per scheme."""

    model_config = _RESULT_CONFIG

    summary: str
    """What an assistant should say first (the same text as the answer's text content)."""
    mode: Mode
    reference: str
    """The first scheme; every difference is taken against it."""
    schemes: list[SchemeWeights]
    count: int
    """Creators compared (1 for one creator; for a cohort, the rows kept)."""
    scores: list[CreatorScores]
    """Per creator, the score under each scheme; for a cohort in reference-rank order from
    scores_offset, at most the requested limit."""
    scores_offset: int
    breakdown: list[SchemeBreakdown]
    """One creator: one entry per scheme, with the KPIs behind each difference."""
    rank_shifts: list[RankShift]
    """A cohort: one per scheme after the reference."""
    k: int | None
    """A cohort: the k of top-k and NDCG@k (at most count)."""
    outcome: str | None
    baseline: str | None
    """The field of the naive baseline ranking (the outcome's current value, such as gmv for
    next_gmv); None without an outcome or when no creator has that field."""
    rank_quality: list[RankQuality]
    """A cohort with an outcome: one per scheme, then one for the baseline (scheme
    ``baseline``)."""
    differences: list[Difference]
    """A cohort with an outcome: one per scheme after the reference, against the reference."""
    baseline_differences: list[Difference]
    """A cohort with a baseline: one per scheme, against the baseline (versus ``baseline``)."""
    ci_level: float | None
    n_boot: int | None
    seed: int | None
    ndcg_gain: str | None
    fitted: FittedWeights | None
    rejected: list[RejectedRow]
    """The first rejected rows (at most 50)."""
    rejected_count: int
    ignored_fields: list[str]
    """Fields of the rows that are neither metrics nor the outcome (first 50, sorted)."""
    notes: list[str]
    model_version: str
