"""Read an A/B test: :func:`analyze_ab_test`.

Pure: per-arm counts, moments or sums in, a pydantic result out, every sentence rendered from a
``prompts/templates/abtest_*.txt.j2`` template. The arms become statistics
(:mod:`~kpi_core.experiments.arms`), each treatment arm is compared with the control by one test
type (:mod:`~kpi_core.experiments.inference`), chosen once from the settings:

==========================  ===================================================================
sequential                  always-valid confidence sequence (absolute, or log ratio)
proportion, relative_lift   Wald z-test of the log ratio of the rates
proportion, small counts    Fisher's exact test (an expected cell count below 10)
proportion                  pooled z-test, with the score interval that inverts it
mean, CUPED                 ANCOVA t-test (pooled within-arm slope), df ``N - k - 1``
mean, ratio                 Welch t-test (ratio: delta-method variances), or of the log ratio
==========================  ===================================================================

**Intervals agree with the decision.** The interval on the deciding scale inverts the deciding
test at the comparison's level, so it excludes 0 exactly when the comparison is significant.
The levels follow the correction: ``1 - alpha`` without one, ``1 - alpha / m`` with Bonferroni,
and with Holm each arm's level is that of its step (``1 - alpha / (m - k + 1)`` for the arm
rejected at step ``k``; ``1 - alpha / (m - r)`` for the arms not rejected after ``r``
rejections), which agrees with Holm's decisions but is not simultaneous. A sequential analysis
with several arms uses Bonferroni (its p-value depends on its level). The interval on the other
scale (relative for an absolute decision, and the reverse) is for reading; for Fisher's test both
come from the odds ratio's exact interval at the control's rate.

**One-sided** (``sides=1``): only an improvement in ``improvement``'s direction counts; intervals
are open on the other side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from kpi_core.errors import ExperimentError
from kpi_core.experiments.args import (
    CORRECTIONS,
    METHODS,
    METRIC_KINDS,
    SRM_ALARM_P,
    UNITS,
    Arm,
    Correction,
    Direction,
    Method,
    MetricKind,
    Sides,
    Unit,
)
from kpi_core.experiments.arms import ArmForm, ParsedArms, parse_arms
from kpi_core.experiments.checks import (
    check_allocation,
    check_choice,
    check_integer,
    check_items,
    check_number,
    check_sides,
    check_significance,
)
from kpi_core.experiments.guardrails import GuardrailResult, check_guardrails
from kpi_core.experiments.inference import (
    DEFAULT_SEQUENTIAL_TUNING,
    Bounds,
    FisherTest,
    ScoreTest,
    SequentialTest,
    TestScale,
    WaldTest,
)
from kpi_core.experiments.statistics import (
    ProportionStatistic,
    Scale,
    Statistic,
    chi2_sf,
    effect,
)
from prompts import render

__all__ = [
    "AbTestAnalysis",
    "ArmResult",
    "Comparison",
    "TestName",
    "Verdict",
    "adjust_p_values",
    "analyze_ab_test",
    "holm_levels",
]

Verdict = Literal[
    "sample_ratio_mismatch", "incomplete", "guardrail_failed", "significant", "not_significant"
]
TestName = Literal["pooled_z", "fisher_exact", "log_ratio", "welch_t", "ancova_t", "sequential"]
_DIRECTIONS: tuple[Direction, ...] = ("increase", "decrease")

_RESULT_CONFIG = ConfigDict(frozen=True, use_attribute_docstrings=True)
#: math.expm1 overflows a float above about 709.78.
_MAX_EXPM1_ARGUMENT = 709.0
#: Below this expected count in any cell of a comparison, counts get Fisher's exact test.
MIN_EXPECTED_CELL = 10.0


class ArmResult(BaseModel):
    """One arm as measured."""

    model_config = _RESULT_CONFIG

    name: str
    units: int
    value: float
    """The arm's rate, mean, ratio, or CUPED-adjusted mean."""
    unit_sd: float
    """Standard deviation of one unit's value (for a ratio its delta-method sd, for CUPED the
    ANCOVA's residual sd): what design_ab_test takes as baseline_sd."""


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
    ci_low: float | None
    """Lower bound of the interval for abs_lift (None: open, on a one-sided test's far side)."""
    ci_high: float | None
    rel_ci_low: float | None
    """Lower bound for rel_lift (None when open, or when a value is not above 0)."""
    rel_ci_high: float | None
    ci_level: float
    """Coverage of this comparison's intervals (see the correction)."""
    test: TestName
    scale: TestScale
    """The scale the test decided on; its interval is the one that inverts the test."""
    statistic: float
    """The test's statistic: z, t, or the conditional odds ratio for Fisher's test."""
    df: float | None
    """Degrees of freedom of a t-test (None for z, exact and sequential tests)."""
    p_value: float
    """Unadjusted; one-sided when the analysis is."""
    p_adjusted: float
    """After the correction across the treatment arms."""
    significant: bool
    """p_adjusted <= alpha."""
    improved: bool
    """Significant, in the metric's better direction."""


