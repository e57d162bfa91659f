"""The batch command's library half: score every creator of a file into CSV or Parquet.

``creator-kpi-mcp score INPUT -o OUTPUT.parquet|.csv`` calls :func:`score_file`. The input is
any file :mod:`kpi_core.cohorts` reads (CSV, Parquet, ``.xlsx``, JSON / NDJSON; a creator table or
a per-video export, headers recognised, ``columns`` overriding them). It is the data team's own
file, so no directory policy applies, but only a regular file is opened (never a FIFO).

Rows are validated and scored exactly as ``cohort.score_cohort`` does it (one kernel
pass; a bad row is kept in the output with its reasons rather than failing the file). The output
is written to a temporary file in the output's directory and renamed over ``output_path`` only
when complete, so a half-written file never looks finished.

Output columns (the library contract; names, types and meanings are stable):

=========================  ===================================================================
``row``                    int64: 0-based position of the row among the input's data rows
                           (for a per-video export, of the creator in order of first appearance)
``creator_id``             string: the input's ``creator_id`` (null when absent)
``overall_score``          float64: 0-100; null when the row was rejected
``score_low``              float64: the lower bound of the overall score's interval (at the
                           model's ``interval_level``, 80%): the score this creator would get
                           with every metric reported and measured without noise lies in
                           [``score_low``, ``score_high``] with that probability; null when
                           rejected
``score_high``             float64: the upper bound of that interval; null when rejected
``band``                   string: ``excellent``, ``strong``, ``average``, ``weak`` or ``poor``;
                           null when rejected
``coverage``               float64: share (0-1) of the scheme's weight that had data
``revenue_coverage``       float64: share (0-1) of tier 1 (revenue KPIs) weight with data
``<kpi>_score``            float64, one per KPI id in ``KPI_IDS`` order: the KPI's 0-1 score;
                           null when not scored or the row was rejected
``rejected``               string: why the row was rejected ("; "-separated reasons); null for a
                           scored row
``model_version``          string: the scoring model's version (also in the file's metadata)
``<metric>``               the batch command only: each canonical metric the input had, after
                           parsing, aggregation and rescaling (float64; text for ``category``
                           and ``currency``), in the catalogue's order: what was scored
=========================  ===================================================================

A CSV output has the same columns; text cells that a spreadsheet would run as a formula (starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) are written with a leading ``'``.
The Parquet file's key-value metadata carries ``creator_kpi.model_version``,
``creator_kpi.weighting`` (the scheme's name), ``creator_kpi.weights`` (JSON: KPI id -> weight),
``creator_kpi.currency``, ``creator_kpi.input_format``, ``creator_kpi.per_video``,
``creator_kpi.missing`` (how missing metrics counted: ``benchmark`` or ``renormalise``) and
``creator_kpi.interval_level``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import KPI_IDS, load_catalogue
from kpi_core.cohorts.cohort import Progress, RowScores, score_rows
from kpi_core.cohorts.files import opened_trusted
from kpi_core.cohorts.ingest import Ingested, IngestOptions, ingest_source
from kpi_core.cohorts.readers import ReadLimits, open_source
from kpi_core.cohorts.report import IngestReport
from kpi_core.errors import InvalidValueError
from kpi_core.kernel import Missing, check_missing
from kpi_core.weights import Weighting, WeightingArg

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "OUTPUT_COLUMNS",
    "BatchSummary",
    "check_output_path",
    "neutralised",
    "output_metadata",
    "output_table",
    "replacing_file",
    "score_file",
    "write_options",
]

#: The output columns, in order.
OUTPUT_COLUMNS: tuple[str, ...] = (
    "row",
    "creator_id",
    "overall_score",
    "score_low",
    "score_high",
    "band",
    "coverage",
    "revenue_coverage",
    *(f"{kpi_id}_score" for kpi_id in KPI_IDS),
    "rejected",
    "model_version",
)


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What a batch run did (for the command's closing lines and its report file)."""

    output_path: Path
    rows: int
    scored: int
    rejected: int
    per_video: bool
    skipped_lines: int
    report: IngestReport


