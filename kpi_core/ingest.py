"""Messy inputs to canonical creator metrics: per-video exports and TikTok Shop affiliate payloads.

**Per-video exports** (:func:`aggregate_videos`): one row per video, as scraped or exported.
Column names are matched through :data:`VIDEO_COLUMNS` after normalising the header (case,
spaces, dots and camelCase fold to snake_case, so ``Play Count``, ``playCount`` and
``stats.playCount`` all read as ``play_count``). Missing columns are tolerated and listed; the
metrics they feed are simply absent. Each creator gets, over a 30-day window:

* ``views``, ``likes``, ``comments``, ``shares``, ``saves``: the sum over the creator's videos in
  the window of each video's counter (counters are lifetime counts of those videos, as exports
  give them); a video whose value is missing or unreadable is left out of that sum and the creator
  note says over how many videos each sum runs;
* ``avg_views_per_video``: that views sum over the videos with a view count, rounded to a whole
  number; ``avg_video_duration_s``: the mean duration; ``trending_sound_share``: the share of
  videos (with a known flag) on a trending sound; ``follower_count``: the value on the creator's
  latest video (by posting time, else the last row in file order);
* ``posts_per_week``: **posting sessions** in the window divided by the window's length in weeks
  (``window_days / 7``), never by the span between the first and the last post. Videos posted
  within ``burst_minutes`` (10 by default; 0 turns this off) of the previous one by the same
  creator form one session, so a creator who uploads twelve videos in five minutes posted once,
  and a burst can never make the rate explode. The window ends at ``as_of`` (default: the latest
  posting time in the export, so the result depends on the data alone, not on the clock) and
  holds videos posted in ``(as_of - window_days, as_of]``.

Values are parsed, repaired where the meaning is clear, and every row-level action is reported
(:class:`RowNote`): ``1.2K`` / ``3.4M`` / ``2B`` (abbreviated, rounded to a whole count),
``1,234`` (thousands separators), ``mm:ss`` and ``h:mm:ss`` durations, ``yes``/``no``/``1``/``0``
flags, ISO 8601 times (a time without an offset is taken as UTC), epoch seconds or milliseconds,
and ``MM/DD/YYYY[ HH:MM[:SS]]``. A word where a number belongs drops that value (not the row).
Rows are dropped, with the reason, when they are exact duplicates of an earlier row, repeat a
``video_id`` of the same creator (the copy with the most views is kept: counters only grow, so it
is the latest snapshot), lack a creator id, have a creator id over 128 characters, lack a
readable posting time (when the export has a time column), or fall outside the window.

**TikTok Shop affiliate payloads** (:func:`map_affiliate_payload`): the creator objects of the
Affiliate Seller API, as returned by *Get Marketplace Creator Performance*
(``GET /affiliate_seller/{version}/marketplace_creators/{creator_user_id}``, one ``creator``) and
*Search Creators on Marketplace* (``POST .../marketplace_creators/search``, a ``creators`` list).
The shape assumed (the fields used; others are listed as ignored) is :class:`AffiliateCreator`:

* money as ``{"amount": "1234.50", "currency": "USD"}`` (a plain number is accepted too):
  ``gmv``, ``video_gmv``, ``live_gmv``, ``gpm``;
* where exact values are withheld, ``<field>_range`` objects
  ``{"minimum_amount": .., "maximum_amount": .., "currency": ..}`` (``min`` / ``max`` accepted):
  ``gmv_range``, ``gpm_range``, ``units_sold_range``, ``avg_commission_rate_range``. A closed
  range becomes its **midpoint**; an open one (no maximum, such as ``GMV_RANGE_10000_AND_ABOVE``)
  its minimum, as a lower bound. :attr:`AffiliateMapping.sources` says which, per metric;
* ``avg_commission_rate`` in hundredths of a percent (``6000`` is 60%, so 0.60);
* follower demographics as percentages scaled by 10,000 (``7150`` is 71.5%):
  ``top_follower_demographics.major_gender {gender, percentage}`` and ``age_ranges``, and
  (assumed, from the search filters' shape) ``follower_demographics.gender_distribution`` /
  ``age_distribution`` lists of ``{gender | age_range, percentage}``;
* counts: ``follower_count``, ``units_sold``, ``ec_video_count``, ``ec_live_count``,
  ``promoted_product_num``, ``avg_ec_video_play_count`` (or ``avg_ec_video_view_count``),
  ``avg_ec_video_like_count``, ``avg_ec_video_comment_count``, ``avg_ec_video_share_count``.

The mapping is in :data:`AFFILIATE_FIELDS` and in :func:`map_affiliate_creator`. Derived metrics:
``live_gmv_share = live_gmv / gmv`` (exact amounts only); ``likes_ratio`` and its siblings from
the average like, comment and share counts; ``audience_match`` only when the caller names a
target audience (the share of followers in the target gender times the share in the target age
ranges, assuming the two independent).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from kpi_core.errors import InvalidValueError, truncate

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AFFILIATE_FIELDS",
    "VIDEO_COLUMNS",
    "AffiliateCreator",
    "AffiliateMapping",
    "AudienceTarget",
    "CreatorNote",
    "FieldSource",
    "IngestReport",
    "RowNote",
    "VideoAggregation",
    "aggregate_videos",
    "is_per_video_export",
    "map_affiliate_creator",
    "map_affiliate_payload",
    "normalise_header",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: Longest creator id kept (the catalogue's limit for ``creator_id``).
MAX_CREATOR_ID = 128

# --------------------------------------------------------------------------------------------
# the alias table: canonical per-video column -> header names seen in exports (normalised)

VIDEO_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "creator_id": (
            "creator_id",
            "creator",
            "author",
            "author_name",
            "author_unique_id",
            "author_meta_name",
            "unique_id",
            "username",
            "user_name",
            "handle",
            "account",
        ),
        "video_id": ("video_id", "id", "aweme_id", "item_id", "post_id", "video"),
        "posted_at": (
            "posted_at",
            "create_time",
            "create_time_iso",
            "created_at",
            "created",
            "timestamp",
            "publish_time",
            "published_at",
            "post_time",
            "upload_time",
            "upload_date",
            "date",
            "time",
        ),
        "views": (
            "views",
            "play_count",
            "plays",
            "view_count",
            "video_views",
            "video_view_count",
            "stats_play_count",
        ),
        "likes": ("likes", "digg_count", "like_count", "hearts", "heart_count", "stats_digg_count"),
        "comments": ("comments", "comment_count", "stats_comment_count"),
        "shares": ("shares", "share_count", "stats_share_count"),
        "saves": (
            "saves",
            "collect_count",
            "save_count",
            "favorites",
            "favourites",
            "bookmarks",
            "stats_collect_count",
        ),
        "duration": (
            "duration",
            "video_duration",
            "duration_s",
            "duration_sec",
            "duration_seconds",
            "length",
            "video_length",
            "video_meta_duration",
        ),
        "trending_sound": (
            "trending_sound",
            "is_trending_sound",
            "sound_trending",
            "music_trending",
            "on_trending_sound",
            "trending_audio",
        ),
        "follower_count": (
            "follower_count",
            "followers",
            "fans",
            "fans_count",
            "author_followers",
            "author_follower_count",
            "author_meta_fans",
        ),
    }
)

_COUNT_COLUMNS = ("views", "likes", "comments", "shares", "saves")
#: Row-drop reasons that leave the creator known (so a creator with no row left is reported).
_LATE_DROPS = frozenset({"bad_timestamp", "missing_timestamp", "outside_window", "duplicate_row"})
_NULL_TOKENS = frozenset({"", "-", "--", "—", "n/a", "na", "nan", "null", "none", "#n/a"})
_TRUE_TOKENS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE_TOKENS = frozenset({"false", "f", "no", "n", "0", "0.0"})
_NUMBER = re.compile(
    r"^(?P<sign>[+-])?(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?P<frac>\.\d+)?\s*(?P<suffix>[kKmMbB])?$"
)
_CLOCK = re.compile(r"^(?:(?P<h>\d+):)?(?P<m>\d{1,2}):(?P<s>\d{2}(?:\.\d+)?)$")
_SECONDS = re.compile(r"^(?P<v>\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds)?$")
_US_DATE_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y")
_MULTIPLIERS = {"k": 1e3, "m": 1e6, "b": 1e9}
#: Epoch values above this are taken as milliseconds (1e11 s is the year 5138).
_EPOCH_MS_ABOVE = 1e11


def normalise_header(name: object) -> str:
    """A header folded to snake_case: ``"Play Count"``, ``"playCount"`` -> ``"play_count"``."""
    text = str(name).strip()
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", text)
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()


def _alias_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for canonical, names in VIDEO_COLUMNS.items():
        for name in names:
            lookup.setdefault(name, canonical)
    return lookup


def _map_columns(columns: Sequence[object]) -> tuple[dict[str, object], list[str], list[str]]:
    """(canonical -> source column, ignored header names, header names shadowed by an earlier
    column for the same canonical name)."""
    lookup = _alias_lookup()
    used: dict[str, object] = {}
    ignored: list[str] = []
    shadowed: list[str] = []
    for column in columns:
        canonical = lookup.get(normalise_header(column))
        if canonical is None:
            ignored.append(str(column))
        elif canonical in used:
            shadowed.append(str(column))
        else:
            used[canonical] = column
    return used, ignored, shadowed


def is_per_video_export(columns: Sequence[object]) -> bool:
    """True when the columns look like a per-video export: a video id or a posting-time column.

    Creator-level tables (one row per creator, canonical metric names) have neither.
    """
    used, _, _ = _map_columns(columns)
    return "video_id" in used or "posted_at" in used


# --------------------------------------------------------------------------------------------
# report models


NoteAction = Literal["row_dropped", "value_dropped", "value_repaired"]


class RowNote(BaseModel):
    """What happened to one row (or one value of it), and why."""

    model_config = ConfigDict(frozen=True)

    row: int = Field(description="0-based position of the row in the input (the file's data rows).")
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


class IngestReport(BaseModel):
    """Everything :func:`aggregate_videos` did to the export, row by row and column by column."""

    rows_read: int
    rows_used: int = Field(description="Video rows that went into the aggregates.")
    creators: int
    window_start: datetime | None = Field(description="Exclusive start of the window (UTC).")
    window_end: datetime | None = Field(description="Inclusive end of the window (as_of, UTC).")
    window_days: float
    burst_minutes: float
    columns_used: dict[str, str] = Field(description="Canonical column -> header in the file.")
    columns_missing: list[str] = Field(description="Canonical columns the export lacks.")
    columns_ignored: list[str] = Field(description="Headers not recognised (names truncated).")
    notes: list[RowNote]
    notes_by_code: dict[str, int]
    creator_notes: list[CreatorNote]


@dataclass(frozen=True, slots=True)
class VideoAggregation:
    """One row per creator (canonical metric names, plus ``videos``) and the report."""

    creators: pd.DataFrame
    report: IngestReport


# --------------------------------------------------------------------------------------------
# vectorised parsers: each returns values (NaN = missing) and masks of what it had to do


@dataclass(slots=True)
class _Parsed:
    values: FloatArray
    invalid: BoolArray
    invalid_code: str
    repairs: dict[str, BoolArray]


def _as_text(series: pd.Series) -> tuple[pd.Series, BoolArray]:
    """Stripped text of each cell and the mask of cells that mean 'missing'."""
    text = series.astype("string").str.strip()
    missing = text.isna().to_numpy(dtype=bool) | text.str.lower().isin(_NULL_TOKENS).to_numpy(
        dtype=bool, na_value=True
    )
    return text, missing


def _is_plain_numeric(series: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def _to_float(values: object) -> FloatArray:
    """float64 values of a Series (numbers or numeric text); NaN where not a number."""
    import pandas as pd

    result = cast("pd.Series", pd.to_numeric(cast("Any", values), errors="coerce"))
    return result.to_numpy(dtype=np.float64, na_value=np.nan)


def _epoch_seconds(times: object) -> FloatArray:
    """Seconds since the epoch of datetimes (tz-aware: UTC; NaT becomes NaN)."""
    import pandas as pd

    index = pd.DatetimeIndex(cast("Any", times)).as_unit("ms")
    seconds = index.asi8.astype(np.float64) / 1000.0
    seconds[np.asarray(index.isna(), dtype=bool)] = np.nan
    return seconds


def _column(frame: pd.DataFrame, label: object) -> pd.Series:
    return cast("pd.Series", frame[label])


def _parse_counts(series: pd.Series) -> _Parsed:
    """Whole non-negative counts from numbers or text such as 1.2K, 3.4M and 1,234."""
    import pandas as pd

    n = len(series)
    repairs: dict[str, BoolArray] = {}
    if _is_plain_numeric(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        invalid = np.isinf(values) | (values < 0)
        values = np.where(invalid, np.nan, values)
        rounded: FloatArray = np.floor(values + 0.5)
        repairs["rounded"] = ~np.isnan(values) & (np.abs(rounded - values) > 1e-9)
        return _Parsed(rounded, invalid, "not_a_count", repairs)

    text, missing = _as_text(series)
    parts = text.str.extract(_NUMBER)
    has_digits = (parts["int"].notna() | parts["frac"].notna()).to_numpy(dtype=bool)
    matched = has_digits & ~missing
    integer = parts["int"].fillna("").str.replace(",", "", regex=False)
    digits = (integer.where(integer != "", "0") + parts["frac"].fillna("")).where(
        pd.Series(matched, index=parts.index), "nan"
    )
    magnitude = _to_float(digits)
    suffix = parts["suffix"].str.lower()
    multiplier = suffix.map(_MULTIPLIERS).astype("float64").fillna(1.0).to_numpy(dtype=np.float64)
    values = magnitude * multiplier
    negative = matched & (parts["sign"] == "-").to_numpy(dtype=bool, na_value=False)
    invalid = ~missing & (~matched | negative)
    values = np.where(matched & ~negative, values, np.nan)
    abbreviated = matched & ~negative & suffix.notna().to_numpy(dtype=bool)
    repairs["abbreviated"] = abbreviated
    repairs["thousands_separator"] = (
        matched
        & ~negative
        & parts["int"].str.contains(",", regex=False).to_numpy(dtype=bool, na_value=False)
    )
    rounded = np.floor(values + 0.5)  # half up, as people round counts
    repairs["rounded"] = ~abbreviated & ~np.isnan(values) & (np.abs(rounded - values) > 1e-9)
    assert len(rounded) == n
    return _Parsed(rounded, invalid, "not_a_number", repairs)


def _parse_seconds(series: pd.Series) -> _Parsed:
    """Durations in seconds from numbers, '45', '45s', 'mm:ss' or 'h:mm:ss'."""

    if _is_plain_numeric(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        invalid = np.isinf(values) | (values < 0)
        return _Parsed(np.where(invalid, np.nan, values), invalid, "not_a_duration", {})
    text, missing = _as_text(series)
    clock = text.str.extract(_CLOCK)
    hours = np.nan_to_num(_to_float(clock["h"]), nan=0.0)
    minutes = _to_float(clock["m"])
    seconds = _to_float(clock["s"])
    has_hours = clock["h"].notna().to_numpy(dtype=bool)
    clock_ok = ~np.isnan(minutes) & (seconds < 60) & (~has_hours | (minutes < 60)) & ~missing
    plain = text.str.extract(_SECONDS)["v"]
    plain_values = _to_float(plain)
    plain_ok = ~np.isnan(plain_values) & ~missing & ~clock_ok
    values = np.full(len(series), np.nan)
    values[clock_ok] = (hours * 3600 + minutes * 60 + seconds)[clock_ok]
    values[plain_ok] = plain_values[plain_ok]
    invalid = ~missing & ~clock_ok & ~plain_ok
    return _Parsed(values, invalid, "not_a_duration", {"clock_duration": clock_ok})


def _parse_flags(series: pd.Series) -> _Parsed:
    """1.0 / 0.0 from booleans, 1 / 0, or yes / no / true / false / y / n / t / f."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return _Parsed(values, np.zeros(len(series), dtype=bool), "not_a_flag", {})
    text, missing = _as_text(series)
    lower = text.str.lower()
    true = lower.isin(_TRUE_TOKENS).to_numpy(dtype=bool, na_value=False) & ~missing
    false = lower.isin(_FALSE_TOKENS).to_numpy(dtype=bool, na_value=False) & ~missing
    values = np.where(true, 1.0, np.where(false, 0.0, np.nan))
    return _Parsed(values, ~missing & ~true & ~false, "not_a_flag", {})


