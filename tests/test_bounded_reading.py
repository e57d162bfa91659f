"""Bounded reading (issue 19, items 2 and 12), with the attacks scaled to CI.

Memory is measured in child processes (peak RSS from ``resource.getrusage``, after the imports),
never by timing. Each attack is paired with a control that reads the same file the naive way, so
the check could fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kpi_core.cohorts.files import FileAccess
from kpi_core.cohorts.readers import ReadLimits
from kpi_core.cohorts.scoring import score_cohort_file, score_cohort_text
from kpi_core.errors import InvalidValueError, KpiError
from tests.conftest import ROOT

BOMB_ROWS = 200_000
LONG_TEXT = 1000


def parquet_bomb(folder: Path, column: str = "creator_id") -> Path:
    """200,000 rows of one dictionary-encoded 1,000-character string: 18 KB on disk, 200 MB
    once decoded into one string per row."""
    indices = pa.array(np.zeros(BOMB_ROWS, dtype=np.int32))
    text = pa.DictionaryArray.from_arrays(indices, pa.array(["x" * LONG_TEXT]))
    target = folder / "bomb.parquet"
    pq.write_table(pa.table({column: text, "views": pa.array(np.ones(BOMB_ROWS))}), target)
    return target


def peak_megabytes(code: str) -> float:
    """Peak RSS growth (MB) of a child process over ``code``, measured after its imports."""
    script = textwrap.dedent(
        """
        import resource, sys
        import pandas, pyarrow, pyarrow.parquet
        import kpi_core.cohorts.scoring
        from kpi_core.errors import KpiError
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
        {body}
        except KpiError:
            pass
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((peak - base) / 1024)
        """
    ).format(body=textwrap.indent(textwrap.dedent(code), "    "))
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout.strip().splitlines()[-1])


def test_a_parquet_bomb_is_refused_within_a_small_fraction_of_its_decoded_size(
    tmp_path: Path,
) -> None:
    bomb = parquet_bomb(tmp_path)
    assert bomb.stat().st_size < 100_000
    ours = peak_megabytes(
        f"kpi_core.cohorts.scoring.score_cohort_file({bomb.name!r}, [{str(tmp_path)!r}])"
    )
    naive = peak_megabytes(
        f"""
        frame = pyarrow.parquet.read_table({str(bomb)!r}).to_pandas()
        frame["creator_id"] = frame["creator_id"].astype(str)
        """
    )
    assert naive > 150  # the attack is real: decoding the strings costs their full size
    assert ours < 60
    assert ours * 4 < naive


def test_the_bomb_rows_are_rejected_for_their_cell_cap_with_the_reason_named(
    tmp_path: Path,
) -> None:
    parquet_bomb(tmp_path)
    with pytest.raises(InvalidValueError) as caught:
        score_cohort_file("bomb.parquet", [tmp_path])
    assert caught.value.value == f"'{BOMB_ROWS} of {BOMB_ROWS} rows rejected'"
    assert "creator_id must be at most 128 characters" in str(caught.value)


def test_a_per_video_bomb_in_the_video_id_is_hashed_without_being_expanded(
    tmp_path: Path,
) -> None:
    parquet_bomb(tmp_path, column="video_id")
    ours = peak_megabytes(
        "kpi_core.cohorts.scoring.score_cohort_file("
        f"'bomb.parquet', [{str(tmp_path)!r}], window_days=None)"
    )
    assert ours < 60


class StoppedError(Exception):
    """What a stopped call's progress callback raises (tools/_edge.py raises CallStoppedError)."""


def big_csv(folder: Path, rows: int = 200_000) -> Path:
    target = folder / "big.csv"
    with target.open("w", encoding="utf-8") as handle:
        handle.write("creator_id,gmv,views,conversion_rate\n")
        for start in range(0, rows, 10_000):
            handle.writelines(
                f"@c{row},{row % 997}.5,{row * 3},0.0{row % 9}\n"
                for row in range(start, start + 10_000)
            )
    return target


