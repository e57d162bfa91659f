"""Read an A/B test: :func:`analyze_ab_test`.

Pure: per-arm counts or summary statistics in, a pydantic result out, every sentence rendered
from a ``prompts/templates/abtest_*.txt.j2`` template.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, cast

from pydantic import BaseModel, ConfigDict

from kpi_core.errors import ExperimentError, field_name
from kpi_core.experiments.args import (
    CORRECTIONS,
    MAX_ARMS,
    METRIC_KINDS,
    MIN_UNITS_PER_ARM,
    SRM_ALARM_P,
    Correction,
    MeanArm,
    MetricKind,
    ProportionArm,
)
from kpi_core.experiments.checks import (
    check_allocation,
    check_choice,
    check_integer,
    check_items,
    check_number,
    check_significance,
    check_text,
)
from kpi_core.experiments.statistics import (
    chi2_sf,
    t_quantile,
    t_two_sided_p,
    two_sided_normal_p,
    z_quantile,
)
from prompts import render

__all__ = [
    "AbTestAnalysis",
    "Comparison",
    "Verdict",
    "adjust_p_values",
    "analyze_ab_test",
]

Verdict = Literal["sample_ratio_mismatch", "incomplete", "significant", "not_significant"]

_RESULT_CONFIG = ConfigDict(frozen=True, use_attribute_docstrings=True)
#: math.expm1 overflows a float above about 709.78.
_MAX_EXPM1_ARGUMENT = 709.0


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

    summary: str
    """The decision and any warning (what an assistant should say first)."""
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
    order = sorted(range(count), key=lambda index: (values[index], index))
    adjusted = [0.0] * count
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (count - rank) * values[index]))
        adjusted[index] = running
    return adjusted


# --------------------------------------------------------------------------------------------
# Arms
# --------------------------------------------------------------------------------------------


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


def _check_fields(record: Mapping[str, object], where: str, kind: str) -> None:
    expected = (
        {"name", "conversions", "units"} if kind == "proportion" else {"name", "mean", "sd", "n"}
    )
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


def _proportion_arm(name: str, record: Mapping[str, object], where: str) -> _ArmData:
    units = check_integer(f"{where}.units", record["units"], 1, "count the units assigned")
    conversions = check_integer(
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
    return _ArmData(name, rate, rate * (1.0 - rate), units)


def _mean_arm(name: str, record: Mapping[str, object], where: str) -> _ArmData:
    mean = check_number(f"{where}.mean", record["mean"])
    spread = check_number(f"{where}.sd", record["sd"])
    if spread < 0.0:
        raise ExperimentError(f"{where}.sd", "must be at least 0", spread)
    count = check_integer(f"{where}.n", record["n"], MIN_UNITS_PER_ARM, "a variance needs 2 units")
    return _ArmData(name, mean, spread**2, count)


def _parse_arms(kind: str, arms: object) -> list[_ArmData]:
    records = check_items("arms", arms)
    if len(records) < 2:
        raise ExperimentError(
            "arms", "must list at least 2 arms (control first)", len(records), "add the control"
        )
    if len(records) > MAX_ARMS:
        raise ExperimentError("arms", f"must list at most {MAX_ARMS} arms", len(records))
    parsed: list[_ArmData] = []
    seen: set[str] = set()
    for index, raw in enumerate(records):
        record = _record_of(raw, index)
        where = f"arms[{index}]"
        _check_fields(record, where, kind)
        name = check_text(f"{where}.name", record["name"])
        if name in seen:
            raise ExperimentError(f"{where}.name", "must be unique across arms", name)
        seen.add(name)
        if kind == "proportion":
            parsed.append(_proportion_arm(name, record, where))
        else:
            parsed.append(_mean_arm(name, record, where))
    return parsed


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


def _lift_bound(log_bound: float) -> float | None:
    """A relative-lift bound from its log-ratio bound; None beyond floating point."""
    if math.isnan(log_bound) or log_bound > _MAX_EXPM1_ARGUMENT:
        return None
    return math.expm1(log_bound)


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
        p_value = two_sided_normal_p(statistic)
        critical = z_quantile(1.0 - ci_alpha / 2.0)
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
        p_value = t_two_sided_p(statistic, df)
        critical = t_quantile(1.0 - ci_alpha / 2.0, df)
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


def _comparisons(
    kind: str, parsed: list[_ArmData], correction: Correction, alpha: float, ci_alpha: float
) -> list[Comparison]:
    """Every treatment arm against the control, with the correction across them."""
    control, treatments = parsed[0], parsed[1:]
    tests = [
        _compare(kind, control, arm, index, ci_alpha)
        for index, arm in enumerate(treatments, start=1)
    ]
    adjusted = adjust_p_values([test.p_value for test in tests], correction)
    return [
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
            significant=p_adjusted <= alpha,
        )
        for arm, test, p_adjusted in zip(treatments, tests, adjusted, strict=True)
    ]


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


def _peeking(parsed: list[_ArmData], planned: list[int] | None) -> str | None:
    if planned is None:
        return None
    short = [
        {"arm": arm.name, "units": arm.units, "planned": n}
        for arm, n in zip(parsed, planned, strict=True)
        if arm.units < n
    ]
    return render("abtest_peeking.txt.j2", short=short) if short else None


def _verdict(srm_alarm: bool, peeking: str | None, comparisons: list[Comparison]) -> Verdict:
    if srm_alarm:
        return "sample_ratio_mismatch"
    if peeking is not None:
        return "incomplete"
    if any(comparison.significant for comparison in comparisons):
        return "significant"
    return "not_significant"


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
    kind = check_choice("metric_kind", metric_kind, METRIC_KINDS)
    chosen = check_choice("correction", correction, CORRECTIONS)
    significance = check_significance(alpha)
    parsed = _parse_arms(kind, arms)
    shares = check_allocation("planned_allocation", planned_allocation, len(parsed))
    planned = _planned_counts(planned_n_per_arm, len(parsed))

    m = len(parsed) - 1
    ci_alpha = significance / m if chosen != "none" and m > 1 else significance
    comparisons = _comparisons(kind, parsed, chosen, significance, ci_alpha)
    units = [arm.units for arm in parsed]
    chi_square, srm_p = _srm(units, shares)
    srm_alarm = srm_p < SRM_ALARM_P
    peeking = _peeking(parsed, planned)
    verdict = _verdict(srm_alarm, peeking, comparisons)
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
        control=parsed[0].name,
        comparisons=[comparison.model_dump() for comparison in comparisons],
        correction=chosen,
        alpha=significance,
        ci_level=1.0 - ci_alpha,
        srm_p_value=srm_p,
        srm_alarm_p=SRM_ALARM_P,
        peeking=peeking,
    )
    return AbTestAnalysis(
        summary=render("abtest_analysis_summary.txt.j2", decision=decision, peeking=peeking),
        metric_kind=kind,
        control=parsed[0].name,
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