class AbTestAnalysis(BaseModel):
    """The read-out of an experiment; ``decision`` says how it was taken."""

    model_config = _RESULT_CONFIG

    summary: str
    """The decision and any warning (what an assistant should say first)."""
    metric_kind: MetricKind
    unit: Unit
    control: str
    analysis_method: str
    method: Method
    sides: Sides
    improvement: Direction
    """The metric's better direction (what a one-sided test looks for)."""
    sequential: bool
    sequential_tuning: float | None
    correction: Correction
    """The correction applied (a sequential analysis with several arms uses Bonferroni)."""
    alpha: float
    ci_level: float | None
    """Coverage of every interval when they share one level (else see each comparison)."""
    arms: list[ArmResult]
    comparisons: list[Comparison]
    units_per_arm: list[int]
    expected_allocation: list[float]
    srm_chi_square: float
    srm_p_value: float
    srm_alarm: bool
    """srm_p_value < 0.001: the split does not match the plan; do not read the result."""
    peeking_warning: str | None
    """Set when a fixed-horizon test is read before every arm reached its planned sample."""
    guardrails: list[GuardrailResult]
    untested_guardrails: list[str] = []
    """The registered plan's guardrails that the recorded outcome did not test: they hold the
    decision to ship until they are recorded."""
    verdict: Verdict
    ship: bool
    """A significant improvement with no failed or untested planned guardrail, no SRM alarm and a
    complete test."""
    decision: str


def adjust_p_values(p_values: Sequence[float], correction: Correction = "holm") -> list[float]:
    """Family-wise adjusted p-values, in the input order (as statsmodels ``multipletests``).

    Holm: sort ascending, ``p_adj(i) = max_{k <= i} min(1, (m - k + 1) p(k))``; Bonferroni:
    ``min(1, m p)``; none: unchanged. A hypothesis is rejected when ``p_adj <= alpha``.
    """
    chosen = check_choice("correction", correction, CORRECTIONS)
    values = [check_number(f"p_values[{i}]", p) for i, p in enumerate(p_values)]
    for index, value in enumerate(values):
        if not 0.0 <= value <= 1.0:
            raise ExperimentError(f"p_values[{index}]", "must be in [0, 1]", value)
    count = len(values)
    if chosen == "none":
        return values
    if chosen == "bonferroni":
        return [min(1.0, count * value) for value in values]
    adjusted = [0.0] * count
    running = 0.0
    for rank, index in enumerate(sorted(range(count), key=lambda i: (values[i], i))):
        running = max(running, min(1.0, (count - rank) * values[index]))
        adjusted[index] = running
    return adjusted


def holm_levels(p_values: Sequence[float], alpha: float) -> list[float]:
    """Each hypothesis's level in Holm's step-down: ``alpha / (m - k + 1)`` for the one rejected
    at step ``k``, ``alpha / (m - r)`` for the rest after ``r`` rejections (see the docstring)."""
    count = len(p_values)
    order = sorted(range(count), key=lambda i: (p_values[i], i))
    levels = [0.0] * count
    rejected = 0
    for rank, index in enumerate(order):
        if p_values[index] <= alpha / (count - rank) and rejected == rank:
            levels[index] = alpha / (count - rank)
            rejected += 1
    for index in order[rejected:]:
        levels[index] = alpha / (count - rejected)
    return levels


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Settings:
    kind: MetricKind
    correction: Correction
    alpha: float
    sides: Sides
    improvement: Direction
    method: Method
    sequential: bool
    tuning: float
    unit: Unit


