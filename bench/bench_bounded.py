"""Benchmark: memory of a Parquet bomb, and what a stopped read of a large CSV gives back.

Each measurement runs in a fresh child process (so one cannot inherit another's heap) and reads
its own peak RSS with ``resource.getrusage`` after the imports:

* **Parquet bomb**: ``--bomb-rows`` rows (default 1,000,000) of one dictionary-encoded
  1,000-character string in the creator id column, plus a views column: a few hundred KB on
  disk. ``score_cohort_file`` (refuses every row at the 128-character cap) against the naive read
  (``read_table().to_pandas()`` and the ids as Python strings), peak RSS growth of each;
* **stopped CSV**: a ``--csv-mb`` MB creator table (default 200) read by ``score_cohort_file``
  whose progress callback raises after ``--stop-after`` batches (as ``CallControl.progress``
  does once a call is cancelled or timed out): the rows read when stopped, the CPU seconds spent
  between the stop and the call's end, the RSS and Arrow-allocated bytes before, at the peak
  and after.

    python bench/bench_bounded.py [--bomb-rows 1000000] [--csv-mb 200] [--stop-after 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]

BOMB = """
import json, resource
import pandas, pyarrow, pyarrow.parquet
from kpi_core.cohorts.scoring import score_cohort_file
from kpi_core.errors import KpiError
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if MODE == "ours":
    try:
        score_cohort_file("bomb.parquet", [FOLDER])
    except KpiError:
        pass
else:
    frame = pyarrow.parquet.read_table(FOLDER + "/bomb.parquet").to_pandas()
    frame["creator_id"] = frame["creator_id"].astype(str)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_mb": (peak - base) / 1024}))
"""

STOPPED = """
import json, os, resource, time
import pandas, pyarrow, pyarrow.parquet
from kpi_core.cohorts.scoring import score_cohort_file

def rss_mb():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

class Stopped(Exception):
    pass

calls = []
def progress(done, total):
    calls.append(time.process_time())
    if len(calls) >= STOP_AFTER:
        raise Stopped

before_rss, before_arrow = rss_mb(), pyarrow.total_allocated_bytes()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    score_cohort_file("big.csv", [FOLDER], progress=progress, max_bytes=2**34)
except Stopped:
    pass
ended = time.process_time()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "batches": len(calls),
    "cpu_after_stop_s": ended - calls[-1],
    "rss_before_mb": before_rss,
    "peak_growth_mb": (peak - base) / 1024,
    "rss_after_mb": rss_mb(),
    "arrow_after_mb": (pyarrow.total_allocated_bytes() - before_arrow) / 2**20,
}))
"""


def child(code: str, **values: object) -> dict[str, float]:
    header = "".join(f"{name} = {value!r}\n" for name, value in values.items())
    done = subprocess.run(
        [sys.executable, "-c", header + textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_bomb(folder: Path, rows: int) -> int:
    indices = pa.array(np.zeros(rows, dtype=np.int32))
    ids = pa.DictionaryArray.from_arrays(indices, pa.array(["x" * 1000]))
    target = folder / "bomb.parquet"
    pq.write_table(pa.table({"creator_id": ids, "views": pa.array(np.ones(rows))}), target)
    return target.stat().st_size


def write_csv(folder: Path, megabytes: int) -> int:
    target = folder / "big.csv"
    rows = 0
    with target.open("w", encoding="utf-8") as handle:
        handle.write("creator_id,gmv,views,conversion_rate,follower_count\n")
        while handle.tell() < megabytes * 2**20:
            handle.writelines(
                f"@c{row},{row % 997}.5,{row * 3 % 100000},0.0{row % 9},{row % 50000}\n"
                for row in range(rows, rows + 50_000)
            )
            rows += 50_000
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bomb-rows", type=int, default=1_000_000)
    parser.add_argument("--csv-mb", type=int, default=200)
    parser.add_argument("--stop-after", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_bounded_"))
    try:
        size = write_bomb(folder, args.bomb_rows)
        ours = child(BOMB, MODE="ours", FOLDER=str(folder))
        naive = child(BOMB, MODE="naive", FOLDER=str(folder))
        print(
            f"Parquet bomb: {args.bomb_rows:,} rows of a 1,000-character id, {size / 1024:.0f} KB"
        )
        print(
            f"  score_cohort_file peak RSS growth  {ours['peak_mb']:8.1f} MB (refused at the cap)"
        )
        print(f"  naive read peak RSS growth         {naive['peak_mb']:8.1f} MB")
        rows = write_csv(folder, args.csv_mb)
        stopped = child(STOPPED, STOP_AFTER=args.stop_after, FOLDER=str(folder))
        print(f"Stopped CSV read: {args.csv_mb} MB, {rows:,} rows, stop at batch {args.stop_after}")
        print(f"  batches read                       {stopped['batches']:8.0f}")
        print(f"  CPU after the stop                 {stopped['cpu_after_stop_s']:8.3f} s")
        print(
            f"  RSS before / after                 {stopped['rss_before_mb']:8.1f} / "
            f"{stopped['rss_after_mb']:.1f} MB (peak growth {stopped['peak_growth_mb']:.1f} MB)"
        )
        print(f"  Arrow memory held after            {stopped['arrow_after_mb']:8.2f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
