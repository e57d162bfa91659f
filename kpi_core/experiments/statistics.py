"""Distributions of the experiment maths.

The z quantiles come from :class:`statistics.NormalDist`; scipy is imported only inside the
helpers that need an exact t or chi-square distribution, never at module import.
"""

from __future__ import annotations

import importlib
from statistics import NormalDist
from typing import Literal, Protocol, cast

__all__ = [
    "chi2_sf",
    "normal_cdf",
    "t_quantile",
    "t_two_sided_p",
    "two_sided_normal_p",
    "z_quantile",
]

_STANDARD_NORMAL = NormalDist()


def z_quantile(probability: float) -> float:
    return _STANDARD_NORMAL.inv_cdf(probability)


def normal_cdf(value: float) -> float:
    return _STANDARD_NORMAL.cdf(value)


def two_sided_normal_p(statistic: float) -> float:
    return 2.0 * _STANDARD_NORMAL.cdf(-abs(statistic))


class _Distribution(Protocol):
    """The two methods used of a scipy.stats distribution with one shape parameter."""

    def sf(self, x: float, df: float) -> float: ...

    def ppf(self, q: float, df: float) -> float: ...


def _scipy_distribution(name: Literal["t", "chi2"]) -> _Distribution:
    """``scipy.stats.<name>``, imported on first use (never at module import).

    scipy ships without type stubs; importing it by name and casting here keeps the unknown
    types at this one boundary instead of at every call.
    """
    stats = importlib.import_module("scipy.stats")
    return cast("_Distribution", getattr(stats, name))


def t_two_sided_p(statistic: float, df: float) -> float:
    return 2.0 * float(_scipy_distribution("t").sf(abs(statistic), df))


def t_quantile(probability: float, df: float) -> float:
    return float(_scipy_distribution("t").ppf(probability, df))


def chi2_sf(statistic: float, df: int) -> float:
    return float(_scipy_distribution("chi2").sf(statistic, df))
