"""kpi_core: score TikTok creators on 13 revenue-weighted KPIs (the pure domain library).

No MCP, no I/O at import, no global mutable state. The public entry points::

    from kpi_core import score, score_frame
    result = score({"gmv": 12000, "conversion_rate": 0.035}, weighting="tiered")
    table = score_frame(dataframe, weighting="equal")
"""

from kpi_core.catalogue import KPI_IDS, Catalogue, Kpi, Metric, load_catalogue
from kpi_core.errors import (
    ConfigurationError,
    ConflictingValuesError,
    CurrencyError,
    ExperimentError,
    InvalidValueError,
    KpiError,
    Problem,
    UnknownFieldError,
    WeightingError,
)
from kpi_core.metrics import CreatorMetrics, parse_metrics
from kpi_core.scoring import KpiResult, MetricComponent, ScoreResult, score, score_frame
from kpi_core.weights import Weighting, resolve_weighting

__all__ = [
    "KPI_IDS",
    "Catalogue",
    "ConfigurationError",
    "ConflictingValuesError",
    "CreatorMetrics",
    "CurrencyError",
    "ExperimentError",
    "InvalidValueError",
    "Kpi",
    "KpiError",
    "KpiResult",
    "Metric",
    "MetricComponent",
    "Problem",
    "ScoreResult",
    "UnknownFieldError",
    "Weighting",
    "WeightingError",
    "load_catalogue",
    "parse_metrics",
    "resolve_weighting",
    "score",
    "score_frame",
]
