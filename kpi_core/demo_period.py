"""One period of a demo creator's metrics: the metric model of the demo generator.

:func:`period_metrics` turns a cohort's latent traits, its funnel for the period and the period's
noise terms into every metric of the catalogue, before rounding and before dropping what a
creator does not report. :mod:`kpi_core.demo` draws the traits, the funnel and the noise (its
``generate_demo_cohort`` docstring tells the whole generative story) and writes the shipped file.
Nothing here describes a real person or real data.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "CATEGORY_REFUND",
    "ENGAGEMENT_BY_SIZE",
    "FOLLOWER_GROWTH_BY_SIZE",
    "MOMENTUM_MEAN",
    "SEARCH_HEAVY",
    "PeriodTraits",
    "follower_growth",
    "period_metrics",
    "ratio",
    "size_curve",
]

FloatArray = npt.NDArray[np.float64]

#: Each category's refund propensity relative to the catalogue's 8% benchmark (assumption:
#: fashion is returned most).
CATEGORY_REFUND: dict[str, float] = {
    "beauty": 0.8,
    "fashion": 1.8,
    "fitness": 1.0,
    "food": 0.6,
    "gadgets": 1.2,
    "home": 1.0,
}
#: Categories whose viewers search more (search_traffic_share doubles).
SEARCH_HEAVY: frozenset[str] = frozenset({"gadgets", "home"})

#: Per-view engagement by size: the public benchmark bands the catalogue cites ([bands]: 5.6%
#: under 5K followers, 4.3% at 5-20K, 3.1% at 20-100K, 1.9% at 100K-1M, 1.2% above 1M), each at
#: the geometric middle of its band.
ENGAGEMENT_BY_SIZE: tuple[tuple[float, float], ...] = (
    (3.0, 0.056),
    (4.0, 0.043),
    (4.65, 0.031),
    (5.5, 0.019),
    (6.5, 0.012),
)
#: Typical follower growth over 30 days (the catalogue's anchors; assumption).
FOLLOWER_GROWTH_BY_SIZE: tuple[tuple[float, float], ...] = ((3.0, 0.10), (5.0, 0.04), (7.0, 0.01))
#: Momentum m ~ N(mean, sd): each creator's drift in log views per period.
MOMENTUM_MEAN = 0.02


class PeriodTraits(Protocol):
    """The latent traits a period's metrics depend on, one array entry per creator."""

    @property
    def skill(self) -> FloatArray: ...
    @property
    def quality(self) -> FloatArray: ...
    @property
    def momentum(self) -> FloatArray: ...
    @property
    def categories(self) -> list[str]: ...


def size_curve(
    anchors: tuple[tuple[float, float], ...], log10_followers: FloatArray, *, log: bool = False
) -> FloatArray:
    """The typical value at each size (anchors interpolated on log10 followers)."""
    xs = np.array([x for x, _ in anchors])
    ys = np.array([y for _, y in anchors])
    if log:
        return np.exp(np.interp(log10_followers, xs, np.log(ys)))
    return np.interp(log10_followers, xs, ys)


def ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """numerator / denominator, NaN where the denominator is 0 (the metric is then omitted)."""
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def follower_growth(
    traits: PeriodTraits, z: dict[str, FloatArray], log10_followers_at_start: FloatArray
) -> FloatArray:
    """Relative follower growth during a period, from the size at its start."""
    return np.clip(
        size_curve(FOLLOWER_GROWTH_BY_SIZE, log10_followers_at_start)
        + 0.5 * (traits.momentum - MOMENTUM_MEAN)
        + 0.01 * traits.quality
        + 0.02 * z["follower_growth_rate"],
        -0.20,
        2.0,
    )


