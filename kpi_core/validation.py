"""The one validation path: raw metrics in, validated canonical columns out.

:func:`validate` takes one creator's metrics (a mapping, as decoded from JSON), a list of them, or
a DataFrame (one creator per row), and returns :class:`ValidatedMetrics`: a float64 column per
canonical numeric metric (NaN means missing), the text fields, and the rows that broke a rule with
every problem named (field, rule, value, hint). Every scoring path goes through it: ``score`` and
``parse_metrics`` (one creator), ``score_frame``, cohorts, the batch engines and the scorecard.

The steps, the same for every source:

1. **Types.** A record's numeric fields must be JSON numbers (not booleans, not strings, finite),
   its text fields strings. A frame's numeric column is read as numbers; a cell that is not one
   (``"lots"`` in a CSV column) breaks the rule for its row.
2. **Names.** A record's unknown field breaks the rule (``unknown="reject"``, the default: the
   hint names the nearest known field) or is set aside (``unknown="ignore"``); a frame's columns
   that are not metrics are always set aside (``ignored``).
3. **Ranges** (:func:`out_of_range`, the one rule, on whole arrays): share-type fractions in
   [0, 1], counts whole and non-negative, each metric inside the catalogue's range.
4. **String caps**: each text field at most its catalogue length.
5. **Aliases** (``total_revenue`` -> ``gmv``): an alias fills its target; both given and different
   breaks the rule.
6. **Currency**: the call's currency (``currency``; for one record, else the record's
   ``currency`` field; else the catalogue's) must be configured; each row's ``currency`` field
   must agree with it; money columns are converted into the catalogue's currency, which is the
   currency of every number afterwards.

Problems are found with array operations and worded only when asked for
(:meth:`ValidatedMetrics.problems`), so a million rows with a few bad ones stay cheap. A bad
cell is blanked (NaN) in its column, and its row is flagged in ``rejected``.
"""

from __future__ import annotations

