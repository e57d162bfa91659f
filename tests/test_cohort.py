"""Cohorts: rows rejected not calls, the leaderboard, the distributions, files and the batch."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from kpi_core import KPI_IDS, score, score_frame
from kpi_core.cohorts.batch import OUTPUT_COLUMNS, score_file
from kpi_core.cohorts.cohort import CohortResult, score_cohort
from kpi_core.cohorts.scoring import score_cohort_file
from kpi_core.demo import demo_cohort_rows
from kpi_core.errors import CurrencyError, InvalidValueError
from tests.cases import REALISTIC, SOURCE_PAYLOAD

FIXTURES = Path(__file__).parent / "fixtures"


def random_creators(rows: int, seed: int = 11) -> pd.DataFrame:
    """Valid creators with about half of the KPIs' metrics, some missing at random."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "creator_id": [f"c{i:05d}" for i in range(rows)],
            "follower_count": np.floor(rng.lognormal(10, 1.5, rows)),
            "gmv": rng.lognormal(7, 2, rows),
            "conversion_rate": rng.uniform(0, 0.1, rows),
            "engagement_rate": rng.uniform(0, 0.2, rows),
            "posts_per_week": rng.uniform(0, 10, rows),
            "completion_rate": rng.uniform(0, 1, rows),
            "audience_match": rng.uniform(0, 1, rows),
            "avg_views_per_video": np.floor(rng.lognormal(8, 2, rows)),
        }
    )
    for name in ("conversion_rate", "audience_match", "completion_rate"):
        frame.loc[rng.uniform(size=rows) < 0.2, name] = np.nan
    return frame


def test_good_rows_are_scored_and_bad_rows_rejected_with_their_reasons() -> None:
    creators: list[Any] = [
        REALISTIC["beauty_micro"],
        {"creator_id": "@percent", "conversion_rate": 3.5, "gmv": 100.0},
        REALISTIC["gadgets_macro"],
        {"creator_id": "@typo", "gmvv": 10},
        "not an object",
        {"creator_id": "@nothing_scored", "category": "beauty"},
        {"creator_id": "@both", "gmv": 10.0, "total_revenue": 20.0},
    ]
    result = score_cohort(creators, top_n=10)
    assert result.rows == 7
    assert result.count == 2
    assert result.rejected_total == 5
    expected = {0: score(creators[0]).overall_score, 2: score(creators[2]).overall_score}
    assert {entry.index: entry.overall_score for entry in result.leaderboard} == pytest.approx(
        expected, abs=1e-9
    )
    reasons = {row.index: (row.creator_id, row.reasons) for row in result.rejected}
    assert reasons[1] == (
        "@percent",
        [
            "conversion_rate must be a fraction in [0, 1] (0.05 means 5%); got 3.5 - "
            "did you mean 0.035?"
        ],
    )
    assert reasons[3][1][0].startswith("gmvv is not a known metric - did you mean gmv?")
    assert reasons[4] == (None, ["row must be an object of metric names to values; got str"])
    assert reasons[5][1][0].startswith("row has no metric that feeds a KPI")
    assert reasons[6][1][0].startswith("total_revenue is an alias of gmv")


def test_a_cohort_with_no_valid_row_fails_and_says_why() -> None:
    with pytest.raises(InvalidValueError) as caught:
        score_cohort([{"creator_id": "@x", "conversion_rate": 7}, {"gmv": -1}])
    assert caught.value.field == "creators"
    assert caught.value.rule == "must contain at least one valid creator"
    assert "row 0: conversion_rate must be a fraction" in str(caught.value)
    with pytest.raises(InvalidValueError, match="at least one creator"):
        score_cohort([])
    with pytest.raises(InvalidValueError, match="list of metric objects"):
        score_cohort({"gmv": 1})  # pyright: ignore[reportArgumentType] - a wrong type on purpose


@pytest.mark.parametrize(
    ("argument", "value"),
    [("top_n", 0), ("top_n", 5000), ("top_n", True), ("sort_by", "gmv"), ("min_coverage", 1.5)],
)
def test_bad_call_arguments_fail_the_call(argument: str, value: object) -> None:
    with pytest.raises(InvalidValueError) as caught:
        # wrong values on purpose, so the types do not match the signature
        score_cohort([SOURCE_PAYLOAD], **{argument: value})  # pyright: ignore[reportArgumentType]
    assert caught.value.field == argument


