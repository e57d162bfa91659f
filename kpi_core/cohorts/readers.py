"""Readers for the files analysts have: CSV, Parquet, ``.xlsx`` and JSON / NDJSON, in batches.

Every reader does the same two steps, so recognition can choose columns before anything large
is decoded:

1. :meth:`TableSource.headers` reads the header only (the first line of a CSV, at most
   :attr:`ReadLimits.header_bytes`; a Parquet file's schema; the first sheet's header row;
   the keys of the first JSON records, nested objects flattened to dotted names such as
   ``authorMeta.name``), and refuses more than :attr:`ReadLimits.max_columns` columns;
2. :meth:`TableSource.batches` yields batches of only the chosen columns (header -> pyarrow
   array), text kept dictionary-encoded where the format allows it.

Libraries: pyarrow's streaming CSV reader (every chosen column read as text, so no type is ever
inferred: ``00:15`` stays text instead of becoming a time of day, and a ``Share`` label in a
late block cannot break a column typed from the first block) and its Parquet reader (only the
chosen columns, text read as dictionaries, the decoded size estimated from the file's metadata
and refused above the budget); openpyxl in read-only mode for ``.xlsx`` (the zip's declared sizes
checked first); the standard library's json for JSON, and line by line for NDJSON.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, cast

from kpi_core.errors import InvalidValueError, truncate

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "FORMATS",
    "FileFormat",
    "ReadLimits",
    "SourceFormat",
    "TableSource",
    "open_source",
    "source_of_frame",
]

SourceFormat = Literal["csv", "parquet", "xlsx", "json", "ndjson", "frame"]
FileFormat = Literal["csv", "parquet", "xlsx", "json", "ndjson"]

#: File name endings read, and the format each means.
FORMATS: Mapping[str, FileFormat] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}

#: Default memory budget of one file call (1 GiB).
DEFAULT_MEMORY_BUDGET = 1 << 30
#: Envelope keys under which JSON dumps keep their records.
_ENVELOPES = (
    "data",
    "items",
    "itemList",
    "item_list",
    "videos",
    "creators",
    "collector",
    "results",
    "aweme_list",
    "records",
    "rows",
)
_MAX_DEPTH = 8
_JSON_EXPANSION = 10  # Python objects per byte of JSON, roughly
_MAX_RECORD_BYTES = 8 << 20  # one NDJSON record (a line)


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """The bounds of one read (see the module docstring)."""

    memory_budget: int = DEFAULT_MEMORY_BUDGET
    max_columns: int = 1000
    header_bytes: int = 1 << 20
    batch_rows: int = 65_536


@dataclass(slots=True)
class TableSource:
    """A table being read: its format, headers, preamble text and a batch reader."""

    format: SourceFormat
    headers: list[str]
    _batches: Any
    preamble: list[str] = field(default_factory=list[str])
    skipped_total: int = 0
    skipped_examples: list[str] = field(default_factory=list[str])

    def batches(self, columns: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Batches of ``columns`` (header -> pyarrow array)."""
        return cast("Iterator[dict[str, Any]]", self._batches(self, list(columns)))


def _refuse(rule: str, shown: str, hint: str = "") -> InvalidValueError:
    return InvalidValueError("path", rule, shown, hint)


def _check_columns(headers: list[str], limits: ReadLimits, shown: str) -> list[str]:
    if len(headers) > limits.max_columns:
        raise _refuse(
            f"has {len(headers):,} columns; at most {limits.max_columns:,} are read",
            shown,
            "keep the columns you need (ids, dates and counts) and export again",
        )
    seen: dict[str, int] = {}
    unique: list[str] = []
    for header in headers:
        name = header.strip() or "column"
        count = seen.get(name, 0)
        seen[name] = count + 1
        unique.append(name if count == 0 else f"{name}.{count}")
    return unique


def open_source(
    handle: BinaryIO, file_format: FileFormat, size: int, limits: ReadLimits, shown: str
) -> TableSource:
    """A :class:`TableSource` over an open binary file of ``file_format``."""
    if file_format == "csv":
        return _csv_source(handle, limits, shown)
    if file_format == "parquet":
        return _parquet_source(handle, limits, shown)
    if file_format == "xlsx":
        return _xlsx_source(handle, size, limits, shown)
    return _json_source(handle, file_format, size, limits, shown)


# --------------------------------------------------------------------------------------------
# CSV


