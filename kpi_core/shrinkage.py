"""Noisy rates shrunk toward the benchmark for the creator's size (empirical Bayes).

A rate listed in the catalogue's ``[shrinkage]`` table (conversion is orders over product clicks,
click-through is clicks over impressions, engagement is interactions over views, refunds are over
orders, completions over views, the interaction shares over likes + comments + shares) is
estimated, when its trials ``n`` are known (given or derivable), by the mean of its beta-binomial
posterior: a ``Beta(k b, k (1 - b))`` prior centred on the benchmark ``b`` for the creator's size,
with the prior strength ``k`` fitted on the reference population (``priors.json``), updated with
``rate * n`` successes in ``n`` trials::

    estimate = (rate * n + k * b) / (n + k),   variance = estimate (1 - estimate) / (n + k + 1)

One order from 10 clicks is pulled most of the way to the benchmark; 10,000 from 100,000 clicks
stays at its raw rate. A rate given without its trials is used as given (and the answer says so);
its variance is 0, since nothing says how noisy it is. When follower_count is missing, ``b`` is
the benchmark at the size prior's mean position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import Catalogue
from kpi_core.priors import load_priors, position_of_benchmarks, prior_model, value_at

__all__ = ["ShrunkRates", "shrink_rates"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(slots=True)
class ShrunkRates:
    """Per shrinkable rate present in the input: the estimate used, its trials (NaN where not
    known), the posterior variance of the rate (0 where not shrunk) and where the rate came
    without its trials."""

    estimates: dict[str, FloatArray] = field(default_factory=dict[str, FloatArray])
    trials: dict[str, FloatArray] = field(default_factory=dict[str, FloatArray])
    variance: dict[str, FloatArray] = field(default_factory=dict[str, FloatArray])
    without_trials: dict[str, BoolArray] = field(default_factory=dict[str, BoolArray])


def _trials(values: Mapping[str, FloatArray], names: tuple[str, ...], size: int) -> FloatArray:
    if not all(name in values for name in names):
        return np.full(size, np.nan)
    total = np.zeros(size)
    for name in names:
        total = total + values[name]
    return total


def shrink_rates(
    values: Mapping[str, FloatArray], log10_size: FloatArray, catalogue: Catalogue
) -> ShrunkRates:
    """Shrink every shrinkable rate in ``values`` (rates after derivation; NaN is missing).

    ``log10_size`` is each creator's log10(follower_count), NaN where unknown.
    """
    priors = load_priors()
    model = prior_model()
    size = len(log10_size)
    unknown = np.isnan(log10_size)
    out = ShrunkRates()
    for name, trial_names in catalogue.shrinkage.items():
        raw = values.get(name)
        if raw is None:
            continue
        metric = catalogue.metrics[name]
        trials = _trials(values, trial_names, size)
        known = ~np.isnan(raw) & ~np.isnan(trials)
        out.trials[name] = trials
        out.without_trials[name] = ~np.isnan(raw) & np.isnan(trials)
        if not known.any():
            out.estimates[name] = raw
            out.variance[name] = np.zeros(size)
            continue
        bench_position = position_of_benchmarks(metric, np.where(unknown, 0.0, log10_size))
        if unknown.any():
            j = model.metrics.index(name)
            bench_position[unknown] = model.joint_mean[j]
        bench = np.clip(value_at(metric, bench_position), 0.0, 1.0)
        strength = priors.strength[name]
        with np.errstate(invalid="ignore"):
            estimate = (raw * trials + strength * bench) / (trials + strength)
            variance = estimate * (1.0 - estimate) / (trials + strength + 1.0)
        out.estimates[name] = np.where(known, estimate, raw)
        out.variance[name] = np.where(known, variance, 0.0)
    return out
