"""Engines: streaming, Dask and in-memory scoring agree on 200,000 creators in uneven parts.

The reference is the in-memory path: ``output_table(score_rows(frame))`` (the batch command's
output columns, before it merges or rejects duplicate creator ids, which a chunked engine cannot
see across chunks) and ``score_cohort`` on the whole frame (the leaderboard and the
distributions, computed from the whole column at once). The streaming engine reads one file
with row groups of uneven sizes in batches that do not line up with them; the Dask engine reads
five files of uneven sizes (one of a single row) split into partitions of whole row groups, on a
local cluster of two workers. Forty
"star" creators score exactly 100 and tie, so the leaderboard's tie-break (creator id ascending,
missing ids last, then row) is exercised across chunks.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli import main
from kpi_core.catalogue import KPI_IDS, load_catalogue
from kpi_core.cohorts.batch import OUTPUT_COLUMNS, output_metadata, output_table
from kpi_core.cohorts.cohort import CohortResult, ScoreSummary, score_cohort, score_rows
from kpi_core.cohorts.stream import EngineSummary, score_parquet
from kpi_core.errors import InvalidValueError, KpiError

ROWS = 200_000
#: Rows per generated chunk (the generator never holds more than one beside the writer).
CHUNK = 50_000
#: Row-group sizes of the single file, one per chunk: uneven on purpose.
ROW_GROUPS = (7_001, 50_000, 12_345, 31_000)
#: The Dask input: five files of uneven sizes, in this order, with row groups of 9,999 rows.
FILE_SIZES = (37_123, 80_000, 1, 50_000, 32_876)
TOP_N = 50
#: Rows whose metrics all sit beyond their targets: every KPI scores 1, the overall score 100.
STARS = range(3_001, ROWS, 5_000)

#: About 20 metrics touching every KPI (none of them the inputs of a derivation).
METRICS = (
    "follower_count",
    "gmv",
    "units_sold",
    "gmv_growth_rate",
    "product_ctr",
    "conversion_rate",
    "cart_abandonment_rate",
    "gpm",
    "shoppable_video_count",
    "engagement_rate",
    "share_rate",
    "posts_per_week",
    "completion_rate",
    "follower_growth_rate",
    "fyp_traffic_share",
    "audience_match",
    "brand_safety_score",
    "trending_sound_share",
    "visual_quality_score",
    "avg_views_per_video",
    "cpm",
)

HAVE_DASK = all(importlib.util.find_spec(name) for name in ("dask", "distributed"))
needs_dask = pytest.mark.skipif(
    not HAVE_DASK and os.environ.get("CI") != "true",
    reason="dask and distributed are not installed (pip install '.[dask]'); "
    "with CI=true these tests run regardless",
)

FloatArray = npt.NDArray[np.float64]


def creators(first_row: int, rows: int) -> pd.DataFrame:
    """Random creators ``first_row ..`` (the same rows whatever the chunking).

    About 15% of each metric is missing; 1 row in 500 is invalid (a percent where a fraction
    belongs), 1 in 700 has no metric at all, 1 in 100 has no creator id, and ids repeat in
    pairs every 250 rows. The star rows (see ``STARS``) have every metric beyond its target.
    """
    catalogue = load_catalogue()
    rng = np.random.default_rng(first_row + 17)
    index = np.arange(first_row, first_row + rows)
    data: dict[str, object] = {}
    ids = np.array([f"c{row:06d}" for row in index], dtype=object)
    ids[index % 250 == 1] = [f"c{row - 1:06d}" for row in index[index % 250 == 1]]
    ids[index % 100 == 7] = None
    data["creator_id"] = ids
    stars = np.isin(index, np.asarray(STARS))
    blank = index % 700 == 3
    for name in METRICS:
        metric = catalogue.metrics[name]
        if metric.kind == "count":
            values = np.floor(np.minimum(rng.lognormal(7, 2, rows), metric.high))
        elif metric.kind == "money":
            values = rng.lognormal(4, 2, rows)
        elif metric.kind == "growth":
            values = rng.uniform(-0.5, 1.0, rows)
        elif metric.kind == "per_week":
            values = rng.uniform(0, 14, rows)
        else:
            values = rng.uniform(0, 1, rows)
        values[rng.uniform(size=rows) < 0.15] = np.nan
        values[blank] = np.nan
        if metric.direction == "lower":
            values[stars] = max(metric.low, metric.target / 2)
        else:
            values[stars] = min(metric.high, metric.target * 2 + 1)
        data[name] = values
    frame = pd.DataFrame(data)
    frame.loc[index % 500 == 9, "completion_rate"] = 55.0
    return frame


@dataclass(frozen=True)
class Cohort:
    """The generated input, and what the in-memory path makes of it."""

    single: Path
    parts: list[Path]
    expected: Any  # a pyarrow.Table
    cohort: CohortResult


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    folder = tmp_path_factory.mktemp("engines")
    single = folder / "creators.parquet"
    writer: pq.ParquetWriter | None = None
    try:
        for number, start in enumerate(range(0, ROWS, CHUNK)):
            table = pa.Table.from_pandas(creators(start, CHUNK), preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(single, table.schema)
            writer.write_table(table, row_group_size=ROW_GROUPS[number])
    finally:
        if writer is not None:
            writer.close()
    whole = pq.read_table(single)
    parts_folder = folder / "parts"
    parts_folder.mkdir()
    parts: list[Path] = []
    start = 0
    for number, size in enumerate(FILE_SIZES):
        path = parts_folder / f"creators-{number}.parquet"
        pq.write_table(whole.slice(start, size), path, row_group_size=9_999)
        parts.append(path)
        start += size
    assert start == ROWS
    frame = whole.to_pandas()
    scores = score_rows(frame)
    expected = output_table(scores, frame).replace_schema_metadata(
        output_metadata(scores.weighting, scores.currency, "parquet", per_video=False)
    )
    return Cohort(
        single=single,
        parts=parts,
        expected=expected,
        cohort=score_cohort(whole.to_pandas(), top_n=TOP_N),
    )


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A local cluster of two single-threaded workers in this process, closed afterwards."""
    from kpi_core.cohorts.dask_engine import local_cluster

    cluster = local_cluster(2, processes=False)
    with cluster:
        yield cluster.scheduler_address


