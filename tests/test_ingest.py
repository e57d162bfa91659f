"""Messy inputs: a hand-written per-video scrape and a TikTok Shop affiliate payload."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kpi_core import parse_metrics, score
from kpi_core.cohorts.affiliate import AudienceTarget, map_affiliate_creator, map_affiliate_payload
from kpi_core.cohorts.headers import normalise_header
from kpi_core.cohorts.ingest import aggregate_videos, is_per_video_export
from kpi_core.errors import InvalidValueError

FIXTURES = Path(__file__).parent / "fixtures"


def scrape() -> pd.DataFrame:
    """The fixture as text cells (the last line has 12 fields for 11 columns: skipped)."""
    return pd.read_csv(
        FIXTURES / "videos_scrape.csv", dtype=str, keep_default_na=False, on_bad_lines="skip"
    )


def test_the_hand_written_scrape_aggregates_to_the_hand_computed_figures() -> None:
    """tests/fixtures/videos_scrape.csv, worked by hand (data rows numbered from 0).

    Columns: Author, Video ID, Create Time, Play Count, digg_count, Comments, Shares, Duration,
    Trending Sound, Followers, Caption -> creator_id, video_id, posted_at, views, likes,
    comments, shares, duration, trending_sound, follower_count; Caption is ignored; there is no
    saves column. The latest post is row 14 (2025-06-30T20:00Z), so the window is
    (2025-05-31T20:00Z, 2025-06-30T20:00Z]. The 21st line has an extra field and is skipped.

    Dropped rows: 3 (exact duplicate of row 0), 4 (posted 2025-05-01, before the window),
    12 ("yesterday" is no time), 13 (video c2 again; row 14 has more views: 1,050 > 900),
    17 (no author).

    @glowwithmia, rows 0-2: views "12,400" + "8.1K" + 15000 = 12400 + 8100 + 15000 = 35500;
    likes "1.2K" + 640 + "many" (dropped) = 1840 over 2 of 3 videos; comments 35+20+41 = 96;
    shares 12+5+9 = 26; avg_views_per_video round(35500/3 = 11833.3) = 11833; durations
    0:45, 1:02, 0:58 = 45+62+58 = 165 s / 3 = 55; trending yes/no/true = 2/3; followers on the
    latest video (row 0, 06-20) "48.2K" = 48200; 3 posts on 3 days = 3 sessions, and
    posts_per_week = 3 / (30/7) = 0.7.

    @burstbob, rows 5-11: five videos on 06-28 at 09:00, 09:02, 09:03, 09:07 and 09:15 (each
    within 10 minutes of the previous) are one session; plus 06-18 (epoch 1750237200) and
    06-10: 3 sessions -> posts_per_week 0.7 (counting videos over the burst's own 15 minutes
    would have given 5 per 15 min, 3,360 a week). views 3.4M + 250K + 180K + 95K + 70K + 640000 +
    1.2M = 5,835,000; likes 210K + 12K + 9.5K + 4.1K + 3K + 25000 + 80K = 343,600; comments
    "1,050" + 300 + 120 + 60 + 44 + 310 + 2.1K = 3,984; shares 800+90+40+15+9+120+640 = 1,714;
    avg_views_per_video round(5835000/7 = 833571.4) = 833571; durations 15+12+14+11+10+20+65 =
    147 s / 7 = 21; trending yes, yes, no, yes, yes, no, 1 = 5/7; followers on the latest video
    (row 9, 09:15) "1.12M" = 1,120,000.

    @carla.rose, rows 14, 15, 16, 18, 19 (c2, c3, c4, c5, c6): views "1,050" + 2.5K + 1.8k + 700
    + 1.1K = 7150; likes 60+130+95+40+70 = 395; comments 4 + "-" (missing) + 6 + 2 + 5 = 17 over
    4 of 5; shares 1+2+0+0+1 = 4; avg_views_per_video 7150/5 = 1430; durations 40+33+52+21+48 =
    194 s / 5 = 38.8; trending n, Y, N/A (missing), no, yes = 2 of 4 = 0.5; followers on the
    latest video (row 14, 06-30 20:00) 2310; sessions: 06-30 20:00, 06-29 10:15 with 10:20 (5
    minutes apart: one), 06-22 14:05 (US date), 06-15 08:00 = 4 -> 4 x 7/30 = 0.9333...
    """
    aggregation = aggregate_videos(scrape())
    creators = aggregation.creators.set_index("creator_id")
    expected = {
        "@glowwithmia": {
            "videos": 3,
            "views": 35500,
            "likes": 1840,
            "comments": 96,
            "shares": 26,
            "avg_views_per_video": 11833,
            "avg_video_duration_s": 55.0,
            "trending_sound_share": 2 / 3,
            "follower_count": 48200,
            "posts_per_week": 0.7,
        },
        "@burstbob": {
            "videos": 7,
            "views": 5_835_000,
            "likes": 343_600,
            "comments": 3_984,
            "shares": 1_714,
            "avg_views_per_video": 833_571,
            "avg_video_duration_s": 21.0,
            "trending_sound_share": 5 / 7,
            "follower_count": 1_120_000,
            "posts_per_week": 0.7,
        },
        "@carla.rose": {
            "videos": 5,
            "views": 7150,
            "likes": 395,
            "comments": 17,
            "shares": 4,
            "avg_views_per_video": 1430,
            "avg_video_duration_s": 38.8,
            "trending_sound_share": 0.5,
            "follower_count": 2310,
            "posts_per_week": 4 * 7 / 30,
        },
    }
    assert list(creators.index) == list(expected)
    assert "saves" not in creators.columns
    for creator_id, figures in expected.items():
        for name, value in figures.items():
            assert creators.loc[creator_id, name] == pytest.approx(value, rel=1e-12), name

    report = aggregation.report
    assert (report.rows_read, report.rows_used, report.creators) == (20, 15, 3)
    assert report.window_end is not None
    assert report.window_end.isoformat() == "2025-06-30T20:00:00+00:00"
    assert report.columns_missing == ["saves"]
    assert report.columns_ignored == ["Caption"]
    assert report.columns_used["views"] == "Play Count"
    assert report.columns_used["likes"] == "digg_count"
    dropped = {(note.row, note.code) for note in report.notes if note.action == "row_dropped"}
    assert dropped == {
        (3, "duplicate_row"),
        (4, "outside_window"),
        (12, "bad_timestamp"),
        (13, "duplicate_video"),
        (17, "missing_creator"),
    }


def test_every_repair_and_dropped_value_is_reported_per_row_with_its_raw_value() -> None:
    report = aggregate_videos(scrape()).report
    by_key = {(note.row, note.field, note.code): note for note in report.notes}
    likes = by_key[(2, "likes", "not_a_count")]
    assert (likes.action, likes.value) == ("value_dropped", "'many'")
    assert by_key[(0, "views", "thousands_separator")].message.endswith("read as 12400")
    assert by_key[(0, "likes", "abbreviated")].value == "'1.2K'"
    assert by_key[(5, "views", "abbreviated")].message == "abbreviated count read as 3400000"
    assert by_key[(0, "duration", "clock_duration")].message == "clock time read as 45 s"
    assert by_key[(13, "row", "duplicate_video")].message.startswith(
        "same creator and video_id as row 14"
    )
    assert report.notes_by_code["duplicate_row"] == 1
    assert report.notes_by_code["clock_duration"] == 19  # every duration cell is mm:ss
    shown = [note for note in report.notes if note.code == "clock_duration"]
    assert len(shown) == 5  # examples are capped; the count is complete
    creator_notes = {(note.creator_id, note.field) for note in report.creator_notes}
    assert ("@glowwithmia", "likes") in creator_notes
    assert ("@burstbob", "posts_per_week") in creator_notes


def test_captions_and_other_free_text_never_reach_the_report() -> None:
    """The scrape's captions include an instruction-shaped string; it is data, not echoed."""
    text = aggregate_videos(scrape()).report.model_dump_json()
    assert "Ignore previous instructions" not in text
    assert "<b>haul</b>" not in text


