"""The sample-size kernel of :func:`~kpi_core.experiments.design.design_ab_test`.

For a treatment arm with allocation ratio ``r = a_j / a_0`` and an effect ``e`` on the method's
scale the control arm needs (the formulas of each method are in the design module)::

    n_0 = (q_alpha * sqrt(V_null(r)) + q_beta * sqrt(V_alt(r)))^2 / e^2 * (1 - rho^2)

**Small samples.** ``q`` are normal quantiles; when the smallest arm would hold fewer than 30
units they become Student's t quantiles with ``n_0 + n_j - 2`` degrees of freedom, solved again
until ``n`` is stable (the analysis uses t there too, or an exact test for counts).

**Sequential plans.** An always-valid analysis rejects when the estimate leaves its confidence
sequence, whose half-width at ``N = n_0 + n_j`` units is ``c(N) * se`` with
``c(N) = sqrt(2 S ln(sqrt(S) / alpha) / (N rho^2))``, ``S = N rho^2 + 1`` and GrowthBook's
``rho`` for the tuning ``n*``. The plan's ``n_0`` is the smallest with
``e >= (c(N) + z_beta) * se(n_0)``: the power is reached at the planned maximum, and stopping
earlier (allowed) only adds to it. Its ratio to the fixed-horizon size is the option's cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from kpi_core.experiments.args import Method
from kpi_core.experiments.inference import sequential_rho
from kpi_core.experiments.statistics import t_quantile

__all__ = ["SampleSizeModel", "Sequential", "safe_ceil", "whole_weeks"]

#: Rounds of the small-sample (t quantile) refinement; it settles in two or three.
_T_ROUNDS = 30


def safe_ceil(value: float) -> int:
    """Ceiling that forgives floating-point dust: 14400.000000000002 -> 14400.

    A figure within one part in 10^9 above an integer is that integer (16 * 0.1 * 0.9 / 0.01**2
    is 14400.000000000002 in binary floating point).
    """
    return math.ceil(value - 1e-9 * max(1.0, abs(value)))


def whole_weeks(days: float) -> int:
    """Days rounded up to whole weeks, never under one week."""
    return max(7, 7 * safe_ceil(days / 7))


@dataclass(frozen=True, slots=True)
class Sequential:
    """A sequential plan's level (two-sided, per comparison) and tuning ``n*``."""

    alpha: float
    tuning: float

    def boundary(self, n_total: float) -> float:
        """``c(N)``: the confidence sequence's half-width in standard errors at ``N`` units."""
        rho = sequential_rho(self.alpha, self.tuning)
        spread = n_total * rho**2 + 1.0
        return math.sqrt(
            2.0 * spread * math.log(math.sqrt(spread) / self.alpha) / (n_total * rho**2)
        )


