"""TikTok Shop affiliate payloads to canonical creator metrics.

Per-video exports and creator tables are read by :mod:`kpi_core.cohorts`.

**TikTok Shop affiliate payloads** (:func:`map_affiliate_payload`): the creator objects of the
Affiliate Seller API, as returned by *Get Marketplace Creator Performance*
(``GET /affiliate_seller/{version}/marketplace_creators/{creator_user_id}``, one ``creator``) and
*Search Creators on Marketplace* (``POST .../marketplace_creators/search``, a ``creators`` list).
The shape assumed (the fields used; others are listed as ignored) is :class:`AffiliateCreator`:

* money as ``{"amount": "1234.50", "currency": "USD"}`` (a plain number is accepted too):
  ``gmv``, ``video_gmv``, ``live_gmv``, ``gpm``;
* where exact values are withheld, ``<field>_range`` objects
  ``{"minimum_amount": .., "maximum_amount": .., "currency": ..}`` (``min`` / ``max`` accepted):
  ``gmv_range``, ``gpm_range``, ``units_sold_range``, ``avg_commission_rate_range``. A closed
  range becomes its **midpoint**; an open one (no maximum, such as ``GMV_RANGE_10000_AND_ABOVE``)
  its minimum, as a lower bound. :attr:`AffiliateMapping.sources` says which, per metric;
* ``avg_commission_rate`` in hundredths of a percent (``6000`` is 60%, so 0.60);
* follower demographics as percentages scaled by 10,000 (``7150`` is 71.5%):
  ``top_follower_demographics.major_gender {gender, percentage}`` and ``age_ranges``, and
  (assumed, from the search filters' shape) ``follower_demographics.gender_distribution`` /
  ``age_distribution`` lists of ``{gender | age_range, percentage}``;
* counts: ``follower_count``, ``units_sold``, ``ec_video_count``, ``ec_live_count``,
  ``promoted_product_num``, ``avg_ec_video_play_count`` (or ``avg_ec_video_view_count``),
  ``avg_ec_video_like_count``, ``avg_ec_video_comment_count``, ``avg_ec_video_share_count``.

The mapping is in :data:`AFFILIATE_FIELDS` and in :func:`map_affiliate_creator`. Derived metrics:
``live_gmv_share = live_gmv / gmv`` (exact amounts only); ``likes_ratio`` and its siblings from
the average like, comment and share counts; ``audience_match`` only when the caller names a
target audience (the share of followers in the target gender times the share in the target age
ranges, assuming the two independent).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, TypedDict, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from kpi_core.errors import InvalidValueError, truncate

if TYPE_CHECKING:
    pass

__all__ = [
    "AFFILIATE_FIELDS",
    "AffiliateCreator",
    "AffiliateMapping",
    "AudienceTarget",
    "FieldSource",
    "map_affiliate_creator",
    "map_affiliate_payload",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: Longest creator id kept (the catalogue's limit for ``creator_id``).
MAX_CREATOR_ID = 128

_NUMBER = re.compile(
    r"^(?P<sign>[+-])?(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?P<frac>\.\d+)?\s*(?P<suffix>[kKmMbB])?$"
)


def _cap(text: str, limit: int = 64) -> str:
    """Untrusted text for a report: control and other unprintable characters become '?'."""
    if not text.isprintable():
        text = "".join(char if char.isprintable() else "?" for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# TikTok Shop affiliate payloads


class MoneyAmount(TypedDict, total=False):
    """A money value as the affiliate API writes it: a decimal string and an ISO currency."""

    amount: str
    currency: str


class AmountRange(TypedDict, total=False):
    """A withheld value's bucket: strings for money, integers for counts and rates."""

    minimum_amount: str | int | float
    maximum_amount: str | int | float
    currency: str


class MajorGender(TypedDict, total=False):
    gender: str
    percentage: int  # scaled by 10,000: 7150 is 71.5%


class TopFollowerDemographics(TypedDict, total=False):
    age_ranges: list[str]  # such as "AGE_RANGE_25_34", most common first
    major_gender: MajorGender


class GenderShare(TypedDict, total=False):
    gender: str
    percentage: int  # scaled by 10,000


class AgeShare(TypedDict, total=False):
    age_range: str
    percentage: int  # scaled by 10,000


