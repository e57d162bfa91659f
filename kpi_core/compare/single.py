"""One creator under several weighting schemes, and the KPIs behind each difference."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kpi_core.catalogue import KPI_IDS, Catalogue, load_catalogue
from kpi_core.compare.models import (
    CreatorScores,
    KpiDriver,
    SchemeBreakdown,
    SchemeWeights,
    WeightingComparison,
)
from kpi_core.compare.ranks import FloatArray
from kpi_core.compare.schemes import KpiMatrix, Scheme, SchemeArg, as_dict, resolve_schemes
from kpi_core.errors import InvalidValueError
from kpi_core.scoring import score
from kpi_core.weights import Weighting
from prompts import render

__all__ = ["compare_single"]

_FITTED_NEEDS_A_COHORT = (
    "is fitted to a cohort's outcome and needs compare_cohort with an outcome such as next_gmv"
)


@dataclass(frozen=True, slots=True)
class _Creator:
    """One creator's KPI scores (NaN where not scored), ready to weight under any scheme, and
    which KPIs had data (1) rather than only their prior (0)."""

    kpi_scores: FloatArray
    matrix: KpiMatrix
    measured: FloatArray

    @classmethod
    def of(cls, kpi_scores: FloatArray, measured: FloatArray) -> _Creator:
        return cls(kpi_scores, KpiMatrix.of(kpi_scores.reshape(1, -1)), measured)

    @property
    def scored(self) -> list[int]:
        return [int(k) for k in np.flatnonzero(~np.isnan(self.kpi_scores))]

    def under(self, vector: FloatArray) -> tuple[float, float, FloatArray]:
        """Overall score, coverage (the weight with data) and each KPI's contribution in points
        under ``vector``."""
        coverage = float(self.matrix.coverage(vector)[0])
        overall = float(self.matrix.overall(vector)[0])
        points = 100.0 * vector * self.matrix.filled[0] / coverage
        return overall, float(vector @ self.measured), points


def _drivers(
    creator: _Creator,
    vector: FloatArray,
    points: FloatArray,
    reference_vector: FloatArray,
    reference_points: FloatArray,
) -> list[KpiDriver]:
    """Each scored KPI's contribution under the scheme and the reference, largest change first."""
    drivers = [
        KpiDriver(
            kpi=KPI_IDS[k],
            score=float(creator.kpi_scores[k]),
            weight=float(vector[k]),
            reference_weight=float(reference_vector[k]),
            contribution=float(points[k]),
            reference_contribution=float(reference_points[k]),
            difference=float(points[k] - reference_points[k]),
        )
        for k in creator.scored
    ]
    drivers.sort(key=lambda driver: -abs(driver.difference))
    return drivers


def _breakdown(
    creator: _Creator, resolved: list[Scheme], catalogue: Catalogue
) -> tuple[dict[str, float], list[SchemeBreakdown]]:
    """The overall score under each scheme, and its band, coverage and drivers."""
    reference_vector = resolved[0].vector
    assert reference_vector is not None
    reference_overall, _, reference_points = creator.under(reference_vector)
    scores: dict[str, float] = {}
    breakdown: list[SchemeBreakdown] = []
    for position, scheme in enumerate(resolved):
        vector = scheme.vector
        assert vector is not None
        if not float(creator.matrix.coverage(vector)[0]) > 0.0:
            raise InvalidValueError(
                "metrics",
                f"must have data on at least one KPI that scheme {scheme.name} weights",
                sorted(KPI_IDS[k] for k in creator.scored),
                "give metrics for a KPI with a positive weight in every scheme",
            )
        overall, coverage, points = creator.under(vector)
        drivers: list[KpiDriver] = []
        if position > 0:
            drivers = _drivers(creator, vector, points, reference_vector, reference_points)
        scores[scheme.name] = overall
        breakdown.append(
            SchemeBreakdown(
                scheme=scheme.name,
                band=catalogue.band(overall),
                coverage=coverage,
                difference=overall - reference_overall,
                drivers=drivers,
            )
        )
    return scores, breakdown


def compare_single(
    metrics: Mapping[str, object],
    schemes: Sequence[SchemeArg] = ("tiered", "equal"),
    *,
    currency: str | None = None,
) -> WeightingComparison:
    """One creator's overall score under each scheme, and the KPIs behind each difference.

    ``schemes`` lists names (``tiered``, ``equal``), mappings of all 13 KPI ids to weights, or
    :class:`~kpi_core.weights.Weighting` objects; the first is the reference. Each KPI driver is
    the KPI's contribution under the scheme minus under the reference (points); they sum to the
    difference in overall score. ``fitted`` needs a cohort with an outcome and is refused here. A
    bad field raises :class:`~kpi_core.errors.KpiError`, as :func:`~kpi_core.scoring.score` does.
    """
    catalogue = load_catalogue()
    resolved = resolve_schemes(schemes, fitted_hint=_FITTED_NEEDS_A_COHORT)
    reference = resolved[0]
    assert reference.vector is not None
    base = score(metrics, Weighting(reference.name, reference.vector), currency=currency)
    kpi_scores = np.array([math.nan if item.score is None else item.score for item in base.kpis])
    measured = np.array([0.0 if item.imputed else 1.0 for item in base.kpis])
    scores, breakdown = _breakdown(_Creator.of(kpi_scores, measured), resolved, catalogue)
    summary = render(
        "compare_single_summary.txt.j2",
        creator_id=base.creator_id,
        scores=scores,
        reference=breakdown[0],
        others=breakdown[1:],
        labels={kpi: catalogue.kpis[kpi].label for kpi in KPI_IDS},
    )
    return WeightingComparison(
        summary=summary,
        mode="single",
        reference=reference.name,
        schemes=[
            SchemeWeights(
                name=scheme.name,
                kind=scheme.kind,
                weights=as_dict(scheme.vector),
                reference=position == 0,
            )
            for position, scheme in enumerate(resolved)
            if scheme.vector is not None
        ],
        count=1,
        scores=[
            CreatorScores(
                row=0,
                creator_id=base.creator_id,
                scores=scores,
                ranks=dict.fromkeys(scores, 1),
                outcome=None,
            )
        ],
        scores_offset=0,
        breakdown=breakdown,
        rank_shifts=[],
        k=None,
        outcome=None,
        baseline=None,
        rank_quality=[],
        differences=[],
        baseline_differences=[],
        ci_level=None,
        n_boot=None,
        seed=None,
        ndcg_gain=None,
        fitted=None,
        rejected=[],
        rejected_count=0,
        ignored_fields=[],
        notes=[],
        model_version=catalogue.model_version,
    )
