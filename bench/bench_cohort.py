"""Benchmark: a Parquet file of 1,000,000 creators through ``score_cohort`` against its floor.

The floor is what any cohort scorer must do: read the file (``pandas.read_parquet``) and score
it (``score_frame``). The cohort path is the library call a server makes,
``score_cohort_file(path, allowed_dirs)``: the file-access checks, the same read, row
validation, one ``score_frame`` pass, the leaderboard, the distributions of the overall score and
the 13 KPIs, and the rejected rows. Both run in this process on the same file, alternating, and
the script prints the median of each and their ratio (goal: at most 1.5x). For information it
also prints ``score_cohort`` against ``score_frame`` on the frame already in memory.

Two files are measured, each generated in chunks (so the generator never holds more than one
chunk beside the writer) into a temporary directory that is deleted afterwards: a realistic
export (a ``creator_id`` column, 1 row in 1,000 invalid: a percent where a fraction belongs) and
a lean one (metric columns only, all valid: the floor's best case).

    python bench/bench_cohort.py [--rows 1000000] [--repeats 5] [--chunk 250000]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.bench_kernel import METRICS, make_frame
from kpi_core.cohorts.cohort import score_cohort
from kpi_core.cohorts.scoring import score_cohort_file
from kpi_core.scoring import score_frame


def write_cohort(path: Path, rows: int, chunk: int, *, lean: bool) -> int:
    """Write ``rows`` random creators to ``path`` in chunks; returns the rows made invalid.

    ``lean``: metric columns only and every row valid (the floor's best case); otherwise a
    ``creator_id`` column and 1 row in 1,000 invalid, as a warehouse export would be.
    """
    writer: pq.ParquetWriter | None = None
    invalid = 0
    try:
        for start in range(0, rows, chunk):
            size = min(chunk, rows - start)
            frame: pd.DataFrame = make_frame(size, seed=start + 1)
            if not lean:
                frame.insert(0, "creator_id", [f"creator_{start + i:07d}" for i in range(size)])
                bad = np.arange(size) % 1000 == 999
                frame.loc[bad, "completion_rate"] = 55.0  # a percent where a fraction belongs
                invalid += int(bad.sum())
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return invalid


def timed(function: Callable[[], object], repeats: int) -> list[float]:
    times: list[float] = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def run(rows: int, repeats: int, chunk: int, *, lean: bool) -> None:
    directory = Path(tempfile.mkdtemp(prefix="bench_cohort_"))
    try:
        path = directory / "creators.parquet"
        invalid = write_cohort(path, rows, chunk, lean=lean)
        size_mb = path.stat().st_size / 2**20

        def floor() -> object:
            return score_frame(pd.read_parquet(path), on_invalid="reject")

        def cohort() -> object:
            return score_cohort_file(path, [directory], max_bytes=2**34)

        result = score_cohort_file(path, [directory], max_bytes=2**34)
        assert result.count == rows - invalid, (result.count, invalid)
        assert result.rejected_total == invalid

        floor_times: list[float] = []
        cohort_times: list[float] = []
        for _ in range(repeats):  # alternate, so drift affects both alike
            floor_times += timed(floor, 1)
            cohort_times += timed(cohort, 1)
        floor_s = statistics.median(floor_times)
        cohort_s = statistics.median(cohort_times)
        best_ratio = min(cohort_times) / min(floor_times)

        frame = pd.read_parquet(path)
        frame_s = statistics.median(timed(lambda: score_frame(frame, on_invalid="reject"), repeats))
        memory_s = statistics.median(timed(lambda: score_cohort(frame), repeats))

        kind = "lean: metrics only, all valid" if lean else "creator ids, 1 row in 1,000 invalid"
        print(f"{kind}: rows={rows:,} metrics={len(METRICS)} file={size_mb:.1f} MiB (medians)")
        print(f"  read_parquet + score_frame   {floor_s * 1000:8.1f} ms")
        print(f"  score_cohort_file            {cohort_s * 1000:8.1f} ms")
        print(f"  time ratio                   {cohort_s / floor_s:8.2f}x   (goal <= 1.5x)")
        print(f"  ratio of the fastest runs    {best_ratio:8.2f}x   (less noisy on a busy machine)")
        print(
            f"  in memory: score_frame {frame_s * 1000:.1f} ms, score_cohort "
            f"{memory_s * 1000:.1f} ms, ratio {memory_s / frame_s:.2f}x"
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=250_000)
    parser.add_argument("--only", choices=("realistic", "lean"), default=None)
    args = parser.parse_args()
    print(f"repeats={args.repeats}, alternating; each file deleted after its run")
    for lean in (False, True):
        if args.only is None or args.only == ("lean" if lean else "realistic"):
            run(args.rows, args.repeats, args.chunk, lean=lean)


if __name__ == "__main__":
    main()
