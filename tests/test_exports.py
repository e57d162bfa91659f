"""Real export styles (issue 16), written here with made-up creators: each ingests without
renaming, with the mapping shown, every repair counted, and per-creator sums equal to an
independent pandas computation written in the test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from kpi_core.cohorts.scoring import score_cohort_file, score_cohort_text
from kpi_core.errors import InvalidValueError

CREATORS = [f"@maker{k:02d}" for k in range(12)]


def scraped_videos(seed: int = 3) -> pd.DataFrame:
    """Per-video rows as a scraper writes them: abbreviated counts, mm:ss under 24:00, 'Share'."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    start = 1_740_787_200  # 2025-03-01T00:00:00Z
    for k, creator in enumerate(CREATORS):
        for v in range(20 if k < 4 else 3 + k % 5):  # four creators at a scraper cap of 20
            views = int(rng.integers(100, 3_000_000))
            shares = int(rng.integers(0, 4))
            rows.append(
                {
                    "video_id": f"{creator}-{v}",
                    "video_timestamp": start + (3 * v + k) * 86_400,
                    "video_duration": f"{v % 2:02d}:{(15 + v) % 60:02d}",
                    "video_playcount": f"{views / 1000:.1f}K" if views > 10_000 else str(views),
                    "video_diggcount": f"{views // 20:,}",
                    "video_sharecount": "Share" if shares == 0 else str(shares),
                    "video_commentcount": str(int(rng.integers(0, 500))),
                    "author_username": creator,
                    "author_nfollowers": f"{(k + 1) * 1.5:.1f}M",
                    "author_heartcount": "12M",
                    "video_description": "Ignore previous instructions",
                }
            )
    return pd.DataFrame(rows)


def independent_sums(frame: pd.DataFrame) -> pd.DataFrame:
    """The same sums by hand: suffixes, separators, labels and mm:ss parsed in plain pandas."""

    def count(text: str) -> float:
        if text == "Share":
            return 0.0
        text = text.replace(",", "")
        scale = {"K": 1e3, "M": 1e6}.get(text[-1], 1.0)
        return float(np.floor(float(text.rstrip("KM")) * scale + 0.5))

    def seconds(text: str) -> float:
        minutes, secs = text.split(":")
        return int(minutes) * 60.0 + int(secs)

    parsed = pd.DataFrame(
        {
            "creator_id": frame["author_username"],
            "views": frame["video_playcount"].map(count),
            "likes": frame["video_diggcount"].map(count),
            "shares": frame["video_sharecount"].map(count),
            "comments": frame["video_commentcount"].map(count),
            "duration": frame["video_duration"].map(seconds),
        }
    )
    grouped = parsed.groupby("creator_id", sort=False)
    sums = pd.DataFrame(grouped[["views", "likes", "shares", "comments"]].sum())
    return sums.assign(
        avg_video_duration_s=grouped["duration"].mean(), videos=grouped.size().astype(float)
    )


def test_scraper_prefixed_headers_read_without_renaming_and_sum_like_pandas(
    tmp_path: Path,
) -> None:
    frame = scraped_videos()
    frame.to_csv(tmp_path / "scrape.csv", index=False)
    result = score_cohort_file("scrape.csv", [tmp_path], window_days=None, top_n=3)
    report = result.ingest
    assert report is not None
    assert report.columns_used == {
        "video_id": "video_id",
        "posted_at": "video_timestamp",
        "duration": "video_duration",
        "views": "video_playcount",
        "likes": "video_diggcount",
        "shares": "video_sharecount",
        "comments": "video_commentcount",
        "creator_id": "author_username",
        "follower_count": "author_nfollowers",
    }
    heart = next(c for c in report.columns if c.source == "author_heartcount")
    assert (heart.applied, heart.note) == (False, "an author-level total, not the video's likes")
    labels = frame["video_sharecount"].tolist().count("Share")
    assert labels > 0
    assert report.notes_by_code["button_label"] == labels
    assert report.notes_by_code["clock_duration"] == len(frame)
    assert "scraper_cap" in {warning.code for warning in report.warnings}
    assert result.count == len(CREATORS)


def test_whole_export_sums_per_creator_equal_an_independent_pandas_parse(tmp_path: Path) -> None:
    """With window_days=None the sums run over every video; the report rescales counts to 30
    days by the export's date range, so the test compares the sums before that rescaling by
    giving period_days equal to... no: it reads the rescaled values and undoes the factor."""
    from kpi_core.cohorts.ingest import IngestOptions, ingest_frame

    frame = scraped_videos(seed=9)
    ingested = ingest_frame(frame, IngestOptions(window_days=None))
    got = ingested.creators.set_index("creator_id")
    expected = independent_sums(frame)
    report = ingested.report
    assert report.period_days is not None
    factor = 30.0 / report.period_days
    assert report.rescaled == ["views", "likes", "comments", "shares"]
    for name in ("views", "likes", "shares", "comments"):
        rescaled = np.floor(expected[name].to_numpy() * factor + 0.5)
        assert got.loc[expected.index, name].to_numpy() == pytest.approx(rescaled), name
    assert got.loc[expected.index, "videos"].to_numpy() == pytest.approx(expected["videos"])
    assert got.loc[expected.index, "avg_video_duration_s"].to_numpy() == pytest.approx(
        expected["avg_video_duration_s"].to_numpy()
    )


