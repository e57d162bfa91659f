"""A registered plan's outcome, analysed as planned.

Pure: a :class:`~kpi_core.experiments.plans.RegisteredPlan` and the arms in, the analysis and
the lift it gives the evidence out; :mod:`~kpi_core.experiments.store` keeps them.

**As planned.** The plan fixes the metric kind (a viewer-level plan is recorded in its kind,
any other unit as per-unit means), the sides and the better direction (from the catalogue: a
lower-is-better rate measured as its complement is an increase), alpha, the method (a
``relative_lift`` plan decides on the log ratio), the correction, CUPED (a plan sized with a
covariate must be recorded with each arm's pre-period sums: without them it is underpowered) and
the sequential option, and its guardrails with their margins. A fixed-horizon plan is recorded
once every arm reached its sample; a sequential one as soon as it decided, or at its sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from pydantic import BaseModel

from kpi_core.errors import InvalidValueError
from kpi_core.experiments.analysis import AbTestAnalysis, analyze_ab_test
from kpi_core.experiments.arms import ParsedArms, parse_arms
from kpi_core.experiments.evidence import ArmSummary, LiftReading, read_lift
from kpi_core.experiments.plans import RegisteredPlan, check_arm_count
from kpi_core.experiments.statistics import ProportionStatistic, RegressionAdjustedStatistic
from kpi_core.interventions import load_interventions

__all__ = ["ReadOutcome", "analyze_planned", "check_settings", "read_outcome"]

#: What a plan fixes for each guardrail (a recording may not change it).
_PLANNED_BY_GUARDRAIL = ("margin", "improvement")


@dataclass(frozen=True, slots=True)
class ReadOutcome:
    """An outcome analysed as planned, its arms as stored, and the lift it measured."""

    analysis: AbTestAnalysis
    records: list[dict[str, object]]
    reading: LiftReading | None


def _check_cuped(arms: object, plan: RegisteredPlan, plan_id: str) -> None:
    if not plan.cuped_correlation or not isinstance(arms, list | tuple):
        return
    for index, arm in enumerate(cast("Sequence[object]", arms)):
        record = arm.model_dump(exclude_none=True) if isinstance(arm, BaseModel) else arm
        if isinstance(record, Mapping) and "pre_sum" not in record:
            raise InvalidValueError(
                f"arms[{index}].pre_sum",
                f"is required: plan {plan_id} was sized with CUPED (correlation "
                f"{plan.cuped_correlation:g}), and without the adjustment it is underpowered",
                None,
                "give each arm's n, sum, sum_squares, pre_sum, pre_sum_squares and sum_of_products",
            )


def _guardrails(guardrails: object, plan: RegisteredPlan) -> object:
    """The guardrails' arms, checked against the plan (margins and directions are the plan's)."""
    if guardrails is None or not isinstance(guardrails, list | tuple):
        return guardrails
    checked: list[object] = []
    for index, item in enumerate(cast("Sequence[object]", guardrails)):
        raw = item.model_dump(exclude_none=True) if isinstance(item, BaseModel) else item
        if not isinstance(raw, Mapping):
            checked.append(raw)
            continue
        record = cast("Mapping[str, object]", raw)
        for key in _PLANNED_BY_GUARDRAIL:
            if key in record:
                raise InvalidValueError(
                    f"guardrails[{index}].{key}",
                    "is set by the plan, not when recording",
                    record[key],
                    "omit it; plan the margin with design_ab_test's guardrail_margins",
                )
        if record.get("metric") not in plan.guardrails:
            raise InvalidValueError(
                f"guardrails[{index}].metric",
                f"must be one of the plan's guardrails ({', '.join(plan.guardrails) or 'none'})",
                record.get("metric"),
            )
        checked.append(record)
    return checked


def analyze_planned(
    plan: RegisteredPlan,
    plan_id: str,
    arms: object,
    guardrails: object = None,
) -> AbTestAnalysis:
    """The analysis the plan prescribes (an interim look gets the plan's peeking warning)."""
    check_arm_count(arms, plan, plan_id)
    _check_cuped(arms, plan, plan_id)
    return analyze_ab_test(
        plan.arm_kind,
        cast("Sequence[Mapping[str, object]]", arms),
        correction=plan.correction,
        planned_allocation=plan.allocation,
        planned_n_per_arm=plan.n_per_arm,
        alpha=plan.alpha,
        sides=plan.sides,
        improvement=plan.improvement,
        method=plan.method,
        sequential=plan.sequential,
        sequential_tuning=plan.sequential_tuning,
        unit=plan.unit,
        guardrails=cast("Sequence[object] | None", _guardrails(guardrails, plan)),
        guardrail_margins=plan.guardrail_margins,
        planned_guardrails=plan.guardrails,
    )


def _plan_setting(plan: RegisteredPlan, name: str) -> object:
    """What the plan fixes for an ``analyze_ab_test`` argument (``...`` when it fixes nothing)."""
    fixed: dict[str, object] = {
        "metric_kind": plan.arm_kind,
        "correction": plan.correction,
        "sides": plan.sides,
        "improvement": plan.improvement,
        "method": plan.method,
        "sequential": plan.sequential,
        "sequential_tuning": plan.sequential_tuning,
        "unit": plan.unit,
        "planned_allocation": plan.allocation,
        "planned_n_per_arm": plan.n_per_arm,
        "alpha": plan.alpha,
        "guardrail_margins": plan.guardrail_margins,
    }
    return fixed.get(name, ...)


def check_settings(
    plan: RegisteredPlan, plan_id: str, given: Mapping[str, object], defaults: Mapping[str, object]
) -> None:
    """Settings given with a plan id must be left out (their defaults) or be the plan's own."""
    for name, value in given.items():
        planned = _plan_setting(plan, name)
        if planned is ... or value == defaults.get(name) or value == planned:
            continue
        raise InvalidValueError(
            name,
            f"is set by plan {plan_id} (to {planned!r}); omit it when you give plan_id",
            value,
            "the plan's settings are used, so the analysis is the one that was planned",
        )


def _summaries(parsed: ParsedArms) -> list[ArmSummary]:
    summaries: list[ArmSummary] = []
    for statistic in parsed.statistics:
        if isinstance(statistic, ProportionStatistic):
            summaries.append(
                ArmSummary(statistic.mean, statistic.variance, statistic.n, statistic.conversions)
            )
        elif isinstance(statistic, RegressionAdjustedStatistic):
            unit_variance = statistic.mean_variance() * statistic.n
            summaries.append(ArmSummary(statistic.mean, unit_variance, statistic.n))
        else:
            summaries.append(ArmSummary(statistic.mean, statistic.variance, statistic.n))
    return summaries


def _refuse_unfinished(plan: RegisteredPlan, analysis: AbTestAnalysis) -> None:
    short = any(units < n for units, n in zip(analysis.units_per_arm, plan.n_per_arm, strict=True))
    if not short:
        return
    wanted = " / ".join(str(n) for n in plan.n_per_arm)
    got = " / ".join(str(n) for n in analysis.units_per_arm)
    if not plan.sequential:
        raise InvalidValueError(
            "arms",
            f"must reach the plan's sample in every arm ({wanted}; got {got})",
            None,
            "record_outcome keeps the final read of a fixed-horizon test; use "
            "analyze_ab_test for an interim look",
        )
    if analysis.verdict == "incomplete":
        raise InvalidValueError(
            "arms",
            f"must reach the plan's sample ({wanted}; got {got}) unless the sequential test "
            "has decided, and it has not",
            None,
            "keep the test running; analyze_ab_test with plan_id reads it at any time",
        )


def read_outcome(
    plan: RegisteredPlan, plan_id: str, arms: object, guardrails: object = None
) -> ReadOutcome:
    """The final read of a plan's outcome and the lift it gives the evidence."""
    analysis = analyze_planned(plan, plan_id, arms, guardrails)
    _refuse_unfinished(plan, analysis)
    parsed = parse_arms(plan.arm_kind, arms)
    item = load_interventions().get(plan.intervention_id)
    reading = (
        read_lift(
            item,
            _summaries(parsed),
            complement=plan.measured_as != plan.primary_metric,
            primary_metric=plan.primary_metric,
            srm_alarm=analysis.srm_alarm,
        )
        if item is not None
        else None
    )
    return ReadOutcome(analysis, parsed.records, reading)
