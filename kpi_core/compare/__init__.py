"""What the choice of KPI weights does to scores and rankings, measured rather than asserted.

:func:`compare_single` scores one creator under several schemes and says which KPIs drive each
difference. :func:`compare_cohort` compares the rankings of a cohort under several schemes and,
given a next-period ``outcome`` (such as ``next_gmv``), measures each scheme's rank quality with a
bootstrap 95% interval, the difference from the reference scheme with a paired interval, and can
fit weights to the outcome by cross-validation. :func:`compare_weighting` is the tool's one entry
(one creator, a cohort, or a cohort's file). All three return a :class:`WeightingComparison`,
whose every sentence comes from a ``prompts/templates/compare_*.txt.j2`` template.

The modules, bottom up:

* :mod:`~kpi_core.compare.ranks`: average ranks, Spearman's rho, NDCG@k with percentile gains;
* :mod:`~kpi_core.compare.models`: the result models;
* :mod:`~kpi_core.compare.schemes`: the ``schemes`` argument and overall scores per scheme;
* :mod:`~kpi_core.compare.bootstrap`: rank quality with paired bootstrap intervals;
* :mod:`~kpi_core.compare.fit`: the ``fitted`` scheme, cross-validated;
* :mod:`~kpi_core.compare.guard`: the circularity guard on the outcome;
* :mod:`~kpi_core.compare.load`: a cohort validated, scored once, with its rejected rows;
* :mod:`~kpi_core.compare.baseline`: the naive ranking by the outcome's current value;
* :mod:`~kpi_core.compare.single`, :mod:`~kpi_core.compare.cohort`: the two comparisons;
* :mod:`~kpi_core.compare.comparison`: the tool's entry.

Every cohort row goes through the one validation path (:func:`kpi_core.validation.validate`).
scipy is imported only by the fit (normal quantiles and non-negative least squares); pandas only
for a DataFrame or a file.
"""

from kpi_core.compare.bootstrap import CI_LEVEL
from kpi_core.compare.cohort import (
    MAX_BOOT,
    MAX_FOLDS,
    MAX_K,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_SEED,
    MIN_BOOT,
    MIN_CREATORS,
    MIN_FOLDS,
    check_cohort_options,
    compare_cohort,
)
from kpi_core.compare.comparison import compare_weighting
from kpi_core.compare.guard import (
    CIRCULAR_RANK,
    MIN_OUTCOME_CREATORS,
    RECONSTRUCTIONS,
    Reconstruction,
)
from kpi_core.compare.models import (
    CreatorScores,
    Difference,
    FittedWeights,
    KpiDriver,
    RankMove,
    RankQuality,
    RankShift,
    RejectedRow,
    SchemeBreakdown,
    SchemeKind,
    SchemeWeights,
    WeightingComparison,
)
from kpi_core.compare.ranks import average_ranks, ndcg_at_k, percentile_gains, spearman
from kpi_core.compare.schemes import MAX_SCHEMES, SchemeArg, SchemeName
from kpi_core.compare.single import compare_single

__all__ = [
    "CIRCULAR_RANK",
    "CI_LEVEL",
    "MAX_BOOT",
    "MAX_FOLDS",
    "MAX_K",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "MAX_SCHEMES",
    "MAX_SEED",
    "MIN_BOOT",
    "MIN_CREATORS",
    "MIN_FOLDS",
    "MIN_OUTCOME_CREATORS",
    "RECONSTRUCTIONS",
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
    "SchemeBreakdown",
    "SchemeKind",
    "SchemeName",
    "SchemeWeights",
    "WeightingComparison",
    "average_ranks",
    "check_cohort_options",
    "compare_cohort",
    "compare_single",
    "compare_weighting",
    "ndcg_at_k",
    "percentile_gains",
    "spearman",
]
