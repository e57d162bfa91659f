"""Collecting parsed batches into columns: numbers as float64, text as codes into one dictionary.

A :class:`Collector` receives the reader's batches (header -> pyarrow array, only the applied
columns), parses each column by its canonical name's kind (:func:`kind_of`), counts every repair
and unreadable value in a :class:`~kpi_core.cohorts.report.NoteBook` (with a few examples by row
number), and keeps only what aggregation and scoring need: 8 bytes a row for a number, 8 for a
text code, and each distinct text once. Text cells longer than their field's cap (the
catalogue's ``max_length``: 128 characters for a creator id) are never kept: the cell's code
says "too long" and the row is dropped or rejected with that reason. The memory held is checked
against the budget after every batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import load_catalogue
from kpi_core.cohorts.report import NoteBook, cap_text
from kpi_core.cohorts.values import NULL_TOKENS, Parsed, ValueKind, compute, parse_column
from kpi_core.errors import InvalidValueError

__all__ = [
    "MISSING",
    "TOO_LONG",
    "Collected",
    "Collector",
    "ColumnKind",
    "TextColumn",
    "kind_of",
]

FloatArray = npt.NDArray[np.float64]
CodeArray = npt.NDArray[np.int64]

ColumnKind = ValueKind | Literal["text", "hash"]

#: Text codes: a missing cell, and a cell over its field's cap.
MISSING = -1
TOO_LONG = -2

#: Unreadable cells kept per column (their text, capped, for the reasons of rejected rows).
MAX_BAD_CELLS = 10_000

#: Cap on a text cell whose field has no catalogue cap (video ids, unknown text).
DEFAULT_TEXT_CAP = 256

_BY_CATALOGUE_KIND: Mapping[str, ValueKind] = MappingProxyType(
    {
        "count": "count",
        "money": "money",
        "fraction": "fraction",
        "growth": "growth",
        "ratio": "real",
        "per_week": "real",
        "seconds": "seconds",
    }
)
_PER_VIDEO_KINDS: Mapping[str, ColumnKind] = MappingProxyType(
    {
        "video_id": "hash",
        "posted_at": "time",
        "duration": "seconds",
        "trending_sound": "flag",
    }
)

MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "not_a_number": "is not a number; the value is ignored",
        "not_a_count": "is not a non-negative count; the value is ignored",
        "not_a_duration": "is not a duration (seconds, mm:ss or h:mm:ss); the value is ignored",
        "not_a_flag": "is not yes/no, true/false or 1/0; the value is ignored",
        "bad_timestamp": "is not a date-time; the value is ignored",
        "abbreviated": "abbreviated count read as {value:.0f}",
        "thousands_separator": "thousands separators removed; read as {value:g}",
        "rounded": "not a whole count; rounded to {value:.0f}",
        "clock_duration": "clock time read as {value:g} s",
        "button_label": "a button label (TikTok shows it instead of 0); read as 0",
        "percent": "percent read as the fraction {value:g}",
        "percent_header": "the header says percent; read as the fraction {value:g}",
        "currency_symbol": "currency symbol dropped; read as {value:g}",
    }
)


def kind_of(canonical: str) -> ColumnKind:
    """How a canonical column is parsed."""
    if canonical in _PER_VIDEO_KINDS:
        return _PER_VIDEO_KINDS[canonical]
    metric = load_catalogue().metrics.get(canonical)
    if metric is None or metric.kind == "text":
        return "text"
    return _BY_CATALOGUE_KIND.get(metric.kind, "real")


def _text_cap(canonical: str) -> int:
    metric = load_catalogue().metrics.get(canonical)
    if metric is not None and metric.max_length:
        return metric.max_length
    return DEFAULT_TEXT_CAP


@dataclass(slots=True)
class TextColumn:
    """Text as codes into ``uniques`` (:data:`MISSING`, :data:`TOO_LONG` otherwise)."""

    codes: CodeArray
    uniques: list[str]

    def text(self, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.object_]:
        """The text of ``rows`` (None when missing or over the cap)."""
        table = np.empty(len(self.uniques) + 2, dtype=object)
        table[: len(self.uniques)] = self.uniques
        table[-2:] = None  # MISSING (-1) and TOO_LONG (-2) index from the end
        return table[self.codes[rows]]


@dataclass(slots=True)
class Collected:
    """All rows of the applied columns, parsed."""

    rows: int
    numbers: dict[str, FloatArray]
    invalid: dict[str, npt.NDArray[np.bool_]]
    texts: dict[str, TextColumn]
    hashes: dict[str, npt.NDArray[np.uint64]]
    notes: NoteBook
    bad_cells: dict[str, dict[int, str]] = field(default_factory=dict[str, dict[int, str]])
    headers: dict[str, str] = field(default_factory=dict[str, str])


@dataclass(slots=True)
class _Column:
    canonical: str
    source: str
    kind: ColumnKind
    percent: bool
    chunks: list[Any] = field(default_factory=list[Any])
    invalid: list[Any] = field(default_factory=list[Any])
    dictionaries: list[Any] = field(default_factory=list[Any])


class Collector:
    """Parses batches column by column and keeps the results (see the module docstring)."""

    def __init__(
        self,
        columns: Sequence[tuple[str, str, bool]],
        notes: NoteBook,
        *,
        memory_budget: int,
    ) -> None:
        """``columns``: (header, canonical name, header says percent) for each applied column."""
        self.columns = [
            _Column(canonical, source, kind_of(canonical), percent)
            for source, canonical, percent in columns
        ]
        self.notes = notes
        self.memory_budget = memory_budget
        self.rows = 0
        self.held = 0
        self.bad_cells: dict[str, dict[int, str]] = {}

    def add(self, batch: Mapping[str, Any]) -> None:
        """Parse one batch (header -> pyarrow array of equal lengths)."""
        length = len(next(iter(batch.values()))) if batch else 0
        for column in self.columns:
            array = batch[column.source]
            if column.kind == "text":
                column.chunks.append(self._text(column, array))
            elif column.kind == "hash":
                column.chunks.append(_hashes(array))
            else:
                parsed = parse_column(array, column.kind, percent_header=column.percent)
                self._count(column, parsed, array)
                column.chunks.append(parsed.values)
                column.invalid.append(parsed.invalid)
            self.held += column.chunks[-1].nbytes + length
        self.rows += length
        if self.held > self.memory_budget:
            raise InvalidValueError(
                "path",
                f"needs more than the memory budget of {self.memory_budget / 2**20:,.0f} MB "
                "to read",
                f"{self.rows:,} rows read so far",
                "split the file, or raise the memory budget in the server's configuration",
            )

    def _count(self, column: _Column, parsed: Parsed, array: Any) -> None:
        offset = self.rows
        # An unreadable posting time drops its row, and the drop is what is counted.
        invalid_rows = np.flatnonzero(parsed.invalid) if column.kind != "time" else np.zeros(0, int)
        bad = self.bad_cells.setdefault(column.canonical, {})
        for row in invalid_rows[: max(0, MAX_BAD_CELLS - len(bad))]:
            bad[offset + int(row)] = _cell(array, int(row))
        if self.notes.count(parsed.invalid_code, invalid_rows.size):
            for row in invalid_rows[: self.notes.wants(parsed.invalid_code, column.canonical)]:
                self.notes.example(
                    offset + int(row),
                    column.canonical,
                    "value_dropped",
                    parsed.invalid_code,
                    MESSAGES[parsed.invalid_code],
                    _cell(array, int(row)),
                )
        for code, mask in parsed.repairs.items():
            repaired = np.flatnonzero(mask)
            if not self.notes.count(code, repaired.size):
                continue
            for row in repaired[: self.notes.wants(code, column.canonical)]:
                value = float(parsed.values[row])
                self.notes.example(
                    offset + int(row),
                    column.canonical,
                    "value_repaired",
                    code,
                    MESSAGES[code].format(value=value),
                    _cell(array, int(row)),
                )

    def _text(self, column: _Column, array: Any) -> CodeArray:
        """Codes into the batches' cleaned dictionaries, laid end to end (unified in
        :meth:`finish`); a missing cell is :data:`MISSING`, one over its cap :data:`TOO_LONG`,
        and such cells' text is not kept."""
        import pyarrow as pa

        pc = compute()
        chunk = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
        if not pa.types.is_dictionary(chunk.type):
            if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
                chunk = chunk.cast(pa.string())
            chunk = pc.dictionary_encode(chunk)
        trimmed = pc.utf8_trim_whitespace(chunk.dictionary.cast(pa.string()))
        lengths = pc.fill_null(pc.utf8_length(trimmed), 0).to_numpy(zero_copy_only=False)
        null_set = pa.array(sorted(NULL_TOKENS))
        missing = pc.fill_null(pc.is_in(pc.utf8_lower(trimmed), value_set=null_set), True)
        missing_mask = np.asarray(missing.to_numpy(zero_copy_only=False), dtype=bool)
        too_long = (np.asarray(lengths) > _text_cap(column.canonical)) & ~missing_mask
        flagged = missing_mask | too_long
        offset = sum(len(kept) for kept in column.dictionaries)
        local = np.arange(offset, offset + len(trimmed) + 1, dtype=np.int64)
        local[:-1][missing_mask] = MISSING
        local[:-1][too_long] = TOO_LONG
        local[-1] = MISSING
        column.dictionaries.append(pc.if_else(pa.array(flagged), "", trimmed))
        indices = chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return local[np.asarray(indices, dtype=np.intp)]

    def finish(self) -> Collected:
        """The columns, concatenated."""
        numbers: dict[str, FloatArray] = {}
        invalid: dict[str, npt.NDArray[np.bool_]] = {}
        texts: dict[str, TextColumn] = {}
        hashes: dict[str, npt.NDArray[np.uint64]] = {}
        for column in self.columns:
            if column.kind == "text":
                texts[column.canonical] = _unified(column)
            elif column.kind == "hash":
                hashes[column.canonical] = _concat(column.chunks, np.uint64)
            else:
                numbers[column.canonical] = _concat(column.chunks, np.float64)
                invalid[column.canonical] = _concat(column.invalid, np.bool_)
            column.chunks.clear()
            column.invalid.clear()
            column.dictionaries.clear()
        headers = {column.canonical: column.source for column in self.columns}
        return Collected(
            self.rows, numbers, invalid, texts, hashes, self.notes, self.bad_cells, headers
        )