def read_output(path: Path) -> Any:
    """A file, or a directory of parts in order (pyarrow reads ``part.NNNNN`` names sorted), as
    a ``pyarrow.Table`` (typed ``Any``: pyarrow has no type stubs)."""
    return pq.read_table(path)


def assert_same_rows(got: Any, expected: Any) -> None:
    """Same columns, metadata, text and counts; every score within 1e-9 (NaN where NaN). The
    in-memory batch adds the input's metric columns after the contract's; they are not compared."""
    expected = expected.select(list(OUTPUT_COLUMNS))
    assert tuple(got.column_names) == OUTPUT_COLUMNS
    assert got.schema.equals(expected.schema, check_metadata=True)
    assert got.num_rows == expected.num_rows
    for name in OUTPUT_COLUMNS:
        mine = got.column(name).to_numpy(zero_copy_only=False)
        theirs = expected.column(name).to_numpy(zero_copy_only=False)
        if pa.types.is_floating(got.schema.field(name).type):
            np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-9, err_msg=name)
        else:
            assert mine.tolist() == theirs.tolist(), name


def assert_same_distribution(got: ScoreSummary, expected: ScoreSummary) -> None:
    assert (got.scored, got.not_scored) == (expected.scored, expected.not_scored)
    assert [(item.low, item.high, item.count) for item in got.bins] == [
        (item.low, item.high, item.count) for item in expected.bins
    ]
    moments = (got.mean, got.std, got.min, got.max)
    assert moments == pytest.approx(
        (expected.mean, expected.std, expected.min, expected.max), abs=1e-9
    )
    assert got.quantiles == {}