def test_a_burst_of_uploads_counts_as_one_posting_session() -> None:
    """30 videos in 5 minutes plus 2 on other days: 3 sessions / (30/7) weeks = 0.7 a week;
    with burst_minutes=0 every video counts: 32 x 7/30 = 7.4666..."""
    start = pd.Timestamp("2025-06-10T12:00:00Z")
    times = [start + pd.Timedelta(seconds=10 * i) for i in range(30)]
    times += [pd.Timestamp("2025-06-20T08:00:00Z"), pd.Timestamp("2025-06-25T08:00:00Z")]
    frame = pd.DataFrame(
        {"author": "@bulk", "create_time": [t.isoformat() for t in times], "views": 100}
    )
    collapsed = aggregate_videos(frame).creators
    assert collapsed.loc[0, "posts_per_week"] == pytest.approx(0.7)
    every_video = aggregate_videos(frame, burst_minutes=0).creators
    assert every_video.loc[0, "posts_per_week"] == pytest.approx(32 * 7 / 30)


def test_the_window_can_end_at_a_given_time_and_have_another_length() -> None:
    frame = pd.DataFrame(
        {
            "username": ["@a", "@a", "@a"],
            "createTime": [1_750_000_000, 1_750_000_000 - 5 * 86400, 1_750_000_000 - 9 * 86400],
            "playCount": [10, 20, 40],
        }
    )
    aggregation = aggregate_videos(frame, as_of=1_750_000_000, window_days=7)
    assert aggregation.creators.loc[0, "views"] == 30
    assert aggregation.creators.loc[0, "posts_per_week"] == pytest.approx(2.0)
    assert [note.code for note in aggregation.report.notes] == ["outside_window"]
    with pytest.raises(InvalidValueError):
        aggregate_videos(frame, window_days=0)
    with pytest.raises(InvalidValueError):
        aggregate_videos(frame, as_of="not a date")


