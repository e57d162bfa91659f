"""Guardrails tested for non-inferiority: a metric that must not get materially worse.

Each guardrail has a margin ``m`` (a fraction of the control's value; the catalogue's default in
``data/experiments.toml`` unless the plan or the caller sets one) and a better direction. For each
treatment arm, on the log ratio ``g = ln(t / c)`` of the guardrail's values (delta method; the
absolute difference against ``m |c|`` when a value is not above 0):

* **passed** when a deterioration beyond the margin is ruled out: the one-sided test of
  ``H0: g <= ln(1 - m)`` (``>= ln(1 + m)`` for a lower-is-better metric) rejects at ``alpha``;
* **failed** when it is not passed and the metric is significantly worse: the one-sided test of
  ``H0: g >= 0`` (no harm) rejects at ``alpha``;
* **inconclusive** otherwise (too little data to tell).

Each guardrail is tested at the plan's ``alpha`` without a multiplicity correction (a guardrail
is a veto, so a correction would make it easier to ship a harm). A failed guardrail blocks a
"ship" decision for that arm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict

from kpi_core.catalogue import load_catalogue
from kpi_core.errors import ExperimentError
from kpi_core.experiments.args import (
    MAX_GUARDRAILS,
    MAX_METRIC_CHARS,
    METRIC_KINDS,
    Direction,
    MetricKind,
)
from kpi_core.experiments.arms import ARM_FORMS, parse_arms
from kpi_core.experiments.checks import check_choice, check_items, check_open_fraction, check_text
from kpi_core.experiments.inference import WaldTest
from kpi_core.experiments.settings import load_settings
from kpi_core.experiments.statistics import Effect, Scale, Statistic, effect

__all__ = ["GuardrailResult", "GuardrailStatus", "check_guardrails"]

GuardrailStatus = Literal["passed", "failed", "inconclusive"]
_DIRECTIONS: tuple[Direction, ...] = ("increase", "decrease")


class GuardrailResult(BaseModel):
    """One guardrail for one treatment arm."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    metric: str
    arm: str
    improvement: Direction
    """The guardrail's better direction."""
    margin: float
    """Largest tolerated deterioration, as a fraction of the control's value."""
    status: GuardrailStatus
    control_value: float
    arm_value: float
    rel_lift: float | None
    bound: float | None
    """The one-sided bound on the worse side, as a relative change (absolute when a value is
    not above 0): passed when it is within the margin."""
    scale: Scale
    p_non_inferiority: float
    p_harm: float


def _kind_of(record: object, where: str) -> MetricKind:
    """A guardrail's metric kind from the fields of its control arm."""
    fields: set[str] = set()
    if isinstance(record, BaseModel):
        fields = set(record.model_dump(exclude_none=True))
    elif isinstance(record, Mapping):
        fields = {str(key) for key in cast("Mapping[object, object]", record)}
    fields.discard("name")
    if fields == set(ARM_FORMS["counts"]):
        return "proportion"
    if fields == set(ARM_FORMS["ratio"]):
        return "ratio"
    if "numerator_sum" in fields:
        return "ratio"
    if fields and fields <= set(ARM_FORMS["cuped"]) | set(ARM_FORMS["moments"]):
        return "mean"
    raise ExperimentError(
        f"{where}.metric_kind", "is required when the arms' fields do not tell it", None
    )


def _direction(metric: str, given: object, where: str) -> Direction:
    if given is not None:
        return check_choice(f"{where}.improvement", given, _DIRECTIONS)
    known = load_catalogue().metrics.get(metric)
    if known is None or known.direction is None:
        raise ExperimentError(
            f"{where}.improvement",
            "is required for a metric outside the catalogue",
            None,
            "say which change is good: 'increase' or 'decrease'",
        )
    return "increase" if known.direction == "higher" else "decrease"


