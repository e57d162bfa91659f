"""Benchmark: ``score_frame`` on 1,000,000 creators against a bare numpy floor, in one process.

The floor (what no scoring code can beat by much): one float64 matrix of the same metrics, per
column ``np.clip((X - lo) / span, 0, 1)`` (after ``np.log1p`` for log-scaled columns), then one
matrix product with the combined weights (KPI weight x metric weight within the KPI). It skips
validation, derivation, missing data and bands, so it is a lower bound, not a rival.

Prints the median wall time of each over several repeats, their ratio (goal: at most 2x), and the
peak memory traced inside ``score_frame`` against the input's ``memory_usage(deep=True)``
(goal: at most 3x).

    python -m bench.bench_kernel [--rows 1000000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

import numpy as np
import numpy.typing as npt
import pandas as pd

from kpi_core.catalogue import KPI_IDS, load_catalogue
from kpi_core.scoring import score_frame
from kpi_core.weights import resolve_weighting

#: About 20 metrics that touch every KPI, as a warehouse export would carry them.
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


def make_frame(rows: int, seed: int = 7) -> pd.DataFrame:
    """Random valid creators: every listed metric present, counts whole, fractions in [0, 1]."""
    rng = np.random.default_rng(seed)
    catalogue = load_catalogue()
    data: dict[str, npt.NDArray[np.float64]] = {}
    for name in METRICS:
        metric = catalogue.metrics[name]
        if metric.kind == "count":
            data[name] = np.floor(np.minimum(rng.lognormal(7, 2, rows), metric.high))
        elif metric.kind == "money":
            data[name] = rng.lognormal(4, 2, rows)
        elif metric.kind == "growth":
            data[name] = rng.uniform(-0.5, 1.0, rows)
        elif metric.kind == "per_week":
            data[name] = rng.uniform(0, 14, rows)
        else:
            data[name] = rng.uniform(0, 1, rows)
    return pd.DataFrame(data)


def bare_floor(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
    """The floor, written plainly: normalise each column of one matrix, one matrix product."""
    catalogue = load_catalogue()
    tiered = resolve_weighting("tiered").vector
    scored = [name for name in METRICS if catalogue.metrics[name].scored]
    matrix = frame[scored].to_numpy(dtype=np.float64, copy=True)
    combined = np.empty(len(scored))
    for j, name in enumerate(scored):
        metric = catalogue.metrics[name]
        lo, span = metric.norm_offset_span
        column = np.log1p(matrix[:, j]) if metric.scale == "log" else matrix[:, j]
        matrix[:, j] = np.clip((column - lo) / span, 0, 1)
        assert metric.kpi is not None
        kpi = catalogue.kpis[metric.kpi]
        within = sum(catalogue.metrics[m].weight for m in kpi.metrics if m in scored)
        combined[j] = tiered[KPI_IDS.index(metric.kpi)] * metric.weight / within
    return 100.0 * (matrix @ combined)


def timed(function: object, *args: object, repeats: int) -> float:
    assert callable(function)
    times: list[float] = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    frame = make_frame(args.rows)
    ours = score_frame(frame)["overall_score"].to_numpy()
    floor = bare_floor(frame)
    # Same maths on complete data: the floor is an honest baseline, not a different model.
    np.testing.assert_allclose(ours, floor, rtol=1e-9, atol=1e-9)

    floor_s = timed(bare_floor, frame, repeats=args.repeats)
    ours_s = timed(score_frame, frame, repeats=args.repeats)

    input_bytes = int(frame.memory_usage(deep=True).sum())
    gc.collect()
    tracemalloc.start()
    score_frame(frame)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"rows={args.rows:,} metrics={len(METRICS)} repeats={args.repeats} (medians)")
    print(f"bare numpy floor      {floor_s * 1000:8.1f} ms")
    print(f"score_frame           {ours_s * 1000:8.1f} ms")
    print(f"time ratio            {ours_s / floor_s:8.2f}x   (goal <= 2x)")
    print(f"input memory          {input_bytes / 2**20:8.1f} MiB")
    print(f"peak traced in call   {peak / 2**20:8.1f} MiB")
    print(f"memory ratio          {peak / input_bytes:8.2f}x   (goal <= 3x)")


if __name__ == "__main__":
    main()
