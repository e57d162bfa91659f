"""An independent oracle of the scoring model, for one creator, written from its definition.

It reads only data (``catalogue.toml``, ``priors.json`` through their loaders) and none of the
kernel's code: derivations, shrinkage, benchmarks, the size prior, the Gaussian conditioning and
the saturation are written again here, plainly, one creator and one metric at a time (dense
numerical integration over sizes instead of the kernel's grid moments; direct submatrix solves
instead of its grouped, vectorised ones). Tests compare the kernel with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import KPI_IDS, Metric, load_catalogue
from kpi_core.priors import load_priors

FloatArray = npt.NDArray[np.float64]

#: Observed positions' relative ridge in the kernel's conditioning (priors.RIDGE, restated).
RIDGE = 1e-3
#: Bounded influence: an observed residual counts at most this many prior SDs (restated).
INFLUENCE_SDS = 4.0


def _formula(name: str, m: dict[str, float]) -> float | None:
    """catalogue.toml's derivation formulas, written out."""

    def get(*keys: str) -> list[float] | None:
        values = [m.get(key) for key in keys]
        return (
            None if any(v is None for v in values) else [float(v) for v in values if v is not None]
        )

    def ratio(num: float, den: float, scale: float = 1.0) -> float | None:
        return num / den * scale if den > 0 else None

    table = {
        "engagement_rate": ("likes", "comments", "shares", "saves", "views"),
        "share_rate": ("shares", "views"),
        "save_rate": ("saves", "views"),
        "likes_ratio": ("likes", "comments", "shares"),
        "comments_ratio": ("likes", "comments", "shares"),
        "shares_ratio": ("likes", "comments", "shares"),
        "avg_order_value": ("gmv", "orders"),
        "product_ctr": ("product_clicks", "product_impressions"),
        "conversion_rate": ("orders", "product_clicks"),
        "gpm": ("gmv", "views"),
        "cpm": ("creator_cost", "views"),
        "cost_to_gmv": ("creator_cost", "gmv"),
        "avg_watch_ratio": ("avg_watch_time_s", "avg_video_duration_s"),
    }
    inputs = get(*table[name])
    if inputs is None:
        return None
    if name == "engagement_rate":
        return ratio(sum(inputs[:4]), inputs[4])
    if name in ("likes_ratio", "comments_ratio", "shares_ratio"):
        part = inputs[("likes_ratio", "comments_ratio", "shares_ratio").index(name)]
        return ratio(part, sum(inputs))
    if name in ("gpm", "cpm"):
        return ratio(inputs[0], inputs[1], 1000.0)
    return ratio(inputs[0], inputs[1])


def _log(metric: Metric, value: float) -> float:
    return math.log1p(value) if metric.scale == "log" else value


def position(metric: Metric, value: float) -> float:
    floor, target = _log(metric, metric.floor), _log(metric, metric.target)
    if metric.scale == "log" and value <= -1.0:
        return -1e6
    return (_log(metric, value) - floor) / (target - floor)


def benchmark(metric: Metric, size: float) -> float:
    """The benchmark at log10 size: anchors interpolated (in log1p for log metrics), flat
    beyond the ends."""
    xs = [x for x, _ in metric.benchmark]
    ys = [_log(metric, y) for _, y in metric.benchmark]
    value = float(np.interp(size, xs, ys)) if len(xs) > 1 else ys[0]
    return math.expm1(value) if metric.scale == "log" else value


def saturate(u: float) -> float:
    knee = load_catalogue().model.saturation_knee
    if u > 1.0 - knee:
        d = u - (1.0 - knee)
        return 1.0 - knee + knee * d / (d + knee)
    if u < knee:
        d = knee - u
        return knee - knee * d / (d + knee)
    return u


@dataclass
class OracleResult:
    overall: float
    kpis: dict[str, float]
    positions: dict[str, float]
    observed: set[str]
    size: float | None


def _prior(scored: list[Metric], size: float | None) -> tuple[FloatArray, FloatArray]:
    """Mean and covariance of the positions (and, for an unknown size, the size last)."""
    catalogue = load_catalogue()
    priors = load_priors()
    sd = np.array(priors.sd)
    covariance = np.array(priors.correlation) * np.outer(sd, sd)
    spread = []
    for metric in scored:
        span = abs(position(metric, metric.target) - position(metric, metric.floor))
        width = abs(_log(metric, metric.target) - _log(metric, metric.floor))
        if metric.scale == "log":
            spread.append(catalogue.model.reporting_spread_log / width * span)
        else:
            spread.append(
                catalogue.model.reporting_spread_linear * abs(benchmark(metric, 5.0)) / width
            )
    covariance += np.diag(np.array(spread) ** 2)
    if size is not None:
        mean = np.array([position(m, benchmark(m, size)) for m in scored])
        return mean, covariance
    low, high = catalogue.model.size_prior
    sizes = low + (high - low) * (np.arange(4000) + 0.5) / 4000  # midpoint rule
    table = np.array([[position(m, benchmark(m, x)) for m in scored] for x in sizes])
    mean = table.mean(axis=0)
    centred = table - mean
    joint = np.zeros((len(scored) + 1, len(scored) + 1))
    joint[:-1, :-1] = covariance + centred.T @ centred / len(sizes)
    cross = centred.T @ (sizes - sizes.mean()) / len(sizes)
    joint[:-1, -1] = cross
    joint[-1, :-1] = cross
    joint[-1, -1] = (high - low) ** 2 / 12.0
    return np.append(mean, sizes.mean()), joint


