"""The circularity guard: an outcome must be a later period's, not an input of the same period.

An outcome that is an input of the same period flatters whichever scheme weights that input most
(the tiered scheme weights GMV most), and an outcome that is one of this tool's own scores
flatters the scheme that made it. The guard checks, in this order:

1. **By name** (refused): a catalogue metric (``gmv``, ``orders``, ``gpm``: every derivation
   target and input is one), an alias (``total_revenue``), or a score (``sales_performance``,
   ``overall_score``, ``<kpi>_score``).
2. **Size** (refused): a cohort measured against an outcome needs at least
   :data:`MIN_OUTCOME_CREATORS` creators after rejections; below that a rank correlation says
   little and the data checks below cannot tell a copy from a coincidence.
3. **The tool's own scores** (refused): an outcome whose Spearman correlation with the overall
   score under any scheme of the call, under ``tiered`` or ``equal``, or with any KPI score passes
   :data:`CIRCULAR_RANK` (0.99) is that score renamed.
4. **Raw same-period fields**: an outcome proportional within 1e-9 to an input metric, a derived
   metric or a same-period reconstruction (:data:`RECONSTRUCTIONS`, such as GMV = gpm x views /
   1000) is that field in other units (refused). A Spearman correlation past 0.99 with one of them
   (``round(gmv / 1000)``, ``gmv`` times a little noise) is refused too, unless the caller says
   ``allow_persistent_outcome``: a stable cohort's next-period GMV can legitimately track this
   period's, and then the comparison goes ahead with a warning.

A next period's value such as ``next_gmv`` passes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from kpi_core.catalogue import KPI_IDS, Catalogue
from kpi_core.compare.ranks import FloatArray, dot, spearman
from kpi_core.errors import InvalidValueError
from kpi_core.kernel import derive

__all__ = [
    "CIRCULAR_RANK",
    "MIN_OUTCOME_CREATORS",
    "RECONSTRUCTIONS",
    "Reconstruction",
    "Tracking",
    "check_outcome_data",
    "check_outcome_name",
    "check_outcome_size",
]

#: An outcome rank-correlated above this with a score or a same-period field is that field.
CIRCULAR_RANK = 0.99
#: Fewest creators a comparison against an outcome needs (after rejections).
MIN_OUTCOME_CREATORS = 10
#: An outcome proportional to a same-period input within this relative tolerance is that input.
PROPORTIONAL_TOLERANCE = 1e-9
#: Fewest shared rows for the rank-correlation test (10 rows in perfect order by chance: 1 in 10!).
MIN_ROWS_RANK_TEST = 10
#: Rows the rank-correlation test looks at first (evenly spaced; all rows confirm a finding).
RANK_TEST_SAMPLE = 20_000
#: Fewest shared rows for the proportionality test.
MIN_ROWS_PROPORTIONAL_TEST = 3


def _divide(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


@dataclass(frozen=True, slots=True)
class Reconstruction:
    """A same-period quantity rebuilt from input metrics (an outcome equal to it is circular)."""

    quantity: str
    formula: str
    inputs: tuple[str, ...]
    compute: Callable[[Mapping[str, FloatArray]], FloatArray]


#: Same-period GMV and orders rebuilt from the inputs, beyond the catalogue's own derivations
#: (which go the other way, from GMV to GPM); the funnel is DESIGN.md's.
RECONSTRUCTIONS: tuple[Reconstruction, ...] = (
    Reconstruction(
        "GMV", "gpm * views / 1000", ("gpm", "views"), lambda c: c["gpm"] * c["views"] / 1000.0
    ),
    Reconstruction(
        "GMV",
        "orders * avg_order_value",
        ("orders", "avg_order_value"),
        lambda c: c["orders"] * c["avg_order_value"],
    ),
    Reconstruction(
        "GMV",
        "product_clicks * conversion_rate * avg_order_value",
        ("product_clicks", "conversion_rate", "avg_order_value"),
        lambda c: c["product_clicks"] * c["conversion_rate"] * c["avg_order_value"],
    ),
    Reconstruction(
        "GMV",
        "views * product_ctr * conversion_rate * avg_order_value",
        ("views", "product_ctr", "conversion_rate", "avg_order_value"),
        lambda c: c["views"] * c["product_ctr"] * c["conversion_rate"] * c["avg_order_value"],
    ),
    Reconstruction(
        "GMV",
        "creator_cost / cost_to_gmv",
        ("creator_cost", "cost_to_gmv"),
        lambda c: _divide(c["creator_cost"], c["cost_to_gmv"]),
    ),
    Reconstruction(
        "orders",
        "product_clicks * conversion_rate",
        ("product_clicks", "conversion_rate"),
        lambda c: c["product_clicks"] * c["conversion_rate"],
    ),
    Reconstruction(
        "orders",
        "gmv / avg_order_value",
        ("gmv", "avg_order_value"),
        lambda c: _divide(c["gmv"], c["avg_order_value"]),
    ),
)

_GUARD_RULE = "must be a later period's outcome, not an input of the same period"
_GUARD_ADVICE = (
    "validating a score against the period it was computed from flatters the scheme that "
    "weights that input most; use the next period's value, such as next_gmv"
)
_PERSISTENT_ADVICE = (
    "a stable cohort's next-period value can track this period's: if this really is a later "
    "period's outcome, pass allow_persistent_outcome=true (the comparison then mostly measures "
    "how much each scheme weights that field)"
)


def _circular(outcome: str, finding: str, advice: str = _GUARD_ADVICE) -> InvalidValueError:
    """The guard's error: the outcome as the value, what was found and what to do as the hint."""
    return InvalidValueError("outcome", _GUARD_RULE, outcome, f"{finding}; {advice}")


