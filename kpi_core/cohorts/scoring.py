"""Scoring a cohort from a file or a pasted CSV: read, recognise, aggregate or prepare, score.

:func:`score_cohort_file` reads a file under the file-access policy (:mod:`kpi_core.cohorts.files`);
:func:`score_cohort_text` reads a pasted CSV (at most :data:`MAX_CSV_TEXT` bytes). Both go
through :func:`~kpi_core.cohorts.ingest.ingest_source` and then score the creator rows exactly as
:func:`.cohort.score_cohort` scores a DataFrame. The result carries the ingest report
(``ingest``) and what was read (``source``). Row indexes in ``leaderboard`` and ``rejected``
are positions among the file's data rows for a creator table, and positions among the
aggregated creators for a per-video export. Rows rejected before scoring (conflicting
duplicates, ids over their cap) are listed in ``rejected`` beside the rows validation rejects.

With ``dry_run`` nothing is scored: the answer has the ingest report (format, every column with
its proposal and confidence, rows, creators, date range, what the window drops) and an empty
leaderboard.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from kpi_core.catalogue import KPI_IDS, load_catalogue
from kpi_core.cohorts.cohort import (
    MAX_REJECTED_LISTED,
    READING_END,
    CohortResult,
    CohortSource,
    Distribution,
    Progress,
    RejectedCreator,
    _check_arguments,
    _echo_id,
    _Reporter,
    _result,
    _score_rows,
    _summary,
    summarised,
)
from kpi_core.cohorts.files import DEFAULT_MAX_BYTES, FileAccess, opened
from kpi_core.cohorts.ingest import (
    DEFAULT_HOW_TO_MAP,
    Ingested,
    IngestOptions,
    ingest_source,
)
from kpi_core.cohorts.inspect import with_examples
from kpi_core.cohorts.readers import (
    DEFAULT_MEMORY_BUDGET,
    ReadLimits,
    TableSource,
    csv_text_source,
    open_source,
)
from kpi_core.errors import InvalidValueError
from kpi_core.kernel import Missing
from kpi_core.weights import Weighting, WeightingArg, resolve_weighting

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["MAX_CSV_TEXT", "score_cohort_file", "score_cohort_text", "score_ingested"]

#: Largest pasted CSV (bytes of UTF-8).
MAX_CSV_TEXT = 1_000_000


def score_cohort_file(
    path: str | os.PathLike[str],
    allowed_dirs: FileAccess | Sequence[str | os.PathLike[str]],
    weighting: WeightingArg | Weighting = "tiered",
    *,
    top_n: int = 20,
    sort_by: str = "overall_score",
    min_coverage: float = 0.0,
    progress: Progress | None = None,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    columns: Mapping[str, str] | None = None,
    window_days: int | None = 30,
    period_days: float | None = None,
    dry_run: bool = False,
    as_of: datetime | str | float | None = None,
    burst_minutes: float = 10.0,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    how_to_map: str = DEFAULT_HOW_TO_MAP,
    missing: Missing = "benchmark",
) -> CohortResult:
    """Read a file under the file-access policy and score it (see the module docstring).

    ``allowed_dirs`` is a :class:`~kpi_core.cohorts.files.FileAccess` or the list of allowed
    directories (empty: file access is off, and the call says how to configure it).
    """
    _check_arguments(top_n, sort_by, min_coverage, missing)
    access = (
        allowed_dirs
        if isinstance(allowed_dirs, FileAccess)
        else FileAccess.from_dirs(allowed_dirs, max_bytes=max_bytes)
    )
    if max_bytes not in (access.max_bytes, DEFAULT_MAX_BYTES):
        access = FileAccess(access.allowed_dirs, max_bytes, access.how_to_configure)
    options = IngestOptions(
        columns=columns,
        window_days=window_days,
        period_days=period_days,
        as_of=as_of,
        burst_minutes=burst_minutes,
        limits=ReadLimits(memory_budget=memory_budget),
        how_to_map=how_to_map,
    )
    reporter = _Reporter(progress)
    with opened(path, access) as file:
        source = open_source(file.handle, file.format, file.size_bytes, options.limits, file.shown)
        ingested = _ingest(source, options, reporter)
        if dry_run:
            ingested.report.columns = with_examples(source, ingested.report.columns)
        described = (file.shown, file.size_bytes)
    return score_ingested(
        ingested,
        source,
        described,
        weighting,
        top_n=top_n,
        sort_by=sort_by,
        min_coverage=min_coverage,
        currency=currency,
        fx_to_default=fx_to_default,
        dry_run=dry_run,
        reporter=reporter,
        missing=missing,
    )


def score_cohort_text(
    csv_text: str,
    weighting: WeightingArg | Weighting = "tiered",
    *,
    top_n: int = 20,
    sort_by: str = "overall_score",
    min_coverage: float = 0.0,
    progress: Progress | None = None,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    columns: Mapping[str, str] | None = None,
    window_days: int | None = 30,
    period_days: float | None = None,
    dry_run: bool = False,
    how_to_map: str = DEFAULT_HOW_TO_MAP,
    missing: Missing = "benchmark",
) -> CohortResult:
    """Score a pasted CSV (header line first; at most 1 MB) like a file."""
    _check_arguments(top_n, sort_by, min_coverage, missing)
    if not csv_text.strip():
        raise InvalidValueError("csv_text", "must be the text of a CSV with a header line", "")
    size = len(csv_text.encode("utf-8"))
    if size > MAX_CSV_TEXT:
        raise InvalidValueError(
            "csv_text",
            f"must be at most {MAX_CSV_TEXT:,} bytes",
            f"{size:,} bytes",
            "save it as a file in an allowed directory and give path instead",
        )
    options = IngestOptions(
        columns=columns,
        window_days=window_days,
        period_days=period_days,
        how_to_map=how_to_map,
    )
    reporter = _Reporter(progress)
    source = csv_text_source(csv_text, options.limits)
    ingested = _ingest(source, options, reporter)
    if dry_run:
        ingested.report.columns = with_examples(source, ingested.report.columns)
    return score_ingested(
        ingested,
        source,
        ("csv_text", size),
        weighting,
        top_n=top_n,
        sort_by=sort_by,
        min_coverage=min_coverage,
        currency=currency,
        fx_to_default=fx_to_default,
        dry_run=dry_run,
        reporter=reporter,
        missing=missing,
    )


def _ingest(source: TableSource, options: IngestOptions, reporter: _Reporter) -> Ingested:
    reading = reporter.sub(0.0, READING_END)
    batches = [0]

    def checkpoint(rows: int) -> None:
        batches[0] += 1
        reading(100.0 * (1.0 - 1.0 / (1.0 + batches[0])))

    return ingest_source(source, options, checkpoint)


def score_ingested(
    ingested: Ingested,
    source: TableSource,
    described: tuple[str, int],
    weighting: WeightingArg | Weighting,
    *,
    top_n: int,
    sort_by: str,
    min_coverage: float,
    currency: str | None,
    fx_to_default: Mapping[str, float] | None,
    dry_run: bool,
    reporter: _Reporter,
    missing: Missing = "benchmark",
) -> CohortResult:
    """Score the creator rows of an ingest and attach its report and source."""
    report = ingested.report
    shown, size = described
    cohort_source = CohortSource(
        path=shown,
        format=source.format,
        size_bytes=size,
        rows_read=report.rows_read,
        skipped_lines=source.skipped_total,
        skipped_examples=source.skipped_examples,
        per_video=report.table_kind == "videos",
    )
    if dry_run:
        result = _dry_result(ingested, weighting, currency, top_n, sort_by, min_coverage)
        result.missing = missing
    else:
        if len(ingested.creators) == 0:
            raise _nothing_usable(ingested, shown)
        inner = reporter.sub(READING_END, 100.0)
        scores = _score_rows(
            ingested.creators, weighting, currency, fx_to_default, inner, missing=missing
        )
        result = _result(
            scores, top_n=top_n, sort_by=sort_by, min_coverage=min_coverage, reporter=inner
        )
        _remap(result, ingested)
    result.source = cohort_source
    result.ingest = report
    return summarised(result)


def _nothing_usable(ingested: Ingested, shown: str) -> InvalidValueError:
    report = ingested.report
    early = ingested.rejected
    if early is not None and len(early):
        first = int(early.rows[0])
        return InvalidValueError(
            "creators",
            "must contain at least one valid creator",
            f"{len(early)} of {len(early)} rows rejected",
            f"row {first}: {early.reasons(first)[0]}",
        )
    codes = ", ".join(f"{code} {count:,}" for code, count in report.notes_by_code.items())
    return InvalidValueError(
        "path",
        "holds no usable rows",
        shown,
        f"{report.rows_read:,} rows read; by reason: {codes or 'none'}",
    )


def _remap(result: CohortResult, ingested: Ingested) -> None:
    """File row numbers for a creator table, and the rows rejected before scoring."""
    rows: npt.NDArray[np.intp] | None = ingested.source_rows
    if rows is not None:
        for entry in result.leaderboard:
            entry.index = int(rows[entry.index])
        for item in result.rejected:
            item.index = int(rows[item.index])
    early = ingested.rejected
    if early is None or not len(early):
        return
    rejected_rows = early.rows
    listed = [
        RejectedCreator(
            index=int(row),
            creator_id=_echo_id(early.creator_id(int(row))),
            reasons=early.reasons(int(row)),
        )
        for row in rejected_rows[:MAX_REJECTED_LISTED]
    ]
    merged = sorted([*result.rejected, *listed], key=lambda item: item.index)
    result.rejected = merged[:MAX_REJECTED_LISTED]
    result.rejected_total += int(rejected_rows.size)
    result.rows += int(rejected_rows.size)


def _dry_result(
    ingested: Ingested,
    weighting: WeightingArg | Weighting,
    currency: str | None,
    top_n: int,
    sort_by: str,
    min_coverage: float,
) -> CohortResult:
    catalogue = load_catalogue()
    scheme = resolve_weighting(weighting)
    count = len(ingested.creators)
    empty = np.zeros(0)
    return CohortResult(
        summary="",
        count=0,
        rows=count + (len(ingested.rejected) if ingested.rejected is not None else 0),
        leaderboard=[],
        ranked=0,
        excluded_low_coverage=0,
        not_scored_on_sort_key=0,
        sort_by=sort_by,
        top_n=top_n,
        min_coverage=float(min_coverage),
        distribution=Distribution(
            overall_score=_summary(empty, 100.0, 0),
            kpis={kpi_id: _summary(empty, 1.0, 0) for kpi_id in KPI_IDS},
        ),
        rejected=[],
        rejected_total=0,
        weighting=scheme.name,
        currency=currency or catalogue.default_currency,
        model_version=catalogue.model_version,
        interval_level=catalogue.model.interval_level,
        dry_run=True,
    )
