"""The funnel rule: how a change to one metric moves the metrics downstream of it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_core import KpiError, funnel, load_catalogue, resolve_weighting, score
from kpi_core.funnel import Scenario, apply_changes, score_scenarios

#: A creator whose shop funnel multiplies out: 100K views, 20K product impressions, 2% CTR -> 400
#: clicks, 2.5% conversion -> 10 orders, AOV 40 -> GMV 400, GPM 4, 12 units, cost 200.
SHOP: dict[str, float] = {
    "follower_count": 20_000.0,
    "views": 100_000.0,
    "avg_views_per_video": 5_000.0,
    "product_impressions": 20_000.0,
    "product_clicks": 400.0,
    "product_ctr": 0.02,
    "orders": 10.0,
    "conversion_rate": 0.025,
    "funnel_completion_rate": 0.02,
    "cart_abandonment_rate": 0.8,
    "refund_rate": 0.1,
    "units_sold": 12.0,
    "avg_order_value": 40.0,
    "gmv": 400.0,
    "gpm": 4.0,
    "creator_cost": 200.0,
    "cpm": 2.0,
    "cost_to_gmv": 0.5,
    "likes": 3_000.0,
    "engagement_rate": 0.04,
    "avg_watch_time_s": 9.0,
    "avg_video_duration_s": 30.0,
    "avg_watch_ratio": 0.3,
    "posts_per_week": 3.0,
}


def moved(after: dict[str, float], before: dict[str, float] = SHOP) -> dict[str, float]:
    """The metrics whose value changed."""
    return {name: value for name, value in after.items() if value != before[name]}


def test_no_change_returns_the_same_values() -> None:
    assert apply_changes(SHOP, {}) == SHOP
    assert apply_changes(SHOP, {"product_ctr": 0.0}) == SHOP


def test_a_better_click_through_rate_moves_clicks_orders_gmv_and_gpm_but_not_views() -> None:
    """CTR x 1.1: clicks 400 -> 440, orders 10 -> 11, units 12 -> 13.2 -> 13 (rounded), GMV
    400 -> 440, GPM 4 -> 4.4, cost per GMV 0.5 -> 0.5 / 1.1; views, AOV, conversion and CPM stay."""
    after = apply_changes(SHOP, {"product_ctr": 0.1})
    assert moved(after) == pytest.approx(
        {
            "product_ctr": 0.022,
            "product_clicks": 440.0,
            "orders": 11.0,
            "units_sold": 13.0,
            "gmv": 440.0,
            "gpm": 4.4,
            "cost_to_gmv": 0.5 / 1.1,
        },
        rel=1e-12,
    )


def test_views_move_everything_per_view_and_cpm_but_not_gpm() -> None:
    """Views x 1.2: views per video, impressions, clicks, orders, units, likes and GMV x 1.2; CPM
    / 1.2 and cost per GMV / 1.2 (cost held); GPM stays (GMV and views move together)."""
    after = apply_changes(SHOP, {"views": 0.2})
    assert moved(after) == pytest.approx(
        {
            "views": 120_000.0,
            "avg_views_per_video": 6_000.0,
            "product_impressions": 24_000.0,
            "product_clicks": 480.0,
            "orders": 12.0,
            "units_sold": 14.0,  # 14.4 rounded
            "gmv": 480.0,
            "likes": 3_600.0,
            "cpm": 2.0 / 1.2,
            "cost_to_gmv": 0.5 / 1.2,
        },
        rel=1e-12,
    )


def test_views_per_video_lead_views_when_only_they_change() -> None:
    after = apply_changes(SHOP, {"avg_views_per_video": 0.1})
    assert after["views"] == pytest.approx(110_000.0)
    assert after["gmv"] == pytest.approx(440.0)


def test_lower_cart_abandonment_raises_conversion_by_the_completed_cart_ratio() -> None:
    """Abandonment 0.8 improved by 10% -> 0.72, so completed carts go 0.2 -> 0.28 (x 1.4):
    conversion 0.025 -> 0.035, funnel completion 0.02 -> 0.028, orders 10 -> 14, units 16.8 ->
    17, GMV 560, GPM 5.6, cost per GMV 0.5 / 1.4."""
    after = apply_changes(SHOP, {"cart_abandonment_rate": 0.1})
    assert moved(after) == pytest.approx(
        {
            "cart_abandonment_rate": 0.72,
            "conversion_rate": 0.035,
            "funnel_completion_rate": 0.028,
            "orders": 14.0,
            "units_sold": 17.0,
            "gmv": 560.0,
            "gpm": 5.6,
            "cost_to_gmv": 0.5 / 1.4,
        },
        rel=1e-12,
    )


def test_a_lower_is_better_metric_outside_the_funnel_moves_down_and_alone() -> None:
    """Refunds are not taken out of GMV (orders as placed): refund_rate 0.1 x 0.8 = 0.08."""
    assert moved(apply_changes(SHOP, {"refund_rate": 0.2})) == pytest.approx({"refund_rate": 0.08})


def test_explicit_conversion_change_wins_over_the_cart_ratio_of_the_same_scenario() -> None:
    """Target mode: conversion set to 0.03 although abandonment also falls to 0.5."""
    after = apply_changes(SHOP, {"conversion_rate": 0.03, "cart_abandonment_rate": 0.5}, "target")
    assert after["conversion_rate"] == pytest.approx(0.03)
    assert after["orders"] == pytest.approx(12.0)
    assert after["cart_abandonment_rate"] == pytest.approx(0.5)


def test_reach_mode_never_makes_a_metric_worse_and_keeps_downstream_gains() -> None:
    """Reach: CTR 0.02 is already above 0.01 and stays; conversion 0.025 -> 0.03 (x 1.2) moves
    orders to 12 and GMV to 480, which is above the GMV 'target' of 300 so GMV keeps 480."""
    changes = {"product_ctr": 0.01, "conversion_rate": 0.03, "gmv": 300.0}
    after = apply_changes(SHOP, changes, "reach")
    assert after["product_ctr"] == 0.02
    assert after["conversion_rate"] == pytest.approx(0.03)
    assert after["gmv"] == pytest.approx(480.0)
    assert after["gpm"] == pytest.approx(4.8)


def test_an_explicit_gmv_moves_gpm_and_cost_but_not_orders() -> None:
    after = apply_changes(SHOP, {"gmv": 800.0}, "target")
    assert moved(after) == pytest.approx({"gmv": 800.0, "gpm": 8.0, "cost_to_gmv": 0.25})


def test_with_only_gpm_and_views_known_a_better_basket_is_a_better_gpm() -> None:
    """The GPM-based form: no GMV or funnel counts, AOV x 1.1 -> GPM x 1.1."""
    values = {"views": 50_000.0, "gpm": 6.0, "avg_order_value": 30.0}
    assert moved(apply_changes(values, {"avg_order_value": 0.1}), values) == pytest.approx(
        {"avg_order_value": 33.0, "gpm": 6.6}
    )


def test_a_gpm_change_moves_gmv_at_constant_views() -> None:
    after = apply_changes(SHOP, {"gpm": 0.25})
    assert moved(after) == pytest.approx({"gpm": 5.0, "gmv": 500.0, "cost_to_gmv": 0.4})


def test_watch_time_and_watch_ratio_move_together() -> None:
    after = apply_changes(SHOP, {"avg_watch_time_s": 0.1})
    assert moved(after) == pytest.approx({"avg_watch_time_s": 9.9, "avg_watch_ratio": 0.33})


def test_growth_rates_change_by_points() -> None:
    values = {"follower_growth_rate": -0.02}
    assert apply_changes(values, {"follower_growth_rate": 0.01}, "absolute") == pytest.approx(
        {"follower_growth_rate": -0.01}
    )


def test_fractions_are_clipped_to_one_and_orders_follow_the_clipped_rate() -> None:
    """Conversion 0.8 x 1.5 = 1.2 is clipped to 1, so orders scale by 1 / 0.8 = 1.25."""
    values = {"conversion_rate": 0.8, "orders": 8.0}
    after = apply_changes(values, {"conversion_rate": 0.5})
    assert after == pytest.approx({"conversion_rate": 1.0, "orders": 10.0})


def test_values_are_clipped_to_the_catalogue_range() -> None:
    cpm = load_catalogue().metrics["cpm"]
    assert apply_changes({"cpm": 10.0}, {"cpm": 2.0})["cpm"] == cpm.low


def test_a_zero_conversion_raised_to_a_target_rebuilds_orders_and_gmv_from_the_identity() -> None:
    """0 -> 0.03 cannot scale anything: orders = 200 clicks x 0.03 = 6, GMV = 6 x AOV 25 = 150,
    GPM = 150 / 10000 views x 1000 = 15."""
    values = {
        "views": 10_000.0,
        "product_clicks": 200.0,
        "conversion_rate": 0.0,
        "orders": 0.0,
        "avg_order_value": 25.0,
        "gmv": 0.0,
        "gpm": 0.0,
    }
    after = apply_changes(values, {"conversion_rate": 0.03}, "target")
    assert moved(after, values) == pytest.approx(
        {"conversion_rate": 0.03, "orders": 6.0, "gmv": 150.0, "gpm": 15.0}
    )


def test_a_change_to_a_missing_metric_is_dropped_and_no_metric_is_added() -> None:
    values = {"views": 1000.0, "product_ctr": float("nan")}
    after = apply_changes(values, {"product_ctr": 0.5, "conversion_rate": 0.5})
    assert set(after) == set(values)
    assert after["views"] == 1000.0
    assert math.isnan(after["product_ctr"])


def test_counts_are_rounded_half_to_even_unless_asked_not_to() -> None:
    """orders 5 x 1.5 = 7.5 -> 8 (even); 3 x 1.5 = 4.5 -> 4 (even); without rounding 7.5."""
    assert apply_changes({"orders": 5.0}, {"orders": 0.5})["orders"] == 8.0
    assert apply_changes({"orders": 3.0}, {"orders": 0.5})["orders"] == 4.0
    unrounded = apply_changes({"orders": 5.0}, {"orders": 0.5}, round_counts=False)
    assert unrounded["orders"] == 7.5


@pytest.mark.parametrize(
    ("changes", "mode", "field"),
    [
        ({"product_clicks": 0.1}, "relative", "changes.product_clicks"),
        ({"no_such_metric": 0.1}, "relative", "changes.no_such_metric"),
        ({"gmv": float("inf")}, "relative", "changes.gmv"),
        ({"gmv": 0.1}, "double", "mode"),
    ],
)
def test_a_bad_change_names_the_field(changes: dict[str, float], mode: Any, field: str) -> None:
    with pytest.raises(KpiError) as caught:
        apply_changes(SHOP, changes, mode)
    assert caught.value.field == field


def test_scenarios_are_scored_in_one_kernel_call_and_row_zero_is_the_creator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real = funnel.score_arrays

    def counting(columns: Any, weights: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("n", 0))
        return real(columns, weights, **kwargs)

    monkeypatch.setattr(funnel, "score_arrays", counting)
    scenarios = [
        Scenario({"product_ctr": 0.1}, "relative"),
        Scenario({"views": 0.2}, "relative"),
        Scenario({"conversion_rate": 0.03}, "reach"),
    ]
    scores = score_scenarios(SHOP, scenarios, resolve_weighting("tiered"))
    assert calls == [4]
    assert scores.baseline == pytest.approx(score(SHOP).overall_score, abs=1e-12)
    for index, scenario in enumerate(scenarios):
        alone = score(apply_changes(SHOP, scenario.changes, scenario.mode)).overall_score
        assert scores.overall[index] == pytest.approx(alone, abs=1e-12)
        assert scores.uplift(index) == pytest.approx(alone - scores.baseline, abs=1e-12)


_IMPROVABLE = [
    name
    for name, metric in load_catalogue().metrics.items()
    if metric.scored and name in SHOP and metric.kind != "growth"
]


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(_IMPROVABLE),
    lift=st.floats(min_value=0.0, max_value=3.0),
    scale=st.floats(min_value=0.2, max_value=5.0),
)
def test_an_improvement_never_lowers_the_score_and_keeps_every_value_valid(
    name: str, lift: float, scale: float
) -> None:
    """Every move of the rule is in the better direction, so a lift >= 0 cannot cost points;
    counterfactuals stay valid inputs of score() (fractions in [0, 1], whole counts)."""
    values = dict(SHOP)
    values["views"] = float(round(SHOP["views"] * scale))
    after = apply_changes(values, {name: lift})
    metrics = load_catalogue().metrics
    for key, value in after.items():
        metric = metrics[key]
        assert metric.low <= value <= metric.high
        if metric.kind == "count":
            assert value == np.floor(value)
    assert score(after).overall_score >= score(values).overall_score - 1e-9


@pytest.mark.parametrize("name", sorted(funnel.DOWNSTREAM))
def test_the_documented_downstream_map_is_what_a_change_moves(name: str) -> None:
    after = apply_changes(SHOP, {name: 0.1})
    assert set(moved(after)) - {name} == funnel.DOWNSTREAM[name] & set(SHOP)