def period_metrics(
    traits: PeriodTraits,
    funnel: dict[str, FloatArray],
    z: dict[str, FloatArray],
    log10_followers: FloatArray,
    log10_followers_at_start: FloatArray,
) -> dict[str, FloatArray]:
    """Every metric of one period, before rounding and before dropping what is not reported.

    Besides the funnel, each metric depends on the traits (selling skill s, content quality q,
    momentum m), the period's size and its own persistent noise term z:

    * engagement: per-view engagement_rate = the band the catalogue cites for the size
      (``ENGAGEMENT_BY_SIZE``: 5.6% at 1K followers to 1.2% at 3M) x exp(0.30 q + 0.20 z);
      saves are 4.4% of interactions, comments and shares 3% each of the rest (more with q),
      likes the remainder; the ratios and rates are computed from these counts.
    * content: posts_per_week = 2 exp(0.25 q + z) (median 2, as cited); completion_rate = 0.45 +
      0.06 q + 0.06 z; watch time = 0.45 exp(0.20 q + 0.15 z) of a ~30 s video; video_quality
      and visual_quality_score = 0.60 + 0.12 q (0.10 q) + noise.
    * shop: cart abandonment 0.70 - 0.05 s; refunds 8% x category x exp(-0.20 s); shoppable
      videos and live sessions rise with s (lives with size too); commission rises with size.
    * discovery, fit, trend, image and cost: around the catalogue's benchmarks, with at most a
      small q term; fit and trend say nothing about sales.
    * growth: follower_growth_rate = ``FOLLOWER_GROWTH_BY_SIZE`` + 0.5 (m - 0.02) + 0.01 q +
      0.02 z, and period-2 followers = period-1 followers x (1 + that rate); gmv_growth_rate and
      engagement_rate_change compare with the period before (period 0's latent values for
      period 1, the reported period-1 values for period 2).
    """
    s, q = traits.skill, traits.quality
    x = log10_followers
    out = _shop_funnel(traits, funnel, z)
    views, gmv = out["views"], out["gmv"]
    out.update(_engagement(views, x, q, z))
    out["follower_growth_rate"] = follower_growth(traits, z, log10_followers_at_start)
    out.update(_discovery(traits, x, q, z))
    content = _content(views, q, z)
    videos = content.pop("videos")
    out.update(content)
    out.update(_brand_side(q, z))
    out.update(_tiktok_shop(videos, s, x, z))
    # cost: a flat fee at a cost per 1000 views around the catalogue's benchmark of 12 USD
    creator_cost = np.round(12.0 * np.exp(0.10 * q + 0.40 * z["cpm"]) * views / 1000.0, 2)
    out["creator_cost"] = creator_cost
    out["cpm"] = ratio(creator_cost, views) * 1000.0
    out["cost_to_gmv"] = ratio(creator_cost, gmv)
    return out


def _shop_funnel(
    traits: PeriodTraits, funnel: dict[str, FloatArray], z: dict[str, FloatArray]
) -> dict[str, FloatArray]:
    """The funnel: counts are the latent values rounded; rates are ratios of the counts."""
    s = traits.skill
    out: dict[str, FloatArray] = {}
    views = np.round(funnel["views"])
    clicks = np.round(views * funnel["product_ctr"])
    orders = np.round(clicks * funnel["conversion_rate"])
    aov = np.round(funnel["avg_order_value"], 2)
    gmv = np.round(orders * aov, 2)
    out["views"] = views
    out["product_impressions"] = views
    out["product_clicks"] = clicks
    out["orders"] = orders
    out["gmv"] = gmv
    out["product_ctr"] = ratio(clicks, views)
    out["conversion_rate"] = ratio(orders, clicks)
    out["avg_order_value"] = np.where(orders > 0, aov, np.nan)
    out["gpm"] = ratio(gmv, views) * 1000.0
    out["units_sold"] = np.round(orders * (1.0 + 0.2 * np.exp(0.5 * z["units_per_order"])))
    out["funnel_completion_rate"] = np.clip(
        funnel["conversion_rate"] * 0.65 * np.exp(0.10 * z["funnel_completion_rate"]), 0.0, 1.0
    )
    out["cart_abandonment_rate"] = np.clip(
        0.70 - 0.05 * s + 0.05 * z["cart_abandonment_rate"], 0.30, 0.95
    )
    refund_base = np.array([0.08 * CATEGORY_REFUND[c] for c in traits.categories])
    out["refund_rate"] = np.clip(
        refund_base * np.exp(-0.20 * s + 0.30 * z["refund_rate"]), 0.005, 0.40
    )
    return out


def _engagement(
    views: FloatArray, x: FloatArray, q: FloatArray, z: dict[str, FloatArray]
) -> dict[str, FloatArray]:
    """Per-view engagement by size (the catalogue's cited bands), lifted by content quality."""
    out: dict[str, FloatArray] = {}
    engagement = size_curve(ENGAGEMENT_BY_SIZE, x) * np.exp(0.30 * q + 0.20 * z["engagement_rate"])
    interactions = views * np.clip(engagement, 0.003, 0.35)
    saves = np.round(interactions * 0.044 * np.exp(0.25 * z["save_share"]))
    public = interactions - saves
    comments = np.round(public * 0.03 * np.exp(0.15 * q + 0.30 * z["comment_share"]))
    shares = np.round(public * 0.03 * np.exp(0.20 * q + 0.30 * z["share_share"]))
    likes = np.round(public) - comments - shares
    out["likes"], out["comments"], out["shares"], out["saves"] = likes, comments, shares, saves
    out["engagement_rate"] = ratio(likes + comments + shares + saves, views)
    out["share_rate"] = ratio(shares, views)
    out["save_rate"] = ratio(saves, views)
    out["likes_ratio"] = ratio(likes, likes + comments + shares)
    out["comments_ratio"] = ratio(comments, likes + comments + shares)
    out["shares_ratio"] = ratio(shares, likes + comments + shares)
    return out


