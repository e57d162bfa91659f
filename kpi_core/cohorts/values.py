"""Parsing exported cells into numbers, one batch column at a time, counting every repair.

Each parser takes a pyarrow array (numbers, text, dictionary-encoded text, booleans, times) and
returns a :class:`Parsed`: float64 values (NaN for missing), the mask of cells that could not be
read, and one mask per kind of repair. Text is parsed once per distinct value (the batch's
dictionary), so a column of a few repeated strings costs a few regex matches, and a cell longer
than :data:`MAX_NUMBER_CELL` characters is refused without being matched at all.

What is read, and the repair code each counts:

* counts: ``1.2K`` / ``3.4M`` / ``1B`` (``abbreviated``), ``48,000`` (``thousands_separator``),
  the button labels TikTok shows instead of a zero (``Share``, ``Like``, ``Comment``, ``Save``:
  ``button_label``, read as 0), fractional counts rounded half up (``rounded``);
* money: the same forms, with a leading currency symbol dropped (``currency_symbol``);
* fractions and growth rates: ``3.5%`` -> 0.035 (``percent``); numbers under a header that says
  percent are divided by 100 (``percent_header``);
* durations: ``mm:ss``, ``h:mm:ss``, ``45``, ``45s`` (``clock_duration`` for the clock forms).
  Text is never read as a time of day: ``00:15`` is 15 seconds, not 900;
* posting times: ISO 8601 (no offset: UTC), epoch seconds or milliseconds, US dates;
* flags: ``yes``/``no``, ``true``/``false``, ``y``/``n``, ``1``/``0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_NUMBER_CELL",
    "NULL_TOKENS",
    "Parsed",
    "ValueKind",
    "compute",
    "parse_column",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

ValueKind = Literal["count", "money", "fraction", "growth", "real", "seconds", "time", "flag"]

#: Longest cell read as a number, duration or time (longer cells are refused unread).
MAX_NUMBER_CELL = 64

NULL_TOKENS = frozenset({"", "-", "--", "—", "n/a", "na", "nan", "null", "none", "#n/a"})
_BUTTON_LABELS = frozenset(
    {"share", "shares", "like", "likes", "comment", "comments", "save", "saves", "favorite"}
)
_TRUE_TOKENS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE_TOKENS = frozenset({"false", "f", "no", "n", "0", "0.0"})
_NUMBER = (
    r"^(?P<sign>[+-])?\s*(?P<cur>[$€£¥])?\s*(?P<int>\d{1,3}(?:,\d{3})+|\d+)?"
    r"(?P<frac>\.\d+)?\s*(?P<suffix>[kKmMbB])?\s*(?P<pct>%)?$"
)
_PLAIN = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_CLOCK = re.compile(r"^(?:(?P<h>\d+):)?(?P<m>\d{1,2}):(?P<s>\d{2}(?:\.\d+)?)$")
_SECONDS = r"^(?P<v>\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds)?$"
_US_DATE_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y")
_MULTIPLIERS = {"k": 1e3, "m": 1e6, "b": 1e9}
#: Epoch values above this are taken as milliseconds (1e11 s is the year 5138).
EPOCH_MS_ABOVE = 1e11


@dataclass(slots=True)
class Parsed:
    """Parsed values of one batch column: NaN where missing or unreadable."""

    values: FloatArray
    invalid: BoolArray
    invalid_code: str
    repairs: dict[str, BoolArray] = field(default_factory=dict[str, "BoolArray"])


def compute() -> Any:
    """``pyarrow.compute`` (its functions are generated at import, so no type checker sees them)."""
    import pyarrow.compute

    return pyarrow.compute


_INVALID_CODES: dict[ValueKind, str] = {
    "count": "not_a_count",
    "money": "not_a_number",
    "fraction": "not_a_number",
    "growth": "not_a_number",
    "real": "not_a_number",
    "seconds": "not_a_duration",
    "time": "bad_timestamp",
    "flag": "not_a_flag",
}


def parse_column(array: Any, kind: ValueKind, *, percent_header: bool = False) -> Parsed:
    """Parse one pyarrow array (a batch's column) as ``kind`` (see the module docstring)."""
    import pyarrow as pa

    chunk = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    kind_type = chunk.type
    if pa.types.is_dictionary(kind_type):
        indices = chunk.indices.to_numpy(zero_copy_only=False)
        nulls = np.asarray(chunk.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        unique = _parse_plain(chunk.dictionary, kind, percent_header)
        take = np.where(nulls, 0, np.nan_to_num(indices, nan=0)).astype(np.intp)
        return _take(unique, take, nulls)
    return _parse_plain(chunk, kind, percent_header)


def _take(unique: Parsed, take: npt.NDArray[np.intp], nulls: BoolArray) -> Parsed:
    if unique.values.size == 0:
        n = take.size
        return Parsed(np.full(n, np.nan), np.zeros(n, dtype=bool), unique.invalid_code, {})
    values = unique.values[take]
    values[nulls] = np.nan
    invalid = unique.invalid[take] & ~nulls
    repairs = {code: mask[take] & ~nulls for code, mask in unique.repairs.items()}
    return Parsed(values, invalid, unique.invalid_code, repairs)


def _parse_plain(chunk: Any, kind: ValueKind, percent_header: bool) -> Parsed:
    import pyarrow as pa

    code = _INVALID_CODES[kind]
    n = len(chunk)
    kind_type = chunk.type
    if kind == "time" and (pa.types.is_timestamp(kind_type) or pa.types.is_date(kind_type)):
        return Parsed(_epoch_of_timestamps(chunk), np.zeros(n, dtype=bool), code)
    if pa.types.is_time(kind_type) and kind == "seconds":
        micros = chunk.cast(pa.time64("us")).cast(pa.int64()).to_numpy(zero_copy_only=False)
        values = np.asarray(micros, dtype=np.float64) / 1e6
        return Parsed(values, np.zeros(n, dtype=bool), code)
    if pa.types.is_boolean(kind_type):
        if kind != "flag":
            return Parsed(np.full(n, np.nan), chunk.is_valid().to_numpy(zero_copy_only=False), code)
        values = chunk.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return Parsed(np.asarray(values, dtype=np.float64), np.zeros(n, dtype=bool), code)
    if pa.types.is_integer(kind_type) or pa.types.is_floating(kind_type):
        values = np.asarray(chunk.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)
        return _from_numbers(values, kind, percent_header)
    if not (pa.types.is_string(kind_type) or pa.types.is_large_string(kind_type)):
        text = chunk.cast(pa.string()) if _castable(chunk) else None
        if text is None:
            return Parsed(np.full(n, np.nan), chunk.is_valid().to_numpy(zero_copy_only=False), code)
        chunk = text
    return _from_text(chunk, kind, percent_header)


def _castable(chunk: Any) -> bool:
    import pyarrow as pa

    try:
        chunk.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _epoch_of_timestamps(chunk: Any) -> FloatArray:
    import pyarrow as pa

    stamps = (
        chunk.cast(pa.timestamp("ms", tz="UTC"))
        if not pa.types.is_timestamp(chunk.type)
        else chunk.cast(pa.timestamp("ms", tz=chunk.type.tz or "UTC"))
    )
    millis = stamps.cast(pa.int64()).to_numpy(zero_copy_only=False)
    values = np.asarray(millis, dtype=np.float64) / 1000.0
    values[np.asarray(chunk.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = np.nan
    return values


def _from_numbers(values: FloatArray, kind: ValueKind, percent_header: bool) -> Parsed:
    code = _INVALID_CODES[kind]
    n = values.size
    repairs: dict[str, BoolArray] = {}
    if kind == "time":
        millis = values > EPOCH_MS_ABOVE
        invalid = np.isinf(values)
        values = np.where(millis, values / 1000.0, values)
        return Parsed(np.where(invalid, np.nan, values), invalid, code)
    if kind == "flag":
        true = values == 1.0
        false = values == 0.0
        invalid = ~np.isnan(values) & ~true & ~false
        return Parsed(np.where(true, 1.0, np.where(false, 0.0, np.nan)), invalid, code)
    invalid = np.isinf(values)
    if kind not in ("growth",):
        invalid |= values < 0
    values = np.where(invalid, np.nan, values)
    if percent_header and kind in ("fraction", "growth"):
        repairs["percent_header"] = ~np.isnan(values)
        values = values / 100.0
    if kind == "count":
        rounded: FloatArray = np.floor(values + 0.5)
        repairs["rounded"] = ~np.isnan(values) & (np.abs(rounded - values) > 1e-9)
        values = rounded
    assert values.size == n
    return Parsed(values, invalid, code, repairs)


def _series(chunk: Any) -> pd.Series:
    import pandas as pd

    return pd.Series(chunk.to_numpy(zero_copy_only=False), dtype=object)


def _from_text(chunk: Any, kind: ValueKind, percent_header: bool) -> Parsed:
    import pyarrow as pa

    pc = compute()
    code = _INVALID_CODES[kind]
    n = len(chunk)
    stripped = pc.utf8_trim_whitespace(chunk)
    lengths = np.asarray(pc.utf8_length(stripped).to_numpy(zero_copy_only=False), dtype=np.float64)
    too_long = np.nan_to_num(lengths, nan=0.0) > MAX_NUMBER_CELL
    lower = pc.utf8_lower(stripped)
    missing = np.asarray(
        pc.fill_null(pc.is_in(lower, value_set=pa.array(sorted(NULL_TOKENS))), True).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    ) | np.asarray(stripped.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if kind == "time":
        return _parse_times(stripped, missing | too_long, too_long, code)
    if kind == "flag":
        return _parse_flags(lower, missing, too_long, code)
    if kind == "seconds":
        return _parse_durations(stripped, missing | too_long, too_long, code)
    plain = np.asarray(
        pc.fill_null(pc.match_substring_regex(stripped, _PLAIN), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    plain &= ~missing & ~too_long
    values = np.full(n, np.nan)
    if plain.any():
        numbers = pc.cast(pc.filter(stripped, pa.array(plain)), pa.float64())
        values[plain] = np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=np.float64)
    numeric = _from_numbers(values, kind, percent_header)
    rest = ~plain & ~missing & ~too_long
    invalid = numeric.invalid | too_long
    repairs = numeric.repairs
    if rest.any():
        _parse_formatted(pc.filter(stripped, pa.array(rest)), rest, kind, numeric, repairs)
        invalid = numeric.invalid | too_long
    return Parsed(numeric.values, invalid, code, repairs)


def _parse_formatted(
    text: Any, rest: BoolArray, kind: ValueKind, numeric: Parsed, repairs: dict[str, BoolArray]
) -> None:
    """Cells that are not plain numbers: suffixes, separators, percent, labels (in place)."""
    import pandas as pd

    series = _series(text)
    lower = series.str.lower()
    positions = np.flatnonzero(rest)
    n = numeric.values.size

    def mark(code: str, where: BoolArray) -> None:
        mask = repairs.setdefault(code, np.zeros(n, dtype=bool))
        mask[positions[where]] = True

    label = lower.isin(_BUTTON_LABELS).to_numpy(dtype=bool) & (kind == "count")
    numeric.values[positions[label]] = 0.0
    mark("button_label", label)
    parts = series.str.extract(_NUMBER)
    has_digits = (parts["int"].notna() | parts["frac"].notna()).to_numpy(dtype=bool)
    suffix = parts["suffix"].str.lower()
    pct = parts["pct"].notna().to_numpy(dtype=bool)
    allowed_pct = kind in ("fraction", "growth")
    matched = has_digits & ~label & (~pct | allowed_pct)
    integer = parts["int"].fillna("").str.replace(",", "", regex=False)
    digits = integer.where(integer != "", "0") + parts["frac"].fillna("")
    magnitude = _floats(digits.where(pd.Series(matched, index=digits.index)))
    multiplier = suffix.map(_MULTIPLIERS).astype("float64").fillna(1.0).to_numpy(dtype=np.float64)
    sign = np.where((parts["sign"] == "-").to_numpy(dtype=bool, na_value=False), -1.0, 1.0)
    value = magnitude * multiplier * sign
    value = np.where(pct, value / 100.0, value)
    negative = matched & (value < 0) & (kind != "growth")
    good = matched & ~negative
    if kind == "count":
        value = np.floor(value + 0.5)
    numeric.values[positions[good]] = value[good]
    numeric.invalid[positions[~good & ~label]] = True
    mark("abbreviated", good & suffix.notna().to_numpy(dtype=bool))
    separators = parts["int"].str.contains(",", regex=False).to_numpy(dtype=bool, na_value=False)
    mark("thousands_separator", good & separators)
    mark("percent", good & pct)
    mark("currency_symbol", good & parts["cur"].notna().to_numpy(dtype=bool))


def _parse_flags(lower: Any, missing: BoolArray, too_long: BoolArray, code: str) -> Parsed:
    series = _series(lower)
    true = series.isin(_TRUE_TOKENS).to_numpy(dtype=bool) & ~missing
    false = series.isin(_FALSE_TOKENS).to_numpy(dtype=bool) & ~missing
    values = np.where(true, 1.0, np.where(false, 0.0, np.nan))
    return Parsed(values, (~missing | too_long) & ~true & ~false, code)


def _parse_durations(text: Any, skip: BoolArray, too_long: BoolArray, code: str) -> Parsed:
    series = _series(text)
    n = len(series)
    clock = series.str.extract(_CLOCK)
    hours = np.nan_to_num(_floats(clock["h"]), nan=0.0)
    minutes = _floats(clock["m"])
    seconds = _floats(clock["s"])
    has_hours = clock["h"].notna().to_numpy(dtype=bool)
    clock_ok = ~np.isnan(minutes) & (seconds < 60) & (~has_hours | (minutes < 60)) & ~skip
    plain = _floats(series.str.extract(_SECONDS)["v"])
    plain_ok = ~np.isnan(plain) & ~skip & ~clock_ok
    values = np.full(n, np.nan)
    values[clock_ok] = (hours * 3600 + minutes * 60 + seconds)[clock_ok]
    values[plain_ok] = plain[plain_ok]
    invalid = (~skip & ~clock_ok & ~plain_ok) | too_long
    return Parsed(values, invalid, code, {"clock_duration": clock_ok})


def _floats(values: pd.Series) -> FloatArray:
    import pandas as pd

    result = cast("pd.Series", pd.to_numeric(cast("Any", values), errors="coerce"))
    return result.to_numpy(dtype=np.float64, na_value=np.nan)


def _epoch_seconds(times: Any) -> FloatArray:
    import pandas as pd

    index = pd.DatetimeIndex(times).as_unit("ms")
    seconds = index.asi8.astype(np.float64) / 1000.0
    seconds[np.asarray(index.isna(), dtype=bool)] = np.nan
    return seconds


def _parse_times(text: Any, skip: BoolArray, too_long: BoolArray, code: str) -> Parsed:
    import pandas as pd

    series = _series(text)
    n = len(series)
    values = np.full(n, np.nan)
    matches = series.str.fullmatch(r"\d{9,14}(?:\.\d+)?")
    numeric = matches.to_numpy(dtype=bool, na_value=False) & ~skip
    if numeric.any():
        raw = _floats(series.loc[numeric])
        values[numeric] = np.where(raw > EPOCH_MS_ABOVE, raw / 1000.0, raw)
    rest = ~skip & ~numeric
    if rest.any():
        parsed = pd.to_datetime(series[rest], format="ISO8601", utc=True, errors="coerce")
        values[rest] = _epoch_seconds(parsed)
    for pattern in _US_DATE_FORMATS:
        left = ~skip & np.isnan(values)
        if not left.any():
            break
        parsed = pd.to_datetime(series[left], format=pattern, utc=True, errors="coerce")
        values[left] = _epoch_seconds(parsed)
    invalid = (~skip & np.isnan(values)) | too_long
    return Parsed(values, invalid, code)