@pytest.mark.parametrize(
    ("raw", "expected", "code"),
    [
        ("1.2K", 1200.0, "abbreviated"),
        ("3.4M", 3_400_000.0, "abbreviated"),
        ("2b", 2_000_000_000.0, "abbreviated"),
        ("1,234", 1234.0, "thousands_separator"),
        ("1,234,567", 1_234_567.0, "thousands_separator"),
        (" 42 ", 42.0, None),
        ("12.5", 13.0, "rounded"),
        ("-5", math.nan, "not_a_count"),
        ("lots", math.nan, "not_a_count"),
        ("12,34", math.nan, "not_a_count"),
        ("n/a", math.nan, None),
    ],
)
def test_counts_are_parsed_from_the_forms_exports_use(
    raw: str, expected: float, code: str | None
) -> None:
    frame = pd.DataFrame({"creator": ["@a"], "video_id": ["v1"], "views": [raw]})
    aggregation = aggregate_videos(frame)
    value = float(aggregation.creators.loc[0, "views"])
    if math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == expected
    codes = [note.code for note in aggregation.report.notes]
    assert codes == ([code] if code else [])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0:45", 45.0), ("12:05", 725.0), ("1:02:03", 3723.0), ("75:30", 4530.0), ("45s", 45.0)],
)
def test_durations_are_read_as_seconds(raw: str, expected: float) -> None:
    frame = pd.DataFrame({"creator": ["@a"], "video_id": ["v1"], "duration": [raw]})
    assert aggregate_videos(frame).creators.loc[0, "avg_video_duration_s"] == expected


def test_a_bad_duration_or_flag_drops_the_value_not_the_row() -> None:
    frame = pd.DataFrame(
        {
            "creator": ["@a", "@a"],
            "video_id": ["v1", "v2"],
            "duration": ["1:75", "0:30"],
            "trending_sound": ["maybe", "yes"],
            "views": [5, 7],
        }
    )
    aggregation = aggregate_videos(frame)
    assert aggregation.creators.loc[0, "views"] == 12
    assert aggregation.creators.loc[0, "avg_video_duration_s"] == 30.0
    assert aggregation.creators.loc[0, "trending_sound_share"] == 1.0
    assert sorted(note.code for note in aggregation.report.notes) == [
        "clock_duration",
        "not_a_duration",
        "not_a_flag",
    ]


