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

**Ratio metrics** (``metric_kind="ratio"``, such as GMV per viewer) are planned with the means
formulas; ``baseline_sd`` is the ratio's delta-method standard deviation per unit,
``sqrt(v_m - 2 R c_md + R^2 v_d) / d`` (``analyze_ab_test`` reports it per arm as ``unit_sd``).

**Small samples and sequential plans**: see :mod:`kpi_core.experiments.sizing` (t quantiles
below 30 units per arm; the sample a confidence sequence needs, and its cost against the fixed
horizon).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from kpi_core.errors import ExperimentError
from kpi_core.experiments.args import (
    MAX_MAGNITUDE,
    MIN_UNITS_PER_ARM,
    SMALL_SAMPLE,
    SRM_ALARM_P,
    Correction,
    DesignRequest,
    MdeType,
    Method,
    MetricKind,
    Sides,
    Unit,
)
from kpi_core.experiments.design_checks import Design, note, validate_design
from kpi_core.experiments.inference import DEFAULT_SEQUENTIAL_TUNING
from kpi_core.experiments.sizing import SampleSizeModel, Sequential, safe_ceil, whole_weeks
from kpi_core.experiments.statistics import z_quantile
from prompts import render

__all__ = [
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
    """An experiment plan; every figure is traceable to the inputs echoed here."""

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
    """Units per arm, control first (viewers, creators or time blocks, after CUPED); for a
    sequential plan the planned maximum."""
    n_total: int
    n_per_arm_without_cuped: list[int]
    n_per_arm_fixed_horizon: list[int]
    """The same plan without the sequential option (equal to n_per_arm when not sequential)."""
    sequential: bool
    """True: an always-valid analysis, so the test may be read at any time and stopped early."""
    sequential_tuning: float
    sequential_cost: float | None
    """n_total over the fixed-horizon total: the price of being allowed to peek (None if fixed)."""
    t_quantiles: bool
    """True when an arm holds fewer than 30 units, so the plan uses t rather than z quantiles."""
    correction: Correction
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
    guardrail_margins: dict[str, float]
    """Each guardrail's non-inferiority margin (a fraction of the control's value)."""
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
# The plan, step by step
# --------------------------------------------------------------------------------------------


def _arm_names(arms: int) -> list[str]:
    if arms == 2:
        return ["control", "treatment"]
    return ["control", *(f"treatment_{index}" for index in range(1, arms))]


def _lines(template: str, **facts: object) -> list[str]:
    """A template that says one item per line, as a list."""
    return [line.strip() for line in render(template, **facts).splitlines() if line.strip()]


def _duration(design: Design, n_per_arm: list[int]) -> int | None:
    """Whole weeks the plan runs, or None when the rate of units is unknown."""
    if design.unit == "creator":
        assert design.observation_days is not None
        return whole_weeks(design.observation_days)
    if design.unit == "time_block":
        assert design.block_days is not None
        return whole_weeks(sum(n_per_arm) * design.block_days)
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
    return whole_weeks(days)


def _units_in_four_weeks(design: Design) -> float | None:
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


def _sample_size_model(design: Design, *, sequential: bool) -> SampleSizeModel:
    effective_alpha = design.alpha / (design.arms - 1)
    tail = effective_alpha / design.sides
    z_alpha = z_quantile(1.0 - tail)
    z_beta = z_quantile(design.power)
    if z_alpha + z_beta <= 0.0:
        raise ExperimentError(
            "power",
            f"must exceed the one-tail significance level {tail:g}",
            design.power,
            "ask for more power, e.g. 0.8",
        )
    rho = design.rho or 0.0
    return SampleSizeModel(
        binomial=design.binomial,
        method=design.method,
        baseline=design.baseline,
        sd=design.sd,
        ratios=tuple(share / design.shares[0] for share in design.shares[1:]),
        z_alpha=z_alpha,
        z_beta=z_beta,
        variance_factor=1.0 - rho**2,
        alpha_tail=tail,
        power=design.power,
        sequential=Sequential(effective_alpha, design.sequential_tuning) if sequential else None,
    )


def _per_arm(design: Design, control_units: float) -> list[int]:
    shares = design.shares
    return [
        max(MIN_UNITS_PER_ARM, safe_ceil(control_units * share / shares[0])) for share in shares
    ]


@dataclass(frozen=True, slots=True)
class _Sizes:
    model: SampleSizeModel  # the one the plan uses (t quantiles, sequential, as it applies)
    n_per_arm: list[int]
    without_cuped: list[int]
    fixed_horizon: list[int]
    t_quantiles: bool


def _sizes(design: Design) -> _Sizes:
    """Units per arm: fixed horizon (t quantiles below 30 units), sequential, without CUPED."""
    fixed = _sample_size_model(design, sequential=False)
    small = fixed.for_small_samples(design.delta)
    model = small
    if design.sequential:  # asymptotic: the sequence needs large samples anyway
        model = _sample_size_model(design, sequential=True)
    control_units = model.control_n(design.delta)
    if not control_units <= MAX_MAGNITUDE:  # infinite or beyond any population
        raise ExperimentError(
            "mde",
            f"is too small to detect: the plan would need over {MAX_MAGNITUDE:g} units per arm",
            design.mde,
            "give a larger mde (or a smaller baseline_sd)",
        )
    return _Sizes(
        model=model,
        n_per_arm=_per_arm(design, control_units),
        without_cuped=_per_arm(design, model.control_n(design.delta, with_cuped=False)),
        fixed_horizon=_per_arm(design, small.control_n(design.delta)),
        t_quantiles=small is not fixed,
    )


def _feasibility(
    design: Design, n_per_arm: list[int], notes: list[str]
) -> tuple[int | None, list[str]]:
    """The duration and the reasons the plan is infeasible (notes gain what is unchecked)."""
    n_total = sum(n_per_arm)
    reasons: list[str] = []
    duration = _duration(design, n_per_arm)
    if duration is None:
        notes.append(note("duration_unknown"))
    elif duration > MAX_DURATION_DAYS:
        reasons.append(note("too_long", duration=duration, limit=MAX_DURATION_DAYS))
    if design.available is None:
        if design.unit != "viewer":
            notes.append(note("available_unknown", unit=design.unit, n_total=n_total))
    elif n_total > design.available:
        reasons.append(
            note("too_few_units", unit=design.unit, n_total=n_total, available=design.available)
        )
    return duration, reasons


def _detectable(design: Design, model: SampleSizeModel, notes: list[str]) -> float | None:
    """The MDE that 28 days of units can detect (None, with a note, when it is unknown)."""
    units = _units_in_four_weeks(design)
    if units is None:
        notes.append(note("detectable_unknown", unit=design.unit))
        return None
    if min(units * share for share in design.shares) < MIN_UNITS_PER_ARM:
        notes.append(note("detectable_too_few", units=units, unit=design.unit))
        return None
    upper = 1.0 - design.baseline if design.kind == "proportion" else None
    smallest = model.smallest_delta(units * design.shares[0], upper)
    if smallest is None:
        notes.append(note("detectable_none", units=units, unit=design.unit))
        return None
    return smallest / abs(design.baseline) if design.mde_type == "relative" else smallest


def _facts(design: Design) -> dict[str, object]:
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
        "correction": design.correction,
        "sequential": design.sequential,
        "tuning": design.sequential_tuning,
    }


