"""Plan an A/B test: :func:`design_ab_test`.

Pure: numbers in, a pydantic result out, every sentence rendered from a
``prompts/templates/abtest_*.txt.j2`` template.

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

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict

from kpi_core.errors import ExperimentError
from kpi_core.experiments.args import (
    MAX_ARMS,
    MAX_GUARDRAILS,
    MAX_MAGNITUDE,
    MDE_TYPES,
    METHODS,
    METRIC_KINDS,
    MIN_UNITS_PER_ARM,
    SMALL_SAMPLE,
    SRM_ALARM_P,
    UNITS,
    DesignRequest,
    MdeType,
    Method,
    MetricKind,
    Sides,
    Unit,
)
from kpi_core.experiments.checks import (
    check_allocation,
    check_choice,
    check_integer,
    check_items,
    check_number,
    check_open_fraction,
    check_sides,
    check_significance,
    check_text,
)
from kpi_core.experiments.statistics import z_quantile
from prompts import render

__all__ = [
    "DEFAULT_OBSERVATION_DAYS",
    "FOUR_WEEKS_DAYS",
    "MAX_DURATION_DAYS",
    "AbTestDesign",
    "SrmCheck",
    "design_ab_test",
    "plan_experiment",
]

#: A plan that needs longer than this (in whole weeks) is flagged infeasible.
MAX_DURATION_DAYS = 90
#: The horizon of ``detectable_mde_in_4_weeks``.
FOUR_WEEKS_DAYS = 28
#: Default observation window of a ``creator`` experiment (each creator's mean is taken over it).
DEFAULT_OBSERVATION_DAYS = 28
#: Methods that need the binomial variance of individual viewers.
BINOMIAL_METHODS: tuple[Method, ...] = ("cohens_h", "evan_miller")

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

    summary: str
    """The plan in a few lines (what an assistant should say first)."""
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
    sides: Sides
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


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def safe_ceil(value: float) -> int:
    """Ceiling that forgives floating-point dust: 14400.000000000002 -> 14400.

    A figure within one part in 10^9 above an integer is that integer (16 * 0.1 * 0.9 / 0.01**2
    is 14400.000000000002 in binary floating point).
    """
    return math.ceil(value - 1e-9 * max(1.0, abs(value)))


def _whole_weeks(days: float) -> int:
    """Days rounded up to whole weeks, never under one week."""
    return max(7, 7 * safe_ceil(days / 7))


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


# --------------------------------------------------------------------------------------------
# Validation, step by step
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
    sides: Sides
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


def _check_unit(request: DesignRequest, allowed_units: object) -> Unit:
    """1. The unit, and whether the intervention can be randomised on it."""
    chosen = check_choice("unit", request.unit, UNITS)
    if allowed_units is None:
        return chosen
    allowed = [
        check_choice(f"allowed_units[{i}]", u, UNITS)
        for i, u in enumerate(check_items("allowed_units", allowed_units))
    ]
    if chosen not in allowed:
        raise ExperimentError(
            "unit",
            "must be a unit this intervention can be randomised on "
            f"({', '.join(allowed) or 'none'})",
            chosen,
            f"use unit={allowed[0]!r}" if allowed else "this intervention cannot be A/B tested",
        )
    return chosen


def _check_spread(
    request: DesignRequest, kind: MetricKind, unit: Unit, method: Method, base: float
) -> tuple[float, list[str]]:
    """2. The spread between units (0 for a binomial plan), with a note if it was ignored."""
    binomial = kind == "proportion" and unit == "viewer"
    if request.baseline_sd is None:
        if binomial:
            return 0.0, []
        raise ExperimentError(
            "baseline_sd",
            f"is required for a {kind} measured per {unit}",
            None,
            f"give the standard deviation of the metric between {unit}s",
        )
    sd = check_number("baseline_sd", request.baseline_sd)
    if sd <= 0.0:
        raise ExperimentError(
            "baseline_sd",
            "must be greater than 0",
            request.baseline_sd,
            "give the spread between units",
        )
    if binomial:
        return 0.0, [_note("baseline_sd_ignored")]
    if method in BINOMIAL_METHODS:
        raise ExperimentError(
            "method",
            f"must be 'pooled' or 'relative_lift' for a {kind} measured per {unit} "
            f"({method} assumes the binomial variance of single viewers)",
            method,
            "use 'pooled' (difference in means) or 'relative_lift' (log ratio of means)",
        )
    if method == "relative_lift" and base <= 0.0:
        raise ExperimentError(
            "baseline",
            "must be above 0 for method 'relative_lift' (a log ratio of means)",
            request.baseline,
            "use method='pooled' for a metric that can be 0 or negative",
        )
    return sd, []


def _check_baseline(request: DesignRequest, kind: MetricKind) -> float:
    base = check_number("baseline", request.baseline)
    if kind == "proportion" and not 0.0 < base < 1.0:
        raise ExperimentError(
            "baseline",
            "must be a rate strictly between 0 and 1 for a proportion",
            request.baseline,
            f"did you mean {base / 100:g}?" if 1.0 < base <= 100.0 else "give the control's rate",
        )
    return base


def _check_effect(
    request: DesignRequest, kind: MetricKind, mde_type: MdeType, base: float
) -> tuple[float, float]:
    """3. The MDE and the absolute effect it means."""
    mde = cast("object", request.mde)  # model_construct keeps whatever the caller gave
    if mde is None:
        raise ExperimentError(
            "mde", "is required", None, "give the smallest effect worth detecting, e.g. 0.1"
        )
    effect_size = check_number("mde", mde)
    if effect_size <= 0.0:
        raise ExperimentError(
            "mde", "must be greater than 0", mde, "give the size of the smallest effect worth it"
        )
    if mde_type == "relative":
        if base == 0.0:
            raise ExperimentError(
                "baseline",
                "must not be 0 with a relative mde",
                request.baseline,
                "use mde_type='absolute'",
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
    return effect_size, delta


def _check_cuped(value: object) -> float | None:
    if value is None:
        return None
    rho = check_number("cuped_correlation", value)
    if not 0.0 <= rho < 1.0:
        raise ExperimentError(
            "cuped_correlation",
            "must be in [0, 1)",
            value,
            "give the correlation of the metric with its pre-period value",
        )
    return rho


@dataclass(frozen=True, slots=True)
class _Traffic:
    daily: float | None
    available: int | None
    block_days: int | None
    observation_days: int | None
    notes: list[str]


def _check_traffic(request: DesignRequest, unit: Unit) -> _Traffic:
    """5. The supply of units: per day (viewers), in all (creators, blocks), block lengths."""
    daily = None
    if request.daily_units is not None:
        daily = check_number("daily_units", request.daily_units)
        if daily <= 0.0:
            raise ExperimentError(
                "daily_units", "must be greater than 0", request.daily_units, "count units per day"
            )
    available = None
    if request.available_units is not None:
        available = check_integer(
            "available_units", request.available_units, 1, "the units you can enrol"
        )
    blocks = None
    if request.block_days is not None:
        blocks = check_integer(
            "block_days", request.block_days, 1, "the length of one switchback block"
        )
    window = None
    if request.observation_days is not None:
        window = check_integer("observation_days", request.observation_days, 1, "e.g. 28")
    if unit == "time_block" and blocks is None:
        raise ExperimentError(
            "block_days",
            "is required for unit 'time_block'",
            None,
            "give the length of one switchback block in days, e.g. 7",
        )
    notes: list[str] = []
    if unit != "time_block" and blocks is not None:
        notes.append(_note("ignored", argument="block_days", unit=unit))
        blocks = None
    if unit != "creator" and window is not None:
        notes.append(_note("ignored", argument="observation_days", unit=unit))
        window = None
    if unit == "creator" and window is None:
        window = DEFAULT_OBSERVATION_DAYS
    if unit != "viewer" and daily is not None:
        notes.append(_note("ignored", argument="daily_units", unit=unit))
        daily = None
    return _Traffic(daily, available, blocks, window, notes)


def _check_names(request: DesignRequest) -> tuple[str | None, list[str]]:
    """6. The primary metric's and the guardrails' names."""
    primary = request.primary_metric
    metric_name = None if primary is None else check_text("primary_metric", primary)
    given = cast("object", request.guardrails)
    guardrail_items = check_items("guardrails", () if given is None else given)
    if len(guardrail_items) > MAX_GUARDRAILS:
        raise ExperimentError(
            "guardrails", f"must list at most {MAX_GUARDRAILS} metrics", len(guardrail_items)
        )
    names = [check_text(f"guardrails[{i}]", name) for i, name in enumerate(guardrail_items)]
    missing = cast("object", request.missing)  # ignored, but it must be what recommend sends
    if missing is not None:
        for i, name in enumerate(check_items("missing", missing)):
            check_text(f"missing[{i}]", name)
    return metric_name, names


def _validate_design(request: DesignRequest, allowed_units: object) -> _Design:
    kind = check_choice("metric_kind", request.metric_kind, METRIC_KINDS)
    unit = _check_unit(request, allowed_units)
    method = check_choice("method", request.method, METHODS)
    mde_type = check_choice("mde_type", request.mde_type, MDE_TYPES)
    base = _check_baseline(request, kind)
    sd, notes = _check_spread(request, kind, unit, method, base)
    effect_size, delta = _check_effect(request, kind, mde_type, base)
    # 4. the test: significance, power, sides, arms and their allocation
    significance = check_significance(request.alpha)
    target_power = check_open_fraction("power", request.power, "e.g. 0.8")
    side_count = check_sides(request.sides)
    arm_count = check_integer(
        "arms", request.arms, 2, "a test needs a control and at least one treatment"
    )
    if arm_count > MAX_ARMS:
        raise ExperimentError(
            "arms", f"must be at most {MAX_ARMS}", request.arms, "test fewer variants"
        )
    shares = check_allocation("allocation", request.allocation, arm_count)
    rho = _check_cuped(request.cuped_correlation)
    traffic = _check_traffic(request, unit)
    metric_name, guardrails = _check_names(request)
    return _Design(
        kind=kind,
        unit=unit,
        method=method,
        mde_type=mde_type,
        binomial=kind == "proportion" and unit == "viewer",
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
        daily=traffic.daily,
        available=traffic.available,
        block_days=traffic.block_days,
        observation_days=traffic.observation_days,
        primary_metric=metric_name,
        guardrails=guardrails,
        notes=[*notes, *traffic.notes],
    )


# --------------------------------------------------------------------------------------------
# The plan, step by step
# --------------------------------------------------------------------------------------------


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


def _sample_size_model(design: _Design) -> _SampleSizeModel:
    effective_alpha = design.alpha / (design.arms - 1)
    z_alpha = z_quantile(1.0 - effective_alpha / design.sides)
    z_beta = z_quantile(design.power)
    if z_alpha + z_beta <= 0.0:
        raise ExperimentError(
            "power",
            f"must exceed the one-tail significance level {effective_alpha / design.sides:g}",
            design.power,
            "ask for more power, e.g. 0.8",
        )
    rho = design.rho or 0.0
    return _SampleSizeModel(
        binomial=design.binomial,
        method=design.method,
        baseline=design.baseline,
        sd=design.sd,
        ratios=tuple(share / design.shares[0] for share in design.shares[1:]),
        z_alpha=z_alpha,
        z_beta=z_beta,
        variance_factor=1.0 - rho**2,
    )


def _per_arm(design: _Design, control_units: float) -> list[int]:
    shares = design.shares
    return [
        max(MIN_UNITS_PER_ARM, safe_ceil(control_units * share / shares[0])) for share in shares
    ]


def _sizes(design: _Design, model: _SampleSizeModel) -> tuple[list[int], list[int]]:
    """Units per arm with and without CUPED."""
    control_units = model.control_n(design.delta)
    if not control_units <= MAX_MAGNITUDE:  # infinite or beyond any population
        raise ExperimentError(
            "mde",
            f"is too small to detect: the plan would need over {MAX_MAGNITUDE:g} units per arm",
            design.mde,
            "give a larger mde (or a smaller baseline_sd)",
        )
    without = _per_arm(design, model.control_n(design.delta, with_cuped=False))
    return _per_arm(design, control_units), without


def _feasibility(
    design: _Design, n_per_arm: list[int], notes: list[str]
) -> tuple[int | None, list[str]]:
    """The duration and the reasons the plan is infeasible (notes gain what is unchecked)."""
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
    return duration, reasons


def _detectable(design: _Design, model: _SampleSizeModel, notes: list[str]) -> float | None:
    """The MDE that 28 days of units can detect (None, with a note, when it is unknown)."""
    units = _units_in_four_weeks(design)
    if units is None:
        notes.append(_note("detectable_unknown", unit=design.unit))
        return None
    if min(units * share for share in design.shares) < MIN_UNITS_PER_ARM:
        notes.append(_note("detectable_too_few", units=units, unit=design.unit))
        return None
    upper = 1.0 - design.baseline if design.kind == "proportion" else None
    smallest = model.smallest_delta(units * design.shares[0], upper)
    if smallest is None:
        notes.append(_note("detectable_none", units=units, unit=design.unit))
        return None
    return smallest / abs(design.baseline) if design.mde_type == "relative" else smallest


def _facts(design: _Design) -> dict[str, object]:
    """What the templates of a plan need to know."""
    return {
        "kind": design.kind,
        "binomial": design.binomial,
        "unit": design.unit,
        "method": design.method,
        "sides": design.sides,
        "arms": design.arms,
        "alpha": design.alpha,
        "effective_alpha": design.alpha / (design.arms - 1),
        "power": design.power,
        "block_days": design.block_days,
        "observation_days": design.observation_days,
        "rho": design.rho,
    }


def _plan(design: _Design) -> AbTestDesign:
    model = _sample_size_model(design)
    n_per_arm, n_without_cuped = _sizes(design, model)
    notes = list(design.notes)
    duration, reasons = _feasibility(design, n_per_arm, notes)
    detectable = _detectable(design, model, notes)
    arm_names = _arm_names(design.arms)
    treated = design.baseline + design.delta
    facts = _facts(design)
    plan = AbTestDesign(
        summary="",
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
        effective_alpha=design.alpha / (design.arms - 1),
        comparisons=design.arms - 1,
        sides=design.sides,
        power=design.power,
        arm_names=arm_names,
        allocation=design.shares,
        n_per_arm=n_per_arm,
        n_total=sum(n_per_arm),
        n_per_arm_without_cuped=n_without_cuped,
        cuped_correlation=design.rho,
        variance_reduction=(design.rho or 0.0) ** 2,
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
            expected_allocation=design.shares,
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
    return plan.model_copy(update={"summary": render("abtest_design_summary.txt.j2", design=plan)})


def plan_experiment(request: DesignRequest, *, allowed_units: object = None) -> AbTestDesign:
    """:func:`design_ab_test` for the arguments as one model (what the tool receives)."""
    return _plan(_validate_design(request, allowed_units))


def design_ab_test(
    metric_kind: MetricKind,
    baseline: float,
    *,
    baseline_sd: float | None = None,
    mde: float | None = None,
    mde_type: MdeType = "relative",
    alpha: float = 0.05,
    power: float = 0.8,
    sides: Sides = 2,
    arms: int = 2,
    allocation: Sequence[float] | None = None,
    unit: Unit = "viewer",
    daily_units: float | None = None,
    available_units: int | None = None,
    block_days: int | None = None,
    cuped_correlation: float | None = None,
    method: Method = "pooled",
    primary_metric: str | None = None,
    guardrails: Sequence[str] | None = (),
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
    arguments = dict(locals())
    del arguments["allowed_units"]
    # The arguments are taken as given (model_construct checks nothing): every rule is checked
    # by _validate_design, in our words.
    request = DesignRequest.model_construct(**arguments)
    return plan_experiment(request, allowed_units=allowed_units)