def _discovery(
    traits: PeriodTraits, x: FloatArray, q: FloatArray, z: dict[str, FloatArray]
) -> dict[str, FloatArray]:
    search_lift = np.array([2.0 if c in SEARCH_HEAVY else 1.0 for c in traits.categories])
    return {
        "fyp_traffic_share": np.clip(0.60 + 0.05 * q + 0.08 * z["fyp_traffic_share"], 0.15, 0.85),
        "search_traffic_share": np.clip(
            0.03 * search_lift * np.exp(0.50 * z["search_traffic_share"]), 0.003, 0.12
        ),
        "new_viewer_share": np.clip(
            0.55 + 0.04 * q - 0.03 * (x - 5.0) + 0.07 * z["new_viewer_share"], 0.15, 0.90
        ),
    }


def _content(views: FloatArray, q: FloatArray, z: dict[str, FloatArray]) -> dict[str, FloatArray]:
    """Cadence, watch time and quality; ``videos`` (the period's count) is for the shop's use."""
    out: dict[str, FloatArray] = {}
    posts_per_week = np.clip(2.0 * np.exp(0.25 * q + 1.0 * z["posts_per_week"]), 0.25, 21.0)
    out["posts_per_week"] = posts_per_week
    videos = np.maximum(1.0, np.round(posts_per_week * 30.0 / 7.0))
    out["avg_views_per_video"] = np.round(views / videos)
    out["completion_rate"] = np.clip(0.45 + 0.06 * q + 0.06 * z["completion_rate"], 0.10, 0.85)
    duration = np.round(np.clip(30.0 * np.exp(0.45 * z["avg_video_duration_s"]), 7.0, 180.0), 1)
    watch = np.round(
        duration * np.clip(0.45 * np.exp(0.20 * q + 0.15 * z["watch_ratio"]), 0.10, 1.5), 1
    )
    out["avg_video_duration_s"] = duration
    out["avg_watch_time_s"] = watch
    out["avg_watch_ratio"] = ratio(watch, duration)
    out["video_quality"] = np.clip(0.60 + 0.12 * q + 0.05 * z["video_quality"], 0.05, 0.99)
    out["videos"] = videos
    return out


def _brand_side(q: FloatArray, z: dict[str, FloatArray]) -> dict[str, FloatArray]:
    """Fit, trend, image: brand-side judgements, unrelated to sales."""
    profile = np.clip(0.80 + 0.15 * z["profile_completeness"], 0.25, 1.0)
    return {
        "audience_match": np.clip(0.60 + 0.12 * z["audience_match"], 0.10, 0.97),
        "brand_safety_score": np.clip(0.88 + 0.05 * z["brand_safety_score"], 0.40, 1.0),
        "category_match": np.clip(0.70 + 0.10 * z["category_match"], 0.20, 1.0),
        "trending_sound_share": np.clip(
            0.20 + 0.04 * q + 0.10 * z["trending_sound_share"], 0.0, 0.90
        ),
        "trending_hashtag_share": np.clip(0.25 + 0.10 * z["trending_hashtag_share"], 0.0, 0.90),
        "visual_quality_score": np.clip(
            0.60 + 0.10 * q + 0.07 * z["visual_quality_score"], 0.05, 0.99
        ),
        "profile_completeness": np.round(profile * 4.0) / 4.0,
    }


def _tiktok_shop(
    videos: FloatArray, s: FloatArray, x: FloatArray, z: dict[str, FloatArray]
) -> dict[str, FloatArray]:
    out: dict[str, FloatArray] = {}
    shoppable_share = np.clip(0.35 + 0.15 * s + 0.10 * z["shoppable_share"], 0.05, 0.95)
    shoppable = np.round(videos * shoppable_share)
    out["shoppable_video_count"] = shoppable
    out["products_promoted"] = np.maximum(
        1.0, np.round(1.0 + 0.5 * shoppable * np.exp(0.30 * z["products_promoted"]))
    )
    live_rate: FloatArray = np.minimum(
        np.exp(-0.5 + 0.6 * s + 0.4 * (x - 5.0) + 0.5 * z["live_count"]), 40.0
    )
    lives = np.round(live_rate)
    out["live_count"] = lives
    live_share = np.clip(0.06 * np.sqrt(lives) * np.exp(0.30 * z["live_gmv_share"]), 0.0, 0.80)
    live_share[lives == 0] = 0.0
    out["live_gmv_share"] = live_share
    out["avg_commission_rate"] = np.clip(
        0.12 + 0.015 * (x - 3.0) + 0.03 * z["avg_commission_rate"], 0.05, 0.35
    )
    return out
