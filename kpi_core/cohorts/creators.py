"""Creator tables (one row per creator) made ready for scoring: duplicates and periods.

* **Duplicate creator ids**: rows with the same ``creator_id`` and the same values in every
  column read are one creator: the first row is kept and the others merged into it, with a note.
  Rows with the same id and different values are **rejected**, each naming the other rows, since
  no rule can tell which copy is right (fix the file, or keep one row per creator).
* **Periods**: the catalogue's counts and money are 30-day totals. A table whose totals cover
  another period is rescaled to 30 days: ``period_days`` when given, else the period a header
  states (``GMV (90 days)``: that column only), else a date range stated above the header of a
  spreadsheet (``Date range: 2025-04-01 ~ 2025-06-29``). Rescaled: the flow totals
  (:data:`FLOW_METRICS`); stocks (followers), averages and rates are never rescaled. A rescaled
  count is rounded to a whole number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from kpi_core.cohorts.headers import ColumnProposal
from kpi_core.cohorts.table import TOO_LONG, Collected, kind_of
from kpi_core.errors import InvalidValueError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FLOW_METRICS",
    "TOO_LONG_REASON",
    "CreatorRows",
    "EarlyRejections",
    "prepare_creators",
    "stated_period",
]

#: Totals over the export's period (rescaled to 30 days); everything else is a level or a rate.
FLOW_METRICS = frozenset(
    {
        "gmv",
        "orders",
        "units_sold",
        "product_impressions",
        "product_clicks",
        "views",
        "likes",
        "comments",
        "shares",
        "saves",
        "shoppable_video_count",
        "live_count",
        "creator_cost",
    }
)

_RANGE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\D+?(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_LAST_DAYS = re.compile(r"(?:last|past)\s+(\d{1,3})\s+days?", re.IGNORECASE)


TOO_LONG_REASON = "creator_id must be at most 128 characters"


@dataclass(slots=True)
class EarlyRejections:
    """Rows rejected before scoring, kept compact (masks and shared groups; each row's reasons
    are worded when asked), so a file of millions of bad rows costs bytes a row, not objects."""

    table: Collected
    ids: npt.NDArray[np.object_]
    too_long: npt.NDArray[np.bool_]
    unreadable: npt.NDArray[np.bool_]
    conflicts: dict[int, list[int]]

    @property
    def rows(self) -> npt.NDArray[np.intp]:
        """The rejected rows, in file order."""
        mask = self.too_long | self.unreadable
        if self.conflicts:
            mask[list(self.conflicts)] = True
        return np.flatnonzero(mask)

    def __len__(self) -> int:
        return int(self.rows.size)

    def creator_id(self, row: int) -> str | None:
        value = self.ids[row]
        return None if value is None else str(value)

    def reasons(self, row: int) -> list[str]:
        """Why ``row`` was rejected."""
        if self.too_long[row]:
            return [TOO_LONG_REASON]
        if row in self.conflicts:
            others = [other for other in self.conflicts[row] if other != row]
            shown = ", ".join(str(other) for other in others[:5])
            more = f" and {len(others) - 5} more" if len(others) > 5 else ""
            return [
                f"creator_id appears again in row {shown}{more} with different values; "
                "keep one row per creator"
            ]
        found: list[str] = []
        for name, mask in self.table.invalid.items():
            if not mask[row]:
                continue
            header = self.table.headers.get(name, name)
            label = name if header == name else f"{name} (column {header[:40]!r})"
            raw = self.table.bad_cells.get(name, {}).get(row)
            shown = repr(raw) if raw is not None else "an unreadable value"
            found.append(f"{label} must be a number; got {shown}")
        return found[:5]


@dataclass(slots=True)
class CreatorRows:
    """The rows to score, the file row of each, and what was merged, rejected or rescaled."""

    frame: pd.DataFrame
    source_rows: npt.NDArray[np.intp]
    rejected: EarlyRejections
    merged: int
    conflicting: int
    creators_seen: int
    """Distinct creators in the file: distinct ids, and each row without a readable id."""
    period_days: float | None
    period_source: str
    rescaled: list[str]


def stated_period(preamble: list[str]) -> tuple[float | None, str]:
    """A period stated in text above a spreadsheet's header: a date range, or 'last N days'."""
    for text in preamble:
        found = _RANGE.search(text)
        if found:
            numbers = [int(part) for part in found.groups()]
            try:
                first = date(numbers[0], numbers[1], numbers[2])
                last = date(numbers[3], numbers[4], numbers[5])
            except ValueError:
                continue
            if last >= first:
                return float(
                    (last - first).days + 1
                ), f"the date range above the header ({found.group(0)})"
        days = _LAST_DAYS.search(text)
        if days:
            return float(days.group(1)), f"the text above the header ({days.group(0)})"
    return None, ""


