"""Experiment maths: plan an A/B test (:func:`design_ab_test`), read one (:func:`analyze_ab_test`).

Both functions are pure: numbers in, a pydantic result out, every sentence rendered from a
``prompts/templates/abtest_*.txt.j2`` template. scipy is imported only inside the helpers that need
an exact t or chi-square distribution; the z quantiles come from :class:`statistics.NormalDist`.

**Sample size.** Arm 0 is the control. For a treatment arm ``j`` with allocation ratio
``r = a_j / a_0`` (so ``n_j = r * n_0``) and an effect ``e`` on the method's scale, the control
arm needs::

    n_0 = (z_{1-a'} * sqrt(V_null(r)) + z_{1-b} * sqrt(V_alt(r)))^2 / e^2 * (1 - rho^2)

where ``V`` is the variance of the effect estimate times ``n_0``, ``a' = alpha_eff / sides``,
``alpha_eff = alpha / (arms - 1)`` (Bonferroni over the comparisons against control) and ``rho`` is
the CUPED correlation. Every treatment arm carries the same hypothesised effect, so ``n_0`` is the
largest over the arms and arm ``i`` gets ``n_i = ceil(n_0 * a_i / a_0)`` units: unequal allocation
is the usual variance weighting ``Var = s_0^2 / n_0 + s_j^2 / n_j``. Two-sided plans ignore the far
tail, as statsmodels' ``samplesize_proportions_2indep_onetail`` does.

The effect ``e`` and the variances ``V_null(r)``, ``V_alt(r)`` of each method (``q = 1 - p``)::

    pooled          e = p1 - p0               V_null = pb qb (1 + 1/r)   V_alt = p0 q0 + p1 q1 / r
    evan_miller     e = p1 - p0               V_null = p0 q0 (1 + 1/r)   V_alt = p0 q0 + p1 q1 / r
    cohens_h        e = 2 asin(sqrt p1) - 2 asin(sqrt p0)            V_null = V_alt = 1 + 1/r
    relative_lift   e = ln(p1 / p0)           V_null = V_alt = q0 / p0 + q1 / (r p1)
    means           e = m1 - m0               V_null = V_alt = s^2 (1 + 1/r)
    means, relative e = ln(m1 / m0)           V_null = V_alt = s^2 / m0^2 + s^2 / (r m1^2)

with ``pb = (p0 + r p1) / (1 + r)`` the pooled rate. ``relative_lift`` is the delta method on the
*log* of the ratio (a Wald test, so one variance serves under the null and the alternative): the
log ratio is closer to normal than the plain ratio, and its back-transformed interval never
crosses -100%. The plain ratio ``p1/p0 - 1`` would inflate the control's share of the variance by
``(p1/p0)^2`` and the plan with it. The means formula with equal allocation is the issue's
``n = 2 (z_{1-a/2} + z_{1-b})^2 sigma^2 / delta^2``.

**Units.** ``viewer``: viewers are randomised; a proportion uses the binomial variance and the
duration follows from ``daily_units`` (all arms together). ``creator`` and ``time_block``: the
analysed value is a per-unit mean (a creator's mean over the observation window, or a block's mean
in a switchback), so the mean formulas apply with ``baseline_sd`` as the spread between units, even
when the metric is a rate. A ``time_block`` plan needs ``sum(n_per_arm)`` blocks of ``block_days``
run one after the other. Durations are whole weeks, never under 7 days; a plan over
:data:`MAX_DURATION_DAYS` days or above ``available_units`` is infeasible.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal, NamedTuple, Protocol, cast

from pydantic import BaseModel, ConfigDict

from kpi_core.errors import ExperimentError, field_name
from prompts import render

__all__ = [
    "FOUR_WEEKS_DAYS",
    "MAX_DURATION_DAYS",
    "SRM_ALARM_P",
    "AbTestAnalysis",
    "AbTestDesign",
    "Comparison",
    "Correction",
    "MdeType",
    "MeanArm",
    "Method",
    "MetricKind",
    "ProportionArm",
    "SrmCheck",
    "Unit",
    "adjust_p_values",
    "analyze_ab_test",
    "design_ab_test",
]

MetricKind = Literal["proportion", "mean"]
MdeType = Literal["relative", "absolute"]
Unit = Literal["viewer", "creator", "time_block"]
Method = Literal["pooled", "cohens_h", "evan_miller", "relative_lift"]
Correction = Literal["holm", "bonferroni", "none"]
Verdict = Literal["sample_ratio_mismatch", "incomplete", "significant", "not_significant"]

METRIC_KINDS: tuple[str, ...] = ("proportion", "mean")
MDE_TYPES: tuple[str, ...] = ("relative", "absolute")
UNITS: tuple[str, ...] = ("viewer", "creator", "time_block")
METHODS: tuple[str, ...] = ("pooled", "cohens_h", "evan_miller", "relative_lift")
#: Methods that need the binomial variance of individual viewers.
BINOMIAL_METHODS: tuple[str, ...] = ("cohens_h", "evan_miller")
CORRECTIONS: tuple[str, ...] = ("holm", "bonferroni", "none")

#: A plan that needs longer than this (in whole weeks) is flagged infeasible.
MAX_DURATION_DAYS = 90
#: The horizon of ``detectable_mde_in_4_weeks``.
FOUR_WEEKS_DAYS = 28
#: The sample-ratio-mismatch chi-square raises its alarm below this p-value.
SRM_ALARM_P = 0.001
#: Default observation window of a ``creator`` experiment (each creator's mean is taken over it).
DEFAULT_OBSERVATION_DAYS = 28
#: Fewer units per arm than this and a variance cannot be estimated.
MIN_UNITS_PER_ARM = 2
#: Below this many units in an arm the normal approximation of the plan is optimistic.
SMALL_SAMPLE = 30
MAX_ARMS = 20
MAX_GUARDRAILS = 20
MAX_NAME_CHARS = 80
ALLOCATION_TOLERANCE = 1e-9
#: Largest magnitude of any number argument (rates, means, counts, units per day): squares and
#: products of such numbers stay far inside the float range, so the maths never overflows.
MAX_MAGNITUDE = 1e15
#: Smallest significance level: its tail quantiles must stay distinguishable from 1 in floats.
MIN_ALPHA = 1e-10

_STANDARD_NORMAL = NormalDist()
#: math.expm1 overflows a float above about 709.78.
_MAX_EXPM1_ARGUMENT = 709.0


# --------------------------------------------------------------------------------------------
# Result and input models
# --------------------------------------------------------------------------------------------


_RESULT_CONFIG = ConfigDict(frozen=True, use_attribute_docstrings=True)


class SrmCheck(BaseModel):
    """How to check the split: a chi-square goodness of fit of units per arm to the plan."""

    model_config = _RESULT_CONFIG

    test: Literal["chi-square goodness of fit"] = "chi-square goodness of fit"
    alarm_p_value: float = SRM_ALARM_P
    """The split is broken (and the result unreadable) when the chi-square p-value is below this."""
    expected_allocation: list[float]
    expected_units: list[int]
    instruction: str


class AbTestDesign(BaseModel):
    """A fixed-horizon experiment plan; every figure is traceable to the inputs echoed here."""

    model_config = _RESULT_CONFIG

    metric_kind: MetricKind
    unit: Unit
    method: Method
    method_label: str
    """How the sample size was computed."""
    analysis_method: str
    """How the experiment is to be analysed (analyze_ab_test does it)."""
    stopping_rule: str
    baseline: float
    baseline_sd: float | None
    """The spread between units used by the plan (None for a viewer-level proportion)."""
    expected_treatment_value: float
    """The treated arm's rate or mean under the alternative: baseline plus the absolute MDE."""
    mde: float
    mde_type: MdeType
    absolute_mde: float
    relative_mde: float | None
    alpha: float
    effective_alpha: float
    """alpha per comparison with control: alpha / (arms - 1), Bonferroni."""
    comparisons: int
    sides: Literal[1, 2]
    power: float
    arm_names: list[str]
    allocation: list[float]
    n_per_arm: list[int]
    """Units per arm, control first (viewers, creators or time blocks, after CUPED)."""
    n_total: int
    n_per_arm_without_cuped: list[int]
    cuped_correlation: float | None
    variance_reduction: float
    """Share of the variance CUPED removes: rho^2."""
    duration_days: int | None
    """Whole weeks, never under 7; None when the rate of units (daily_units) is unknown."""
    block_days: int | None
    observation_days: int | None
    hypothesis: str
    primary_metric: str | None
    guardrails: list[str]
    srm_check: SrmCheck
    feasible: bool
    """False when the plan needs more than 90 days or more units than available."""
    reasons: list[str]
    """Why the plan is infeasible (empty when feasible)."""
    detectable_mde_in_4_weeks: float | None
    """The MDE (same type as mde) that 28 days of units can detect; None if no rate is known."""
    assumptions: list[str]
    notes: list[str]
    """What was ignored or could not be checked."""