def _parse_times(series: pd.Series) -> _Parsed:
    """Seconds since the epoch (UTC) from datetimes, ISO 8601 text, epoch numbers or US dates."""
    import pandas as pd

    n = len(series)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = _epoch_seconds(pd.to_datetime(series, utc=True))
        return _Parsed(values, np.zeros(n, dtype=bool), "bad_timestamp", {})
    if _is_plain_numeric(series):
        raw = series.to_numpy(dtype=np.float64, na_value=np.nan)
        millis = raw > _EPOCH_MS_ABOVE
        values = np.where(millis, raw / 1000.0, raw)
        invalid = np.isinf(raw)
        return _Parsed(np.where(invalid, np.nan, values), invalid, "bad_timestamp", {})
    text, missing = _as_text(series)
    values = np.full(n, np.nan)
    numeric = text.str.fullmatch(r"\d{9,14}(?:\.\d+)?").to_numpy(dtype=bool, na_value=False)
    if numeric.any():
        raw = _to_float(text[numeric])
        values[numeric] = np.where(raw > _EPOCH_MS_ABOVE, raw / 1000.0, raw)
    rest = ~missing & ~numeric
    if rest.any():
        parsed = pd.to_datetime(text[rest], format="ISO8601", utc=True, errors="coerce")
        values[rest] = _epoch_seconds(parsed)
    for pattern in _US_DATE_FORMATS:
        left = ~missing & np.isnan(values)
        if not left.any():
            break
        parsed = pd.to_datetime(text[left], format=pattern, utc=True, errors="coerce")
        values[left] = _epoch_seconds(parsed)
    invalid = ~missing & np.isnan(values)
    return _Parsed(values, invalid, "bad_timestamp", {})


