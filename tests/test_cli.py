"""The `creator-kpi-mcp` command: the demo talks to a real server subprocess over stdio."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from cli import main, run_demo
from kpi_core import score
from kpi_core.batch import OUTPUT_COLUMNS
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


def test_the_score_command_refuses_a_missing_file_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["score", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "out.parquet")])
    assert status == 2
    assert "path does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out.parquet").exists()
