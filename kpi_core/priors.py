"""The priors of the scoring model: what a missing metric is expected to be, and how sure.

A scored metric's *position* is ``u = (t(x) - t(floor)) / (t(target) - t(floor))`` (``t`` is
``log1p`` for log-scaled metrics), the scale on which its benchmark interpolates linearly in
log10(follower_count). The model, per creator, over the positions of the scored metrics:

* **size known** (``follower_count`` given): ``u = b(x) + r`` with ``b(x)`` the catalogue's
  benchmarks at ``x = log10(follower_count)`` and residuals ``r ~ N(0, R)``, ``R`` fitted on the
  reference population (``data/priors.json``, written by ``python -m kpi_core.fit_priors``);
* **size unknown**: ``x`` is drawn from the reference population's sizes (log-uniform over
  ``[model] size_prior`` of the catalogue), so ``(u, x)`` has mean ``(E b(x), E x)`` and
  covariance ``[[R + Cov b(x), Cov(b(x), x)], [., Var x]]`` (moments over a fine grid of sizes):
  the observed metrics that imply size (views, GMV...) move the estimate of the missing ones, and
  the interval includes the unknown size.

:meth:`PriorModel.condition` conditions the missing positions on the observed ones for one
pattern of missing metrics (:class:`Conditioning`). Every number here is data with its source;
nothing is read at import time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import Catalogue, Metric, load_catalogue
from kpi_core.errors import ConfigurationError

__all__ = [
    "PRIORS_FILE",
    "SIZE_GRID_STEP",
    "Conditioning",
    "PriorModel",
    "Priors",
    "load_priors",
    "position",
    "position_of_benchmarks",
    "prior_model",
    "value_at",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: The fitted priors, inside the ``kpi_core`` package.
PRIORS_FILE = "data/priors.json"

#: Step of the size grid (log10 followers). Every benchmark anchor of the catalogue lies on it, so
#: interpolating positions on the grid is exact (positions are linear between anchors).
SIZE_GRID_STEP = 0.05

#: Measurement-noise floor added to each observed position's variance, relative to its prior
#: variance: keeps the conditioning well posed when derived metrics repeat their inputs (gpm is
#: gmv over views). Assumption.
RIDGE = 1e-3


@dataclass(frozen=True, slots=True)
class Priors:
    """What ``data/priors.json`` holds: the fit's provenance and its figures."""

    source: str
    command: str
    seed: int
    count: int
    model_version: str
    #: Scored metrics, in the order of ``sd`` and ``correlation``.
    metrics: tuple[str, ...]
    #: Standard deviation of each position around its benchmark (residual spread).
    sd: tuple[float, ...]
    #: Residual correlations, row by row.
    correlation: tuple[tuple[float, ...], ...]
    #: Mean residual of each position (the benchmark's remaining offset from the population).
    offset: tuple[float, ...]
    #: Beta-binomial prior strength of each shrunk rate.
    strength: dict[str, float]


@cache
def load_priors() -> Priors:
    """Read ``data/priors.json`` once and check it matches the catalogue's scored metrics."""
    text = resources.files("kpi_core").joinpath(PRIORS_FILE).read_text("utf-8")
    raw = cast("dict[str, Any]", json.loads(text))
    catalogue = load_catalogue()
    metrics = tuple(str(name) for name in raw["metrics"])
    expected = tuple(metric.name for metric in catalogue.scored_metrics)
    if metrics != expected:
        raise ConfigurationError(
            "priors.metrics",
            "must list the catalogue's scored metrics in order; run python -m kpi_core.fit_priors",
            metrics,
        )
    figures = cast("dict[str, dict[str, Any]]", raw["metric"])
    correlation = tuple(
        tuple(float(value) for value in row)
        for row in cast("list[list[float]]", raw["correlation"])
    )
    return Priors(
        source=str(raw["source"]),
        command=str(raw["command"]),
        seed=int(raw["seed"]),
        count=int(raw["count"]),
        model_version=str(raw["model_version"]),
        metrics=metrics,
        sd=tuple(float(figures[name]["sd"]) for name in metrics),
        correlation=correlation,
        offset=tuple(float(figures[name]["offset"]) for name in metrics),
        strength={
            name: float(value) for name, value in cast("dict[str, float]", raw["strength"]).items()
        },
    )


def position(metric: Metric, values: FloatArray) -> FloatArray:
    """Each value's position between the metric's floor (0) and target (1), unbounded; a new
    array (NaN stays NaN; a log-scaled growth of -100% is -inf)."""
    offset, span = metric.norm_offset_span
    if metric.scale == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.log1p(values)
        scaled -= offset
    else:
        scaled = values - offset
    scaled /= span
    return scaled


def value_at(metric: Metric, positions: FloatArray) -> FloatArray:
    """The metric value at each position (the inverse of :func:`position`)."""
    offset, span = metric.norm_offset_span
    transformed = offset + positions * span
    if metric.scale == "log":
        with np.errstate(over="ignore"):
            return np.expm1(transformed)
    return transformed


