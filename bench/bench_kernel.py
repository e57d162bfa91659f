"""Benchmark: ``score_frame`` on 1,000,000 creators against the same model in bare numpy.

The baseline is this model's point score written plainly for the bench's data (every creator
carries the same ~20 metrics, the other metrics missing): positions of the observed metrics, the
one conditioning of the missing ones on them (their prior at the benchmark for each creator's
size, shifted by the clipped residuals of the observed ones, upward shifts halved), the soft
saturation (two-point Gauss-Hermite for the imputed metrics), one matrix product to the KPIs and
one to the overall score. It skips validation, derivation, shrinkage, pattern grouping, coverage
and bands, so it is what no implementation of the model can beat by much: a floor, not a rival.
The bench first checks that both give the same scores (1e-9).

Prints the median wall time of each over several repeats, the point score's ratio to the
baseline (goal: at most 2x), the cost of the intervals separately (``intervals=True`` against
the point score), and the peak memory traced inside ``score_frame`` against the input's
``memory_usage(deep=True)`` (goal: at most 3x).

BLAS runs on one thread on both sides (set before numpy loads): on a shared machine a thread pool
fighting other processes for the cores swings the matrix products by 5x, which measures the
neighbours rather than the code.

    python -m bench.bench_kernel [--rows 1000000] [--repeats 7]
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402 - after the thread settings, which numpy reads on import
import gc  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import pandas as pd  # noqa: E402

from kpi_core.catalogue import KPI_IDS, load_catalogue  # noqa: E402
from kpi_core.estimation import INFLUENCE_SDS  # noqa: E402
from kpi_core.priors import position_of_benchmarks, prior_model  # noqa: E402
from kpi_core.scoring import score_frame  # noqa: E402
from kpi_core.weights import resolve_weighting  # noqa: E402

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
            if name == "follower_count":  # every size known: one pattern of observed metrics
                np.maximum(data[name], 1.0, out=data[name])
        elif metric.kind == "money":
            data[name] = rng.lognormal(4, 2, rows)
        elif metric.kind == "growth":
            data[name] = rng.uniform(-0.5, 1.0, rows)
        elif metric.kind == "per_week":
            data[name] = rng.uniform(0, 14, rows)
        else:
            data[name] = rng.uniform(0, 1, rows)
    return pd.DataFrame(data)


def _saturate(u: npt.NDArray[np.float64], knee: float) -> npt.NDArray[np.float64]:
    inner = np.clip(u, knee, 1.0 - knee)
    d = u - inner
    return inner + knee * d / (np.abs(d) + knee)


def same_model(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
    """The model's point score for the bench's data, in plain numpy (see the module)."""
    catalogue = load_catalogue()
    model = prior_model()
    knee = catalogue.model.saturation_knee
    tiered = resolve_weighting("tiered").vector
    metrics = [catalogue.metrics[name] for name in model.metrics]
    observed = np.array([j for j, m in enumerate(metrics) if m.name in frame.columns])
    conditioning = model.condition(observed, True)
    missing = conditioning.missing
    size = np.log10(frame["follower_count"].to_numpy(dtype=np.float64))
    scores = np.empty((len(frame), len(metrics)))
    residual = np.empty((len(frame), len(observed)))
    limit = INFLUENCE_SDS * model.prior_sd(True)
    for i, j in enumerate(observed):
        metric = metrics[j]
        offset, span = metric.norm_offset_span
        values = frame[metric.name].to_numpy(dtype=np.float64)
        u = ((np.log1p(values) if metric.scale == "log" else values) - offset) / span
        scores[:, j] = _saturate(u, knee)
        residual[:, i] = np.clip(u - position_of_benchmarks(metric, size), -limit[j], limit[j])
    shift = residual @ conditioning.weights.T
    shift = np.where(shift > 0.0, model.upward_evidence * shift, shift)
    for i, j in enumerate(missing):
        mean = position_of_benchmarks(metrics[j], size) + shift[:, i]
        sd = conditioning.sd[i]
        scores[:, j] = 0.5 * (_saturate(mean + sd, knee) + _saturate(mean - sd, knee))
    membership = np.zeros((len(metrics), len(KPI_IDS)))
    for j, metric in enumerate(metrics):
        membership[j, KPI_IDS.index(str(metric.kpi))] = metric.weight
    return (scores @ membership) @ (100.0 * tiered)


def timed(function: Callable[[], object], repeats: int) -> float:
    times: list[float] = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_memory(function: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    frame = make_frame(args.rows)
    ours = score_frame(frame, intervals=False)["overall_score"].to_numpy()
    baseline = same_model(frame)
    # Same maths: the baseline is an honest floor, not a different model.
    np.testing.assert_allclose(ours, baseline, rtol=1e-9, atol=1e-9)

    def point() -> object:
        return score_frame(frame, intervals=False)

    def with_intervals() -> object:
        return score_frame(frame)

    baseline_s = timed(lambda: same_model(frame), args.repeats)
    point_s = timed(point, args.repeats)
    intervals_s = timed(with_intervals, args.repeats)
    input_bytes = int(frame.memory_usage(deep=True).sum())
    point_peak = peak_memory(point)
    intervals_peak = peak_memory(with_intervals)

    print(f"rows={args.rows:,} metrics={len(METRICS)} repeats={args.repeats} (medians)")
    print(f"same model, bare numpy   {baseline_s * 1000:8.1f} ms")
    print(f"score_frame, point       {point_s * 1000:8.1f} ms")
    print(f"score_frame, intervals   {intervals_s * 1000:8.1f} ms")
    print(f"point / baseline         {point_s / baseline_s:8.2f}x   (goal <= 2x)")
    print(f"intervals / point        {intervals_s / point_s:8.2f}x   (the cost of intervals)")
    print(f"input memory             {input_bytes / 2**20:8.1f} MiB")
    print(f"peak traced, point       {point_peak / 2**20:8.1f} MiB")
    print(f"peak traced, intervals   {intervals_peak / 2**20:8.1f} MiB")
    print(f"memory ratio, point      {point_peak / input_bytes:8.2f}x   (goal <= 3x)")
    print(f"memory ratio, intervals  {intervals_peak / input_bytes:8.2f}x")


if __name__ == "__main__":
    main()
