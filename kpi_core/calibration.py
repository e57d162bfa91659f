"""Do the score intervals cover what they claim? The masking and rate-calibration experiments.

Both draw from seeds of their caller (the reference population's own seed is kept out of them)
and score through :func:`kpi_core.scoring.score_frame`, so they check the kernel as users run it.
``tests/test_calibration.py`` runs them at a size that keeps the suite fast;
``python -m bench.bench_calibration`` at a larger one, printing every figure.

* :func:`masking_experiment`: fully measured creators of the reference population
  (:func:`kpi_core.demo.reference_population`), scored whole; then each with a random subset of
  its raw fields hidden (keeping a fraction drawn uniformly from 10% to 90%), and again keeping
  only the public fields (followers, views, interactions, posting) or only the shop fields. The
  share of full-data scores inside the masked version's interval is the coverage, reported
  overall and by kept fraction (under 0.4, 0.4 to 0.7, over 0.7). The same is done on a shifted
  population (every count and money field multiplied by an independent log-normal factor with
  sigma 0.5, counts kept whole, every fraction by one with sigma 0.25, clipped to [0, 1]). Mean
  absolute errors of the masked point scores, with missing="benchmark" and "renormalise",
  against the full-data scores say which point estimate is closer.
* :func:`rate_calibration`: true click-through, conversion and refund rates drawn from their
  beta priors, binomial counts drawn from them; the share of true Shop conversion KPI scores
  inside the KPI interval scored from the counts is the coverage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import load_catalogue
from kpi_core.demo import REPORTED, reference_population
from kpi_core.priors import load_priors
from kpi_core.scoring import score_frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PUBLIC_FIELDS",
    "SHOP_FIELDS",
    "MaskingReport",
    "RateReport",
    "masking_experiment",
    "rate_calibration",
    "shifted",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Every raw field of a fully measured creator.
FIELDS: tuple[str, ...] = ("follower_count", *REPORTED)
#: What a public creator table carries: followers, views, interactions, posting.
PUBLIC_FIELDS: tuple[str, ...] = (
    "follower_count",
    "views",
    "likes",
    "comments",
    "shares",
    "saves",
    "posts_per_week",
    "avg_views_per_video",
)
#: What a shop export carries (no follower count): the demo's sales, funnel and TikTok Shop
#: fields, which come first in its reporting order, up to views.
SHOP_FIELDS: tuple[str, ...] = REPORTED[: REPORTED.index("views")]
#: The strata of the kept fraction.
STRATA: tuple[tuple[str, float, float], ...] = (
    ("kept < 0.4", 0.0, 0.4),
    ("kept 0.4-0.7", 0.4, 0.7),
    ("kept > 0.7", 0.7, 1.01),
)


@dataclass(frozen=True, slots=True)
class MaskingReport:
    """Coverages (shares in 0-1) and counts of the masking experiment."""

    level: float
    count: int
    coverage: float
    strata: dict[str, tuple[float, int]]
    public_coverage: float
    shop_coverage: float
    shifted_coverage: float
    mae_benchmark: float
    mae_renormalise: float
    median_width: dict[str, float]


@dataclass(frozen=True, slots=True)
class RateReport:
    level: float
    count: int
    coverage: float
    median_width: float


def _frame(columns: dict[str, FloatArray]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({name: columns[name] for name in FIELDS})


def shifted(columns: dict[str, FloatArray], rng: np.random.Generator) -> dict[str, FloatArray]:
    """The population shifted: counts and money x LogNormal(0, 0.5) (counts kept whole),
    fractions x LogNormal(0, 0.25) clipped to [0, 1]; other fields as they are."""
    catalogue = load_catalogue()
    out = dict(columns)
    for name in FIELDS:
        metric = catalogue.metrics[name]
        values = columns[name]
        if metric.kind in ("count", "money"):
            moved = values * rng.lognormal(0.0, 0.5, len(values))
            out[name] = np.round(moved) if metric.kind == "count" else moved
        elif metric.kind == "fraction":
            out[name] = np.clip(values * rng.lognormal(0.0, 0.25, len(values)), 0.0, 1.0)
    return out


def _covered(truth: FloatArray, masked: pd.DataFrame) -> BoolArray:
    low = masked["score_low"].to_numpy()
    high = masked["score_high"].to_numpy()
    return (truth >= low) & (truth <= high)


def _keeping(frame: pd.DataFrame, kept: tuple[str, ...]) -> pd.DataFrame:
    thin = frame.copy()
    for name in FIELDS:
        if name not in kept:
            thin[name] = np.nan
    return thin


def _masked(frame: pd.DataFrame, keep: BoolArray) -> pd.DataFrame:
    masked = frame.copy()
    for j, name in enumerate(FIELDS):
        masked[name] = np.where(keep[:, j], frame[name].to_numpy(), np.nan)
    return masked


def masking_experiment(seed: int, count: int) -> MaskingReport:
    """The masking experiment on ``count`` creators drawn with ``seed`` (see the module). A
    creator left with nothing scorable by its mask (no score to check) is left out."""
    rng = np.random.default_rng(seed)
    columns = reference_population(seed, count)
    kept_fraction = rng.uniform(0.1, 0.9, count)
    keep = rng.random((count, len(FIELDS))) < kept_fraction[:, None]
    moved = shifted(columns, rng)
    thinned = score_frame(_masked(_frame(columns), keep), intervals=False)
    rows: BoolArray = ~np.isnan(thinned["overall_score"].to_numpy(dtype=np.float64))
    keep = keep[rows]
    full = _frame({name: values[rows] for name, values in columns.items()})
    truth = score_frame(full)["overall_score"].to_numpy()
    masked = score_frame(_masked(full, keep))
    renormalised = score_frame(_masked(full, keep), intervals=False, missing="renormalise")
    inside = _covered(truth, masked)
    kept = keep.mean(axis=1)
    strata: dict[str, tuple[float, int]] = {}
    widths: dict[str, float] = {}
    width = (masked["score_high"] - masked["score_low"]).to_numpy()
    for label, low, high in STRATA:
        stratum = (kept >= low) & (kept < high)
        strata[label] = (float(inside[stratum].mean()), int(stratum.sum()))
        widths[label] = float(np.median(width[stratum]))
    public = score_frame(_keeping(full, PUBLIC_FIELDS))
    shop = score_frame(_keeping(full, SHOP_FIELDS))
    widths["public"] = float(np.median(public["score_high"] - public["score_low"]))
    widths["shop"] = float(np.median(shop["score_high"] - shop["score_low"]))
    moved_full = _frame({name: values[rows] for name, values in moved.items()})
    moved_truth = score_frame(moved_full)["overall_score"].to_numpy()
    moved_masked = score_frame(_masked(moved_full, keep))
    return MaskingReport(
        level=load_catalogue().model.interval_level,
        count=len(truth),
        coverage=float(inside.mean()),
        strata=strata,
        public_coverage=float(_covered(truth, public).mean()),
        shop_coverage=float(_covered(truth, shop).mean()),
        shifted_coverage=float(_covered(moved_truth, moved_masked).mean()),
        mae_benchmark=float(np.mean(np.abs(masked["overall_score"].to_numpy() - truth))),
        mae_renormalise=float(np.mean(np.abs(renormalised["overall_score"].to_numpy() - truth))),
        median_width=widths,
    )


def rate_calibration(seed: int, count: int) -> RateReport:
    """True CTR, conversion and refund rates from their beta priors (mean at the benchmark,
    strength from priors.json), binomial counts from them (impressions log-uniform 300 to
    300K); coverage of the true Shop conversion score by the KPI interval scored from counts."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    strength = load_priors().strength
    catalogue = load_catalogue()

    def prior(name: str) -> FloatArray:
        mean = catalogue.metrics[name].benchmark[0][1]
        return rng.beta(strength[name] * mean, strength[name] * (1.0 - mean), count)

    ctr, cvr, refund = prior("product_ctr"), prior("conversion_rate"), prior("refund_rate")
    impressions = np.round(10.0 ** rng.uniform(2.5, 5.5, count))
    clicks = rng.binomial(impressions.astype(np.int64), ctr).astype(np.float64)
    orders = rng.binomial(clicks.astype(np.int64), cvr).astype(np.float64)
    refunds = rng.binomial(orders.astype(np.int64), refund).astype(np.float64)
    common = {
        "follower_count": np.full(count, 1e5),
        "funnel_completion_rate": rng.uniform(0.01, 0.04, count),
        "cart_abandonment_rate": rng.uniform(0.5, 0.85, count),
    }
    counted = pd.DataFrame(
        {
            **common,
            "product_impressions": impressions,
            "product_clicks": clicks,
            "orders": orders,
            "refund_rate": np.where(orders > 0, refunds / np.maximum(orders, 1.0), 0.0),
        }
    )
    true = pd.DataFrame(
        {**common, "product_ctr": ctr, "conversion_rate": cvr, "refund_rate": refund}
    )
    scored = score_frame(counted, components=True)
    target = score_frame(true)["shop_conversion_score"].to_numpy()
    low = scored["shop_conversion_low"].to_numpy()
    high = scored["shop_conversion_high"].to_numpy()
    return RateReport(
        level=catalogue.model.interval_level,
        count=count,
        coverage=float(((target >= low) & (target <= high)).mean()),
        median_width=float(np.median(high - low)),
    )
