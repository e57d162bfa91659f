"""Counterfactual metrics: what a creator's numbers become when some metrics change.

The one function that moves metrics for ``diagnose`` (what-ifs) and ``recommend`` (expected
uplift) is :func:`apply_changes`; :func:`score_scenarios` builds many counterfactual rows with it
and scores them in one call of the kernel (:func:`kpi_core.kernel.score_arrays`).

**Changes.** ``changes`` maps a metric that feeds a KPI to a number read by ``mode``:

* ``relative``: improve by that fraction of the value (``0.1``: a higher-is-better metric times
  1.1, a lower-is-better one such as ``refund_rate`` times 0.9);
* ``absolute``: improve by that amount in the metric's own unit (``0.01`` on a growth rate: +1 pp;
  down for a lower-is-better metric);
* ``target``: set to that value;
* ``reach``: move to that value unless the metric is already better (what-ifs: "if the metric
  reached its benchmark").

A changed metric downstream of another change takes its change on top of the value the funnel
already moved it to (``reach``: the better of the two). A change to a metric the creator does not
have is dropped: a counterfactual never adds data, so coverage never changes. Every value is
clipped to its metric's valid range (fractions to [0, 1]).

**The funnel rule.** GMV = views x (product impressions per view) x product CTR x conversion rate x
average order value. Each stage moves by the ratio of its new to its old value, so a creator whose
reported figures do not multiply out exactly (attribution windows, impressions that are not views)
keeps its own calibration. Stage by stage (``'`` marks the counterfactual; a metric that is itself
changed takes its changed value, the rest follow):

=========================  =====================================================================
stage factor               from
=========================  =====================================================================
``F_V`` reach              ``views'/views`` if views changed, else ``avg_views_per_video`` ratio
``r_C`` click-through      ``product_ctr'/product_ctr``
``r_R`` click to order     ``conversion_rate`` ratio if changed, else ``funnel_completion_rate``
                           ratio, else the completed-cart ratio
                           ``(1 - cart_abandonment_rate') / (1 - cart_abandonment_rate)``
``F_O`` orders             ``F_V r_C r_R`` (or the ratio of ``orders`` when it is changed)
``r_A`` basket             ``avg_order_value'/avg_order_value``
``F_G`` GMV                ``F_O r_A``; if ``gpm`` is changed ``F_V gpm'/gpm`` (GMV = views x
                           GPM / 1000); if ``gmv`` is changed, its own ratio
=========================  =====================================================================

What follows: ``views`` and ``avg_views_per_video`` (same number of videos), product impressions
and the interaction counts (likes, comments, shares, saves) x ``F_V``; ``product_clicks`` x
``F_V r_C``; the unchanged one of ``conversion_rate`` / ``funnel_completion_rate`` x ``r_R``;
``orders`` x ``F_O``; ``units_sold`` x ``F_O`` (units per order held); ``gmv`` x ``F_G``;
``gpm`` x ``F_G / F_V``; ``cpm`` / ``F_V`` and ``cost_to_gmv`` / ``F_G`` (creator cost held);
``avg_watch_ratio`` and ``avg_watch_time_s`` move together (video length held). A funnel metric
the creator does not have is a factor of 1 (held constant), which gives the GPM-based form when
only GPM and views are known: a better CTR, conversion or basket raises GPM and GMV alike.

Not modelled (they move only themselves): ``refund_rate`` (GMV here counts orders as placed;
refunds are the funnel's last step in ``diagnose``, not taken out of GMV), ``avg_order_value``
from a conversion change, engagement rates (they do not feed GMV here), posting cadence (more
videos are not assumed to keep the views per video), follower count (it sets the benchmarks,
which stay those of the creator's size).

**Zero bases.** A ratio from 0 to a positive value cannot scale anything. A count downstream of
such a stage is rebuilt from its identity when its inputs are known (``product_clicks =
product_impressions x product_ctr``, ``orders = product_clicks x conversion_rate``, ``gmv =
orders x avg_order_value`` or ``views x gpm / 1000``, ``gpm = gmv / views x 1000``, ``cpm`` and
``cost_to_gmv`` from ``creator_cost``) and otherwise kept as it was.

**Counts** (views, orders, videos...) are rounded half to even after the rule, so a counterfactual
is itself a valid input of :func:`kpi_core.score`; rates are not recomputed from rounded counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import Metric, load_catalogue
from kpi_core.errors import InvalidValueError
from kpi_core.kernel import score_arrays
from kpi_core.weights import Weighting

__all__ = [
    "DOWNSTREAM",
    "MODES",
    "Mode",
    "Scenario",
    "ScenarioScores",
    "apply_changes",
    "improve",
    "score_scenarios",
]

FloatArray = npt.NDArray[np.float64]

Mode = Literal["relative", "absolute", "target", "reach"]
MODES: tuple[str, ...] = ("relative", "absolute", "target", "reach")

#: Metrics that move when a metric changes (documentation of the rule above, and the check that
#: an experiment's primary metric can respond to an intervention's target metric).
DOWNSTREAM: Mapping[str, frozenset[str]] = {
    "views": frozenset(
        {"avg_views_per_video", "product_clicks", "orders", "units_sold", "gmv", "cpm"}
        | {"cost_to_gmv", "product_impressions", "likes", "comments", "shares", "saves"}
    ),
    "avg_views_per_video": frozenset(
        {"views", "product_clicks", "orders", "units_sold", "gmv", "cpm", "cost_to_gmv"}
        | {"product_impressions", "likes", "comments", "shares", "saves"}
    ),
    "product_ctr": frozenset(
        {"product_clicks", "orders", "units_sold", "gmv", "gpm", "cost_to_gmv"}
    ),
    "conversion_rate": frozenset(
        {"funnel_completion_rate", "orders", "units_sold", "gmv", "gpm", "cost_to_gmv"}
    ),
    "funnel_completion_rate": frozenset(
        {"conversion_rate", "orders", "units_sold", "gmv", "gpm", "cost_to_gmv"}
    ),
    "cart_abandonment_rate": frozenset(
        {"conversion_rate", "funnel_completion_rate", "orders", "units_sold", "gmv", "gpm"}
        | {"cost_to_gmv"}
    ),
    "orders": frozenset({"units_sold", "gmv", "gpm", "cost_to_gmv"}),
    "avg_order_value": frozenset({"gmv", "gpm", "cost_to_gmv"}),
    "gpm": frozenset({"gmv", "cost_to_gmv"}),
    "gmv": frozenset({"gpm", "cost_to_gmv"}),
    "avg_watch_time_s": frozenset({"avg_watch_ratio"}),
    "avg_watch_ratio": frozenset({"avg_watch_time_s"}),
}

#: Counts that scale with views at a constant rate per view (none of them feeds a KPI directly).
_PER_VIEW_COUNTS: tuple[str, ...] = ("product_impressions", "likes", "comments", "shares", "saves")


def improve(metric: Metric, value: float, amount: float, mode: Mode) -> float:
    """``value`` after a change of ``amount`` read by ``mode`` (see the module), not yet clipped."""
    higher = metric.direction != "lower"
    match mode:
        case "relative":
            return value * (1.0 + amount) if higher else value * (1.0 - amount)
        case "absolute":
            return value + amount if higher else value - amount
        case "target":
            return amount
        case "reach":
            return max(value, amount) if higher else min(value, amount)


def _ratio(new: float, old: float) -> float:
    """new / old; 1 when both are 0; NaN (cannot scale) when old is 0 and new is not."""
    if old > 0.0:
        return new / old
    return 1.0 if new == old else math.nan


def _check_changes(changes: Mapping[str, float], mode: str) -> None:
    if mode not in MODES:
        raise InvalidValueError("mode", f"must be one of {', '.join(MODES)}", mode)
    metrics = load_catalogue().metrics
    for name, amount in changes.items():
        metric = metrics.get(name)
        if metric is None or not metric.scored:
            raise InvalidValueError(
                f"changes.{name}", "must be a metric that feeds a KPI", name, "see kpi://metrics"
            )
        if not math.isfinite(amount):
            raise InvalidValueError(f"changes.{name}", "must be a finite number", amount)


#: Metrics whose changes :meth:`_Counterfactual.run` applies inside the funnel pass.
_FUNNEL_HANDLED: frozenset[str] = frozenset(
    {
        "views",
        "avg_views_per_video",
        "product_ctr",
        "cart_abandonment_rate",
        "conversion_rate",
        "funnel_completion_rate",
        "orders",
        "units_sold",
        "avg_order_value",
        "gpm",
        "gmv",
        "avg_watch_time_s",
        "avg_watch_ratio",
    }
)


class _Counterfactual:
    """One pass of the funnel rule over one creator's values (see the module docstring)."""

    def __init__(
        self, values: Mapping[str, float], changes: Mapping[str, float], mode: Mode
    ) -> None:
        self.metrics = load_catalogue().metrics
        self.old = {name: value for name, value in values.items() if math.isfinite(value)}
        self.new = dict(self.old)
        self.changes = {name: amount for name, amount in changes.items() if name in self.old}
        self.mode: Mode = mode

    def has(self, name: str) -> bool:
        return name in self.old

    def changed(self, name: str) -> bool:
        return name in self.changes

    def clip(self, name: str, value: float) -> float:
        metric = self.metrics[name]
        return min(metric.high, max(metric.low, value))

    def set_changed(self, name: str, propagated: float) -> float:
        """Apply the change of ``name`` on top of its propagated value; return the stage ratio."""
        if not math.isfinite(propagated):
            propagated = self.old[name]
        value = improve(self.metrics[name], propagated, self.changes[name], self.mode)
        self.new[name] = self.clip(name, value)
        return _ratio(self.new[name], self.old[name])

    def follow(
        self, name: str, factor: float, rebuild: Callable[[], float | None] | None = None
    ) -> None:
        """Move an unchanged metric by ``factor``; rebuild it (or keep it) when that fails."""
        if not self.has(name) or self.changed(name):
            return
        value = self.old[name] * factor
        if not math.isfinite(value):
            rebuilt = rebuild() if rebuild is not None else None
            value = rebuilt if rebuilt is not None and math.isfinite(rebuilt) else self.old[name]
        self.new[name] = self.clip(name, value)

    def product(self, *names: str, scale: float = 1.0) -> float | None:
        """The product of the new values of ``names`` times ``scale``, if all are present."""
        if not all(self.has(name) for name in names):
            return None
        return math.prod(self.new[name] for name in names) * scale

    def quotient(self, numerator: str, denominator: str, scale: float = 1.0) -> float | None:
        if not (self.has(numerator) and self.has(denominator)) or self.new[denominator] <= 0:
            return None
        return self.new[numerator] / self.new[denominator] * scale

    def stage(self, name: str, upstream: float = 1.0) -> float:
        """The ratio of stage ``name``: its changed value over its old one, else ``upstream``."""
        if self.changed(name):
            return self.set_changed(name, self.old[name] * upstream)
        return upstream

    def run(self) -> dict[str, float]:
        """The funnel pass, stage by stage (the module docstring's table)."""
        f_v = self._reach()
        r_c = self._click_through(f_v)
        r_r = self._click_to_order()
        f_o = self._orders(f_v * r_c * r_r)
        f_g = self._gmv(f_v, f_o)
        self._costs(f_v, f_g)
        self._watch()
        for name in self.changes:  # every other changed metric moves only itself
            if name not in _FUNNEL_HANDLED:
                self.set_changed(name, self.old[name])
        return self.new

    def _reach(self) -> float:
        """F_V; views and views per video are one quantity at a constant number of videos."""
        if self.changed("views"):
            f_v = self.stage("views")
            self.stage("avg_views_per_video", f_v)
        elif self.changed("avg_views_per_video"):
            f_v = self.stage("avg_views_per_video")
        else:
            f_v = 1.0
        self.follow("views", f_v)
        self.follow("avg_views_per_video", f_v)
        for name in _PER_VIEW_COUNTS:
            self.follow(name, f_v)
        return f_v

    def _click_through(self, f_v: float) -> float:
        """r_C, and product clicks."""
        r_c = self.stage("product_ctr")
        self.follow(
            "product_clicks", f_v * r_c, lambda: self.product("product_impressions", "product_ctr")
        )
        return r_c

    def _click_to_order(self) -> float:
        """r_R: conversion_rate leads, then funnel_completion_rate, then the completed carts."""
        r_cart = 1.0
        if self.changed("cart_abandonment_rate"):
            old = self.old["cart_abandonment_rate"]
            self.set_changed("cart_abandonment_rate", old)
            r_cart = _ratio(1.0 - self.new["cart_abandonment_rate"], 1.0 - old)
        if self.changed("conversion_rate"):
            r_r = self.set_changed("conversion_rate", self.old["conversion_rate"] * r_cart)
        elif self.changed("funnel_completion_rate"):
            old = self.old["funnel_completion_rate"]
            r_r = self.set_changed("funnel_completion_rate", old * r_cart)
        else:
            r_r = r_cart
        self.follow("conversion_rate", r_r)
        self.follow("funnel_completion_rate", r_r)
        return r_r

    def _orders(self, upstream: float) -> float:
        """F_O, orders and units sold (units per order held)."""
        f_o = self.stage("orders", upstream)
        self.follow("orders", f_o, lambda: self.product("product_clicks", "conversion_rate"))
        self.stage("units_sold", f_o)
        self.follow("units_sold", f_o)
        return f_o

    def _gmv(self, f_v: float, f_o: float) -> float:
        """F_G from the basket, or from GPM or GMV when they are changed; GMV and GPM follow."""
        r_a = self.stage("avg_order_value")
        f_g = f_o * r_a
        gpm_led = self.changed("gpm")
        if gpm_led:
            self.set_changed("gpm", self.old["gpm"] * _safe_div(f_g, f_v))
            f_g = f_v * _ratio(self.new["gpm"], self.old["gpm"])
        if self.changed("gmv"):
            f_g = self.set_changed("gmv", self.old["gmv"] * f_g)

        def rebuild_gmv() -> float | None:
            if gpm_led:
                return self.product("views", "gpm", scale=0.001)
            return self.product("orders", "avg_order_value")

        self.follow("gmv", f_g, rebuild_gmv)
        self.follow("gpm", _safe_div(f_g, f_v), lambda: self.quotient("gmv", "views", 1000.0))
        return f_g

    def _costs(self, f_v: float, f_g: float) -> None:
        """Cost per view and per unit of GMV (creator cost held)."""
        self.follow(
            "cpm", _safe_div(1.0, f_v), lambda: self.quotient("creator_cost", "views", 1000.0)
        )
        self.follow(
            "cost_to_gmv", _safe_div(1.0, f_g), lambda: self.quotient("creator_cost", "gmv")
        )

    def _watch(self) -> None:
        """Watch time and the share of a video watched move together (video length held)."""
        if self.changed("avg_watch_time_s"):
            r_w = self.stage("avg_watch_time_s")
            self.stage("avg_watch_ratio", r_w)
        elif self.changed("avg_watch_ratio"):
            r_w = self.stage("avg_watch_ratio")
        else:
            r_w = 1.0
        self.follow("avg_watch_time_s", r_w)
        self.follow("avg_watch_ratio", r_w)