def _check_period(period_days: float | None) -> None:
    if period_days is not None and (isinstance(period_days, bool) or not 1 <= period_days <= 3660):
        raise InvalidValueError(
            "period_days",
            "must be a number of days in [1, 3660]",
            period_days,
            "the days the export's totals cover, such as 7, 28, 60 or 90",
        )


def prepare_creators(
    table: Collected,
    proposals: list[ColumnProposal],
    *,
    period_days: float | None,
    preamble: list[str],
) -> CreatorRows:
    """The creator rows of a creator table (see the module docstring)."""
    import pandas as pd

    _check_period(period_days)
    rows = np.arange(table.rows, dtype=np.intp)
    ids = np.full(table.rows, None, dtype=object)
    keep = np.ones(table.rows, dtype=bool)
    rejected = EarlyRejections(
        table, ids, np.zeros(table.rows, dtype=bool), np.zeros(table.rows, dtype=bool), {}
    )
    if "creator_id" in table.texts:
        column = table.texts["creator_id"]
        ids = column.text(rows)
        rejected.ids = ids
        rejected.too_long = column.codes == TOO_LONG
        keep &= ~rejected.too_long
        merged, conflicting = _duplicates(table, column.codes, keep, rejected.conflicts)
        named = column.codes[column.codes >= 0]
        seen = int(np.unique(named).size) + table.rows - named.size
    else:
        merged = conflicting = 0
        seen = table.rows
    for mask in table.invalid.values():
        rejected.unreadable |= mask & keep
    keep &= ~rejected.unreadable
    numbers = dict(table.numbers)  # rescaling replaces arrays, never writes into them
    period, source, rescaled = _rescale(numbers, proposals, period_days, preamble)
    chosen = np.flatnonzero(keep)
    data: dict[str, object] = {}
    if "creator_id" in table.texts:
        data["creator_id"] = ids[chosen]
    for name, column in table.texts.items():
        if name != "creator_id":
            data[name] = column.text(chosen)
    for name, values in numbers.items():
        data[name] = values[chosen]
    return CreatorRows(
        frame=pd.DataFrame(data, index=pd.RangeIndex(chosen.size), copy=False),
        source_rows=chosen,
        rejected=rejected,
        merged=merged,
        conflicting=conflicting,
        creators_seen=seen,
        period_days=period,
        period_source=source,
        rescaled=rescaled,
    )


def _duplicates(
    table: Collected,
    codes: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    conflicts: dict[int, list[int]],
) -> tuple[int, int]:
    """Merge identical duplicates (in ``keep``) and collect conflicting groups."""
    present = np.flatnonzero(codes >= 0)
    if present.size < 2:
        return 0, 0
    unique, counts = np.unique(codes[present], return_counts=True)
    repeated = unique[counts > 1]
    if repeated.size == 0:
        return 0, 0
    merged = conflicting = 0
    groups: dict[int, list[int]] = {}
    for row in present[np.isin(codes[present], repeated)]:
        groups.setdefault(int(codes[row]), []).append(int(row))
    for members in groups.values():
        if len({_signature(table, row) for row in members}) == 1:
            keep[members[1:]] = False
            merged += len(members) - 1
            table.notes.count("duplicate_merged", len(members) - 1)
            if table.notes.wants("duplicate_merged", "creator_id"):
                table.notes.example(
                    members[1],
                    "creator_id",
                    "row_dropped",
                    "duplicate_merged",
                    f"identical to row {members[0]}; merged into it",
                )
            continue
        keep[members] = False
        conflicting += len(members)
        for row in members:
            conflicts[row] = members  # one list shared by the group
    return merged, conflicting


def _signature(table: Collected, row: int) -> tuple[object, ...]:
    values: list[object] = []
    for name in sorted(table.numbers):
        value = float(table.numbers[name][row])
        values.append(None if math.isnan(value) else value)
    for name in sorted(table.texts):
        values.append(int(table.texts[name].codes[row]))
    return tuple(values)


def _rescale(
    numbers: dict[str, npt.NDArray[np.float64]],
    proposals: list[ColumnProposal],
    period_days: float | None,
    preamble: list[str],
) -> tuple[float | None, str, list[str]]:
    stated = {p.canonical: p.period_days for p in proposals if p.applied and p.canonical}
    table_period, table_source = (
        (float(period_days), "period_days") if period_days is not None else stated_period(preamble)
    )
    rescaled: list[str] = []
    used: float | None = table_period
    source = table_source
    for name, values in numbers.items():
        if name not in FLOW_METRICS:
            continue
        header_period = stated.get(name)
        period = (
            table_period
            if period_days is not None or header_period is None
            else float(header_period)
        )
        if period is None or abs(period - 30.0) < 1e-9:
            continue
        if header_period is not None and period_days is None:
            used, source = period, "the column headers"
        scaled = values * (30.0 / period)
        numbers[name] = np.floor(scaled + 0.5) if kind_of(name) == "count" else scaled
        rescaled.append(name)
    if not rescaled and used is not None and abs(used - 30.0) < 1e-9:
        return used, source, []

    return used, source, rescaled