def _csv_source(handle: BinaryIO, limits: ReadLimits, shown: str) -> TableSource:
    start = handle.read(limits.header_bytes)
    if start.startswith(b"\xef\xbb\xbf"):
        start = start[3:]
    end = start.find(b"\n")
    if end < 0 and len(start) >= limits.header_bytes:
        raise _refuse(
            f"has a header line longer than {limits.header_bytes // 1024:,} KB",
            shown,
            "a CSV export starts with one line of column names",
        )
    line = (start if end < 0 else start[:end]).decode("utf-8", errors="replace").rstrip("\r")
    if not line.strip():
        raise _refuse("must start with a header line (column names)", shown)
    headers = next(csv.reader([line]))
    names = _check_columns(headers, limits, shown)

    def batches(source: TableSource, columns: list[str]) -> Iterator[dict[str, Any]]:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        handle.seek(0)

        def on_invalid(row: Any) -> str:  # a pyarrow.csv.InvalidRow (pyarrow is untyped)
            source.skipped_total += 1
            if len(source.skipped_examples) < 5:
                source.skipped_examples.append(truncate(str(row.text)))
            return "skip"

        text = pa.dictionary(pa.int32(), pa.string())
        try:
            reader = pcsv.open_csv(
                handle,
                read_options=pcsv.ReadOptions(
                    column_names=names, skip_rows=1, block_size=1 << 20, use_threads=False
                ),
                parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid),
                convert_options=pcsv.ConvertOptions(
                    include_columns=columns,
                    column_types=dict.fromkeys(columns, text),
                    strings_can_be_null=True,
                    null_values=[""],
                ),
            )
            for batch in reader:
                yield {name: batch.column(name) for name in columns}
        except (pa.ArrowException, ValueError) as error:
            raise _refuse(
                "must be a readable CSV file (UTF-8, comma-separated, with a header line)",
                shown,
                truncate(str(error), 120),
            ) from None

    return TableSource("csv", names, batches)


def csv_text_source(text: str, limits: ReadLimits) -> TableSource:
    """A pasted CSV (at most 1 MB, checked by the caller) as a source."""
    data = text.encode("utf-8")
    return _csv_source(io.BytesIO(data), limits, "csv_text")


# --------------------------------------------------------------------------------------------
# Parquet


def _flat_names(schema: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted leaf name, top-level column) for every leaf of an Arrow schema's structs."""
    import pyarrow as pa

    found: list[tuple[str, str]] = []

    def walk(kind: Any, name: str, top: str, depth: int) -> None:
        if pa.types.is_struct(kind) and depth < _MAX_DEPTH:
            for child in kind:
                walk(child.type, f"{name}.{child.name}", top, depth + 1)
        else:
            found.append((name, top))

    for column in schema:
        walk(column.type, f"{prefix}{column.name}", column.name, 0)
    return found


def _parquet_source(handle: BinaryIO, limits: ReadLimits, shown: str) -> TableSource:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(handle)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise _refuse("must be a readable Parquet file", shown, truncate(str(error), 120)) from None
    if file.metadata.num_columns > limits.max_columns * 4:
        _check_columns([""] * file.metadata.num_columns, limits, shown)
    leaves = _flat_names(file.schema_arrow)
    names = [name for name, _ in leaves]
    _check_columns(names, limits, shown)
    top_of = dict(leaves)

    def batches(source: TableSource, columns: list[str]) -> Iterator[dict[str, Any]]:
        tops = sorted({top_of[name] for name in columns})
        texts = [
            top
            for top in tops
            if pa.types.is_string(file.schema_arrow.field(top).type)
            or pa.types.is_large_string(file.schema_arrow.field(top).type)
        ]
        rows, decoded = _parquet_batch_rows(file, tops, limits, shown)
        try:
            if decoded <= limits.memory_budget // 8:
                # Small enough to decode at once (threaded), then handed on in slices.
                whole = pq.read_table(
                    handle, columns=tops, read_dictionary=texts, use_threads=True
                ).flatten()
                for batch in whole.to_batches(max_chunksize=rows):
                    yield {name: batch.column(name) for name in columns}
                return
            reader = pq.ParquetFile(handle, read_dictionary=texts)
            for batch in reader.iter_batches(batch_size=rows, columns=tops, use_threads=True):
                table = pa.Table.from_batches([batch]).flatten()
                yield {name: table.column(name) for name in columns}
        except (pa.ArrowException, OSError, ValueError) as error:
            raise _refuse(
                "must be a readable Parquet file", shown, truncate(str(error), 120)
            ) from None

    return TableSource("parquet", names, batches)