@dataclass(frozen=True, slots=True)
class SampleSizeModel:
    """Everything the per-arm formula needs, as a function of the absolute effect ``delta``."""

    binomial: bool  # viewer-level proportion: binomial variance; otherwise a mean with ``sd``
    method: Method
    baseline: float
    sd: float
    ratios: tuple[float, ...]  # a_j / a_0 for every treatment arm
    z_alpha: float
    z_beta: float
    variance_factor: float  # 1 - rho^2 (CUPED)
    alpha_tail: float  # the one-tail level behind z_alpha (for t quantiles)
    power: float
    sequential: Sequential | None = None

    def terms(self, delta: float, ratio: float) -> tuple[float, float, float]:
        """(effect, null variance, alternative variance), variances per unit of ``n_0``."""
        base = self.baseline
        treated = base + delta
        if not self.binomial:
            if self.method == "relative_lift":
                variance = self.sd**2 / base**2 + self.sd**2 / (ratio * treated**2)
                return math.log(treated / base), variance, variance
            variance = self.sd**2 * (1.0 + 1.0 / ratio)
            return delta, variance, variance
        p0, p1 = base, treated
        alternative = p0 * (1.0 - p0) + p1 * (1.0 - p1) / ratio
        if self.method == "pooled":
            pooled = (p0 + ratio * p1) / (1.0 + ratio)
            return delta, pooled * (1.0 - pooled) * (1.0 + 1.0 / ratio), alternative
        if self.method == "evan_miller":
            return delta, p0 * (1.0 - p0) * (1.0 + 1.0 / ratio), alternative
        if self.method == "cohens_h":
            effect = 2.0 * math.asin(math.sqrt(p1)) - 2.0 * math.asin(math.sqrt(p0))
            return effect, 1.0 + 1.0 / ratio, 1.0 + 1.0 / ratio
        variance = (1.0 - p0) / p0 + (1.0 - p1) / (ratio * p1)
        return math.log(p1 / p0), variance, variance

    def _fixed(self, effect: float, null_variance: float, alternative_variance: float) -> float:
        spread = self.z_alpha * math.sqrt(null_variance) + self.z_beta * math.sqrt(
            alternative_variance
        )
        return (spread / effect) ** 2

    def _sequential(self, effect: float, variance: float, ratio: float, start: float) -> float:
        """The smallest n_0 whose confidence sequence reaches the power (bisection on n_0).

        ``variance`` is per unit of n_0 (CUPED's factor applied); ``start`` is the fixed-horizon
        n_0, below which no sequential plan can go."""
        assert self.sequential is not None
        plan = self.sequential

        def short(n: float) -> bool:  # True while n_0 = n cannot reach the power
            se = math.sqrt(variance / n)
            return effect < (plan.boundary(n * (1.0 + ratio)) + self.z_beta) * se

        low = high = max(start, 1.0)
        while short(high):
            low, high = high, high * 2.0
            if high > 1e18:
                return math.inf
        for _ in range(200):
            middle = (low + high) / 2.0
            if short(middle):
                low = middle
            else:
                high = middle
            if high - low <= 1e-9 * high:
                break
        return high

    def control_n(self, delta: float, *, with_cuped: bool = True) -> float:
        """Units the control arm needs (not rounded) so every comparison reaches the power.

        Infinite when the effect is too small against its noise for floating point (its square
        underflows to 0, or the ratio's square overflows).
        """
        factor = self.variance_factor if with_cuped else 1.0
        largest = 0.0
        for ratio in self.ratios:
            try:
                effect, null_variance, alternative_variance = self.terms(delta, ratio)
                needed = self._fixed(effect, null_variance, alternative_variance) * factor
                if self.sequential is not None:
                    needed = self._sequential(
                        abs(effect), alternative_variance * factor, ratio, needed
                    )
                largest = max(largest, needed)
            except (ZeroDivisionError, OverflowError):
                return math.inf
        return largest

    def for_small_samples(self, delta: float) -> SampleSizeModel:
        """The model with t quantiles when the smallest arm would hold fewer than 30 units
        (itself otherwise), solved again until the size per arm is stable. Sequential plans
        keep z: their confidence sequence is asymptotic."""
        if self.sequential is not None:
            return self
        smallest = min([1.0, *self.ratios])
        units = self.control_n(delta)
        if not math.isfinite(units) or units * smallest >= 30.0:
            return self
        model = self
        fewest = min(self.ratios)  # the treatment arm with the fewest units sets the df
        for _ in range(_T_ROUNDS):
            df = max(2, safe_ceil(units)) + max(2, safe_ceil(units * fewest)) - 2.0
            model = replace(
                self,
                z_alpha=t_quantile(1.0 - self.alpha_tail, df),
                z_beta=t_quantile(self.power, df),
            )
            again = model.control_n(delta)
            if safe_ceil(again) == safe_ceil(units):
                break
            units = again
        return model

    def smallest_delta(self, control_units: float, upper: float | None) -> float | None:
        """The smallest absolute effect detectable with ``control_units`` in the control arm.

        Bisection on ``delta``; ``upper`` bounds it (a treated rate of 1 for a proportion), and
        ``None`` comes back when even that effect is out of reach.
        """
        if upper is not None:
            if self.control_n(upper) > control_units:
                return None
            high = upper
        else:
            high = max(self.sd, abs(self.baseline), 1e-12)
            for _ in range(200):
                if self.control_n(high) <= control_units:
                    break
                high *= 2.0
            else:
                return None
        low = 0.0
        for _ in range(200):
            middle = (low + high) / 2.0
            if self.control_n(middle) <= control_units:
                high = middle
            else:
                low = middle
            if high - low <= 1e-12 * high:
                break
        return high