def test_ties_are_broken_by_creator_id_then_row_index_whatever_the_input_order() -> None:
    """Five creators with identical metrics tie on every score; the order is then creator_id
    ascending (no id last), then row index; a better creator still ranks first."""
    same = {"gmv": 5000.0, "conversion_rate": 0.03, "engagement_rate": 0.05}
    better = {"creator_id": "@zz_best", "gmv": 50000.0, "conversion_rate": 0.06}
    creators = [
        {**same, "creator_id": "@m"},
        {**same},
        {**same, "creator_id": "@b"},
        better,
        {**same, "creator_id": "@b"},
        {**same, "creator_id": "@a"},
    ]
    ranked = score_cohort(creators).leaderboard
    assert [(entry.creator_id, entry.index) for entry in ranked] == [
        ("@zz_best", 3),
        ("@a", 5),
        ("@b", 2),
        ("@b", 4),
        ("@m", 0),
        (None, 1),
    ]
    assert [entry.rank for entry in ranked] == [1, 2, 3, 4, 5, 6]
    reversed_ids = [entry.creator_id for entry in score_cohort(creators[::-1]).leaderboard]
    assert reversed_ids == ["@zz_best", "@a", "@b", "@b", "@m", None]
    top_two = score_cohort(creators, top_n=2).leaderboard
    assert [entry.creator_id for entry in top_two] == ["@zz_best", "@a"]


def test_ties_on_a_kpi_are_broken_by_the_overall_score_first() -> None:
    """Both creators give the same engagement metrics (so the same engagement score); the one with
    more GMV ranks first even though its id sorts later. @c has no engagement data: its
    engagement is only a prior, so it is not ranked on it."""
    engagement = {
        "engagement_rate": 0.5,
        "share_rate": 0.02,
        "save_rate": 0.02,
        "likes_ratio": 0.8,
        "comments_ratio": 0.1,
        "shares_ratio": 0.1,
    }
    creators = [
        {"creator_id": "@a", **engagement, "gmv": 100.0},
        {"creator_id": "@b", **engagement, "gmv": 90000.0},
        {"creator_id": "@c", "gmv": 500.0},
    ]
    result = score_cohort(creators, sort_by="engagement")
    assert [entry.creator_id for entry in result.leaderboard] == ["@b", "@a"]
    first, second = (entry.sort_value for entry in result.leaderboard)
    assert first == second
    assert result.not_scored_on_sort_key == 1
    assert result.ranked == 2


def test_ties_among_many_rows_still_give_the_first_ids(tmp_path: Path) -> None:
    """3,000 identical creators: the top 5 are the five smallest ids."""
    frame = pd.DataFrame(
        {"creator_id": [f"id{i:04d}" for i in range(3000)][::-1], "gmv": 1000.0, "orders": 10}
    )
    top = score_cohort(frame, top_n=5).leaderboard
    assert [entry.creator_id for entry in top] == [f"id{i:04d}" for i in range(5)]


def test_progress_is_reported_at_least_twice_with_increasing_values() -> None:
    calls: list[tuple[float, float]] = []
    records = random_creators(2000).to_dict("records")
    score_cohort(records, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) >= 2
    assert all(total == 100.0 for _, total in calls)
    dones = [done for done, _ in calls]
    assert dones == sorted(dones)
    assert len(set(dones)) == len(dones)
    assert dones[-1] == 100.0

    frame_calls: list[float] = []
    score_cohort(random_creators(2000), progress=lambda done, _: frame_calls.append(done))
    assert len(frame_calls) >= 2
    assert frame_calls == sorted(set(frame_calls))