def _parquet_batch_rows(
    file: Any, tops: list[str], limits: ReadLimits, shown: str
) -> tuple[int, int]:
    """(rows per batch, decoded bytes) from the metadata, refusing a file whose chosen columns
    decode past the budget (the uncompressed size, dictionary pages included)."""
    metadata = file.metadata
    indexes = [file.schema_arrow.get_field_index(top) for top in tops]
    wanted = {file.schema_arrow.names[index] for index in indexes}
    largest_group = 0
    total = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        size = 0
        for column in range(row_group.num_columns):
            chunk = row_group.column(column)
            if chunk.path_in_schema.split(".")[0] in wanted:
                size += chunk.total_uncompressed_size
        largest_group = max(largest_group, size)
        total += size
    estimate = total + metadata.num_rows * 9 * max(1, len(tops))
    if estimate > limits.memory_budget or largest_group > limits.memory_budget // 4:
        raise _refuse(
            f"would decode to about {estimate / 2**20:,.0f} MB, over the memory budget of "
            f"{limits.memory_budget / 2**20:,.0f} MB",
            shown,
            "split the file, or score it with the batch command's stream engine",
        )
    per_row = max(1.0, total / max(1, metadata.num_rows))
    return int(min(limits.batch_rows * 4, max(1024, (64 << 20) / per_row))), estimate


# --------------------------------------------------------------------------------------------
# Excel (.xlsx)


