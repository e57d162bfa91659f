"""The ingest report: what was read, how each header was taken, and every repair and drop.

Counts are complete; examples are capped (:data:`EXAMPLES_PER_CODE` per kind of note and
column, with row numbers), so a report stays small whatever the file. Every cohort summary leads
with the ingest line the template ``cohort_ingest.txt.j2`` renders from it ("9,072 rows, 650
creators, 174 outside the window (30 days), 3 columns ignored: ...").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime  # pydantic needs it at runtime (a field type)
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kpi_core.cohorts.headers import ColumnProposal
from kpi_core.cohorts.readers import SourceFormat
from kpi_core.errors import truncate

__all__ = [
    "EXAMPLES_PER_CODE",
    "CreatorNote",
    "IngestReport",
    "IngestWarning",
    "NoteBook",
    "RowNote",
    "TableKind",
    "cap_text",
]

#: Examples kept per kind of note (the counts are always complete).
EXAMPLES_PER_CODE = 5
#: Creator notes listed (the total is always given).
MAX_CREATOR_NOTES = 50
#: Creator ids listed as outside the window (the count is always given).
MAX_OUTSIDE_IDS = 1000

NoteAction = Literal["row_dropped", "value_dropped", "value_repaired"]
TableKind = Literal["videos", "creators"]


def cap_text(text: str, limit: int = 64) -> str:
    """Untrusted text for a report: unprintable characters become '?', capped at ``limit``."""
    if not text.isprintable():
        text = "".join(char if char.isprintable() else "?" for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RowNote(BaseModel):
    """What happened to one row (or one value of it), and why."""

    model_config = ConfigDict(frozen=True)

    row: int = Field(description="0-based position of the row among the file's data rows.")
    creator_id: str | None = Field(description="The row's creator id (capped), when readable.")
    field: str = Field(description="Canonical column concerned, or 'row'.")
    action: NoteAction
    code: str = Field(description="Stable reason code, such as duplicate_row or abbreviated.")
    message: str
    value: str = Field(description="The raw value, truncated ('' when not about a value).")


class CreatorNote(BaseModel):
    """A fact about one creator's aggregate (a partial sum, collapsed bursts, no data)."""

    model_config = ConfigDict(frozen=True)

    creator_id: str | None
    field: str
    message: str


class IngestWarning(BaseModel):
    """Something about the whole file that changes what the scores mean."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="scraper_cap, period_rescaled, low_confidence_columns, ...")
    message: str


class IngestReport(BaseModel):
    """How a file or table became creator rows: columns, window, period, repairs and drops."""

    format: SourceFormat = Field(description="csv, parquet, xlsx, json, ndjson or frame.")
    table_kind: TableKind = Field(description="videos (one row per video) or creators.")
    rows_read: int
    rows_used: int = Field(description="Rows that went into the creator rows.")
    creators_seen: int = Field(description="Distinct creators in the file.")
    creators: int = Field(description="Creator rows handed to scoring.")
    columns: list[ColumnProposal] = Field(description="Every header with its proposal.")
    columns_used: dict[str, str] = Field(description="Canonical name -> header in the file.")
    columns_missing: list[str] = Field(description="Per-video names the export lacks.")
    columns_ignored: list[str] = Field(description="Headers not used (capped names).")
    window_days: int | None = Field(description="The window; null for the whole export.")
    window_start: datetime | None = Field(description="Exclusive start of the window (UTC).")
    window_end: datetime | None = Field(description="Inclusive end of the window (UTC).")
    first_post: datetime | None = Field(description="Earliest posting time in the file.")
    last_post: datetime | None = Field(description="Latest posting time in the file.")
    burst_minutes: float
    period_days: float | None = Field(description="Days the counts covered before rescaling.")
    period_source: str = Field(description="Where the period came from ('' when none).")
    rescaled: list[str] = Field(description="Canonical columns rescaled to 30 days.")
    outside_window: int = Field(description="Creators with no video in the window.")
    outside_window_ids: list[str] = Field(description="Their ids (the first 1,000).")
    duplicates_merged: int = Field(description="Identical duplicate creator rows merged.")
    duplicates_conflicting: int = Field(description="Creator rows rejected as conflicting.")
    skipped_lines: int = Field(description="Malformed CSV lines skipped.")
    notes: list[RowNote] = Field(description="Examples, at most 5 per code and column, by row.")
    notes_by_code: dict[str, int] = Field(description="Every note counted by code.")
    creator_notes: list[CreatorNote]
    creator_notes_total: int
    warnings: list[IngestWarning]


@dataclass(slots=True)
class NoteBook:
    """Counts of notes by code and the first few examples of each."""

    counts: dict[str, int] = field(default_factory=dict[str, int])
    examples: list[RowNote] = field(default_factory=list[RowNote])
    creator_notes: list[CreatorNote] = field(default_factory=list[CreatorNote])
    creator_total: int = 0

    def count(self, code: str, number: int) -> bool:
        """Add ``number`` to ``code``; True when there is anything to give examples of."""
        if number <= 0:
            return False
        self.counts[code] = self.counts.get(code, 0) + number
        return True

    def wants(self, code: str, field_name: str = "row") -> int:
        """How many more examples of ``code`` in ``field_name`` are kept."""
        kept = sum(1 for note in self.examples if note.code == code and note.field == field_name)
        return max(0, EXAMPLES_PER_CODE - kept)

    def example(
        self,
        row: int,
        field_name: str,
        action: NoteAction,
        code: str,
        message: str,
        value: object = "",
    ) -> None:
        shown = "" if value in ("", None) else truncate(value)
        self.examples.append(
            RowNote(
                row=row,
                creator_id=None,
                field=field_name,
                action=action,
                code=code,
                message=message,
                value=shown,
            )
        )

    def creator(self, creator_id: str | None, field_name: str, message: str) -> None:
        self.creator_total += 1
        if len(self.creator_notes) < MAX_CREATOR_NOTES:
            self.creator_notes.append(
                CreatorNote(creator_id=creator_id, field=field_name, message=message)
            )