def _settings(
    metric_kind: object,
    correction: object,
    alpha: object,
    options: Mapping[str, object],
) -> _Settings:
    sequential = options["sequential"]
    if not isinstance(sequential, bool):
        raise ExperimentError("sequential", "must be true or false", sequential)
    tuning = check_number("sequential_tuning", options["sequential_tuning"])
    if not tuning > 0.0:
        raise ExperimentError("sequential_tuning", "must be above 0", tuning, "5000 as GrowthBook")
    return _Settings(
        kind=check_choice("metric_kind", metric_kind, METRIC_KINDS),
        correction=check_choice("correction", correction, CORRECTIONS),
        alpha=check_significance(alpha),
        sides=check_sides(options["sides"]),
        improvement=check_choice("improvement", options["improvement"], _DIRECTIONS),
        method=check_choice("method", options["method"], METHODS),
        sequential=sequential,
        tuning=tuning,
        unit=check_choice("unit", options["unit"], UNITS),
    )


def _planned_counts(value: object, arms: int) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [check_integer("planned_n_per_arm", value, 1, "pass the design's n_per_arm")] * arms
    items = check_items("planned_n_per_arm", value)
    if len(items) != arms:
        raise ExperimentError(
            "planned_n_per_arm",
            f"must have one count per arm ({arms})",
            list(items),
            "pass the design's n_per_arm",
        )
    return [
        check_integer(f"planned_n_per_arm[{i}]", n, 1, "pass the design's n_per_arm")
        for i, n in enumerate(items)
    ]


# --------------------------------------------------------------------------------------------
# One comparison
# --------------------------------------------------------------------------------------------

_Test = WaldTest | ScoreTest | FisherTest | SequentialTest


def _min_expected_cell(control: ProportionStatistic, treatment: ProportionStatistic) -> float:
    total = control.n + treatment.n
    converted = control.conversions + treatment.conversions
    rows = (control.n, treatment.n)
    columns = (converted, total - converted)
    return min(row * column / total for row in rows for column in columns)


def _degenerate(form: ArmForm, index: int, value: float) -> ExperimentError:
    if form == "counts":
        return ExperimentError(
            f"arms[{index}].conversions",
            "must leave the pooled rate strictly between 0 and 1 (here no unit, or every "
            "unit, converted in this arm and the control)",
            round(value),
            "collect more data before reading the test",
        )
    return ExperimentError(
        f"arms[{index}].sd" if form == "moments" else f"arms[{index}]",
        "must vary: the metric has no spread in this arm or the control",
        0.0,
        "give the standard deviations (or sums of squares) of the metric",
    )


def _choose_test(
    settings: _Settings, parsed: ParsedArms, index: int, level: float
) -> tuple[_Test, TestName]:
    """The test of treatment arm ``index`` against the control (see the module docstring)."""
    control, treatment = parsed.statistics[0], parsed.statistics[index]
    scale: TestScale = "log_ratio" if settings.method == "relative_lift" else "absolute"
    if isinstance(control, ProportionStatistic) and isinstance(treatment, ProportionStatistic):
        pooled = (control.conversions + treatment.conversions) / (control.n + treatment.n)
        if pooled in (0.0, 1.0):
            raise _degenerate("counts", index, treatment.conversions)
    measured = effect(control, treatment, scale)
    if measured is None:
        raise ExperimentError(
            f"arms[{index}]",
            "must have a value above 0 in this arm and the control for method 'relative_lift' "
            "(a log ratio)",
            treatment.mean,
            "use method='pooled' to decide on the difference",
        )
    if not measured.se > 0.0:
        raise _degenerate(parsed.form, index, treatment.mean * treatment.n)
    sides, direction = settings.sides, settings.improvement
    if settings.sequential:
        return SequentialTest(
            measured, sides, direction, level, settings.tuning, scale
        ), "sequential"
    if scale == "log_ratio":
        return WaldTest(measured, sides, direction, scale), "log_ratio"
    if isinstance(control, ProportionStatistic) and isinstance(treatment, ProportionStatistic):
        if _min_expected_cell(control, treatment) < MIN_EXPECTED_CELL:
            return FisherTest(control, treatment, sides, direction), "fisher_exact"
        return ScoreTest(control, treatment, sides, direction), "pooled_z"
    name: TestName = "ancova_t" if parsed.form == "cuped" else "welch_t"
    return WaldTest(measured, sides, direction, scale), name


