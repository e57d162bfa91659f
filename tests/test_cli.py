"""The `creator-kpi-mcp` command: the demo talks to a real server subprocess over stdio."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cli import main, run_demo
from kpi_core import score
from kpi_core.catalogue import load_catalogue
from kpi_core.cohorts.batch import OUTPUT_COLUMNS
from kpi_core.demo import demo_cohort_rows, demo_creator_ids, demo_metrics


def test_the_demo_prints_each_creators_score_as_the_server_computed_it() -> None:
    out = io.StringIO()
    failures = run_demo(out, count=4)
    text = out.getvalue()
    assert failures == 0
    assert "over stdio; tools: score_creator" in text
    assert "Synthetic demo creators" in text
    every = demo_creator_ids()
    shown = every[:: len(every) // 4][:4]
    for creator_id in shown:
        expected = score(demo_metrics(creator_id))
        row = next(line for line in text.splitlines() if line.startswith(creator_id))
        assert f"{expected.overall_score:.1f}" in row
        assert expected.band in row
    for tool in ("score_creator", "diagnose", "recommend"):
        assert f"{tool} on {shown[0]} (the text an assistant reads first):" in text


@pytest.mark.parametrize("count", ["0", "49", "100", "-3", "eight"])
def test_a_demo_count_outside_the_cohort_is_refused_with_the_range_and_status_2(
    count: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo cohort has 48 creators: --creators 100 used to give 48 without a word, and
    --creators 0 ended in a traceback."""
    with pytest.raises(SystemExit) as stopped:
        main(["demo", "--creators", count])
    assert stopped.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        "creator-kpi-mcp demo: error: argument --creators: must be a whole number from 1 to 48 "
        f"(the demo cohort has 48 creators); got {count!r}"
    )


def test_run_demo_refuses_a_count_outside_the_cohort_before_starting_a_server() -> None:
    with pytest.raises(ValueError, match="count must be a whole number from 1 to 48"):
        run_demo(io.StringIO(), count=0)


def test_the_demo_server_uses_the_experiment_store_named_by_creator_kpi_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's server process gets this shell's CREATOR_KPI_* settings: a store that is not
    a database makes recommend say so, which only the store named by the variable can do."""
    store = tmp_path / "not-a-store.sqlite3"
    store.write_text("not a database", encoding="utf-8")
    monkeypatch.setenv("CREATOR_KPI_DB", str(store))
    out = io.StringIO()
    assert run_demo(out, count=1) == 0
    text = out.getvalue()
    assert f"Experiment store: {store} (from CREATOR_KPI_DB).\n" in text
    assert "Synthetic demo creators (generated, not real people): 1 shown." in text
    assert f"experiment store {store} is not a readable SQLite database" in text


def test_the_score_command_writes_parquet_with_the_documented_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = demo_cohort_rows(outcome_fields=False)
    rows.append({"creator_id": "broken", "conversion_rate": 3.0})
    source = tmp_path / "creators.csv"
    pd.DataFrame(rows).to_csv(source, index=False)
    target = tmp_path / "scores.parquet"
    assert main(["score", str(source), "-o", str(target)]) == 0
    table = pd.read_parquet(target)
    assert list(table.columns[: len(OUTPUT_COLUMNS)]) == list(OUTPUT_COLUMNS)
    for row in (0, 17):
        expected = score(demo_metrics(str(table["creator_id"].iloc[row])))
        assert table["overall_score"].iloc[row] == pytest.approx(expected.overall_score, abs=1e-9)
    assert "did you mean 0.03?" in table["rejected"].iloc[-1]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"Scored {len(rows) - 1} of {len(rows)} creators" in captured.err
    assert "100%" in captured.err


def test_the_score_command_writes_each_intervals_and_takes_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The output carries score_low and score_high (score()'s interval for each row); with
    --missing renormalise the scores are score(..., missing="renormalise")'s, and the file's
    metadata says so. A value that is not a mode exits 2 naming the choices."""
    rows = [*demo_cohort_rows(outcome_fields=False)[:5], {"creator_id": "thin", "gmv": 60_000.0}]
    source = tmp_path / "creators.csv"
    pd.DataFrame(rows).to_csv(source, index=False)
    for missing in ("benchmark", "renormalise"):
        target = tmp_path / f"{missing}.parquet"
        assert main(["score", str(source), "-o", str(target), "--missing", missing]) == 0
        table = pd.read_parquet(target)
        for row, metrics in enumerate(rows):
            expected = score(metrics, missing=missing)
            got = table.iloc[row]
            assert (got["overall_score"], got["score_low"], got["score_high"]) == pytest.approx(
                (
                    expected.overall_score,
                    expected.score_interval.low,
                    expected.score_interval.high,
                ),
                abs=1e-9,
            )
        metadata = pq.read_schema(target).metadata
        assert metadata[b"creator_kpi.missing"] == missing.encode()
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main(["score", str(source), "-o", str(tmp_path / "x.parquet"), "--missing", "drop"])
    assert stopped.value.code == 2
    assert "argument --missing: invalid choice: 'drop'" in capsys.readouterr().err


