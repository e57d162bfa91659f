"""A cohort loaded for comparison: validated rows, KPI scores once, the outcome, the rejects.

Rows are a list of metric objects (each may carry ``creator_id``, the outcome field and other
fields, which are ignored and listed) or a DataFrame with one creator per row. A row that fails
validation, has no KPI data or lacks a finite outcome is rejected with its reasons, not the call.
pandas is imported only here, when a cohort is loaded.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np

from kpi_core.catalogue import KPI_IDS, Catalogue
from kpi_core.compare.ranks import FloatArray
from kpi_core.errors import InvalidValueError, KpiError, truncate
from kpi_core.metrics import parse_metrics
from kpi_core.scoring import score_frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Cohort", "load_cohort"]

#: Longest creator id echoed (the catalogue's limit) and longest ignored field name listed.
MAX_ID_CHARS = 128
MAX_NAME_CHARS = 60


@dataclass(slots=True)
class Cohort:
    """A cohort's KPI scores and outcome, with the rows left out and why."""

    kpi_scores: FloatArray
    outcome: FloatArray | None
    creator_ids: list[str | None]
    columns: dict[str, FloatArray]
    rejected: dict[int, list[str]]
    ignored: set[str]
    #: The values of the extra field asked for (a baseline that is not a metric); NaN where absent.
    extra: FloatArray | None = None


