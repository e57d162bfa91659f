"""One pipeline from a table source to creator rows and a report (see the package docstring).

:func:`ingest_source` proposes a canonical name for every header, reads only the applied
columns batch by batch (calling ``checkpoint`` after each batch, so a stopped call ends there),
then either aggregates a per-video export (a ``video_id`` or ``posted_at`` column was applied)
or prepares a creator table. A file where nothing maps is an error that lists the columns with
suggestions; ``how_to_map`` is the fix it names (the tool's ``columns`` argument, or the command
line's ``--columns FILE``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from kpi_core.cohorts.creators import EarlyRejections, prepare_creators
from kpi_core.cohorts.headers import PER_VIDEO_ONLY, VIDEO_FIELDS, ColumnProposal, propose_columns
from kpi_core.cohorts.readers import ReadLimits, TableSource, source_of_frame
from kpi_core.cohorts.report import IngestReport, IngestWarning, NoteBook, RowNote, TableKind
from kpi_core.cohorts.table import Collected, Collector
from kpi_core.cohorts.videos import VideoWindow, aggregate
from kpi_core.errors import InvalidValueError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_HOW_TO_MAP",
    "IngestOptions",
    "Ingested",
    "VideoAggregation",
    "aggregate_videos",
    "ingest_frame",
    "ingest_source",
    "is_per_video_export",
    "to_epoch",
]

DEFAULT_HOW_TO_MAP = "map headers to canonical names with columns={'Header': 'name'}"

#: Called after every batch with the rows read so far; raising stops the read.
Checkpoint = Callable[[int], object]


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """How to read: an explicit mapping, the window, the period, the limits."""

    columns: Mapping[str, str] | None = None
    window_days: int | None = 30
    period_days: float | None = None
    as_of: datetime | str | float | None = None
    burst_minutes: float = 10.0
    limits: ReadLimits = field(default_factory=ReadLimits)
    how_to_map: str = DEFAULT_HOW_TO_MAP


@dataclass(slots=True)
class Ingested:
    """Creator rows ready for scoring, the file row of each, and the report."""

    creators: pd.DataFrame
    source_rows: npt.NDArray[np.intp] | None
    rejected: EarlyRejections | None
    report: IngestReport


def to_epoch(moment: datetime | str | float) -> float:
    """Epoch seconds of a datetime, ISO text or a number (a time without offset is UTC)."""
    import pandas as pd

    if isinstance(moment, int | float) and not isinstance(moment, bool):
        if not math.isfinite(moment):
            raise InvalidValueError("as_of", "must be a finite epoch time in seconds", moment)
        return float(moment)
    try:
        stamp = pd.Timestamp(moment)
    except (ValueError, TypeError):
        raise InvalidValueError("as_of", "must be a date-time (ISO 8601)", moment) from None
    if not isinstance(stamp, pd.Timestamp):  # NaT
        raise InvalidValueError("as_of", "must be a date-time (ISO 8601)", moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.timestamp()


def _check_window(window_days: object) -> int | None:
    if window_days is None:
        return None
    if isinstance(window_days, bool) or not isinstance(window_days, int | float):
        raise InvalidValueError(
            "window_days",
            "must be a whole number of days or none (the whole export)",
            window_days,
        )
    if not 1 <= window_days <= 3660 or int(window_days) != window_days:
        raise InvalidValueError(
            "window_days", "must be a whole number of days in [1, 3660], or none", window_days
        )
    return int(window_days)


def _kind(proposals: list[ColumnProposal]) -> TableKind:
    applied = {p.canonical for p in proposals if p.applied}
    return "videos" if applied & {"video_id", "posted_at"} else "creators"


def _used(proposals: list[ColumnProposal], kind: TableKind) -> list[ColumnProposal]:
    if kind == "videos":
        return [p for p in proposals if p.applied and p.canonical in VIDEO_FIELDS]
    return [p for p in proposals if p.applied and p.canonical not in PER_VIDEO_ONLY]


def _nothing_maps(proposals: list[ColumnProposal], how_to_map: str) -> InvalidValueError:
    """The refusal of a table where no header maps: every column (up to 12) with the names it
    may mean, in the rule itself (the value of an error is truncated, its rule is not)."""
    shown: list[str] = []
    for proposal in proposals[:12]:
        name = repr(proposal.source[:40])
        close = [proposal.canonical] if proposal.canonical else proposal.suggestions[:2]
        shown.append(f"{name} (maybe {' or '.join(close)}?)" if close else name)
    more = f" and {len(proposals) - 12} more" if len(proposals) > 12 else ""
    listed = ", ".join(shown) + more
    return InvalidValueError(
        "columns",
        f"has no header recognised as a metric, so nothing can be scored: {listed}",
        f"{len(proposals)} columns",
        how_to_map,
    )


def ingest_source(
    source: TableSource,
    options: IngestOptions,
    checkpoint: Checkpoint | None = None,
) -> Ingested:
    """Read ``source`` into creator rows (see the module docstring)."""
    window_days = _check_window(options.window_days)
    proposals = propose_columns(source.headers, options.columns)
    kind = _kind(proposals)
    used = _used(proposals, kind)
    metrics = [p for p in used if p.canonical not in ("creator_id", "category", "currency")]
    if not metrics and kind == "creators":
        raise _nothing_maps(proposals, options.how_to_map)
    notes = NoteBook()
    collector = Collector(
        [(p.source, p.canonical or "", p.percent) for p in used],
        notes,
        memory_budget=options.limits.memory_budget,
    )
    try:
        for batch in source.batches([p.source for p in used]):
            collector.add(batch)
            if checkpoint is not None:
                checkpoint(collector.rows)
        table = collector.finish()
    finally:
        _release_arrow_memory()
    if table.rows == 0:
        raise InvalidValueError("path", "holds no data rows", source.format)
    if kind == "videos":
        return _videos(source, table, proposals, used, window_days, options)
    return _creators(source, table, proposals, used, options)


def _release_arrow_memory() -> None:
    """Give the pages Arrow's allocator kept back to the system (a stopped read included)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _videos(
    source: TableSource,
    table: Collected,
    proposals: list[ColumnProposal],
    used: list[ColumnProposal],
    window_days: int | None,
    options: IngestOptions,
) -> Ingested:
    as_of = None if options.as_of is None else to_epoch(options.as_of)
    window = VideoWindow(window_days, as_of, float(options.burst_minutes), options.period_days)
    videos = aggregate(table, window)
    warnings = list(videos.warnings)
    if videos.rescaled:
        warnings.append(
            IngestWarning(
                code="period_rescaled",
                message=f"counts rescaled from {videos.period_days:.0f} days "
                f"({videos.period_source}) to 30",
            )
        )
    report = _report(
        source,
        table,
        proposals,
        used,
        kind="videos",
        creators=len(videos.creators),
        rows_used=videos.rows_used,
        creators_seen=videos.creators_seen,
        window=(window_days, videos.window_start, videos.window_end),
        posts=(videos.first_post, videos.last_post),
        burst=float(options.burst_minutes),
        period=(videos.period_days, videos.period_source, videos.rescaled),
        outside=(videos.outside_total, videos.outside_ids),
        duplicates=(0, 0),
        warnings=warnings,
    )
    return Ingested(videos.creators, None, None, report)