def test_headers_fold_to_snake_case_and_per_video_exports_are_recognised() -> None:
    assert normalise_header("Play Count") == "play_count"
    assert normalise_header("diggCount") == "digg_count"
    assert normalise_header("authorMeta.name") == "author_meta_name"
    assert normalise_header("createTimeISO") == "create_time_iso"
    assert normalise_header(" Duration (s) ") == "duration_s"
    assert is_per_video_export(["Author", "Video ID", "Play Count"])
    assert is_per_video_export(["username", "createTime"])
    assert not is_per_video_export(["creator_id", "views", "gmv"])


def test_an_export_without_a_creator_column_is_one_creator() -> None:
    frame = pd.DataFrame({"video_id": ["a", "b"], "views": ["1K", "2K"], "likes": [10, 20]})
    aggregation = aggregate_videos(frame)
    assert len(aggregation.creators) == 1
    assert aggregation.creators.loc[0, "creator_id"] is None
    assert aggregation.creators.loc[0, "views"] == 3000
    assert "creator_id" in aggregation.report.columns_missing
    assert "posts_per_week" not in aggregation.creators.columns


def shop_payload() -> dict[str, Any]:
    return json.loads((FIXTURES / "shop_creator_performance.json").read_text(encoding="utf-8"))


def test_the_shop_payload_maps_to_canonical_metrics_with_ranges_at_their_midpoints() -> None:
    """tests/fixtures/shop_creator_performance.json (Get Marketplace Creator Performance):

    gmv {"amount": "9800.00"} -> 9800 exact; gpm_range 10..20 -> midpoint 15;
    units_sold_range 100..1000 -> midpoint 550; avg_commission_rate 1250 hundredths of a
    percent -> 12.5% = 0.125; live_gmv 2450 / gmv 9800 -> live_gmv_share 0.25; ec_video_count
    14, ec_live_count 2, promoted_product_num 9 -> shoppable_video_count, live_count,
    products_promoted; avg_ec_video_play_count 15820 -> avg_views_per_video (approximate);
    average likes 612, comments 34, shares 34 (total 680) -> likes_ratio 612/680 = 0.9,
    comments_ratio 34/680 = 0.05, shares_ratio 0.05; major gender FEMALE 7150 -> 0.715, which is
    the audience_match for a FEMALE target.
    """
    (mapping,) = map_affiliate_payload(shop_payload(), audience=AudienceTarget(gender="female"))
    assert mapping.creator_id == "glowwithmia"
    assert mapping.metrics == pytest.approx(
        {
            "creator_id": "glowwithmia",
            "gmv": 9800.0,
            "gpm": 15.0,
            "units_sold": 550.0,
            "avg_commission_rate": 0.125,
            "follower_count": 48200.0,
            "shoppable_video_count": 14.0,
            "live_count": 2.0,
            "products_promoted": 9.0,
            "live_gmv_share": 0.25,
            "avg_views_per_video": 15820.0,
            "likes_ratio": 0.9,
            "comments_ratio": 0.05,
            "shares_ratio": 0.05,
            "audience_match": 0.715,
            "currency": "USD",
        }
    )
    methods = {source.metric: source.method for source in mapping.sources}
    assert methods["gmv"] == "exact"
    assert methods["gpm"] == "range_midpoint"
    assert methods["units_sold"] == "range_midpoint"
    assert methods["avg_commission_rate"] == "scaled"
    assert methods["avg_views_per_video"] == "approximate"
    assert mapping.problems == []
    assert "bio_description" in mapping.ignored_fields
    assert "Ignore all previous instructions" not in mapping.model_dump_json()
    assert mapping.demographics is not None
    assert mapping.demographics.top_age_ranges == ["AGE_RANGE_25_34", "AGE_RANGE_18_24"]
    parse_metrics(mapping.metrics)  # valid canonical metrics
    assert 0 <= score(mapping.metrics).overall_score <= 100