import difflib
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeGuard, cast

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import Metric, load_catalogue
from kpi_core.errors import (
    ConflictingValuesError,
    CurrencyError,
    InvalidValueError,
    KpiError,
    Problem,
    UnknownFieldError,
    field_name,
    truncate,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MONEY_FIELDS",
    "UnknownFields",
    "ValidatedMetrics",
    "describe_value",
    "is_frame",
    "out_of_range",
    "validate",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

#: What to do with a record's field that is not in the catalogue.
UnknownFields = Literal["reject", "ignore"]

#: Fields converted by the exchange rate when a call's currency is not the catalogue's.
MONEY_FIELDS: tuple[str, ...] = ("gmv", "avg_order_value", "gpm", "creator_cost", "cpm")

#: Longest ignored field name kept (for a report of what was set aside).
MAX_IGNORED_NAME = 60

#: ``progress(fraction_done)`` while records are read; an exception it raises aborts the call.
RecordProgress = Callable[[float], object]

_ROW_NOT_OBJECT = "must be an object of metric names to values"


# --------------------------------------------------------------------------------------------
# the rules


def out_of_range(
    values: FloatArray,
    low: float | FloatArray,
    high: float | FloatArray,
    whole: bool | BoolArray,
) -> BoolArray:
    """Cells of ``values`` that break their range rule (NaN is missing, so it is not flagged).

    ``low``, ``high`` and ``whole`` (a count must be a whole number) are one metric's rule, or one
    entry per cell. Infinite values fall outside every range (the catalogue's are finite).
    """
    bad = (values < low) | (values > high)
    if np.any(whole):
        bad |= whole & (np.floor(values) < values)
    return bad


def _range_rule(metric: Metric) -> str:
    low, high = f"{metric.low:g}", f"{metric.high:g}"
    match metric.kind:
        case "fraction":
            return "must be a fraction in [0, 1] (0.05 means 5%)"
        case "count":
            return f"must be a whole number in [0, {high}]"
        case "money":
            return f"must be an amount in [0, {high}] in the call's currency"
        case "growth":
            return f"must be a relative change in [{low}, {high}] (0.2 means +20%)"
        case _:
            return f"must be a number in [{low}, {high}]"


def describe_value(metric: Metric, value: float, field: str | None = None) -> Problem:
    """The problem of a ``value`` that :func:`out_of_range` flagged (or that is not finite), in
    our words; ``field`` is the name the caller used (an alias, a column label)."""
    name = metric.name if field is None else field
    shown = truncate(value)
    if not math.isfinite(value):
        return Problem(
            name, "must be a finite number", shown, "omit the field when the value is unknown"
        )
    if metric.kind == "fraction" and 1.0 < value <= 100.0:
        return Problem(name, _range_rule(metric), shown, f"did you mean {value / 100:g}?")
    return Problem(name, _range_rule(metric), shown)


def _too_long_rule(metric: Metric) -> str:
    return f"must be at most {metric.max_length} characters"


def _nearest(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else "see kpi://metrics for the field list"


@dataclass(frozen=True, slots=True)
class _Rules:
    """The catalogue's numeric rules as arrays indexed by field (canonical names and aliases)."""

    names: tuple[str, ...]
    index: Mapping[str, int]
    metrics: tuple[Metric, ...]
    low: FloatArray
    high: FloatArray
    whole: BoolArray
    text: Mapping[str, Metric]
    known: tuple[str, ...]


@cache
def _rules() -> _Rules:
    catalogue = load_catalogue()
    names = [name for name, metric in catalogue.metrics.items() if metric.is_numeric]
    names += [alias for alias, target in catalogue.aliases.items() if target in names]
    metrics = tuple(catalogue.metrics[catalogue.aliases.get(name, name)] for name in names)
    return _Rules(
        names=tuple(names),
        index={name: i for i, name in enumerate(names)},
        metrics=metrics,
        low=np.array([metric.low for metric in metrics]),
        high=np.array([metric.high for metric in metrics]),
        whole=np.array([metric.kind == "count" for metric in metrics]),
        text={name: metric for name, metric in catalogue.metrics.items() if not metric.is_numeric},
        known=(*catalogue.metrics, *catalogue.aliases),
    )


# --------------------------------------------------------------------------------------------
# the result


@dataclass(frozen=True, slots=True)
class _Found:
    """One problem found while reading a record (``order``: its place among the record's)."""

    order: int
    kind: type[KpiError]
    problem: Problem


@dataclass(frozen=True, slots=True)
class _Failure:
    """Rows that break one rule of one field, and how to word the problem for a row."""

    kind: type[KpiError]
    mask: BoolArray
    describe: Callable[[int], Problem]


class _TextColumn:
    """A text field's values: a list for records, a pandas Series for frames (read lazily)."""

    def __init__(self, values: Sequence[object] | pd.Series) -> None:
        self._values = values

    def take(self, rows: Sequence[int] | IntArray) -> list[object]:
        if isinstance(self._values, Sequence):
            values = self._values
            return [values[int(row)] for row in rows]
        series = self._values
        taken = series.iloc[np.asarray(rows, dtype=np.intp)].to_numpy(dtype=object)
        return [None if _is_missing(value) else value for value in taken]


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True, slots=True)
class ValidatedMetrics:
    """Validated canonical columns (see the module docstring), one entry per input row.

    ``columns`` holds every numeric metric given (aliases resolved, money in ``currency``);
    bad cells are NaN and their rows are flagged in ``rejected``. ``currency`` is the catalogue's
    currency, the one every money value is now in; ``input_currency`` is the call's.
    """

    rows: int
    columns: Mapping[str, FloatArray]
    currency: str
    input_currency: str
    rejected: BoolArray
    ignored: tuple[str, ...] = ()
    _texts: Mapping[str, _TextColumn] = field(default_factory=dict[str, _TextColumn])
    _found: Mapping[int, list[_Found]] = field(default_factory=dict[int, list[_Found]])
    _failures: tuple[_Failure, ...] = ()

    @property
    def converted(self) -> bool:
        """True when money was converted from another currency."""
        return self.input_currency != self.currency

    def text(self, name: str, rows: Sequence[int] | IntArray) -> list[object]:
        """The raw values of text field ``name`` (such as ``creator_id``) in ``rows``; None where
        missing. Values of rejected rows are returned as given (cap them before echoing)."""
        column = self._texts.get(name)
        if column is None:
            return [None] * len(rows)
        return column.take(rows)

    def found(self, row: int) -> list[tuple[type[KpiError], Problem]]:
        """Every problem of ``row`` with its error kind, in the order found (empty when valid)."""
        if not self.rejected[row]:
            return []
        found = [(item.kind, item.problem) for item in self._found.get(row, [])]
        found += [(f.kind, f.describe(row)) for f in self._failures if f.mask[row]]
        return found

    def problems(self, row: int) -> list[Problem]:
        """Every problem of ``row`` (empty when it is valid)."""
        return [problem for _, problem in self.found(row)]

    def error(self, row: int) -> KpiError:
        """One error carrying every problem of a rejected ``row`` (of the first problem's kind)."""
        found = self.found(row)
        if not found:
            raise ValueError(f"row {row} was not rejected")
        return found[0][0].from_problems([problem for _, problem in found])

    def record(self, row: int) -> dict[str, float | str]:
        """The row's values by canonical name, money in :attr:`currency`; re-sent as they are,
        they validate to the same numbers (``currency`` is set when the input named one)."""
        values: dict[str, float | str] = {}
        for name, column in self._texts.items():
            value = column.take([row])[0]
            if isinstance(value, str) and name != "currency":
                values[name] = value
        for name, numbers in self.columns.items():
            value = float(numbers[row])
            if not math.isnan(value):
                values[name] = value
        if "currency" in self._texts or self.converted:
            values["currency"] = self.currency
        return values


# --------------------------------------------------------------------------------------------
# the entry point


def is_frame(value: object) -> TypeGuard[pd.DataFrame]:
    """True for a pandas DataFrame (without importing pandas when nobody has).

    pandas may be in ``sys.modules`` half imported (the server's warm-up imports it on another
    thread), so its ``DataFrame`` is looked up, never assumed: no DataFrame can exist before it.
    """
    frame = getattr(sys.modules.get("pandas"), "DataFrame", None)
    return isinstance(frame, type) and isinstance(value, frame)


def validate(
    source: Mapping[str, object] | Sequence[object] | pd.DataFrame,
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    unknown: UnknownFields = "reject",
    field: str = "creators",
    progress: RecordProgress | None = None,
) -> ValidatedMetrics:
    """Validate one record, a list of records or a frame (see the module docstring).

    ``currency`` is the call's currency and ``fx_to_default`` maps each configured extra currency
    to its rate into the catalogue's currency. A call currency that is not configured raises
    :class:`~kpi_core.errors.CurrencyError` for a list or frame (an argument of the call); for one
    record it is one of the record's problems. ``field`` names the source in the errors about its
    shape. Nothing else raises: bad rows are flagged in ``rejected``.
    """
    single = isinstance(source, Mapping)
    if single:
        records: Sequence[object] = [source]
    elif is_frame(source):
        return _validate_frame(source, currency, fx_to_default, field)
    elif isinstance(source, str | bytes) or not isinstance(source, Sequence):
        raise InvalidValueError(
            field, "must be a list of metric objects or a DataFrame", type(source).__name__
        )
    else:
        records = source
    return _validate_records(
        records,
        _Currency.of(currency, fx_to_default, single=single, records=records),
        unknown,
        progress,
    )


# --------------------------------------------------------------------------------------------
# currency


@dataclass(frozen=True, slots=True)
class _Currency:
    """The call's currency, whether it is configured, and its rate into the catalogue's."""

    call: str
    default: str
    rates: Mapping[str, float]
    #: The rule the call's currency breaks, for one record (None: configured).
    problem: Problem | None

    @classmethod
    def of(
        cls,
        currency: str | None,
        fx_to_default: Mapping[str, float] | None,
        *,
        single: bool,
        records: Sequence[object] = (),
    ) -> _Currency:
        default = load_catalogue().default_currency
        call = currency
        if call is None and single:
            given = cast("Mapping[str, object]", records[0]).get("currency")
            call = given if isinstance(given, str) else None
        call = call or default
        rates = {default: 1.0, **(fx_to_default or {})}
        problem = None
        if call not in rates:
            problem = Problem(
                "currency",
                f"must be one of the configured currencies ({', '.join(sorted(rates))})",
                truncate(call),
                "convert the money fields, or configure the currency on the server",
            )
            if not single:
                raise CurrencyError.from_problems([problem])
        return cls(call, default, rates, problem)

    @property
    def rate(self) -> float:
        return self.rates.get(self.call, 1.0)

    def mismatch(self, other: BoolArray, given: Callable[[int], object]) -> _Failure | None:
        """The failure of the rows (``other``) whose own ``currency`` (``given(row)``) differs
        from the call's, or None."""
        if not other.any():
            return None
        rule = f"must match the call's currency ({self.call})"
        return _Failure(
            CurrencyError, other, lambda row: Problem("currency", rule, truncate(given(row)))
        )

    def convert(self, columns: dict[str, FloatArray]) -> None:
        rate = self.rate
        if rate != 1.0:
            for name in MONEY_FIELDS:
                if name in columns:
                    columns[name] = columns[name] * rate


# --------------------------------------------------------------------------------------------
# records


@dataclass(slots=True)
class _Cells:
    """The numeric cells of a list of records, flat: row, field index, value, order in record."""

    rows: list[int] = field(default_factory=list[int])
    fields: list[int] = field(default_factory=list[int])
    values: list[float] = field(default_factory=list[float])
    orders: list[int] = field(default_factory=list[int])


class _RecordReader:
    """Reads records cell by cell (types, names, text caps); ranges are checked afterwards on
    all numeric cells at once."""

    def __init__(self, size: int, unknown: UnknownFields) -> None:
        self.rules = _rules()
        self.unknown = unknown
        self.cells = _Cells()
        self.texts: dict[str, list[object]] = {}
        self.found: dict[int, list[_Found]] = {}
        self.ignored: set[str] = set()
        self.size = size

    def problem(self, row: int, order: int, kind: type[KpiError], problem: Problem) -> None:
        self.found.setdefault(row, []).append(_Found(order, kind, problem))

    def read(self, row: int, record: object) -> None:
        if not isinstance(record, Mapping):
            value = type(record).__name__
            self.problem(row, 0, InvalidValueError, Problem("row", _ROW_NOT_OBJECT, value))
            return
        fields = cast("Mapping[object, object]", record)
        index_of = self.rules.index.get
        cells = self.cells
        for order, (key, value) in enumerate(fields.items()):
            name = key if isinstance(key, str) else str(key)
            index = index_of(name)
            # the common case, inline: a known numeric field holding a plain JSON number
            if index is not None and (type(value) is float or type(value) is int):
                number = float(value) if type(value) is float or abs(value) < 2**53 else math.nan
                if not math.isnan(number):
                    cells.rows.append(row)
                    cells.fields.append(index)
                    cells.values.append(number)
                    cells.orders.append(order)
                    continue
            self.cell(row, order, name, value)

    def cell(self, row: int, order: int, name: str, value: object) -> None:
        index = self.rules.index.get(name)
        if index is None:
            text = self.rules.text.get(name)
            if text is not None:
                self.text(row, order, text, value)
            elif self.unknown == "reject":
                hint = _nearest(name, self.rules.known)
                problem = Problem(field_name(name), "is not a known metric", "", hint)
                self.problem(row, order, UnknownFieldError, problem)
            else:
                self.ignored.add(name[:MAX_IGNORED_NAME])
            return
        if value is None:
            return
        number = _number(name, value)
        if isinstance(number, Problem):
            self.problem(row, order, InvalidValueError, number)
            return
        if math.isnan(number):
            problem = describe_value(self.rules.metrics[index], number, name)
            self.problem(row, order, InvalidValueError, problem)
            return
        cells = self.cells
        cells.rows.append(row)
        cells.fields.append(index)
        cells.values.append(number)
        cells.orders.append(order)

    def text(self, row: int, order: int, metric: Metric, value: object) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            problem = Problem(metric.name, "must be a string", truncate(value))
        elif len(value) > metric.max_length:
            problem = Problem(metric.name, _too_long_rule(metric), truncate(value))
        else:
            column = self.texts.get(metric.name)
            if column is None:
                column = self.texts[metric.name] = [None] * self.size
            column[row] = value
            return
        self.problem(row, order, InvalidValueError, problem)

    def columns(self) -> dict[str, FloatArray]:
        """Check every numeric cell's range at once, then build one column per field given."""
        cells, rules = self.cells, self.rules
        values = np.array(cells.values, dtype=np.float64)
        fields = np.array(cells.fields, dtype=np.intp)
        bad = out_of_range(values, rules.low[fields], rules.high[fields], rules.whole[fields])
        for cell in np.flatnonzero(bad):
            index = int(fields[cell])
            problem = describe_value(rules.metrics[index], float(values[cell]), rules.names[index])
            self.problem(cells.rows[cell], cells.orders[cell], InvalidValueError, problem)
        if bad.any():
            values[bad] = np.nan
        if self.size == 1:  # one creator: each field is one cell, a view of the flat array
            return {
                rules.names[index]: values[cell : cell + 1]
                for cell, index in enumerate(cells.fields)
            }
        rows = np.array(cells.rows, dtype=np.intp)
        columns: dict[str, FloatArray] = {}
        order = np.argsort(fields, kind="stable")
        bounds = np.flatnonzero(np.diff(fields[order])) + 1
        for group in np.split(order, bounds) if len(order) else []:
            column = np.full(self.size, np.nan)
            column[rows[group]] = values[group]
            columns[rules.names[int(fields[group[0]])]] = column
        return columns


def _number(name: str, raw: object) -> float | Problem:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return Problem(name, "must be a number", truncate(raw))
    try:
        return float(raw)
    except OverflowError:  # a JSON integer beyond the float range, so beyond every metric's
        return Problem(name, "must be a finite number", truncate(raw), "see kpi://metrics")


def _validate_records(
    records: Sequence[object],
    money: _Currency,
    unknown: UnknownFields,
    progress: RecordProgress | None,
) -> ValidatedMetrics:
    size = len(records)
    reader = _RecordReader(size, unknown)
    tick = max(1, size // 20)
    for row, record in enumerate(records):
        reader.read(row, record)
        if progress is not None and (row + 1) % tick == 0:
            progress((row + 1) / size)
    columns = reader.columns()
    failures = _resolve_aliases(columns)
    given_currency = reader.texts.get("currency")
    if given_currency is not None:
        other = [value is not None and value != money.call for value in given_currency]
        mismatch = money.mismatch(np.array(other, dtype=bool), given_currency.__getitem__)
        if mismatch is not None:
            failures.append(mismatch)
    if money.problem is not None:  # one record whose currency is not configured
        reader.problem(0, sys.maxsize, CurrencyError, money.problem)
    money.convert(columns)
    for found in reader.found.values():
        found.sort(key=lambda item: item.order)
    return _result(
        size,
        columns,
        money,
        failures,
        texts={name: _TextColumn(values) for name, values in reader.texts.items()},
        found=reader.found,
        ignored=tuple(sorted(reader.ignored)),
    )


def _result(
    size: int,
    columns: dict[str, FloatArray],
    money: _Currency,
    failures: list[_Failure],
    *,
    texts: Mapping[str, _TextColumn],
    found: Mapping[int, list[_Found]],
    ignored: tuple[str, ...],
) -> ValidatedMetrics:
    rejected = np.zeros(size, dtype=bool)
    for failure in failures:
        rejected |= failure.mask
    if found:
        rejected[list(found)] = True
    return ValidatedMetrics(
        rows=size,
        columns=columns,
        currency=money.default,
        input_currency=money.call,
        rejected=rejected,
        ignored=ignored,
        _texts=texts,
        _found=found,
        _failures=tuple(failures),
    )


# --------------------------------------------------------------------------------------------
# aliases (both sources)


def _resolve_aliases(columns: dict[str, FloatArray]) -> list[_Failure]:
    """Fold each alias column into its target (in place); rows where both differ break a rule."""
    failures: list[_Failure] = []
    for alias, target in load_catalogue().aliases.items():
        given = columns.pop(alias, None)
        if given is None:
            continue
        existing = columns.get(target)
        if existing is None:
            columns[target] = given
            continue
        with np.errstate(invalid="ignore"):
            conflict = ~np.isclose(existing, given, rtol=1e-9, atol=1e-9, equal_nan=True)
        conflict &= ~np.isnan(existing) & ~np.isnan(given)
        if conflict.any():
            failures.append(_conflict(alias, target, existing, given, conflict))
        columns[target] = np.where(np.isnan(existing), given, existing)
    return failures


def _conflict(
    alias: str, target: str, existing: FloatArray, given: FloatArray, mask: BoolArray
) -> _Failure:
    rule = f"is an alias of {target} and must equal it when both are given"
    hint = f"give only one of {target} and {alias}"

    def describe(row: int) -> Problem:
        shown = f"{truncate(float(given[row]))} against {target} {truncate(float(existing[row]))}"
        return Problem(alias, rule, shown, hint)

    return _Failure(ConflictingValuesError, mask, describe)


# --------------------------------------------------------------------------------------------
# frames


def _validate_frame(
    frame: pd.DataFrame,
    currency: str | None,
    fx_to_default: Mapping[str, float] | None,
    field: str,
) -> ValidatedMetrics:
    labels = [str(column) for column in frame.columns]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise InvalidValueError(
            field, "must not repeat a column name", repeated[0], "rename or drop one copy"
        )
    money = _Currency.of(currency, fx_to_default, single=False)
    rules = _rules()
    columns: dict[str, FloatArray] = {}
    texts: dict[str, _TextColumn] = {}
    failures: list[_Failure] = []
    ignored: list[str] = []
    for column, label in zip(frame.columns, labels, strict=True):
        series = cast("pd.Series", frame[column])
        index = rules.index.get(label)
        if index is not None:
            columns[label] = _frame_numbers(series, label, rules.metrics[index], failures)
        elif label == "currency":
            other = (series.astype("string") != money.call).fillna(False).to_numpy(dtype=bool)
            mismatch = money.mismatch(other, series.iloc.__getitem__)
            if mismatch is not None:
                failures.append(mismatch)
        elif label in rules.text:
            _frame_text_caps(series, rules.text[label], failures)
            texts[label] = _TextColumn(series)
        else:
            ignored.append(label[:MAX_IGNORED_NAME])
    failures += _resolve_aliases(columns)
    money.convert(columns)
    return _result(
        len(frame), columns, money, failures, texts=texts, found={}, ignored=tuple(ignored)
    )


def _frame_numbers(
    series: pd.Series, label: str, metric: Metric, failures: list[_Failure]
) -> FloatArray:
    """A numeric column as float64 (cells that are not numbers or break the range are NaN)."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        present = series.notna().to_numpy(dtype=bool)
        if pd.api.types.is_bool_dtype(series.dtype):
            values = np.full(len(series), np.nan)
        else:
            coerced = cast("pd.Series", pd.to_numeric(cast("Any", series), errors="coerce"))
            values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
        not_number = present & np.isnan(values)
        if not_number.any():
            raw = series.to_numpy(dtype=object)
            failures.append(
                _Failure(
                    InvalidValueError,
                    not_number,
                    lambda row: Problem(label, "must be a number", truncate(raw[row])),
                )
            )
    bad = out_of_range(values, metric.low, metric.high, metric.kind == "count")
    if bad.any():
        flagged = values.copy()
        failures.append(
            _Failure(
                InvalidValueError,
                bad,
                lambda row: describe_value(metric, float(flagged[row]), label),
            )
        )
        values = np.where(bad, np.nan, values)
    return values


def _frame_text_caps(series: pd.Series, metric: Metric, failures: list[_Failure]) -> None:
    import pandas as pd

    if not (pd.api.types.is_string_dtype(series.dtype) or series.dtype == object):
        return
    lengths = series.astype("string").str.len()
    too_long = (lengths > metric.max_length).fillna(False).to_numpy(dtype=bool)
    if too_long.any():
        raw = series.to_numpy(dtype=object)
        rule = _too_long_rule(metric)
        failures.append(
            _Failure(
                InvalidValueError,
                too_long,
                lambda row: Problem(metric.name, rule, truncate(raw[row])),
            )
        )