def assert_same_summary(summary: EngineSummary, cohort: CohortResult) -> None:
    """The engine's combined summary equals the whole-column computation of ``score_cohort``."""
    assert (summary.rows, summary.count, summary.rejected) == (
        cohort.rows,
        cohort.count,
        cohort.rejected_total,
    )
    assert [
        (entry.rank, entry.index, entry.creator_id, entry.band) for entry in summary.leaderboard
    ] == [(entry.rank, entry.index, entry.creator_id, entry.band) for entry in cohort.leaderboard]
    for mine, theirs in zip(summary.leaderboard, cohort.leaderboard, strict=True):
        assert (mine.overall_score, mine.coverage, mine.revenue_coverage) == pytest.approx(
            (theirs.overall_score, theirs.coverage, theirs.revenue_coverage), abs=1e-9
        )
        assert (mine.score_low, mine.score_high) == pytest.approx(
            (theirs.score_low, theirs.score_high), abs=1e-9
        )
        assert mine.kpi_scores == pytest.approx(theirs.kpi_scores, abs=1e-9)
    assert (summary.thin_data, summary.no_revenue_data, summary.missing) == (
        cohort.thin_data,
        cohort.no_revenue_data,
        cohort.missing,
    )
    assert [(row.index, row.creator_id, row.reasons) for row in summary.rejected_examples] == [
        (row.index, row.creator_id, "; ".join(row.reasons)) for row in cohort.rejected
    ]
    assert_same_distribution(summary.distribution.overall_score, cohort.distribution.overall_score)
    for kpi_id in KPI_IDS:
        assert_same_distribution(
            summary.distribution.kpis[kpi_id], cohort.distribution.kpis[kpi_id]
        )


def test_the_data_exercise_ties_rejections_and_every_kpi(cohort: Cohort) -> None:
    result = cohort.cohort
    top = result.leaderboard[0].overall_score
    assert [entry.overall_score for entry in result.leaderboard[: len(STARS)]] == [top] * len(STARS)
    assert result.leaderboard[len(STARS)].overall_score < top
    assert result.rejected_total > 600
    assert all(result.distribution.kpis[kpi].scored > 0 for kpi in KPI_IDS)