def score_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    weighting: WeightingArg | Weighting = "tiered",
    progress: Progress | None = None,
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    max_bytes: int | None = None,
    options: IngestOptions | None = None,
    missing: Missing = "benchmark",
) -> BatchSummary:
    """Score every creator of ``input_path`` and write ``output_path`` (``.csv`` or Parquet).

    ``progress(done, total)`` is called with ``total`` 100 and increasing ``done``. Raises
    :class:`~kpi_core.errors.KpiError` for an unreadable input, an output that is not a
    ``.csv``/``.parquet`` path in an existing directory, or a bad weighting; bad rows do not
    raise (they are in the output with their reasons). ``missing`` is that of
    :func:`kpi_core.score`.
    """
    check_missing(missing)
    target = check_output_path(output_path)
    chosen = options or IngestOptions()

    def report(done: float) -> None:
        if progress is not None:
            progress(done, 100.0)

    with opened_trusted(input_path, max_bytes=max_bytes) as file:
        source = open_source(
            file.handle, file.format, file.size_bytes, chosen.limits or ReadLimits(), file.shown
        )
        ingested = ingest_source(source, chosen)
        input_format = file.format
    report(20.0)
    frame = ingested.creators
    scores = score_rows(
        frame, weighting, currency=currency, fx_to_default=fx_to_default, missing=missing
    )
    report(70.0)
    per_video = ingested.report.table_kind == "videos"
    output = _with_early_rejections(
        output_table(scores, frame, metrics=_metric_columns(frame), rows=ingested.source_rows),
        ingested,
    ).replace_schema_metadata(
        output_metadata(
            scores.weighting, scores.currency, input_format, per_video=per_video, missing=missing
        )
    )
    report(85.0)
    _write(output, target)
    report(100.0)
    early = len(ingested.rejected) if ingested.rejected is not None else 0
    return BatchSummary(
        output_path=target,
        rows=scores.rows + early,
        scored=int(scores.valid.sum()),
        rejected=int((~scores.valid).sum()) + early,
        per_video=per_video,
        skipped_lines=source.skipped_total,
        report=ingested.report,
    )


def _metric_columns(frame: pd.DataFrame) -> list[str]:
    catalogue = load_catalogue()
    return [name for name in catalogue.metrics if name in frame.columns and name != "creator_id"]


def _with_early_rejections(table: Any, ingested: Ingested) -> Any:
    """Rows rejected before scoring, added to the output with their reasons, in row order."""
    import pyarrow as pa

    early = ingested.rejected
    if early is None or not len(early):
        return table
    rows = [int(row) for row in early.rows]
    columns: dict[str, Any] = {}
    for name in table.column_names:
        kind = table.schema.field(name).type
        if name == "row":
            columns[name] = pa.array(rows, type=kind)
        elif name == "creator_id":
            columns[name] = pa.array([early.creator_id(row) for row in rows], type=kind)
        elif name == "rejected":
            columns[name] = pa.array(["; ".join(early.reasons(row)) for row in rows], type=kind)
        elif name == "model_version":
            columns[name] = pa.array([load_catalogue().model_version] * len(rows), type=kind)
        else:
            columns[name] = pa.nulls(len(rows), kind)
    combined = pa.concat_tables([table, pa.table(columns, schema=table.schema)])
    return combined.sort_by("row")


def check_output_path(
    output_path: str | os.PathLike[str], suffixes: tuple[str, ...] = (".parquet", ".pq", ".csv")
) -> Path:
    """``output_path`` as a :class:`Path`, refused unless its name ends in one of ``suffixes``
    and it is in an existing directory (:class:`~kpi_core.errors.InvalidValueError` on
    ``output_path``). The engines write Parquet only."""
    target = Path(os.fspath(output_path)).expanduser()
    if target.suffix.lower() not in suffixes:
        raise InvalidValueError(
            "output_path",
            f"must end in {' or '.join(suffixes)}",
            str(target),
            "name the output scores.parquet" + (" or scores.csv" if ".csv" in suffixes else ""),
        )
    if not target.parent.is_dir():
        raise InvalidValueError(
            "output_path", "must be in an existing directory", str(target.parent)
        )
    return target


def _write(table: Any, target: Path) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    with replacing_file(target) as handle:
        if target.suffix.lower() == ".csv":
            pcsv.write_csv(neutralised(table), handle)
        else:
            pq.write_table(table, handle, **write_options())


def neutralised(table: Any) -> Any:
    """Text cells a spreadsheet would run as a formula, prefixed with ``'``."""
    import pyarrow as pa

    from kpi_core.cohorts.values import compute

    pc = compute()
    for index, name in enumerate(table.column_names):
        column = table.column(index)
        if not pa.types.is_string(column.type):
            continue
        risky = pc.fill_null(pc.match_substring_regex(column, r"^[=+\-@\t\r]"), False)
        safe = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        table = table.set_column(index, name, safe)
    return table