def test_the_distribution_matches_numpy_computed_independently() -> None:
    """Scores from score_frame (a KPI without data, which counts at its prior, left out of the
    KPI's distribution); moments, quantiles and fixed-bin counts from numpy."""
    frame = random_creators(1500, seed=5)
    result = score_cohort(frame)
    scored = score_frame(frame, components=True)
    for kpi_id in KPI_IDS:
        scored.loc[scored[f"{kpi_id}_imputed"], f"{kpi_id}_score"] = np.nan

    def check(summary: Any, values: np.ndarray, scale: float) -> None:
        present = values[~np.isnan(values)]
        assert summary.scored == present.size
        assert summary.not_scored == values.size - present.size
        if present.size == 0:
            assert (summary.mean, summary.std, summary.quantiles) == (None, None, {})
            return
        assert summary.mean == pytest.approx(np.mean(present), rel=1e-12)
        assert summary.std == pytest.approx(np.std(present), rel=1e-9)
        assert summary.min == np.min(present)
        assert summary.max == np.max(present)
        quantiles = np.quantile(present, [0.05, 0.25, 0.5, 0.75, 0.95])
        assert list(summary.quantiles.values()) == pytest.approx(list(quantiles), rel=1e-12)
        edges = np.array([scale * i / 10 for i in range(11)])
        index = np.searchsorted(edges, present, side="right") - 1
        counts = np.bincount(np.minimum(index, 9), minlength=10)
        assert [item.count for item in summary.bins] == counts.tolist()
        assert [item.low for item in summary.bins] == edges[:-1].tolist()

    check(result.distribution.overall_score, scored["overall_score"].to_numpy(), 100.0)
    for kpi_id in KPI_IDS:
        check(result.distribution.kpis[kpi_id], scored[f"{kpi_id}_score"].to_numpy(), 1.0)
    assert result.distribution.kpis["image_quality"].scored == 0
    assert result.distribution.kpis["image_quality"].mean is None


def test_min_coverage_excludes_thin_data_from_leaderboard_and_distribution() -> None:
    creators = [
        {"creator_id": "@thin", "gmv_growth_rate": 0.5},  # coverage 0.30
        REALISTIC["beauty_micro"],
        SOURCE_PAYLOAD,
    ]
    everyone = score_cohort(creators)
    thin = next(entry for entry in everyone.leaderboard if entry.creator_id == "@thin")
    assert thin.coverage == pytest.approx(0.30)
    kept = score_cohort(creators, min_coverage=0.30)  # equal within tolerance: kept
    assert kept.excluded_low_coverage == 0
    thick = score_cohort(creators, min_coverage=0.5)
    assert thick.excluded_low_coverage == 1
    assert thick.count == 3
    assert "@thin" not in [entry.creator_id for entry in thick.leaderboard]
    assert thick.distribution.overall_score.scored == 2
    assert thick.ranked == 2


def test_a_frame_with_messy_cells_rejects_those_rows_and_scores_the_rest() -> None:
    frame = pd.DataFrame(
        {
            "creator_id": ["@ok", "@text", "@long" + "x" * 200, "@eur", "@alias", "@neg"],
            "gmv": ["100", "lots", "50", "70", "10", "5"],
            "total_revenue": [None, None, None, None, 20.0, None],
            "conversion_rate": [0.02, 0.02, 0.02, 0.02, 0.02, -0.1],
            "currency": ["USD", "USD", "USD", "EUR", "USD", None],
            "notes": ["anything", "goes", "here", "", "", ""],
        }
    )
    result = score_cohort(frame)
    assert result.count == 1
    assert [entry.creator_id for entry in result.leaderboard] == ["@ok"]
    assert result.leaderboard[0].overall_score == pytest.approx(
        score({"gmv": 100.0, "conversion_rate": 0.02}).overall_score, abs=1e-9
    )
    reasons = {row.index: row.reasons for row in result.rejected}
    assert reasons[1] == ["gmv must be a number; got 'lots'"]
    assert reasons[2][0].startswith("creator_id must be at most 128 characters")
    assert reasons[3] == ["currency must match the call's currency (USD); got 'EUR'"]
    assert reasons[4][0].startswith("total_revenue is an alias of gmv")
    assert reasons[5][0].startswith("conversion_rate must be a fraction in [0, 1]")
    long_echo = next(row.creator_id for row in result.rejected if row.index == 2)
    assert long_echo is not None
    assert len(long_echo) == 64


