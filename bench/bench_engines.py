"""Benchmark: the three engines of the batch command on 2,000,000 creators x 21 metrics.

One Parquet file of random creators (``bench_kernel.make_frame``: every metric present; a
``creator_id`` column; 1 row in 1,000 invalid, as a warehouse export would be) is generated in
chunks into a temporary directory, which is deleted afterwards. Each engine runs in its OWN
process (a child of this script), so the peak memory of one is not inflated by another:

* ``memory``: ``score_file`` (read the whole file, score, write), the single-process
  baseline;
* ``stream``: ``score_parquet`` with ``--batch-rows`` rows per batch;
* ``dask``: ``score_dask`` on a local cluster of one single-threaded worker process per core,
  timed twice: ``cold`` (the call starts and stops its own cluster, as the command does) and
  ``warm`` (a cluster already running, as a long-lived scheduler would be).

Each child reports its wall time and its peak resident memory (``resource.getrusage``
high-water mark) above what it held after its imports and one tiny scoring call (pandas, pyarrow
and the catalogue loaded). The script prints, for the streaming
engine, that growth against one batch and against the whole file as Arrow holds it in memory
(goal: bounded by a few batches), and the throughput of Dask against the in-memory engine (goal:
at least 0.7x on this 2-core machine). Runs alternate between engines; medians are printed.

    python bench/bench_engines.py [--rows 2000000] [--repeats 3] [--batch-rows 65536]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_kernel import METRICS, make_frame

ENGINES = ("memory", "stream", "dask")


def write_creators(path: Path, rows: int, chunk: int, row_group: int) -> int:
    """Write ``rows`` random creators in chunks; returns their in-memory (Arrow) size in bytes."""
    writer: pq.ParquetWriter | None = None
    in_memory = 0
    try:
        for start in range(0, rows, chunk):
            size = min(chunk, rows - start)
            frame = make_frame(size, seed=start + 1)
            frame.insert(0, "creator_id", [f"creator_{start + i:08d}" for i in range(size)])
            bad = np.arange(size) % 1000 == 999
            frame.loc[bad, "completion_rate"] = 55.0  # a percent where a fraction belongs
            table = pa.Table.from_pandas(frame, preserve_index=False)
            in_memory += int(table.nbytes)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=row_group)
    finally:
        if writer is not None:
            writer.close()
    return in_memory


def cpu_seconds(who: int) -> float:
    """User + system CPU time of this process (RUSAGE_SELF) or its reaped children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def peak_rss_bytes() -> int:
    """This process's resident-memory high-water mark (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(engine: str, source: str, target: str, batch_rows: int) -> dict[str, Any]:
    """Run one engine in this (child) process and report time and memory."""
    from kpi_core.cohorts.batch import score_file
    from kpi_core.cohorts.stream import score_parquet

    report: dict[str, Any] = {"engine": engine}
    if engine == "dask":
        from distributed import Client

        from kpi_core.cohorts.dask_engine import local_cluster, score_dask

        start = time.perf_counter()
        cpu = cpu_seconds(resource.RUSAGE_SELF)
        score_dask(source, target)  # starts and stops its own cluster, as the command does
        report["cold_s"] = time.perf_counter() - start
        # the workers were this process's children, reaped when the cluster closed
        report["cold_cpu_s"] = cpu_seconds(resource.RUSAGE_SELF) - cpu
        report["cold_cpu_s"] += cpu_seconds(resource.RUSAGE_CHILDREN)
        cluster = local_cluster()
        with cluster, Client(cluster, set_as_default=False) as client:
            score_dask(source, target, scheduler=cluster.scheduler_address)  # warm the workers
            before = sum(
                cast("dict[str, float]", client.run(cpu_seconds, resource.RUSAGE_SELF)).values()
            )
            cpu = cpu_seconds(resource.RUSAGE_SELF)
            start = time.perf_counter()
            summary = score_dask(source, target, scheduler=cluster.scheduler_address)
            report["seconds"] = time.perf_counter() - start
            report["cpu_s"] = cpu_seconds(resource.RUSAGE_SELF) - cpu
            after = cast("dict[str, float]", client.run(cpu_seconds, resource.RUSAGE_SELF))
            report["cpu_s"] += sum(after.values()) - before
        report["rows"] = summary.rows
        return report

    import pandas as pd

    from kpi_core.cohorts.cohort import score_rows

    score_rows(pd.DataFrame({"gmv": [1.0]}))  # imports and caches: not part of the growth
    baseline = peak_rss_bytes()
    cpu = cpu_seconds(resource.RUSAGE_SELF)
    start = time.perf_counter()
    if engine == "memory":
        rows = score_file(source, target).rows
    else:
        rows = score_parquet(source, target, batch_rows=batch_rows).rows
    report["seconds"] = time.perf_counter() - start
    report["cpu_s"] = cpu_seconds(resource.RUSAGE_SELF) - cpu
    report["rows"] = rows
    report["baseline_rss"] = baseline
    report["peak_rss"] = peak_rss_bytes()
    return report


def run_child(engine: str, source: Path, directory: Path, batch_rows: int) -> dict[str, Any]:
    target = directory / f"out-{engine}.parquet"
    command = [
        sys.executable,
        __file__,
        "--child",
        engine,
        "--source",
        str(source),
        "--target",
        str(target),
        "--batch-rows",
        str(batch_rows),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def mib(size: float) -> str:
    return f"{size / 2**20:8.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=250_000)
    parser.add_argument("--row-group", type=int, default=131_072)
    parser.add_argument("--batch-rows", type=int, default=65_536)
    parser.add_argument("--child", choices=ENGINES, default=None)
    parser.add_argument("--source", default="")
    parser.add_argument("--target", default="")
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.source, args.target, args.batch_rows)))
        return

    directory = Path(tempfile.mkdtemp(prefix="bench_engines_"))
    try:
        source = directory / "creators.parquet"
        in_memory = write_creators(source, args.rows, args.chunk, args.row_group)
        per_row = in_memory / args.rows
        batch_bytes = per_row * args.batch_rows
        print(f"load average (1, 5, 15 min) at the start: {os.getloadavg()}")
        print(
            f"rows={args.rows:,} metrics={len(METRICS)} file={mib(source.stat().st_size)} on "
            f"disk, {mib(in_memory)} in memory (Arrow); row groups of {args.row_group:,}; "
            f"{os.cpu_count()} cores; each engine in its own process, {args.repeats} runs, "
            "alternating (medians)"
        )
        runs: dict[str, list[dict[str, Any]]] = {engine: [] for engine in ENGINES}
        for _ in range(args.repeats):
            for engine in ENGINES:
                report = run_child(engine, source, directory, args.batch_rows)
                assert report["rows"] == args.rows, report
                runs[engine].append(report)

        def median(engine: str, key: str) -> float:
            return statistics.median(float(report[key]) for report in runs[engine])

        rate = {engine: args.rows / median(engine, "seconds") for engine in ENGINES}
        for engine in ("memory", "stream"):
            growth = median(engine, "peak_rss") - median(engine, "baseline_rss")
            print(
                f"{engine:7s} {median(engine, 'seconds'):6.2f} s  {rate[engine]:>11,.0f} rows/s  "
                f"peak RSS {mib(median(engine, 'peak_rss'))}, above imports {mib(growth)} = "
                f"{growth / batch_bytes:5.1f} batches, {growth / in_memory:5.2f}x the file in "
                f"memory; {median(engine, 'cpu_s'):.1f} CPU-s"
            )
        print(
            f"dask    {median('dask', 'seconds'):6.2f} s  {rate['dask']:>11,.0f} rows/s  "
            f"(warm cluster; {median('dask', 'cpu_s'):.1f} CPU-s in the caller and the workers); "
            f"{median('dask', 'cold_s'):.2f} s starting its own cluster "
            f"({args.rows / median('dask', 'cold_s'):,.0f} rows/s, "
            f"{median('dask', 'cold_cpu_s'):.1f} CPU-s with the workers' start)"
        )
        print(
            f"stream: one batch = {args.batch_rows:,} rows = {mib(batch_bytes).strip()} of input "
            "(goal: growth of a few batches)"
        )
        print(
            f"dask / memory throughput: {rate['dask'] / rate['memory']:.2f}x warm, "
            f"{median('memory', 'seconds') / median('dask', 'cold_s'):.2f}x with cluster start "
            "(goal >= 0.7x)"
        )
        print(f"stream / memory throughput: {rate['stream'] / rate['memory']:.2f}x")

        def best(engine: str, key: str = "seconds") -> float:
            return min(float(report[key]) for report in runs[engine])

        print(
            f"fastest runs (less noisy on a busy machine): dask / memory "
            f"{best('memory') / best('dask'):.2f}x warm, "
            f"{best('memory') / best('dask', 'cold_s'):.2f}x with cluster start; "
            f"stream / memory {best('memory') / best('stream'):.2f}x"
        )
        print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
