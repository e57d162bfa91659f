"""Benchmark: per-video aggregation of a scraped export against a plain pandas pipeline.

The file is shaped like a scraper's CSV: prefixed headers (``video_playcount``,
``author_nfollowers`` ...), counts written ``12.3K`` / ``1.2M`` / ``48,000``, ``Share`` labels,
``mm:ss`` durations, epoch posting times, 20 videos for a share of creators (a scraper cap).

* **baseline**: what a careful analyst writes by hand in pandas: ``read_csv`` of the same
  columns as text, suffixed counts and separators parsed with vectorised string methods, the
  labels read as 0, ``mm:ss`` split into seconds, epoch seconds to datetimes, one
  ``groupby(...).agg`` for the sums and means;
* **ours**: :func:`kpi_core.cohorts.ingest.ingest_source` over the same file (header
  recognition, bounded batches, every repair counted, duplicates, the window, sessions, the
  report), with ``window_days=None`` so both aggregate every row.

Both run alternately in this process; the script prints the medians and their ratio (goal: at
most 3x), then the time for ``--big`` rows (default 2,000,000) through the whole scoring call,
``score_cohort_file`` (goal: within 120 s).

    python bench/bench_ingest.py [--rows 500000] [--big 2000000] [--repeats 5]
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
from typing import Any

import numpy as np
import pandas as pd

from kpi_core.cohorts.ingest import IngestOptions, ingest_source
from kpi_core.cohorts.readers import ReadLimits, open_source
from kpi_core.cohorts.scoring import score_cohort_file

START = 1_740_787_200  # 2025-03-01T00:00:00Z


def write_export(path: Path, rows: int, seed: int = 5) -> None:
    """A scraped per-video export of ``rows`` videos, about 40 videos per creator."""
    rng = np.random.default_rng(seed)
    creators = max(1, rows // 40)
    creator = rng.integers(0, creators, rows)
    views = rng.lognormal(9, 2, rows).astype(np.int64)
    shares = rng.integers(0, 30, rows)
    frame = pd.DataFrame(
        {
            "video_id": np.arange(rows).astype(str),
            "video_timestamp": START + rng.integers(0, 90 * 86400, rows),
            "video_duration": [
                f"{m:02d}:{s:02d}"
                for m, s in zip(rng.integers(0, 3, rows), rng.integers(0, 60, rows), strict=True)
            ],
            "video_playcount": np.where(
                views >= 1_000_000,
                np.char.add(np.round(views / 1e6, 1).astype(str), "M"),
                np.where(
                    views >= 10_000,
                    np.char.add(np.round(views / 1e3, 1).astype(str), "K"),
                    views.astype(str),
                ),
            ),
            "video_diggcount": [f"{value:,}" for value in views // 25],
            "video_sharecount": np.where(shares == 0, "Share", shares.astype(str)),
            "video_commentcount": rng.integers(0, 900, rows).astype(str),
            "author_username": np.char.add("@creator", creator.astype(str)),
            "author_nfollowers": np.char.add(np.round(creator / 100 + 0.1, 1).astype(str), "K"),
            "video_description": "a caption, with commas",
        }
    )
    frame.to_csv(path, index=False)


def _count(text: Any) -> Any:
    """Suffixed counts and separators to numbers, the labels to 0 (vectorised)."""
    cleaned = text.str.replace(",", "", regex=False)
    suffix = cleaned.str[-1]
    scale = suffix.map({"K": 1e3, "M": 1e6, "B": 1e9}).fillna(1.0)
    digits = cleaned.where(scale == 1.0, cleaned.str[:-1])
    numbers = pd.to_numeric(digits, errors="coerce") * scale
    numbers = numbers.where(cleaned != "Share", 0.0)
    return np.floor(numbers + 0.5)


def baseline(path: Path) -> pd.DataFrame:
    columns = [
        "video_id",
        "video_timestamp",
        "video_duration",
        "video_playcount",
        "video_diggcount",
        "video_sharecount",
        "video_commentcount",
        "author_username",
        "author_nfollowers",
    ]
    frame = pd.read_csv(path, usecols=columns, dtype=str)
    minutes_seconds = frame["video_duration"].str.split(":", expand=True).astype(float)
    parsed = pd.DataFrame(
        {
            "creator_id": frame["author_username"],
            "posted_at": pd.to_datetime(frame["video_timestamp"].astype(np.int64), unit="s"),
            "views": _count(frame["video_playcount"]),
            "likes": _count(frame["video_diggcount"]),
            "shares": _count(frame["video_sharecount"]),
            "comments": _count(frame["video_commentcount"]),
            "duration": minutes_seconds[0] * 60 + minutes_seconds[1],
            "follower_count": _count(frame["author_nfollowers"]),
        }
    )
    return parsed.groupby("creator_id", sort=False).agg(
        views=("views", "sum"),
        likes=("likes", "sum"),
        shares=("shares", "sum"),
        comments=("comments", "sum"),
        avg_video_duration_s=("duration", "mean"),
        follower_count=("follower_count", "last"),
        first=("posted_at", "min"),
        last=("posted_at", "max"),
    )


def ours(path: Path) -> pd.DataFrame:
    with path.open("rb") as handle:
        source = open_source(handle, "csv", path.stat().st_size, ReadLimits(), path.name)
        return ingest_source(source, IngestOptions(window_days=None)).creators


def timed(function: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--big", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        path = folder / "export.csv"
        write_export(path, args.rows)
        got = ours(path).set_index("creator_id")
        want = baseline(path)
        assert np.allclose(
            got.loc[want.index, "videos"],
            want.index.map(
                pd.read_csv(path, usecols=["author_username"])["author_username"].value_counts()
            ),
        )
        base_times: list[float] = []
        our_times: list[float] = []
        for _ in range(args.repeats):
            base_times.append(timed(lambda: baseline(path)))
            our_times.append(timed(lambda: ours(path)))
        base_s = statistics.median(base_times)
        our_s = statistics.median(our_times)
        size = path.stat().st_size / 2**20
        print(f"scraped export: {args.rows:,} rows, {size:.1f} MiB, {args.repeats} runs (medians)")
        print(f"  plain pandas (read, parse, one groupby)  {base_s * 1000:9.1f} ms")
        print(f"  ingest_source (recognise, parse, report) {our_s * 1000:9.1f} ms")
        print(f"  ratio                                     {our_s / base_s:9.2f}x  (goal <= 3x)")
        print(f"  per row                                   {our_s / args.rows * 1e6:9.2f} us")
        if args.big:
            big = folder / "big.csv"
            write_export(big, args.big, seed=11)
            big_s = timed(lambda: score_cohort_file(big.name, [folder], max_bytes=2**34))
            print(f"  {args.big:,} rows through score_cohort_file: {big_s:.1f} s (goal <= 120 s)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