class FollowerDemographics(TypedDict, total=False):
    """Assumed full distributions (the search filters use this shape); optional."""

    gender_distribution: list[GenderShare]
    age_distribution: list[AgeShare]


class AffiliateCreator(TypedDict, total=False):
    """The fields of an affiliate API creator object that this module reads."""

    creator_user_id: str
    creator_open_id: str
    username: str
    nickname: str
    follower_count: int
    gmv: MoneyAmount
    gmv_range: AmountRange
    video_gmv: MoneyAmount
    live_gmv: MoneyAmount
    gpm: MoneyAmount
    gpm_range: AmountRange
    units_sold: int
    units_sold_range: AmountRange
    avg_commission_rate: int  # hundredths of a percent: 6000 is 60%
    avg_commission_rate_range: AmountRange
    ec_video_count: int
    ec_live_count: int
    promoted_product_num: int
    avg_ec_video_play_count: int
    avg_ec_video_view_count: int
    avg_ec_video_like_count: int
    avg_ec_video_comment_count: int
    avg_ec_video_share_count: int
    top_follower_demographics: TopFollowerDemographics
    follower_demographics: FollowerDemographics


Method = Literal["exact", "range_midpoint", "range_lower_bound", "scaled", "derived", "approximate"]

#: Canonical metric <- affiliate field, the scale applied, and whether the result is a whole count.
AFFILIATE_FIELDS: Mapping[str, tuple[str, float, bool]] = MappingProxyType(
    {
        "gmv": ("gmv", 1.0, False),
        "gpm": ("gpm", 1.0, False),
        "units_sold": ("units_sold", 1.0, True),
        "avg_commission_rate": ("avg_commission_rate", 1e-4, False),
        "follower_count": ("follower_count", 1.0, True),
        "shoppable_video_count": ("ec_video_count", 1.0, True),
        "live_count": ("ec_live_count", 1.0, True),
        "products_promoted": ("promoted_product_num", 1.0, True),
    }
)

_AFFILIATE_READ = frozenset(
    {
        *(source for source, _, _ in AFFILIATE_FIELDS.values()),
        *(f"{source}_range" for source, _, _ in AFFILIATE_FIELDS.values()),
        "creator_user_id",
        "creator_open_id",
        "username",
        "nickname",
        "video_gmv",
        "live_gmv",
        "avg_ec_video_play_count",
        "avg_ec_video_view_count",
        "avg_ec_video_like_count",
        "avg_ec_video_comment_count",
        "avg_ec_video_share_count",
        "top_follower_demographics",
        "follower_demographics",
    }
)


class FieldSource(BaseModel):
    """Where one canonical metric came from in the payload, and how it was computed."""

    model_config = ConfigDict(frozen=True)

    metric: str
    source: str = Field(description="Payload field(s) read.")
    method: Method
    value: float
    note: str = ""


class FieldProblem(BaseModel):
    """A payload field that could not be used (its value truncated)."""

    model_config = ConfigDict(frozen=True)

    field: str
    reason: str
    value: str


class AudienceTarget(BaseModel):
    """The audience a brand wants: a gender and/or age ranges (the API's codes)."""

    model_config = ConfigDict(frozen=True)

    gender: str | None = Field(default=None, description="Such as FEMALE or MALE.")
    age_ranges: tuple[str, ...] = Field(default=(), description="Such as AGE_RANGE_25_34.")


class Demographics(BaseModel):
    """Follower demographics as fractions (0..1), as far as the payload gives them."""

    model_config = ConfigDict(frozen=True)

    major_gender: str | None = None
    major_gender_share: float | None = None
    gender_shares: dict[str, float] = Field(default_factory=dict[str, float])
    age_shares: dict[str, float] = Field(default_factory=dict[str, float])
    top_age_ranges: list[str] = Field(default_factory=list[str])


class AffiliateMapping(BaseModel):
    """One affiliate creator object mapped to canonical metrics, with the provenance of each."""

    creator_id: str | None
    metrics: dict[str, float | str] = Field(
        description="Canonical metrics, ready for parse_metrics / score / score_cohort."
    )
    sources: list[FieldSource]
    problems: list[FieldProblem]
    ignored_fields: list[str] = Field(description="Payload fields not used (names truncated).")
    demographics: Demographics | None


