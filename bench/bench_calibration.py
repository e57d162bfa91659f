"""Benchmark: do the score intervals cover what they claim? Every figure of issue 15's Done-when.

Runs :func:`kpi_core.calibration.masking_experiment` and :func:`~kpi_core.calibration.
rate_calibration` at a larger size than ``tests/test_calibration.py`` (which checks the thresholds)
and on seeds of its own (neither the reference population's nor the tests'), and prints:

* masking: coverage of the full-data score by the masked version's interval, overall and per
  stratum of the kept fraction (< 0.4, 0.4-0.7, > 0.7), for public-only and shop-only creators,
  and on the shifted population; the median interval width of each; the mean absolute error of
  the masked point scores with ``missing="benchmark"`` and with ``"renormalise"``;
* rate calibration: coverage of the true Shop conversion score by the KPI interval scored from
  binomial counts;
* shrinkage: 1 order from 10 clicks against 100 from 1,000 and 10,000 from 100,000;
* thin data: the ``gmv_only`` creator's interval width against the median of demo creators with
  coverage of 85% or more, and its rank among the demo creators.

    python -m bench.bench_calibration [--count 10000] [--rates 20000]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from kpi_core import score
from kpi_core.calibration import masking_experiment, rate_calibration
from kpi_core.cohorts.cohort import score_cohort
from kpi_core.demo import demo_cohort_rows
from kpi_core.fit_priors import REFERENCE_SEED

#: Seeds of this script only (the tests use 7_100_001 and 7_100_002).
MASKING_SEED = 7_200_001
RATE_SEED = 7_200_002


def _points(share: float) -> str:
    return f"{100 * share:5.1f}%"


def masking(count: int) -> None:
    report = masking_experiment(MASKING_SEED, count)
    level = report.level
    print(f"masking: {report.count:,} creators (seed {MASKING_SEED}), nominal {_points(level)}")
    print(f"  overall coverage        {_points(report.coverage)}  (goal within 5 points)")
    for label, (coverage, rows) in report.strata.items():
        width = report.median_width[label]
        print(
            f"  {label:<23} {_points(coverage)}  n={rows:,}  median width {width:5.1f}"
            "  (goal within 8 points)"
        )
    for label, coverage in (("public", report.public_coverage), ("shop", report.shop_coverage)):
        width = report.median_width[label]
        print(
            f"  {label + ' fields only':<23} {_points(coverage)}  median width {width:5.1f}"
            "  (goal within 8 points)"
        )
    print(f"  shifted population      {_points(report.shifted_coverage)}  (goal within 8 points)")
    print(
        f"  mean absolute error     benchmark {report.mae_benchmark:.2f}, renormalise "
        f"{report.mae_renormalise:.2f} points (goal: benchmark lower)"
    )


def rates(count: int) -> None:
    report = rate_calibration(RATE_SEED, count)
    print(f"rate calibration: {report.count:,} creators (seed {RATE_SEED})")
    print(
        f"  KPI coverage            {_points(report.coverage)}  nominal {_points(report.level)}"
        f"  median width {report.median_width:.3f}  (goal within 3 points)"
    )


def shrinkage() -> None:
    print("shrinkage of conversion_rate (raw 10%; benchmark 3%; 100K followers, 35 per order):")
    for orders, clicks in ((1, 10), (100, 1_000), (10_000, 100_000)):
        metrics: dict[str, Any] = {
            "follower_count": 100_000,
            "gmv": 35.0 * orders,
            "orders": orders,
            "product_clicks": clicks,
        }
        result = score(metrics)
        kpi = next(item for item in result.kpis if item.kpi == "shop_conversion")
        component = next(c for c in kpi.components if c.metric == "conversion_rate")
        width = (kpi.score_high or 0.0) - (kpi.score_low or 0.0)
        print(
            f"  {orders:>6,} / {clicks:>7,} clicks: estimate {component.estimate:.4f}, "
            f"shop_conversion interval width {width:.4f}"
        )


def thin_data() -> None:
    rows = [dict(row) for row in demo_cohort_rows(outcome_fields=False)]
    widths = []
    for row in rows:
        result = score(row)
        if result.coverage >= 0.85:
            widths.append(result.score_interval.high - result.score_interval.low)
    thin = score({"gmv": 60_000})
    width = thin.score_interval.high - thin.score_interval.low
    median = statistics.median(widths)
    print(
        f"gmv_only: {thin.overall_score:.1f} (80% interval {thin.score_interval.low:.1f}-"
        f"{thin.score_interval.high:.1f}), width {width:.1f} = {width / median:.1f}x the median "
        f"{median:.2f} of {len(widths)} demo creators with coverage >= 85% (goal >= 3x)"
    )
    rows.append({"creator_id": "gmv_only", "gmv": 60_000})
    rows.append({"creator_id": "two_metrics", "gmv": 20_000, "conversion_rate": 0.06})
    for sort_by in ("overall_score", "lower_bound"):
        for missing in ("benchmark", "renormalise"):
            ranked = score_cohort(rows, top_n=50, sort_by=sort_by, missing=missing)
            rank = {entry.creator_id: entry.rank for entry in ranked.leaderboard}
            print(
                f"  ranks of 50 by {sort_by:<13} missing={missing:<11}: gmv_only "
                f"{rank['gmv_only']:>2}, two_metrics {rank['two_metrics']:>2}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rates", type=int, default=20_000)
    args = parser.parse_args()
    assert REFERENCE_SEED not in (MASKING_SEED, RATE_SEED)
    masking(args.count)
    rates(args.rates)
    shrinkage()
    thin_data()


if __name__ == "__main__":
    main()
