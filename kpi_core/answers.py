"""Compact answers of the cohort and comparison tools (issue 18): what ``detail="summary"``
keeps of a result, so a model's context holds the answer and not the whole computation.

Each function returns a copy of its result; nothing is recomputed and every kept number is the
library's. Lists keep their caps and totals; a part left out comes back with ``detail="full"``.
"""

from __future__ import annotations

from kpi_core.cohorts.cohort import CohortResult
from kpi_core.compare.models import WeightingComparison

__all__ = ["MAX_DRIVERS", "brief_cohort", "brief_comparison"]

#: KPIs named per scheme in a compact single-creator comparison (the largest differences).
MAX_DRIVERS = 3


def brief_cohort(result: CohortResult) -> CohortResult:
    """The cohort answer without the per-KPI distributions (the overall score's is kept)."""
    distribution = result.distribution
    return result.model_copy(update={"distribution": distribution.model_copy(update={"kpis": {}})})


def brief_comparison(result: WeightingComparison) -> WeightingComparison:
    """The comparison answer with each scheme's KPI drivers cut to the largest few."""
    breakdown = [
        item.model_copy(update={"drivers": item.drivers[:MAX_DRIVERS]}) for item in result.breakdown
    ]
    return result.model_copy(update={"breakdown": breakdown})
