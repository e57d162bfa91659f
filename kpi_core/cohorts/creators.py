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

__all__ = ["FLOW_METRICS", "CreatorRows", "PreRejected", "prepare_creators", "stated_period"]

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


@dataclass(frozen=True, slots=True)
class PreRejected:
    """A row rejected before scoring (a conflicting duplicate, an id over its cap)."""

    row: int
    creator_id: str | None
    reasons: list[str]


@dataclass(slots=True)
class CreatorRows:
    """The rows to score, the file row of each, and what was merged, rejected or rescaled."""

    frame: pd.DataFrame
    source_rows: npt.NDArray[np.intp]
    rejected: list[PreRejected]
    merged: int
    conflicting: int
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
    rejected: list[PreRejected] = []
    rows = np.arange(table.rows, dtype=np.intp)
    ids: list[str | None] = [None] * table.rows
    keep = np.ones(table.rows, dtype=bool)
    if "creator_id" in table.texts:
        column = table.texts["creator_id"]
        ids = column.text(rows)
        for row in np.flatnonzero(column.codes == TOO_LONG):
            rejected.append(
                PreRejected(int(row), None, ["creator_id must be at most 128 characters"])
            )
            keep[row] = False
        merged, conflicting = _duplicates(table, column.codes, ids, keep, rejected)
    else:
        merged = conflicting = 0
    _unreadable(table, ids, keep, rejected)
    numbers = {name: values.copy() for name, values in table.numbers.items()}
    period, source, rescaled = _rescale(numbers, proposals, period_days, preamble)
    chosen = np.flatnonzero(keep)
    data: dict[str, object] = {}
    if "creator_id" in table.texts:
        data["creator_id"] = [ids[row] for row in chosen]
    for name, column in table.texts.items():
        if name != "creator_id":
            data[name] = column.text(chosen)
    for name, values in numbers.items():
        data[name] = values[chosen]
    rejected.sort(key=lambda item: item.row)
    return CreatorRows(
        frame=pd.DataFrame(data, index=pd.RangeIndex(chosen.size)),
        source_rows=chosen,
        rejected=rejected,
        merged=merged,
        conflicting=conflicting,
        period_days=period,
        period_source=source,
        rescaled=rescaled,
    )


def _duplicates(
    table: Collected,
    codes: npt.NDArray[np.int64],
    ids: list[str | None],
    keep: npt.NDArray[np.bool_],
    rejected: list[PreRejected],
) -> tuple[int, int]:
    """Merge identical duplicates and reject conflicting ones (in ``keep`` and ``rejected``)."""
    present = np.flatnonzero(codes >= 0)
    if present.size < 2:
        return 0, 0
    unique, counts = np.unique(codes[present], return_counts=True)
    repeated = set(unique[counts > 1].tolist())
    if not repeated:
        return 0, 0
    merged = conflicting = 0
    groups: dict[int, list[int]] = {}
    for row in present[np.isin(codes[present], list(repeated))]:
        groups.setdefault(int(codes[row]), []).append(int(row))
    for members in groups.values():
        signatures = {_signature(table, row) for row in members}
        if len(signatures) == 1:
            for row in members[1:]:
                keep[row] = False
                merged += 1
            table.notes.count("duplicate_merged", len(members) - 1)
            if table.notes.wants("duplicate_merged", "creator_id"):
                table.notes.example(
                    members[1],
                    "creator_id",
                    "row_dropped",
                    "duplicate_merged",
                    f"identical to row {members[0]}; merged into it",
                    ids[members[1]],
                )
            continue
        for row in members:
            others = ", ".join(str(other) for other in members if other != row)
            keep[row] = False
            conflicting += 1
            rejected.append(
                PreRejected(
                    row,
                    ids[row],
                    [
                        f"creator_id appears again in row {others} with different values; "
                        "keep one row per creator"
                    ],
                )
            )
    return merged, conflicting


def _unreadable(
    table: Collected,
    ids: list[str | None],
    keep: npt.NDArray[np.bool_],
    rejected: list[PreRejected],
) -> None:
    """Rows with a cell that is not a number where a number belongs: rejected with the cell,
    as a creator table's row is a creator's whole record (a per-video export drops the value)."""
    reasons: dict[int, list[str]] = {}
    for name, mask in table.invalid.items():
        header = table.headers.get(name, name)
        label = name if header == name else f"{name} (column {header[:40]!r})"
        cells = table.bad_cells.get(name, {})
        for row in np.flatnonzero(mask & keep):
            raw = cells.get(int(row), "")
            reasons.setdefault(int(row), []).append(f"{label} must be a number; got {raw!r}")
    for row, messages in reasons.items():
        keep[row] = False
        rejected.append(PreRejected(row, ids[row], messages[:5]))


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