def _relative(bounds: Bounds) -> Bounds:
    """Log-ratio bounds as relative lifts (None beyond floating point)."""
    return (
        None if bounds[0] is None else _lift_bound(bounds[0]),
        None if bounds[1] is None else _lift_bound(bounds[1]),
    )


def _lift_bound(log_bound: float) -> float | None:
    if math.isnan(log_bound) or log_bound > _MAX_EXPM1_ARGUMENT:
        return None
    return math.expm1(log_bound)


def _odds_to_rate(odds_ratio: float | None, reference: float) -> float | None:
    if odds_ratio is None:
        return None
    return odds_ratio * reference / (1.0 - reference + odds_ratio * reference)


def _intervals(
    test: _Test, control: Statistic, treatment: Statistic, level: float
) -> tuple[Bounds, Bounds]:
    """(absolute, relative) intervals at ``level``: the test's own scale inverts the test."""
    bounds = test.interval(level)
    if isinstance(test, FisherTest):
        rates = (
            test.control.mean,
            (test.control.conversions + test.treatment.conversions)
            / (test.control.n + test.treatment.n),
        )
        reference = rates[0] if 0.0 < rates[0] < 1.0 else rates[1]
        low, high = (_odds_to_rate(bound, reference) for bound in bounds)
        absolute = (
            None if low is None else low - reference,
            None if high is None else high - reference,
        )
        if test.control.mean <= 0.0:  # no relative lift over a control rate of 0
            return absolute, (None, None)
        relative = (
            None if low is None else low / reference - 1.0,
            None if high is None else high / reference - 1.0,
        )
        return absolute, relative
    other: Scale = "absolute" if test.scale == "log_ratio" else "log_ratio"
    measured = effect(control, treatment, other)
    secondary: Bounds = (None, None)
    if measured is not None and measured.se > 0.0:
        if isinstance(test, SequentialTest):
            reading: _Test = SequentialTest(
                measured, test.sides, test.improvement, test.alpha, test.tuning, other
            )
        else:
            reading = WaldTest(measured, test.sides, test.improvement, other)
        secondary = reading.interval(level)
    if test.scale == "log_ratio":
        return secondary, _relative(bounds)
    return bounds, _relative(secondary)


def _comparisons(settings: _Settings, parsed: ParsedArms) -> tuple[list[Comparison], Correction]:
    """Every treatment arm against the control, with the correction and matching intervals."""
    m = len(parsed.statistics) - 1
    correction = settings.correction
    if settings.sequential and correction == "holm" and m > 1:
        correction = "bonferroni"
    level = settings.alpha / m if correction != "none" and m > 1 else settings.alpha
    chosen = [_choose_test(settings, parsed, index, level) for index in range(1, m + 1)]
    p_values = [test.p_value() for test, _ in chosen]
    adjusted = adjust_p_values(p_values, correction)
    if correction == "holm" and m > 1:
        levels = holm_levels(p_values, settings.alpha)
    else:
        levels = [level] * m
    control = parsed.statistics[0]
    results: list[Comparison] = []
    for index, ((test, name), p, p_adj, arm_level) in enumerate(
        zip(chosen, p_values, adjusted, levels, strict=True), start=1
    ):
        treatment = parsed.statistics[index]
        absolute, relative = _intervals(test, control, treatment, arm_level)
        difference = treatment.mean - control.mean
        significant = p_adj <= settings.alpha
        better = difference > 0.0 if settings.improvement == "increase" else difference < 0.0
        results.append(
            Comparison(
                arm=parsed.names[index],
                control_value=control.mean,
                arm_value=treatment.mean,
                abs_lift=difference,
                rel_lift=treatment.mean / control.mean - 1.0 if control.mean > 0.0 else None,
                ci_low=absolute[0],
                ci_high=absolute[1],
                rel_ci_low=relative[0],
                rel_ci_high=relative[1],
                ci_level=1.0 - arm_level,
                test=name,
                scale=test.scale,
                statistic=test.statistic,
                df=test.df,
                p_value=p,
                p_adjusted=p_adj,
                significant=significant,
                improved=significant and better,
            )
        )
    return results, correction