def _cell_text(value: object) -> str | None:
    """An Excel cell as text: numbers as written, dates ISO, times and timedeltas as h:mm:ss."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, time):
        return f"{value.hour}:{value.minute:02d}:{value.second:02d}"
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _open_workbook(handle: BinaryIO, shown: str) -> Any:
    """The workbook of ``handle``, read-only, from its start (openpyxl has no type stubs)."""
    import openpyxl

    handle.seek(0)
    try:
        return openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        raise _refuse(
            "must be a readable .xlsx workbook", shown, truncate(str(error), 120)
        ) from None


def _xlsx_source(handle: BinaryIO, size: int, limits: ReadLimits, shown: str) -> TableSource:
    try:
        archive = zipfile.ZipFile(handle)
        declared = sum(
            info.file_size
            for info in archive.infolist()
            if info.filename.startswith("xl/worksheets/") or info.filename == "xl/sharedStrings.xml"
        )
    except (zipfile.BadZipFile, OSError) as error:
        raise _refuse(
            "must be a readable .xlsx workbook", shown, truncate(str(error), 120)
        ) from None
    if declared * 3 > limits.memory_budget:
        raise _refuse(
            f"unpacks to {declared / 2**20:,.0f} MB of sheet data, over what the memory budget "
            f"of {limits.memory_budget / 2**20:,.0f} MB can read",
            shown,
            "save the sheet as CSV and score that",
        )
    workbook = _open_workbook(handle, shown)
    preamble: list[str] = []
    header_row = 0
    headers: list[str] = []
    try:
        rows = workbook.worksheets[0].iter_rows(max_row=20, values_only=True)
        for number, row in enumerate(rows, start=1):
            cells = [cell for cell in row if cell not in (None, "")]
            if len(cells) >= 2 and all(isinstance(cell, str) for cell in cells):
                header_row = number
                headers = ["" if cell is None else str(cell) for cell in row]
                break
            preamble.extend(str(cell) for cell in cells)
    finally:
        workbook.close()
    if not headers:
        raise _refuse("has no header row (a row of column names) in its first 20 rows", shown)
    while headers and not headers[-1].strip():
        headers.pop()
    names = _check_columns(headers, limits, shown)

    def batches(source: TableSource, columns: list[str]) -> Iterator[dict[str, Any]]:
        import pyarrow as pa

        positions = [names.index(name) for name in columns]
        buffer: list[list[str | None]] = [[] for _ in columns]
        # every pass opens the workbook anew (inspecting a file reads it twice)
        book = _open_workbook(handle, shown)
        try:
            for row in book.worksheets[0].iter_rows(min_row=header_row + 1, values_only=True):
                if all(cell in (None, "") for cell in row):
                    continue
                for slot, position in enumerate(positions):
                    cell = _cell_text(row[position]) if position < len(row) else None
                    buffer[slot].append(cell)
                if len(buffer[0]) >= limits.batch_rows // 8:
                    yield {name: pa.array(buffer[i], pa.string()) for i, name in enumerate(columns)}
                    buffer = [[] for _ in columns]
            if buffer and buffer[0]:
                yield {name: pa.array(buffer[i], pa.string()) for i, name in enumerate(columns)}
        finally:
            book.close()

    return TableSource("xlsx", names, batches, preamble=preamble)


# --------------------------------------------------------------------------------------------
# JSON and NDJSON


def flatten_record(
    record: Mapping[str, object], prefix: str = "", depth: int = 0
) -> dict[str, object]:
    """A nested record as dotted keys (``{"stats": {"playCount": 5}}`` -> ``stats.playCount``);
    lists are kept as they are (and later read as text, or left unmapped)."""
    flat: dict[str, object] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and depth < _MAX_DEPTH:
            flat.update(flatten_record(cast("Mapping[str, object]", value), f"{name}.", depth + 1))
        else:
            flat[name] = value
    return flat


def _records_of(document: object, shown: str) -> list[object]:
    if isinstance(document, list):
        return cast("list[object]", document)
    if isinstance(document, Mapping):
        body = cast("Mapping[str, object]", document)
        for key in _ENVELOPES:
            inner = body.get(key)
            if isinstance(inner, list):
                return cast("list[object]", inner)
            if isinstance(inner, Mapping):
                return _records_of(inner, shown)
        return [body]
    raise _refuse("must hold a list of records (objects)", shown)


def _json_value_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return truncate(json.dumps(value)[:200], 200)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _json_source(
    handle: BinaryIO, file_format: FileFormat, size: int, limits: ReadLimits, shown: str
) -> TableSource:
    def records() -> Iterator[Mapping[str, object]]:
        handle.seek(0)
        if file_format == "ndjson":
            number = 0
            while line := handle.readline(_MAX_RECORD_BYTES + 1):
                number += 1
                if len(line) > _MAX_RECORD_BYTES:
                    raise _refuse(
                        f"line {number} is longer than {_MAX_RECORD_BYTES // 2**20} MB",
                        shown,
                        "an NDJSON export holds one record a line",
                    )
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except ValueError as error:
                    raise _refuse(
                        f"line {number} is not JSON", shown, truncate(str(error), 80)
                    ) from None
                if isinstance(item, Mapping):
                    yield flatten_record(cast("Mapping[str, object]", item))
            return
        if size * _JSON_EXPANSION > limits.memory_budget:
            raise _refuse(
                f"is a {size / 2**20:,.0f} MB JSON document, too large to load within the memory "
                f"budget of {limits.memory_budget / 2**20:,.0f} MB",
                shown,
                "export it as NDJSON (one record a line), which is read line by line",
            )
        try:
            document = json.load(handle)
        except (ValueError, RecursionError) as error:
            raise _refuse("must be a readable JSON file", shown, truncate(str(error), 80)) from None
        for item in _records_of(document, shown):
            if isinstance(item, Mapping):
                yield flatten_record(cast("Mapping[str, object]", item))

    seen: dict[str, None] = {}
    for count, record in enumerate(records()):
        seen.update(dict.fromkeys(record))
        if count >= 1000 or len(seen) > limits.max_columns:
            break
    names = _check_columns(list(seen), limits, shown)

    def batches(source: TableSource, columns: list[str]) -> Iterator[dict[str, Any]]:
        import pyarrow as pa

        buffer: list[list[str | None]] = [[] for _ in columns]
        for record in records():
            for slot, name in enumerate(columns):
                buffer[slot].append(_json_value_text(record.get(name)))
            if len(buffer[0]) >= limits.batch_rows // 4:
                yield {name: pa.array(buffer[i], pa.string()) for i, name in enumerate(columns)}
                buffer = [[] for _ in columns]
        if buffer and buffer[0]:
            yield {name: pa.array(buffer[i], pa.string()) for i, name in enumerate(columns)}

    return TableSource(file_format, names, batches)


# --------------------------------------------------------------------------------------------
# a DataFrame already in memory


def source_of_frame(frame: pd.DataFrame, limits: ReadLimits | None = None) -> TableSource:
    """A DataFrame as a source (columns as text or numbers, in batches)."""
    import pyarrow as pa

    chosen = limits or ReadLimits()
    labels = [str(column) for column in frame.columns]
    names = _check_columns(labels, chosen, "frame")
    by_name = dict(zip(names, frame.columns, strict=True))

    def column_array(values: pd.Series) -> Any:
        try:
            return pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            texts = [None if _is_missing(value) else str(value) for value in values]
            return pa.array(texts, pa.string())

    def batches(source: TableSource, columns: list[str]) -> Iterator[dict[str, Any]]:
        step = chosen.batch_rows
        for start in range(0, len(frame), step):
            part = frame.iloc[start : start + step]
            yield {name: column_array(part[by_name[name]]) for name in columns}

    return TableSource("frame", names, batches)


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