def position_of_benchmarks(metric: Metric, log10_followers: FloatArray) -> FloatArray:
    """The position of the metric's benchmark at each size: linear between anchors, flat
    beyond the end anchors."""
    xs = np.array([x for x, _ in metric.benchmark])
    ys = np.array([metric.transform(y) for _, y in metric.benchmark])
    offset, span = metric.norm_offset_span
    ys = (ys - offset) / span
    if len(xs) == 1:
        return np.full(np.shape(log10_followers), ys[0])
    return np.interp(log10_followers, xs, ys)


@dataclass(frozen=True, slots=True)
class Conditioning:
    """The model for one pattern of observed metrics.

    ``observed`` and ``missing`` index the scored metrics; for an unknown size, the last entry of
    ``missing`` is the size itself (index ``len(metrics)``). A missing position's estimate is
    ``prior_m + (u_o - prior_o) @ weights.T`` with ``weights`` (missing x observed) the Gaussian
    regression coefficients (with the observed positions taken as measured with the ``[model]``
    observation noise), clipped at 0 for metrics so that a better observed value never lowers an
    estimate; ``covariance`` is the error covariance of those estimates (missing x missing) and
    ``precision`` the inverse covariance of the observed positions (for the Mahalanobis distance
    that scales the covariance under the multivariate-t prior).
    """

    observed: IntArray
    missing: IntArray
    weights: FloatArray
    covariance: FloatArray
    sd: FloatArray
    precision: FloatArray


@dataclass(frozen=True, slots=True)
class PriorModel:
    """The priors as arrays, in the order of the catalogue's scored metrics."""

    metrics: tuple[str, ...]
    #: Residual covariance (size known), metrics x metrics.
    residual: FloatArray
    #: Covariance of (positions, log10 size) when the size is unknown, (M+1) x (M+1).
    joint: FloatArray
    #: Mean of (positions, log10 size) over the size prior.
    joint_mean: FloatArray
    #: Benchmark positions on the size grid (grid points x metrics).
    grid_positions: FloatArray
    grid_low: float
    #: Indices of metrics whose benchmark depends on size.
    size_dependent: IntArray
    #: Their grid positions, and the steps between neighbouring grid points.
    grid_dependent: FloatArray
    grid_steps: FloatArray
    #: Each metric's column in ``grid_dependent`` (-1 where its benchmark is a constant).
    dependent_column: IntArray
    #: ``[model]`` settings used by the conditioning.
    observation_noise: float
    degrees_of_freedom: float
    upward_evidence: float

    @property
    def size(self) -> int:
        return len(self.metrics)

    def prior_sd(self, size_known: bool) -> FloatArray:
        """Each position's prior standard deviation (around the benchmark when the size is
        known; over the size prior too when it is not)."""
        covariance = self.residual if size_known else self.joint[: self.size, : self.size]
        return np.sqrt(np.diag(covariance))

    def prior_positions(
        self, log10_followers: FloatArray, columns: IntArray | None = None
    ) -> FloatArray:
        """Benchmark positions at each size (rows x metrics, or x ``columns`` of them), from the
        grid (exact: every anchor lies on the grid and positions are linear between anchors)."""
        steps = (log10_followers - self.grid_low) / SIZE_GRID_STEP
        last = len(self.grid_positions) - 1
        np.clip(steps, 0.0, float(last), out=steps)
        below = np.minimum(steps.astype(np.intp), last - 1)
        fraction = (steps - below)[:, None]
        chosen = np.arange(self.size) if columns is None else columns
        out = np.empty((len(log10_followers), len(chosen)))
        inner = self.dependent_column[chosen]  # -1: the metric's benchmark is a constant
        constant = inner < 0
        out[:, constant] = self.grid_positions[0, chosen[constant]]
        wanted = inner[~constant]
        between = self.grid_steps[:, wanted][below]  # high - low, as the grid's steps were
        between *= fraction
        between += self.grid_dependent[:, wanted][below]
        out[:, ~constant] = between
        return out

    def condition(self, observed: IntArray, size_known: bool) -> Conditioning:
        """Condition the missing positions (and the size, when unknown) on the observed ones."""
        count = self.size
        if size_known:
            covariance = self.residual
            missing = np.setdiff1d(np.arange(count), observed)
        else:
            covariance = self.joint
            missing = np.append(np.setdiff1d(np.arange(count), observed), count)
        across = covariance[np.ix_(observed, missing)]
        within = covariance[np.ix_(observed, observed)]
        variances = np.diag(within)
        exact = within + np.diag(RIDGE * variances)
        among = covariance[np.ix_(missing, missing)]
        if len(observed) == 0:
            weights = np.zeros((len(missing), 0))
            error = among.copy()
            precision = np.zeros((0, 0))
        else:
            noisy = within + np.diag((RIDGE + self.observation_noise) * variances)
            weights = np.linalg.solve(noisy, across).T
            metric_rows = missing < count
            weights[metric_rows] = np.maximum(weights[metric_rows], 0.0)
            explained = weights @ across
            error = among - explained - explained.T + weights @ exact @ weights.T
            precision = np.linalg.inv(exact)
        error = 0.5 * (error + error.T)
        sd = np.sqrt(np.maximum(np.diag(error), 0.0))
        return Conditioning(
            observed=observed,
            missing=missing,
            weights=np.asarray(weights, dtype=np.float64),
            covariance=np.asarray(error, dtype=np.float64),
            sd=np.asarray(sd, dtype=np.float64),
            precision=np.asarray(precision, dtype=np.float64),
        )


