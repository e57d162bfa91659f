"""Look before scoring: what a file holds and how each of its headers would be read.

:func:`inspect_source` runs the same ingest as scoring (so the counts are the ones scoring would
see) and adds up to three example values for every column, read from the file's first batch.
The command line's ``creator-kpi-mcp inspect FILE [--json]`` prints it; ``score_cohort``'s
``dry_run`` answers with the same report.
"""

from __future__ import annotations

from datetime import datetime  # pydantic needs it at runtime (a field type)

from pydantic import BaseModel, Field

from kpi_core.cohorts.headers import ColumnProposal
from kpi_core.cohorts.ingest import Ingested, IngestOptions, ingest_source
from kpi_core.cohorts.readers import SourceFormat, TableSource
from kpi_core.cohorts.report import IngestReport, TableKind, cap_text
from kpi_core.errors import KpiError

__all__ = ["Inspection", "inspect_source", "with_examples"]

#: Example values shown per column.
EXAMPLES = 3


class Inspection(BaseModel):
    """What a file holds and how it would be read (nothing is scored)."""

    summary: str
    format: SourceFormat
    table_kind: TableKind
    rows: int = Field(description="Data rows read.")
    creators: int = Field(description="Distinct creators in the file.")
    creators_scored: int = Field(description="Creator rows scoring would receive.")
    first_post: datetime | None
    last_post: datetime | None
    window_days: int | None
    outside_window: int = Field(description="Creators the window would drop.")
    columns: list[ColumnProposal]
    unmapped: list[str] = Field(description="Headers not read, with suggestions where any.")
    report: IngestReport


def with_examples(source: TableSource, proposals: list[ColumnProposal]) -> list[ColumnProposal]:
    """Each proposal with up to :data:`EXAMPLES` values of its column from the first batch."""
    examples: dict[str, list[str]] = {}
    try:
        first = next(iter(source.batches(source.headers)), {})
    except KpiError:
        first = {}
    for name, array in first.items():
        values = [value for value in array.slice(0, 200).to_pylist() if value not in (None, "")]
        examples[name] = [cap_text(str(value), 40) for value in values[:EXAMPLES]]
    return [
        proposal.model_copy(update={"examples": examples.get(proposal.source, [])})
        for proposal in proposals
    ]


def inspect_source(source: TableSource, options: IngestOptions) -> Inspection:
    """Inspect ``source`` (see the module docstring)."""
    from prompts import render

    ingested: Ingested = ingest_source(source, options)
    report = ingested.report
    views = with_examples(source, report.columns)
    report.columns = views
    unmapped = [
        f"{view.source} (maybe {', '.join(view.suggestions)}?)" if view.suggestions else view.source
        for view in views
        if view.source in report.columns_ignored
    ]
    return Inspection(
        summary=render("cohort_ingest.txt.j2", report=report),
        format=report.format,
        table_kind=report.table_kind,
        rows=report.rows_read,
        creators=report.creators_seen,
        creators_scored=report.creators,
        first_post=report.first_post,
        last_post=report.last_post,
        window_days=report.window_days,
        outside_window=report.outside_window,
        columns=views,
        unmapped=unmapped,
        report=report,
    )
