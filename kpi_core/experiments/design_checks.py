"""The checks of :func:`~kpi_core.experiments.design.design_ab_test`'s arguments, step by step.

Each step checks a group of arguments and raises ``ExperimentError(field, rule, value, hint)``;
:func:`validate_design` runs them in order and returns the validated :class:`Design`. The same
rules decide whether a registered plan can be analysed as planned (:func:`check_plan_settings`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

from kpi_core.errors import ExperimentError
from kpi_core.experiments.args import (
    CORRECTIONS,
    MAX_ARMS,
    MAX_GUARDRAILS,
    MAX_METRIC_CHARS,
    MDE_TYPES,
    METHODS,
    METRIC_KINDS,
    UNITS,
    Correction,
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
from kpi_core.experiments.settings import load_settings
from prompts import render

__all__ = [
    "BINOMIAL_METHODS",
    "DEFAULT_OBSERVATION_DAYS",
    "Design",
    "check_plan_settings",
    "validate_design",
]

#: Default observation window of a ``creator`` experiment (each creator's mean is taken over it).
DEFAULT_OBSERVATION_DAYS = 28
#: Methods that need the binomial variance of individual viewers.
BINOMIAL_METHODS: tuple[Method, ...] = ("cohens_h", "evan_miller")

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
    "small_sample",
    "sequential_cost",
]


def note(key: Note, **facts: object) -> str:
    """One note or infeasibility reason, by key (``abtest_note.txt.j2`` says each)."""
    return render("abtest_note.txt.j2", note=key, **facts)


@dataclass(frozen=True, slots=True)
class Design:
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
    guardrail_margins: dict[str, float]
    correction: Correction
    sequential: bool
    sequential_tuning: float
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
        return 0.0, [note("baseline_sd_ignored")]
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
        notes.append(note("ignored", argument="block_days", unit=unit))
        blocks = None
    if unit != "creator" and window is not None:
        notes.append(note("ignored", argument="observation_days", unit=unit))
        window = None
    if unit == "creator" and window is None:
        window = DEFAULT_OBSERVATION_DAYS
    if unit != "viewer" and daily is not None:
        notes.append(note("ignored", argument="daily_units", unit=unit))
        daily = None
    return _Traffic(daily, available, blocks, window, notes)


def _check_names(request: DesignRequest) -> tuple[str | None, list[str]]:
    """6. The primary metric's and the guardrails' names."""
    primary = request.primary_metric
    metric_name = (
        None if primary is None else check_text("primary_metric", primary, MAX_METRIC_CHARS)
    )
    given = cast("object", request.guardrails)
    guardrail_items = check_items("guardrails", () if given is None else given)
    if len(guardrail_items) > MAX_GUARDRAILS:
        raise ExperimentError(
            "guardrails", f"must list at most {MAX_GUARDRAILS} metrics", len(guardrail_items)
        )
    names = [
        check_text(f"guardrails[{i}]", name, MAX_METRIC_CHARS)
        for i, name in enumerate(guardrail_items)
    ]
    if len(set(names)) != len(names):
        raise ExperimentError("guardrails", "must name each metric once", names)
    missing = cast("object", request.missing)  # ignored, but it must be what recommend sends
    if missing is not None:
        for i, name in enumerate(check_items("missing", missing)):
            check_text(f"missing[{i}]", name)
    return metric_name, names


def validate_design(request: DesignRequest, allowed_units: object) -> Design:
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
    options = _check_options(request, guardrails)
    return Design(
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
        guardrail_margins=options.margins,
        correction=options.correction,
        sequential=options.sequential,
        sequential_tuning=options.tuning,
        notes=[*notes, *traffic.notes],
    )


@dataclass(frozen=True, slots=True)
class _Options:
    correction: Correction
    sequential: bool
    tuning: float
    margins: dict[str, float]


def _check_margins(value: object, guardrails: list[str]) -> dict[str, float]:
    """Each guardrail's non-inferiority margin: the caller's, else the catalogue's default."""
    given: Mapping[object, object] = {}
    if value is not None:
        if not isinstance(value, Mapping):
            raise ExperimentError(
                "guardrail_margins",
                "must map guardrail names to margins",
                value,
                "e.g. {'refund_rate': 0.1}",
            )
        given = cast("Mapping[object, object]", value)
    for name, margin in given.items():
        if name not in guardrails:
            raise ExperimentError(
                f"guardrail_margins.{check_text('guardrail_margins', name)}",
                "must name one of the guardrails",
                name,
                f"the guardrails are {', '.join(guardrails) or 'none'}",
            )
        check_open_fraction(f"guardrail_margins.{name}", margin, "e.g. 0.05 (5% worse at most)")
    settings = load_settings()
    return {
        name: float(cast("float", given[name])) if name in given else settings.margin(name)
        for name in guardrails
    }


def _check_options(request: DesignRequest, guardrails: list[str]) -> _Options:
    """7. How the plan will be read: correction, sequential analysis, guardrail margins."""
    correction = check_choice("correction", request.correction, CORRECTIONS)
    sequential = cast("object", request.sequential)
    if not isinstance(sequential, bool):
        raise ExperimentError("sequential", "must be true or false", sequential)
    tuning = check_number("sequential_tuning", request.sequential_tuning)
    if not tuning > 0.0:
        raise ExperimentError(
            "sequential_tuning", "must be above 0", tuning, "5000, GrowthBook's default"
        )
    return _Options(
        correction, sequential, tuning, _check_margins(request.guardrail_margins, guardrails)
    )


def check_plan_settings(request: DesignRequest) -> None:
    """Refuse a plan the analysis could not honour (the design's rules, as a plan holds them)."""
    kind = check_choice("metric_kind", request.metric_kind, METRIC_KINDS)
    unit = check_choice("unit", request.unit, UNITS)
    method = check_choice("method", request.method, METHODS)
    if method in BINOMIAL_METHODS and not (kind == "proportion" and unit == "viewer"):
        raise ExperimentError(
            "method",
            f"must be 'pooled' or 'relative_lift' for a {kind} measured per {unit}",
            method,
            "plan it again with design_ab_test",
        )
    if method == "relative_lift" and not request.baseline > 0.0:
        raise ExperimentError(
            "baseline", "must be above 0 for method 'relative_lift'", request.baseline
        )
    check_choice("correction", request.correction, CORRECTIONS)
    if not math.isfinite(request.sequential_tuning) or request.sequential_tuning <= 0.0:
        raise ExperimentError("sequential_tuning", "must be above 0", request.sequential_tuning)