def _size_grid(catalogue: Catalogue) -> FloatArray:
    """Sizes from the lowest to the highest of the size prior and every anchor, on the grid."""
    low, high = catalogue.model.size_prior
    anchors = [x for m in catalogue.scored_metrics if m.size_dependent for x, _ in m.benchmark]
    start = min(low, *anchors)
    stop = max(high, *anchors)
    for metric in catalogue.scored_metrics:
        for anchor, _ in metric.benchmark if metric.size_dependent else ():
            steps = (anchor - start) / SIZE_GRID_STEP
            if not math.isclose(steps, round(steps), abs_tol=1e-9):
                raise ConfigurationError(
                    f"metrics.{metric.name}.benchmark",
                    f"anchors must lie on the {SIZE_GRID_STEP} grid of log10 followers",
                    anchor,
                )
    steps = round((stop - start) / SIZE_GRID_STEP) + 1
    return start + SIZE_GRID_STEP * np.arange(steps, dtype=np.float64)


def _reporting_spread(scored: list[Metric], catalogue: Catalogue) -> FloatArray:
    """Each metric's reporting spread in positions: ``[model] reporting_spread_log`` log units for
    log-scaled metrics, ``reporting_spread_linear`` of the benchmark at 100K followers else."""
    settings = catalogue.model
    spread: list[float] = []
    for metric in scored:
        span = abs(metric.norm_offset_span[1])
        if metric.scale == "log":
            spread.append(settings.reporting_spread_log / span)
        else:
            xs = [x for x, _ in metric.benchmark]
            ys = [y for _, y in metric.benchmark]
            typical = float(np.interp(5.0, xs, ys))
            spread.append(settings.reporting_spread_linear * abs(typical) / span)
    return np.array(spread, dtype=np.float64)


def _simpson(low: float, high: float) -> tuple[FloatArray, FloatArray]:
    """Sizes and weights of composite Simpson's rule for the uniform size prior on [low, high],
    one panel per grid step: exact for the moments used, since positions are linear and their
    products quadratic between grid points."""
    panels = round((high - low) / SIZE_GRID_STEP)
    sizes: FloatArray = low + (SIZE_GRID_STEP / 2.0) * np.arange(2 * panels + 1, dtype=np.float64)
    weights = np.zeros(len(sizes))
    for panel in range(panels):
        weights[2 * panel : 2 * panel + 3] += np.array([1.0, 4.0, 1.0]) / (6.0 * panels)
    return sizes, weights


def _columns_of(dependent: IntArray, count: int) -> IntArray:
    columns = np.full(count, -1, dtype=np.intp)
    columns[dependent] = np.arange(len(dependent), dtype=np.intp)
    return columns


@cache
def prior_model() -> PriorModel:
    """The priors as arrays (built once per process from the catalogue and ``priors.json``)."""
    catalogue = load_catalogue()
    priors = load_priors()
    scored = [catalogue.metrics[name] for name in priors.metrics]
    sd = np.array(priors.sd)
    residual = np.array(priors.correlation) * np.outer(sd, sd)
    residual += np.diag(_reporting_spread(scored, catalogue) ** 2)
    grid = _size_grid(catalogue)
    grid_positions = np.column_stack([position_of_benchmarks(m, grid) for m in scored])
    low, high = catalogue.model.size_prior
    sizes, weights = _simpson(low, high)
    at_sizes = np.column_stack([position_of_benchmarks(m, sizes) for m in scored])
    mean_positions = weights @ at_sizes
    mean_size = float(weights @ sizes)
    centred = at_sizes - mean_positions
    size_cov = (centred * weights[:, None]).T @ centred
    size_var = (high - low) ** 2 / 12.0
    cross = (centred * weights[:, None]).T @ (sizes - mean_size)
    count = len(scored)
    joint = np.empty((count + 1, count + 1))
    joint[:count, :count] = residual + size_cov
    joint[:count, count] = cross
    joint[count, :count] = cross
    joint[count, count] = size_var
    dependent = np.array(
        [j for j, metric in enumerate(scored) if metric.size_dependent], dtype=np.intp
    )
    grid_dependent = grid_positions[:, dependent]
    return PriorModel(
        metrics=priors.metrics,
        residual=residual,
        joint=joint,
        joint_mean=np.append(mean_positions, mean_size),
        grid_positions=grid_positions,
        grid_low=float(grid[0]),
        size_dependent=dependent,
        grid_dependent=grid_dependent,
        grid_steps=grid_dependent[1:] - grid_dependent[:-1],
        dependent_column=_columns_of(dependent, count),
        observation_noise=catalogue.model.observation_noise,
        degrees_of_freedom=catalogue.model.prior_degrees_of_freedom,
        upward_evidence=catalogue.model.upward_evidence,
    )