def _safe_div(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0.0 else math.nan


def apply_changes(
    values: Mapping[str, float],
    changes: Mapping[str, float],
    mode: Mode = "relative",
    *,
    round_counts: bool = True,
) -> dict[str, float]:
    """The creator's metrics after ``changes``, moved through the funnel rule (module docstring).

    ``values`` are one creator's numeric metrics after derivation (NaN or absent means missing);
    the result has the same keys. ``changes`` may name only metrics that feed a KPI; a change to a
    metric the creator lacks is dropped. With ``round_counts`` (default) counts are rounded half
    to even, so the result is a valid input of :func:`kpi_core.score`.
    """
    _check_changes(changes, mode)
    moved = _Counterfactual(values, changes, mode).run()
    metrics = load_catalogue().metrics
    out: dict[str, float] = {}
    for name, value in values.items():
        new = moved.get(name, value)
        metric = metrics.get(name)
        if round_counts and metric is not None and metric.kind == "count" and math.isfinite(new):
            new = float(round(new))
        out[name] = new
    return out


@dataclass(frozen=True, slots=True)
class Scenario:
    """One counterfactual: ``changes`` read by ``mode`` (see :func:`apply_changes`)."""

    changes: Mapping[str, float]
    mode: Mode


@dataclass(frozen=True, slots=True)
class ScenarioScores:
    """Scores of a creator as is (``baseline``) and of each scenario, from one kernel call."""

    baseline: float
    #: Overall score (0-100) per scenario, in the order given.
    overall: FloatArray
    #: KPI scores per scenario (scenarios x 13, ``KPI_IDS`` order; NaN where not scored).
    kpi_scores: FloatArray
    baseline_kpi_scores: FloatArray
    #: The counterfactual metrics of each scenario.
    rows: tuple[dict[str, float], ...]

    def uplift(self, index: int) -> float:
        """Points the overall score gains in scenario ``index``."""
        return float(self.overall[index]) - self.baseline


def score_scenarios(
    values: Mapping[str, float], scenarios: Sequence[Scenario], weighting: Weighting
) -> ScenarioScores:
    """Score the creator and every scenario in ONE call of the kernel (row 0 is the creator)."""
    metrics = load_catalogue().metrics
    names = [name for name in values if name in metrics and metrics[name].is_numeric]
    base = {name: float(values[name]) for name in names}
    rows = [base, *(apply_changes(base, s.changes, s.mode) for s in scenarios)]
    columns = {name: np.array([row[name] for row in rows], dtype=np.float64) for name in names}
    out = score_arrays(columns, weighting.vector, n=len(rows))
    return ScenarioScores(
        baseline=float(out.overall[0]),
        overall=out.overall[1:],
        kpi_scores=out.kpi_scores[1:],
        baseline_kpi_scores=out.kpi_scores[0],
        rows=tuple(rows[1:]),
    )