def _creators(
    source: TableSource,
    table: Collected,
    proposals: list[ColumnProposal],
    used: list[ColumnProposal],
    options: IngestOptions,
) -> Ingested:
    rows = prepare_creators(
        table, proposals, period_days=options.period_days, preamble=source.preamble
    )
    warnings: list[IngestWarning] = []
    if rows.rescaled:
        warnings.append(
            IngestWarning(
                code="period_rescaled",
                message=f"{', '.join(rows.rescaled)} rescaled from {rows.period_days:.0f} days "
                f"({rows.period_source}) to 30",
            )
        )
    report = _report(
        source,
        table,
        proposals,
        used,
        kind="creators",
        creators=len(rows.frame),
        rows_used=len(rows.frame) + rows.merged,
        creators_seen=rows.creators_seen,
        window=(None, None, None),
        posts=(None, None),
        burst=float(options.burst_minutes),
        period=(rows.period_days, rows.period_source, rows.rescaled),
        outside=(0, []),
        duplicates=(rows.merged, rows.conflicting),
        warnings=warnings,
    )
    return Ingested(rows.frame, rows.source_rows, rows.rejected, report)


def _utc(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def _with_ids(notes: list[RowNote], table: Collected) -> list[RowNote]:
    if "creator_id" not in table.texts:
        return sorted(notes, key=lambda note: (note.row, note.field, note.code))
    column = table.texts["creator_id"]
    filled = [
        note.model_copy(update={"creator_id": column.text(np.array([note.row]))[0]})
        for note in notes
    ]
    return sorted(filled, key=lambda note: (note.row, note.field, note.code))


def _report(
    source: TableSource,
    table: Collected,
    proposals: list[ColumnProposal],
    used: list[ColumnProposal],
    *,
    kind: TableKind,
    creators: int,
    rows_used: int,
    creators_seen: int,
    window: tuple[int | None, float | None, float | None],
    posts: tuple[float | None, float | None],
    burst: float,
    period: tuple[float | None, str, list[str]],
    outside: tuple[int, list[str]],
    duplicates: tuple[int, int],
    warnings: list[IngestWarning],
) -> IngestReport:
    used_sources = {p.source for p in used}
    ignored = [p.source[:64] for p in proposals if p.source not in used_sources]
    low = [p for p in proposals if not p.applied and p.canonical and p.confidence >= 0.5]
    if low:
        names = ", ".join(f"{p.source[:40]!r} -> {p.canonical}" for p in low[:5])
        warnings = [
            *warnings,
            IngestWarning(
                code="low_confidence_columns",
                message=f"not used without a columns mapping: {names}",
            ),
        ]
    columns_used = {p.canonical or "": p.source[:64] for p in used}
    missing = (
        [name for name in VIDEO_FIELDS if name not in columns_used] if kind == "videos" else []
    )
    notes = table.notes
    return IngestReport(
        format=source.format,
        table_kind=kind,
        rows_read=table.rows,
        rows_used=rows_used,
        creators_seen=creators_seen,
        creators=creators,
        columns=proposals,
        columns_used=columns_used,
        columns_missing=missing,
        columns_ignored=ignored,
        window_days=window[0],
        window_start=_utc(window[1]),
        window_end=_utc(window[2]),
        first_post=_utc(posts[0]),
        last_post=_utc(posts[1]),
        burst_minutes=burst,
        period_days=period[0],
        period_source=period[1],
        rescaled=period[2],
        outside_window=outside[0],
        outside_window_ids=outside[1],
        duplicates_merged=duplicates[0],
        duplicates_conflicting=duplicates[1],
        skipped_lines=source.skipped_total,
        notes=_with_ids(notes.examples, table),
        notes_by_code=dict(sorted(notes.counts.items())),
        creator_notes=notes.creator_notes,
        creator_notes_total=notes.creator_total,
        warnings=warnings,
    )


def is_per_video_export(columns: Sequence[object]) -> bool:
    """True when the headers make a per-video export (a video id or posting time is applied)."""
    return _kind(propose_columns(columns)) == "videos"


def ingest_frame(frame: pd.DataFrame, options: IngestOptions | None = None) -> Ingested:
    """A DataFrame (one row per video or per creator, any recognised headers) as creator rows."""
    return ingest_source(source_of_frame(frame), options or IngestOptions())


@dataclass(frozen=True, slots=True)
class VideoAggregation:
    """One row per creator (canonical metric names, plus ``videos``) and the report."""

    creators: pd.DataFrame
    report: IngestReport


def aggregate_videos(
    frame: pd.DataFrame,
    *,
    window_days: int | None = 30,
    as_of: datetime | str | float | None = None,
    burst_minutes: float = 10.0,
    columns: Mapping[str, str] | None = None,
) -> VideoAggregation:
    """Aggregate a per-video export held in a DataFrame (see :mod:`kpi_core.cohorts.videos`)."""
    options = IngestOptions(
        columns=columns, window_days=window_days, as_of=as_of, burst_minutes=burst_minutes
    )
    ingested = ingest_frame(frame, options)
    if ingested.report.table_kind != "videos":
        raise InvalidValueError(
            "frame",
            "must be a per-video export (a video id or posting-time column)",
            ", ".join(str(column) for column in list(frame.columns)[:8]),
        )
    return VideoAggregation(ingested.creators, ingested.report)
