"""Header recognition: a proposal, with a confidence, of a canonical name for each header.

A header is **normalised** (case, spaces, punctuation and camelCase fold to snake_case:
``stats.playCount`` -> ``stats_play_count``), then read as tokens:

* an **entity prefix** (``video_``, ``item_``, ``stats_``, ``author_``, ``authorMeta.``,
  ``authorStats.``, ``user_``, ...) says whose number it is. Author-level prefixes keep only the
  creator's own fields (its id and follower count): ``author_diggcount`` is the likes the author
  gave in all, not this video's likes, so it is never read as ``likes``;
* a **count marker** (``num_``, ``n_``, a bare ``n`` glued to the word as in ``nfollowers``,
  ``_count``, ``_cnt``, ``total_``) is dropped;
* a **stated period** (``GMV (90 days)``, ``views_l28d``, ``Last 7 days views``) is read off and
  kept with the proposal, so a creator table's totals can be rescaled to 30 days;
* a **percent marker** (``Conversion Rate (%)``, ``ctr_pct``) says the numbers are percent.

What is left is looked up in the synonym families (:data:`SYNONYMS`: TikTok's API and scraper
names, TikTok Studio's English headers, TikTok Shop exports, everyday English). Confidence:
1.0 for an explicit mapping or a canonical name as it is, 0.95 for a synonym, 0.9 for a synonym
behind an entity prefix or count marker, 0.75 for a weak synonym (a display name for an id, a
bare ``Videos`` count), and at most 0.7 for a merely similar name. Only proposals of at least
:data:`APPLY_AT` are applied; weaker ones are shown (``applied`` false) with the reason and
never used silently. When two headers propose the same name, the more confident (then the
first) is applied and the other is reported as shadowed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kpi_core.catalogue import load_catalogue
from kpi_core.errors import InvalidValueError

__all__ = [
    "APPLY_AT",
    "SYNONYMS",
    "VIDEO_FIELDS",
    "ColumnProposal",
    "normalise_header",
    "propose_columns",
]

#: Proposals at or above this confidence are applied; weaker ones are only shown.
APPLY_AT = 0.8

#: The per-video canonical names (DESIGN.md): identity, time, the counters and the extras.
VIDEO_FIELDS: tuple[str, ...] = (
    "creator_id",
    "video_id",
    "posted_at",
    "views",
    "likes",
    "comments",
    "shares",
    "saves",
    "duration",
    "trending_sound",
    "follower_count",
)

#: Names that only exist per video (a creator table never has them).
PER_VIDEO_ONLY = frozenset({"video_id", "posted_at", "duration", "trending_sound"})

Entity = Literal["video", "creator", "any"]
Reason = Literal["explicit", "exact", "synonym", "prefixed", "weak", "similar", "none"]

_CREATOR_PREFIXES = frozenset({"author", "user", "creator", "channel", "profile", "owner"})
_VIDEO_PREFIXES = frozenset({"video", "item", "post", "aweme", "stats", "statistics", "meta"})
_SOUND_PREFIXES = frozenset({"music", "sound", "audio"})
_FILLER_TOKENS = frozenset({"total", "est", "estimated", "the", "of"})
_PERCENT_TOKENS = frozenset({"pct", "percent", "percentage"})
_LEADING_MARKERS = ("numberof", "num", "nb", "no", "n")
_TRAILING_MARKERS = ("count", "cnt", "num", "number")
_PERIOD = re.compile(r"^(?:l|last|past)?(\d{1,3})(?:d|day|days)?$")
_MAX_HEADER = 200

#: Synonym families: canonical name -> (strong keys, weak keys). Keys are compact (tokens joined,
#: markers dropped). ``video:`` keys count only with a video prefix or none; ``creator:`` keys
#: only with an author-level prefix or none; others in any context.
SYNONYMS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = MappingProxyType(
    {
        "creator_id": (
            (
                "creator",
                "creatorid",
                "author",
                "authorname",
                "username",
                "uniqueid",
                "handle",
                "account",
                "accountname",
                "creatorname",
                "creatorusername",
                "creatorhandle",
                "tiktokhandle",
                "tiktokusername",
                "creator:name",
                "creator:id",
                "creator:username",
            ),
            ("nickname", "creatornickname", "displayname", "creator:nickname"),
        ),
        "follower_count": (
            ("followers", "follower", "fans", "fan", "subscribers", "followerscount"),
            (),
        ),
        "video_id": (
            ("videoid", "itemid", "awemeid", "postid", "video:id", "videolink", "videourl"),
            ("id", "link", "url", "weburl", "webvideourl"),
        ),
        "posted_at": (
            (
                "createtime",
                "createtimeiso",
                "created",
                "createdat",
                "createdate",
                "posttime",
                "postdate",
                "posted",
                "postedat",
                "postedon",
                "publishtime",
                "publishdate",
                "publishedat",
                "published",
                "uploadtime",
                "uploaddate",
                "uploaded",
                "video:timestamp",
                "video:time",
                "video:date",
                "timestamp",
                "datetime",
                "date",
                "time",
            ),
            (),
        ),
        "views": (("play", "plays", "view", "views", "videoviews", "videoview"), ()),
        "likes": (("digg", "diggs", "like", "likes", "heart", "hearts"), ()),
        "comments": (("comment", "comments"), ()),
        "shares": (("share", "shares"), ()),
        "saves": (
            (
                "collect",
                "collects",
                "save",
                "saves",
                "favorite",
                "favorites",
                "favourite",
                "favourites",
                "bookmark",
                "bookmarks",
            ),
            (),
        ),
        "duration": (
            (
                "duration",
                "durations",
                "durationsec",
                "durationseconds",
                "length",
                "videolength",
                "videoduration",
            ),
            (),
        ),
        "trending_sound": (
            ("trendingsound", "istrendingsound", "soundtrending", "ontrendingsound", "trending"),
            ("trendingaudio", "musictrending"),
        ),
        "gmv": (
            (
                "gmv",
                "revenue",
                "grossmerchandisevalue",
                "affiliategmv",
                "salesgmv",
                "shopgmv",
            ),
            ("sales",),
        ),
        "orders": (("orders", "order", "paidorders", "ordersplaced"), ()),
        "units_sold": (("unitssold", "itemssold", "soldunits", "productssold", "units"), ()),
        "avg_order_value": (("avgordervalue", "averageordervalue", "aov"), ()),
        "product_ctr": (("productctr", "ctr", "clickthroughrate", "productclickthroughrate"), ()),
        "conversion_rate": (("conversionrate", "cvr", "productconversionrate"), ("conversion",)),
        "product_impressions": (("productimpressions", "impressions"), ()),
        "product_clicks": (("productclicks", "clicks"), ()),
        "refund_rate": (("refundrate", "returnrate"), ()),
        "shoppable_video_count": (
            ("shoppablevideos", "shoppablevideo", "ecvideo", "ecvideos", "productvideos"),
            ("videos",),
        ),
        "live_count": (("lives", "livestreams", "live", "livesessions", "livestream"), ()),
        "products_promoted": (("productspromoted", "promotedproducts", "promotedproductnum"), ()),
        "avg_commission_rate": (
            ("commissionrate", "avgcommissionrate", "averagecommissionrate"),
            ("commission",),
        ),
        "engagement_rate": (("engagementrate", "er", "engrate", "avgengagementrate"), ()),
        "follower_growth_rate": (("followergrowth", "followergrowthrate", "followersgrowth"), ()),
        "posts_per_week": (("postsperweek", "weeklyposts", "videosperweek"), ()),
        "completion_rate": (
            ("completionrate", "finishrate", "watchedfullvideo", "fullwatchrate"),
            (),
        ),
        "avg_watch_time_s": (("avgwatchtime", "averagewatchtime", "watchtime"), ()),
        "avg_video_duration_s": (("avgvideoduration", "averagevideoduration", "avgduration"), ()),
        "avg_views_per_video": (
            ("avgviewspervideo", "averageviewspervideo", "viewspervideo", "avgviews"),
            ("averageviews",),
        ),
        "category": (("category", "niche", "vertical"), ()),
        "creator_cost": (("creatorcost", "cost", "fee", "creatorfee"), ()),
    }
)


class ColumnProposal(BaseModel):
    """What one header is taken to mean, how sure that is, and whether it is used."""

    model_config = ConfigDict(frozen=True)

    source: str = Field(description="The header as in the file (capped at 200 characters).")
    canonical: str | None = Field(
        description="The best proposal whatever its confidence; null when there is none."
    )
    confidence: float = Field(description="0-1; applied at 0.8 or more.")
    applied: bool = Field(description="True when the column is read as `canonical`.")
    reason: Reason = Field(
        description="explicit (the columns argument), exact, synonym, prefixed (behind an "
        "entity prefix or count marker), weak, similar, none."
    )
    note: str = Field(default="", description="Why not applied, or what the header states.")
    period_days: int | None = Field(
        default=None, description="A period the header states (GMV (90 days) -> 90)."
    )
    percent: bool = Field(default=False, description="The header says its numbers are percent.")
    suggestions: list[str] = Field(
        default_factory=list[str], description="Close canonical names, for unmapped headers."
    )
    examples: list[str] = Field(
        default_factory=list[str],
        description="Up to 3 values from the first rows (in dry runs and inspect; capped).",
    )


def normalise_header(name: object) -> str:
    """A header folded to snake_case: ``"Play Count"``, ``"playCount"`` -> ``"play_count"``."""
    text = str(name).strip()[:_MAX_HEADER]
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", text)
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()


@dataclass(frozen=True, slots=True)
class _Reading:
    """A header read as tokens: its entity, its compact stem and what it states."""

    normal: str
    entity: Entity
    stem: str
    plain: str
    prefixed: bool
    period_days: int | None
    percent: bool


def _read(raw: str) -> _Reading:
    normal = normalise_header(raw)
    tokens = [token for token in normal.split("_") if token]
    percent = "%" in raw or any(token in _PERCENT_TOKENS for token in tokens)
    period: int | None = None
    kept: list[str] = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        match = _PERIOD.fullmatch(token)
        stated = match is not None and (
            token[-1] in "dsy" or following in ("d", "day", "days") or token.startswith("l")
        )
        if stated and match is not None and not token.isdigit():
            period = int(match.group(1))
            continue
        if token.isdigit() and following in ("d", "day", "days"):
            period = int(token)
            continue
        if token in ("d", "day", "days", "last", "past") and period is not None:
            continue
        if token in _PERCENT_TOKENS or token in _FILLER_TOKENS:
            continue
        kept.append(token)
    if period is not None:
        kept = [token for token in kept if token not in ("last", "past")]
    plain = "".join(kept)
    entity: Entity = "any"
    prefixed = False
    while len(kept) > 1:
        head = kept[0]
        if head in _CREATOR_PREFIXES:
            entity = "creator"
        elif head in _VIDEO_PREFIXES:
            entity = "video" if entity == "any" else entity
        elif head in _SOUND_PREFIXES:
            entity = "video"
            if kept[1] in ("trending", "is"):
                break
        else:
            break
        kept = kept[1:]
        prefixed = True
    return _Reading(normal, entity, "".join(kept), plain, prefixed, period, percent)


def _marker_free(stem: str) -> list[str]:
    """The stem and its forms without count markers (``nfollowers``, ``playcount``)."""
    forms = [stem]
    for marker in _TRAILING_MARKERS:
        if stem.endswith(marker) and len(stem) > len(marker) + 1:
            forms.append(stem[: -len(marker)])
    for form in list(forms):
        for marker in _LEADING_MARKERS:
            if form.startswith(marker) and len(form) > len(marker) + 2:
                forms.append(form[len(marker) :])
    return forms


@cache
def _lookup() -> dict[str, tuple[str, float, Entity]]:
    """Compact key (with an optional ``video:``/``creator:`` context) -> (canonical, confidence,
    context). Catalogue names and aliases count as synonyms in any context."""
    table: dict[str, tuple[str, float, Entity]] = {}
    for canonical, (strong, weak) in SYNONYMS.items():
        for keys, confidence in ((strong, 0.95), (weak, 0.75)):
            for key in keys:
                context, _, word = key.rpartition(":")
                entity: Entity = (
                    "any" if not context else ("video" if context == "video" else "creator")
                )
                table.setdefault(f"{entity}:{word}", (canonical, confidence, entity))
    catalogue = load_catalogue()
    for name in catalogue.metrics:
        table.setdefault(f"any:{name.replace('_', '')}", (name, 0.95, "any"))
    for alias, target in catalogue.aliases.items():
        table.setdefault(f"any:{alias.replace('_', '')}", (target, 0.95, "any"))
    return table


def _canonical_names() -> tuple[str, ...]:
    catalogue = load_catalogue()
    return tuple(dict.fromkeys([*VIDEO_FIELDS, *catalogue.metrics]))


_CREATOR_LEVEL = frozenset({"creator_id", "follower_count", "category"})


def _match(reading: _Reading) -> tuple[str | None, float, Reason, str]:
    """The best synonym of a reading: (canonical, confidence, reason, note)."""
    table = _lookup()
    if reading.normal in _canonical_names():
        return reading.normal, 1.0, "exact", ""
    found: tuple[str, float, Entity] | None = None
    for form in _marker_free(reading.plain):
        found = table.get(f"any:{form}") or found
        if found:
            return found[0], found[1], "synonym" if found[1] >= APPLY_AT else "weak", ""
    if not reading.prefixed:
        return None, 0.0, "none", ""
    for form in _marker_free(reading.stem):
        for context in (reading.entity, "any"):
            hit = table.get(f"{context}:{form}")
            if hit is None:
                continue
            canonical, confidence, _ = hit
            if reading.entity == "creator" and canonical not in _CREATOR_LEVEL:
                note = f"an author-level total, not the video's {canonical}"
                return canonical, 0.3, "weak", note
            if reading.entity == "video" and canonical in _CREATOR_LEVEL - {"creator_id"}:
                continue
            if canonical == "creator_id" and form == "id":
                return canonical, 0.85, "prefixed", "an id number; a name column wins over it"
            strong = confidence >= APPLY_AT
            return canonical, 0.9 if strong else confidence, "prefixed" if strong else "weak", ""
    return None, 0.0, "none", ""


def _similar(reading: _Reading) -> list[str]:
    names = _canonical_names()
    close = difflib.get_close_matches(reading.normal, names, n=3, cutoff=0.75)
    table = _lookup()
    keys = [key.split(":", 1)[1] for key in table]
    for key in difflib.get_close_matches(reading.plain, keys, n=3, cutoff=0.75):
        for context in ("any", "video", "creator"):
            hit = table.get(f"{context}:{key}")
            if hit is not None and hit[0] not in close:
                close.append(hit[0])
    return close[:3]


def _check_explicit(explicit: Mapping[str, object], headers: Sequence[str]) -> dict[str, str]:
    known = set(_canonical_names())
    checked: dict[str, str] = {}
    for source, canonical in explicit.items():
        if not isinstance(canonical, str):
            raise InvalidValueError(
                f"columns.{source[:60]}", "must be a canonical name (text)", canonical
            )
        if source not in headers:
            close = difflib.get_close_matches(source, list(headers), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "headers are case-sensitive"
            raise InvalidValueError(
                f"columns.{source[:60]}", "is not a header of the file", source, hint
            )
        if canonical not in known:
            close = difflib.get_close_matches(canonical, sorted(known), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else "see kpi://metrics for the names"
            raise InvalidValueError(
                f"columns.{source[:60]}", "must name a canonical metric", canonical, hint
            )
        checked[source] = canonical
    targets = list(checked.values())
    repeated = sorted({name for name in targets if targets.count(name) > 1})
    if repeated:
        raise InvalidValueError(
            "columns", "must not map two headers to the same name", repeated[0], "keep one"
        )
    return checked


def propose_columns(
    headers: Iterable[object], explicit: Mapping[str, str] | None = None
) -> list[ColumnProposal]:
    """One proposal per header, in file order (see the module docstring for the rules).

    ``explicit`` maps a header (exactly as in the file) to a canonical name; it overrides
    recognition for that header.
    """
    sources = [str(header)[:_MAX_HEADER] for header in headers]
    chosen = _check_explicit(explicit or {}, sources)
    drafts: list[_Draft] = []
    for source in sources:
        reading = _read(source)
        if source in chosen:
            drafts.append((source, reading, chosen[source], 1.0, "explicit", ""))
            continue
        canonical, confidence, reason, note = _match(reading)
        drafts.append((source, reading, canonical, confidence, reason, note))
    winner: dict[str, int] = {}
    for index, (_, _, canonical, confidence, _, _) in enumerate(drafts):
        if canonical is None or confidence < APPLY_AT:
            continue
        best = winner.get(canonical)
        if best is None or confidence > drafts[best][3]:
            winner[canonical] = index
    return [
        _proposal(
            draft,
            applied=draft[2] is not None and winner.get(draft[2]) == index,
            winner_source=sources[winner[draft[2]]] if draft[2] in winner else "",
        )
        for index, draft in enumerate(drafts)
    ]


_Draft = tuple[str, _Reading, str | None, float, Reason, str]


def _proposal(draft: _Draft, *, applied: bool, winner_source: str) -> ColumnProposal:
    source, reading, canonical, confidence, reason, note = draft
    if canonical is not None and not applied and confidence >= APPLY_AT:
        note = f"{winner_source!r} is read as {canonical} instead"
    elif canonical is not None and not applied and not note:
        note = f"low confidence: map it with columns to use it as {canonical}"
    suggestions = [] if applied else _similar(reading)
    if canonical is None and suggestions:
        canonical, confidence, reason = suggestions[0], 0.5, "similar"
        note = f"only similar to {canonical}: map it with columns to use it"
    elif canonical is None:
        note = note or "no canonical name is like it"
    return ColumnProposal(
        source=source,
        canonical=canonical,
        confidence=round(confidence, 2),
        applied=applied,
        reason=reason,
        note=note,
        period_days=reading.period_days,
        percent=reading.percent,
        suggestions=suggestions,
    )