def test_streaming_writes_what_the_in_memory_batch_writes_and_the_same_summary(
    cohort: Cohort, tmp_path: Path
) -> None:
    calls: list[tuple[float, float]] = []
    target = tmp_path / "streamed.parquet"
    summary = score_parquet(
        cohort.single,
        target,
        batch_rows=17_003,
        top_n=TOP_N,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert_same_rows(read_output(target), cohort.expected)
    assert_same_summary(summary, cohort.cohort)
    assert summary.parts == len(calls) > ROWS // 17_003
    assert calls[-1] == (ROWS, ROWS)
    assert [done for done, _ in calls] == sorted({done for done, _ in calls})
    assert sorted(path.name for path in tmp_path.iterdir()) == ["streamed.parquet"]


@needs_dask
def test_dask_on_uneven_files_writes_the_same_rows_and_the_same_summary(
    cohort: Cohort, scheduler: str, tmp_path: Path
) -> None:
    from kpi_core.cohorts.dask_engine import score_dask

    calls: list[tuple[float, float]] = []
    target = tmp_path / "scored.parquet"
    summary = score_dask(
        str(cohort.parts[0].parent / "*.parquet"),
        target,
        scheduler=scheduler,
        partition_rows=30_000,
        top_n=TOP_N,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert target.is_dir()
    parts = sorted(path.name for path in target.iterdir())
    assert parts == [f"part.{number:05d}.parquet" for number in range(summary.parts)]
    assert summary.parts > len(FILE_SIZES)
    assert_same_rows(read_output(target), cohort.expected)
    assert_same_summary(summary, cohort.cohort)
    assert sorted(done for done, _ in calls)[-1] == ROWS
    assert sorted(path.name for path in tmp_path.iterdir()) == ["scored.parquet"]


@needs_dask
def test_dask_scores_a_dask_dataframe_of_uneven_partitions(
    cohort: Cohort, scheduler: str, tmp_path: Path
) -> None:
    import dask.dataframe as dd

    from kpi_core.cohorts.dask_engine import score_dask

    frame = pq.read_table(cohort.parts[0]).to_pandas()  # the first 37,123 creators
    uneven = dd.from_pandas(frame, npartitions=1).repartition(
        divisions=[0, 5_000, 5_001, 30_000, len(frame) - 1]
    )
    summary = score_dask(uneven, tmp_path / "scored.parquet", scheduler=scheduler, top_n=TOP_N)
    expected = score_cohort(frame, top_n=TOP_N)
    assert summary.parts == 4
    assert_same_summary(summary, expected)
    written = read_output(tmp_path / "scored.parquet")
    assert written.column("row").to_pylist() == list(range(len(frame)))
    assert written.schema.metadata[b"creator_kpi.input_format"] == b"dask"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@needs_dask
def test_an_unreachable_scheduler_fails_fast_naming_its_address(
    cohort: Cohort, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kpi_core.cohorts.dask_engine import SCHEDULER_ENV, score_dask

    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(KpiError) as caught:
        score_dask(cohort.parts[2], tmp_path / "out.parquet", scheduler=address, connect_timeout=1)
    assert (caught.value.field, caught.value.rule) == (
        "scheduler",
        "could not be reached within 1 s",
    )
    assert caught.value.value == repr(address)

    monkeypatch.setenv(SCHEDULER_ENV, address)  # the same, from the environment
    with pytest.raises(KpiError) as caught:
        score_dask(cohort.parts[2], tmp_path / "out.parquet", connect_timeout=1)
    assert caught.value.value == repr(address)
    assert sorted(tmp_path.iterdir()) == []


@contextlib.contextmanager
def listener(reply: bytes) -> Generator[str]:
    """A plain TCP listener on 127.0.0.1 that accepts every connection, sends ``reply`` (nothing
    when empty) and keeps the connection open: something that is not a Dask scheduler."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # the listener was shut down
                return
            accepted.append(connection)
            if reply:
                connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.shutdown(socket.SHUT_RDWR)
        server.close()
        thread.join(timeout=10)
        for connection in accepted:
            connection.close()


NOT_A_SCHEDULER = "answered, but not as a Dask scheduler does"


@needs_dask
@pytest.mark.parametrize(
    ("reply", "rule"),
    [
        (b"", "accepted the connection but sent no Dask handshake within 1 s"),
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", NOT_A_SCHEDULER),
        # a believable length, then bytes that are not framed as distributed frames a message
        (struct.pack("Q", 24) + b"\x07" * 24, NOT_A_SCHEDULER),
    ],
    ids=["silent", "http", "bad-frames"],
)
def test_a_listener_that_is_not_a_scheduler_is_refused_within_the_time_limit(
    cohort: Cohort, tmp_path: Path, reply: bytes, rule: str
) -> None:
    """distributed's Client waited forever on the silent listener and asked for 3 EiB on the
    HTTP reply (a traceback); the handshake is now read first, under the connect timeout."""
    from kpi_core.cohorts.dask_engine import score_dask

    with listener(reply) as address, pytest.raises(KpiError) as caught:
        score_dask(cohort.parts[2], tmp_path / "out.parquet", scheduler=address, connect_timeout=1)
    assert (caught.value.field, caught.value.rule, caught.value.value) == (
        "scheduler",
        rule,
        repr(address),
    )
    assert "omit --scheduler to use a local cluster" in str(caught.value)
    assert sorted(tmp_path.iterdir()) == []


@needs_dask
def test_the_score_command_refuses_a_listener_that_is_not_a_scheduler_in_one_line(
    cohort: Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with listener(b"garbage that is not the Dask protocol\n") as address:
        command = ["score", str(cohort.parts[2]), "-o", str(tmp_path / "out.parquet")]
        status = main([*command, "--engine", "dask", "--scheduler", address])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert captured.err == (
        f"creator-kpi-mcp score: scheduler {NOT_A_SCHEDULER}; got {address!r} - check the host "
        "and port (a Dask scheduler listens on 8786 unless told otherwise), or unset "
        "CREATOR_KPI_DASK_SCHEDULER and omit --scheduler to use a local cluster\n"
    )


@needs_dask
def test_a_real_scheduler_over_tcp_passes_the_check() -> None:
    from distributed import LocalCluster

    from kpi_core.cohorts.dask_engine import check_scheduler

    cluster = LocalCluster(
        n_workers=0,
        processes=False,
        protocol="tcp",
        # typed str, but None is distributed's documented way to turn the dashboard off
        dashboard_address=None,  # pyright: ignore[reportArgumentType]
    )
    with cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        assert check_scheduler(address, 5) is None
        assert check_scheduler(address.removeprefix("tcp://"), 5) is None


def corrupt_a_page(source: Path, target: Path, row_group: int) -> None:
    """Copy ``source`` with the header of one data page overwritten; the footer stays valid."""
    column = pq.ParquetFile(source).metadata.row_group(row_group).column(3)
    start = column.dictionary_page_offset or column.data_page_offset
    data = bytearray(source.read_bytes())
    data[start : start + 40] = b"\xff" * 40
    target.write_bytes(bytes(data))


@needs_dask
def test_a_corrupt_partition_is_named_by_its_file_and_row_groups(
    cohort: Cohort, scheduler: str, tmp_path: Path
) -> None:
    from kpi_core.cohorts.dask_engine import score_dask

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for path in cohort.parts:
        (inputs / path.name).write_bytes(path.read_bytes())
    broken = inputs / cohort.parts[3].name
    corrupt_a_page(cohort.parts[3], broken, row_group=4)
    target = tmp_path / "out.parquet"
    target.write_bytes(b"yesterday's scores")
    with pytest.raises(InvalidValueError) as caught:
        score_dask(inputs, target, scheduler=scheduler, partition_rows=20_000)
    error = caught.value
    assert (error.field, error.rule) == (
        "source",
        "has a partition that could not be read or scored",
    )
    # two row groups of 9,999 rows per partition: files 0-2 (37,123, 80,000 and 1 rows) make
    # partitions 0-1, 2-6 and 7; file 3's row groups 4 and 5 make its third, partition 10
    assert error.value == repr("partition 10")
    assert error.problems[0].hint.startswith(f"{broken}, row groups 4-5: OSError: Couldn't")
    assert "Deserializing page header failed" in error.problems[0].hint
    assert target.read_bytes() == b"yesterday's scores"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["inputs", "out.parquet"]

    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidValueError) as caught:
        score_dask(inputs, target, scheduler=scheduler)
    assert (caught.value.field, caught.value.value) == ("source", repr(broken.name))
    assert caught.value.rule == "has a file that could not be read as Parquet"
    assert caught.value.problems[0].hint.startswith(f"{broken}: ")


_partition_started = threading.Event()
_partition_released = threading.Event()
_partition_worker: list[str] = []


def _hold_the_second_partition(frame: pd.DataFrame) -> pd.DataFrame:
    """A user's partition step that blocks (until released) on the partition holding ``c``."""
    if "c" in frame["creator_id"].tolist():
        from distributed import get_worker

        _partition_worker.append(get_worker().address)
        _partition_started.set()
        _partition_released.wait(60)
    return frame


@needs_dask
def test_a_lost_worker_is_named_by_the_partition_it_was_scoring(tmp_path: Path) -> None:
    import dask.config
    import dask.dataframe as dd
    from distributed import Client

    from kpi_core.cohorts.dask_engine import local_cluster, score_dask

    frame = pd.DataFrame({"creator_id": ["a", "b", "c", "d"], "gmv": [5.0, 6.0, 1.0, 2.0]})
    creators = dd.from_pandas(frame, npartitions=2).map_partitions(
        _hold_the_second_partition, meta=frame.head(0)
    )
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = local_cluster(2, processes=False)  # its own: this test removes a worker
    with cluster, ThreadPoolExecutor(1) as caller:
        job = caller.submit(
            score_dask, creators, tmp_path / "out.parquet", scheduler=cluster.scheduler_address
        )
        try:
            assert _partition_started.wait(60)

            async def lose_the_busy_worker(dask_scheduler: Any) -> None:
                await dask_scheduler.remove_worker(
                    _partition_worker[0], stimulus_id="test", close=False
                )

            with Client(cluster.scheduler_address, set_as_default=False) as client:
                client.run_on_scheduler(lose_the_busy_worker)
            with pytest.raises(KpiError) as caught:
                job.result(60)
        finally:
            _partition_released.set()
    error = caught.value
    assert (error.field, error.value) == ("partition", repr("partition 1"))
    assert error.rule == "lost its worker (a worker died while scoring it, more than once)"
    assert sorted(tmp_path.iterdir()) == []


def test_streaming_names_a_corrupt_file_and_leaves_the_old_output(
    cohort: Cohort, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.parquet"
    corrupt_a_page(cohort.parts[1], broken, row_group=5)
    target = tmp_path / "out.parquet"
    target.write_bytes(b"yesterday's scores")
    with pytest.raises(InvalidValueError) as caught:
        score_parquet(broken, target, batch_rows=10_000)
    assert (caught.value.field, caught.value.rule) == ("src", "could not be read as Parquet")
    assert caught.value.value == repr("broken.parquet, rows from 40000")
    assert caught.value.problems[0].hint.startswith(f"{broken}: OSError: Couldn't deserialize")
    assert target.read_bytes() == b"yesterday's scores"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.parquet", "out.parquet"]


def test_streaming_refuses_a_per_video_export_and_bad_arguments(tmp_path: Path) -> None:
    videos = tmp_path / "videos.parquet"
    pd.DataFrame({"creator_id": ["a"], "video_id": ["v1"], "views": [10.0]}).to_parquet(videos)
    with pytest.raises(InvalidValueError, match="per-video export"):
        score_parquet(videos, tmp_path / "out.parquet")
    with pytest.raises(InvalidValueError) as caught:
        score_parquet(videos, tmp_path / "out.parquet", batch_rows=0)
    assert caught.value.field == "batch_rows"
    with pytest.raises(InvalidValueError) as caught:
        score_parquet(videos, tmp_path / "out.csv")
    assert caught.value.field == "output_path"


def test_streaming_an_empty_file_writes_the_output_columns(tmp_path: Path) -> None:
    empty = tmp_path / "empty.parquet"
    pd.DataFrame(
        {"creator_id": pd.Series([], dtype="string"), "gmv": pd.Series([], dtype=float)}
    ).to_parquet(empty)
    summary = score_parquet(empty, tmp_path / "out.parquet")
    assert (summary.rows, summary.count, summary.leaderboard) == (0, 0, [])
    table = pq.read_table(tmp_path / "out.parquet")
    assert (tuple(table.column_names), table.num_rows) == (OUTPUT_COLUMNS, 0)


def test_the_score_command_streams_with_batch_rows(cohort: Cohort, tmp_path: Path) -> None:
    source = tmp_path / "small.parquet"
    pq.write_table(pq.read_table(cohort.parts[0]), source)
    target = tmp_path / "out.parquet"
    status = main(
        ["score", str(source), "-o", str(target), "--engine", "stream", "--batch-rows", "4000"]
    )
    assert status == 0
    assert_same_rows(read_output(target), cohort.expected.slice(0, FILE_SIZES[0]))


@needs_dask
def test_the_score_command_runs_on_a_given_scheduler(
    cohort: Cohort, scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.parquet"
    command = ["score", str(cohort.parts[0]), "-o", str(target), "--batch-rows", "10000"]
    assert main([*command, "--engine", "dask", "--scheduler", scheduler]) == 0
    assert "(dask engine, 4 partitions)" in capsys.readouterr().out
    assert_same_rows(read_output(target), cohort.expected.slice(0, FILE_SIZES[0]))
    with pytest.raises(SystemExit):
        main([*command, "--scheduler", scheduler])  # --scheduler without --engine dask
    assert "--scheduler needs --engine dask" in capsys.readouterr().err


def _renormalised_expected(table: Any) -> Any:
    frame = table.to_pandas()
    scores = score_rows(frame, missing="renormalise")
    return output_table(scores, frame).replace_schema_metadata(
        output_metadata(
            scores.weighting, scores.currency, "parquet", per_video=False, missing="renormalise"
        )
    )


def test_streaming_honours_missing_renormalise_as_the_in_memory_scoring_does(
    cohort: Cohort, tmp_path: Path
) -> None:
    whole = pq.read_table(cohort.parts[0])
    target = tmp_path / "out.parquet"
    summary = score_parquet(
        cohort.parts[0], target, batch_rows=7_001, top_n=TOP_N, missing="renormalise"
    )
    assert_same_rows(read_output(target), _renormalised_expected(whole))
    assert_same_summary(
        summary, score_cohort(whole.to_pandas(), top_n=TOP_N, missing="renormalise")
    )
    with pytest.raises(InvalidValueError) as caught:
        score_parquet(cohort.parts[0], target, missing="optimistic")  # type: ignore[arg-type]
    assert caught.value.field == "missing"


@needs_dask
def test_dask_honours_missing_renormalise_and_the_command_passes_it_on(
    cohort: Cohort, scheduler: str, tmp_path: Path
) -> None:
    from kpi_core.cohorts.dask_engine import score_dask

    whole = pq.read_table(cohort.parts[0])
    target = tmp_path / "scored.parquet"
    summary = score_dask(
        cohort.parts[0],
        target,
        scheduler=scheduler,
        partition_rows=10_000,
        top_n=TOP_N,
        missing="renormalise",
    )
    expected = _renormalised_expected(whole)
    assert_same_rows(read_output(target), expected)
    assert_same_summary(
        summary, score_cohort(whole.to_pandas(), top_n=TOP_N, missing="renormalise")
    )
    command = ["score", str(cohort.parts[0]), "-o", str(tmp_path / "cli.parquet")]
    options = ["--engine", "dask", "--scheduler", scheduler, "--missing", "renormalise"]
    assert main([*command, *options]) == 0
    assert_same_rows(read_output(tmp_path / "cli.parquet"), expected)


def test_the_score_command_streams_with_missing_renormalise(cohort: Cohort, tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    command = ["score", str(cohort.parts[0]), "-o", str(target), "--engine", "stream"]
    assert main([*command, "--missing", "renormalise"]) == 0
    assert_same_rows(read_output(target), _renormalised_expected(pq.read_table(cohort.parts[0])))


def test_the_package_imports_without_dask() -> None:
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
        "import kpi_core, kpi_core.cohorts.stream, kpi_core.cohorts.dask_engine\n"
        "from kpi_core.errors import KpiError\n"
        "try:\n"
        "    kpi_core.cohorts.dask_engine.score_dask('in.parquet', 'out.parquet')\n"
        "except KpiError as error:\n"
        "    print(error.field, error.rule)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    assert (
        done.stdout.strip() == "engine dask needs the optional Dask extra, which is not installed"
    )
