"""The input model of one creator's raw metrics, and the rules that validate it.

Every field is optional. Share-type fractions are in [0, 1] (never percent), counts are
non-negative whole numbers, money is non-negative in the call's currency, growth rates may be
negative. :func:`parse_metrics` checks a raw mapping (as decoded from JSON) against the catalogue
and reports *every* problem at once; :func:`bad_rows` applies the same rules to whole columns for
cohorts, where a bad value rejects its row rather than the call.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from kpi_core.catalogue import Metric, load_catalogue
from kpi_core.errors import (
    ConflictingValuesError,
    CurrencyError,
    InvalidValueError,
    KpiError,
    Problem,
    UnknownFieldError,
    field_name,
    truncate,
)

__all__ = [
    "MONEY_FIELDS",
    "CreatorMetrics",
    "bad_rows",
    "parse_metrics",
    "violation",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Fields converted by the exchange rate when a call's currency is not the catalogue's.
MONEY_FIELDS: tuple[str, ...] = ("gmv", "avg_order_value", "gpm", "creator_cost", "cpm")


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


def _range_rule(metric: Metric) -> str:
    low, high = f"{metric.low:g}", f"{metric.high:g}"
    match metric.kind:
        case "fraction":
            return "must be a fraction in [0, 1] (0.05 means 5%)"
        case "count":
            return f"must be a whole number in [0, {high}]"
        case "money":
            return f"must be an amount in [0, {high}] in the call's currency"
        case "growth":
            return f"must be a relative change in [{low}, {high}] (0.2 means +20%)"
        case _:
            return f"must be a number in [{low}, {high}]"


def violation(metric: Metric, value: float) -> Problem | None:
    """The rule ``value`` breaks for ``metric``, or None when it is valid."""
    shown = truncate(value)
    if not math.isfinite(value):
        return Problem(
            metric.name,
            "must be a finite number",
            shown,
            "omit the field when the value is unknown",
        )
    if metric.kind == "fraction" and 1.0 < value <= 100.0:
        return Problem(metric.name, _range_rule(metric), shown, f"did you mean {value / 100:g}?")
    if not metric.low <= value <= metric.high:
        return Problem(metric.name, _range_rule(metric), shown)
    if metric.kind == "count" and value != math.floor(value):
        return Problem(metric.name, _range_rule(metric), shown)
    return None


def bad_rows(metric: Metric, values: FloatArray) -> BoolArray:
    """Rows of ``values`` that break ``metric``'s rules (NaN means missing, so it is not bad).

    The vectorised twin of :func:`violation`: a row is flagged here exactly when ``violation``
    returns a problem for it (a property test pins this).
    """
    bad = (values < metric.low) | (values > metric.high)
    if metric.kind == "count":
        with np.errstate(invalid="ignore"):
            bad |= np.floor(values) != values
        bad &= ~np.isnan(values)
    return bad


def _nearest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else "see kpi://metrics for the field list"


def _number(name: str, raw: object) -> float | Problem:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return Problem(name, "must be a number", truncate(raw))
    try:
        return float(raw)
    except OverflowError:  # a JSON integer beyond the float range, so beyond every metric's
        return Problem(name, "must be a finite number", truncate(raw), "see kpi://metrics")


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
    carries them all.
    """
    if isinstance(raw, CreatorMetrics):
        raw = raw.model_dump(exclude_none=True)
    if not isinstance(raw, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidValueError("metrics", "must be an object of metric names to values", raw)
    catalogue = load_catalogue()
    known = [*catalogue.metrics, *catalogue.aliases]
    problems: list[tuple[type[KpiError], Problem]] = []
    clean: dict[str, float | str] = {}

    for key, value in raw.items():
        name = str(key)
        if name not in known:
            problems.append(
                (
                    UnknownFieldError,
                    Problem(field_name(name), "is not a known metric", "", _nearest(name, known)),
                )
            )
            continue
        if value is None:
            continue
        metric = catalogue.metrics.get(catalogue.aliases.get(name, name))
        assert metric is not None  # every alias targets a catalogued metric
        if not metric.is_numeric:
            if not isinstance(value, str):
                problems.append(
                    (InvalidValueError, Problem(name, "must be a string", truncate(value)))
                )
            elif len(value) > metric.max_length:
                problems.append(
                    (
                        InvalidValueError,
                        Problem(
                            name, f"must be at most {metric.max_length} characters", truncate(value)
                        ),
                    )
                )
            else:
                clean[name] = value
            continue
        number = _number(name, value)
        if isinstance(number, Problem):
            problems.append((InvalidValueError, number))
            continue
        problem = violation(metric, number)
        if problem is not None:
            problems.append(
                (InvalidValueError, Problem(name, problem.rule, problem.value, problem.hint))
            )
            continue
        clean[name] = number

    for alias, target in catalogue.aliases.items():
        if alias not in clean:
            continue
        aliased = clean.pop(alias)
        if target in clean and not math.isclose(
            float(clean[target]), float(aliased), rel_tol=1e-9, abs_tol=1e-9
        ):
            problems.append(
                (
                    ConflictingValuesError,
                    Problem(
                        alias,
                        f"is an alias of {target} and must equal it when both are given",
                        f"{truncate(aliased)} against {target} {truncate(clean[target])}",
                        f"give only one of {target} and {alias}",
                    ),
                )
            )
        else:
            clean[target] = aliased

    record_currency = clean.get("currency")
    call_currency = currency or (str(record_currency) if record_currency else None)
    call_currency = call_currency or catalogue.default_currency
    rates = {catalogue.default_currency: 1.0, **(fx_to_default or {})}
    if record_currency is not None and currency is not None and record_currency != currency:
        problems.append(
            (
                CurrencyError,
                Problem(
                    "currency",
                    "must match the call's currency",
                    f"{truncate(record_currency)} against {truncate(currency)}",
                    "money is in one currency per call",
                ),
            )
        )
    elif call_currency not in rates:
        problems.append(
            (
                CurrencyError,
                Problem(
                    "currency",
                    f"must be one of the configured currencies ({', '.join(sorted(rates))})",
                    truncate(call_currency),
                    "convert the money fields, or configure the currency on the server",
                ),
            )
        )

    if problems:
        kind = problems[0][0]
        raise kind.from_problems([problem for _, problem in problems])

    rate = rates[call_currency]
    if rate != 1.0:
        for name in MONEY_FIELDS:
            if name in clean:
                clean[name] = float(clean[name]) * rate
    clean["currency"] = catalogue.default_currency
    return CreatorMetrics.model_construct(**clean)  # pyright: ignore[reportArgumentType]