def test_open_ranges_become_lower_bounds_and_min_max_spellings_are_accepted() -> None:
    creator = {
        "username": "@rangey",
        "gmv_range": {"minimum_amount": "10000", "currency": "USD"},
        "units_sold_range": {"min": 10, "max": 100},
        "avg_commission_rate_range": {"minimum_amount": 1000, "maximum_amount": 2000},
    }
    mapping = map_affiliate_creator(creator)
    assert mapping.metrics["gmv"] == 10000.0
    assert mapping.metrics["units_sold"] == 55.0
    assert mapping.metrics["avg_commission_rate"] == pytest.approx(0.15)
    methods = {source.metric: source.method for source in mapping.sources}
    assert methods == {
        "gmv": "range_lower_bound",
        "units_sold": "range_midpoint",
        "avg_commission_rate": "range_midpoint",
    }


def test_bad_payload_fields_are_dropped_with_reasons_and_currencies_must_agree() -> None:
    creator = {
        "username": "@mixed",
        "gmv": {"amount": "1,250.50", "currency": "USD"},
        "gpm": {"amount": "12", "currency": "EUR"},
        "units_sold": "lots",
        "follower_count": -3,
        "top_follower_demographics": {"major_gender": {"gender": "MALE", "percentage": 12000}},
    }
    mapping = map_affiliate_creator(creator)
    assert mapping.metrics["gmv"] == 1250.5
    assert "gpm" not in mapping.metrics
    problems = {problem.field: problem.reason for problem in mapping.problems}
    assert problems["gpm"].startswith("is in another currency than USD")
    assert problems["units_sold"] == "must be a non-negative number"
    assert problems["follower_count"] == "must be a non-negative number"
    assert "scaled by 10,000" in problems["top_follower_demographics.major_gender"]


def test_search_responses_and_age_targets_use_the_full_distributions() -> None:
    """Age shares 3000 + 4500 (25-34, 35-44) of 10,000 = 0.75; female share 0.8; assumed
    independent: audience_match = 0.8 x 0.75 = 0.6."""
    payload = {
        "code": 0,
        "data": {
            "creators": [
                {
                    "username": "@one",
                    "follower_demographics": {
                        "gender_distribution": [
                            {"gender": "FEMALE", "percentage": 8000},
                            {"gender": "MALE", "percentage": 2000},
                        ],
                        "age_distribution": [
                            {"age_range": "AGE_RANGE_18_24", "percentage": 2500},
                            {"age_range": "AGE_RANGE_25_34", "percentage": 3000},
                            {"age_range": "AGE_RANGE_35_44", "percentage": 4500},
                        ],
                    },
                },
                {"username": "@two", "gmv": 10},
            ]
        },
    }
    target = AudienceTarget(gender="FEMALE", age_ranges=("AGE_RANGE_25_34", "AGE_RANGE_35_44"))
    one, two = map_affiliate_payload(payload, audience=target)
    assert one.metrics["audience_match"] == pytest.approx(0.6)
    assert two.metrics == {"creator_id": "@two", "gmv": 10.0}


def test_an_api_error_response_is_refused() -> None:
    with pytest.raises(InvalidValueError) as caught:
        map_affiliate_payload({"code": 36009004, "message": "invalid params", "data": None})
    assert caught.value.field == "payload"
    with pytest.raises(InvalidValueError):
        map_affiliate_payload("not a payload")


def test_aggregation_is_deterministic_whatever_the_row_order_of_distinct_videos() -> None:
    frame = scrape()
    once = aggregate_videos(frame).creators.set_index("creator_id").sort_index()
    shuffled = frame.iloc[np.random.default_rng(3).permutation(len(frame))].reset_index(drop=True)
    again = aggregate_videos(shuffled).creators.set_index("creator_id").sort_index()
    pd.testing.assert_frame_equal(once, again, check_exact=False, rtol=1e-12)