def _texts(design: Design, sizes: _Sizes) -> dict[str, object]:
    """The plan's sentences: method, analysis, stopping rule, hypothesis, SRM, assumptions."""
    facts = _facts(design)
    arm_names = _arm_names(design.arms)
    return {
        "method_label": render("abtest_method.txt.j2", **facts),
        "analysis_method": render(
            "abtest_analysis_method.txt.j2",
            planned=True,
            tests=[],
            cuped=design.rho is not None,
            **facts,
        ),
        "stopping_rule": render("abtest_stopping_rule.txt.j2", n_per_arm=sizes.n_per_arm, **facts),
        "hypothesis": render(
            "abtest_hypothesis.txt.j2",
            primary_metric=design.primary_metric,
            baseline=design.baseline,
            treated=design.baseline + design.delta,
            delta=design.delta,
            mde=design.mde,
            mde_type=design.mde_type,
            treatments=arm_names[1:],
            **facts,
        ),
        "srm_check": SrmCheck(
            expected_allocation=design.shares,
            expected_units=sizes.n_per_arm,
            instruction=render("abtest_srm.txt.j2", alarm=SRM_ALARM_P, arm_names=arm_names),
        ),
        "assumptions": _lines(
            "abtest_assumptions.txt.j2",
            smallest_arm=min(sizes.n_per_arm),
            small_sample=SMALL_SAMPLE,
            t_quantiles=sizes.t_quantiles,
            **facts,
        ),
    }


