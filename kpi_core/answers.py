"""Compact answers of the cohort and comparison tools (issue 18): what ``detail="summary"``
keeps of a result, so a model's context holds the answer and not the whole computation.

Each function returns a copy of its result; nothing is recomputed and every kept number is the
library's. Lists keep their caps and totals; a part left out comes back with ``detail="full"``.
"""

from __future__ import annotations

from kpi_core.cohorts.cohort import CohortResult
from kpi_core.compare.models import WeightingComparison
from kpi_core.scoring import significant

__all__ = ["MAX_DRIVERS", "MAX_MOVES", "brief_cohort", "brief_comparison"]

#: KPIs named per scheme in a compact single-creator comparison (the largest differences).
MAX_DRIVERS = 3
#: Creators named per scheme among a compact cohort comparison's largest rank moves (the text
#: gives the mean and the largest move; detail="full" names the five largest).
MAX_MOVES = 1


def brief_cohort(result: CohortResult) -> CohortResult:
    """The cohort answer without the per-KPI distributions (the overall score's is kept)."""
    distribution = result.distribution
    return result.model_copy(update={"distribution": distribution.model_copy(update={"kpis": {}})})


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {key: significant(value) for key, value in values.items()}


def brief_comparison(result: WeightingComparison) -> WeightingComparison:
    """The comparison answer with each scheme's KPI drivers cut to the largest few, the largest
    rank moves to the largest one, and weights and scores to 4 significant digits (rank statistics
    and their intervals as computed)."""
    breakdown = [
        item.model_copy(update={"drivers": item.drivers[:MAX_DRIVERS]}) for item in result.breakdown
    ]
    shifts = [
        item.model_copy(update={"largest_moves": item.largest_moves[:MAX_MOVES]})
        for item in result.rank_shifts
    ]
    schemes = [
        item.model_copy(update={"weights": _rounded(item.weights)}) for item in result.schemes
    ]
    scores = [item.model_copy(update={"scores": _rounded(item.scores)}) for item in result.scores]
    return result.model_copy(
        update={"breakdown": breakdown, "schemes": schemes, "scores": scores, "rank_shifts": shifts}
    )
