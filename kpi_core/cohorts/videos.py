"""Per-video exports to one row of canonical metrics per creator, vectorised (no per-row Python).

Each creator gets, over the window (``window_days``, default 30; ``None`` for the whole export):

* ``views``, ``likes``, ``comments``, ``shares``, ``saves``: the sum over the creator's videos in
  the window of each video's counter (lifetime counts of those videos, as exports give them); a
  video without a readable value is left out of that sum, and a creator note says over how many
  videos each sum runs;
* ``avg_views_per_video`` (views over the videos with a view count, rounded to a whole number),
  ``avg_video_duration_s`` (mean duration), ``trending_sound_share`` (share of videos with a known
  flag on a trending sound), ``follower_count`` (the value on the latest video, by posting time,
  then row order);
* ``posts_per_week``: **posting sessions** in the period divided by its length in weeks. Videos
  within ``burst_minutes`` (10; 0 turns it off) of the previous one by the same creator are one
  session, so a burst of uploads never makes the rate explode.

The window ends at ``as_of`` (default: the latest posting time, so the result depends on the data
alone) and holds videos posted in ``(as_of - window_days, as_of]``. With ``window_days=None`` the
period is the export's date range, and the counts are rescaled to 30 days (said in the report).

Rows are dropped, with the reason counted, when they are exact duplicates of an earlier row (over
the columns read), repeat a ``video_id`` of the same creator (the copy with the most views is
kept: counters only grow), lack a creator id or have one over 128 characters, lack a readable
posting time, or fall outside the window. Creators left with no video in the window are counted
and listed by id. When 10% or more of the creators (at least 10) have exactly the same, maximal
number of videos, a ``scraper_cap`` warning says the scraper probably stopped there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from kpi_core.cohorts.report import MAX_OUTSIDE_IDS, IngestWarning, NoteBook
from kpi_core.cohorts.table import MISSING, TOO_LONG, Collected
from kpi_core.errors import InvalidValueError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COUNT_COLUMNS", "VideoWindow", "Videos", "aggregate"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

COUNT_COLUMNS = ("views", "likes", "comments", "shares", "saves")
_DAY = 86400.0
_DROP_MESSAGES = {
    "duplicate_row": ("row", "an exact duplicate of an earlier row; row dropped"),
    "missing_creator": ("creator_id", "no creator id; row dropped"),
    "creator_id_too_long": ("creator_id", "creator id longer than its cap; row dropped"),
    "bad_timestamp": ("posted_at", "posting time unreadable; row dropped"),
    "missing_timestamp": ("posted_at", "posting time missing; row dropped"),
    "outside_window": ("posted_at", "posted outside the window; row dropped"),
    "duplicate_video": (
        "row",
        "same creator and video_id as row {winner}, kept as the copy with the most views; "
        "row dropped",
    ),
}


@dataclass(frozen=True, slots=True)
class VideoWindow:
    """The window and rules of an aggregation."""

    window_days: int | None = 30
    as_of: float | None = None
    burst_minutes: float = 10.0
    period_days: float | None = None


@dataclass(slots=True)
class Videos:
    """The aggregation: one row per creator, and what the report needs to say about it."""

    creators: pd.DataFrame
    rows_used: int
    creators_seen: int
    window_start: float | None
    window_end: float | None
    first_post: float | None
    last_post: float | None
    period_days: float | None
    period_source: str
    rescaled: list[str]
    outside_ids: list[str]
    outside_total: int
    warnings: list[IngestWarning]


class _Drops:
    """Rows dropped so far, the first reason of each counted in the note book."""

    def __init__(self, rows: int, notes: NoteBook, table: Collected) -> None:
        self.dropped = np.zeros(rows, dtype=bool)
        self.notes = notes
        self.table = table

    def drop(self, mask: BoolArray, code: str, winners: IntArray | None = None) -> None:
        new = mask & ~self.dropped
        self.dropped |= new
        rows = np.flatnonzero(new)
        if self.notes.count(code, rows.size):
            field, message = _DROP_MESSAGES[code]
            for row in rows[: self.notes.wants(code, field)]:
                text = message if winners is None else message.format(winner=winners[row])
                self.notes.example(int(row), field, "row_dropped", code, text)


def _creator_codes(table: Collected, drops: _Drops) -> npt.NDArray[np.int64]:
    if "creator_id" not in table.texts:
        return np.zeros(table.rows, dtype=np.int64)
    codes = table.texts["creator_id"].codes
    drops.drop(codes == MISSING, "missing_creator")
    drops.drop(codes == TOO_LONG, "creator_id_too_long")
    return codes


def _row_hashes(table: Collected) -> npt.NDArray[np.uint64]:
    from pandas.util import hash_array as _hash

    hash_array = cast("Callable[[Any], npt.NDArray[np.uint64]]", _hash)

    combined = np.zeros(table.rows, dtype=np.uint64)
    parts: list[npt.NDArray[np.uint64]] = [
        *(np.nan_to_num(values, nan=-1.5).view(np.uint64) for values in table.numbers.values()),
        *(codes.codes.view(np.uint64) for codes in table.texts.values()),
        *table.hashes.values(),
    ]
    for part in parts:
        combined = hash_array(combined ^ (part * np.uint64(0x9E3779B97F4A7C15)))
    return combined


def _drop_duplicate_rows(table: Collected, drops: _Drops) -> None:
    if table.rows == 0:
        return
    hashes = _row_hashes(table)
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    drops.drop(first[inverse] != np.arange(table.rows), "duplicate_row")


def _drop_duplicate_videos(table: Collected, codes: npt.NDArray[np.int64], drops: _Drops) -> None:
    if "video_id" not in table.hashes:
        return
    videos = table.hashes["video_id"]
    candidates = np.flatnonzero(~drops.dropped & (videos != 0))
    if candidates.size < 2:
        return
    views = table.numbers.get("views", np.full(table.rows, np.nan))[candidates]
    order = np.lexsort(
        (candidates, -np.nan_to_num(views, nan=-1.0), videos[candidates], codes[candidates])
    )
    ranked = candidates[order]
    same = (codes[ranked][1:] == codes[ranked][:-1]) & (videos[ranked][1:] == videos[ranked][:-1])
    losers = np.zeros(table.rows, dtype=bool)
    losers[ranked[1:][same]] = True
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    group_start = starts[np.searchsorted(starts, np.arange(ranked.size), side="right") - 1]
    winners = np.zeros(table.rows, dtype=np.intp)
    winners[ranked] = ranked[group_start]
    drops.drop(losers, "duplicate_video", winners)


def _scraper_cap(
    codes: npt.NDArray[np.int64], usable: BoolArray, table: Collected
) -> list[IngestWarning]:
    present = codes[usable & (codes >= 0)]
    if present.size == 0:
        return []
    per_creator = np.unique(present, return_counts=True)[1]
    creators = per_creator.size
    top = int(per_creator.max())
    at_top = int((per_creator == top).sum())
    if creators < 10 or top < 5 or at_top * 10 < creators:
        return []
    return [
        IngestWarning(
            code="scraper_cap",
            message=(
                f"{at_top:,} of {creators:,} creators have exactly {top} videos, the most any "
                f"creator has: the scraper probably stopped at {top}, so posting frequency and "
                "volume are truncated for them"
            ),
        )
    ]


def aggregate(table: Collected, window: VideoWindow) -> Videos:
    """Aggregate a per-video table (see the module docstring)."""
    if window.window_days is not None and window.window_days <= 0:
        raise InvalidValueError(
            "window_days", "must be a positive whole number of days, or none", window.window_days
        )
    if not window.burst_minutes >= 0 or not math.isfinite(window.burst_minutes):
        raise InvalidValueError(
            "burst_minutes", "must be a non-negative number", window.burst_minutes
        )
    notes = table.notes
    drops = _Drops(table.rows, notes, table)
    _drop_duplicate_rows(table, drops)
    codes = _creator_codes(table, drops)
    times = table.numbers.get("posted_at")
    if times is not None:
        drops.drop(table.invalid["posted_at"], "bad_timestamp")
        drops.drop(np.isnan(times), "missing_timestamp")
    before_window = ~drops.dropped
    warnings = _scraper_cap(codes, before_window, table)
    seen = np.unique(codes[before_window])
    start, end, first, last = _window(times, before_window, window)
    if times is not None and end is not None:
        with np.errstate(invalid="ignore"):
            outside = times > end
            if start is not None:
                outside |= times <= start
        drops.drop(outside, "outside_window")
    _drop_duplicate_videos(table, codes, drops)
    kept = np.flatnonzero(~drops.dropped)
    period, source = _period(window, first, last, end)
    frame, creator_codes = _per_creator(table, codes, kept, times, period, window, notes)
    left_out = np.setdiff1d(seen, creator_codes)
    outside_ids = _ids(table, left_out[:MAX_OUTSIDE_IDS])
    rescaled: list[str] = []
    if period is not None and abs(period - 30.0) > 1e-9 and window.window_days is None:
        for name in COUNT_COLUMNS:
            if name in frame.columns:
                frame[name] = np.floor(frame[name].to_numpy(dtype=np.float64) * 30.0 / period + 0.5)
                rescaled.append(name)
    return Videos(
        creators=frame,
        rows_used=int(kept.size),
        creators_seen=int(seen.size),
        window_start=start,
        window_end=end,
        first_post=first,
        last_post=last,
        period_days=period,
        period_source=source,
        rescaled=rescaled,
        outside_ids=outside_ids,
        outside_total=int(left_out.size),
        warnings=warnings,
    )


def _window(
    times: FloatArray | None, usable: BoolArray, window: VideoWindow
) -> tuple[float | None, float | None, float | None, float | None]:
    """(window start, window end, first post, last post) in epoch seconds."""
    if times is None:
        return None, None, None, None
    known = times[usable & ~np.isnan(times)]
    first = float(known.min()) if known.size else None
    last = float(known.max()) if known.size else None
    end = window.as_of if window.as_of is not None else last
    if end is None:
        return None, None, first, last
    start = None if window.window_days is None else end - window.window_days * _DAY
    return start, end, first, last


def _period(
    window: VideoWindow, first: float | None, last: float | None, end: float | None
) -> tuple[float | None, str]:
    if window.window_days is not None:
        return float(window.window_days), "the window"
    if window.period_days is not None:
        return float(window.period_days), "period_days"
    if first is None or end is None:
        return None, ""
    return max(1.0, (end - first) / _DAY), "the export's date range"


def _ids(table: Collected, codes: npt.NDArray[np.int64]) -> list[str]:
    if "creator_id" not in table.texts:
        return []
    uniques = table.texts["creator_id"].uniques
    return [uniques[int(code)] for code in codes if code >= 0]


def _per_creator(
    table: Collected,
    codes: npt.NDArray[np.int64],
    kept: IntArray,
    times: FloatArray | None,
    period: float | None,
    window: VideoWindow,
    notes: NoteBook,
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """The creator rows (in order of first appearance) and their creator codes."""
    import pandas as pd

    kept_codes = codes[kept]
    unique, first = np.unique(kept_codes, return_index=True)
    order = np.argsort(first, kind="stable")
    creator_codes = unique[order]
    position = np.empty(unique.size, dtype=np.intp)
    position[order] = np.arange(unique.size)
    group = position[np.searchsorted(unique, kept_codes)] if unique.size else kept_codes
    size = unique.size
    labels: list[str | None] = (
        _labels(table, creator_codes) if "creator_id" in table.texts else [None] * size
    )
    videos = np.bincount(group, minlength=size).astype(np.float64)
    data: dict[str, object] = {"creator_id": labels, "videos": videos}
    partial = _Partial(labels, videos, notes)

    def sums(name: str) -> tuple[FloatArray, FloatArray]:
        values = table.numbers[name][kept]
        known = ~np.isnan(values)
        total = np.bincount(group[known], weights=values[known], minlength=size)
        counted = np.bincount(group[known], minlength=size).astype(np.float64)
        return np.asarray(total, dtype=np.float64), counted

    with np.errstate(invalid="ignore", divide="ignore"):
        for name in COUNT_COLUMNS:
            if name in table.numbers:
                total, counted = sums(name)
                data[name] = np.where(counted > 0, total, np.nan)
                partial.add(name, counted)
                if name == "views":
                    average = np.floor(total / counted + 0.5)
                    data["avg_views_per_video"] = np.where(counted > 0, average, np.nan)
        for name, target in (
            ("duration", "avg_video_duration_s"),
            ("trending_sound", "trending_sound_share"),
        ):
            if name in table.numbers:
                total, counted = sums(name)
                data[target] = np.where(counted > 0, total / counted, np.nan)
                partial.add(target, counted)
    if "follower_count" in table.numbers:
        data["follower_count"] = _latest(
            table.numbers["follower_count"][kept],
            None if times is None else times[kept],
            group,
            size,
        )
    if times is not None and period is not None:
        sessions = _sessions(times[kept], group, size, window.burst_minutes * 60.0)
        data["posts_per_week"] = sessions / (period / 7.0)
        for k in np.flatnonzero(sessions < videos):
            notes.creator(
                labels[k],
                "posts_per_week",
                f"{videos[k]:.0f} videos counted as {sessions[k]:.0f} posting sessions (videos "
                f"within {window.burst_minutes:g} minutes of the previous one are one session)",
            )
    return pd.DataFrame(data, copy=False), creator_codes


def _labels(table: Collected, codes: npt.NDArray[np.int64]) -> list[str | None]:
    uniques = table.texts["creator_id"].uniques
    return [uniques[int(code)] if code >= 0 else None for code in codes]


class _Partial:
    def __init__(self, labels: list[str | None], videos: FloatArray, notes: NoteBook) -> None:
        self.labels = labels
        self.videos = videos
        self.notes = notes

    def add(self, field: str, counted: FloatArray) -> None:
        for k in np.flatnonzero(counted < self.videos):
            self.notes.creator(
                self.labels[k],
                field,
                f"{field} over {counted[k]:.0f} of {self.videos[k]:.0f} videos in the window "
                "(the others have no readable value)",
            )


def _latest(values: FloatArray, times: FloatArray | None, group: IntArray, size: int) -> FloatArray:
    """Each creator's value on its latest row with a value (by time, then by row order)."""
    out = np.full(size, np.nan)
    known = np.flatnonzero(~np.isnan(values))
    order = known if times is None else known[np.lexsort((known, times[known]))]
    out[group[order]] = values[order]  # later assignments win: the latest row per creator
    return out


def _sessions(times: FloatArray, group: IntArray, size: int, gap_s: float) -> FloatArray:
    """Posting sessions per creator: a new session starts when the gap exceeds ``gap_s``."""
    if times.size == 0:
        return np.zeros(size)
    order = np.lexsort((times, group))
    sorted_group = group[order]
    sorted_times = times[order]
    new = np.ones(times.size, dtype=bool)
    new[1:] = ~(
        (sorted_group[1:] == sorted_group[:-1]) & (sorted_times[1:] - sorted_times[:-1] <= gap_s)
    )
    return np.bincount(sorted_group[new], minlength=size).astype(np.float64)