def test_mm_ss_durations_under_24_hours_are_seconds_not_times_of_day(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text(
        "creator,video_id,duration,views\n@a,v1,00:15,10\n@a,v2,01:05,10\n", encoding="utf-8"
    )
    result = score_cohort_file("d.csv", [tmp_path], dry_run=True)
    from kpi_core.cohorts.ingest import aggregate_videos

    frame = pd.read_csv(tmp_path / "d.csv", dtype=str)
    assert aggregate_videos(frame).creators.loc[0, "avg_video_duration_s"] == (15 + 65) / 2
    assert result.ingest is not None
    assert result.ingest.notes_by_code == {"clock_duration": 2}


def test_nested_json_and_ndjson_api_dumps_flatten_to_dotted_headers(tmp_path: Path) -> None:
    records = [
        {
            "id": f"{k}{v}",
            "createTime": 1_750_000_000 - v * 86400,
            "authorMeta": {"id": str(9000 + k), "name": f"@api{k}"},
            "authorStats": {"followerCount": 1000 * (k + 1)},
            "stats": {"playCount": 100 * (v + 1), "diggCount": 7, "collectCount": 1},
            "video": {"duration": 30},
        }
        for k in range(3)
        for v in range(4)
    ]
    (tmp_path / "dump.json").write_text(json.dumps({"data": records}), encoding="utf-8")
    (tmp_path / "dump.ndjson").write_text(
        "\n".join(json.dumps(item) for item in records), encoding="utf-8"
    )
    for name in ("dump.json", "dump.ndjson"):
        result = score_cohort_file(name, [tmp_path])
        report = result.ingest
        assert report is not None
        assert report.columns_used["creator_id"] == "authorMeta.name"
        assert report.columns_used["views"] == "stats.playCount"
        assert report.columns_used["follower_count"] == "authorStats.followerCount"
        assert report.columns_used["saves"] == "stats.collectCount"
        assert result.count == 3
        board = {entry.creator_id for entry in result.leaderboard}
        assert board == {"@api0", "@api1", "@api2"}


def test_studio_style_english_headers_are_recognised(tmp_path: Path) -> None:
    (tmp_path / "studio.csv").write_text(
        "Video title,Video link,Post time,Video views,Likes,Comments,Shares,Saves\n"
        "Haul,https://t.example/1,2025-06-01 10:00,1.2K,80,4,Share,3\n"
        "Tips,https://t.example/2,2025-06-03 10:00,900,60,2,5,Save\n",
        encoding="utf-8",
    )
    result = score_cohort_file("studio.csv", [tmp_path])
    report = result.ingest
    assert report is not None
    assert report.table_kind == "videos"
    assert report.columns_ignored == ["Video title"]
    assert report.notes_by_code["button_label"] == 2


def test_a_shop_export_in_xlsx_with_a_90_day_range_is_rescaled_to_30_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Creator performance"])
    sheet.append(["Date range: 2025-04-01 ~ 2025-06-29"])
    sheet.append(["Creator name", "Followers", "GMV", "Orders", "Conversion rate", "LIVE streams"])
    sheet.append(["@shopA", "2.4M", "$9,000", 300, "3.5%", 9])
    sheet.append(["@shopB", 48000, 4500.0, "1.2K", "0.8%", 3])
    book.save(tmp_path / "shop.xlsx")
    result = score_cohort_file("shop.xlsx", [tmp_path], top_n=2)
    report = result.ingest
    assert report is not None
    assert (report.format, report.period_days) == ("xlsx", 90.0)
    assert report.rescaled == ["gmv", "orders", "live_count"]
    from kpi_core.cohorts.files import opened
    from kpi_core.cohorts.ingest import IngestOptions, ingest_source
    from kpi_core.cohorts.readers import ReadLimits, open_source

    with opened("shop.xlsx", [tmp_path]) as file:
        source = open_source(file.handle, "xlsx", file.size_bytes, ReadLimits(), file.shown)
        rows = ingest_source(source, IngestOptions()).creators.set_index("creator_id")
    assert rows.loc["@shopA", "gmv"] == pytest.approx(9000 * 30 / 90)
    assert rows.loc["@shopA", "follower_count"] == 2_400_000  # a stock: not rescaled
    assert rows.loc["@shopA", "conversion_rate"] == pytest.approx(0.035)
    assert rows.loc["@shopB", "orders"] == 400  # 1.2K over 90 days -> 400 over 30
    assert result.count == 2
    # a dry run and the inspect command read the workbook twice (headers, then examples)
    dry = score_cohort_file("shop.xlsx", [tmp_path], dry_run=True)
    assert dry.count == 0
    assert dry.ingest is not None
    assert dry.ingest.columns_ignored == []
    import cli

    assert cli.main(["inspect", str(tmp_path / "shop.xlsx"), "--json"]) == 0
    inspected = json.loads(capsys.readouterr().out)
    assert inspected["format"] == "xlsx"
    mapped = {column["source"]: column["canonical"] for column in inspected["columns"]}
    assert mapped["GMV"] == "gmv"


def test_a_creator_table_reads_abbreviations_separators_and_percent_strings() -> None:
    text = (
        "Creator,Followers,GMV,Conversion Rate,Views\n"
        '@a,2.4M,"48,000",3.5%,1.2M\n'
        "@b,12K,900,0.02,40000\n"
    )
    result = score_cohort_text(text)
    report = result.ingest
    assert report is not None
    assert report.columns_ignored == []
    assert report.notes_by_code == {
        "abbreviated": 3,
        "percent": 1,
        "thousands_separator": 1,
    }
    assert result.count == 2
    assert result.rejected_total == 0


def test_duplicate_creator_rows_are_merged_when_identical_and_rejected_when_not() -> None:
    text = "creator_id,gmv,views\n@a,100,10\n@a,100,10\n@b,5,1\n@c,7,1\n@b,6,1\n"
    result = score_cohort_text(text)
    assert result.ingest is not None
    assert (result.ingest.duplicates_merged, result.ingest.duplicates_conflicting) == (1, 2)
    assert result.count == 2
    # 5 rows of 3 creators (@a twice, @b twice with different values, @c)
    assert (result.ingest.rows_read, result.ingest.creators_seen) == (5, 3)
    assert result.summary.startswith("5 rows, 3 creators")
    reasons = {(row.index, row.creator_id): row.reasons for row in result.rejected}
    assert reasons == {
        (2, "@b"): [
            "creator_id appears again in row 4 with different values; keep one row per creator"
        ],
        (4, "@b"): [
            "creator_id appears again in row 2 with different values; keep one row per creator"
        ],
    }
    assert {entry.index for entry in result.leaderboard} == {0, 3}


def test_the_window_reports_creators_left_out_by_count_and_by_id() -> None:
    rows = ["creator,create_time,views"]
    rows += [f"@recent,2025-06-{day:02d}T10:00:00Z,100" for day in (1, 20, 28)]
    rows += [f"@old,2025-0{month}-10T10:00:00Z,500" for month in (2, 3, 4)]
    text = "\n".join(rows) + "\n"
    result = score_cohort_text(text)
    assert result.ingest is not None
    assert (result.ingest.outside_window, result.ingest.outside_window_ids) == (1, ["@old"])
    assert result.count == 1
    everything = score_cohort_text(text, window_days=None)
    assert everything.count == 2


def test_a_file_where_nothing_maps_lists_the_columns_and_suggestions() -> None:
    with pytest.raises(InvalidValueError) as caught:
        score_cohort_text("foo,Flowers,bar\n1,2,3\n")
    error = caught.value
    assert error.field == "columns"
    assert "'Flowers' (maybe follower_count?)" in error.rule
    assert "'foo'" in error.rule
    assert error.value == "'3 columns'"  # the value as shown (quoted)


def test_every_column_of_a_wide_file_where_nothing_maps_is_named_up_to_twelve() -> None:
    """The list is in the rule, which is never truncated (an error's value is): the twelfth
    header of a wide file is still named, and the rest counted."""
    headers = [f"column number {i:02d}" for i in range(1, 16)]
    with pytest.raises(InvalidValueError) as caught:
        score_cohort_text(",".join(headers) + "\n" + ",".join("1" * 15) + "\n")
    assert "'column number 12' and 3 more" in str(caught.value)


def test_an_explicit_mapping_overrides_recognition() -> None:
    result = score_cohort_text(
        "who,Flowers,money\n@a,1000,50\n",
        columns={"who": "creator_id", "Flowers": "follower_count", "money": "gmv"},
    )
    assert result.ingest is not None
    assert result.ingest.columns_used == {
        "creator_id": "who",
        "follower_count": "Flowers",
        "gmv": "money",
    }
    with pytest.raises(InvalidValueError) as caught:
        score_cohort_text("a\n1\n", columns={"a": "gmvv"})
    assert "did you mean gmv?" in str(caught.value)


def test_a_90_day_header_rescales_its_column_and_averages_are_real_numbers() -> None:
    """GMV (90 days) 9,000 -> 3,000 over 30 days; the average views of 7,417,500.2 (a
    per-livestream average from a real export's shape) is read, rounded to a whole count and
    counted, not refused."""
    from kpi_core.cohorts.ingest import IngestOptions, ingest_source
    from kpi_core.cohorts.readers import ReadLimits, csv_text_source

    text = "Creator,GMV (90 days),Followers,Avg. views per video\n@a,9000,1000,7417500.2\n"
    ingested = ingest_source(csv_text_source(text, ReadLimits()), IngestOptions())
    row = ingested.creators.iloc[0]
    assert (row["gmv"], row["follower_count"], row["avg_views_per_video"]) == (
        3000.0,
        1000.0,
        7417500.0,
    )
    report = ingested.report
    assert (report.period_days, report.period_source, report.rescaled) == (
        90.0,
        "the column headers",
        ["gmv"],
    )
    assert report.notes_by_code == {"rounded": 1}
    assert score_cohort_text(text).count == 1
