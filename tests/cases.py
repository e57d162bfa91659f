"""Inputs shared by the core tests and the server tests (the same cases, through both doors)."""

from __future__ import annotations

import math
from typing import Any

from kpi_core import KPI_IDS

#: The source document's example payload, exactly as it appears there (total_revenue is an alias
#: of gmv; the interaction ratios are shares of interactions, not rates per view).
SOURCE_PAYLOAD: dict[str, Any] = {
    "conversion_rate": 0.035,
    "total_revenue": 12500.0,
    "avg_order_value": 42.0,
    "funnel_completion_rate": 0.018,
    "cart_abandonment_rate": 0.68,
    "video_quality": 0.82,
    "likes_ratio": 0.91,
    "comments_ratio": 0.05,
    "shares_ratio": 0.04,
}

#: Three realistic creators of different sizes (30-day figures).
REALISTIC: dict[str, dict[str, Any]] = {
    "beauty_micro": {
        "creator_id": "@glowwithmia",
        "category": "beauty",
        "follower_count": 48_000,
        "gmv": 9_800.0,
        "orders": 260,
        "gmv_growth_rate": 0.12,
        "product_impressions": 410_000,
        "product_clicks": 5_300,
        "cart_abandonment_rate": 0.71,
        "refund_rate": 0.06,
        "shoppable_video_count": 14,
        "live_count": 2,
        "products_promoted": 9,
        "views": 620_000,
        "likes": 21_500,
        "comments": 940,
        "shares": 610,
        "saves": 1_350,
        "follower_growth_rate": 0.05,
        "posts_per_week": 4.0,
        "completion_rate": 0.46,
        "avg_watch_time_s": 11.5,
        "avg_video_duration_s": 24.0,
        "fyp_traffic_share": 0.66,
        "audience_match": 0.72,
        "brand_safety_score": 0.93,
    },
    "gadgets_macro": {
        "creator_id": "techtalk_dan",
        "category": "gadgets",
        "follower_count": 760_000,
        "gmv": 84_000.0,
        "orders": 1_150,
        "conversion_rate": 0.021,
        "product_ctr": 0.008,
        "gpm": 11.2,
        "views": 7_500_000,
        "engagement_rate": 0.018,
        "posts_per_week": 6.5,
        "completion_rate": 0.38,
        "trending_sound_share": 0.15,
        "creator_cost": 12_000.0,
    },
    "fitness_nano": {
        "creator_id": "run.with.ade",
        "category": "fitness",
        "follower_count": 6_200,
        "gmv": 640.0,
        "orders": 21,
        "views": 41_000,
        "likes": 2_300,
        "comments": 160,
        "shares": 45,
        "saves": 120,
        "posts_per_week": 1.5,
        "follower_growth_rate": 0.09,
        "visual_quality_score": 0.55,
        "profile_completeness": 0.8,
    },
}

#: Bad single-creator inputs: (case id, metrics, weighting, the field the error must name).
BAD_INPUTS: list[tuple[str, Any, Any, str]] = [
    ("percent instead of fraction", {"conversion_rate": 5.0}, "tiered", "conversion_rate"),
    ("fraction above 100", {"completion_rate": 140.0}, "tiered", "completion_rate"),
    ("negative fraction", {"refund_rate": -0.1}, "tiered", "refund_rate"),
    ("negative count", {"orders": -3}, "tiered", "orders"),
    ("fractional count", {"views": 1200.5}, "tiered", "views"),
    ("negative money", {"gmv": -10.0}, "tiered", "gmv"),
    ("NaN", {"engagement_rate": float("nan")}, "tiered", "engagement_rate"),
    ("infinity", {"gmv": float("inf")}, "tiered", "gmv"),
    ("string for a number", {"gmv": "12k"}, "tiered", "gmv"),
    ("boolean for a number", {"views": True}, "tiered", "views"),
    ("unknown field with a near name", {"conversion_rte": 0.03}, "tiered", "conversion_rte"),
    ("unknown field", {"gmv": 10.0, "favourite_colour": "blue"}, "tiered", "favourite_colour"),
    ("growth below -100%", {"gmv_growth_rate": -1.5}, "tiered", "gmv_growth_rate"),
    ("alias disagrees", {"gmv": 100.0, "total_revenue": 200.0}, "tiered", "total_revenue"),
    ("currency not configured", {"gmv": 100.0, "currency": "EUR"}, "tiered", "currency"),
    ("creator id too long", {"gmv": 1.0, "creator_id": "x" * 500}, "tiered", "creator_id"),
    ("creator id not a string", {"gmv": 1.0, "creator_id": 42}, "tiered", "creator_id"),
    ("nothing to score", {"creator_id": "a"}, "tiered", "metrics"),
    ("metrics not an object", ["gmv", 1], "tiered", "metrics"),
    ("unknown scheme", {"gmv": 10.0}, "fancy", "weighting"),
    (
        "weights do not sum to 1",
        {"gmv": 10.0},
        dict.fromkeys(KPI_IDS, 0.1),
        "weighting",
    ),
    ("weights missing KPIs", {"gmv": 10.0}, {"sales_performance": 1.0}, "weighting"),
    (
        "negative weight",
        {"gmv": 10.0},
        {
            "sales_performance": 1.1,
            "shop_conversion": -0.1,
            "tiktok_shop": 0.0,
            "engagement": 0.0,
            "content_strategy": 0.0,
            "engagement_growth": 0.0,
            "discovery": 0.0,
            "audience_fit": 0.0,
            "brand_fit": 0.0,
            "trend_fit": 0.0,
            "image_quality": 0.0,
            "reach_visibility": 0.0,
            "cost_efficiency": 0.0,
        },
        "weighting.shop_conversion",
    ),
    ("follower count too large", {"follower_count": 1e12, "gmv": 5.0}, "tiered", "follower_count"),
]


def as_answer(model: Any, omit: tuple[str, ...] = ()) -> dict[str, Any]:
    """A library result as a tool's structured content carries it (issue 18): ``summary``
    first, fields that are null left out, and the dotted paths in ``omit`` ("*" for every item
    of a list) left to ``detail="full"``."""
    data: dict[str, Any] = _no_nulls(model.model_dump(mode="json", exclude_none=True))
    for path in omit:
        _drop(data, path.split("."))
    return {"summary": data.pop("summary", None) or model.summary, **data}


def _no_nulls(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if _no_nulls(v) is not None}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [_no_nulls(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _drop(node: Any, path: list[str]) -> None:
    if isinstance(node, list):
        for item in node:  # pyright: ignore[reportUnknownVariableType]
            _drop(item, path[1:] if path[0] == "*" else path)
        return
    if not isinstance(node, dict):
        return
    if len(path) == 1:
        node.pop(path[0], None)  # pyright: ignore[reportUnknownMemberType]
    elif path[0] in node:
        _drop(node[path[0]], path[1:])