def _outcome_value(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _missing_outcome(outcome: str, value: object) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if missing or not isinstance(value, str | int | float):
        shown = "missing"
    else:
        shown = f"not a finite number (got {truncate(value)})"
    return f"{outcome} is {shown}; every creator needs the outcome"


def _no_outcome_field(outcome: str) -> InvalidValueError:
    return InvalidValueError(
        "outcome",
        "must name a field of the creators",
        outcome,
        "give each creator the next period's outcome, such as next_gmv",
    )


def _creator_id(value: object) -> str | None:
    return value[:MAX_ID_CHARS] if isinstance(value, str) else None


def _from_mappings(
    rows: Sequence[object],
    outcome: str | None,
    extra: str | None,
    currency: str | None,
    catalogue: Catalogue,
) -> Cohort:
    """Validate each row with parse_metrics (a bad row is rejected, not the call)."""
    known = {*catalogue.metrics, *catalogue.aliases}
    size = len(rows)
    columns: dict[str, FloatArray] = {}
    outcome_values = np.full(size, np.nan) if outcome is not None else None
    extra_values = np.full(size, np.nan) if extra is not None else None
    creator_ids: list[str | None] = [None] * size
    rejected: dict[int, list[str]] = {}
    ignored: set[str] = set()
    if outcome is not None and not any(isinstance(row, Mapping) and outcome in row for row in rows):
        raise _no_outcome_field(outcome)
    for row_number, row in enumerate(rows):
        if not isinstance(row, Mapping):
            rejected[row_number] = ["must be an object of metric names to values"]
            continue
        fields = cast("Mapping[object, object]", row)
        given: dict[str, object] = {}
        for key, value in fields.items():
            name = str(key)
            if name in known:
                given[name] = value
            elif name not in (outcome, extra):
                ignored.add(name[:MAX_NAME_CHARS])
        creator_ids[row_number] = _creator_id(given.get("creator_id"))
        if extra_values is not None and extra is not None:
            number = _outcome_value(fields.get(extra))
            extra_values[row_number] = math.nan if number is None else number
        reasons: list[str] = []
        numeric: dict[str, float] = {}
        try:
            numeric = parse_metrics(given, currency=currency).numeric()
        except KpiError as error:
            reasons.extend(problem.message() for problem in error.problems)
        if outcome_values is not None and outcome is not None:
            value = _outcome_value(fields.get(outcome))
            if value is None:
                reasons.append(_missing_outcome(outcome, fields.get(outcome)))
            else:
                outcome_values[row_number] = value
        if reasons:
            rejected[row_number] = reasons
            continue
        for name, value in numeric.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = np.full(size, np.nan)
            column[row_number] = value
    return Cohort(
        kpi_scores=np.empty((0, len(KPI_IDS))),
        outcome=outcome_values,
        creator_ids=creator_ids,
        columns=columns,
        rejected=rejected,
        ignored=ignored,
        extra=extra_values,
    )


class _Column(Protocol):
    """The members of a pandas Series used here (pandas' own annotations are partial)."""

    @property
    def dtype(self) -> object: ...

    def to_numpy(self, dtype: type[np.float64], *, na_value: float) -> FloatArray: ...

    def tolist(self) -> list[object]: ...


def _column(frame: pd.DataFrame, label: object) -> _Column:
    return cast("_Column", frame[label])


def _is_number_column(column: _Column) -> bool:
    """True for a numeric, non-boolean dtype (pandas.api.types, imported on first use)."""
    types = importlib.import_module("pandas.api.types")
    is_numeric = cast("Callable[[object], bool]", types.is_numeric_dtype)
    is_bool = cast("Callable[[object], bool]", types.is_bool_dtype)
    return is_numeric(column.dtype) and not is_bool(column.dtype)


def _floats(column: _Column) -> FloatArray:
    return np.asarray(column.to_numpy(np.float64, na_value=np.nan), dtype=np.float64)


def _frame_outcome(frame: pd.DataFrame, outcome: str, rejected: dict[int, list[str]]) -> FloatArray:
    """The outcome column as floats; rows without a finite number are rejected."""
    if outcome not in frame.columns:
        raise _no_outcome_field(outcome)
    column = _column(frame, outcome)
    if _is_number_column(column):
        values = _floats(column)
    else:
        numbers = [_outcome_value(raw) for raw in column.tolist()]
        values = np.array([math.nan if number is None else number for number in numbers])
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raw_values = column.tolist()
        for row in bad:
            reason = _missing_outcome(outcome, raw_values[int(row)])
            rejected.setdefault(int(row), []).append(reason)
    return values


def _frame_numeric_columns(frame: pd.DataFrame, catalogue: Catalogue) -> dict[str, FloatArray]:
    """The frame's numeric metric columns by canonical name (an alias fills its target's gaps)."""
    columns: dict[str, FloatArray] = {}
    for label in frame.columns:
        key = str(label)
        name = catalogue.aliases.get(key, key)
        metric = catalogue.metrics.get(name)
        if metric is None or not metric.is_numeric:
            continue
        column = _column(frame, label)
        if not _is_number_column(column):
            continue
        values = _floats(column)
        given = columns.get(name)
        columns[name] = values if given is None else np.where(np.isnan(given), values, given)
    return columns


def _frame_extra(frame: pd.DataFrame, extra: str | None) -> FloatArray | None:
    """The extra field's values as floats (NaN where not a finite number)."""
    if extra is None:
        return None
    if extra not in frame.columns:
        return np.full(len(frame), np.nan)
    numbers = [_outcome_value(raw) for raw in _column(frame, extra).tolist()]
    return np.array([math.nan if number is None else number for number in numbers])


def _from_frame(
    frame: pd.DataFrame,
    outcome: str | None,
    extra: str | None,
    currency: str | None,
    catalogue: Catalogue,
) -> tuple[Cohort, pd.DataFrame]:
    """The cohort of a DataFrame, and its scores (score_frame rejects bad rows)."""
    rejected: dict[int, list[str]] = {}
    known = {*catalogue.metrics, *catalogue.aliases, outcome, extra}
    labels = [str(label) for label in frame.columns]
    ignored = {label[:MAX_NAME_CHARS] for label in labels if label not in known}
    outcome_values = None if outcome is None else _frame_outcome(frame, outcome, rejected)
    scored = score_frame(frame, on_invalid="reject", currency=currency)
    creator_ids: list[str | None] = [None] * len(frame)
    if "creator_id" in labels:
        creator_ids = [_creator_id(value) for value in _column(frame, "creator_id").tolist()]
    if "rejected" in scored.columns:
        for row, reason in enumerate(_column(scored, "rejected").tolist()):
            if isinstance(reason, str):
                rejected.setdefault(row, []).insert(0, reason)
    cohort = Cohort(
        kpi_scores=np.empty((0, len(KPI_IDS))),
        outcome=outcome_values,
        creator_ids=creator_ids,
        columns=_frame_numeric_columns(frame, catalogue),
        rejected=rejected,
        ignored=ignored,
        extra=_frame_extra(frame, extra),
    )
    return cohort, scored


def load_cohort(
    rows: Sequence[Mapping[str, object]] | pd.DataFrame,
    outcome: str | None,
    currency: str | None,
    catalogue: Catalogue,
    extra: str | None = None,
) -> Cohort:
    """Validate, score once through the kernel (score_frame), and collect the rejected rows.

    ``extra`` names one more field to read as numbers, without rejecting a row that lacks it.
    """
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        cohort, scored = _from_frame(rows, outcome, extra, currency, catalogue)
    else:
        if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Sequence):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidValueError(
                "creators",
                "must be a list of objects of metrics or a DataFrame",
                type(rows).__name__,
            )
        cohort = _from_mappings(rows, outcome, extra, currency, catalogue)
        scored = score_frame(pd.DataFrame(cohort.columns, index=pd.RangeIndex(len(rows))))
    cohort.kpi_scores = np.column_stack(
        [_floats(_column(scored, f"{kpi}_score")) for kpi in KPI_IDS]
    ).reshape(len(scored), len(KPI_IDS))
    nothing = np.isnan(cohort.kpi_scores).all(axis=1)
    for row in np.flatnonzero(nothing):
        cohort.rejected.setdefault(int(row), ["has no metric that feeds a KPI"])
    return cohort
