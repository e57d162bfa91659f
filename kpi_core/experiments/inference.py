"""How a comparison is tested: test types that take two statistics (as GrowthBook's ``gbstats``).

Every test gives a p-value and, at any level, the interval that inverts it on its own scale, so
the interval excludes the null exactly when ``p <= alpha``:

* :class:`WaldTest` - ``(estimate - null) / se`` against Student's t (Welch, ANCOVA) or the
  normal; on the absolute or the log-ratio scale. Intervals ``estimate -+ q se``.
* :class:`ScoreTest` - proportions: the pooled two-proportion z-test. Its interval inverts the
  same statistic (Farrington-Manning score test of ``p1 - p0 = d``, whose restricted maximum-
  likelihood rates at ``d = 0`` are the pooled rate), so it never disagrees with the pooled p.
* :class:`FisherTest` - proportions with an expected cell count below 10: Fisher's exact test,
  two-sided as twice the smaller tail (the "central" p-value), with the exact conditional
  interval of the odds ratio, which inverts exactly those tails.
* :class:`SequentialTest` - always valid (peeking allowed): the asymptotic confidence sequence
  of Waudby-Smith et al. (2023, eq. 9) and its p-value (eq. 155), with the tuning parameter
  ``n*`` of GrowthBook (default 5000): ``rho = sqrt((-2 ln a + ln(1 - 2 ln a)) / n*)``.

One-sided tests (``sides=1``) test an improvement in the metric's better direction
(``improvement``: ``increase`` or ``decrease``); their interval is open on the other side
(``None``). The one-sided sequential test uses the two-sided sequence's bound (conservative).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any, Literal

from kpi_core.experiments.args import Direction, Sides
from kpi_core.experiments.statistics import (
    Effect,
    ProportionStatistic,
    t_cdf,
    t_quantile,
    t_sf,
    z_quantile,
)

__all__ = [
    "DEFAULT_SEQUENTIAL_TUNING",
    "Bounds",
    "FisherTest",
    "ScoreTest",
    "SequentialTest",
    "TestScale",
    "WaldTest",
    "sequential_rho",
]

#: GrowthBook's default tuning parameter of the confidence sequence (the sample size at which it
#: is tightest).
DEFAULT_SEQUENTIAL_TUNING = 5000.0

TestScale = Literal["absolute", "log_ratio", "odds_ratio"]
#: (low, high) of an interval; None where it is open (the far side of a one-sided test).
Bounds = tuple[float | None, float | None]


def _tail_p(statistic: float, df: float | None, sides: Sides, improvement: Direction) -> float:
    """The p-value of ``statistic``: two-sided, or the tail of the improvement."""
    if sides == 2:
        return min(1.0, 2.0 * t_sf(abs(statistic), df))
    if improvement == "increase":
        return t_sf(statistic, df)
    return t_cdf(statistic, df)


@dataclass(frozen=True, slots=True)
class WaldTest:
    """``(estimate - null) / se`` against t (``effect.df``) or the normal."""

    effect: Effect
    sides: Sides
    improvement: Direction
    scale: TestScale = "absolute"
    null: float = 0.0

    @property
    def statistic(self) -> float:
        return (self.effect.estimate - self.null) / self.effect.se

    @property
    def df(self) -> float | None:
        return self.effect.df

    def p_value(self) -> float:
        return _tail_p(self.statistic, self.effect.df, self.sides, self.improvement)

    def interval(self, alpha: float) -> Bounds:
        estimate, se = self.effect.estimate, self.effect.se
        if self.sides == 2:
            half = t_quantile(1.0 - alpha / 2.0, self.effect.df) * se
            return estimate - half, estimate + half
        reach = t_quantile(1.0 - alpha, self.effect.df) * se
        if self.improvement == "increase":
            return estimate - reach, None
        return None, estimate + reach


def _restricted_rates(
    treatment: ProportionStatistic, control: ProportionStatistic, difference: float
) -> tuple[float, float]:
    """The maximum-likelihood rates under ``p_t - p_c = difference`` (Farrington-Manning 1990,
    the closed form of the cubic of Miettinen-Nurminen 1985)."""
    p1, p2 = treatment.mean, control.mean
    theta = control.n / treatment.n
    d = difference
    a = 1.0 + theta
    b = -(1.0 + theta + p1 + theta * p2 + d * (theta + 2.0))
    c = d * d + d * (2.0 * p1 + theta + 1.0) + p1 + theta * p2
    e = -p1 * d * (1.0 + d)
    v = b**3 / (27.0 * a**3) - b * c / (6.0 * a * a) + e / (2.0 * a)
    radicand = max(0.0, b * b / (9.0 * a * a) - c / (3.0 * a))
    u = math.copysign(math.sqrt(radicand), v)
    if u == 0.0:
        rate = -b / (3.0 * a)
    else:
        w = (math.pi + math.acos(max(-1.0, min(1.0, v / u**3)))) / 3.0
        rate = 2.0 * u * math.cos(w) - b / (3.0 * a)
    rate = min(1.0, max(0.0, rate))
    return rate, min(1.0, max(0.0, rate - d))


@dataclass(frozen=True, slots=True)
class ScoreTest:
    """The pooled two-proportion z-test and the score interval that inverts it."""

    control: ProportionStatistic
    treatment: ProportionStatistic
    sides: Sides
    improvement: Direction
    scale: TestScale = "absolute"
    df: float | None = None

    def score(self, difference: float) -> float:
        """The score statistic for ``p_t - p_c = difference`` (the pooled z at 0)."""
        observed = self.treatment.mean - self.control.mean - difference
        rate_t, rate_c = _restricted_rates(self.treatment, self.control, difference)
        variance = rate_t * (1.0 - rate_t) / self.treatment.n + rate_c * (1.0 - rate_c) / (
            self.control.n
        )
        if variance <= 0.0:
            return 0.0 if observed == 0.0 else math.copysign(math.inf, observed)
        return observed / math.sqrt(variance)

    @property
    def statistic(self) -> float:
        return self.score(0.0)

    def p_value(self) -> float:
        return _tail_p(self.statistic, None, self.sides, self.improvement)

    def _root(self, target: float, low: float, high: float) -> float:
        """The difference in [low, high] where the score (decreasing in it) equals ``target``."""
        for _ in range(200):
            middle = (low + high) / 2.0
            if self.score(middle) > target:
                low = middle
            else:
                high = middle
            if high - low <= 1e-15:
                break
        return (low + high) / 2.0

    def interval(self, alpha: float) -> Bounds:
        estimate = self.treatment.mean - self.control.mean
        floor, ceiling = -self.control.mean, 1.0 - self.control.mean
        two = self.sides == 2
        q = z_quantile(1.0 - alpha / 2.0) if two else z_quantile(1.0 - alpha)
        low = self._root(q, floor, estimate) if estimate > floor else floor
        high = self._root(-q, estimate, ceiling) if estimate < ceiling else ceiling
        if two:
            return low, high
        return (low, None) if self.improvement == "increase" else (None, high)


def _scipy_stats() -> Any:
    return importlib.import_module("scipy.stats")


@dataclass(frozen=True, slots=True)
class FisherTest:
    """Fisher's exact test with the exact conditional interval of the odds ratio.

    Two-sided, the p-value is the *central* one: twice the smaller one-sided tail (capped at 1),
    not scipy's default, which sums every table as unlikely as the observed one (3/50 vs 9/52:
    central 0.140, scipy's 0.123). The central test is the one that the central conditional
    interval inverts, so the test and its interval always agree.
    """

    control: ProportionStatistic
    treatment: ProportionStatistic
    sides: Sides
    improvement: Direction
    scale: TestScale = "odds_ratio"
    df: float | None = None

    def _table(self) -> list[list[int]]:
        t, c = self.treatment, self.control
        return [[t.conversions, t.n - t.conversions], [c.conversions, c.n - c.conversions]]

    @property
    def statistic(self) -> float:
        """The conditional maximum-likelihood odds ratio (treatment against control)."""
        found = _scipy_stats().contingency.odds_ratio(self._table(), kind="conditional")
        return float(found.statistic)

    def _tail(self, alternative: str) -> float:
        return float(_scipy_stats().fisher_exact(self._table(), alternative=alternative).pvalue)

    def p_value(self) -> float:
        if self.sides == 1:
            return self._tail("greater" if self.improvement == "increase" else "less")
        return min(1.0, 2.0 * min(self._tail("less"), self._tail("greater")))

    def interval(self, alpha: float) -> Bounds:
        if self.sides == 2:
            alternative = "two-sided"
        else:
            alternative = "greater" if self.improvement == "increase" else "less"
        found = _scipy_stats().contingency.odds_ratio(self._table(), kind="conditional")
        bounds = found.confidence_interval(confidence_level=1.0 - alpha, alternative=alternative)
        low, high = float(bounds.low), float(bounds.high)
        return (low if low > 0.0 else None, high if math.isfinite(high) else None)


def sequential_rho(alpha: float, tuning: float) -> float:
    """The mixture's spread for level ``alpha`` and tuning ``n*`` (Waudby-Smith et al., eq. 161)."""
    return math.sqrt((-2.0 * math.log(alpha) + math.log(1.0 - 2.0 * math.log(alpha))) / tuning)


