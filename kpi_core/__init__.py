"""kpi_core: score TikTok creators on 13 revenue-weighted KPIs (the pure domain library).

No MCP, no I/O at import, no global mutable state. The public entry points::

    from kpi_core import score, score_frame, diagnose, recommend, score_cohort
    result = score({"gmv": 12000, "conversion_rate": 0.035}, weighting="tiered")
    table = score_frame(dataframe, weighting="equal")

The experiment maths, store and evidence are the package ``kpi_core.experiments``
(``design.design_ab_test``, ``analysis.analyze_ab_test``, ``store.ExperimentStore``), the
weighting comparison is in ``kpi_core.compare``.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Where each public name lives. The names load on first use (PEP 562), so importing one
#: module of the package (the server's first call needs only the scoring path) does not import
#: the cohort, diagnosis and advice layers with their pydantic models.
_HOMES = {
    "KPI_IDS": "kpi_core.catalogue",
    "Catalogue": "kpi_core.catalogue",
    "Kpi": "kpi_core.catalogue",
    "Metric": "kpi_core.catalogue",
    "load_catalogue": "kpi_core.catalogue",
    "CohortResult": "kpi_core.cohorts.cohort",
    "score_cohort": "kpi_core.cohorts.cohort",
    "Diagnosis": "kpi_core.diagnosis",
    "diagnose": "kpi_core.diagnosis",
    "ConfigurationError": "kpi_core.errors",
    "ConflictingValuesError": "kpi_core.errors",
    "CurrencyError": "kpi_core.errors",
    "ExperimentError": "kpi_core.errors",
    "InvalidValueError": "kpi_core.errors",
    "KpiError": "kpi_core.errors",
    "Problem": "kpi_core.errors",
    "StoreError": "kpi_core.errors",
    "UnknownFieldError": "kpi_core.errors",
    "WeightingError": "kpi_core.errors",
    "CreatorMetrics": "kpi_core.metrics",
    "parse_metrics": "kpi_core.metrics",
    "Recommendations": "kpi_core.recommendations",
    "recommend": "kpi_core.recommendations",
    "KpiResult": "kpi_core.scoring",
    "MetricComponent": "kpi_core.scoring",
    "ScoreResult": "kpi_core.scoring",
    "score": "kpi_core.scoring",
    "score_frame": "kpi_core.scoring",
    "Weighting": "kpi_core.weights",
    "resolve_weighting": "kpi_core.weights",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kpi_core' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


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