# --------------------------------------------------------------------------------------------
# per-video aggregation

_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "not_a_number": "is not a number; the value is ignored",
        "not_a_count": "is not a non-negative count; the value is ignored",
        "not_a_duration": "is not a duration (seconds, mm:ss or h:mm:ss); the value is ignored",
        "not_a_flag": "is not yes/no, true/false or 1/0; the value is ignored",
        "abbreviated": "abbreviated count read as {value:.0f}",
        "thousands_separator": "thousands separators removed; read as {value:.0f}",
        "rounded": "not a whole count; rounded to {value:.0f}",
        "clock_duration": "clock time read as {value:g} s",
    }
)


def _cap(text: str, limit: int = 64) -> str:
    """Untrusted text for a report: control and other unprintable characters become '?'."""
    if not text.isprintable():
        text = "".join(char if char.isprintable() else "?" for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _iso(seconds: float) -> str:
    return _utc(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def _to_epoch(moment: datetime | str | float) -> float:
    import pandas as pd

    if isinstance(moment, int | float):
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


def aggregate_videos(
    frame: pd.DataFrame,
    *,
    window_days: float = 30.0,
    as_of: datetime | str | float | None = None,
    burst_minutes: float = 10.0,
) -> VideoAggregation:
    """Aggregate a per-video export into one row of canonical metrics per creator.

    ``frame`` has one row per video (any of the header variants in :data:`VIDEO_COLUMNS`).
    ``as_of`` ends the window (a datetime, ISO text or epoch seconds; default: the latest posting
    time in the export). See the module docstring for every rule; the returned report lists
    every row dropped or repaired and why.
    """
    import pandas as pd

    if not window_days > 0 or not math.isfinite(window_days):
        raise InvalidValueError("window_days", "must be a positive number of days", window_days)
    if not burst_minutes >= 0 or not math.isfinite(burst_minutes):
        raise InvalidValueError("burst_minutes", "must be a non-negative number", burst_minutes)

    n = len(frame)
    used, ignored, shadowed = _map_columns(list(frame.columns))
    notes: list[RowNote] = []
    dropped = np.zeros(n, dtype=bool)
    drop_code: dict[int, tuple[str, str]] = {}

    def drop(rows: npt.NDArray[np.intp], code: str, message: str) -> None:
        for row in rows:
            if not dropped[row]:
                dropped[row] = True
                drop_code[int(row)] = (code, message)

    # 1. exact duplicate rows (over every column as read)
    if n:
        from pandas.util import hash_pandas_object

        hasher = cast("Callable[..., pd.Series]", hash_pandas_object)
        hashes = hasher(frame, index=False).to_numpy(dtype=np.uint64)
        _, first_index, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        first_of = first_index[inverse]
        for row in np.flatnonzero(first_of != np.arange(n)):
            drop(np.array([row]), "duplicate_row", f"exact duplicate of row {first_of[row]}")

    # 2. creator ids
    creator_ids: list[str | None] = [None] * n
    if "creator_id" in used:
        text, missing = _as_text(_column(frame, used["creator_id"]))
        values = text.to_numpy(dtype=object, na_value=None)
        too_long = np.zeros(n, dtype=bool)
        for row in range(n):
            value = values[row]
            if missing[row] or value is None:
                continue
            value = str(value)
            if len(value) > MAX_CREATOR_ID:
                too_long[row] = True
                creator_ids[row] = _cap(value)
            else:
                creator_ids[row] = value
        drop(np.flatnonzero(missing), "missing_creator", "no creator id")
        drop(
            np.flatnonzero(too_long),
            "creator_id_too_long",
            f"creator id longer than {MAX_CREATOR_ID} characters",
        )

    # 3. posting times and the window
    times: FloatArray | None = None
    window_start: float | None = None
    window_end: float | None = None
    if "posted_at" in used:
        parsed_times = _parse_times(_column(frame, used["posted_at"]))
        times = parsed_times.values
        drop(np.flatnonzero(parsed_times.invalid), "bad_timestamp", "posting time unreadable")
        drop(np.flatnonzero(np.isnan(times)), "missing_timestamp", "posting time missing")
        known = times[~dropped]
        if as_of is not None:
            window_end = _to_epoch(as_of)
        elif known.size:
            window_end = float(known.max())
        if window_end is not None:
            window_start = window_end - window_days * 86400.0
            with np.errstate(invalid="ignore"):
                before = times <= window_start
                after = times > window_end
            span = f"({_iso(window_start)}, {_iso(window_end)}]"
            drop(np.flatnonzero(before), "outside_window", f"posted before the window {span}")
            drop(np.flatnonzero(after), "outside_window", f"posted after the window {span}")

    # 4. numeric columns
    parsed: dict[str, _Parsed] = {}
    for canonical in (*_COUNT_COLUMNS, "follower_count"):
        if canonical in used:
            parsed[canonical] = _parse_counts(_column(frame, used[canonical]))
    if "duration" in used:
        parsed["duration"] = _parse_seconds(_column(frame, used["duration"]))
    if "trending_sound" in used:
        parsed["trending_sound"] = _parse_flags(_column(frame, used["trending_sound"]))

    # 5. repeated video ids of one creator: keep the copy with the most views
    if "video_id" in used:
        video_text, video_missing = _as_text(_column(frame, used["video_id"]))
        video_ids = video_text.to_numpy(dtype=object, na_value=None)
        views = parsed["views"].values if "views" in parsed else np.full(n, np.nan)
        best: dict[tuple[str | None, str], int] = {}
        for row in range(n):
            if dropped[row] or video_missing[row]:
                continue
            key = (creator_ids[row], str(video_ids[row]))
            kept = best.get(key)
            if kept is None:
                best[key] = row
                continue
            row_views = -1.0 if math.isnan(views[row]) else float(views[row])
            kept_views = -1.0 if math.isnan(views[kept]) else float(views[kept])
            if row_views > kept_views:
                best[key] = row
                loser, winner = kept, row
            else:
                loser, winner = row, kept
            drop(
                np.array([loser]),
                "duplicate_video",
                f"same creator and video_id as row {winner}, kept as the copy with the most views",
            )

    # row notes: one per dropped row, then value notes for the rows kept
    raw_cells: dict[str, npt.NDArray[np.object_]] = {}

    def raw(canonical: str, row: int) -> str:
        if canonical not in raw_cells:
            raw_cells[canonical] = _column(frame, used[canonical]).to_numpy(dtype=object)
        value = raw_cells[canonical][row]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        return truncate(value)

    for row in np.flatnonzero(dropped):
        code, message = drop_code[int(row)]
        field = {
            "missing_creator": "creator_id",
            "creator_id_too_long": "creator_id",
            "bad_timestamp": "posted_at",
            "missing_timestamp": "posted_at",
            "outside_window": "posted_at",
        }.get(code, "row")
        value = raw(field, int(row)) if field != "row" else ""
        notes.append(
            RowNote(
                row=int(row),
                creator_id=creator_ids[row],
                field=field,
                action="row_dropped",
                code=code,
                message=f"{message}; row dropped",
                value=value,
            )
        )
    kept = ~dropped
    for canonical, result in parsed.items():
        for row in np.flatnonzero(result.invalid & kept):
            notes.append(
                RowNote(
                    row=int(row),
                    creator_id=creator_ids[row],
                    field=canonical,
                    action="value_dropped",
                    code=result.invalid_code,
                    message=_MESSAGES[result.invalid_code],
                    value=raw(canonical, int(row)),
                )
            )
        for code, mask in result.repairs.items():
            for row in np.flatnonzero(mask & kept):
                notes.append(
                    RowNote(
                        row=int(row),
                        creator_id=creator_ids[row],
                        field=canonical,
                        action="value_repaired",
                        code=code,
                        message=_MESSAGES[code].format(value=float(result.values[row])),
                        value=raw(canonical, int(row)),
                    )
                )
    notes.sort(key=lambda note: (note.row, note.action != "row_dropped", note.field, note.code))

    # 6. aggregate the kept rows per creator (in order of first appearance)
    rows = np.flatnonzero(kept)
    codes_all, uniques = pd.factorize(
        pd.Series([creator_ids[row] for row in rows], dtype=object), use_na_sentinel=False
    )
    codes = np.asarray(codes_all, dtype=np.int64)
    labels: list[str | None] = [
        None if label is None or (isinstance(label, float) and math.isnan(label)) else str(label)
        for label in uniques
    ]
    size = len(labels)
    creator_notes: list[CreatorNote] = []
    videos = np.bincount(codes, minlength=size).astype(np.float64)
    data: dict[str, object] = {"creator_id": labels, "videos": videos}

    def per_creator(values: FloatArray) -> tuple[FloatArray, FloatArray]:
        subset = values[rows]
        known_mask = ~np.isnan(subset)
        sums = np.asarray(
            np.bincount(codes[known_mask], weights=subset[known_mask], minlength=size),
            dtype=np.float64,
        )
        counts = np.asarray(np.bincount(codes[known_mask], minlength=size), dtype=np.float64)
        return sums, counts

    def partial(field: str, counts: FloatArray) -> None:
        for k in np.flatnonzero(counts < videos):
            creator_notes.append(
                CreatorNote(
                    creator_id=labels[k],
                    field=field,
                    message=(
                        f"{field} over {counts[k]:.0f} of {videos[k]:.0f} videos in the window "
                        "(the others have no readable value)"
                    ),
                )
            )

    for canonical in _COUNT_COLUMNS:
        if canonical not in parsed:
            continue
        sums, counts = per_creator(parsed[canonical].values)
        data[canonical] = np.where(counts > 0, sums, np.nan)
        partial(canonical, counts)
        if canonical == "views":
            with np.errstate(invalid="ignore", divide="ignore"):
                data["avg_views_per_video"] = np.where(
                    counts > 0, np.floor(sums / counts + 0.5), np.nan
                )
    if "duration" in parsed:
        sums, counts = per_creator(parsed["duration"].values)
        with np.errstate(invalid="ignore", divide="ignore"):
            data["avg_video_duration_s"] = np.where(counts > 0, sums / counts, np.nan)
        partial("avg_video_duration_s", counts)
    if "trending_sound" in parsed:
        sums, counts = per_creator(parsed["trending_sound"].values)
        with np.errstate(invalid="ignore", divide="ignore"):
            data["trending_sound_share"] = np.where(counts > 0, sums / counts, np.nan)
        partial("trending_sound_share", counts)
    if "follower_count" in parsed:
        data["follower_count"] = _latest_per_creator(
            parsed["follower_count"].values[rows],
            None if times is None else times[rows],
            codes,
            size,
        )
    if times is not None:
        sessions = _sessions_per_creator(times[rows], codes, size, burst_minutes * 60.0)
        data["posts_per_week"] = sessions / (window_days / 7.0)
        for k in np.flatnonzero(sessions < videos):
            creator_notes.append(
                CreatorNote(
                    creator_id=labels[k],
                    field="posts_per_week",
                    message=(
                        f"{videos[k]:.0f} videos counted as {sessions[k]:.0f} posting sessions "
                        f"(videos within {burst_minutes:g} minutes of the previous one are one "
                        "session)"
                    ),
                )
            )
    seen = {
        creator_ids[row]
        for row in range(n)
        if drop_code.get(row, ("",))[0] in _LATE_DROPS
        and (creator_ids[row] is not None or "creator_id" not in used)
    }
    for label in sorted(seen - set(labels), key=lambda item: (item is None, item or "")):
        creator_notes.append(
            CreatorNote(
                creator_id=label,
                field="row",
                message="no usable video in the window; the creator is left out",
            )
        )
    creators = pd.DataFrame(data)

    missing_columns = [name for name in VIDEO_COLUMNS if name not in used]
    notes_by_code: dict[str, int] = {}
    for note in notes:
        notes_by_code[note.code] = notes_by_code.get(note.code, 0) + 1
    report = IngestReport(
        rows_read=n,
        rows_used=len(rows),
        creators=size,
        window_start=None if window_start is None else _utc(window_start),
        window_end=None if window_end is None else _utc(window_end),
        window_days=float(window_days),
        burst_minutes=float(burst_minutes),
        columns_used={name: _cap(str(source)) for name, source in used.items()},
        columns_missing=missing_columns,
        columns_ignored=[_cap(name) for name in [*ignored, *shadowed][:50]],
        notes=notes,
        notes_by_code=dict(sorted(notes_by_code.items())),
        creator_notes=creator_notes,
    )
    return VideoAggregation(creators=creators, report=report)


def _latest_per_creator(
    values: FloatArray, times: FloatArray | None, codes: IntArray, size: int
) -> FloatArray:
    """Each creator's value on its latest row with a value (by time, then by row order)."""
    out = np.full(size, np.nan)
    known = np.flatnonzero(~np.isnan(values))
    order = known if times is None else known[np.lexsort((known, times[known]))]
    out[codes[order]] = values[order]  # later assignments win: the latest row per creator
    return out


def _sessions_per_creator(
    times: FloatArray, codes: IntArray, size: int, gap_s: float
) -> FloatArray:
    """Posting sessions per creator: a new session starts when the gap exceeds ``gap_s``."""
    if times.size == 0:
        return np.zeros(size)
    order = np.lexsort((times, codes))
    sorted_codes = codes[order]
    sorted_times = times[order]
    new_session = np.ones(times.size, dtype=bool)
    same_creator = sorted_codes[1:] == sorted_codes[:-1]
    close = (sorted_times[1:] - sorted_times[:-1]) <= gap_s
    new_session[1:] = ~(same_creator & close)
    return np.bincount(sorted_codes[new_session], minlength=size).astype(np.float64)


# --------------------------------------------------------------------------------------------
# TikTok Shop affiliate payloads


class MoneyAmount(TypedDict, total=False):
    """A money value as the affiliate API writes it: a decimal string and an ISO currency."""

    amount: str
    currency: str


class AmountRange(TypedDict, total=False):
    """A withheld value's bucket: strings for money, integers for counts and rates."""

    minimum_amount: str | int | float
    maximum_amount: str | int | float
    currency: str


class MajorGender(TypedDict, total=False):
    gender: str
    percentage: int  # scaled by 10,000: 7150 is 71.5%


class TopFollowerDemographics(TypedDict, total=False):
    age_ranges: list[str]  # such as "AGE_RANGE_25_34", most common first
    major_gender: MajorGender


class GenderShare(TypedDict, total=False):
    gender: str
    percentage: int  # scaled by 10,000


class AgeShare(TypedDict, total=False):
    age_range: str
    percentage: int  # scaled by 10,000


class FollowerDemographics(TypedDict, total=False):
    """Assumed full distributions (the search filters use this shape); optional."""

    gender_distribution: list[GenderShare]
    age_distribution: list[AgeShare]


class AffiliateCreator(TypedDict, total=False):
    """The fields of an affiliate API creator object that this module reads."""

    creator_user_id: str
    creator_open_id: str
    username: str
    nickname: str
    follower_count: int
    gmv: MoneyAmount
    gmv_range: AmountRange
    video_gmv: MoneyAmount
    live_gmv: MoneyAmount
    gpm: MoneyAmount
    gpm_range: AmountRange
    units_sold: int
    units_sold_range: AmountRange
    avg_commission_rate: int  # hundredths of a percent: 6000 is 60%
    avg_commission_rate_range: AmountRange
    ec_video_count: int
    ec_live_count: int
    promoted_product_num: int
    avg_ec_video_play_count: int
    avg_ec_video_view_count: int
    avg_ec_video_like_count: int
    avg_ec_video_comment_count: int
    avg_ec_video_share_count: int
    top_follower_demographics: TopFollowerDemographics
    follower_demographics: FollowerDemographics


Method = Literal["exact", "range_midpoint", "range_lower_bound", "scaled", "derived", "approximate"]

#: Canonical metric <- affiliate field, the scale applied, and whether the result is a whole count.
AFFILIATE_FIELDS: Mapping[str, tuple[str, float, bool]] = MappingProxyType(
    {
        "gmv": ("gmv", 1.0, False),
        "gpm": ("gpm", 1.0, False),
        "units_sold": ("units_sold", 1.0, True),
        "avg_commission_rate": ("avg_commission_rate", 1e-4, False),
        "follower_count": ("follower_count", 1.0, True),
        "shoppable_video_count": ("ec_video_count", 1.0, True),
        "live_count": ("ec_live_count", 1.0, True),
        "products_promoted": ("promoted_product_num", 1.0, True),
    }
)

_AFFILIATE_READ = frozenset(
    {
        *(source for source, _, _ in AFFILIATE_FIELDS.values()),
        *(f"{source}_range" for source, _, _ in AFFILIATE_FIELDS.values()),
        "creator_user_id",
        "creator_open_id",
        "username",
        "nickname",
        "video_gmv",
        "live_gmv",
        "avg_ec_video_play_count",
        "avg_ec_video_view_count",
        "avg_ec_video_like_count",
        "avg_ec_video_comment_count",
        "avg_ec_video_share_count",
        "top_follower_demographics",
        "follower_demographics",
    }
)


class FieldSource(BaseModel):
    """Where one canonical metric came from in the payload, and how it was computed."""

    model_config = ConfigDict(frozen=True)

    metric: str
    source: str = Field(description="Payload field(s) read.")
    method: Method
    value: float
    note: str = ""


class FieldProblem(BaseModel):
    """A payload field that could not be used (its value truncated)."""

    model_config = ConfigDict(frozen=True)

    field: str
    reason: str
    value: str


class AudienceTarget(BaseModel):
    """The audience a brand wants: a gender and/or age ranges (the API's codes)."""

    model_config = ConfigDict(frozen=True)

    gender: str | None = Field(default=None, description="Such as FEMALE or MALE.")
    age_ranges: tuple[str, ...] = Field(default=(), description="Such as AGE_RANGE_25_34.")


class Demographics(BaseModel):
    """Follower demographics as fractions (0..1), as far as the payload gives them."""

    model_config = ConfigDict(frozen=True)

    major_gender: str | None = None
    major_gender_share: float | None = None
    gender_shares: dict[str, float] = Field(default_factory=dict[str, float])
    age_shares: dict[str, float] = Field(default_factory=dict[str, float])
    top_age_ranges: list[str] = Field(default_factory=list[str])


class AffiliateMapping(BaseModel):
    """One affiliate creator object mapped to canonical metrics, with the provenance of each."""

    creator_id: str | None
    metrics: dict[str, float | str] = Field(
        description="Canonical metrics, ready for parse_metrics / score / score_cohort."
    )
    sources: list[FieldSource]
    problems: list[FieldProblem]
    ignored_fields: list[str] = Field(description="Payload fields not used (names truncated).")
    demographics: Demographics | None


def _scalar(value: object) -> float | None:
    """A finite float from a number or a numeric string ('1,234.50'), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        match = _NUMBER.fullmatch(value.strip())
        if (
            match is None
            or match.group("suffix")
            or not (match.group("int") or match.group("frac"))
        ):
            return None
        digits = (match.group("int") or "0").replace(",", "") + (match.group("frac") or "")
        number = float(digits) * (-1.0 if match.group("sign") == "-" else 1.0)
    else:
        return None
    return number if math.isfinite(number) else None


@dataclass(slots=True)
class _Mapper:
    creator: Mapping[str, object]
    metrics: dict[str, float | str]
    sources: list[FieldSource]
    problems: list[FieldProblem]
    currency: str | None = None

    def problem(self, field: str, reason: str, value: object) -> None:
        self.problems.append(FieldProblem(field=field, reason=reason, value=truncate(value)))

    def money(self, field: str) -> float | None:
        """The amount of a money field ({amount, currency} or a number); None when absent."""
        raw = self.creator.get(field)
        if raw is None:
            return None
        currency: object = None
        amount: object = raw
        if isinstance(raw, Mapping):
            money = cast("Mapping[str, object]", raw)
            amount = money.get("amount")
            currency = money.get("currency")
            if amount is None:
                return None
        number = _scalar(amount)
        if number is None or number < 0:
            self.problem(field, "amount must be a non-negative number", amount)
            return None
        if not self._currency_ok(field, currency):
            return None
        return number

    def _currency_ok(self, field: str, currency: object) -> bool:
        if currency is None or currency == "":
            return True
        if not isinstance(currency, str) or len(currency) > 8:
            self.problem(field, "currency must be a short ISO code", currency)
            return False
        if self.currency is None:
            self.currency = currency
            return True
        if currency != self.currency:
            self.problem(field, f"is in another currency than {self.currency}; not used", currency)
            return False
        return True

    def bounds(self, field: str, money: bool) -> tuple[float, float | None] | None:
        """(minimum, maximum or None when open) of a ``*_range`` object, or None."""
        raw = self.creator.get(field)
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            self.problem(field, "must be an object with minimum_amount and maximum_amount", raw)
            return None
        bucket = cast("Mapping[str, object]", raw)
        low_raw = bucket.get("minimum_amount", bucket.get("min", bucket.get("minimum")))
        high_raw = bucket.get("maximum_amount", bucket.get("max", bucket.get("maximum")))
        low = _scalar(low_raw) if low_raw is not None else None
        high = _scalar(high_raw) if high_raw not in (None, "") else None
        if low is None or low < 0 or (high_raw not in (None, "") and (high is None or high < low)):
            self.problem(field, "must have numeric bounds with minimum <= maximum", raw)
            return None
        if money and not self._currency_ok(field, bucket.get("currency")):
            return None
        return low, high

    def put(self, metric: str, value: float, source: str, method: Method, note: str = "") -> None:
        self.metrics[metric] = value
        self.sources.append(
            FieldSource(metric=metric, source=source, method=method, value=value, note=note)
        )


def _whole(value: float) -> float:
    return float(math.floor(value + 0.5))


def _is_mapping(value: object) -> bool:
    return isinstance(value, Mapping)


def map_affiliate_creator(
    creator: Mapping[str, object], *, audience: AudienceTarget | None = None
) -> AffiliateMapping:
    """Map one affiliate API creator object onto canonical metrics (see the module docstring)."""
    if not _is_mapping(creator):
        raise InvalidValueError("payload", "must be an object (a creator)", creator)
    mapper = _Mapper(creator, {}, [], [])

    creator_id: str | None = None
    for key in ("username", "creator_open_id", "creator_user_id"):
        value = creator.get(key)
        if isinstance(value, str) and value.strip():
            if len(value.strip()) > MAX_CREATOR_ID:
                mapper.problem(key, f"must be at most {MAX_CREATOR_ID} characters", value)
                continue
            creator_id = value.strip()
            mapper.metrics["creator_id"] = creator_id
            break

    for metric, (source, scale, whole) in AFFILIATE_FIELDS.items():
        is_money = metric in ("gmv", "gpm")
        if is_money:
            exact = mapper.money(source)
        else:
            raw = creator.get(source)
            exact = _scalar(raw) if raw is not None else None
            if raw is not None and (exact is None or exact < 0):
                mapper.problem(source, "must be a non-negative number", raw)
                exact = None
        if exact is not None:
            value = exact * scale
            if whole:
                value = _whole(value)
            method: Method = "scaled" if scale != 1.0 else "exact"
            note = "hundredths of a percent to a fraction" if scale != 1.0 else ""
            mapper.put(metric, value, source, method, note)
            continue
        bounds = mapper.bounds(f"{source}_range", is_money)
        if bounds is None:
            continue
        low, high = bounds
        if high is None:
            value, method, note = low, "range_lower_bound", "open range: its minimum, a lower bound"
        else:
            value, method, note = (low + high) / 2.0, "range_midpoint", "midpoint of the range"
        value *= scale
        if whole:
            value = _whole(value)
        mapper.put(metric, value, f"{source}_range", method, note)

    live = mapper.money("live_gmv")
    gmv_exact = next(
        (s.value for s in mapper.sources if s.metric == "gmv" and s.method == "exact"), None
    )
    if live is not None and gmv_exact is not None and gmv_exact > 0:
        share = min(1.0, live / gmv_exact)
        mapper.put("live_gmv_share", share, "live_gmv / gmv", "derived")
    mapper.money("video_gmv")  # read for its currency check only

    play_field = (
        "avg_ec_video_play_count"
        if creator.get("avg_ec_video_play_count") is not None
        else "avg_ec_video_view_count"
    )
    plays_raw = creator.get(play_field)
    if plays_raw is not None:
        plays = _scalar(plays_raw)
        if plays is None or plays < 0:
            mapper.problem(play_field, "must be a non-negative number", plays_raw)
        else:
            mapper.put(
                "avg_views_per_video",
                _whole(plays),
                play_field,
                "approximate",
                "average over the creator's shoppable videos, not all videos",
            )

    interactions: dict[str, float] = {}
    for kind in ("like", "comment", "share"):
        field = f"avg_ec_video_{kind}_count"
        raw = creator.get(field)
        if raw is None:
            continue
        number = _scalar(raw)
        if number is None or number < 0:
            mapper.problem(field, "must be a non-negative number", raw)
        else:
            interactions[kind] = number
    total = math.fsum(interactions.values())
    if len(interactions) == 3 and total > 0:
        for kind, metric in (
            ("like", "likes_ratio"),
            ("comment", "comments_ratio"),
            ("share", "shares_ratio"),
        ):
            mapper.put(
                metric,
                interactions[kind] / total,
                "avg_ec_video_like/comment/share_count",
                "derived",
                "share of interactions on shoppable videos",
            )

    demographics = _demographics(mapper)
    if audience is not None and demographics is not None:
        _audience_match(mapper, demographics, audience)
    if mapper.currency is not None:
        mapper.metrics["currency"] = mapper.currency

    ignored = sorted(_cap(str(key)) for key in creator if str(key) not in _AFFILIATE_READ)
    return AffiliateMapping(
        creator_id=creator_id,
        metrics=mapper.metrics,
        sources=mapper.sources,
        problems=mapper.problems,
        ignored_fields=ignored[:50],
        demographics=demographics,
    )


def _share(mapper: _Mapper, field: str, raw: object) -> float | None:
    number = _scalar(raw)
    if number is None or not 0 <= number <= 10_000:
        mapper.problem(field, "percentage must be in [0, 10000] (scaled by 10,000)", raw)
        return None
    return number / 10_000.0


def _demographics(mapper: _Mapper) -> Demographics | None:
    top_raw = mapper.creator.get("top_follower_demographics")
    full_raw = mapper.creator.get("follower_demographics")
    if not isinstance(top_raw, Mapping) and not isinstance(full_raw, Mapping):
        return None
    major_gender: str | None = None
    major_share: float | None = None
    top_ages: list[str] = []
    if isinstance(top_raw, Mapping):
        top = cast("Mapping[str, object]", top_raw)
        ages = top.get("age_ranges")
        if isinstance(ages, list):
            top_ages = [_cap(str(item)) for item in cast("list[object]", ages)[:10]]
        major = top.get("major_gender")
        if isinstance(major, Mapping):
            major_map = cast("Mapping[str, object]", major)
            gender = major_map.get("gender")
            major_gender = _cap(str(gender)) if gender is not None else None
            if major_map.get("percentage") is not None:
                major_share = _share(
                    mapper, "top_follower_demographics.major_gender", major_map.get("percentage")
                )
    genders: dict[str, float] = {}
    ages_share: dict[str, float] = {}
    if isinstance(full_raw, Mapping):
        full = cast("Mapping[str, object]", full_raw)
        for list_field, key_field, target in (
            ("gender_distribution", "gender", genders),
            ("age_distribution", "age_range", ages_share),
        ):
            entries = full.get(list_field)
            if not isinstance(entries, list):
                continue
            for entry in cast("list[object]", entries)[:20]:
                if not isinstance(entry, Mapping):
                    continue
                item = cast("Mapping[str, object]", entry)
                key = item.get(key_field)
                share = _share(
                    mapper, f"follower_demographics.{list_field}", item.get("percentage")
                )
                if isinstance(key, str) and share is not None:
                    target[_cap(key)] = share
    if major_gender is not None and major_share is not None:
        genders.setdefault(major_gender, major_share)
    return Demographics(
        major_gender=major_gender,
        major_gender_share=major_share,
        gender_shares=genders,
        age_shares=ages_share,
        top_age_ranges=top_ages,
    )


def _audience_match(mapper: _Mapper, demographics: Demographics, audience: AudienceTarget) -> None:
    factors: list[float] = []
    used: list[str] = []
    if audience.gender is not None:
        wanted = audience.gender.upper()
        shares = {key.upper(): value for key, value in demographics.gender_shares.items()}
        if wanted not in shares:
            mapper.problem(
                "follower_demographics", "gives no share for the target gender", audience.gender
            )
            return
        factors.append(shares[wanted])
        used.append("gender")
    if audience.age_ranges:
        if not demographics.age_shares:
            mapper.problem(
                "follower_demographics",
                "gives no age shares (only the top age ranges)",
                list(audience.age_ranges),
            )
            return
        factors.append(
            math.fsum(demographics.age_shares.get(age, 0.0) for age in audience.age_ranges)
        )
        used.append("age")
    if not factors:
        return
    value = min(1.0, math.prod(factors))
    note = "share of followers in the target " + " and ".join(used)
    if len(factors) > 1:
        note += " (gender and age assumed independent)"
    mapper.put("audience_match", value, "follower_demographics", "derived", note)


def map_affiliate_payload(
    payload: object, *, audience: AudienceTarget | None = None
) -> list[AffiliateMapping]:
    """Map an affiliate API response (or its ``data``, or creator objects) to canonical metrics.

    Accepts ``{"code": 0, "data": {"creator": {...}}}`` (creator performance),
    ``{"data": {"creators": [...]}}`` (marketplace search), the ``data`` object alone, one
    creator object, or a list of creator objects. A response with a non-zero ``code`` is an
    error response and is refused.
    """
    body: object = payload
    if isinstance(body, Mapping):
        envelope = cast("Mapping[str, object]", body)
        code = envelope.get("code")
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            raise InvalidValueError(
                "payload",
                "is an API error response, not creator data",
                f"code {code}: {truncate(envelope.get('message', ''))}",
            )
        if isinstance(envelope.get("data"), Mapping):
            body = envelope["data"]
    items: list[object]
    if isinstance(body, Mapping):
        data = cast("Mapping[str, object]", body)
        if isinstance(data.get("creator"), Mapping):
            items = [data["creator"]]
        elif isinstance(data.get("creators"), list):
            items = list(cast("list[object]", data["creators"]))
        else:
            items = [data]
    elif isinstance(body, list):
        items = list(cast("list[object]", body))
    else:
        raise InvalidValueError("payload", "must be an object or a list of creator objects", body)
    mappings: list[AffiliateMapping] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidValueError(f"payload[{index}]", "must be a creator object", item)
        mappings.append(
            map_affiliate_creator(cast("Mapping[str, object]", item), audience=audience)
        )
    return mappings