class ProportionArm(BaseModel):
    """One arm of a conversion experiment: ``conversions`` out of ``units``."""

    model_config = ConfigDict(frozen=True)

    name: str
    conversions: int
    units: int


class MeanArm(BaseModel):
    """One arm of a continuous-metric experiment, as summary statistics."""

    model_config = ConfigDict(frozen=True)

    name: str
    mean: float
    sd: float
    n: int


class Comparison(BaseModel):
    """One treatment arm against the control (the first arm)."""

    model_config = _RESULT_CONFIG

    arm: str
    control_value: float
    arm_value: float
    abs_lift: float
    """Arm minus control, in the metric's units (a difference in rates for a proportion)."""
    rel_lift: float | None
    """Arm / control - 1; None when the control's value is not above 0."""
    ci_low: float
    """Lower bound of the interval for abs_lift (Wald for proportions, Welch t for means)."""
    ci_high: float
    rel_ci_low: float | None
    """Lower bound for rel_lift: delta method on the log ratio; None unless both values > 0."""
    rel_ci_high: float | None
    statistic: float
    """The pooled z (proportions) or Welch t (means)."""
    df: float | None
    """Welch-Satterthwaite degrees of freedom (None for the z-test)."""
    p_value: float
    """Two-sided, unadjusted."""
    p_adjusted: float
    """After the correction across the treatment arms."""
    significant: bool
    """p_adjusted <= alpha."""


class AbTestAnalysis(BaseModel):
    """The read-out of an experiment; ``decision`` says on which scale it was taken."""

    model_config = _RESULT_CONFIG

    metric_kind: MetricKind
    control: str
    analysis_method: str
    correction: Correction
    alpha: float
    ci_level: float
    """Coverage of the intervals: 1 - alpha, or 1 - alpha / m (Bonferroni) for m > 1 arms."""
    comparisons: list[Comparison]
    units_per_arm: list[int]
    expected_allocation: list[float]
    srm_chi_square: float
    srm_p_value: float
    srm_alarm: bool
    """srm_p_value < 0.001: the split does not match the plan; do not read the result."""
    peeking_warning: str | None
    """Set when any arm is below its planned sample."""
    decision_scale: Literal["absolute"] = "absolute"
    verdict: Verdict
    decision: str


# --------------------------------------------------------------------------------------------
# Small numeric helpers
# --------------------------------------------------------------------------------------------


def _safe_ceil(value: float) -> int:
    """Ceiling that forgives floating-point dust: 14400.000000000002 -> 14400.

    A figure within one part in 10^9 above an integer is that integer (16 * 0.1 * 0.9 / 0.01**2
    is 14400.000000000002 in binary floating point).
    """
    return math.ceil(value - 1e-9 * max(1.0, abs(value)))


