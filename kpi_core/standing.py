"""Strengths and weaknesses, defined once (issue 18) and used by every answer that names them.

A KPI is a **strength** when it was measured (not imputed) and its score is above its benchmark
score (the score of a creator of the same size whose metrics sit at their benchmarks), and a
**weakness** when it was measured and its score is below it. An imputed KPI is neither: its
score is a prior, not something the creator showed. Both are ranked by what the difference is
worth on the overall score, in points: ``100 x effective_weight x (score - benchmark_score)``
(for a weakness, the points regained at the benchmark: diagnose's ``impact``); ties by KPI id.
"""

from __future__ import annotations

from collections.abc import Sequence

from kpi_core.score_models import KpiResult

__all__ = ["EPSILON", "points", "strengths", "weaknesses"]

#: Differences below this are float noise, neither a strength nor a weakness.
EPSILON = 1e-9


def points(item: KpiResult) -> float:
    """What the KPI's distance from its benchmark is worth on the overall score (signed)."""
    if item.score is None:
        return 0.0
    return 100.0 * item.effective_weight * (item.score - item.benchmark_score)


def _measured(item: KpiResult) -> bool:
    return item.score is not None and not item.imputed


def strengths(kpis: Sequence[KpiResult]) -> list[KpiResult]:
    """Measured KPIs above their benchmark score, most points first."""
    found = [
        item
        for item in kpis
        if _measured(item) and (item.score or 0.0) - item.benchmark_score > EPSILON
    ]
    return sorted(found, key=lambda item: (-points(item), item.kpi))


def weaknesses(kpis: Sequence[KpiResult]) -> list[KpiResult]:
    """Measured KPIs below their benchmark score, most points lost first."""
    found = [
        item
        for item in kpis
        if _measured(item) and item.benchmark_score - (item.score or 0.0) > EPSILON
    ]
    return sorted(found, key=lambda item: (points(item), item.kpi))
