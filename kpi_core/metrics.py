"""The input model of one creator's raw metrics, and its validation.

Every field is optional. Share-type fractions are in [0, 1] (never percent), counts are
non-negative whole numbers, money is non-negative in the call's currency, growth rates may be
negative. :func:`validate_creator` checks a raw mapping (as decoded from JSON) through the one
validation path (:func:`kpi_core.validation.validate`) and reports *every* problem at once;
:func:`parse_metrics` returns the result as a :class:`CreatorMetrics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from kpi_core.catalogue import load_catalogue
from kpi_core.errors import InvalidValueError
from kpi_core.validation import ValidatedMetrics, validate

__all__ = ["CreatorMetrics", "parse_metrics", "validate_creator"]


def _describe_fields(schema: dict[str, Any]) -> None:
    """Fill each property's description and bounds from the catalogue (at schema time)."""
    catalogue = load_catalogue()
    properties: dict[str, Any] = schema.get("properties", {})
    for name, prop in properties.items():
        metric = catalogue.metrics.get(name)
        if metric is None:
            if name in catalogue.aliases:
                prop["description"] = f"Alias of {catalogue.aliases[name]}; give one of the two."
            continue
        prop["description"] = metric.description
        if metric.is_numeric:
            bounds = {"minimum": metric.low, "maximum": metric.high}
            for option in prop.get("anyOf", []):
                if option.get("type") in ("number", "integer"):
                    option.update(bounds)
        else:
            for option in prop.get("anyOf", []):
                if option.get("type") == "string":
                    option["maxLength"] = metric.max_length


class CreatorMetrics(BaseModel):
    """One creator's raw metrics over a 30-day window (the canonical names of DESIGN.md).

    Build it with :func:`parse_metrics`, which validates; constructing the model directly skips
    the catalogue's rules.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra=_describe_fields,  # pyright: ignore[reportArgumentType]
    )

    # identity
    creator_id: str | None = None
    category: str | None = None
    follower_count: float | None = None
    currency: str | None = None
    # sales
    gmv: float | None = None
    total_revenue: float | None = None
    orders: float | None = None
    units_sold: float | None = None
    avg_order_value: float | None = None
    gmv_growth_rate: float | None = None
    # shop funnel
    product_impressions: float | None = None
    product_clicks: float | None = None
    product_ctr: float | None = None
    conversion_rate: float | None = None
    funnel_completion_rate: float | None = None
    cart_abandonment_rate: float | None = None
    refund_rate: float | None = None
    # TikTok Shop
    gpm: float | None = None
    shoppable_video_count: float | None = None
    live_count: float | None = None
    products_promoted: float | None = None
    live_gmv_share: float | None = None
    avg_commission_rate: float | None = None
    # engagement
    views: float | None = None
    likes: float | None = None
    comments: float | None = None
    shares: float | None = None
    saves: float | None = None
    engagement_rate: float | None = None
    share_rate: float | None = None
    save_rate: float | None = None
    likes_ratio: float | None = None
    comments_ratio: float | None = None
    shares_ratio: float | None = None
    # growth
    follower_growth_rate: float | None = None
    engagement_rate_change: float | None = None
    # discovery
    fyp_traffic_share: float | None = None
    search_traffic_share: float | None = None
    new_viewer_share: float | None = None
    # content
    posts_per_week: float | None = None
    completion_rate: float | None = None
    avg_watch_time_s: float | None = None
    avg_video_duration_s: float | None = None
    avg_watch_ratio: float | None = None
    video_quality: float | None = None
    # fit
    audience_match: float | None = None
    brand_safety_score: float | None = None
    category_match: float | None = None
    # trend / image / reach
    trending_sound_share: float | None = None
    trending_hashtag_share: float | None = None
    visual_quality_score: float | None = None
    profile_completeness: float | None = None
    avg_views_per_video: float | None = None
    # cost
    creator_cost: float | None = None
    cpm: float | None = None
    cost_to_gmv: float | None = None

    def numeric(self) -> dict[str, float]:
        """The numeric metrics that are present (aliases resolved), by canonical name."""
        metrics = load_catalogue().metrics
        return {
            name: float(value)
            for name, value in self.model_dump(exclude_none=True).items()
            if name in metrics and metrics[name].is_numeric
        }


def parse_metrics(
    raw: Mapping[str, object] | CreatorMetrics,
    *,
    fx_to_default: Mapping[str, float] | None = None,
    currency: str | None = None,
) -> CreatorMetrics:
    """Validate raw metrics and return them converted into the catalogue's currency.

    ``currency`` is the call's currency (a ``currency`` field in the record must agree);
    ``fx_to_default`` maps each configured extra currency to its rate into the catalogue's
    currency. Every problem is collected; one :class:`KpiError` (of the kind of the first problem)
    carries them all. The rules are those of :func:`kpi_core.validation.validate`.
    """
    validated = validate_creator(raw, currency=currency, fx_to_default=fx_to_default)
    record = {**validated.record(0), "currency": validated.currency}
    return CreatorMetrics.model_construct(**record)  # pyright: ignore[reportArgumentType]


def validate_creator(
    raw: Mapping[str, object] | BaseModel,
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
) -> ValidatedMetrics:
    """One creator's metrics validated (one row), or the :class:`KpiError` of every problem."""
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(exclude_none=True)
    if not isinstance(raw, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidValueError("metrics", "must be an object of metric names to values", raw)
    validated = validate(raw, currency=currency, fx_to_default=fx_to_default, field="metrics")
    if validated.rejected[0]:
        raise validated.error(0)
    return validated
