"""What was measured in each arm: statistic types built from the sums a warehouse query returns.

As in GrowthBook's ``gbstats``, what was measured is kept apart from how it is tested
(:mod:`kpi_core.experiments.inference`). Each statistic exposes ``n``, ``mean`` (the arm's
estimate) and ``variance`` (of one unit's value), and :func:`effect` turns any two of them into
one estimated difference with its standard error on the absolute or the log-ratio scale.

* :class:`ProportionStatistic` - ``conversions`` out of ``n``: ``p``, variance ``p (1 - p)``.
* :class:`SampleMeanStatistic` - from ``mean``/``sd`` or from ``sum``/``sum_squares``.
* :class:`RatioStatistic` - a ratio of two per-unit sums (GMV per viewer, orders per click), with
  the delta-method variance ``(v_m - 2 R c_md + R^2 v_d) / d^2`` per unit (``R = m / d``).
* :class:`RegressionAdjustedStatistic` - CUPED: the metric adjusted by a pre-period covariate
  with the *pooled within-arm* slope ``theta = sum S_xy / sum S_xx`` over all arms, so that the
  difference of adjusted means is the ANCOVA estimate (OLS of the metric on arm dummies and the
  covariate), with the ANCOVA's residual variance ``sigma^2 = (S_yy - theta S_xy) / (N - k - 1)``
  and ``Var(a_j - a_0) = sigma^2 (1/n_j + 1/n_0 + (x_j - x_0)^2 / S_xx)``.

Distributions: z quantiles from :class:`statistics.NormalDist` and the chi-square tail in closed
form, so a proportion's analysis imports no scipy; Student's t from ``scipy.special``, imported
inside its helpers on first use, never at module import.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal, Protocol, cast

__all__ = [
    "AncovaFit",
    "Effect",
    "ProportionStatistic",
    "RatioStatistic",
    "RegressionAdjustedStatistic",
    "SampleMeanStatistic",
    "Statistic",
    "chi2_sf",
    "effect",
    "fit_ancova",
    "normal_cdf",
    "t_cdf",
    "t_quantile",
    "z_quantile",
]

_STANDARD_NORMAL = NormalDist()


# --------------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------------


def z_quantile(probability: float) -> float:
    return _STANDARD_NORMAL.inv_cdf(probability)


def normal_cdf(value: float) -> float:
    return _STANDARD_NORMAL.cdf(value)


class _StudentT(Protocol):
    """The functions used of ``scipy.special``: Student's t CDF and its inverse."""

    def stdtr(self, df: float, t: float) -> float: ...

    def stdtrit(self, df: float, p: float) -> float: ...


def _student_t() -> _StudentT:
    """``scipy.special``, imported on first use (never at module import).

    ``scipy.stats.t`` computes its cdf, sf and ppf with these same two functions
    (``stdtr(df, x)``, ``stdtr(df, -x)``, ``stdtrit(df, q)``), so the numbers are the same;
    ``scipy.special`` alone imports in a fraction of ``scipy.stats``'s time. scipy ships without
    type stubs; importing it by name and casting keeps the unknown types at this one boundary.
    """
    return cast("_StudentT", importlib.import_module("scipy.special"))


def t_cdf(statistic: float, df: float | None) -> float:
    """P(T <= statistic) for Student's t with ``df`` degrees of freedom (normal when None)."""
    if df is None:
        return _STANDARD_NORMAL.cdf(statistic)
    if statistic > 0.0:  # the upper tail directly, so a tiny tail keeps its precision
        return 1.0 - float(_student_t().stdtr(df, -statistic))
    return float(_student_t().stdtr(df, statistic))


def t_sf(statistic: float, df: float | None) -> float:
    """P(T > statistic) (normal when ``df`` is None)."""
    if df is None:
        return _STANDARD_NORMAL.cdf(-statistic)
    return float(_student_t().stdtr(df, -statistic))


def t_quantile(probability: float, df: float | None) -> float:
    """The ``probability`` quantile of Student's t (of the normal when ``df`` is None)."""
    if df is None:
        return z_quantile(probability)
    return float(_student_t().stdtrit(df, probability))


