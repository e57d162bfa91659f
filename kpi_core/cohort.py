"""Scoring a cohort: many creators in, a leaderboard, score distributions and rejected rows out.

:func:`score_cohort` takes a list of metric objects (as decoded from JSON) or a DataFrame (one
creator per row, canonical metric names as columns); :func:`score_cohort_file` reads a CSV or
Parquet file through the file-access policy of :mod:`kpi_core.files` first (a per-video export is
recognised by its columns and aggregated by :mod:`kpi_core.ingest`).

**Cohorts reject rows, not calls.** Each row is validated by the one validation path
(:func:`kpi_core.validation.validate`, which ``score`` and ``score_frame`` use too). A row that
breaks a rule, or has no metric that feeds any KPI, is listed in ``rejected`` with its reasons and
the rest are scored, all in one pass of the kernel (:func:`~kpi_core.kernel.score_arrays`, the
function ``score_frame`` wraps, so the scores equal ``score_frame``'s). Columns of a frame that
are not metrics are ignored, as ``score_frame`` ignores them; in a list, an unknown field rejects
its row, as it fails ``score``. The call fails only when no row is valid, or when an argument of
the call itself (weighting, currency, ``top_n``...) is wrong.

The result, :class:`CohortResult`:

* ``leaderboard``: the top ``top_n`` creators by ``sort_by`` (``overall_score`` or a KPI id),
  highest first. Ties are broken by the overall score (when sorting by a KPI), then by
  ``creator_id`` (ascending; creators without an id last), then by row index, so the order never
  depends on the input order of distinct creators. Creators with coverage below ``min_coverage``
  (compared with a 1e-9 tolerance) are left out, and counted; when sorting by a KPI, creators
  without data for it are left out, and counted.
* ``distribution``: for the overall score (0-100) and each KPI (0-1), over the creators that pass
  ``min_coverage``: ``scored`` / ``not_scored`` counts, exact ``mean``, ``std`` (population,
  ddof=0), ``min``, ``max``, quantiles ``p05``, ``p25``, ``p50``, ``p75``, ``p95`` (linear
  interpolation between order statistics, numpy's default), and 10 fixed bins of equal width
  (``[0, 10)``, ``[10, 20)``, ... ``[90, 100]`` for the overall score; tenths for KPIs; the last
  bin is closed).
* ``count`` (creators scored), ``rows`` (rows received), ``rejected`` (the first 50 by row index)
  and ``rejected_total``.

``progress``, when given, is called as ``progress(done, total)`` with ``total`` 100 and ``done``
strictly increasing, at least four times (after validation, scoring, ranking and the
distributions; list inputs also report during validation). An exception raised by it aborts the
call, so a caller can use it to cancel.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime  # pydantic needs it at runtime (a field type)
from typing import TYPE_CHECKING, Literal, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from kpi_core.catalogue import KPI_IDS, load_catalogue
from kpi_core.errors import InvalidValueError, Problem, truncate
from kpi_core.files import DEFAULT_MAX_BYTES, FileAccess, load_table
from kpi_core.ingest import (
    CreatorNote,
    IngestReport,
    RowNote,
    aggregate_videos,
    is_per_video_export,
)
from kpi_core.kernel import score_arrays
from kpi_core.scoring import Band
from kpi_core.validation import ValidatedMetrics, is_frame, validate
from kpi_core.weights import Weighting, WeightingArg, resolve_weighting

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CohortResult",
    "CohortSource",
    "Distribution",
    "HistogramBin",
    "IngestSummary",
    "LeaderboardEntry",
    "Progress",
    "RejectedRow",
    "RowScores",
    "ScoreSummary",
    "score_cohort",
    "score_cohort_file",
    "score_rows",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

#: ``progress(done, total)``; the return value is ignored.
Progress = Callable[[float, float], object]

#: Rejected rows listed in a result (the total is always given).
MAX_REJECTED_LISTED = 50
#: Reasons listed per rejected row.
MAX_REASONS = 5
#: Ingest notes listed in a result (the total and the counts by code are always given).
MAX_NOTES_LISTED = 50
#: Largest leaderboard.
MAX_TOP_N = 1000
#: Quantiles reported, by name.
QUANTILES: tuple[tuple[str, float], ...] = (
    ("p05", 0.05),
    ("p25", 0.25),
    ("p50", 0.50),
    ("p75", 0.75),
    ("p95", 0.95),
)
#: Number of fixed histogram bins.
BINS = 10
#: ``coverage >= min_coverage`` is judged with this tolerance (coverage is a sum of weights).
COVERAGE_TOLERANCE = 1e-9
#: Longest creator id echoed.
ECHO_ID_CHARS = 64

NO_KPI_REASON = "row has no metric that feeds a KPI, so nothing can be scored - see kpi://metrics"


# --------------------------------------------------------------------------------------------
# result models


class LeaderboardEntry(BaseModel):
    """One creator on the leaderboard."""

    rank: int = Field(description="1 for the best.")
    index: int = Field(description="0-based position of the creator's row in the input.")
    creator_id: str | None
    overall_score: float = Field(description="0-100.")
    band: Band
    coverage: float = Field(description="Share of the scheme's weight that had data (0-1).")
    revenue_coverage: float
    sort_value: float = Field(description="The value ranked on (sort_by).")
    kpi_scores: dict[str, float | None] = Field(
        description="Each KPI's 0-1 score; null when not scored."
    )


class HistogramBin(BaseModel):
    low: float
    high: float = Field(description="Exclusive, except for the last bin.")
    count: int


class ScoreSummary(BaseModel):
    """The distribution of one score over a cohort (exact moments, quantiles, fixed bins)."""

    scored: int = Field(description="Creators with this score.")
    not_scored: int = Field(description="Creators without data for it.")
    mean: float | None
    std: float | None = Field(description="Population standard deviation (ddof=0).")
    min: float | None
    max: float | None
    quantiles: dict[str, float] = Field(description="p05, p25, p50, p75, p95 (linear).")
    bins: list[HistogramBin]


class Distribution(BaseModel):
    overall_score: ScoreSummary = Field(description="On 0-100.")
    kpis: dict[str, ScoreSummary] = Field(description="Per KPI id, on 0-1.")


class RejectedRow(BaseModel):
    index: int = Field(description="0-based position of the row in the input.")
    creator_id: str | None = Field(description="The row's creator id, capped, when readable.")
    reasons: list[str]


class IngestSummary(BaseModel):
    """How a per-video export became creator rows (notes capped; totals complete)."""

    rows_read: int
    rows_used: int
    creators: int
    window_start: datetime | None
    window_end: datetime | None
    columns_used: dict[str, str]
    columns_missing: list[str]
    columns_ignored: list[str]
    notes: list[RowNote]
    notes_total: int
    notes_by_code: dict[str, int]
    creator_notes: list[CreatorNote]
    creator_notes_total: int


class CohortSource(BaseModel):
    """The file a cohort came from."""

    path: str = Field(description="The path as given (truncated).")
    format: Literal["csv", "parquet"]
    size_bytes: int
    rows_read: int
    skipped_lines: int = Field(description="Malformed CSV lines skipped.")
    skipped_examples: list[str]
    per_video: bool = Field(description="True when the file was a per-video export.")
    ingest: IngestSummary | None


class CohortResult(BaseModel):
    """A scored cohort: the leaderboard, the distributions, and what was rejected."""

    count: int = Field(description="Creators scored (valid rows).")
    rows: int = Field(description="Rows received.")
    leaderboard: list[LeaderboardEntry]
    ranked: int = Field(
        description="Creators eligible for the leaderboard (valid, coverage >= min_coverage, "
        "scored on sort_by); the leaderboard holds the first top_n."
    )
    excluded_low_coverage: int = Field(
        description="Valid creators left out of leaderboard and distribution by min_coverage."
    )
    not_scored_on_sort_key: int = Field(
        description="Eligible creators left off the leaderboard for lack of data on sort_by."
    )
    sort_by: str
    top_n: int
    min_coverage: float
    distribution: Distribution
    rejected: list[RejectedRow] = Field(description="The first 50 rejected rows by index.")
    rejected_total: int
    weighting: str
    currency: str
    model_version: str
    source: CohortSource | None = None


# --------------------------------------------------------------------------------------------
# progress


class _Reporter:
    """Forwards strictly increasing progress on a 0-100 scale, mapped into [start, end]."""

    def __init__(self, progress: Progress | None, start: float = 0.0, end: float = 100.0) -> None:
        self.progress = progress
        self.start = start
        self.end = end
        self.last = -1.0

    def __call__(self, percent: float) -> None:
        if self.progress is None:
            return
        done = self.start + (self.end - self.start) * min(100.0, max(0.0, percent)) / 100.0
        if done > self.last:
            self.last = done
            self.progress(done, 100.0)

    def sub(self, start: float, end: float) -> _Reporter:
        span = self.end - self.start
        return _Reporter(
            self.progress, self.start + span * start / 100.0, self.start + span * end / 100.0
        )


# --------------------------------------------------------------------------------------------
# row scores: one shape for list and frame inputs


def _echo_id(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if not isinstance(value, str):  # truncate(): str() refuses an int of over 4300 digits
        return truncate(value, ECHO_ID_CHARS)
    text = value.replace("\n", " ").replace("\r", " ")
    return text if len(text) <= ECHO_ID_CHARS else text[: ECHO_ID_CHARS - 3] + "..."


def _messages(problems: Sequence[Problem]) -> list[str]:
    shown = [problem.message() for problem in problems[:MAX_REASONS]]
    if len(problems) > MAX_REASONS:
        shown.append(f"and {len(problems) - MAX_REASONS} more")
    return shown


@dataclass(slots=True)
class RowScores:
    """Per-row scores of a cohort (NaN / -1 for rejected rows) and why rows were rejected.

    Arrays have one entry per input row. ``kpi_scores`` maps each KPI id to its 0-1 scores.
    """

    rows: int
    valid: BoolArray
    overall: FloatArray
    coverage: FloatArray
    revenue_coverage: FloatArray
    band_codes: npt.NDArray[np.int8]
    kpi_scores: dict[str, FloatArray]
    weighting: Weighting
    currency: str
    _validated: ValidatedMetrics

    def creator_ids(self, rows: IntArray) -> list[str | None]:
        """The creator ids of ``rows`` (capped for echo)."""
        return [_echo_id(value) for value in self._validated.text("creator_id", rows)]

    def reasons(self, row: int) -> list[str]:
        """Why ``row`` was rejected (empty for a valid row)."""
        if self.valid[row]:
            return []
        problems = self._validated.problems(row)
        if problems:
            return _messages(problems)
        return [NO_KPI_REASON]


def score_rows(
    creators: Sequence[object] | pd.DataFrame,
    weighting: WeightingArg | Weighting = "tiered",
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    progress: Progress | None = None,
) -> RowScores:
    """Validate and score every row in one kernel pass; rejected rows are kept with reasons.

    The building block of :func:`score_cohort` and of the batch command. ``progress`` is called
    as in :func:`score_cohort` (up to 70 of 100: validation and scoring).
    """
    return _score_rows(creators, weighting, currency, fx_to_default, _Reporter(progress))


def _score_rows(
    creators: Sequence[object] | pd.DataFrame,
    weighting: WeightingArg | Weighting,
    currency: str | None,
    fx_to_default: Mapping[str, float] | None,
    reporter: _Reporter,
) -> RowScores:
    """Validate (the one validation path), score in one kernel pass, blank the rejected rows."""
    scheme = resolve_weighting(weighting)
    if isinstance(creators, Mapping):  # one object is not a list of them
        raise InvalidValueError(
            "creators", "must be a list of metric objects or a DataFrame", type(creators).__name__
        )
    validated = validate(
        creators,
        currency=currency,
        fx_to_default=fx_to_default,
        unknown="reject",
        progress=lambda done: reporter(60.0 * done),
    )
    reporter(60.0)
    n = validated.rows
    out = score_arrays(validated.columns, scheme.vector, n=n)
    reporter(70.0)
    overall = out.overall
    if validated.rejected.any():
        overall[validated.rejected] = np.nan
    valid = ~np.isnan(overall)
    all_valid = bool(valid.all())
    kpis: dict[str, FloatArray] = {}
    for k, kpi_id in enumerate(KPI_IDS):
        column = out.kpi_scores[:, k]
        kpis[kpi_id] = column if all_valid else np.where(valid, column, np.nan)
    bands = out.band_codes
    bands[~valid] = -1
    return RowScores(
        rows=n,
        valid=valid,
        overall=overall,
        coverage=out.coverage if all_valid else np.where(valid, out.coverage, np.nan),
        revenue_coverage=(
            out.revenue_coverage if all_valid else np.where(valid, out.revenue_coverage, np.nan)
        ),
        band_codes=bands,
        kpi_scores=kpis,
        weighting=scheme,
        currency=validated.input_currency,
        _validated=validated,
    )


# --------------------------------------------------------------------------------------------
# leaderboard and distributions


def _check_arguments(top_n: object, sort_by: object, min_coverage: object) -> None:
    if isinstance(top_n, bool) or not isinstance(top_n, int) or not 1 <= top_n <= MAX_TOP_N:
        raise InvalidValueError("top_n", f"must be a whole number in [1, {MAX_TOP_N}]", top_n)
    if sort_by != "overall_score" and sort_by not in KPI_IDS:
        raise InvalidValueError(
            "sort_by",
            "must be overall_score or a KPI id",
            sort_by,
            f"one of overall_score, {', '.join(KPI_IDS)}",
        )
    if (
        isinstance(min_coverage, bool)
        or not isinstance(min_coverage, int | float)
        or not 0.0 <= min_coverage <= 1.0  # no float(): a huge JSON integer overflows it
    ):
        raise InvalidValueError("min_coverage", "must be a fraction in [0, 1]", min_coverage)


def _top_rows(
    key: FloatArray, overall: FloatArray, candidates: IntArray, top_n: int, scores: RowScores
) -> list[int]:
    """The best ``top_n`` of ``candidates``: key desc, overall desc, creator_id asc, index asc."""
    rows = candidates
    if len(rows) > top_n:
        values = key[rows]
        kth = len(rows) - top_n
        threshold = np.partition(values, kth)[kth]
        rows = rows[values >= threshold]
        if len(rows) > 4 * top_n + 64:  # many ties on the key: narrow them by the overall score
            strict = rows[key[rows] > threshold]
            tied = rows[key[rows] == threshold]
            need = top_n - len(strict)
            second = overall[tied]
            kth = len(tied) - need
            cut = np.partition(second, kth)[kth]
            rows = np.concatenate([strict, tied[second >= cut]])
    ids = scores.creator_ids(rows)
    order = sorted(
        range(len(rows)),
        key=lambda j: (
            -float(key[rows[j]]),
            -float(overall[rows[j]]),
            ids[j] is None,
            ids[j] or "",
            int(rows[j]),
        ),
    )
    return [int(rows[j]) for j in order[:top_n]]


def _summary(values: FloatArray, scale: float, population: int) -> ScoreSummary:
    """Moments, quantiles and fixed bins of the non-NaN ``values`` on ``[0, scale]``.

    ``population`` is the number of creators summarised; those without a value (NaN) are
    counted as not scored.
    """
    ordered = np.sort(values)  # NaN sorts last
    scored = int(np.searchsorted(ordered, np.nan, side="left"))
    present = ordered[:scored]
    edges = [scale * i / BINS for i in range(BINS + 1)]
    if scored == 0:
        return ScoreSummary(
            scored=0,
            not_scored=population,
            mean=None,
            std=None,
            min=None,
            max=None,
            quantiles={},
            bins=[HistogramBin(low=edges[i], high=edges[i + 1], count=0) for i in range(BINS)],
        )
    mean = float(np.mean(present))
    deviations = present - mean
    std = math.sqrt(float(np.dot(deviations, deviations)) / scored)  # population (ddof=0)
    quantiles: dict[str, float] = {}
    for name, q in QUANTILES:
        position = (scored - 1) * q
        low = math.floor(position)
        high = min(low + 1, scored - 1)
        fraction = position - low
        a, b = float(present[low]), float(present[high])
        quantiles[name] = a + fraction * (b - a) if fraction < 0.5 else b - (b - a) * (1 - fraction)
    cuts = np.searchsorted(present, np.asarray(edges[1:-1]), side="left")
    bounds = [0, *(int(cut) for cut in cuts), scored]
    bins = [
        HistogramBin(low=edges[i], high=edges[i + 1], count=bounds[i + 1] - bounds[i])
        for i in range(BINS)
    ]
    return ScoreSummary(
        scored=scored,
        not_scored=population - scored,
        mean=mean,
        std=std,
        min=float(present[0]),
        max=float(present[-1]),
        quantiles=quantiles,
        bins=bins,
    )


def _result(
    scores: RowScores,
    *,
    top_n: int,
    sort_by: str,
    min_coverage: float,
    reporter: _Reporter,
) -> CohortResult:
    catalogue = load_catalogue()
    valid = scores.valid
    count = int(valid.sum())
    if count == 0:
        first = int(np.flatnonzero(~valid)[0]) if scores.rows else 0
        reasons = scores.reasons(first) if scores.rows else []
        raise InvalidValueError(
            "creators",
            "must contain at least one valid creator",
            f"{scores.rows} of {scores.rows} rows rejected",
            f"row {first}: {reasons[0]}" if reasons else "give at least one creator",
        )
    with np.errstate(invalid="ignore"):
        eligible = valid & (scores.coverage >= float(min_coverage) - COVERAGE_TOLERANCE)
    excluded = count - int(eligible.sum())
    overall = scores.overall
    key = overall if sort_by == "overall_score" else scores.kpi_scores[sort_by]
    candidates = np.flatnonzero(eligible & ~np.isnan(key))
    top = _top_rows(key, overall, candidates, top_n, scores)
    ids = scores.creator_ids(np.asarray(top, dtype=np.intp))
    leaderboard = [
        LeaderboardEntry(
            rank=rank,
            index=row,
            creator_id=ids[rank - 1],
            overall_score=float(overall[row]),
            band=cast("Band", catalogue.bands[int(scores.band_codes[row])][0]),
            coverage=float(scores.coverage[row]),
            revenue_coverage=float(scores.revenue_coverage[row]),
            sort_value=float(key[row]),
            kpi_scores={
                kpi_id: None
                if math.isnan(scores.kpi_scores[kpi_id][row])
                else float(scores.kpi_scores[kpi_id][row])
                for kpi_id in KPI_IDS
            },
        )
        for rank, row in enumerate(top, start=1)
    ]
    reporter(85.0)

    population = int(eligible.sum())

    def among_eligible(values: FloatArray) -> FloatArray:
        # Rejected rows are NaN already; only a min_coverage cut needs a mask.
        return values if excluded == 0 else values[eligible]

    distribution = Distribution(
        overall_score=_summary(among_eligible(overall), 100.0, population),
        kpis={
            kpi_id: _summary(among_eligible(scores.kpi_scores[kpi_id]), 1.0, population)
            for kpi_id in KPI_IDS
        },
    )
    rejected_rows = np.flatnonzero(~valid)
    listed = rejected_rows[:MAX_REJECTED_LISTED]
    rejected_ids = scores.creator_ids(listed)
    rejected = [
        RejectedRow(index=int(row), creator_id=rejected_ids[i], reasons=scores.reasons(int(row)))
        for i, row in enumerate(listed)
    ]
    result = CohortResult(
        count=count,
        rows=scores.rows,
        leaderboard=leaderboard,
        ranked=len(candidates),
        excluded_low_coverage=excluded,
        not_scored_on_sort_key=int(eligible.sum()) - len(candidates),
        sort_by=sort_by,
        top_n=top_n,
        min_coverage=float(min_coverage),
        distribution=distribution,
        rejected=rejected,
        rejected_total=len(rejected_rows),
        weighting=scores.weighting.name,
        currency=scores.currency,
        model_version=catalogue.model_version,
    )
    reporter(100.0)
    return result


def score_cohort(
    creators: Sequence[Mapping[str, object]] | pd.DataFrame,
    weighting: WeightingArg | Weighting = "tiered",
    *,
    top_n: int = 20,
    sort_by: str = "overall_score",
    min_coverage: float = 0.0,
    progress: Progress | None = None,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
) -> CohortResult:
    """Score a cohort; see the module docstring for the result and every rule.

    ``creators`` is a list of metric objects (canonical names, as for ``score``) or a DataFrame
    with one creator per row (columns that are not metrics are ignored). Bad rows are rejected
    with reasons; the call fails only when no row is valid or an argument is wrong.
    """
    _check_arguments(top_n, sort_by, min_coverage)
    if not is_frame(creators) and isinstance(creators, Sequence) and not creators:
        raise InvalidValueError("creators", "must contain at least one creator", "[]")
    reporter = _Reporter(progress)
    scores = _score_rows(creators, weighting, currency, fx_to_default, reporter)
    if scores.rows == 0:
        raise InvalidValueError("creators", "must contain at least one creator", "0 rows")
    return _result(
        scores, top_n=top_n, sort_by=sort_by, min_coverage=min_coverage, reporter=reporter
    )


def _ingest_summary(report: IngestReport) -> IngestSummary:
    return IngestSummary(
        rows_read=report.rows_read,
        rows_used=report.rows_used,
        creators=report.creators,
        window_start=report.window_start,
        window_end=report.window_end,
        columns_used=report.columns_used,
        columns_missing=report.columns_missing,
        columns_ignored=report.columns_ignored,
        notes=report.notes[:MAX_NOTES_LISTED],
        notes_total=len(report.notes),
        notes_by_code=report.notes_by_code,
        creator_notes=report.creator_notes[:MAX_NOTES_LISTED],
        creator_notes_total=len(report.creator_notes),
    )


def _echo_path(path: object) -> str:
    if isinstance(path, os.PathLike):
        path = os.fspath(cast("os.PathLike[str]", path))
    text = str(path)
    text = text.replace("\n", " ").replace("\r", " ")
    return text if len(text) <= 200 else text[:197] + "..."


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
    window_days: float = 30.0,
    as_of: datetime | str | float | None = None,
    burst_minutes: float = 10.0,
) -> CohortResult:
    """Read a CSV or Parquet file under the file-access policy and score it as a cohort.

    ``allowed_dirs`` is a :class:`~kpi_core.files.FileAccess` or the list of allowed directories
    (empty: file access is off, and the call says how to configure it). A per-video export
    (detected by a video id or posting-time column) is aggregated per creator first
    (``window_days``, ``as_of`` and ``burst_minutes`` as in
    :func:`~kpi_core.ingest.aggregate_videos`); the result's ``source`` says what was read and
    what the aggregation dropped or repaired. Row indexes refer to the file's data rows, or to
    the aggregated creators for a per-video export.
    """
    _check_arguments(top_n, sort_by, min_coverage)
    reporter = _Reporter(progress)
    access = (
        allowed_dirs
        if isinstance(allowed_dirs, FileAccess)
        else FileAccess.from_dirs(allowed_dirs, max_bytes=max_bytes)
    )
    if max_bytes not in (access.max_bytes, DEFAULT_MAX_BYTES):
        access = FileAccess(access.allowed_dirs, max_bytes, access.how_to_configure)
    shown = _echo_path(path)
    table = load_table(path, access)
    reporter(10.0)
    frame = table.frame
    if len(frame) == 0:
        raise InvalidValueError("path", "holds no data rows", shown)
    per_video = is_per_video_export(list(frame.columns))
    ingest: IngestSummary | None = None
    if per_video:
        aggregation = aggregate_videos(
            frame, window_days=window_days, as_of=as_of, burst_minutes=burst_minutes
        )
        ingest = _ingest_summary(aggregation.report)
        frame = aggregation.creators
        if len(frame) == 0:
            raise InvalidValueError(
                "path",
                "holds no usable video rows",
                shown,
                f"{aggregation.report.rows_read} rows read; see the reasons by code: "
                + ", ".join(f"{k} {v}" for k, v in aggregation.report.notes_by_code.items()),
            )
    reporter(20.0)
    inner = reporter.sub(20.0, 100.0)
    scores = _score_rows(frame, weighting, currency, fx_to_default, inner)
    result = _result(
        scores, top_n=top_n, sort_by=sort_by, min_coverage=min_coverage, reporter=inner
    )
    result.source = CohortSource(
        path=shown,
        format=table.format,
        size_bytes=table.size_bytes,
        rows_read=len(table.frame),
        skipped_lines=table.skipped_total,
        skipped_examples=[line.text for line in table.skipped_lines[:5]],
        per_video=per_video,
        ingest=ingest,
    )
    return result