def test_the_score_command_refuses_a_missing_file_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["score", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "out.parquet")])
    assert status == 2
    assert "path does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out.parquet").exists()


def test_inspect_prints_the_mapping_as_json_without_scoring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    source = tmp_path / "creators.csv"
    source.write_text("Creator,Followers,GMV,Notes\n@a,2.4M,100,hi\n@b,12K,50,yo\n", "utf-8")
    assert main(["inspect", str(source), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["format"], data["rows"], data["creators"]) == ("csv", 2, 2)
    assert [
        (c["source"], c["canonical"], c["confidence"], c["applied"]) for c in data["columns"]
    ] == [
        ("Creator", "creator_id", 0.95, True),
        ("Followers", "follower_count", 0.95, True),
        ("GMV", "gmv", 1.0, True),
        ("Notes", None, 0.0, False),
    ]
    assert data["columns"][1]["examples"] == ["2.4M", "12K"]


def test_score_writes_csv_with_formulas_neutralised_and_the_report_to_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    source = tmp_path / "creators.csv"
    source.write_text(
        'creator_id,gmv,views\n"=HYPERLINK(""http://x"")",1200,1.2K\n@b,300,"48,000"\n', "utf-8"
    )
    target = tmp_path / "scores.csv"
    report = tmp_path / "report.json"
    status = main(["score", str(source), "-o", str(target), "--report", str(report)])
    assert status == 0
    out = pd.read_csv(target)
    assert list(out.columns) == [*OUTPUT_COLUMNS, "gmv", "views"]
    # "@" starts a formula too: a spreadsheet shows '@b as @b and runs nothing
    assert out["creator_id"].tolist() == ['\'=HYPERLINK("http://x")', "'@b"]
    assert out["views"].tolist() == [1200.0, 48000.0]
    assert set(out["model_version"].tolist()) == {load_catalogue().model_version}
    assert json.loads(report.read_text("utf-8"))["notes_by_code"] == {
        "abbreviated": 1,
        "thousands_separator": 1,
    }
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "\n2 rows, 2 creators, no column ignored.\n" in captured.err


def test_score_exits_non_zero_when_nothing_was_scored_and_the_hint_fits_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("creator_id,conversion_rate\n@a,5\n@b,7\n", "utf-8")
    assert main(["score", str(bad), "-o", str(tmp_path / "out.parquet")]) == 1
    assert "Scored 0 of 2 creators" in capsys.readouterr().err
    unmapped = tmp_path / "unmapped.csv"
    unmapped.write_text("foo,Flowers\n1,2\n", "utf-8")
    assert main(["score", str(unmapped), "-o", str(tmp_path / "out.parquet")]) == 2
    error = capsys.readouterr().err
    assert "'Flowers' (maybe follower_count?)" in error
    assert "--columns" in error
    assert "kpi://" not in error


def test_score_takes_a_columns_map_a_window_and_a_period(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "table.csv"
    source.write_text("who,money,Followers\n@a,900,1000\n", "utf-8")
    mapping = tmp_path / "map.toml"
    mapping.write_text('[columns]\nwho = "creator_id"\nmoney = "gmv"\n', "utf-8")
    target = tmp_path / "out.parquet"
    argv = ["score", str(source), "-o", str(target), "--columns", str(mapping)]
    assert main([*argv, "--period-days", "90", "--window-days", "all"]) == 0
    table = pd.read_parquet(target)
    assert table["gmv"].tolist() == [300.0]  # 900 over 90 days -> 300 over 30
    assert table["follower_count"].tolist() == [1000.0]
    assert "gmv rescaled from 90 days (period_days) to 30" in capsys.readouterr().err
    assert main([*argv, "--window-days", "soon"]) == 2