def chi2_sf(statistic: float, df: int) -> float:
    """P(X > statistic) for chi-square with a whole number ``df`` of degrees of freedom, in
    closed form (no scipy, so the SRM check of a first analysis imports nothing heavy).

    With ``y = statistic / 2``: for even ``df = 2m``, ``Q = e^-y sum_{k<m} y^k / k!`` (the
    Poisson tail); for odd ``df = 2m + 1``, ``Q = erfc(sqrt(y)) + sum_{k=1..m} e^-y
    y^(k - 1/2) / Gamma(k + 1/2)`` (Abramowitz and Stegun 26.4.4 and 26.4.5). Every term is
    positive and is summed from its logarithm, so nothing cancels or overflows; the tests check
    it against ``scipy.stats.chi2.sf``.
    """
    if df < 1:
        raise ValueError(f"chi-square needs at least 1 degree of freedom; got {df}")
    if not statistic > 0.0:
        return 1.0
    half = statistic / 2.0
    log_half = math.log(half)
    if df % 2 == 0:
        terms = [k * log_half - math.lgamma(k + 1.0) for k in range(df // 2)]
        total = 0.0
    else:
        terms = [(k - 0.5) * log_half - math.lgamma(k + 0.5) for k in range(1, df // 2 + 1)]
        total = math.erfc(math.sqrt(half))
    total += math.fsum(math.exp(term - half) for term in terms)
    return min(1.0, total)


# --------------------------------------------------------------------------------------------
# Statistic types
# --------------------------------------------------------------------------------------------


class Statistic(Protocol):
    """One arm as measured: its units, its estimate and the variance of one unit's value."""

    @property
    def n(self) -> int: ...

    @property
    def mean(self) -> float: ...

    @property
    def variance(self) -> float: ...


@dataclass(frozen=True, slots=True)
class ProportionStatistic:
    """``conversions`` out of ``n`` units."""

    n: int
    conversions: int

    @property
    def mean(self) -> float:
        return self.conversions / self.n

    @property
    def variance(self) -> float:
        return self.mean * (1.0 - self.mean)


@dataclass(frozen=True, slots=True)
class SampleMeanStatistic:
    """A per-unit value's mean and variance (``n - 1`` in the denominator)."""

    n: int
    mean: float
    variance: float

    @classmethod
    def from_sums(cls, n: int, total: float, sum_squares: float) -> SampleMeanStatistic:
        """From ``sum x`` and ``sum x^2`` (a variance that rounding makes negative is 0)."""
        mean = total / n
        return cls(n, mean, max(0.0, (sum_squares - total * mean) / (n - 1)))


def _covariance(n: int, sum_x: float, sum_y: float, sum_xy: float) -> float:
    return (sum_xy - sum_x * sum_y / n) / (n - 1)


@dataclass(frozen=True, slots=True)
class RatioStatistic:
    """``sum m / sum d`` over the units of an arm, with its delta-method variance per unit."""

    n: int
    numerator: SampleMeanStatistic
    denominator: SampleMeanStatistic
    covariance: float

    @classmethod
    def from_sums(
        cls,
        n: int,
        numerator: tuple[float, float],
        denominator: tuple[float, float],
        sum_of_products: float,
    ) -> RatioStatistic:
        """From (sum, sum of squares) of numerator and denominator and ``sum m d``."""
        return cls(
            n,
            SampleMeanStatistic.from_sums(n, *numerator),
            SampleMeanStatistic.from_sums(n, *denominator),
            _covariance(n, numerator[0], denominator[0], sum_of_products),
        )

    @property
    def mean(self) -> float:
        return self.numerator.mean / self.denominator.mean

    @property
    def variance(self) -> float:
        ratio = self.mean
        return (
            self.numerator.variance
            - 2.0 * ratio * self.covariance
            + ratio**2 * self.denominator.variance
        ) / self.denominator.mean**2


@dataclass(frozen=True, slots=True)
class AncovaFit:
    """The regression adjustment shared by every arm of one experiment (see the docstring)."""

    theta: float
    residual_variance: float
    sxx_within: float
    df: int
    pre_mean: float  # the covariate's mean over every unit


@dataclass(frozen=True, slots=True)
class CupedSums:
    """One arm's sums for CUPED: the metric's, its pre-period covariate's, and their products."""

    n: int
    total: float
    sum_squares: float
    pre_sum: float
    pre_sum_squares: float
    sum_of_products: float


def fit_ancova(arms: Sequence[CupedSums]) -> AncovaFit:
    """The pooled within-arm slope and the ANCOVA residual variance over all ``arms``."""
    syy = sxx = sxy = 0.0
    for arm in arms:
        syy += arm.sum_squares - arm.total**2 / arm.n
        sxx += arm.pre_sum_squares - arm.pre_sum**2 / arm.n
        sxy += arm.sum_of_products - arm.total * arm.pre_sum / arm.n
    units = sum(arm.n for arm in arms)
    pre_mean = math.fsum(arm.pre_sum for arm in arms) / units
    if not sxx > 0.0:  # a constant covariate explains nothing: no slope, plain means
        return AncovaFit(
            0.0, max(0.0, syy) / (units - len(arms)), math.inf, units - len(arms), pre_mean
        )
    theta = sxy / sxx
    df = units - len(arms) - 1
    return AncovaFit(theta, max(0.0, syy - theta * sxy) / df, sxx, df, pre_mean)


@dataclass(frozen=True, slots=True)
class RegressionAdjustedStatistic:
    """An arm's metric adjusted by its pre-period covariate (CUPED, as an ANCOVA)."""

    n: int
    post_mean: float
    pre_mean: float
    fit: AncovaFit

    @property
    def mean(self) -> float:
        """The adjusted mean ``y - theta (x - x_all)``."""
        return self.post_mean - self.fit.theta * (self.pre_mean - self.fit.pre_mean)

    @property
    def variance(self) -> float:
        """The ANCOVA's residual variance (one unit's value around its arm's fitted line)."""
        return self.fit.residual_variance

    def mean_variance(self) -> float:
        """Variance of the adjusted mean, the slope's uncertainty included."""
        offset = self.pre_mean - self.fit.pre_mean
        return self.fit.residual_variance * (1.0 / self.n + offset**2 / self.fit.sxx_within)


# --------------------------------------------------------------------------------------------
# Two statistics -> one effect
# --------------------------------------------------------------------------------------------

Scale = Literal["absolute", "log_ratio"]


@dataclass(frozen=True, slots=True)
class Effect:
    """A treatment arm's difference from control on one scale, its standard error and df.

    ``df`` is None for a normal reference distribution (proportions), the ANCOVA's residual
    degrees of freedom for CUPED, else the Welch-Satterthwaite degrees of freedom.
    """

    estimate: float
    se: float
    df: float | None
    n_total: int


def _mean_variance(statistic: Statistic) -> float:
    if isinstance(statistic, RegressionAdjustedStatistic):
        return statistic.mean_variance()
    return statistic.variance / statistic.n


def _welch_df(parts: Sequence[tuple[float, int]]) -> float | None:
    """Welch-Satterthwaite df from (variance of the mean, n) pairs, scaled against underflow."""
    scale = max(part for part, _ in parts)
    if scale <= 0.0:
        return None
    scaled = [(part / scale, n) for part, n in parts]
    return sum(part for part, _ in scaled) ** 2 / sum(part**2 / (n - 1) for part, n in scaled)


def _df(control: Statistic, treatment: Statistic, parts: Sequence[float]) -> float | None:
    if isinstance(control, ProportionStatistic):
        return None
    if isinstance(control, RegressionAdjustedStatistic):
        return float(control.fit.df)
    return _welch_df(list(zip(parts, (treatment.n, control.n), strict=True)))


def effect(control: Statistic, treatment: Statistic, scale: Scale) -> Effect | None:
    """``treatment - control`` (absolute) or ``ln(treatment / control)``; None for a log ratio of
    a value that is not above 0 (or so close to 0 that its square underflows)."""
    v_t, v_c = _mean_variance(treatment), _mean_variance(control)
    covariance = 0.0
    if isinstance(control, RegressionAdjustedStatistic) and isinstance(
        treatment, RegressionAdjustedStatistic
    ):
        covariance = (
            control.fit.residual_variance
            * (treatment.pre_mean - control.fit.pre_mean)
            * (control.pre_mean - control.fit.pre_mean)
            / control.fit.sxx_within
        )
    n_total = control.n + treatment.n
    if scale == "absolute":
        se = math.sqrt(max(0.0, v_t + v_c - 2.0 * covariance))
        return Effect(
            treatment.mean - control.mean, se, _df(control, treatment, (v_t, v_c)), n_total
        )
    m_t, m_c = treatment.mean, control.mean
    if m_t <= 0.0 or m_c <= 0.0:
        return None
    try:
        parts = (v_t / m_t**2, v_c / m_c**2)
        variance = parts[0] + parts[1] - 2.0 * covariance / (m_t * m_c)
    except ZeroDivisionError:
        return None
    se = math.sqrt(max(0.0, variance))
    return Effect(math.log(m_t / m_c), se, _df(control, treatment, parts), n_total)
