"""Argument declarations shared by the tools that take one creator's metrics, and the server's
creator refs (the records behind score_creator's ``creator_ref``, kept per process)."""

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, SkipValidation

from kpi_core import CreatorMetrics
from kpi_core.errors import InvalidValueError
from kpi_core.refs import CreatorRefs
from kpi_core.score_models import DetailLevel
from tools._params import as_object

#: The records behind the creator refs this process handed out (bounded; see kpi_core.refs).
REFS = CreatorRefs()

#: score_creator's `metrics`: the full typed schema, published once.
MetricsArg = Annotated[
    CreatorMetrics,
    SkipValidation,
    Field(description="The creator's raw 30-day metrics (all optional); see kpi://metrics."),
]
#: Every other tool's `metrics`: a plain object, validated on the server by the same model.
MetricsObjectArg = Annotated[
    dict[str, Any] | None,
    SkipValidation,
    Field(
        description="The creator's raw metrics: same fields as score_creator.metrics; see "
        "kpi://metrics. Or give creator_ref."
    ),
]
CreatorRefArg = Annotated[
    str | None,
    Field(description="From score_creator, instead of metrics.", max_length=64),
]
WeightingArg = Annotated[
    Literal["tiered", "equal"] | dict[str, float],
    SkipValidation,
    Field(description='"tiered" (default), "equal", or {kpi_id: weight} for all 13 KPIs.'),
]
CurrencyArg = Annotated[
    str | None,
    Field(description="ISO code of money fields (default USD).", max_length=8),
]
DetailArg = Annotated[
    DetailLevel,
    Field(description='"full" adds every field.'),
]

#: What every description of a metrics-taking tool says about units.
UNITS_NOTE = """Rates and shares are fractions (3.5% is 0.035); money in `currency`."""


def creator_record(metrics: object, creator_ref: str | None) -> Mapping[str, object]:
    """The creator a call is about: its `metrics`, or the record behind its `creator_ref`
    (exactly one of the two)."""
    if creator_ref is not None and metrics is not None:
        raise InvalidValueError(
            "creator_ref",
            "cannot be given together with metrics",
            creator_ref,
            "give one: the ref stands for the metrics score_creator validated",
        )
    if creator_ref is not None:
        return REFS.recall(creator_ref)
    if metrics is None:
        raise InvalidValueError(
            "metrics",
            "or creator_ref is required (score_creator returns a creator_ref)",
            "neither",
            "give metrics or creator_ref",
        )
    return as_object(metrics, "metrics")
