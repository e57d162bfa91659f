"""A cohort loaded for comparison: validated rows, KPI scores once, the outcome, the rejects.

Rows are a list of metric objects (each may carry ``creator_id``, the outcome field and other
fields, which are ignored and listed) or a DataFrame with one creator per row. Both go through
the one validation path (:func:`kpi_core.validation.validate`, unknown fields set aside) and one
kernel pass (:func:`kpi_core.kernel.score_arrays`). A row that fails validation, has no KPI data
or lacks a finite outcome is rejected with its reasons, not the call.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

from kpi_core.compare.ranks import FloatArray
from kpi_core.errors import InvalidValueError, truncate
from kpi_core.kernel import Missing, score_arrays
from kpi_core.validation import MAX_IGNORED_NAME, is_frame, validate
from kpi_core.weights import resolve_weighting

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Cohort", "load_cohort"]

#: Longest creator id echoed (the catalogue's limit).
MAX_ID_CHARS = 128
#: The reason of a row with no metric that feeds any KPI.
NO_KPI_REASON = "has no metric that feeds a KPI"
#: Problems listed per rejected row (the rest are counted).
MAX_REASONS = 5


@dataclass(slots=True)
class Cohort:
    """A cohort's KPI scores and outcome, with the rows left out and why."""

    kpi_scores: FloatArray
    outcome: FloatArray | None
    creator_ids: list[str | None]
    columns: Mapping[str, FloatArray]
    """Validated canonical columns (aliases resolved, money in the catalogue's currency)."""
    rejected: dict[int, list[str]]
    ignored: set[str]
    #: The values of the extra field asked for (a baseline that is not a metric); NaN where absent.
    extra: FloatArray | None = None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # a JSON integer beyond the float range
        return None
    return number if math.isfinite(number) else None


def _missing_outcome(outcome: str, value: object) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if missing or not isinstance(value, str | int | float):
        shown = "missing"
    else:
        shown = f"not a finite number (got {truncate(value)})"
    return f"{outcome} is {shown}; every creator needs the outcome"


def _creator_id(value: object) -> str | None:
    return value[:MAX_ID_CHARS] if isinstance(value, str) else None


def _raw(rows: Sequence[object] | pd.DataFrame, field: str) -> list[object] | None:
    """Each row's value of ``field`` as given (None where absent); None when no row has it."""
    if is_frame(rows):
        if field not in rows.columns:
            return None
        return cast("list[object]", rows[field].tolist())
    records = cast("Sequence[object]", rows)
    values: list[object] = []
    present = False
    for row in records:
        if isinstance(row, Mapping):
            record = cast("Mapping[str, object]", row)
            present = present or field in record
            values.append(record.get(field))
        else:
            values.append(None)
    return values if present else None


def _frame_numbers(frame: pd.DataFrame, field: str) -> FloatArray | None:
    """A frame's numeric (not boolean) column as floats without a Python loop (infinities
    kept); None for any other column."""
    types = importlib.import_module("pandas.api.types")
    column = frame[field]
    is_numeric = cast("Callable[[object], bool]", types.is_numeric_dtype)
    is_bool = cast("Callable[[object], bool]", types.is_bool_dtype)
    if not is_numeric(column.dtype) or is_bool(column.dtype):
        return None
    return np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _numbers(values: list[object] | None, size: int) -> FloatArray:
    """Finite numbers as floats, NaN for anything else (and everywhere when ``values`` is None)."""
    if values is None:
        return np.full(size, np.nan)
    numbers = [_number(value) for value in values]
    return np.array([math.nan if number is None else number for number in numbers])


def _outcome(
    rows: Sequence[object] | pd.DataFrame, outcome: str, rejected: dict[int, list[str]]
) -> FloatArray:
    """The outcome of every row; a valid-looking row without a finite one is rejected."""
    if is_frame(rows) and outcome in rows.columns:
        numbers = _frame_numbers(rows, outcome)
        if numbers is not None:  # a number column: only its bad cells need a look
            bad = ~np.isfinite(numbers)
            for row in np.flatnonzero(bad):
                reason = _missing_outcome(outcome, float(numbers[row]))
                rejected.setdefault(int(row), []).append(reason)
            return np.where(bad, np.nan, numbers)
    raw = _raw(rows, outcome)
    if raw is None:
        raise InvalidValueError(
            "outcome",
            "must name a field of the creators",
            outcome,
            "give each creator the next period's outcome, such as next_gmv",
        )
    values = _numbers(raw, len(raw))
    records: Sequence[object] = (
        [{}] * len(raw) if is_frame(rows) else cast("Sequence[object]", rows)
    )
    is_row = [isinstance(row, Mapping) for row in records]
    for row in np.flatnonzero(~np.isfinite(values)):
        if is_row[int(row)]:  # a row that is not an object has its own reason already
            rejected.setdefault(int(row), []).append(_missing_outcome(outcome, raw[int(row)]))
    return values


def _check_rows(rows: object) -> None:
    if is_frame(rows):
        return
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Sequence):
        raise InvalidValueError(
            "creators", "must be a list of objects of metrics or a DataFrame", type(rows).__name__
        )


def load_cohort(
    rows: Sequence[Mapping[str, object]] | pd.DataFrame,
    outcome: str | None,
    currency: str | None,
    extra: str | None = None,
    missing: Missing = "benchmark",
) -> Cohort:
    """Validate (the one validation path), score the KPIs once, and collect the rejected rows.

    ``extra`` names one more field to read as numbers, without rejecting a row that lacks it.
    """
    _check_rows(rows)
    validated = validate(rows, currency=currency, unknown="ignore", field="creators")
    size = validated.rows
    rejected: dict[int, list[str]] = {}
    for row in np.flatnonzero(validated.rejected):
        problems = validated.problems(int(row))
        reasons = [problem.message() for problem in problems[:MAX_REASONS]]
        if len(problems) > MAX_REASONS:
            reasons.append(f"and {len(problems) - MAX_REASONS} more")
        rejected[int(row)] = reasons
    outcome_values = None if outcome is None else _outcome(rows, outcome, rejected)
    columns = {
        name: np.where(validated.rejected, np.nan, values)
        for name, values in validated.columns.items()
    }
    kernel = score_arrays(columns, resolve_weighting("tiered").vector, n=size, missing=missing)
    kpi_scores = np.asarray(kernel.kpi_scores, dtype=np.float64).reshape(size, -1)
    for row in np.flatnonzero(np.isnan(kpi_scores).all(axis=1)):
        rejected.setdefault(int(row), [NO_KPI_REASON])
    set_aside = {name[:MAX_IGNORED_NAME] for name in (outcome, extra) if name is not None}
    return Cohort(
        kpi_scores=kpi_scores,
        outcome=outcome_values,
        creator_ids=[_creator_id(value) for value in validated.text("creator_id", range(size))],
        columns=columns,
        rejected=dict(sorted(rejected.items())),
        ignored=set(validated.ignored) - set_aside,
        extra=None if extra is None else _numbers(_raw(rows, extra), size),
    )
