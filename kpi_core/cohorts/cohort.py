"""Scoring a cohort: many creators in, a leaderboard, score distributions and rejected rows out.

:func:`score_cohort` takes a list of metric objects (as decoded from JSON) or a DataFrame (one
creator per row, canonical metric names as columns). Files are read by :mod:`kpi_core.cohorts`
(``score_cohort_file`` in :mod:`kpi_core.cohorts.scoring`), which hands the rows to the functions
here.

**Cohorts reject rows, not calls.** Each row is validated by the one validation path
(:func:`kpi_core.validation.validate`, which ``score`` and ``score_frame`` use too). A row that
breaks a rule, or has no metric that feeds any KPI, is listed in ``rejected`` with its reasons and
the rest are scored, all in one pass of the kernel (:func:`~kpi_core.kernel.score_arrays`, the
function ``score_frame`` wraps, so the scores equal ``score_frame``'s). Columns of a frame that
are not metrics are ignored, as ``score_frame`` ignores them; in a list, an unknown field rejects
its row, as it fails ``score``. The call fails only when no row is valid, or when an argument of
the call itself (weighting, currency, ``top_n``...) is wrong.

The result, :class:`CohortResult`:

* ``leaderboard``: the top ``top_n`` creators by ``sort_by`` (``overall_score``, ``lower_bound``:
  the lower bound of the score's interval, a conservative ordering that ranks thin or noisy data
  below equally scored measured data, or a KPI id), highest first, each with its interval
  (``score_low``, ``score_high`` at ``interval_level``). Ties are broken by the overall score
  (when sorting by the lower bound or a KPI), then by
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
* ``thin_data``: scored creators with under half the scheme's weight measured (coverage < 0.5),
  and ``no_revenue_data``: those with no data on any tier-1 (revenue) KPI. Their scores lean on
  priors, so their intervals are wide and their places on a point-score ranking are uncertain.
* ``missing``: how missing metrics counted (``benchmark``, the default: at their prior; or
  ``renormalise``, the optimistic option; see :func:`kpi_core.score`).

``progress``, when given, is called as ``progress(done, total)`` with ``total`` 100 and ``done``
strictly increasing, at least four times (after validation, scoring, ranking and the
distributions; list inputs also report during validation). An exception raised by it aborts the
call, so a caller can use it to cancel.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from kpi_core.catalogue import KPI_IDS, KpiId, load_catalogue
from kpi_core.cohorts.readers import SourceFormat
from kpi_core.cohorts.report import IngestReport
from kpi_core.errors import InvalidValueError, Problem, truncate
from kpi_core.kernel import Missing, check_missing, score_arrays
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
    "LeaderboardEntry",
    "Progress",
    "RejectedCreator",
    "RowScores",
    "ScoreSummary",
    "SortKey",
    "score_cohort",
    "score_rows",
    "summarised",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

#: What a leaderboard ranks on: the overall score, its interval's lower bound, or a KPI id.
SortKey = Literal["overall_score", "lower_bound", KpiId]

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
#: A creator with coverage below this (with the tolerance) counts as thin data.
THIN_COVERAGE = 0.5

NO_KPI_REASON = "row has no metric that feeds a KPI, so nothing can be scored - see kpi://metrics"


# --------------------------------------------------------------------------------------------
# result models


class LeaderboardEntry(BaseModel):
    """One creator on the leaderboard."""

    rank: int = Field(description="1 for the best.")
    index: int = Field(description="0-based position of the creator's row in the input.")
    creator_id: str | None
    overall_score: float = Field(description="0-100.")
    score_low: float = Field(description="Lower bound of the score's interval (interval_level).")
    score_high: float = Field(description="Upper bound of the score's interval.")
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


class RejectedCreator(BaseModel):
    index: int = Field(description="0-based position of the row in the input.")
    creator_id: str | None = Field(description="The row's creator id, capped, when readable.")
    reasons: list[str]


class CohortSource(BaseModel):
    """The file (or pasted CSV) a cohort came from."""

    path: str = Field(description="The path as given (truncated), or 'csv_text'.")
    format: SourceFormat
    size_bytes: int
    rows_read: int
    skipped_lines: int = Field(description="Malformed CSV lines skipped.")
    skipped_examples: list[str]
    per_video: bool = Field(description="True when the file was a per-video export.")


class CohortResult(BaseModel):
    """A scored cohort: the leaderboard, the distributions, and what was rejected."""

    summary: str = Field(
        description="What an assistant should say first (the text content, repeated here)."
    )
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
    thin_data: int = Field(
        default=0, description="Scored creators with under half the weight measured."
    )
    no_revenue_data: int = Field(
        default=0, description="Scored creators with no data on any revenue (tier 1) KPI."
    )
    missing: Missing = Field(
        default="benchmark", description="How missing metrics counted: benchmark or renormalise."
    )
    interval_level: float = Field(default=0.8, description="The level of the score intervals.")
    distribution: Distribution
    rejected: list[RejectedCreator] = Field(description="The first 50 rejected rows by index.")
    rejected_total: int
    weighting: str
    currency: str
    model_version: str
    source: CohortSource | None = None
    ingest: IngestReport | None = Field(
        default=None,
        description="How a file became creator rows: format, column mapping, counts of repairs "
        "and drops with examples, window, period.",
    )
    dry_run: bool = Field(default=False, description="True when the file was only inspected.")


# --------------------------------------------------------------------------------------------
# progress


#: The steps of scoring a cohort on the 0-100 progress scale, each with where it ends. A list's
#: validation reports as it goes; a file's call reads it first (up to ``READING_END``) and maps
#: these steps into the rest of the scale.
STEP_ENDS: tuple[tuple[str, float], ...] = (
    ("validating", 60.0),
    ("scoring", 70.0),
    ("ranking", 85.0),
    ("summarising", 100.0),
)
_END = dict(STEP_ENDS)
#: Where reading a file ends on a file call's 0-100 scale.
READING_END = 20.0


def progress_message(done: float, total: float, *, reading: bool = False) -> str:
    """What a cohort call is doing once ``done`` of ``total`` is reported: the step under way
    (``reading`` when the call reads a file first), for a progress notification."""
    from prompts import render

    percent = 100.0 * done / total if total > 0 else 0.0
    if reading and percent < READING_END:
        stage = "reading"
    else:
        scaled = (percent - READING_END) / (1.0 - READING_END / 100.0) if reading else percent
        stage = next((step for step, end in STEP_ENDS if scaled < end), "done")
    return render("progress.txt.j2", task="cohort", stage=stage, percent=round(percent))


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
    #: Bounds of each creator's score interval (the kernel's level); NaN for rejected rows.
    score_low: FloatArray
    score_high: FloatArray
    missing: Missing = "benchmark"

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
    missing: Missing = "benchmark",
) -> RowScores:
    """Validate and score every row in one kernel pass; rejected rows are kept with reasons.

    The building block of :func:`score_cohort` and of the batch command. ``progress`` is called
    as in :func:`score_cohort` (up to 70 of 100: validation and scoring); ``missing`` is that of
    :func:`kpi_core.score`.
    """
    return _score_rows(
        creators, weighting, currency, fx_to_default, _Reporter(progress), missing=missing
    )


def _score_rows(
    creators: Sequence[object] | pd.DataFrame,
    weighting: WeightingArg | Weighting,
    currency: str | None,
    fx_to_default: Mapping[str, float] | None,
    reporter: _Reporter,
    *,
    missing: Missing = "benchmark",
) -> RowScores:
    """Validate (the one validation path), score in one kernel pass, blank the rejected rows.
    A KPI without data for a creator is NaN here (its score is only its prior)."""
    scheme = resolve_weighting(weighting)
    check_missing(missing)
    if isinstance(creators, Mapping):  # one object is not a list of them
        raise InvalidValueError(
            "creators", "must be a list of metric objects or a DataFrame", type(creators).__name__
        )
    validated = validate(
        creators,
        currency=currency,
        fx_to_default=fx_to_default,
        unknown="reject",
        progress=lambda done: reporter(_END["validating"] * done),
    )
    reporter(_END["validating"])
    n = validated.rows
    out = score_arrays(validated.columns, scheme.vector, n=n, intervals=True, missing=missing)
    reporter(_END["scoring"])
    overall = out.overall
    if validated.rejected.any():
        overall[validated.rejected] = np.nan
    valid = ~np.isnan(overall)
    all_valid = bool(valid.all())
    kpis: dict[str, FloatArray] = {}
    for k, kpi_id in enumerate(KPI_IDS):
        column = out.kpi_scores[:, k]
        kpis[kpi_id] = np.where(valid & ~out.imputed[:, k], column, np.nan)
    bands = out.band_codes
    bands[~valid] = -1
    assert out.overall_low is not None
    assert out.overall_high is not None
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
        score_low=np.where(valid, out.overall_low, np.nan),
        score_high=np.where(valid, out.overall_high, np.nan),
        missing=missing,
    )


# --------------------------------------------------------------------------------------------
# leaderboard and distributions


def _check_arguments(
    top_n: object, sort_by: object, min_coverage: object, missing: object = "benchmark"
) -> None:
    if isinstance(top_n, bool) or not isinstance(top_n, int) or not 1 <= top_n <= MAX_TOP_N:
        raise InvalidValueError("top_n", f"must be a whole number in [1, {MAX_TOP_N}]", top_n)
    if sort_by not in ("overall_score", "lower_bound") and sort_by not in KPI_IDS:
        raise InvalidValueError(
            "sort_by",
            "must be overall_score, lower_bound or a KPI id",
            sort_by,
            f"one of overall_score, lower_bound, {', '.join(KPI_IDS)}",
        )
    check_missing(missing)
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


def _no_valid_creator(scores: RowScores) -> InvalidValueError:
    first = int(np.flatnonzero(~scores.valid)[0]) if scores.rows else 0
    reasons = scores.reasons(first) if scores.rows else []
    return InvalidValueError(
        "creators",
        "must contain at least one valid creator",
        f"{scores.rows} of {scores.rows} rows rejected",
        f"row {first}: {reasons[0]}" if reasons else "give at least one creator",
    )


def _leaderboard(scores: RowScores, key: FloatArray, top: list[int]) -> list[LeaderboardEntry]:
    catalogue = load_catalogue()
    ids = scores.creator_ids(np.asarray(top, dtype=np.intp))
    return [
        LeaderboardEntry(
            rank=rank,
            index=row,
            creator_id=ids[rank - 1],
            overall_score=float(scores.overall[row]),
            score_low=float(scores.score_low[row]),
            score_high=float(scores.score_high[row]),
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


def _distribution(scores: RowScores, eligible: BoolArray, everyone: bool) -> Distribution:
    """The distributions over the eligible creators (``everyone``: no min_coverage cut, so the
    rejected rows, NaN already, need no mask)."""
    population = int(eligible.sum())

    def among_eligible(values: FloatArray) -> FloatArray:
        return values if everyone else values[eligible]

    return Distribution(
        overall_score=_summary(among_eligible(scores.overall), 100.0, population),
        kpis={
            kpi_id: _summary(among_eligible(scores.kpi_scores[kpi_id]), 1.0, population)
            for kpi_id in KPI_IDS
        },
    )


def _rejected(scores: RowScores) -> tuple[list[RejectedCreator], int]:
    rejected_rows = np.flatnonzero(~scores.valid)
    listed = rejected_rows[:MAX_REJECTED_LISTED]
    rejected_ids = scores.creator_ids(listed)
    rejected = [
        RejectedCreator(
            index=int(row), creator_id=rejected_ids[i], reasons=scores.reasons(int(row))
        )
        for i, row in enumerate(listed)
    ]
    return rejected, len(rejected_rows)


def _result(
    scores: RowScores,
    *,
    top_n: int,
    sort_by: str,
    min_coverage: float,
    reporter: _Reporter,
) -> CohortResult:
    count = int(scores.valid.sum())
    if count == 0:
        raise _no_valid_creator(scores)
    with np.errstate(invalid="ignore"):
        eligible = scores.valid & (scores.coverage >= float(min_coverage) - COVERAGE_TOLERANCE)
    excluded = count - int(eligible.sum())
    key = _sort_key(scores, sort_by)
    candidates = np.flatnonzero(eligible & ~np.isnan(key))
    top = _top_rows(key, scores.overall, candidates, top_n, scores)
    leaderboard = _leaderboard(scores, key, top)
    reporter(_END["ranking"])
    rejected, rejected_total = _rejected(scores)
    thin_data, no_revenue_data = _thin_counts(scores)
    result = CohortResult(
        summary="",
        count=count,
        rows=scores.rows,
        leaderboard=leaderboard,
        ranked=len(candidates),
        excluded_low_coverage=excluded,
        not_scored_on_sort_key=int(eligible.sum()) - len(candidates),
        sort_by=sort_by,
        top_n=top_n,
        min_coverage=float(min_coverage),
        thin_data=thin_data,
        no_revenue_data=no_revenue_data,
        missing=scores.missing,
        interval_level=load_catalogue().model.interval_level,
        distribution=_distribution(scores, eligible, excluded == 0),
        rejected=rejected,
        rejected_total=rejected_total,
        weighting=scores.weighting.name,
        currency=scores.currency,
        model_version=load_catalogue().model_version,
    )
    reporter(_END["summarising"])
    return result


def _sort_key(scores: RowScores, sort_by: str) -> FloatArray:
    if sort_by == "overall_score":
        return scores.overall
    if sort_by == "lower_bound":
        return scores.score_low
    return scores.kpi_scores[sort_by]


def _thin_counts(scores: RowScores) -> tuple[int, int]:
    """``thin_data`` and ``no_revenue_data``: scored creators under half the weight measured,
    and without any revenue data (NaN rows, the rejected ones, compare false)."""
    with np.errstate(invalid="ignore"):
        thin = scores.coverage < THIN_COVERAGE - COVERAGE_TOLERANCE
        no_revenue = scores.revenue_coverage <= 0.0
    return int(thin.sum()), int(no_revenue.sum())


def summarised(result: CohortResult) -> CohortResult:
    """``result`` with its ``summary`` rendered (call it once every field is final)."""
    from prompts import render

    result.summary = render("cohort_summary.txt.j2", result=result)
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
    missing: Missing = "benchmark",
) -> CohortResult:
    """Score a cohort; see the module docstring for the result and every rule.

    ``creators`` is a list of metric objects (canonical names, as for ``score``) or a DataFrame
    with one creator per row (columns that are not metrics are ignored). Bad rows are rejected
    with reasons; the call fails only when no row is valid or an argument is wrong. ``missing``
    is that of :func:`kpi_core.score` (``"renormalise"`` is optimistic for thin data).
    """
    _check_arguments(top_n, sort_by, min_coverage, missing)
    if not is_frame(creators) and isinstance(creators, Sequence) and not creators:
        raise InvalidValueError("creators", "must contain at least one creator", "[]")
    reporter = _Reporter(progress)
    scores = _score_rows(creators, weighting, currency, fx_to_default, reporter, missing=missing)
    if scores.rows == 0:
        raise InvalidValueError("creators", "must contain at least one creator", "0 rows")
    return summarised(
        _result(scores, top_n=top_n, sort_by=sort_by, min_coverage=min_coverage, reporter=reporter)
    )