def output_table(
    scores: RowScores,
    frame: pd.DataFrame,
    first_row: int = 0,
    *,
    metrics: Sequence[str] = (),
    rows: npt.NDArray[np.intp] | None = None,
) -> Any:
    """The output columns (:data:`OUTPUT_COLUMNS`) of ``scores``, the rows of ``frame``, as a
    ``pyarrow.Table`` (typed ``Any``: pyarrow has no type stubs).

    ``row`` counts from ``first_row`` (the position of the frame's first row in the whole input),
    or is ``rows`` when given (the file row of each frame row). ``metrics`` are frame columns
    appended after the fixed columns. No schema metadata; add :func:`output_metadata`.
    """
    import pyarrow as pa

    catalogue = load_catalogue()
    n = scores.rows
    everyone = (
        np.arange(first_row, first_row + n, dtype=np.int64)
        if rows is None
        else np.asarray(rows, dtype=np.int64)
    )
    band_names = np.array([name for name, _ in catalogue.bands] + [None], dtype=object)
    reasons = np.full(n, None, dtype=object)
    for row in np.flatnonzero(~scores.valid):
        reasons[row] = "; ".join(scores.reasons(int(row)))
    creator_ids: pa.Array = (
        pa.array(frame["creator_id"].astype("string").to_numpy(dtype=object, na_value=None))
        if "creator_id" in frame.columns
        else pa.nulls(n, pa.string())
    )
    columns: dict[str, pa.Array] = {
        "row": pa.array(everyone),
        "creator_id": creator_ids.cast(pa.string()),
        "overall_score": pa.array(scores.overall, from_pandas=True),
        "score_low": pa.array(scores.score_low, from_pandas=True),
        "score_high": pa.array(scores.score_high, from_pandas=True),
        "band": pa.array(band_names[scores.band_codes.astype(np.intp)], type=pa.string()),
        "coverage": pa.array(scores.coverage, from_pandas=True),
        "revenue_coverage": pa.array(scores.revenue_coverage, from_pandas=True),
    }
    for kpi_id in KPI_IDS:
        columns[f"{kpi_id}_score"] = pa.array(scores.kpi_scores[kpi_id], from_pandas=True)
    columns["rejected"] = pa.array(reasons, type=pa.string())
    columns["model_version"] = pa.array([catalogue.model_version] * n, type=pa.string())
    for name in metrics:
        values = frame[name]
        if catalogue.metrics[name].is_numeric:
            columns[name] = pa.array(values.to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            columns[name] = pa.array(values.astype("string").to_numpy(dtype=object, na_value=None))
    return pa.table(columns)


def write_options() -> dict[str, Any]:
    """Keyword arguments of pyarrow's Parquet writers for the output: dictionary encoding only
    for the text columns that repeat (``band``, ``rejected``). On the float columns it would be
    tried and abandoned page by page, which makes writing about 3x slower and the file larger."""
    return {"use_dictionary": ["band", "rejected", "model_version"]}


def output_metadata(
    weighting: Weighting,
    currency: str,
    input_format: str,
    *,
    per_video: bool,
    missing: Missing = "benchmark",
) -> dict[str, str]:
    """The output file's key-value metadata (see the module docstring)."""
    catalogue = load_catalogue()
    return {
        "creator_kpi.model_version": catalogue.model_version,
        "creator_kpi.weighting": weighting.name,
        "creator_kpi.weights": json.dumps(weighting.as_dict(), sort_keys=True),
        "creator_kpi.currency": currency,
        "creator_kpi.input_format": input_format,
        "creator_kpi.per_video": json.dumps(per_video),
        "creator_kpi.missing": missing,
        "creator_kpi.interval_level": json.dumps(catalogue.model.interval_level),
    }


@contextlib.contextmanager
def replacing_file(target: Path) -> Generator[BinaryIO]:
    """A new file in ``target``'s directory, renamed over ``target`` when the block completes.

    The file is flushed to disk first; if the block raises, it is removed and ``target`` is left
    as it was, so a half-written output never looks finished.
    """
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            # mkstemp creates the file private (0600); give it the usual mode, or the old file's
            os.fchmod(handle.fileno(), target.stat().st_mode & 0o777 if target.exists() else 0o644)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