def test_list_and_frame_inputs_give_the_same_result() -> None:
    records = [*REALISTIC.values(), SOURCE_PAYLOAD]
    from_list = score_cohort(records, top_n=3)
    from_frame = score_cohort(pd.DataFrame(records), top_n=3)
    assert [(e.index, e.creator_id) for e in from_list.leaderboard] == [
        (e.index, e.creator_id) for e in from_frame.leaderboard
    ]
    for a, b in zip(from_list.leaderboard, from_frame.leaderboard, strict=True):
        assert a.overall_score == pytest.approx(b.overall_score, abs=1e-12)
    assert from_list.distribution.overall_score.mean == pytest.approx(
        from_frame.distribution.overall_score.mean, abs=1e-12
    )


def test_frame_scores_agree_with_score_frame_row_by_row() -> None:
    frame = random_creators(400, seed=9)
    result = score_cohort(frame, top_n=400)
    overall = score_frame(frame)["overall_score"].to_numpy()
    for entry in result.leaderboard:
        assert entry.overall_score == pytest.approx(overall[entry.index], abs=1e-12)
    assert len(result.leaderboard) == 400


def test_rejected_rows_are_capped_with_the_total() -> None:
    records: list[dict[str, Any]] = [
        {"creator_id": f"@bad{i}", "refund_rate": 2.0} for i in range(70)
    ]
    records.append({"creator_id": "@good", "refund_rate": 0.02})
    result = score_cohort(records)
    assert result.rejected_total == 70
    assert len(result.rejected) == 50
    assert [row.index for row in result.rejected] == list(range(50))


def test_another_currency_needs_a_configured_rate() -> None:
    """EUR at 1.1 USD per EUR: 1000 EUR of GMV scores as 1100 USD."""
    converted = score_cohort([{"gmv": 1000.0}], currency="EUR", fx_to_default={"EUR": 1.1})
    direct = score_cohort([{"gmv": 1100.0}])
    assert converted.leaderboard[0].overall_score == pytest.approx(
        direct.leaderboard[0].overall_score
    )
    frame = pd.DataFrame({"gmv": [1000.0]})
    assert score_cohort(frame, currency="EUR", fx_to_default={"EUR": 1.1}).leaderboard[
        0
    ].overall_score == pytest.approx(direct.leaderboard[0].overall_score)
    with pytest.raises(CurrencyError):
        score_cohort(frame, currency="GBP")


def test_a_per_video_file_is_aggregated_then_scored() -> None:
    result = score_cohort_file("videos_scrape.csv", [FIXTURES], top_n=5)
    assert isinstance(result, CohortResult)
    assert result.count == 3
    assert result.source is not None
    assert result.source.per_video
    assert result.source.format == "csv"
    assert result.source.skipped_lines == 1
    assert result.ingest is not None
    assert result.ingest.notes_by_code["duplicate_row"] == 1
    assert sum(result.ingest.notes_by_code.values()) >= len(result.ingest.notes)
    ids = {entry.creator_id for entry in result.leaderboard}
    assert ids == {"@glowwithmia", "@burstbob", "@carla.rose"}
    assert all(entry.coverage > 0 for entry in result.leaderboard)


def test_a_creator_level_file_rejects_its_bad_rows(tmp_path: Path) -> None:
    (tmp_path / "cohort.csv").write_text(
        "creator_id,gmv,conversion_rate,nickname\n"
        "@a,12000,0.03,Anna\n"
        "@b,n/a,0.02,Ben\n"
        "@c,900,4.5,Cy\n"
        "@d,lots,0.02,Di\n",
        encoding="utf-8",
    )
    result = score_cohort_file("cohort.csv", [tmp_path])
    assert result.source is not None
    assert not result.source.per_video
    assert result.count == 2
    reasons = {row.creator_id: row.reasons for row in result.rejected}
    assert reasons["@c"][0].startswith("conversion_rate must be a fraction in [0, 1]")
    assert reasons["@d"] == ["gmv must be a number; got 'lots'"]


