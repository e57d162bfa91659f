"""The demo cohort: synthetic TikTok creators, each over two consecutive 30-day periods.

Nothing here describes a real person or real data. The cohort lets a newcomer try every tool, and
lets later work validate weightings out of sample: period-1 metrics against period-2 GMV.

* :func:`generate_demo_cohort` draws the cohort from a seeded generator; its docstring is the
  generative story. ``python -m kpi_core.demo`` rewrites ``kpi_core/data/demo_creators.json``
  from it (``--check`` only compares), and a test proves the shipped file is what it makes.
* :func:`load_demo_cohort`, :func:`demo_metrics`, :func:`demo_creator_ids` and
  :func:`demo_cohort_rows` read the shipped file: lazily, once per process, never at import. Each
  call returns fresh dicts, so a caller may change what it gets without touching anyone else's.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import sys
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TypedDict, cast

import numpy as np
import numpy.typing as npt

from kpi_core.demo_period import (
    MOMENTUM_MEAN,
    follower_growth,
    period_metrics,
    ratio,
    size_curve,
)
from kpi_core.errors import InvalidValueError

__all__ = [
    "CATEGORIES",
    "DEMO_COUNT",
    "DEMO_FILE",
    "DEMO_SEED",
    "MOMENTUM_MEAN",
    "MOMENTUM_SD",
    "NEXT_GMV_SIGMA",
    "PERSISTENCE",
    "STEP_SIGMA",
    "DemoCreator",
    "DemoFile",
    "MetricValue",
    "demo_cohort_rows",
    "demo_creator_ids",
    "demo_document",
    "demo_metrics",
    "generate_demo_cohort",
    "load_demo_cohort",
    "main",
    "render_demo_file",
]

FloatArray = npt.NDArray[np.float64]
MetricValue = int | float | str


class DemoCreator(TypedDict):
    """One demo creator. Each period is a complete ``metrics`` object for :func:`kpi_core.score`
    (it repeats ``creator_id`` and ``category`` and has that period's ``follower_count``); the
    top-level ``follower_count`` is period 1's."""

    creator_id: str
    category: str
    follower_count: int
    period_1: dict[str, MetricValue]
    period_2: dict[str, MetricValue]


class DemoFile(TypedDict):
    """The document stored in ``data/demo_creators.json``."""

    generator: str
    seed: int
    synthetic: bool
    description: str
    creators: list[DemoCreator]


DEMO_SEED = 20261126
DEMO_COUNT = 48
#: The shipped file, inside the ``kpi_core`` package.
DEMO_FILE = "data/demo_creators.json"

#: Categories in turn, with each one's typical order value in USD (assumption); their refund
#: propensities are in kpi_core.demo_period.
CATEGORIES: tuple[str, ...] = ("beauty", "fashion", "fitness", "food", "gadgets", "home")
CATEGORY_AOV: dict[str, float] = {
    "beauty": 28.0,
    "fashion": 38.0,
    "fitness": 45.0,
    "food": 22.0,
    "gadgets": 60.0,
    "home": 42.0,
}
# Size curves: (log10 followers, value) anchors, interpolated linearly in log10 followers (in log
# value for views) and flat beyond the ends. They are the demo's own copies, so that tuning a
# scoring benchmark in catalogue.toml never changes the demo data.
#: Typical views over 30 days (the catalogue's views benchmark anchors of kpi-2026.11.1).
VIEWS_BY_SIZE: tuple[tuple[float, float], ...] = (
    (3.0, 8_000.0),
    (4.0, 40_000.0),
    (5.0, 250_000.0),
    (6.0, 1_500_000.0),
    (7.0, 8_000_000.0),
)
#: Log10 followers are drawn on [3, 7]: 1K to 10M followers.
LOG10_FOLLOWERS_RANGE = (3.0, 7.0)
#: Momentum m ~ N(MOMENTUM_MEAN, sd): each creator's drift in log views per period.
MOMENTUM_SD = 0.05
#: Starting point of the funnel (period 0): typical value, loading on a trait, spread (log scale).
BASE_CTR = 0.01
BASE_CVR = 0.03
CTR_BOUNDS = (0.001, 0.10)
CVR_BOUNDS = (0.002, 0.25)
#: Standard deviation of each funnel factor's log step from one period to the next.
STEP_SIGMA: dict[str, float] = {
    "views": 0.40,
    "product_ctr": 0.20,
    "conversion_rate": 0.20,
    "avg_order_value": 0.10,
}
#: Next-period GMV = this period's funnel x exp(m + e), e ~ N(0, NEXT_GMV_SIGMA): the four steps
#: add in quadrature, sqrt(0.4^2 + 0.2^2 + 0.2^2 + 0.1^2) = 0.5.
NEXT_GMV_SIGMA = math.sqrt(math.fsum(sigma**2 for sigma in STEP_SIGMA.values()))
#: Every other metric's noise term z persists as z_p = rho z_(p-1) + sqrt(1 - rho^2) N(0, 1).
PERSISTENCE = 0.7

#: How creators report engagement and cost (shares of the cohort, in this order).
STYLES: tuple[tuple[str, float], ...] = (("counts", 0.5), ("rates", 0.3), ("both", 0.2))
#: Share of creators lacking one or two whole KPIs (the groups below), the same in both periods.
SHARE_LACKING_KPIS = 0.2
#: Chance that one secondary metric is missing for a creator (both periods).
SPORADIC_MISSING = 0.06

#: Fields that go missing together when a creator lacks a whole KPI.
KPI_GROUPS: dict[str, tuple[str, ...]] = {
    "shop_conversion": (
        "product_impressions",
        "product_clicks",
        "product_ctr",
        "conversion_rate",
        "funnel_completion_rate",
        "cart_abandonment_rate",
        "refund_rate",
    ),
    "engagement_growth": ("follower_growth_rate", "engagement_rate_change"),
    "discovery": ("fyp_traffic_share", "search_traffic_share", "new_viewer_share"),
    "audience_fit": ("audience_match",),
    "brand_fit": ("brand_safety_score", "category_match"),
    "trend_fit": ("trending_sound_share", "trending_hashtag_share"),
    "image_quality": ("visual_quality_score", "profile_completeness"),
    "cost_efficiency": ("creator_cost", "cpm", "cost_to_gmv", "avg_commission_rate"),
}
#: Metrics that may go missing one at a time.
SPORADIC: tuple[str, ...] = (
    "units_sold",
    "gmv_growth_rate",
    "funnel_completion_rate",
    "cart_abandonment_rate",
    "refund_rate",
    "shoppable_video_count",
    "live_count",
    "products_promoted",
    "live_gmv_share",
    "avg_commission_rate",
    "new_viewer_share",
    "search_traffic_share",
    "posts_per_week",
    "completion_rate",
    "video_quality",
    "trending_hashtag_share",
    "profile_completeness",
    "avg_views_per_video",
)
#: Fields reported only by creators who report counts, only by those who report rates.
COUNT_FIELDS: frozenset[str] = frozenset({"likes", "comments", "shares", "saves", "creator_cost"})
RATE_FIELDS: frozenset[str] = frozenset(
    {
        "engagement_rate",
        "share_rate",
        "save_rate",
        "likes_ratio",
        "comments_ratio",
        "shares_ratio",
        "cpm",
        "cost_to_gmv",
        "avg_watch_ratio",
    }
)
#: Rates that the core re-derives from counts: kept to 6 significant digits so they agree.
PRECISE: frozenset[str] = frozenset(
    {
        "gpm",
        "cpm",
        "cost_to_gmv",
        "product_ctr",
        "conversion_rate",
        "engagement_rate",
        "share_rate",
        "save_rate",
        "likes_ratio",
        "comments_ratio",
        "shares_ratio",
        "avg_watch_ratio",
    }
)
#: Reported as whole numbers.
COUNTS: frozenset[str] = frozenset(
    {
        "orders",
        "units_sold",
        "product_impressions",
        "product_clicks",
        "shoppable_video_count",
        "live_count",
        "products_promoted",
        "views",
        "likes",
        "comments",
        "shares",
        "saves",
        "avg_views_per_video",
    }
)
#: Decimal places of the other metrics (3 when not listed): cents for money, 4 for growth.
DECIMALS: dict[str, int] = {
    "gmv": 2,
    "avg_order_value": 2,
    "creator_cost": 2,
    "gmv_growth_rate": 4,
    "follower_growth_rate": 4,
    "engagement_rate_change": 4,
    "posts_per_week": 2,
    "avg_watch_time_s": 1,
    "avg_video_duration_s": 1,
}
#: Every reported metric, in the order the generator builds them.
REPORTED: tuple[str, ...] = (
    "gmv",
    "orders",
    "units_sold",
    "avg_order_value",
    "gmv_growth_rate",
    "product_impressions",
    "product_clicks",
    "product_ctr",
    "conversion_rate",
    "funnel_completion_rate",
    "cart_abandonment_rate",
    "refund_rate",
    "gpm",
    "shoppable_video_count",
    "live_count",
    "products_promoted",
    "live_gmv_share",
    "avg_commission_rate",
    "views",
    "likes",
    "comments",
    "shares",
    "saves",
    "engagement_rate",
    "share_rate",
    "save_rate",
    "likes_ratio",
    "comments_ratio",
    "shares_ratio",
    "follower_growth_rate",
    "engagement_rate_change",
    "fyp_traffic_share",
    "search_traffic_share",
    "new_viewer_share",
    "posts_per_week",
    "completion_rate",
    "avg_watch_time_s",
    "avg_video_duration_s",
    "avg_watch_ratio",
    "video_quality",
    "audience_match",
    "brand_safety_score",
    "category_match",
    "trending_sound_share",
    "trending_hashtag_share",
    "visual_quality_score",
    "profile_completeness",
    "avg_views_per_video",
    "creator_cost",
    "cpm",
    "cost_to_gmv",
)
#: The persistent noise terms z of the non-funnel metrics, one column each.
NOISE_TERMS: tuple[str, ...] = (
    "engagement_rate",
    "save_share",
    "comment_share",
    "share_share",
    "follower_growth_rate",
    "fyp_traffic_share",
    "search_traffic_share",
    "new_viewer_share",
    "posts_per_week",
    "completion_rate",
    "avg_video_duration_s",
    "watch_ratio",
    "video_quality",
    "visual_quality_score",
    "profile_completeness",
    "trending_sound_share",
    "trending_hashtag_share",
    "audience_match",
    "brand_safety_score",
    "category_match",
    "funnel_completion_rate",
    "cart_abandonment_rate",
    "refund_rate",
    "units_per_order",
    "shoppable_share",
    "products_promoted",
    "live_count",
    "live_gmv_share",
    "avg_commission_rate",
    "cpm",
)


# --------------------------------------------------------------------------------------------
# the generator


class _Traits:
    """The latent traits of the cohort, one array entry per creator (never reported)."""

    def __init__(self, rng: np.random.Generator, count: int) -> None:
        low, high = LOG10_FOLLOWERS_RANGE
        strata = rng.permutation(count)
        log10_followers = low + (high - low) * (strata + rng.random(count)) / count
        self.followers: npt.NDArray[np.int64] = np.round(10.0**log10_followers).astype(np.int64)
        self.categories = [CATEGORIES[k % len(CATEGORIES)] for k in range(count)]
        self.skill: FloatArray = rng.standard_normal(count)
        self.quality: FloatArray = rng.standard_normal(count)
        self.momentum: FloatArray = rng.normal(MOMENTUM_MEAN, MOMENTUM_SD, count)

        order = rng.permutation(count)
        self.styles = [""] * count
        start = 0.0
        for style, share in STYLES:
            for position in range(round(start * count), round((start + share) * count)):
                self.styles[int(order[position])] = style
            start += share

        groups = list(KPI_GROUPS)
        self.lacking: list[frozenset[str]] = [frozenset()] * count
        lacking = rng.choice(count, size=round(SHARE_LACKING_KPIS * count), replace=False)
        for creator in lacking:
            how_many = 2 if rng.random() < 0.4 else 1
            picked = rng.choice(len(groups), size=how_many, replace=False)
            self.lacking[int(creator)] = frozenset(groups[int(g)] for g in picked)
        sporadic = rng.random((count, len(SPORADIC))) < SPORADIC_MISSING
        self.sporadic = [
            frozenset(name for j, name in enumerate(SPORADIC) if sporadic[k, j])
            for k in range(count)
        ]

    @property
    def log10(self) -> FloatArray:
        """log10 of the period-1 followers."""
        return np.log10(self.followers.astype(np.float64))


def _persistent_noise(rng: np.random.Generator, count: int) -> list[dict[str, FloatArray]]:
    """z for periods 0, 1 and 2: standard normal, AR(1) with coefficient PERSISTENCE."""
    draws = rng.standard_normal((3, count, len(NOISE_TERMS)))
    z = draws[0]
    by_period: list[dict[str, FloatArray]] = []
    for period in range(3):
        if period:
            z = PERSISTENCE * z + math.sqrt(1.0 - PERSISTENCE**2) * draws[period]
        by_period.append({name: z[:, j] for j, name in enumerate(NOISE_TERMS)})
    return by_period


def _funnel_paths(
    rng: np.random.Generator, traits: _Traits, log10_followers: FloatArray
) -> list[dict[str, FloatArray]]:
    """Latent views, product CTR, conversion and order value for periods 0, 1 and 2."""
    count = len(traits.skill)
    start = rng.standard_normal((4, count))
    steps = rng.standard_normal((2, 4, count))
    aov_base = np.array([CATEGORY_AOV[category] for category in traits.categories])
    s, q = traits.skill, traits.quality
    log_ctr_bounds = np.log(CTR_BOUNDS)
    log_cvr_bounds = np.log(CVR_BOUNDS)
    logs = {
        "views": np.log(size_curve(VIEWS_BY_SIZE, log10_followers, log=True))
        + 0.35 * q
        + 0.30 * start[0],
        "product_ctr": np.clip(np.log(BASE_CTR) + 0.40 * s + 0.20 * start[1], *log_ctr_bounds),
        "conversion_rate": np.clip(np.log(BASE_CVR) + 0.40 * s + 0.20 * start[2], *log_cvr_bounds),
        "avg_order_value": np.log(aov_base) + 0.10 * s + 0.15 * start[3],
    }
    paths = [{name: np.exp(value) for name, value in logs.items()}]
    for step in steps:
        logs = {
            "views": logs["views"] + traits.momentum + STEP_SIGMA["views"] * step[0],
            "product_ctr": np.clip(
                logs["product_ctr"] + STEP_SIGMA["product_ctr"] * step[1], *log_ctr_bounds
            ),
            "conversion_rate": np.clip(
                logs["conversion_rate"] + STEP_SIGMA["conversion_rate"] * step[2],
                *log_cvr_bounds,
            ),
            "avg_order_value": logs["avg_order_value"] + STEP_SIGMA["avg_order_value"] * step[3],
        }
        paths.append({name: np.exp(value) for name, value in logs.items()})
    return paths


def _rounded(name: str, value: float) -> MetricValue:
    """A stable, readable JSON number for ``value`` of metric ``name``."""
    if name in COUNTS:
        return round(value)
    if name in PRECISE:
        return float(f"{value:.6g}")
    return round(value, DECIMALS.get(name, 3))


def _reports(name: str, style: str) -> bool:
    if name in COUNT_FIELDS:
        return style != "rates"
    if name in RATE_FIELDS:
        return style != "counts"
    return True


def generate_demo_cohort(seed: int = DEMO_SEED, count: int = DEMO_COUNT) -> list[DemoCreator]:
    """Draw ``count`` synthetic creators, each over two consecutive 30-day periods, from ``seed``.

    Every number comes from one ``numpy.random.default_rng(seed)``, drawn in a fixed order, so
    the same arguments give the same cohort. Creators are returned sorted by id; ids read
    ``demo_<category>_<nn>``, numbered within the category from the smallest creator up.

    **Latent traits** (one per creator; never reported):

    * category: the six of ``CATEGORIES`` in turn (8 each of 48); it sets the typical order value
      (``CATEGORY_AOV``: food 22 to gadgets 60 USD) and the refund propensity.
    * size: log10(period-1 followers) is stratified-uniform on [3, 7] (1K to 10M): creator k falls
      in its own one of ``count`` equal strata, the strata shuffled. Sizes are therefore
      log-uniform and every band is filled (of 48: 12 nano < 10K, 12 micro < 100K, 8 or 9
      mid < 500K, 3 or 4 macro < 1M, 12 mega).
    * selling skill s ~ N(0, 1); content quality q ~ N(0, 1).
    * momentum m ~ N(0.02, 0.05): the creator's drift in log views per period.

    **The funnel** (every period): GMV = views x product CTR x conversion x AOV, with product
    impressions = views (as the catalogue's benchmarks assume: 1000 x 0.01 x 0.03 x 35 = 10.5,
    its GPM benchmark of 10). An unreported period 0 starts the funnel (natural logs):

    * log views = log VIEWS_BY_SIZE(followers) + 0.35 q + N(0, 0.30) (a typical creator has 8K
      views at 1K followers, 1.5M at 1M: the catalogue's views anchors);
    * log product CTR = log 0.01 + 0.40 s + N(0, 0.20), clipped to [0.001, 0.1];
    * log conversion = log 0.03 + 0.40 s + N(0, 0.20), clipped to [0.002, 0.25];
    * log AOV = log CATEGORY_AOV + 0.10 s + N(0, 0.15).

    Each period evolves from the one before by persistence plus noise (a random walk in logs,
    ``STEP_SIGMA``): log views + m + N(0, 0.40); log CTR + N(0, 0.20); log conversion +
    N(0, 0.20); log AOV + N(0, 0.10), CTR and conversion staying within their clips. So
    **next-period GMV = this period's views x product CTR x conversion x AOV x exp(m + e),
    e ~ N(0, 0.5)** (``NEXT_GMV_SIGMA``: the four noises add in quadrature,
    sqrt(0.4^2 + 0.2^2 + 0.2^2 + 0.1^2) = 0.5); log(next GMV / GMV) has mean 0.02 and standard
    deviation sqrt(0.5^2 + 0.05^2) = 0.502 across creators. Reported counts are the latent
    values rounded: clicks = round(views x CTR), orders = round(clicks x conversion), gmv =
    orders x AOV (in cents); reported rates are ratios of reported counts (product_ctr =
    clicks / impressions, conversion_rate = orders / clicks, avg_order_value = gmv / orders,
    gpm = gmv / views x 1000), so every derivation in the catalogue agrees with the value given.
    Rounding makes small creators noisier than the story (2.4 expected orders are reported as 2).

    **Every other metric** depends on the traits, the period's size and funnel, and its own noise
    term z, which persists as z_p = 0.7 z_(p-1) + sqrt(1 - 0.7^2) N(0, 1) (``PERSISTENCE``); how
    each metric does is in :func:`kpi_core.demo_period.period_metrics`.

    So only views, CTR, conversion and AOV (and momentum) move next-period GMV; engagement and
    content metrics reveal content quality, which lifts views; shop metrics reveal selling skill;
    fit and trend metrics are noise. A weighting comparison has something to find.

    **Completeness**, the same in both periods: half the creators report engagement and cost as
    counts (likes, comments, shares, saves; creator_cost), 30% as rates (engagement_rate,
    share_rate, save_rate, the three interaction ratios; cpm, cost_to_gmv, avg_watch_ratio) and
    20% both; a fifth lack one or two whole KPIs (``KPI_GROUPS``, so coverage < 1), and each
    secondary metric (``SPORADIC``) is missing with chance 6%. Views, gmv and orders are always
    reported; a rate with a zero denominator (conversion with no clicks) is left out.
    """
    rng = np.random.default_rng(seed)
    traits = _Traits(rng, count)
    noise = _persistent_noise(rng, count)
    periods, followers = _two_periods(traits, noise, _funnel_paths(rng, traits, traits.log10))
    order = sorted(range(count), key=lambda k: (traits.categories[k], traits.followers[k], k))
    numbering: dict[str, int] = {}
    creators: list[DemoCreator] = []
    for k in order:
        category = traits.categories[k]
        numbering[category] = numbering.get(category, 0) + 1
        creator_id = f"demo_{category}_{numbering[category]:02d}"
        creators.append(_demo_creator(traits, k, creator_id, periods, followers))
    creators.sort(key=lambda creator: creator["creator_id"])
    return creators


def _two_periods(
    traits: _Traits, noise: list[dict[str, FloatArray]], funnel: list[dict[str, FloatArray]]
) -> tuple[tuple[dict[str, FloatArray], dict[str, FloatArray]], list[FloatArray]]:
    """Periods 1 and 2 (after an unreported period 0) and each period's followers."""
    log10_start = traits.log10
    history = period_metrics(traits, funnel[0], noise[0], log10_start, log10_start)
    first = period_metrics(traits, funnel[1], noise[1], log10_start, log10_start)
    growth_2 = np.round(follower_growth(traits, noise[2], log10_start), 4)
    followers_2 = np.round(traits.followers * (1.0 + growth_2))
    second = period_metrics(traits, funnel[2], noise[2], np.log10(followers_2), log10_start)
    # history is period 0, never reported: only the growth rates of period 1 compare with it
    latent = funnel[0]
    history_gmv = (
        latent["views"]
        * latent["product_ctr"]
        * latent["conversion_rate"]
        * latent["avg_order_value"]
    )
    for earlier, later in ((history, first), (first, second)):
        earlier_gmv = history_gmv if earlier is history else earlier["gmv"]
        later["gmv_growth_rate"] = ratio(later["gmv"], earlier_gmv) - 1.0
        later["engagement_rate_change"] = (
            ratio(later["engagement_rate"], earlier["engagement_rate"]) - 1.0
        )
    return (first, second), [traits.followers.astype(np.float64), followers_2]


def _demo_creator(
    traits: _Traits,
    k: int,
    creator_id: str,
    periods: tuple[dict[str, FloatArray], dict[str, FloatArray]],
    followers: list[FloatArray],
) -> DemoCreator:
    """Creator ``k`` as reported: what its style reports, less what it lacks, rounded."""
    category = traits.categories[k]
    missing = traits.sporadic[k].union(*(KPI_GROUPS[g] for g in traits.lacking[k]))
    reported: list[dict[str, MetricValue]] = []
    for p, values in enumerate(periods):
        metrics: dict[str, MetricValue] = {
            "creator_id": creator_id,
            "category": category,
            "follower_count": round(float(followers[p][k])),
        }
        for name in REPORTED:
            value = float(values[name][k])
            if name in missing or not _reports(name, traits.styles[k]):
                continue
            if math.isfinite(value):
                metrics[name] = _rounded(name, value)
        reported.append(metrics)
    return DemoCreator(
        creator_id=creator_id,
        category=category,
        follower_count=int(traits.followers[k]),
        period_1=reported[0],
        period_2=reported[1],
    )


def reference_population(seed: int, count: int) -> dict[str, FloatArray]:
    """``count`` fully measured creators from the demo's generative story: period 1 of
    :func:`generate_demo_cohort` with every metric reported (counts and rates; nothing lacking,
    nothing sporadic), rounded as the demo reports them. One float64 array per canonical metric,
    plus ``follower_count``; a rate with a zero denominator is NaN.

    This is the reference population of the scoring model's priors (:mod:`kpi_core.fit_priors`)
    and of the masking and calibration checks; each use draws its own seeds.
    """
    rng = np.random.default_rng(seed)
    traits = _Traits(rng, count)
    noise = _persistent_noise(rng, count)
    periods, followers = _two_periods(traits, noise, _funnel_paths(rng, traits, traits.log10))
    first = periods[0]
    columns: dict[str, FloatArray] = {"follower_count": np.round(followers[0])}
    for name in REPORTED:
        columns[name] = _rounded_array(name, first[name].astype(np.float64))
    return columns


def _rounded_array(name: str, values: FloatArray) -> FloatArray:
    """:func:`_rounded` for a whole column (6 significant digits for the precise rates)."""
    if name in COUNTS:
        return np.round(values)
    if name in PRECISE:
        with np.errstate(divide="ignore", invalid="ignore"):
            digits = 5 - np.floor(np.log10(np.abs(values)))
        digits = np.where(np.isfinite(digits), digits, 0.0)
        scale = 10.0**digits
        return np.round(values * scale) / scale
    return np.round(values, DECIMALS.get(name, 3))


def demo_document(seed: int = DEMO_SEED, count: int = DEMO_COUNT) -> DemoFile:
    """The document written to ``data/demo_creators.json``: provenance plus the creators."""
    return DemoFile(
        generator="kpi_core.demo.generate_demo_cohort",
        seed=seed,
        synthetic=True,
        description=(
            f"Synthetic demo cohort: {count} invented TikTok creators (not real people, not real "
            "data), each over two consecutive 30-day periods. period_1 and period_2 are complete "
            "metrics objects for score_creator; the top-level follower_count is period 1's. "
            "Next-period GMV is this period's funnel (views x product CTR x conversion x average "
            f"order value) times lognormal noise (sigma {NEXT_GMV_SIGMA:g}) and a per-creator "
            "momentum; the generative story is the docstring of "
            "kpi_core.demo.generate_demo_cohort. Regenerate with: python -m kpi_core.demo"
        ),
        creators=generate_demo_cohort(seed, count),
    )


def render_demo_file(seed: int = DEMO_SEED, count: int = DEMO_COUNT) -> str:
    """The exact text of the shipped file for ``seed`` and ``count``."""
    return json.dumps(demo_document(seed, count), indent=1, sort_keys=True) + "\n"


# --------------------------------------------------------------------------------------------
# the loader


@cache
def _shipped() -> tuple[DemoCreator, ...]:
    text = resources.files("kpi_core").joinpath(DEMO_FILE).read_text("utf-8")
    document = cast("DemoFile", json.loads(text))
    return tuple(document["creators"])


@cache
def _index() -> dict[str, int]:
    return {creator["creator_id"]: k for k, creator in enumerate(_shipped())}


def _copy(creator: DemoCreator) -> DemoCreator:
    return DemoCreator(
        creator_id=creator["creator_id"],
        category=creator["category"],
        follower_count=creator["follower_count"],
        period_1=dict(creator["period_1"]),
        period_2=dict(creator["period_2"]),
    )


def load_demo_cohort() -> list[DemoCreator]:
    """Every demo creator from the shipped file, sorted by id (fresh copies on every call)."""
    return [_copy(creator) for creator in _shipped()]


def demo_creator_ids() -> list[str]:
    """The demo creators' ids, sorted (``demo_beauty_01`` ...)."""
    return [creator["creator_id"] for creator in _shipped()]


def demo_metrics(creator_id: str, period: int = 1) -> dict[str, MetricValue]:
    """One demo creator's metrics for ``period`` (1 or 2): a ``metrics`` object for ``score``.

    An unknown id raises :class:`~kpi_core.errors.InvalidValueError` naming ``creator_id``, with
    the nearest id and where to find them all.
    """
    if period not in (1, 2):
        raise InvalidValueError("period", "must be 1 or 2 (two consecutive 30-day periods)", period)
    position = _index().get(creator_id)
    if position is None:
        ids = demo_creator_ids()
        close = difflib.get_close_matches(str(creator_id), ids, n=1, cutoff=0.6)
        nearest = f"did you mean {close[0]}? " if close else ""
        raise InvalidValueError(
            "creator_id",
            "is not a demo creator",
            creator_id,
            hint=(
                f"{nearest}the {len(ids)} demo ids run from {ids[0]} to {ids[-1]} "
                f"(demo_<category>_<nn>, categories {', '.join(CATEGORIES)}); "
                "demo_creator_ids() lists them"
            ),
        )
    creator = _shipped()[position]
    return dict(creator["period_1"] if period == 1 else creator["period_2"])


def demo_cohort_rows(outcome_fields: bool = True) -> list[dict[str, MetricValue]]:
    """One flat row per creator: the period-1 metrics, and with ``outcome_fields`` the next
    period's outcomes ``next_gmv`` and ``next_orders`` (period 2's gmv and orders), for
    out-of-sample validation. Outcomes are never inputs of the same row's score."""
    rows: list[dict[str, MetricValue]] = []
    for creator in _shipped():
        row = dict(creator["period_1"])
        if outcome_fields:
            row["next_gmv"] = creator["period_2"]["gmv"]
            row["next_orders"] = creator["period_2"]["orders"]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# regenerating the shipped file


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kpi_core.demo``: rewrite the shipped file; ``--check``: only compare."""
    parser = argparse.ArgumentParser(
        prog="python -m kpi_core.demo", description="Regenerate the synthetic demo cohort file."
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the shipped file is not what the generator makes (write nothing)",
    )
    args = parser.parse_args(argv)
    path = Path(__file__).parent / DEMO_FILE
    text = render_demo_file()
    if args.check:
        current = path.read_text("utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run python -m kpi_core.demo", file=sys.stderr)
            return 1
        print(f"{path} is up to date", file=sys.stderr)
        return 0
    path.write_text(text, "utf-8")
    print(f"wrote {path} ({DEMO_COUNT} creators, {len(text.encode())} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