# --------------------------------------------------------------------------------------------
# The whole read-out
# --------------------------------------------------------------------------------------------


def _srm(units: list[int], shares: list[float]) -> tuple[float, float]:
    """Chi-square goodness of fit of the units per arm to the planned allocation, and its p."""
    total = sum(units)
    chi_square = math.fsum(
        (observed - total * share) ** 2 / (total * share)
        for observed, share in zip(units, shares, strict=True)
    )
    return chi_square, chi2_sf(chi_square, len(units) - 1)


def _short(parsed: ParsedArms, planned: list[int] | None) -> list[dict[str, object]]:
    if planned is None:
        return []
    return [
        {"arm": name, "units": units, "planned": n}
        for name, units, n in zip(parsed.names, parsed.units, planned, strict=True)
        if units < n
    ]


def _verdict(
    srm_alarm: bool,
    short: tuple[bool, bool],
    comparisons: list[Comparison],
    guardrails: list[GuardrailResult],
) -> tuple[Verdict, bool]:
    """The verdict and whether to ship. ``short``: (below the planned sample, sequential)."""
    failed = {result.arm for result in guardrails if result.status == "failed"}
    shippable = [c for c in comparisons if c.improved and c.arm not in failed]
    below_plan, sequential = short
    decided = any(c.significant for c in comparisons)
    if srm_alarm:
        return "sample_ratio_mismatch", False
    if below_plan and not (sequential and decided):  # a sequential test may stop once decided
        return "incomplete", False
    if any(c.improved and c.arm in failed for c in comparisons) and not shippable:
        return "guardrail_failed", False
    if any(c.significant for c in comparisons):
        return "significant", bool(shippable)
    return "not_significant", False


def _arm_results(parsed: ParsedArms) -> list[ArmResult]:
    return [
        ArmResult(
            name=name,
            units=statistic.n,
            value=statistic.mean,
            unit_sd=math.sqrt(max(0.0, statistic.variance)),
        )
        for name, statistic in zip(parsed.names, parsed.statistics, strict=True)
    ]


def analyze_ab_test(
    metric_kind: MetricKind,
    arms: Sequence[Mapping[str, object] | Arm],
    *,
    correction: Correction = "holm",
    planned_allocation: Sequence[float] | None = None,
    planned_n_per_arm: Sequence[int] | int | None = None,
    alpha: float = 0.05,
    sides: Sides = 2,
    improvement: Direction = "increase",
    method: Method = "pooled",
    sequential: bool = False,
    sequential_tuning: float = DEFAULT_SEQUENTIAL_TUNING,
    unit: Unit = "viewer",
    guardrails: Sequence[object] | None = None,
    guardrail_margins: Mapping[str, float] | None = None,
    planned_guardrails: Sequence[str] = (),
) -> AbTestAnalysis:
    """Read an experiment from per-arm results (the first arm is control).

    The test follows from the settings (module docstring); every interval on the deciding scale
    agrees with its decision. ``sides=1`` tests only an improvement in ``improvement``'s
    direction. The sample ratio is checked by a chi-square against ``planned_allocation``
    (equal if none); ``planned_n_per_arm`` turns on the peeking warning of a fixed-horizon test
    read early. ``guardrails`` lists guardrail metrics with their arms, tested for
    non-inferiority (:mod:`~kpi_core.experiments.guardrails`); a failed one blocks shipping, and so
    does a metric of ``planned_guardrails`` (the registered plan's) that was not tested.
    """
    options: dict[str, object] = {
        "sides": sides,
        "improvement": improvement,
        "method": method,
        "sequential": sequential,
        "sequential_tuning": sequential_tuning,
        "unit": unit,
    }
    settings = _settings(metric_kind, correction, alpha, options)
    parsed = parse_arms(settings.kind, arms)
    shares = check_allocation("planned_allocation", planned_allocation, len(parsed.names))
    planned = _planned_counts(planned_n_per_arm, len(parsed.names))
    comparisons, applied = _comparisons(settings, parsed)
    guardrail_results = check_guardrails(
        guardrails, parsed.names, settings.alpha, guardrail_margins
    )
    chi_square, srm_p = _srm(parsed.units, shares)
    short = _short(parsed, planned)
    verdict, ship = _verdict(
        srm_p < SRM_ALARM_P, (bool(short), settings.sequential), comparisons, guardrail_results
    )
    tested = {result.metric for result in guardrail_results}
    untested = [metric for metric in planned_guardrails if metric not in tested]
    return _analysis(
        settings,
        parsed,
        comparisons,
        applied,
        guardrail_results,
        shares,
        (chi_square, srm_p),
        short,
        verdict,
        (ship and not untested, untested),
    )