def test_a_stopped_call_ends_at_the_next_batch_and_releases_what_it_read(tmp_path: Path) -> None:
    """The stop flag is honoured while reading: the first progress report after a batch raises,
    the reader stops there (one 1 MB block of a multi-megabyte file), and the memory Arrow held
    for the batches is returned."""
    source = big_csv(tmp_path)
    assert source.stat().st_size > 4 * 2**20
    before = pa.total_allocated_bytes()
    calls: list[float] = []

    def progress(done: float, total: float) -> None:
        calls.append(done)
        raise StoppedError

    with pytest.raises(StoppedError):
        score_cohort_file("big.csv", [tmp_path], progress=progress)
    assert len(calls) == 1
    assert pa.total_allocated_bytes() - before < 2**20


def test_a_csv_of_very_many_columns_is_refused_from_its_header_alone(tmp_path: Path) -> None:
    header = ",".join(f"c{k}" for k in range(100_000))
    row = ",".join("1" for _ in range(100_000))
    (tmp_path / "wide.csv").write_text(header + "\n" + (row + "\n") * 50, encoding="utf-8")
    with pytest.raises(InvalidValueError) as caught:
        score_cohort_file("wide.csv", [tmp_path])
    assert caught.value.rule == "has 100,000 columns; at most 1,000 are read"


def test_a_read_over_the_memory_budget_is_refused_with_the_budget_named(tmp_path: Path) -> None:
    big_csv(tmp_path, rows=100_000)
    with pytest.raises(InvalidValueError) as caught:
        score_cohort_file("big.csv", [tmp_path], memory_budget=2 * 2**20)
    assert caught.value.rule == "needs more than the memory budget of 2 MB to read"


def test_a_parquet_file_whose_metadata_decodes_past_the_budget_is_refused_before_reading(
    tmp_path: Path,
) -> None:
    rows = 300_000
    pq.write_table(
        pa.table({"creator_id": [f"@c{k}" for k in range(rows)], "gmv": np.arange(rows) * 1.0}),
        tmp_path / "wide.parquet",
    )
    with pytest.raises(InvalidValueError) as caught:
        score_cohort_file("wide.parquet", [tmp_path], memory_budget=2 * 2**20)
    assert caught.value.rule.startswith("would decode to about")


def test_a_long_cell_in_a_number_column_is_refused_unread_and_counted() -> None:
    text = "creator_id,gmv\n@a," + "9" * 5000 + "\n@b,12\n"
    result = score_cohort_text(text)
    assert result.count == 1
    assert result.rejected[0].creator_id == "@a"
    assert result.ingest is not None
    assert result.ingest.notes_by_code == {"not_a_number": 1}


def test_hard_links_inside_an_allowed_directory_are_refused(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    secret = tmp_path / "secret.csv"
    secret.write_text("creator_id,gmv\n@x,1\n", encoding="utf-8")
    os.link(secret, allowed / "linked.csv")
    with pytest.raises(InvalidValueError) as caught:
        FileAccess.from_dirs([allowed]).resolve("linked.csv")
    assert caught.value.rule.startswith("has more than one hard link")


def test_the_command_line_refuses_a_fifo_instead_of_blocking_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import main

    os.mkfifo(tmp_path / "pipe.csv")
    status = main(["score", str(tmp_path / "pipe.csv"), "-o", str(tmp_path / "out.csv")])
    assert status == 2
    assert "must be a regular file" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "pipe.csv")]) == 2


def test_file_calls_beyond_the_cap_are_refused_at_once() -> None:
    from tools._files import FILE_CALLS_AT_ONCE, file_call_slot

    held = [file_call_slot() for _ in range(FILE_CALLS_AT_ONCE)]
    for slot in held:
        slot.__enter__()
    try:
        with pytest.raises(KpiError) as caught, file_call_slot():
            pass
        assert "files are already being read" in str(caught.value)
    finally:
        for slot in held:
            slot.__exit__(None, None, None)
    with file_call_slot():
        pass  # released: the next call reads


def test_the_default_limits_are_the_documented_ones() -> None:
    limits = ReadLimits()
    assert (limits.memory_budget, limits.max_columns, limits.header_bytes) == (
        2**30,
        1000,
        2**20,
    )


def test_an_ndjson_line_longer_than_a_record_can_be_is_refused_without_parsing_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "dump.ndjson").write_text(
        '{"creator_id": "@a", "views": 1}\n{"caption": "' + "x" * (9 << 20) + '"}\n',
        encoding="utf-8",
    )
    with pytest.raises(InvalidValueError) as caught:
        score_cohort_file("dump.ndjson", [tmp_path])
    assert caught.value.rule == "line 2 is longer than 8 MB"