def _scalar(value: object) -> float | None:
    """A finite float from a number or a numeric string ('1,234.50'), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        match = _NUMBER.fullmatch(value.strip())
        if (
            match is None
            or match.group("suffix")
            or not (match.group("int") or match.group("frac"))
        ):
            return None
        digits = (match.group("int") or "0").replace(",", "") + (match.group("frac") or "")
        number = float(digits) * (-1.0 if match.group("sign") == "-" else 1.0)
    else:
        return None
    return number if math.isfinite(number) else None


@dataclass(slots=True)
class _Mapper:
    creator: Mapping[str, object]
    metrics: dict[str, float | str]
    sources: list[FieldSource]
    problems: list[FieldProblem]
    currency: str | None = None

    def problem(self, field: str, reason: str, value: object) -> None:
        self.problems.append(FieldProblem(field=field, reason=reason, value=truncate(value)))

    def money(self, field: str) -> float | None:
        """The amount of a money field ({amount, currency} or a number); None when absent."""
        raw = self.creator.get(field)
        if raw is None:
            return None
        currency: object = None
        amount: object = raw
        if isinstance(raw, Mapping):
            money = cast("Mapping[str, object]", raw)
            amount = money.get("amount")
            currency = money.get("currency")
            if amount is None:
                return None
        number = _scalar(amount)
        if number is None or number < 0:
            self.problem(field, "amount must be a non-negative number", amount)
            return None
        if not self._currency_ok(field, currency):
            return None
        return number

    def _currency_ok(self, field: str, currency: object) -> bool:
        if currency is None or currency == "":
            return True
        if not isinstance(currency, str) or len(currency) > 8:
            self.problem(field, "currency must be a short ISO code", currency)
            return False
        if self.currency is None:
            self.currency = currency
            return True
        if currency != self.currency:
            self.problem(field, f"is in another currency than {self.currency}; not used", currency)
            return False
        return True

    def bounds(self, field: str, money: bool) -> tuple[float, float | None] | None:
        """(minimum, maximum or None when open) of a ``*_range`` object, or None."""
        raw = self.creator.get(field)
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            self.problem(field, "must be an object with minimum_amount and maximum_amount", raw)
            return None
        bucket = cast("Mapping[str, object]", raw)
        low_raw = bucket.get("minimum_amount", bucket.get("min", bucket.get("minimum")))
        high_raw = bucket.get("maximum_amount", bucket.get("max", bucket.get("maximum")))
        low = _scalar(low_raw) if low_raw is not None else None
        high = _scalar(high_raw) if high_raw not in (None, "") else None
        if low is None or low < 0 or (high_raw not in (None, "") and (high is None or high < low)):
            self.problem(field, "must have numeric bounds with minimum <= maximum", raw)
            return None
        if money and not self._currency_ok(field, bucket.get("currency")):
            return None
        return low, high

    def put(self, metric: str, value: float, source: str, method: Method, note: str = "") -> None:
        self.metrics[metric] = value
        self.sources.append(
            FieldSource(metric=metric, source=source, method=method, value=value, note=note)
        )


def _whole(value: float) -> float:
    return float(math.floor(value + 0.5))


def _is_mapping(value: object) -> bool:
    return isinstance(value, Mapping)


def _creator_id(mapper: _Mapper) -> str | None:
    for key in ("username", "creator_open_id", "creator_user_id"):
        value = mapper.creator.get(key)
        if isinstance(value, str) and value.strip():
            if len(value.strip()) > MAX_CREATOR_ID:
                mapper.problem(key, f"must be at most {MAX_CREATOR_ID} characters", value)
                continue
            mapper.metrics["creator_id"] = value.strip()
            return value.strip()
    return None


def _affiliate_fields(mapper: _Mapper) -> None:
    """The fields of :data:`AFFILIATE_FIELDS`: exact values, else their ``_range`` buckets."""
    for metric, (source, scale, whole) in AFFILIATE_FIELDS.items():
        is_money = metric in ("gmv", "gpm")
        if is_money:
            exact = mapper.money(source)
        else:
            raw = mapper.creator.get(source)
            exact = _scalar(raw) if raw is not None else None
            if raw is not None and (exact is None or exact < 0):
                mapper.problem(source, "must be a non-negative number", raw)
                exact = None
        if exact is not None:
            value = exact * scale
            if whole:
                value = _whole(value)
            method: Method = "scaled" if scale != 1.0 else "exact"
            note = "hundredths of a percent to a fraction" if scale != 1.0 else ""
            mapper.put(metric, value, source, method, note)
            continue
        bounds = mapper.bounds(f"{source}_range", is_money)
        if bounds is None:
            continue
        low, high = bounds
        if high is None:
            value, method, note = low, "range_lower_bound", "open range: its minimum, a lower bound"
        else:
            value, method, note = (low + high) / 2.0, "range_midpoint", "midpoint of the range"
        value *= scale
        if whole:
            value = _whole(value)
        mapper.put(metric, value, f"{source}_range", method, note)


def _live_share(mapper: _Mapper) -> None:
    live = mapper.money("live_gmv")
    gmv_exact = next(
        (s.value for s in mapper.sources if s.metric == "gmv" and s.method == "exact"), None
    )
    if live is not None and gmv_exact is not None and gmv_exact > 0:
        share = min(1.0, live / gmv_exact)
        mapper.put("live_gmv_share", share, "live_gmv / gmv", "derived")
    mapper.money("video_gmv")  # read for its currency check only


def _video_averages(mapper: _Mapper) -> None:
    """Average views and the likes / comments / shares ratios of the shoppable videos."""
    creator = mapper.creator
    play_field = (
        "avg_ec_video_play_count"
        if creator.get("avg_ec_video_play_count") is not None
        else "avg_ec_video_view_count"
    )
    plays_raw = creator.get(play_field)
    if plays_raw is not None:
        plays = _scalar(plays_raw)
        if plays is None or plays < 0:
            mapper.problem(play_field, "must be a non-negative number", plays_raw)
        else:
            mapper.put(
                "avg_views_per_video",
                _whole(plays),
                play_field,
                "approximate",
                "average over the creator's shoppable videos, not all videos",
            )
    interactions: dict[str, float] = {}
    for kind in ("like", "comment", "share"):
        field = f"avg_ec_video_{kind}_count"
        raw = creator.get(field)
        if raw is None:
            continue
        number = _scalar(raw)
        if number is None or number < 0:
            mapper.problem(field, "must be a non-negative number", raw)
        else:
            interactions[kind] = number
    total = math.fsum(interactions.values())
    if len(interactions) == 3 and total > 0:
        for kind, metric in (
            ("like", "likes_ratio"),
            ("comment", "comments_ratio"),
            ("share", "shares_ratio"),
        ):
            mapper.put(
                metric,
                interactions[kind] / total,
                "avg_ec_video_like/comment/share_count",
                "derived",
                "share of interactions on shoppable videos",
            )


def map_affiliate_creator(
    creator: Mapping[str, object], *, audience: AudienceTarget | None = None
) -> AffiliateMapping:
    """Map one affiliate API creator object onto canonical metrics (see the module docstring)."""
    if not _is_mapping(creator):
        raise InvalidValueError("payload", "must be an object (a creator)", creator)
    mapper = _Mapper(creator, {}, [], [])
    creator_id = _creator_id(mapper)
    _affiliate_fields(mapper)
    _live_share(mapper)
    _video_averages(mapper)
    demographics = _demographics(mapper)
    if audience is not None and demographics is not None:
        _audience_match(mapper, demographics, audience)
    if mapper.currency is not None:
        mapper.metrics["currency"] = mapper.currency

    ignored = sorted(_cap(str(key)) for key in creator if str(key) not in _AFFILIATE_READ)
    return AffiliateMapping(
        creator_id=creator_id,
        metrics=mapper.metrics,
        sources=mapper.sources,
        problems=mapper.problems,
        ignored_fields=ignored[:50],
        demographics=demographics,
    )


def _share(mapper: _Mapper, field: str, raw: object) -> float | None:
    number = _scalar(raw)
    if number is None or not 0 <= number <= 10_000:
        mapper.problem(field, "percentage must be in [0, 10000] (scaled by 10,000)", raw)
        return None
    return number / 10_000.0


def _demographics(mapper: _Mapper) -> Demographics | None:
    top_raw = mapper.creator.get("top_follower_demographics")
    full_raw = mapper.creator.get("follower_demographics")
    if not isinstance(top_raw, Mapping) and not isinstance(full_raw, Mapping):
        return None
    major_gender: str | None = None
    major_share: float | None = None
    top_ages: list[str] = []
    if isinstance(top_raw, Mapping):
        top = cast("Mapping[str, object]", top_raw)
        ages = top.get("age_ranges")
        if isinstance(ages, list):
            top_ages = [_cap(str(item)) for item in cast("list[object]", ages)[:10]]
        major = top.get("major_gender")
        if isinstance(major, Mapping):
            major_map = cast("Mapping[str, object]", major)
            gender = major_map.get("gender")
            major_gender = _cap(str(gender)) if gender is not None else None
            if major_map.get("percentage") is not None:
                major_share = _share(
                    mapper, "top_follower_demographics.major_gender", major_map.get("percentage")
                )
    genders: dict[str, float] = {}
    ages_share: dict[str, float] = {}
    if isinstance(full_raw, Mapping):
        full = cast("Mapping[str, object]", full_raw)
        for list_field, key_field, target in (
            ("gender_distribution", "gender", genders),
            ("age_distribution", "age_range", ages_share),
        ):
            entries = full.get(list_field)
            if not isinstance(entries, list):
                continue
            for entry in cast("list[object]", entries)[:20]:
                if not isinstance(entry, Mapping):
                    continue
                item = cast("Mapping[str, object]", entry)
                key = item.get(key_field)
                share = _share(
                    mapper, f"follower_demographics.{list_field}", item.get("percentage")
                )
                if isinstance(key, str) and share is not None:
                    target[_cap(key)] = share
    if major_gender is not None and major_share is not None:
        genders.setdefault(major_gender, major_share)
    return Demographics(
        major_gender=major_gender,
        major_gender_share=major_share,
        gender_shares=genders,
        age_shares=ages_share,
        top_age_ranges=top_ages,
    )


def _audience_match(mapper: _Mapper, demographics: Demographics, audience: AudienceTarget) -> None:
    factors: list[float] = []
    used: list[str] = []
    if audience.gender is not None:
        wanted = audience.gender.upper()
        shares = {key.upper(): value for key, value in demographics.gender_shares.items()}
        if wanted not in shares:
            mapper.problem(
                "follower_demographics", "gives no share for the target gender", audience.gender
            )
            return
        factors.append(shares[wanted])
        used.append("gender")
    if audience.age_ranges:
        if not demographics.age_shares:
            mapper.problem(
                "follower_demographics",
                "gives no age shares (only the top age ranges)",
                list(audience.age_ranges),
            )
            return
        factors.append(
            math.fsum(demographics.age_shares.get(age, 0.0) for age in audience.age_ranges)
        )
        used.append("age")
    if not factors:
        return
    value = min(1.0, math.prod(factors))
    note = "share of followers in the target " + " and ".join(used)
    if len(factors) > 1:
        note += " (gender and age assumed independent)"
    mapper.put("audience_match", value, "follower_demographics", "derived", note)


def map_affiliate_payload(
    payload: object, *, audience: AudienceTarget | None = None
) -> list[AffiliateMapping]:
    """Map an affiliate API response (or its ``data``, or creator objects) to canonical metrics.

    Accepts ``{"code": 0, "data": {"creator": {...}}}`` (creator performance),
    ``{"data": {"creators": [...]}}`` (marketplace search), the ``data`` object alone, one
    creator object, or a list of creator objects. A response with a non-zero ``code`` is an
    error response and is refused.
    """
    body: object = payload
    if isinstance(body, Mapping):
        envelope = cast("Mapping[str, object]", body)
        code = envelope.get("code")
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            raise InvalidValueError(
                "payload",
                "is an API error response, not creator data",
                f"code {code}: {truncate(envelope.get('message', ''))}",
            )
        if isinstance(envelope.get("data"), Mapping):
            body = envelope["data"]
    items: list[object]
    if isinstance(body, Mapping):
        data = cast("Mapping[str, object]", body)
        if isinstance(data.get("creator"), Mapping):
            items = [data["creator"]]
        elif isinstance(data.get("creators"), list):
            items = list(cast("list[object]", data["creators"]))
        else:
            items = [data]
    elif isinstance(body, list):
        items = list(cast("list[object]", body))
    else:
        raise InvalidValueError("payload", "must be an object or a list of creator objects", body)
    mappings: list[AffiliateMapping] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidValueError(f"payload[{index}]", "must be a creator object", item)
        mappings.append(
            map_affiliate_creator(cast("Mapping[str, object]", item), audience=audience)
        )
    return mappings