def _plan(design: Design) -> AbTestDesign:
    sizes = _sizes(design)
    notes = list(design.notes)
    duration, reasons = _feasibility(design, sizes.n_per_arm, notes)
    detectable = _detectable(design, sizes.model, notes)
    fixed_total = sum(sizes.fixed_horizon)
    cost = sum(sizes.n_per_arm) / fixed_total if design.sequential else None
    if cost is not None:
        notes.append(note("sequential_cost", cost=cost, fixed=fixed_total))
    if sizes.t_quantiles:
        notes.append(note("small_sample", smallest=min(sizes.n_per_arm), binomial=design.binomial))
    plan = AbTestDesign(
        summary="",
        metric_kind=design.kind,
        unit=design.unit,
        method=design.method,
        baseline=design.baseline,
        baseline_sd=None if design.binomial else design.sd,
        expected_treatment_value=design.baseline + design.delta,
        mde=design.mde,
        mde_type=design.mde_type,
        absolute_mde=design.delta,
        relative_mde=design.delta / abs(design.baseline) if design.baseline != 0.0 else None,
        alpha=design.alpha,
        effective_alpha=design.alpha / (design.arms - 1),
        comparisons=design.arms - 1,
        sides=design.sides,
        power=design.power,
        arm_names=_arm_names(design.arms),
        allocation=design.shares,
        n_per_arm=sizes.n_per_arm,
        n_total=sum(sizes.n_per_arm),
        n_per_arm_without_cuped=sizes.without_cuped,
        n_per_arm_fixed_horizon=sizes.fixed_horizon,
        sequential=design.sequential,
        sequential_tuning=design.sequential_tuning,
        sequential_cost=cost,
        t_quantiles=sizes.t_quantiles,
        correction=design.correction,
        cuped_correlation=design.rho,
        variance_reduction=(design.rho or 0.0) ** 2,
        duration_days=duration,
        block_days=design.block_days,
        observation_days=design.observation_days,
        primary_metric=design.primary_metric,
        guardrails=design.guardrails,
        guardrail_margins=design.guardrail_margins,
        feasible=not reasons,
        reasons=reasons,
        detectable_mde_in_4_weeks=detectable,
        notes=notes,
        **_texts(design, sizes),  # pyright: ignore[reportArgumentType]
    )
    return plan.model_copy(update={"summary": render("abtest_design_summary.txt.j2", design=plan)})


def plan_experiment(request: DesignRequest, *, allowed_units: object = None) -> AbTestDesign:
    """:func:`design_ab_test` for the arguments as one model (what the tool receives)."""
    return _plan(validate_design(request, allowed_units))


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
    correction: Correction = "holm",
    sequential: bool = False,
    sequential_tuning: float = DEFAULT_SEQUENTIAL_TUNING,
    guardrail_margins: Mapping[str, float] | None = None,
    primary_metric: str | None = None,
    guardrails: Sequence[str] | None = (),
    allowed_units: Sequence[str] | None = None,
    observation_days: int | None = None,
) -> AbTestDesign:
    """Plan an A/B test: units per arm, duration, SRM check and feasibility.

    ``baseline`` is the control's rate (``proportion``, in (0, 1)), mean or ratio; ``mde``
    (required) is the smallest effect worth detecting, as a fraction of the baseline
    (``relative``) or in the metric's own units (``absolute``), taken as an increase.
    ``daily_units`` counts the eligible units per day across all arms (``viewer``);
    ``available_units`` caps the units in total (the cohort for ``creator``, the number of blocks
    for ``time_block``). ``observation_days`` is the window over which each creator's mean is
    taken (``creator`` only; default 28). ``sequential`` plans an always-valid analysis (peeking
    allowed) and reports its cost in units; ``correction`` and ``guardrail_margins`` say how the
    outcome will be read. ``allowed_units`` lists the units the intervention can be randomised on
    (the caller maps an intervention to them); a ``unit`` outside it is refused with the reason.
    """
    arguments = dict(locals())
    del arguments["allowed_units"]
    # The arguments are taken as given (model_construct checks nothing): every rule is checked
    # by validate_design, in our words.
    request = DesignRequest.model_construct(**arguments)
    return plan_experiment(request, allowed_units=allowed_units)