def test_a_file_needs_configured_access() -> None:
    with pytest.raises(InvalidValueError) as caught:
        score_cohort_file("videos_scrape.csv", [])
    assert caught.value.rule == "cannot be read: file access is not configured"


def test_the_batch_writes_every_row_with_scores_or_reasons(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    frame = random_creators(300, seed=2)
    frame.loc[7, "conversion_rate"] = 12.0
    frame.to_parquet(source)
    calls: list[float] = []
    summary = score_file(
        source, tmp_path / "out.parquet", "equal", lambda done, _: calls.append(done)
    )
    assert (summary.rows, summary.scored, summary.rejected) == (300, 299, 1)
    assert calls == sorted(set(calls))
    assert calls[-1] == 100.0
    table = pq.read_table(tmp_path / "out.parquet")
    assert tuple(table.column_names[: len(OUTPUT_COLUMNS)]) == OUTPUT_COLUMNS
    assert set(table.column_names[len(OUTPUT_COLUMNS) :]) == set(frame.columns) - {"creator_id"}
    metadata = table.schema.metadata
    assert metadata[b"creator_kpi.weighting"] == b"equal"
    out = table.to_pandas()
    assert out["row"].tolist() == list(range(300))
    assert out["creator_id"].tolist() == frame["creator_id"].tolist()
    expected = score_frame(frame.drop(index=7), "equal")["overall_score"]
    assert out.drop(index=7)["overall_score"].to_numpy() == pytest.approx(expected.to_numpy())
    assert math.isnan(out.loc[7, "overall_score"])
    assert pd.isna(out.loc[7, "band"])
    assert str(out.loc[7, "rejected"]).startswith("conversion_rate must be a fraction")
    assert out["rejected"].isna().sum() == 299
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.parquet", "out.parquet"]


def test_the_batch_aggregates_a_per_video_export_and_refuses_a_bad_output(tmp_path: Path) -> None:
    summary = score_file(FIXTURES / "videos_scrape.csv", tmp_path / "scores.parquet")
    assert summary.per_video
    assert summary.rows == 3
    assert summary.skipped_lines == 1
    with pytest.raises(InvalidValueError) as caught:
        score_file(FIXTURES / "videos_scrape.csv", tmp_path / "scores.txt")
    assert caught.value.field == "output_path"
    with pytest.raises(InvalidValueError):
        score_file(FIXTURES / "videos_scrape.csv", tmp_path / "no" / "x.parquet")


def test_the_sort_keys_are_the_overall_score_its_lower_bound_and_the_kpi_ids_in_order() -> None:
    from typing import get_args

    from kpi_core.catalogue import KPI_IDS
    from kpi_core.cohorts.cohort import SortKey

    assert get_args(SortKey) == ("overall_score", "lower_bound", *KPI_IDS)


# --------------------------------------------------------------------------------------------
# ranking honestly on thin data (issue 15)


def _with_thin_creators() -> list[dict[str, Any]]:
    """The 48 demo creators and issue 15's two thin ones (GMV alone; GMV and conversion)."""
    rows: list[dict[str, Any]] = [dict(row) for row in demo_cohort_rows(outcome_fields=False)]
    rows.append({"creator_id": "gmv_only", "gmv": 60_000})
    rows.append({"creator_id": "two_metrics", "gmv": 20_000, "conversion_rate": 0.06})
    return rows


def test_the_lower_bound_ranks_by_each_creators_interval_with_the_overall_score_breaking_ties() -> (
    None
):
    """Expected order computed by hand from ``score`` of each row: score_interval.low
    descending, then the overall score descending, then creator_id."""
    rows = _with_thin_creators()
    result = score_cohort(rows, sort_by="lower_bound", top_n=50)
    expected = sorted(
        (-score(row).score_interval.low, -score(row).overall_score, str(row["creator_id"]))
        for row in rows
    )
    assert [entry.creator_id for entry in result.leaderboard] == [key[2] for key in expected]
    for entry in result.leaderboard:
        single = score(rows[entry.index])
        assert (entry.score_low, entry.score_high) == pytest.approx(
            (single.score_interval.low, single.score_interval.high), abs=1e-9
        )
        assert entry.sort_value == entry.score_low
        assert entry.score_low <= entry.overall_score <= entry.score_high


def test_thin_and_revenue_less_creators_are_counted_and_the_summary_says_what_it_means() -> None:
    """By hand: gmv_only has coverage 0.30 and two_metrics 0.45 (both < 0.5, both with revenue
    data); the public-only creator has views and followers only (no tier-1 data)."""
    rows = _with_thin_creators()
    rows.append({"creator_id": "public_only", "follower_count": 50_000, "views": 400_000})
    coverages = sorted(score(row).coverage for row in rows)
    result = score_cohort(rows, top_n=5)
    assert result.thin_data == sum(c < 0.5 for c in coverages) == 3
    assert result.no_revenue_data == 1
    assert (result.missing, result.interval_level) == ("benchmark", 0.8)
    assert (
        "3 of 51 creators have under half the weight measured and 1 have no revenue data at all: "
        "their scores lean on size benchmarks, so their intervals are wide and their ranks "
        'uncertain; sort_by="lower_bound" ranks them conservatively.'
    ) in result.summary
    top = result.leaderboard[0]
    assert (
        f"1. {top.creator_id}: {top.overall_score:.1f} (80% interval {top.score_low:.1f}-"
        f"{top.score_high:.1f}; {top.band}, coverage {top.coverage:.0%})"
    ) in result.summary


def test_renormalise_is_the_optimistic_option_and_is_said_so() -> None:
    """missing="renormalise" brings back the old ranking that issue 15 reported: the thin
    creators first and second, and the text warns that their ranks are optimistic."""
    rows = _with_thin_creators()
    result = score_cohort(rows, top_n=3, missing="renormalise")
    assert [entry.creator_id for entry in result.leaderboard[:2]] == ["gmv_only", "two_metrics"]
    for entry in result.leaderboard:
        single = score(rows[entry.index], missing="renormalise")
        assert entry.overall_score == pytest.approx(single.overall_score, abs=1e-9)
    assert result.missing == "renormalise"
    assert 'with missing="renormalise" their missing metrics are left out' in result.summary
    default = score_cohort(rows, top_n=50)
    ranks = {entry.creator_id: entry.rank for entry in default.leaderboard}
    assert ranks["gmv_only"] > 2
    assert ranks["two_metrics"] > 2


def test_a_bad_missing_or_sort_by_names_the_field() -> None:
    with pytest.raises(InvalidValueError) as caught:
        score_cohort([{"gmv": 5.0}], missing="ignore")  # type: ignore[arg-type]
    assert caught.value.field == "missing"
    with pytest.raises(InvalidValueError) as caught:
        score_cohort([{"gmv": 5.0}], sort_by="upper_bound")
    assert caught.value.field == "sort_by"
    assert "overall_score, lower_bound or a KPI id" in str(caught.value)


def test_files_and_the_batch_carry_missing_and_the_intervals(tmp_path: Path) -> None:
    rows = _with_thin_creators()
    source = tmp_path / "cohort.csv"
    pd.DataFrame(rows).to_csv(source, index=False)
    from_file = score_cohort_file(
        source, [tmp_path], sort_by="lower_bound", missing="renormalise", top_n=50
    )
    in_memory = score_cohort(rows, sort_by="lower_bound", missing="renormalise", top_n=50)
    assert [e.creator_id for e in from_file.leaderboard] == [
        e.creator_id for e in in_memory.leaderboard
    ]
    assert from_file.missing == "renormalise"
    out = tmp_path / "scores.parquet"
    score_file(source, out, missing="renormalise")
    table = pq.read_table(out)
    assert table.schema.metadata[b"creator_kpi.missing"] == b"renormalise"
    assert table.schema.metadata[b"creator_kpi.interval_level"] == b"0.8"
    frame = table.to_pandas().set_index("creator_id")
    for entry in in_memory.leaderboard:
        assert frame.loc[entry.creator_id, "overall_score"] == pytest.approx(entry.overall_score)
        assert frame.loc[entry.creator_id, "score_low"] == pytest.approx(entry.score_low)
        assert frame.loc[entry.creator_id, "score_high"] == pytest.approx(entry.score_high)
