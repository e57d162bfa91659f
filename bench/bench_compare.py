"""Benchmark: ``compare_cohort`` on 100,000 creators, three schemes, 200 bootstrap resamples.

The cohort is synthetic and vectorised (about 20 metrics touching all 13 KPIs, and a next-period
GMV that follows this period's GMV and content quality with lognormal noise of sigma 0.5, so it
tracks this period's GMV at a Spearman of about 0.986: below the guard's 0.99). The baseline is
one scoring pass over the same frame (``score_frame``, tiered), measured in the same run; the goal
is a comparison (tiered, equal and a 5-fold cross-validated ``fitted``, 200 resamples, the
circularity guard and the naive baseline ranking by current GMV included) within 60 s.

Prints the median wall time of each over a few repeats (run in turns), the median per-turn
ratio, how many progress reports the bootstrap made, and the size in bytes of the default
``compare_weighting`` answer (its structured content as compact JSON) for the README's examples:
the demo cohort against ``next_gmv`` and one demo creator.

    python bench/bench_compare.py [--rows 100000] [--boot 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

from kpi_core.compare import compare_cohort, compare_weighting
from kpi_core.demo import demo_cohort_rows, demo_metrics
from kpi_core.scoring import score_frame

FloatArray = npt.NDArray[np.float64]


def make_cohort(rows: int, seed: int = 11) -> pd.DataFrame:
    """Valid random creators with a ``next_gmv`` outcome (counts whole, fractions in [0, 1])."""
    rng = np.random.default_rng(seed)
    skill = rng.standard_normal(rows)
    quality = rng.standard_normal(rows)
    log10_followers = rng.uniform(3.0, 7.0, rows)
    views = np.round(10 ** (log10_followers + 0.6 + 0.3 * quality))
    ctr = np.clip(0.01 * np.exp(0.4 * skill + 0.2 * rng.standard_normal(rows)), 0.001, 0.1)
    cvr = np.clip(0.03 * np.exp(0.4 * skill + 0.2 * rng.standard_normal(rows)), 0.002, 0.25)
    orders = np.round(views * ctr * cvr)
    gmv = np.round(orders * 35.0 * np.exp(0.15 * rng.standard_normal(rows)), 2)

    def share(center: float, loading: FloatArray, spread: float = 0.1) -> FloatArray:
        return np.clip(center + 0.05 * loading + spread * rng.standard_normal(rows), 0.0, 1.0)

    data: dict[str, FloatArray] = {
        "follower_count": np.round(10**log10_followers),
        "gmv": gmv,
        "orders": orders,
        "views": views,
        "gmv_growth_rate": rng.normal(0.05, 0.2, rows),
        "product_ctr": ctr,
        "conversion_rate": cvr,
        "cart_abandonment_rate": share(0.7, -skill),
        "shoppable_video_count": np.round(rng.lognormal(2.0, 0.8, rows)),
        "engagement_rate": np.clip(
            0.03 * np.exp(0.3 * quality + 0.2 * rng.standard_normal(rows)), 0, 1
        ),
        "posts_per_week": rng.uniform(0.0, 10.0, rows),
        "completion_rate": share(0.45, quality),
        "follower_growth_rate": rng.normal(0.04, 0.05, rows),
        "fyp_traffic_share": share(0.6, quality),
        "audience_match": share(0.6, np.zeros(rows)),
        "brand_safety_score": share(0.85, np.zeros(rows), 0.05),
        "trending_sound_share": share(0.2, np.zeros(rows)),
        "visual_quality_score": share(0.6, quality),
        "avg_views_per_video": np.round(views / rng.uniform(8.0, 30.0, rows)),
        "cpm": 12.0 * np.exp(0.4 * rng.standard_normal(rows)),
    }
    data["next_gmv"] = np.round(gmv * np.exp(0.05 * quality + 0.5 * rng.standard_normal(rows)), 2)
    return pd.DataFrame(data)


def seconds(run: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def interleaved(
    baseline: Callable[[], object], measured: Callable[[], object], repeats: int
) -> tuple[float, float, float]:
    """Median times of ``baseline`` and ``measured`` run in turns, and the median of the
    per-turn ratios (a turn's two runs see the same load on a noisy machine)."""
    pairs = [(seconds(baseline), seconds(measured)) for _ in range(repeats)]
    return (
        statistics.median(base for base, _ in pairs),
        statistics.median(run for _, run in pairs),
        statistics.median(run / base for base, run in pairs),
    )


def answer_sizes() -> dict[str, int]:
    """Bytes of the default answer's structured content for the README's examples."""
    examples = {
        "demo cohort, equal vs tiered, next_gmv": compare_weighting(
            creators=demo_cohort_rows(), schemes=["equal", "tiered"], outcome="next_gmv"
        ),
        "one demo creator (demo_food_01)": compare_weighting(metrics=demo_metrics("demo_food_01")),
    }
    return {
        name: len(json.dumps(result.model_dump(mode="json"), separators=(",", ":")))
        for name, result in examples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--boot", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    frame = make_cohort(args.rows)
    reports: list[float] = []

    def compare() -> None:
        reports.clear()
        result = compare_cohort(
            frame,
            ("tiered", "equal", "fitted"),
            outcome="next_gmv",
            n_boot=args.boot,
            progress=lambda done, total: reports.append(done / total),
        )
        assert result.count == args.rows, result.rejected[:3]

    scoring_s, compare_s, ratio = interleaved(lambda: score_frame(frame), compare, args.repeats)

    print(f"rows={args.rows:,} schemes=tiered,equal,fitted resamples={args.boot} folds=5")
    print(f"repeats={args.repeats} (medians; the two run in turns)")
    print(f"one scoring pass (score_frame)   {scoring_s * 1000:9.1f} ms")
    print(f"compare_cohort                   {compare_s * 1000:9.1f} ms   (goal <= 60000 ms)")
    print(f"ratio to one scoring pass        {ratio:9.1f}x   (median of the per-turn ratios)")
    print(f"progress reports per call        {len(reports):9d}")
    for name, size in answer_sizes().items():
        print(f"default answer, {name}: {size:,} bytes (goal <= 4096)")


if __name__ == "__main__":
    main()
