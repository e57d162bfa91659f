"""The maths of the evidence blend: a random-effects summary of recorded lifts, and its update of
an asymmetric prior. Pure functions of numbers; :mod:`~kpi_core.experiments.evidence` applies them.

**Scale.** Lifts are blended on a scale where a catalogue range is closer to symmetric and an
effect cannot pass -100%: ``x = ln(1 + r)`` for a relative lift of a higher-is-better metric,
``x = -ln(1 - r)`` for a lower-is-better one (both the log of the ratio of the metric, in its
better direction), and the lift itself for points of a growth rate. Standard errors follow by the
delta method (``se / (1 + r)`` and ``se / (1 - r)``).

**Random effects** (DerSimonian-Laird): with ``w_i = 1 / s_i^2``, the fixed-effect mean ``m``,
``Q = sum w_i (x_i - m)^2``, ``tau^2 = max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w))``,
``I^2 = max(0, (Q - (k - 1)) / Q)``; the summary is ``mu = sum w*_i x_i / sum w*_i`` with
``w*_i = 1 / (s_i^2 + tau^2)`` and standard error ``1 / sqrt(sum w*_i)``.

**Prior.** The catalogue's ``low / mid / high`` are read as the 2.5%, 50% and 97.5% quantiles of a
split normal on that scale: median ``f(mid)``, a half-normal below with ``sd_low =
(f(mid) - f(low)) / 1.96`` and one above with ``sd_high = (f(high) - f(mid)) / 1.96``, each with
half the mass. So a prior alone reproduces its range exactly, however asymmetric.

**Posterior** of the mean effect: the prior times the normal likelihood of ``mu``. Each half of
the prior times a normal is a scaled normal restricted to that half, so the posterior is a
two-piece mixture of truncated normals, and its quantiles have closed forms (scipy's ``ndtri_exp``
and ``log_ndtr`` keep the far tails exact). The blended range is its 2.5%, 50% and 97.5%
quantiles, mapped back to lifts.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

__all__ = ["PRIOR_Z", "Posterior", "RandomEffects", "SplitNormal", "posterior", "random_effects"]

#: The z of a central 95% interval: the catalogue's range and the blended range are read so.
PRIOR_Z = NormalDist().inv_cdf(0.975)
#: A half of the prior narrower than this (a range with low == mid) is taken as this narrow.
_MIN_SD = 1e-9
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True, slots=True)
class RandomEffects:
    """The random-effects summary of ``k`` estimates."""

    mean: float
    se: float
    tau2: float
    q: float
    i_squared: float
    k: int


def random_effects(estimates: Sequence[tuple[float, float]]) -> RandomEffects:
    """DerSimonian-Laird over ``(estimate, standard error)`` pairs (order does not matter)."""
    weights = [1.0 / se**2 for _, se in estimates]
    total = math.fsum(weights)
    fixed = math.fsum(w * x for w, (x, _) in zip(weights, estimates, strict=True)) / total
    q = math.fsum(w * (x - fixed) ** 2 for w, (x, _) in zip(weights, estimates, strict=True))
    k = len(estimates)
    spread = total - math.fsum(w * w for w in weights) / total
    tau2 = max(0.0, (q - (k - 1)) / spread) if k > 1 and spread > 0.0 else 0.0
    i_squared = max(0.0, (q - (k - 1)) / q) if q > 0.0 else 0.0
    adjusted = [1.0 / (se**2 + tau2) for _, se in estimates]
    summed = math.fsum(adjusted)
    mean = math.fsum(w * x for w, (x, _) in zip(adjusted, estimates, strict=True)) / summed
    return RandomEffects(mean, 1.0 / math.sqrt(summed), tau2, q, i_squared, k)


@dataclass(frozen=True, slots=True)
class SplitNormal:
    """A prior with median ``median``, a normal half of sd ``sd_low`` below, ``sd_high`` above."""

    median: float
    sd_low: float
    sd_high: float

    @classmethod
    def from_quantiles(cls, low: float, mid: float, high: float) -> SplitNormal:
        """The split normal whose 2.5%, 50% and 97.5% quantiles are ``low``, ``mid``, ``high``."""
        return cls(mid, max(_MIN_SD, (mid - low) / PRIOR_Z), max(_MIN_SD, (high - mid) / PRIOR_Z))


def _special() -> Any:
    return importlib.import_module("scipy.special")


@dataclass(frozen=True, slots=True)
class _Piece:
    """One half of the posterior: ``exp(log_scale)`` times N(center, width^2), restricted."""

    log_mass: float  # log of its unnormalised mass on its half-line
    center: float
    width: float
    edge: float  # the standardised split point (m - center) / width


def _piece(prior_sd: float, median: float, mean: float, se: float, below: bool) -> _Piece:
    combined = prior_sd**2 + se**2
    z = (median - mean) / math.sqrt(combined)
    log_scale = -0.5 * z * z - _LOG_SQRT_2PI - 0.5 * math.log(combined)
    width = prior_sd * se / math.sqrt(combined)
    center = (median * se**2 + mean * prior_sd**2) / combined
    edge = (median - center) / width
    log_tail = float(_special().log_ndtr(edge if below else -edge))
    return _Piece(log_scale + log_tail, center, width, edge)


@dataclass(frozen=True, slots=True)
class Posterior:
    """The posterior of the mean effect (see the module docstring)."""

    lower: _Piece
    upper: _Piece
    lower_share: float  # the posterior probability of lying below the prior's median

    def quantile(self, probability: float) -> float:
        special = _special()
        if probability < self.lower_share:
            piece = self.lower
            # Phi((x - c) / w) = probability / share * Phi(edge)
            log_phi = (
                math.log(probability)
                - math.log(self.lower_share)
                + float(special.log_ndtr(piece.edge))
            )
            return piece.center + piece.width * float(special.ndtri_exp(log_phi))
        piece = self.upper
        upper_share = 1.0 - self.lower_share
        # 1 - Phi((x - c) / w) = (1 - probability) / share * (1 - Phi(edge))
        log_tail = (
            math.log(max(1.0 - probability, 1e-300))
            - math.log(upper_share)
            + float(special.log_ndtr(-piece.edge))
        )
        return piece.center - piece.width * float(special.ndtri_exp(min(0.0, log_tail)))


def posterior(prior: SplitNormal, mean: float, se: float) -> Posterior:
    """The split-normal prior updated by one normal observation ``mean`` with ``se``."""
    lower = _piece(prior.sd_low, prior.median, mean, se, below=True)
    upper = _piece(prior.sd_high, prior.median, mean, se, below=False)
    top = max(lower.log_mass, upper.log_mass)
    a, b = math.exp(lower.log_mass - top), math.exp(upper.log_mass - top)
    return Posterior(lower, upper, a / (a + b))