def _canonical_name(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def check_outcome_name(outcome: object, catalogue: Catalogue) -> str:
    """The outcome field name, refused when it names a same-period input or score."""
    if not isinstance(outcome, str) or not outcome.strip():
        raise InvalidValueError(
            "outcome", "must be the name of a field of each creator", outcome, "such as next_gmv"
        )
    name = _canonical_name(outcome)
    reason = ""
    if name in catalogue.aliases:
        reason = f"it is an alias of {catalogue.aliases[name]}, an input of the scores"
    elif name in catalogue.metrics:
        feeds = [d.metric for d in catalogue.derivations.values() if name in d.inputs]
        derivation = catalogue.derivations.get(name)
        reason = "it is a metric the scores are computed from"
        if derivation is not None:
            reason += f" (derived as {derivation.formula})"
        elif feeds:
            reason += f" (an input of {', '.join(feeds)})"
    elif name in KPI_IDS or name == "overall_score" or name.removesuffix("_score") in KPI_IDS:
        reason = "it is a score computed from the same period's inputs"
    if reason:
        raise _circular(outcome, reason)
    return outcome


def check_outcome_size(count: int, size: int, first_reasons: str) -> None:
    """Refuse a comparison against an outcome on fewer than MIN_OUTCOME_CREATORS creators."""
    if count >= MIN_OUTCOME_CREATORS:
        return
    hint = (
        "a rank correlation on fewer creators says little, and whether the outcome is a copy of "
        "an input cannot be told from chance; give more creators, or leave out the outcome to "
        "compare the rankings only"
    )
    if first_reasons:
        hint = f"{first_reasons}; {hint}"
    raise InvalidValueError(
        "creators",
        f"must contain at least {MIN_OUTCOME_CREATORS} valid creators when an outcome is given",
        f"{count} valid of {size}",
        hint,
    )


def _proportional(outcome: FloatArray, candidate: FloatArray) -> bool:
    """outcome = c x candidate for one c > 0, within PROPORTIONAL_TOLERANCE (relative)."""
    norm = dot(candidate, candidate)
    largest = float(np.abs(outcome).max())
    if norm <= 0.0 or largest <= 0.0:
        return False
    scale = dot(outcome, candidate) / norm
    if scale <= 0.0:
        return False
    return float(np.abs(outcome - scale * candidate).max()) <= PROPORTIONAL_TOLERANCE * largest


def _same_period_fields(
    columns: Mapping[str, FloatArray], catalogue: Catalogue
) -> dict[str, FloatArray]:
    """The numeric input metrics, the derived ones and the reconstructions, by label."""
    derived, _ = derive(columns, catalogue)
    candidates: dict[str, FloatArray] = {
        name: column
        for name, column in derived.items()
        if name in catalogue.metrics and catalogue.metrics[name].is_numeric
    }
    for rebuilt in RECONSTRUCTIONS:
        if all(name in derived for name in rebuilt.inputs):
            label = f"{rebuilt.formula} (this period's {rebuilt.quantity})"
            candidates[label] = rebuilt.compute(derived)
    return candidates


class Tracking(NamedTuple):
    """The outcome tracks a candidate: its Spearman correlation with it, on how many rows."""

    label: str
    rho: float
    rows: int

    def finding(self) -> str:
        return f"it has rank correlation {self.rho:.5f} with {self.label} on {self.rows} rows"


def _tracking(label: str, values: FloatArray, candidate: FloatArray) -> Tracking | None:
    """The candidate's rank correlation with the outcome if it passes CIRCULAR_RANK."""
    shared = np.isfinite(values) & np.isfinite(candidate)
    rows = int(shared.sum())
    if rows < MIN_ROWS_RANK_TEST:
        return None
    ys, xs = values[shared], candidate[shared]
    # A sample decides quickly; only a sample past the threshold is checked on every row.
    sample = np.linspace(0, rows - 1, min(rows, RANK_TEST_SAMPLE)).astype(np.intp)
    rho = spearman(ys[sample], xs[sample])
    if rho > CIRCULAR_RANK and len(sample) < rows:
        rho = spearman(ys, xs)
    return Tracking(label, rho, rows) if rho > CIRCULAR_RANK else None


def _copies(outcome: str, values: FloatArray, fields: Mapping[str, FloatArray]) -> None:
    """Refuse an outcome proportional to a same-period field (the field in other units)."""
    known = np.isfinite(values)
    for label, candidate in fields.items():
        shared = known & np.isfinite(candidate)
        rows = int(shared.sum())
        if rows >= MIN_ROWS_PROPORTIONAL_TEST and _proportional(values[shared], candidate[shared]):
            raise _circular(outcome, f"it equals {label} up to a constant factor on {rows} rows")


def check_outcome_data(
    outcome: str,
    values: FloatArray,
    columns: Mapping[str, FloatArray],
    scores: Mapping[str, FloatArray],
    catalogue: Catalogue,
    *,
    allow_persistent: bool = False,
) -> list[Tracking]:
    """Refuse an outcome that is one of ``scores`` (labelled: the tool's own scores), a copy of a
    same-period field, or (unless ``allow_persistent``) tracks one past CIRCULAR_RANK.

    Returns the same-period fields the outcome tracks when that is allowed (for a warning).
    """
    for label, candidate in scores.items():
        found = _tracking(label, values, candidate)
        if found is not None:
            raise _circular(outcome, f"{found.finding()}, a score this tool computes")
    fields = _same_period_fields(columns, catalogue)
    _copies(outcome, values, fields)
    tracked = [
        found
        for label, candidate in fields.items()
        if (found := _tracking(label, values, candidate)) is not None
    ]
    tracked.sort(key=lambda found: (-found.rows, -found.rho))  # the best-supported first
    if tracked and not allow_persistent:
        raise _circular(outcome, tracked[0].finding(), _PERSISTENT_ADVICE)
    return tracked
