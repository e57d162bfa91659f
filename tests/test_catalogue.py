"""The metric catalogue: complete, consistent with DESIGN.md, honest about its sources."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from kpi_core import KPI_IDS, CreatorMetrics, Metric, load_catalogue
from kpi_core.validation import validate

ROOT = Path(__file__).resolve().parent.parent

#: DESIGN.md's canonical metric names, group by group (copied from its table on purpose).
CANONICAL = [
    "creator_id",
    "follower_count",
    "category",
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
    "avg_commission_rate",
    "live_gmv_share",
    "views",
    "likes",
    "comments",
    "shares",
    "saves",
    "engagement_rate",
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
    "currency",
]

#: DESIGN.md's tiered weights, exactly.
TIERED = {
    "sales_performance": 0.30, "shop_conversion": 0.15, "tiktok_shop": 0.10,
    "engagement": 0.10, "content_strategy": 0.06, "engagement_growth": 0.05,
    "discovery": 0.04, "audience_fit": 0.04, "brand_fit": 0.03,
    "trend_fit": 0.04, "image_quality": 0.03, "reach_visibility": 0.03, "cost_efficiency": 0.03,
}  # fmt: skip


def test_every_canonical_metric_of_design_md_is_in_the_catalogue_and_the_input_model() -> None:
    catalogue = load_catalogue()
    assert set(CANONICAL) <= set(catalogue.metrics)
    assert set(CreatorMetrics.model_fields) == set(catalogue.metrics) | set(catalogue.aliases)
    assert catalogue.aliases == {"total_revenue": "gmv"}


def test_the_tiered_weights_are_design_mds_table_and_every_kpi_is_fed() -> None:
    catalogue = load_catalogue()
    assert {kpi: catalogue.kpis[kpi].tiered_weight for kpi in KPI_IDS} == TIERED
    for kpi in catalogue.kpis.values():
        assert math.isclose(math.fsum(catalogue.metrics[m].weight for m in kpi.metrics), 1.0)
    tiers = {tier: math.fsum(w for k, w in TIERED.items() if catalogue.kpis[k].tier == tier)
             for tier in (1, 2, 3)}  # fmt: skip
    assert tiers == {1: 0.55, 2: 0.32, 3: 0.13}


def test_the_readme_states_the_count_of_cited_and_assumed_figures() -> None:
    counts = load_catalogue().figure_counts()
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    match = re.search(
        r"(\d+) are cited, (\d+) follow from a metric's definition and (\d+) are assumptions",
        readme,
    )
    assert match, "README.md must state the catalogue's source counts"
    stated = dict(zip(("cited", "definition", "assumption"), map(int, match.groups()), strict=True))
    assert stated == counts
    assert sum(counts.values()) == 3 * len(load_catalogue().scored_metrics)


def _breaks_the_catalogue(metric: Metric, value: float) -> bool:
    """The oracle, from the catalogue's documented rule: finite, inside [low, high], and whole
    for a count."""
    if not math.isfinite(value) or not metric.low <= value <= metric.high:
        return True
    return metric.kind == "count" and value != math.floor(value)


@given(
    name=st.sampled_from(sorted(m.name for m in load_catalogue().metrics.values() if m.is_numeric)),
    value=st.one_of(
        st.floats(allow_nan=False, allow_infinity=True, width=64),
        st.integers(min_value=-10, max_value=10**6).map(float),
        st.floats(min_value=-2, max_value=200),
    ),
)
def test_a_record_and_a_frame_reject_exactly_the_values_the_catalogue_rule_refuses(
    name: str, value: float
) -> None:
    metric = load_catalogue().metrics[name]
    expected = _breaks_the_catalogue(metric, value)
    as_record = validate({name: value})
    as_frame = validate(pd.DataFrame({name: [value]}))
    assert bool(as_record.rejected[0]) == expected
    assert bool(as_frame.rejected[0]) == expected
    if expected:
        assert [problem.field for problem in as_record.problems(0)] == [name]
        assert as_record.problems(0) == as_frame.problems(0)