def sequential_half_width(se: float, n_total: int, alpha: float, tuning: float) -> float:
    """Half the width of the asymptotic confidence sequence at ``n_total`` units (eq. 9)."""
    rho = sequential_rho(alpha, tuning)
    spread = n_total * rho**2 + 1.0
    variance = se**2 * n_total  # the variance of one unit's contribution
    return math.sqrt(variance) * math.sqrt(
        2.0 * spread * math.log(math.sqrt(spread) / alpha) / (n_total * rho) ** 2
    )


@dataclass(frozen=True, slots=True)
class SequentialTest:
    """The always-valid test at level ``alpha`` (see the module docstring)."""

    effect: Effect
    sides: Sides
    improvement: Direction
    alpha: float
    tuning: float = DEFAULT_SEQUENTIAL_TUNING
    scale: TestScale = "absolute"
    df: float | None = None

    @property
    def statistic(self) -> float:
        return self.effect.estimate / self.effect.se

    def _two_sided_p(self) -> float:
        n_total = self.effect.n_total
        rho = sequential_rho(self.alpha, self.tuning)
        spread = n_total * rho**2 + 1.0
        # gbstats' st2: the squared estimate over its variance, times the units
        standardised = self.effect.estimate**2 * n_total / self.effect.se**2
        log_evidence = rho**2 * standardised / (2.0 * spread) - 0.5 * math.log(spread)
        return 1.0 if log_evidence <= 0.0 else min(1.0, math.exp(-log_evidence))

    def p_value(self) -> float:
        if self.sides == 2:
            return self._two_sided_p()
        improving = (self.effect.estimate > 0.0) == (self.improvement == "increase")
        return self._two_sided_p() if improving and self.effect.estimate != 0.0 else 1.0

    def interval(self, alpha: float) -> Bounds:
        half = sequential_half_width(self.effect.se, self.effect.n_total, alpha, self.tuning)
        low, high = self.effect.estimate - half, self.effect.estimate + half
        if self.sides == 2:
            return low, high
        return (low, None) if self.improvement == "increase" else (None, high)