def _verdict(
    control: Statistic, treatment: Statistic, improvement: Direction, margin: float, alpha: float
) -> tuple[GuardrailStatus, float | None, Scale, float, float]:
    """(status, bound, scale, p of non-inferiority, p of harm) for one arm."""
    better_up = improvement == "increase"
    worse: Direction = "decrease" if better_up else "increase"
    ratio = effect(control, treatment, "log_ratio")
    if ratio is not None and ratio.se > 0.0:
        measured: Effect = ratio
        scale: Scale = "log_ratio"
        null = math.log(1.0 - margin) if better_up else math.log(1.0 + margin)
    else:
        absolute = effect(control, treatment, "absolute")
        assert absolute is not None  # the absolute difference always exists
        measured, scale = absolute, "absolute"
        null = (-margin if better_up else margin) * abs(control.mean)
    if not measured.se > 0.0:
        return "inconclusive", None, scale, 1.0, 1.0
    non_inferior = WaldTest(measured, 1, improvement, scale, null)
    harm = WaldTest(measured, 1, worse, scale, 0.0)
    p_ni, p_harm = non_inferior.p_value(), harm.p_value()
    low, high = non_inferior.interval(alpha)
    edge = low if better_up else high
    bound = None if edge is None else (math.expm1(edge) if scale == "log_ratio" else edge)
    if p_ni <= alpha:
        return "passed", bound, scale, p_ni, p_harm
    if p_harm <= alpha:
        return "failed", bound, scale, p_ni, p_harm
    return "inconclusive", bound, scale, p_ni, p_harm


def _one_guardrail(
    raw: Mapping[str, object],
    where: str,
    arm_names: Sequence[str],
    margins: Mapping[str, float],
    alpha: float,
) -> list[GuardrailResult]:
    metric = check_text(f"{where}.metric", raw.get("metric"), MAX_METRIC_CHARS)
    records = check_items(f"{where}.arms", raw.get("arms"))
    given_kind = raw.get("metric_kind")
    kind = (
        check_choice(f"{where}.metric_kind", given_kind, METRIC_KINDS)
        if given_kind is not None
        else _kind_of(records[0] if records else None, where)
    )
    parsed = parse_arms(kind, records, f"{where}.arms")
    if parsed.names != list(arm_names):
        raise ExperimentError(
            f"{where}.arms",
            f"must be the primary metric's arms, in order ({', '.join(arm_names)})",
            parsed.names,
            "give the guardrail's results for the same arms",
        )
    improvement = _direction(metric, raw.get("improvement"), where)
    given_margin = raw.get("margin")
    margin = (
        check_open_fraction(f"{where}.margin", given_margin, "e.g. 0.05 (5% worse at most)")
        if given_margin is not None
        else margins.get(metric, load_settings().margin(metric))
    )
    control = parsed.statistics[0]
    results: list[GuardrailResult] = []
    for name, treatment in zip(parsed.names[1:], parsed.statistics[1:], strict=True):
        status, bound, scale, p_ni, p_harm = _verdict(
            control, treatment, improvement, margin, alpha
        )
        results.append(
            GuardrailResult(
                metric=metric,
                arm=name,
                improvement=improvement,
                margin=margin,
                status=status,
                control_value=control.mean,
                arm_value=treatment.mean,
                rel_lift=treatment.mean / control.mean - 1.0 if control.mean > 0.0 else None,
                bound=bound,
                scale=scale,
                p_non_inferiority=p_ni,
                p_harm=p_harm,
            )
        )
    return results


def check_guardrails(
    guardrails: object,
    arm_names: Sequence[str],
    alpha: float,
    margins: Mapping[str, float] | None = None,
) -> list[GuardrailResult]:
    """Every guardrail against every treatment arm (see the module docstring)."""
    if guardrails is None:
        return []
    items = check_items("guardrails", guardrails)
    if len(items) > MAX_GUARDRAILS:
        raise ExperimentError("guardrails", f"must list at most {MAX_GUARDRAILS}", len(items))
    results: list[GuardrailResult] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"guardrails[{index}]"
        raw = item.model_dump(exclude_none=True) if isinstance(item, BaseModel) else item
        if not isinstance(raw, Mapping):
            raise ExperimentError(where, "must be an object with metric and arms", raw)
        found = _one_guardrail(
            cast("Mapping[str, object]", raw), where, arm_names, margins or {}, alpha
        )
        if found[0].metric in seen:
            raise ExperimentError(
                f"{where}.metric", "must name each guardrail once", found[0].metric
            )
        seen.add(found[0].metric)
        results.extend(found)
    return results
