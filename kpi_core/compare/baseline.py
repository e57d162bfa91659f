"""The honest baseline: ranking creators by the outcome's own current value.

A weighting earns its keep only if it ranks next period's outcome better than the naive ranking
by this period's value of the same quantity. For an outcome named ``next_<field>`` the baseline is
the current ``<field>`` (``gmv`` for ``next_gmv``); a ``baseline`` argument names another field. A
catalogue metric is read as validated (aliases resolved, money converted) or derived (``gmv``
from ``gpm`` and ``views``, for one); any other field is read as a number from each row. A
creator without a value is ranked last (tied with the others without one), and the result says
how many there were. The baseline is measured with the same resamples as the schemes, so a
scheme's difference from it is a paired difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kpi_core.catalogue import Catalogue
from kpi_core.compare.load import Cohort
from kpi_core.compare.ranks import FloatArray, IntArray
from kpi_core.compare.schemes import RESERVED_NAME
from kpi_core.errors import InvalidValueError
from kpi_core.kernel import derive

__all__ = ["BASELINE", "Baseline", "baseline_field", "baseline_values", "raw_field"]

#: The name of the baseline's entry in ``rank_quality`` (no scheme may take it).
BASELINE = RESERVED_NAME
_NEXT = "next_"
_MAX_NAME = 64


def baseline_field(outcome: str | None, baseline: object) -> str | None:
    """The field the baseline ranks by: ``baseline`` if given, else the current value of a
    ``next_<field>`` outcome; None when there is no outcome or no field to take."""
    if baseline is None:
        if outcome is None or not outcome.startswith(_NEXT) or len(outcome) == len(_NEXT):
            return None
        return outcome[len(_NEXT) :]
    if not isinstance(baseline, str) or not baseline.strip() or len(baseline) > _MAX_NAME:
        raise InvalidValueError(
            "baseline",
            f"must be the name of a field of each creator (at most {_MAX_NAME} characters)",
            baseline,
            "such as gmv",
        )
    if outcome is None:
        raise InvalidValueError(
            "baseline",
            "needs an outcome to rank",
            baseline,
            "give outcome too, such as next_gmv, or leave out baseline",
        )
    if baseline == outcome:
        raise InvalidValueError(
            "baseline",
            "must name a field other than the outcome",
            baseline,
            "the baseline is this period's value, such as gmv for next_gmv",
        )
    return baseline


def raw_field(field: str | None, catalogue: Catalogue) -> str | None:
    """``field`` when it must be read from the rows as given (it is not a catalogue metric)."""
    if field is None or catalogue.aliases.get(field, field) in catalogue.metrics:
        return None
    return field


@dataclass(frozen=True, slots=True)
class Baseline:
    """The baseline's field, its values on the kept creators and how many lack one."""

    field: str
    values: FloatArray
    """For ranking: a creator without a value is -inf (last)."""
    missing: int


def baseline_values(
    field: str | None, explicit: bool, cohort: Cohort, kept: IntArray, catalogue: Catalogue
) -> Baseline | None:
    """The baseline on the kept creators; None when no creator has the field (an error when
    the caller named it)."""
    if field is None:
        return None
    canonical = catalogue.aliases.get(field, field)
    column: FloatArray | None
    if canonical in catalogue.metrics:
        kept_columns = {name: values[kept] for name, values in cohort.columns.items()}
        derived, _ = derive(kept_columns, catalogue)
        column = derived.get(canonical)
    else:
        column = None if cohort.extra is None else cohort.extra[kept]
    if column is None or not np.isfinite(column).any():
        if explicit:
            raise InvalidValueError(
                "baseline",
                "must name a field that the creators carry as a number",
                field,
                "such as gmv, the current value of the outcome",
            )
        return None
    known = np.isfinite(column)
    values = np.where(known, column, -np.inf)
    return Baseline(field=field, values=values, missing=int((~known).sum()))