def _derived(metrics: Mapping[str, object]) -> dict[str, float]:
    """The numeric metrics given, with every derivable missing one derived (and clipped)."""
    catalogue = load_catalogue()
    values = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}
    if "total_revenue" in values:
        values.setdefault("gmv", values.pop("total_revenue"))
    for name in catalogue.derivations:
        if name not in values:
            derived = _formula(name, values)
            if derived is not None:
                metric = catalogue.metrics[name]
                values[name] = min(max(derived, metric.low), metric.high)
    return values


def _shrunk(values: dict[str, float], size: float | None, mean: FloatArray) -> None:
    """Each rate with its trials, shrunk toward its benchmark (the size prior's mean position
    when the size is unknown), in place."""
    catalogue = load_catalogue()
    priors = load_priors()
    for name, trials in catalogue.shrinkage.items():
        if name in values and all(item in values for item in trials):
            n = sum(values[item] for item in trials)
            metric = catalogue.metrics[name]
            at = mean[priors.metrics.index(name)]
            prior_rate = (
                benchmark(metric, size)
                if size is not None
                else metric.floor + at * (metric.target - metric.floor)
            )
            kappa = priors.strength[name]
            values[name] = (values[name] * n + kappa * prior_rate) / (n + kappa)


def _conditioned(
    u: FloatArray, mean: FloatArray, covariance: FloatArray, missing: list[int]
) -> tuple[FloatArray, FloatArray]:
    """Estimates of every position (observed ones as given) and the error SD of the missing."""
    count = len(u)
    observed = [j for j in range(count) if not np.isnan(u[j])]
    estimate = mean.copy()
    estimate[observed] = u[observed]
    if not observed:
        return estimate, np.sqrt(np.diag(covariance))[missing]
    noise = load_catalogue().model.observation_noise
    within = covariance[np.ix_(observed, observed)]
    noisy = within + np.diag((RIDGE + noise) * np.diag(within))
    exact = within + np.diag(RIDGE * np.diag(within))
    across = covariance[np.ix_(observed, missing)]
    regression = np.linalg.solve(noisy, across).T
    for row, j in enumerate(missing):
        if j < count:
            regression[row] = np.maximum(regression[row], 0.0)
    limit = INFLUENCE_SDS * np.sqrt(np.diag(within))
    residual = np.clip(u[observed] - mean[observed], -limit, limit)
    shift = regression @ residual
    upward = load_catalogue().model.upward_evidence
    for row, j in enumerate(missing):
        if j < count and shift[row] > 0:
            shift[row] *= upward
    estimate[missing] = mean[missing] + shift
    explained = regression @ across
    error = (
        covariance[np.ix_(missing, missing)]
        - explained
        - explained.T
        + regression @ exact @ regression.T
    )
    return estimate, np.sqrt(np.maximum(np.diag(error), 0.0))


def oracle_score(
    metrics: Mapping[str, object], weights: dict[str, float] | None = None
) -> OracleResult:
    """The overall score, KPI scores and estimated positions of one creator (missing="benchmark").

    Noisy-rate shrinkage is applied as the catalogue says; the oracle has no intervals.
    """
    catalogue = load_catalogue()
    priors = load_priors()
    values = _derived(metrics)
    followers = values.get("follower_count")
    size = math.log10(followers) if followers is not None and followers >= 1 else None
    scored = [catalogue.metrics[name] for name in priors.metrics]
    mean, covariance = _prior(scored, size)
    _shrunk(values, size, mean)
    u = np.array([position(m, values[m.name]) if m.name in values else np.nan for m in scored])
    missing = [j for j in range(len(scored)) if np.isnan(u[j])]
    if size is None:
        missing.append(len(scored))
    estimate, sd_missing = _conditioned(
        np.append(u, np.nan)[: len(mean)], mean, covariance, missing
    )
    scores: dict[str, float] = {}
    for j, metric in enumerate(scored):
        if not np.isnan(u[j]):
            scores[metric.name] = saturate(u[j])
        else:
            sd = sd_missing[missing.index(j)]
            scores[metric.name] = 0.5 * (saturate(estimate[j] + sd) + saturate(estimate[j] - sd))
    kpis = {
        kpi: math.fsum(
            catalogue.metrics[name].weight * scores[name] for name in catalogue.kpis[kpi].metrics
        )
        for kpi in KPI_IDS
    }
    if weights is None:
        weights = {kpi: catalogue.kpis[kpi].tiered_weight for kpi in KPI_IDS}
    return OracleResult(
        overall=100.0 * math.fsum(weights[kpi] * kpis[kpi] for kpi in KPI_IDS),
        kpis=kpis,
        positions={m.name: float(estimate[j]) for j, m in enumerate(scored)},
        observed={m.name for j, m in enumerate(scored) if not np.isnan(u[j])},
        size=size if size is not None else float(estimate[-1]),
    )
