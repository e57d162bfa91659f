"""The circularity guard: an outcome must be a later period's, not an input of the same period.

An outcome that is an input of the same period flatters whichever scheme weights that input most
(the tiered scheme weights GMV most). Refused, by name: a catalogue metric (``gmv``, ``orders``,
``gpm``: every derivation target and input is one), an alias (``total_revenue``), or a KPI score
(``sales_performance``, ``overall_score``, ``<kpi>_score``). Refused, by data: an outcome column
proportional within 1e-9 (so also a copy in other units) or rank-correlated above 0.999 with an
input metric, a derived metric, or a same-period reconstruction from the inputs
(:data:`RECONSTRUCTIONS`, such as GMV = gpm x views / 1000). A next period's value such as
``next_gmv`` passes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from kpi_core.catalogue import KPI_IDS, Catalogue
from kpi_core.compare.ranks import FloatArray, dot, spearman
from kpi_core.errors import InvalidValueError
from kpi_core.kernel import derive

__all__ = [
    "RANK_IDENTICAL",
    "RECONSTRUCTIONS",
    "Reconstruction",
    "check_outcome_data",
    "check_outcome_name",
]

#: An outcome rank-correlated above this with a same-period input is the input (circular).
RANK_IDENTICAL = 0.999
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


def _circular(outcome: str, finding: str) -> InvalidValueError:
    """The guard's error: the outcome as the value, what was found and what to do as the hint."""
    return InvalidValueError("outcome", _GUARD_RULE, outcome, f"{finding}; {_GUARD_ADVICE}")


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


def check_outcome_data(
    outcome: str, values: FloatArray, columns: Mapping[str, FloatArray], catalogue: Catalogue
) -> None:
    """Refuse an outcome column that is an input, a derived input or a reconstruction of one."""
    outcome_known = np.isfinite(values)
    for label, candidate in _same_period_fields(columns, catalogue).items():
        shared = outcome_known & np.isfinite(candidate)
        rows = int(shared.sum())
        if rows < MIN_ROWS_PROPORTIONAL_TEST:
            continue
        ys, xs = values[shared], candidate[shared]
        finding = ""
        if _proportional(ys, xs):
            finding = f"it equals {label} up to a constant factor on {rows} rows"
        elif rows >= MIN_ROWS_RANK_TEST:
            # A sample decides quickly; only a near-identical sample is checked on every row.
            sample = np.linspace(0, rows - 1, min(rows, RANK_TEST_SAMPLE)).astype(np.intp)
            rho = spearman(ys[sample], xs[sample])
            if rho > RANK_IDENTICAL and len(sample) < rows:
                rho = spearman(ys, xs)
            if rho > RANK_IDENTICAL:
                finding = f"it has rank correlation {rho:.5f} with {label} on {rows} rows"
        if finding:
            raise _circular(outcome, finding)
