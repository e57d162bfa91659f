"""The batch command's library half: score every row of a CSV or Parquet file into Parquet.

``creator-kpi-mcp score INPUT -o OUTPUT.parquet`` calls :func:`score_file_to_parquet`. The input
is a creator-level table (one creator per row, canonical metric names as columns; other columns
are ignored) or a per-video export (recognised by a video id or posting-time column, aggregated
per creator over 30 days by :func:`kpi_core.ingest.aggregate_videos`). It is the data team's own
file, so no directory policy applies (the MCP tools use :mod:`kpi_core.files` instead).

Rows are validated and scored exactly as :func:`kpi_core.cohort.score_cohort` does it (one kernel
pass; a bad row is kept in the output with its reasons rather than failing the file). The output
is written to a temporary file in the output's directory and renamed over ``output_path`` only
when complete, so a half-written file never looks finished.

Output columns (the library contract; names and meanings are stable):

=========================  ===================================================================
``row``                    int64: 0-based position of the row in the input (for a per-video
                           export, of the creator in order of first appearance)
``creator_id``             string: the input's ``creator_id`` (null when absent)
``overall_score``          float64: 0-100 over the KPIs with data; null when the row was rejected
``band``                   string: ``excellent``, ``strong``, ``average``, ``weak`` or ``poor``;
                           null when rejected
``coverage``               float64: share (0-1) of the scheme's weight that had data
``revenue_coverage``       float64: share (0-1) of tier 1 (revenue KPIs) weight with data
``<kpi>_score``            float64, one per KPI id in ``KPI_IDS`` order: the KPI's 0-1 score;
                           null when not scored or the row was rejected
``rejected``               string: why the row was rejected ("; "-separated reasons); null for a
                           scored row
=========================  ===================================================================

The Parquet file's key-value metadata carries ``creator_kpi.model_version``,
``creator_kpi.weighting`` (the scheme's name), ``creator_kpi.weights`` (JSON: KPI id -> weight),
``creator_kpi.currency``, ``creator_kpi.input_format`` and ``creator_kpi.per_video``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from kpi_core.catalogue import KPI_IDS, load_catalogue
from kpi_core.cohort import Progress, RowScores, score_rows
from kpi_core.errors import InvalidValueError
from kpi_core.files import read_table_file
from kpi_core.ingest import aggregate_videos, is_per_video_export
from kpi_core.weights import Weighting, WeightingArg

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "OUTPUT_COLUMNS",
    "BatchSummary",
    "check_output_path",
    "output_metadata",
    "output_table",
    "replacing_file",
    "score_file_to_parquet",
    "write_options",
]

#: The output columns, in order.
OUTPUT_COLUMNS: tuple[str, ...] = (
    "row",
    "creator_id",
    "overall_score",
    "band",
    "coverage",
    "revenue_coverage",
    *(f"{kpi_id}_score" for kpi_id in KPI_IDS),
    "rejected",
)


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What a batch run did (for the command's closing line)."""

    output_path: Path
    rows: int
    scored: int
    rejected: int
    per_video: bool
    skipped_lines: int


def score_file_to_parquet(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    weighting: WeightingArg | Weighting = "tiered",
    progress: Progress | None = None,
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    max_bytes: int | None = None,
) -> BatchSummary:
    """Score every row of ``input_path`` (CSV or Parquet) and write ``output_path`` (Parquet).

    ``progress(done, total)`` is called with ``total`` 100 and increasing ``done`` (after
    reading, scoring and writing). Raises :class:`~kpi_core.errors.KpiError` for an unreadable
    input, an output that is not a ``.parquet`` path in an existing directory, or a bad
    weighting; bad rows do not raise.
    """
    import pyarrow.parquet as pq

    target = check_output_path(output_path)

    def report(done: float) -> None:
        if progress is not None:
            progress(done, 100.0)

    table = read_table_file(input_path, max_bytes=max_bytes)
    report(20.0)
    frame = table.frame
    per_video = is_per_video_export(list(frame.columns))
    if per_video:
        frame = aggregate_videos(frame).creators
    scores = score_rows(frame, weighting, currency=currency, fx_to_default=fx_to_default)
    report(70.0)

    n = scores.rows
    output = output_table(scores, frame).replace_schema_metadata(
        output_metadata(scores.weighting, scores.currency, table.format, per_video=per_video)
    )
    report(85.0)

    with replacing_file(target) as handle:
        pq.write_table(output, handle, **write_options())
    report(100.0)
    return BatchSummary(
        output_path=target,
        rows=n,
        scored=int(scores.valid.sum()),
        rejected=int((~scores.valid).sum()),
        per_video=per_video,
        skipped_lines=table.skipped_total,
    )


def check_output_path(output_path: str | os.PathLike[str]) -> Path:
    """``output_path`` as a :class:`Path`, refused unless a ``.parquet``/``.pq`` name in an
    existing directory (:class:`~kpi_core.errors.InvalidValueError` on ``output_path``)."""
    target = Path(os.fspath(output_path)).expanduser()
    if target.suffix.lower() not in (".parquet", ".pq"):
        raise InvalidValueError(
            "output_path", "must end in .parquet or .pq", str(target), "the output is Parquet"
        )
    if not target.parent.is_dir():
        raise InvalidValueError(
            "output_path", "must be in an existing directory", str(target.parent)
        )
    return target


def output_table(scores: RowScores, frame: pd.DataFrame, first_row: int = 0) -> Any:
    """The output columns (:data:`OUTPUT_COLUMNS`) of ``scores``, the rows of ``frame``, as a
    ``pyarrow.Table`` (typed ``Any``: pyarrow has no type stubs).

    ``row`` counts from ``first_row`` (the position of the frame's first row in the whole input).
    No schema metadata; add :func:`output_metadata` for a complete file.
    """
    import pyarrow as pa

    catalogue = load_catalogue()
    n = scores.rows
    everyone = np.arange(first_row, first_row + n, dtype=np.int64)
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
        "band": pa.array(band_names[scores.band_codes.astype(np.intp)], type=pa.string()),
        "coverage": pa.array(scores.coverage, from_pandas=True),
        "revenue_coverage": pa.array(scores.revenue_coverage, from_pandas=True),
    }
    for kpi_id in KPI_IDS:
        columns[f"{kpi_id}_score"] = pa.array(scores.kpi_scores[kpi_id], from_pandas=True)
    columns["rejected"] = pa.array(reasons, type=pa.string())
    return pa.table(columns)


def write_options() -> dict[str, Any]:
    """Keyword arguments of pyarrow's Parquet writers for the output: dictionary encoding only
    for the text columns that repeat (``band``, ``rejected``). On the float columns it would be
    tried and abandoned page by page, which makes writing about 3x slower and the file larger."""
    return {"use_dictionary": ["band", "rejected"]}


def output_metadata(
    weighting: Weighting, currency: str, input_format: str, *, per_video: bool
) -> dict[str, str]:
    """The output file's key-value metadata (see the module docstring)."""
    return {
        "creator_kpi.model_version": load_catalogue().model_version,
        "creator_kpi.weighting": weighting.name,
        "creator_kpi.weights": json.dumps(weighting.as_dict(), sort_keys=True),
        "creator_kpi.currency": currency,
        "creator_kpi.input_format": input_format,
        "creator_kpi.per_video": json.dumps(per_video),
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