def _unified(column: _Column) -> TextColumn:
    """One dictionary for all batches: the batches' codes mapped onto its distinct values."""
    import pyarrow as pa

    raw = _concat(column.chunks, np.int64)
    if not column.dictionaries:
        return TextColumn(raw, [])
    encoded = compute().dictionary_encode(pa.concat_arrays(column.dictionaries))
    remap = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    codes = np.where(raw >= 0, remap[np.maximum(raw, 0)], raw)
    return TextColumn(codes, encoded.dictionary.to_pylist())


def _concat(chunks: list[Any], dtype: Any) -> Any:
    if not chunks:
        return np.zeros(0, dtype=dtype)
    return np.concatenate(chunks).astype(dtype, copy=False)


def _hashes(array: Any) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each cell's text (0 for a missing cell): video ids are only compared.
    Dictionary-encoded text is hashed once per distinct value, never expanded."""
    import pyarrow as pa

    chunk = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    if not pa.types.is_dictionary(chunk.type):
        chunk = compute().dictionary_encode(chunk.cast(pa.string()))
    hashed = np.append(_hash_texts(chunk.dictionary.cast(pa.string())), np.uint64(0))
    indices = chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    return hashed[np.asarray(indices, dtype=np.intp)]


def _hash_texts(texts: Any) -> npt.NDArray[np.uint64]:
    from pandas.util import hash_array as _hash

    hash_array = cast("Callable[[Any], npt.NDArray[np.uint64]]", _hash)
    values = np.asarray(texts.to_numpy(zero_copy_only=False), dtype=object)
    missing = np.array([value is None for value in values], dtype=bool)
    hashed = hash_array(np.where(missing, "", values))
    hashed[missing] = 0
    return np.asarray(hashed, dtype=np.uint64)


def _cell(array: Any, row: int) -> str:
    value = array[row].as_py()
    if value is None:
        return ""
    return cap_text(str(value), 60)
