"""Argument declarations shared by the tools that take one creator's metrics."""

from typing import Annotated, Literal

from pydantic import Field, SkipValidation

from kpi_core import CreatorMetrics

MetricsArg = Annotated[
    CreatorMetrics,
    SkipValidation,
    Field(description="The creator's raw 30-day metrics (all optional); see kpi://metrics."),
]
WeightingArg = Annotated[
    Literal["tiered", "equal"] | dict[str, float],
    SkipValidation,
    Field(description='"tiered" (default), "equal", or {kpi_id: weight} for all 13 KPIs.'),
]
CurrencyArg = Annotated[
    str | None,
    Field(
        description="ISO code of the money fields; default the record's currency or USD.",
        max_length=8,
    ),
]

#: What every description of a metrics-taking tool says about units.
UNITS_NOTE = """Units: rates and shares are fractions in 0..1, never percent (3.5% is 0.035);
counts are whole numbers; money is in `currency` (USD by default); growth rates are relative
changes (0.2 = +20%, may be negative)."""