def _analysis(
    settings: _Settings,
    parsed: ParsedArms,
    comparisons: list[Comparison],
    correction: Correction,
    guardrails: list[GuardrailResult],
    shares: list[float],
    srm: tuple[float, float],
    short: list[dict[str, object]],
    verdict: Verdict,
    shipping: tuple[bool, list[str]],
) -> AbTestAnalysis:
    """The result with its sentences (``shipping``: whether to ship, the planned guardrails not
    tested, which hold an otherwise shippable result)."""
    ship, untested = shipping
    levels = {comparison.ci_level for comparison in comparisons}
    ci_level = levels.pop() if len(levels) == 1 else None
    peeking = (
        render("abtest_peeking.txt.j2", short=short) if short and not settings.sequential else None
    )
    facts: dict[str, object] = {
        "kind": settings.kind,
        "binomial": parsed.form == "counts",
        "unit": settings.unit,
        "method": settings.method,
        "sides": settings.sides,
        "improvement": settings.improvement,
        "arms": len(parsed.names),
        "alpha": settings.alpha,
        "effective_alpha": settings.alpha,
        "correction": correction,
        "asked_correction": settings.correction,
        "sequential": settings.sequential,
        "tuning": settings.tuning,
        "cuped": parsed.form == "cuped",
        "ratio": parsed.form == "ratio",
        "tests": [comparison.model_dump() for comparison in comparisons],
        "ci_level": ci_level,
    }
    decision = render(
        "abtest_decision.txt.j2",
        verdict=verdict,
        ship=ship,
        untested_guardrails=untested,
        control=parsed.names[0],
        comparisons=facts["tests"],
        guardrails=[result.model_dump() for result in guardrails],
        srm_p_value=srm[1],
        srm_alarm_p=SRM_ALARM_P,
        short=short,
        **{key: value for key, value in facts.items() if key != "tests"},
    )
    return AbTestAnalysis(
        summary=render("abtest_analysis_summary.txt.j2", decision=decision, peeking=peeking),
        metric_kind=settings.kind,
        unit=settings.unit,
        control=parsed.names[0],
        analysis_method=render("abtest_analysis_method.txt.j2", planned=False, **facts),
        method=settings.method,
        sides=settings.sides,
        improvement=settings.improvement,
        sequential=settings.sequential,
        sequential_tuning=settings.tuning if settings.sequential else None,
        correction=correction,
        alpha=settings.alpha,
        ci_level=ci_level,
        arms=_arm_results(parsed),
        comparisons=comparisons,
        units_per_arm=parsed.units,
        expected_allocation=shares,
        srm_chi_square=srm[0],
        srm_p_value=srm[1],
        srm_alarm=srm[1] < SRM_ALARM_P,
        peeking_warning=peeking,
        guardrails=guardrails,
        untested_guardrails=untested,
        verdict=verdict,
        ship=ship,
        decision=decision,
    )
