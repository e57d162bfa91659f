"""kpi_core: score TikTok creators on 13 revenue-weighted KPIs (the pure domain library).

No MCP, no I/O at import, no global mutable state. The public entry points::

    from kpi_core import score, score_frame, diagnose, recommend, score_cohort
    result = score({"gmv": 12000, "conversion_rate": 0.035}, weighting="tiered")
    table = score_frame(dataframe, weighting="equal")

The experiment maths, store and evidence are the package ``kpi_core.experiments``
(``design.design_ab_test``, ``analysis.analyze_ab_test``, ``store.ExperimentStore``), the
weighting comparison is in ``kpi_core.compare``.
"""

from kpi_core.catalogue import KPI_IDS, Catalogue, Kpi, Metric, load_catalogue
from kpi_core.cohorts.cohort import CohortResult, score_cohort
from kpi_core.diagnosis import Diagnosis, diagnose
from kpi_core.errors import (
    ConfigurationError,
    ConflictingValuesError,
    CurrencyError,
    ExperimentError,
    InvalidValueError,
    KpiError,
    Problem,
    StoreError,
    UnknownFieldError,
    WeightingError,
)
from kpi_core.metrics import CreatorMetrics, parse_metrics
from kpi_core.recommendations import Recommendations, recommend
from kpi_core.scoring import KpiResult, MetricComponent, ScoreResult, score, score_frame
from kpi_core.weights import Weighting, resolve_weighting

__all__ = [
    "KPI_IDS",
    "Catalogue",
    "CohortResult",
    "ConfigurationError",
    "ConflictingValuesError",
    "CreatorMetrics",
    "CurrencyError",
    "Diagnosis",
    "ExperimentError",
    "InvalidValueError",
    "Kpi",
    "KpiError",
    "KpiResult",
    "Metric",
    "MetricComponent",
    "Problem",
    "Recommendations",
    "ScoreResult",
    "StoreError",
    "UnknownFieldError",
    "Weighting",
    "WeightingError",
    "diagnose",
    "load_catalogue",
    "parse_metrics",
    "recommend",
    "resolve_weighting",
    "score",
    "score_cohort",
    "score_frame",
]