def _whole_weeks(days: float) -> int:
    """Days rounded up to whole weeks, never under one week."""
    return max(7, 7 * _safe_ceil(days / 7))


def _z(probability: float) -> float:
    return _STANDARD_NORMAL.inv_cdf(probability)


def _two_sided_normal_p(statistic: float) -> float:
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


def _t_two_sided_p(statistic: float, df: float) -> float:
    return 2.0 * float(_scipy_distribution("t").sf(abs(statistic), df))


def _t_quantile(probability: float, df: float) -> float:
    return float(_scipy_distribution("t").ppf(probability, df))


def _chi2_sf(statistic: float, df: int) -> float:
    return float(_scipy_distribution("chi2").sf(statistic, df))


# --------------------------------------------------------------------------------------------
# Validation: every bad argument raises ExperimentError(field, rule, value, hint)
# --------------------------------------------------------------------------------------------


def _number(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExperimentError(field, "must be a number", value, "pass a plain number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExperimentError(
            field, "must be a finite number (not NaN or infinite)", value, "pass a real value"
        )
    if abs(value) > MAX_MAGNITUDE:  # also keeps float() below from overflowing on a huge int
        raise ExperimentError(
            field, f"must be at most {MAX_MAGNITUDE:g} in magnitude", value, "check the units"
        )
    return float(value)


def _integer(field: str, value: object, minimum: int, hint: str) -> int:
    number = _number(field, value)
    if not number.is_integer():
        raise ExperimentError(field, "must be a whole number", value, hint)
    if number < minimum:
        raise ExperimentError(field, f"must be at least {minimum}", value, hint)
    return int(number)


def _choice(field: str, value: object, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        allowed = ", ".join(repr(option) for option in options)
        raise ExperimentError(field, f"must be one of {allowed}", value, "pick one of those")
    return value


def _sides(value: object) -> Literal[1, 2]:
    if value == 1 and not isinstance(value, bool):
        return 1
    if value == 2 and not isinstance(value, bool):
        return 2
    raise ExperimentError("sides", "must be 1 or 2", value, "2 unless only one direction counts")


def _items(field: str, value: object) -> Sequence[object]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ExperimentError(field, "must be a list", value, "pass a list, e.g. ['refund_rate']")
    return cast("Sequence[object]", value)


def _open_fraction(field: str, value: object, hint: str) -> float:
    number = _number(field, value)
    if not 0.0 < number < 1.0:
        raise ExperimentError(field, "must be strictly between 0 and 1", value, hint)
    return number


def _significance(value: object) -> float:
    significance = _open_fraction("alpha", value, "e.g. 0.05")
    if significance < MIN_ALPHA:  # 1 - alpha / 2 would round to 1, where no quantile exists
        raise ExperimentError("alpha", f"must be at least {MIN_ALPHA:g}", value, "e.g. 0.05")
    return significance


def _text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ExperimentError(field, "must be a non-empty string", value, "name it, e.g. 'gmv'")
    if len(value) > MAX_NAME_CHARS:
        raise ExperimentError(
            field, f"must be at most {MAX_NAME_CHARS} characters", value, "use a shorter name"
        )
    return value.strip()


def _allocation(field: str, value: object, arms: int) -> list[float]:
    if value is None:
        return [1.0 / arms] * arms
    items = _items(field, value)
    if len(items) != arms:
        raise ExperimentError(
            field,
            f"must have one fraction per arm ({arms}), got {len(items)}",
            value,
            f"give {arms} fractions summing to 1, control first",
        )
    shares = [_number(f"{field}[{index}]", item) for index, item in enumerate(items)]
    for index, share in enumerate(shares):
        if share <= 0.0:
            raise ExperimentError(
                f"{field}[{index}]", "must be greater than 0", share, "every arm needs traffic"
            )
    if abs(math.fsum(shares) - 1.0) > ALLOCATION_TOLERANCE:
        raise ExperimentError(
            field,
            "must sum to 1",
            value,
            f"the fractions sum to {math.fsum(shares):.6g}; rescale them to sum to 1",
        )
    return shares


# --------------------------------------------------------------------------------------------
# The sample-size kernel
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SampleSizeModel:
    """Everything the per-arm formula needs, as a function of the absolute effect ``delta``."""

    binomial: bool  # viewer-level proportion: binomial variance; otherwise a mean with ``sd``
    method: Method
    baseline: float
    sd: float
    ratios: tuple[float, ...]  # a_j / a_0 for every treatment arm
    z_alpha: float
    z_beta: float
    variance_factor: float  # 1 - rho^2 (CUPED)

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

    def control_n(self, delta: float, *, with_cuped: bool = True) -> float:
        """Units the control arm needs (not rounded) so every comparison reaches the power.

        Infinite when the effect is too small against its noise for floating point (its square
        underflows to 0, or the ratio's square overflows).
        """
        largest = 0.0
        for ratio in self.ratios:
            try:
                effect, null_variance, alternative_variance = self.terms(delta, ratio)
                spread = self.z_alpha * math.sqrt(null_variance) + self.z_beta * math.sqrt(
                    alternative_variance
                )
                largest = max(largest, (spread / effect) ** 2)
            except (ZeroDivisionError, OverflowError):
                return math.inf
        return largest * self.variance_factor if with_cuped else largest

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


def _arm_names(arms: int) -> list[str]:
    if arms == 2:
        return ["control", "treatment"]
    return ["control", *(f"treatment_{index}" for index in range(1, arms))]


def _lines(template: str, **facts: object) -> list[str]:
    """A template that says one item per line, as a list."""
    return [line.strip() for line in render(template, **facts).splitlines() if line.strip()]


Note = Literal[
    "baseline_sd_ignored",
    "ignored",
    "duration_unknown",
    "too_long",
    "too_few_units",
    "available_unknown",
    "detectable_unknown",
    "detectable_too_few",
    "detectable_none",
]


def _note(note: Note, **facts: object) -> str:
    """One note or infeasibility reason, by key (``abtest_note.txt.j2`` says each)."""
    return render("abtest_note.txt.j2", note=note, **facts)


# --------------------------------------------------------------------------------------------
# design_ab_test
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Design:
    """The validated arguments of :func:`design_ab_test`."""

    kind: MetricKind
    unit: Unit
    method: Method
    mde_type: MdeType
    binomial: bool  # a viewer-level proportion: binomial variance
    baseline: float
    sd: float  # between units (0 for a binomial plan)
    mde: float
    delta: float  # the absolute effect
    alpha: float
    power: float
    sides: Literal[1, 2]
    arms: int
    shares: list[float]
    rho: float | None
    daily: float | None
    available: int | None
    block_days: int | None
    observation_days: int | None
    primary_metric: str | None
    guardrails: list[str]
    notes: list[str]


def _validate_design(
    *,
    metric_kind: object,
    baseline: object,
    baseline_sd: object,
    mde: object,
    mde_type: object,
    alpha: object,
    power: object,
    sides: object,
    arms: object,
    allocation: object,
    unit: object,
    daily_units: object,
    available_units: object,
    block_days: object,
    cuped_correlation: object,
    method: object,
    primary_metric: object,
    guardrails: object,
    allowed_units: object,
    observation_days: object,
) -> _Design:
    kind = cast("MetricKind", _choice("metric_kind", metric_kind, METRIC_KINDS))
    chosen_unit = cast("Unit", _choice("unit", unit, UNITS))
    if allowed_units is not None:
        allowed = [
            _choice(f"allowed_units[{i}]", u, UNITS)
            for i, u in enumerate(_items("allowed_units", allowed_units))
        ]
        if chosen_unit not in allowed:
            raise ExperimentError(
                "unit",
                "must be a unit this intervention can be randomised on "
                f"({', '.join(allowed) or 'none'})",
                chosen_unit,
                f"use unit={allowed[0]!r}" if allowed else "this intervention cannot be A/B tested",
            )
    chosen_method = cast("Method", _choice("method", method, METHODS))
    chosen_mde_type = cast("MdeType", _choice("mde_type", mde_type, MDE_TYPES))
    binomial = kind == "proportion" and chosen_unit == "viewer"
    notes: list[str] = []

    base = _number("baseline", baseline)
    if kind == "proportion" and not 0.0 < base < 1.0:
        raise ExperimentError(
            "baseline",
            "must be a rate strictly between 0 and 1 for a proportion",
            baseline,
            f"did you mean {base / 100:g}?" if 1.0 < base <= 100.0 else "give the control's rate",
        )

    sd = 0.0
    if binomial:
        if baseline_sd is not None:
            _number("baseline_sd", baseline_sd)
            notes.append(_note("baseline_sd_ignored"))
    else:
        if baseline_sd is None:
            raise ExperimentError(
                "baseline_sd",
                f"is required for a {kind} measured per {chosen_unit}",
                None,
                f"give the standard deviation of the metric between {chosen_unit}s",
            )
        sd = _number("baseline_sd", baseline_sd)
        if sd <= 0.0:
            raise ExperimentError(
                "baseline_sd",
                "must be greater than 0",
                baseline_sd,
                "give the spread between units",
            )
        if chosen_method in BINOMIAL_METHODS:
            raise ExperimentError(
                "method",
                f"must be 'pooled' or 'relative_lift' for a {kind} measured per {chosen_unit} "
                f"({chosen_method} assumes the binomial variance of single viewers)",
                chosen_method,
                "use 'pooled' (difference in means) or 'relative_lift' (log ratio of means)",
            )
        if chosen_method == "relative_lift" and base <= 0.0:
            raise ExperimentError(
                "baseline",
                "must be above 0 for method 'relative_lift' (a log ratio of means)",
                baseline,
                "use method='pooled' for a metric that can be 0 or negative",
            )

    if mde is None:
        raise ExperimentError(
            "mde", "is required", None, "give the smallest effect worth detecting, e.g. 0.1"
        )
    effect_size = _number("mde", mde)
    if effect_size <= 0.0:
        raise ExperimentError(
            "mde", "must be greater than 0", mde, "give the size of the smallest effect worth it"
        )
    if chosen_mde_type == "relative":
        if base == 0.0:
            raise ExperimentError(
                "baseline", "must not be 0 with a relative mde", baseline, "use mde_type='absolute'"
            )
        delta = effect_size * abs(base)
    else:
        delta = effect_size
    if kind == "proportion" and base + delta > 1.0:
        raise ExperimentError(
            "mde",
            "must keep the treated rate within [0, 1]",
            mde,
            f"baseline {base:g} plus the effect gives {base + delta:g}; use a smaller mde",
        )

    significance = _significance(alpha)
    target_power = _open_fraction("power", power, "e.g. 0.8")
    side_count = _sides(sides)
    arm_count = _integer("arms", arms, 2, "a test needs a control and at least one treatment")
    if arm_count > MAX_ARMS:
        raise ExperimentError("arms", f"must be at most {MAX_ARMS}", arms, "test fewer variants")
    shares = _allocation("allocation", allocation, arm_count)

    rho: float | None = None
    if cuped_correlation is not None:
        rho = _number("cuped_correlation", cuped_correlation)
        if not 0.0 <= rho < 1.0:
            raise ExperimentError(
                "cuped_correlation",
                "must be in [0, 1)",
                cuped_correlation,
                "give the correlation of the metric with its pre-period value",
            )

    daily = None
    if daily_units is not None:
        daily = _number("daily_units", daily_units)
        if daily <= 0.0:
            raise ExperimentError(
                "daily_units", "must be greater than 0", daily_units, "count units per day"
            )
    available = None
    if available_units is not None:
        available = _integer("available_units", available_units, 1, "the units you can enrol")
    blocks = None
    if block_days is not None:
        blocks = _integer("block_days", block_days, 1, "the length of one switchback block")
    window = None
    if observation_days is not None:
        window = _integer("observation_days", observation_days, 1, "e.g. 28")
    if chosen_unit == "time_block" and blocks is None:
        raise ExperimentError(
            "block_days",
            "is required for unit 'time_block'",
            None,
            "give the length of one switchback block in days, e.g. 7",
        )
    if chosen_unit != "time_block" and blocks is not None:
        notes.append(_note("ignored", argument="block_days", unit=chosen_unit))
        blocks = None
    if chosen_unit != "creator" and window is not None:
        notes.append(_note("ignored", argument="observation_days", unit=chosen_unit))
        window = None
    if chosen_unit == "creator" and window is None:
        window = DEFAULT_OBSERVATION_DAYS
    if chosen_unit != "viewer" and daily is not None:
        notes.append(_note("ignored", argument="daily_units", unit=chosen_unit))
        daily = None

    metric_name = None if primary_metric is None else _text("primary_metric", primary_metric)
    guardrail_items = _items("guardrails", guardrails)
    if len(guardrail_items) > MAX_GUARDRAILS:
        raise ExperimentError(
            "guardrails", f"must list at most {MAX_GUARDRAILS} metrics", len(guardrail_items)
        )
    guardrail_names = [_text(f"guardrails[{i}]", name) for i, name in enumerate(guardrail_items)]

    return _Design(
        kind=kind,
        unit=chosen_unit,
        method=chosen_method,
        mde_type=chosen_mde_type,
        binomial=binomial,
        baseline=base,
        sd=sd,
        mde=effect_size,
        delta=delta,
        alpha=significance,
        power=target_power,
        sides=side_count,
        arms=arm_count,
        shares=shares,
        rho=rho,
        daily=daily,
        available=available,
        block_days=blocks,
        observation_days=window,
        primary_metric=metric_name,
        guardrails=guardrail_names,
        notes=notes,
    )


def _duration(design: _Design, n_per_arm: list[int]) -> int | None:
    """Whole weeks the plan runs, or None when the rate of units is unknown."""
    if design.unit == "creator":
        assert design.observation_days is not None
        return _whole_weeks(design.observation_days)
    if design.unit == "time_block":
        assert design.block_days is not None
        return _whole_weeks(sum(n_per_arm) * design.block_days)
    if design.daily is None:
        return None
    # Arm i fills at daily * a_i units a day; the slowest arm sets the pace.
    rates = [design.daily * share for share in design.shares]
    days = max(
        n / rate if rate > 0.0 else math.inf for n, rate in zip(n_per_arm, rates, strict=True)
    )
    if days > MAX_MAGNITUDE:  # a rate that underflows, or a plan beyond any calendar
        raise ExperimentError(
            "daily_units",
            f"is too small for this plan: it would run over {MAX_MAGNITUDE:g} days",
            design.daily,
            "count the eligible units per day across all arms",
        )
    return _whole_weeks(days)


def _units_in_four_weeks(design: _Design) -> float | None:
    """Units (all arms) that 28 days can supply, or None when no rate of units is known."""
    units: float | None
    if design.unit == "viewer":
        units = None if design.daily is None else design.daily * FOUR_WEEKS_DAYS
    elif design.unit == "creator":
        assert design.observation_days is not None
        fits = design.observation_days <= FOUR_WEEKS_DAYS
        units = float(design.available) if fits and design.available is not None else None
    else:
        assert design.block_days is not None
        units = float(FOUR_WEEKS_DAYS // design.block_days)
    if units is not None and design.available is not None:
        units = min(units, float(design.available))
    return units


def design_ab_test(
    metric_kind: MetricKind,
    baseline: float,
    *,
    baseline_sd: float | None = None,
    mde: float | None = None,
    mde_type: MdeType = "relative",
    alpha: float = 0.05,
    power: float = 0.8,
    sides: Literal[1, 2] = 2,
    arms: int = 2,
    allocation: Sequence[float] | None = None,
    unit: Unit = "viewer",
    daily_units: float | None = None,
    available_units: int | None = None,
    block_days: int | None = None,
    cuped_correlation: float | None = None,
    method: Method = "pooled",
    primary_metric: str | None = None,
    guardrails: Sequence[str] = (),
    allowed_units: Sequence[str] | None = None,
    observation_days: int | None = None,
) -> AbTestDesign:
    """Plan a fixed-horizon A/B test: units per arm, duration, SRM check and feasibility.

    ``baseline`` is the control's rate (``proportion``, in (0, 1)) or mean; ``mde`` (required) is
    the smallest effect worth detecting, as a fraction of the baseline (``relative``) or in the
    metric's own units (``absolute``), taken as an increase. ``daily_units`` counts the eligible
    units per day across all arms (``viewer``); ``available_units`` caps the units in total (the
    cohort for ``creator``, the number of blocks for ``time_block``). ``observation_days`` is the
    window over which each creator's mean is taken (``creator`` only; default 28).
    ``allowed_units`` lists the units the intervention can be randomised on (the caller maps an
    intervention to them); a ``unit`` outside it is refused with the reason.
    """
    design = _validate_design(
        metric_kind=metric_kind,
        baseline=baseline,
        baseline_sd=baseline_sd,
        mde=mde,
        mde_type=mde_type,
        alpha=alpha,
        power=power,
        sides=sides,
        arms=arms,
        allocation=allocation,
        unit=unit,
        daily_units=daily_units,
        available_units=available_units,
        block_days=block_days,
        cuped_correlation=cuped_correlation,
        method=method,
        primary_metric=primary_metric,
        guardrails=guardrails,
        allowed_units=allowed_units,
        observation_days=observation_days,
    )
    notes = list(design.notes)
    shares = design.shares
    comparisons = design.arms - 1
    effective_alpha = design.alpha / comparisons
    z_alpha = _z(1.0 - effective_alpha / design.sides)
    z_beta = _z(design.power)
    if z_alpha + z_beta <= 0.0:
        raise ExperimentError(
            "power",
            f"must exceed the one-tail significance level {effective_alpha / design.sides:g}",
            power,
            "ask for more power, e.g. 0.8",
        )
    rho = design.rho or 0.0
    model = _SampleSizeModel(
        binomial=design.binomial,
        method=design.method,
        baseline=design.baseline,
        sd=design.sd,
        ratios=tuple(share / shares[0] for share in shares[1:]),
        z_alpha=z_alpha,
        z_beta=z_beta,
        variance_factor=1.0 - rho**2,
    )

    def per_arm(control_units: float) -> list[int]:
        return [
            max(MIN_UNITS_PER_ARM, _safe_ceil(control_units * share / shares[0]))
            for share in shares
        ]

    control_units = model.control_n(design.delta)
    if not control_units <= MAX_MAGNITUDE:  # infinite or beyond any population
        raise ExperimentError(
            "mde",
            f"is too small to detect: the plan would need over {MAX_MAGNITUDE:g} units per arm",
            mde,
            "give a larger mde (or a smaller baseline_sd)",
        )
    n_per_arm = per_arm(control_units)
    n_without_cuped = per_arm(model.control_n(design.delta, with_cuped=False))
    n_total = sum(n_per_arm)

    reasons: list[str] = []
    duration = _duration(design, n_per_arm)
    if duration is None:
        notes.append(_note("duration_unknown"))
    elif duration > MAX_DURATION_DAYS:
        reasons.append(_note("too_long", duration=duration, limit=MAX_DURATION_DAYS))
    if design.available is None:
        if design.unit != "viewer":
            notes.append(_note("available_unknown", unit=design.unit, n_total=n_total))
    elif n_total > design.available:
        reasons.append(
            _note("too_few_units", unit=design.unit, n_total=n_total, available=design.available)
        )

    detectable: float | None = None
    units = _units_in_four_weeks(design)
    if units is None:
        notes.append(_note("detectable_unknown", unit=design.unit))
    elif min(units * share for share in shares) < MIN_UNITS_PER_ARM:
        notes.append(_note("detectable_too_few", units=units, unit=design.unit))
    else:
        upper = 1.0 - design.baseline if design.kind == "proportion" else None
        smallest = model.smallest_delta(units * shares[0], upper)
        if smallest is None:
            notes.append(_note("detectable_none", units=units, unit=design.unit))
        elif design.mde_type == "relative":
            detectable = smallest / abs(design.baseline)
        else:
            detectable = smallest

    arm_names = _arm_names(design.arms)
    treated = design.baseline + design.delta
    facts: dict[str, object] = {
        "kind": design.kind,
        "binomial": design.binomial,
        "unit": design.unit,
        "method": design.method,
        "sides": design.sides,
        "arms": design.arms,
        "alpha": design.alpha,
        "effective_alpha": effective_alpha,
        "power": design.power,
        "block_days": design.block_days,
        "observation_days": design.observation_days,
        "rho": design.rho,
    }
    return AbTestDesign(
        metric_kind=design.kind,
        unit=design.unit,
        method=design.method,
        method_label=render("abtest_method.txt.j2", **facts),
        analysis_method=render(
            "abtest_analysis_method.txt.j2", correction=None, ci_level=None, **facts
        ),
        stopping_rule=render("abtest_stopping_rule.txt.j2", n_per_arm=n_per_arm, **facts),
        baseline=design.baseline,
        baseline_sd=None if design.binomial else design.sd,
        expected_treatment_value=treated,
        mde=design.mde,
        mde_type=design.mde_type,
        absolute_mde=design.delta,
        relative_mde=design.delta / abs(design.baseline) if design.baseline != 0.0 else None,
        alpha=design.alpha,
        effective_alpha=effective_alpha,
        comparisons=comparisons,
        sides=design.sides,
        power=design.power,
        arm_names=arm_names,
        allocation=shares,
        n_per_arm=n_per_arm,
        n_total=n_total,
        n_per_arm_without_cuped=n_without_cuped,
        cuped_correlation=design.rho,
        variance_reduction=rho**2,
        duration_days=duration,
        block_days=design.block_days,
        observation_days=design.observation_days,
        hypothesis=render(
            "abtest_hypothesis.txt.j2",
            primary_metric=design.primary_metric,
            baseline=design.baseline,
            treated=treated,
            delta=design.delta,
            mde=design.mde,
            mde_type=design.mde_type,
            treatments=arm_names[1:],
            **facts,
        ),
        primary_metric=design.primary_metric,
        guardrails=design.guardrails,
        srm_check=SrmCheck(
            expected_allocation=shares,
            expected_units=n_per_arm,
            instruction=render("abtest_srm.txt.j2", alarm=SRM_ALARM_P, arm_names=arm_names),
        ),
        feasible=not reasons,
        reasons=reasons,
        detectable_mde_in_4_weeks=detectable,
        assumptions=_lines(
            "abtest_assumptions.txt.j2",
            smallest_arm=min(n_per_arm),
            small_sample=SMALL_SAMPLE,
            **facts,
        ),
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# analyze_ab_test
# --------------------------------------------------------------------------------------------


def adjust_p_values(p_values: Sequence[float], correction: Correction = "holm") -> list[float]:
    """Family-wise adjusted p-values, in the input order (as statsmodels ``multipletests``).

    Holm: sort ascending, ``p_adj(i) = max_{k <= i} min(1, (m - k + 1) p(k))``; Bonferroni:
    ``min(1, m p)``; none: unchanged. A hypothesis is rejected when ``p_adj <= alpha``.
    """
    chosen = _choice("correction", correction, CORRECTIONS)
    values = [_number(f"p_values[{i}]", p) for i, p in enumerate(p_values)]
    for index, value in enumerate(values):
        if not 0.0 <= value <= 1.0:
            raise ExperimentError(f"p_values[{index}]", "must be in [0, 1]", value)
    count = len(values)
    if chosen == "none":
        return values
    if chosen == "bonferroni":
        return [min(1.0, count * value) for value in values]
    order = sorted(range(count), key=lambda index: (values[index], index))
    adjusted = [0.0] * count
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (count - rank) * values[index]))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True, slots=True)
class _ArmData:
    name: str
    value: float  # rate or mean
    variance: float  # variance of one unit (p q, or sd^2)
    units: int


def _record_of(record: object, index: int) -> Mapping[str, object]:
    if isinstance(record, BaseModel):
        return record.model_dump()
    if not isinstance(record, Mapping):
        raise ExperimentError(
            f"arms[{index}]",
            "must be an object with name and conversions/units or mean/sd/n",
            record,
        )
    return cast("Mapping[str, object]", record)


def _parse_arms(kind: str, arms: object) -> list[_ArmData]:
    records = _items("arms", arms)
    if len(records) < 2:
        raise ExperimentError(
            "arms", "must list at least 2 arms (control first)", len(records), "add the control"
        )
    if len(records) > MAX_ARMS:
        raise ExperimentError("arms", f"must list at most {MAX_ARMS} arms", len(records))
    expected = (
        {"name", "conversions", "units"} if kind == "proportion" else {"name", "mean", "sd", "n"}
    )
    parsed: list[_ArmData] = []
    seen: set[str] = set()
    for index, raw in enumerate(records):
        record = _record_of(raw, index)
        where = f"arms[{index}]"
        unknown = sorted(str(key) for key in record if key not in expected)
        missing = sorted(key for key in expected if key not in record)
        if unknown or missing:
            raise ExperimentError(
                f"{where}.{field_name((unknown or missing)[0])}",
                f"{'is not a field' if unknown else 'is required'} of a {kind} arm "
                f"(fields: {', '.join(sorted(expected))})",
                record.get(unknown[0]) if unknown else None,
                "a proportion arm has name, conversions, units; a mean arm has name, mean, sd, n",
            )
        name = _text(f"{where}.name", record["name"])
        if name in seen:
            raise ExperimentError(f"{where}.name", "must be unique across arms", name)
        seen.add(name)
        if kind == "proportion":
            units = _integer(f"{where}.units", record["units"], 1, "count the units assigned")
            conversions = _integer(
                f"{where}.conversions", record["conversions"], 0, "count the converted units"
            )
            if conversions > units:
                raise ExperimentError(
                    f"{where}.conversions",
                    f"must not exceed units ({units})",
                    conversions,
                    "conversions count units that converted at least once",
                )
            rate = conversions / units
            parsed.append(_ArmData(name, rate, rate * (1.0 - rate), units))
        else:
            mean = _number(f"{where}.mean", record["mean"])
            spread = _number(f"{where}.sd", record["sd"])
            if spread < 0.0:
                raise ExperimentError(f"{where}.sd", "must be at least 0", spread)
            count = _integer(
                f"{where}.n", record["n"], MIN_UNITS_PER_ARM, "a variance needs 2 units"
            )
            parsed.append(_ArmData(name, mean, spread**2, count))
    return parsed


def _log_ratio_interval(
    control: _ArmData, arm: _ArmData, critical: float
) -> tuple[float | None, float | None]:
    """Relative-lift interval by the delta method on ``ln(arm / control)``, back-transformed."""
    if control.value <= 0.0 or arm.value <= 0.0:
        return None, None
    try:
        log_ratio = math.log(arm.value / control.value)
        error = math.sqrt(
            arm.variance / (arm.units * arm.value**2)
            + control.variance / (control.units * control.value**2)
        )
    except (ZeroDivisionError, ValueError):  # a value so close to 0 that its square underflows
        return None, None
    return _lift_bound(log_ratio - critical * error), _lift_bound(log_ratio + critical * error)


def _lift_bound(log_bound: float) -> float | None:
    """A relative-lift bound from its log-ratio bound; None beyond floating point."""
    if math.isnan(log_bound) or log_bound > _MAX_EXPM1_ARGUMENT:
        return None
    return math.expm1(log_bound)


class _Test(NamedTuple):
    """One treatment arm's test against the control, before the multiplicity correction."""

    statistic: float
    df: float | None
    p_value: float
    ci_low: float
    ci_high: float
    rel_ci_low: float | None
    rel_ci_high: float | None


def _compare(kind: str, control: _ArmData, arm: _ArmData, index: int, ci_alpha: float) -> _Test:
    """Pooled z-test with a Wald interval (proportions) or Welch t-test (means)."""
    difference = arm.value - control.value
    arm_part = arm.variance / arm.units
    control_part = control.variance / control.units
    unpooled = math.sqrt(arm_part + control_part)
    df: float | None = None
    if kind == "proportion":
        total = arm.units + control.units
        pooled_rate = (arm.value * arm.units + control.value * control.units) / total
        pooled_error = math.sqrt(
            pooled_rate * (1.0 - pooled_rate) * (1.0 / arm.units + 1.0 / control.units)
        )
        if pooled_error == 0.0:
            raise ExperimentError(
                f"arms[{index}].conversions",
                "must leave the pooled rate strictly between 0 and 1 (here no unit, or every "
                "unit, converted in this arm and the control)",
                round(arm.value * arm.units),
                "collect more data before reading the test",
            )
        statistic = difference / pooled_error
        p_value = _two_sided_normal_p(statistic)
        critical = _z(1.0 - ci_alpha / 2.0)
    else:
        if unpooled == 0.0:
            raise ExperimentError(
                f"arms[{index}].sd",
                "must be above 0 in this arm or the control",
                0.0,
                "give the standard deviations of the metric",
            )
        statistic = difference / unpooled
        # Welch-Satterthwaite, with both parts scaled by the larger so no square underflows.
        scale = max(arm_part, control_part)
        arm_scaled, control_scaled = arm_part / scale, control_part / scale
        df = (arm_scaled + control_scaled) ** 2 / (
            arm_scaled**2 / (arm.units - 1) + control_scaled**2 / (control.units - 1)
        )
        p_value = _t_two_sided_p(statistic, df)
        critical = _t_quantile(1.0 - ci_alpha / 2.0, df)
    rel_low, rel_high = _log_ratio_interval(control, arm, critical)
    return _Test(
        statistic=statistic,
        df=df,
        p_value=p_value,
        ci_low=difference - critical * unpooled,
        ci_high=difference + critical * unpooled,
        rel_ci_low=rel_low,
        rel_ci_high=rel_high,
    )


def _planned_counts(value: object, arms: int) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [_integer("planned_n_per_arm", value, 1, "pass the design's n_per_arm")] * arms
    items = _items("planned_n_per_arm", value)
    if len(items) != arms:
        raise ExperimentError(
            "planned_n_per_arm",
            f"must have one count per arm ({arms})",
            list(items),
            "pass the design's n_per_arm",
        )
    return [
        _integer(f"planned_n_per_arm[{i}]", n, 1, "pass the design's n_per_arm")
        for i, n in enumerate(items)
    ]


def analyze_ab_test(
    metric_kind: MetricKind,
    arms: Sequence[Mapping[str, object] | ProportionArm | MeanArm],
    *,
    correction: Correction = "holm",
    planned_allocation: Sequence[float] | None = None,
    planned_n_per_arm: Sequence[int] | int | None = None,
    alpha: float = 0.05,
) -> AbTestAnalysis:
    """Read an experiment from per-arm counts or summary statistics (the first arm is control).

    Proportions: two-sided pooled z-test, Wald interval for the difference. Means: Welch's t-test
    with the Welch-Satterthwaite degrees of freedom, t interval. The decision is taken on the
    absolute difference; relative lifts carry a delta-method interval on the log ratio (None
    unless both values are above 0). With more than one treatment arm and a correction, the
    intervals are Bonferroni-simultaneous (level ``1 - alpha / m``). The sample ratio is checked by
    a chi-square against ``planned_allocation`` (equal if none); ``planned_n_per_arm`` (one count,
    or one per arm) turns on the peeking warning when any arm is short of its plan.
    """
    kind = _choice("metric_kind", metric_kind, METRIC_KINDS)
    chosen = cast("Correction", _choice("correction", correction, CORRECTIONS))
    significance = _significance(alpha)
    parsed = _parse_arms(kind, arms)
    shares = _allocation("planned_allocation", planned_allocation, len(parsed))
    planned = _planned_counts(planned_n_per_arm, len(parsed))

    control, treatments = parsed[0], parsed[1:]
    m = len(treatments)
    ci_alpha = significance / m if chosen != "none" and m > 1 else significance
    tests = [
        _compare(kind, control, arm, index, ci_alpha)
        for index, arm in enumerate(treatments, start=1)
    ]
    adjusted = adjust_p_values([test.p_value for test in tests], chosen)
    comparisons = [
        Comparison(
            arm=arm.name,
            control_value=control.value,
            arm_value=arm.value,
            abs_lift=arm.value - control.value,
            rel_lift=arm.value / control.value - 1.0 if control.value > 0.0 else None,
            ci_low=test.ci_low,
            ci_high=test.ci_high,
            rel_ci_low=test.rel_ci_low,
            rel_ci_high=test.rel_ci_high,
            statistic=test.statistic,
            df=test.df,
            p_value=test.p_value,
            p_adjusted=p_adjusted,
            significant=p_adjusted <= significance,
        )
        for arm, test, p_adjusted in zip(treatments, tests, adjusted, strict=True)
    ]

    units = [arm.units for arm in parsed]
    total = sum(units)
    chi_square = math.fsum(
        (observed - total * share) ** 2 / (total * share)
        for observed, share in zip(units, shares, strict=True)
    )
    srm_p = _chi2_sf(chi_square, len(parsed) - 1)
    srm_alarm = srm_p < SRM_ALARM_P

    short = (
        []
        if planned is None
        else [
            {"arm": arm.name, "units": arm.units, "planned": n}
            for arm, n in zip(parsed, planned, strict=True)
            if arm.units < n
        ]
    )
    peeking = render("abtest_peeking.txt.j2", short=short) if short else None

    verdict: Verdict
    if srm_alarm:
        verdict = "sample_ratio_mismatch"
    elif peeking is not None:
        verdict = "incomplete"
    elif any(comparison.significant for comparison in comparisons):
        verdict = "significant"
    else:
        verdict = "not_significant"
    facts: dict[str, object] = {
        "kind": kind,
        "binomial": kind == "proportion",
        "unit": "viewer",
        "method": "pooled",
        "sides": 2,
        "arms": len(parsed),
        "alpha": significance,
        "effective_alpha": significance,
        "ci_level": 1.0 - ci_alpha,
        "correction": chosen,
    }
    decision = render(
        "abtest_decision.txt.j2",
        verdict=verdict,
        kind=kind,
        control=control.name,
        comparisons=[comparison.model_dump() for comparison in comparisons],
        correction=chosen,
        alpha=significance,
        ci_level=1.0 - ci_alpha,
        srm_p_value=srm_p,
        srm_alarm_p=SRM_ALARM_P,
        peeking=peeking,
    )
    return AbTestAnalysis(
        metric_kind=cast("MetricKind", kind),
        control=control.name,
        analysis_method=render("abtest_analysis_method.txt.j2", **facts),
        correction=chosen,
        alpha=significance,
        ci_level=1.0 - ci_alpha,
        comparisons=comparisons,
        units_per_arm=units,
        expected_allocation=shares,
        srm_chi_square=chi_square,
        srm_p_value=srm_p,
        srm_alarm=srm_alarm,
        peeking_warning=peeking,
        verdict=verdict,
        decision=decision,
    )
