"""The experiment arguments, each type written once: Literal types, limits and the design model.

:class:`DesignArgs` is the one definition of ``design_ab_test``'s statistical arguments (the
public contract's list, in its order). The ``design_ab_test`` tool's input schema is built from
:class:`DesignRequest` (those plus the plan's names), ``recommend``'s ``ab_test`` object is an
:class:`AbTestArgs` and the store keeps a plan as an ``ExperimentPlan`` built on the same fields.
The bounds are pydantic ``Field`` constraints, so they appear in every JSON schema built from
these models; the tools wrap each field in ``SkipValidation`` so that the checks of
:mod:`kpi_core.experiments.checks` word every error ("alpha must be ...; got ... - what to do").

The value tuples (``METHODS``, ``UNITS``, ...) are derived from the Literal types by
:func:`typing.get_args`, so a value is written in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CORRECTIONS",
    "LIFT_TYPES",
    "MAX_ARMS",
    "MAX_GUARDRAILS",
    "MAX_MAGNITUDE",
    "MAX_METRIC_CHARS",
    "MAX_NAME_CHARS",
    "MDE_TYPES",
    "METHODS",
    "METRIC_KINDS",
    "MIN_ALPHA",
    "MIN_UNITS_PER_ARM",
    "SMALL_SAMPLE",
    "SRM_ALARM_P",
    "UNITS",
    "AbTestArgs",
    "AnalysisArgs",
    "AnalysisRequest",
    "Arm",
    "Correction",
    "DesignArgs",
    "DesignRequest",
    "Direction",
    "GuardrailArms",
    "LiftRange",
    "LiftType",
    "MdeType",
    "MeanArm",
    "Method",
    "MetricKind",
    "PlanOptions",
    "ProportionArm",
    "RatioArm",
    "Sides",
    "SumArm",
    "Unit",
]

MetricKind = Literal["proportion", "mean", "ratio"]
MdeType = Literal["relative", "absolute"]
Unit = Literal["viewer", "creator", "time_block"]
Method = Literal["pooled", "cohens_h", "evan_miller", "relative_lift"]
Correction = Literal["holm", "bonferroni", "none"]
Sides = Literal[1, 2]
#: The change of a metric that counts as an improvement (its better direction).
Direction = Literal["increase", "decrease"]
#: How an intervention's lift is stated: a fraction of the target metric, or an amount of it (a
#: growth rate's difference): the same two words as an MDE's type, so the same type.
LiftType = MdeType

METRIC_KINDS: tuple[MetricKind, ...] = get_args(MetricKind)
MDE_TYPES: tuple[MdeType, ...] = get_args(MdeType)
UNITS: tuple[Unit, ...] = get_args(Unit)
METHODS: tuple[Method, ...] = get_args(Method)
CORRECTIONS: tuple[Correction, ...] = get_args(Correction)
LIFT_TYPES: tuple[LiftType, ...] = get_args(LiftType)

MAX_ARMS = 20
MAX_GUARDRAILS = 20
MAX_NAME_CHARS = 80
MAX_METRIC_CHARS = 64
#: Largest magnitude of any number argument (rates, means, counts, units per day): squares and
#: products of such numbers stay far inside the float range, so the maths never overflows.
MAX_MAGNITUDE = 1e15
#: Smallest significance level: its tail quantiles must stay distinguishable from 1 in floats.
MIN_ALPHA = 1e-10
#: The sample-ratio-mismatch chi-square raises its alarm below this p-value.
SRM_ALARM_P = 0.001
#: Fewer units per arm than this and a variance cannot be estimated.
MIN_UNITS_PER_ARM = 2
#: Below this many units in an arm the normal approximation is optimistic.
SMALL_SAMPLE = 30


@dataclass(frozen=True, slots=True)
class LiftRange:
    """Expected change of the target metric in its better direction (see ``LiftType``)."""

    low: float
    mid: float
    high: float


class DesignArgs(BaseModel):
    """The statistical arguments of ``design_ab_test`` (the public contract's list, in order)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric_kind: MetricKind = Field(
        description="proportion (a rate, as a fraction: 2% is 0.02), mean (give baseline_sd) or "
        "ratio (a ratio of per-unit sums; baseline_sd is its delta-method sd per unit)."
    )
    baseline: float = Field(allow_inf_nan=False, description="Control rate (0-1) or mean.")
    baseline_sd: float | None = Field(
        default=None,
        gt=0.0,
        allow_inf_nan=False,
        description="Standard deviation between units (means; creator and time_block units).",
    )
    mde: float = Field(gt=0.0, allow_inf_nan=False, description="Smallest lift to detect.")
    mde_type: MdeType = "relative"
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    power: float = Field(default=0.8, gt=0.0, lt=1.0)
    sides: Sides = 2
    arms: int = Field(default=2, ge=2, le=MAX_ARMS, description="Arms including control.")
    allocation: list[float] | None = Field(
        default=None,
        min_length=2,
        max_length=MAX_ARMS,
        description="Share of units per arm, control first, summing to 1; equal by default.",
    )
    unit: Unit = "viewer"
    daily_units: float | None = Field(
        default=None, gt=0.0, allow_inf_nan=False, description="Units per day across all arms."
    )
    available_units: int | None = Field(default=None, ge=1, description="Units available in total.")
    block_days: int | None = Field(default=None, ge=1, description="Days per block (time_block).")
    cuped_correlation: float | None = Field(
        default=None,
        ge=0.0,
        lt=1.0,
        description="Correlation of the metric with its pre-period value (0-1).",
    )
    method: Method = "pooled"


class PlanOptions(BaseModel):
    """How a plan will be read, beyond the contract's design arguments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    correction: Correction = Field(
        default="holm", description="Multiplicity correction across treatment arms."
    )
    sequential: bool = Field(
        default=False,
        description="Plan an always-valid (sequential) analysis: peeking allowed, larger sample.",
    )
    sequential_tuning: float = Field(
        default=5000.0,
        gt=0.0,
        le=MAX_MAGNITUDE,
        description="The sample size at which the confidence sequence is tightest (GrowthBook's).",
    )
    guardrail_margins: dict[str, float] | None = Field(
        default=None,
        max_length=MAX_GUARDRAILS,
        description="Non-inferiority margin per guardrail (a fraction of the control's value); "
        "the catalogue's default for any guardrail not named.",
    )


class DesignRequest(PlanOptions, DesignArgs):
    """Everything the ``design_ab_test`` tool takes: the design arguments and the plan's names."""

    primary_metric: str | None = Field(default=None, max_length=MAX_METRIC_CHARS)
    guardrails: list[str] | None = Field(default=None, max_length=MAX_GUARDRAILS)
    observation_days: int | None = Field(
        default=None,
        ge=1,
        description="Days over which each creator's mean is taken (creator unit).",
    )
    missing: list[str] | None = Field(
        default=None, description="Ignored: lets a recommend() ab_test object be passed as it is."
    )


class AbTestArgs(DesignArgs):
    """Exactly the keyword arguments of ``design_ab_test``, plus what is still missing."""

    # recommend leaves these None (and names them in missing) when the creator's data lacks them
    baseline: float | None  # pyright: ignore[reportIncompatibleVariableOverride, reportGeneralTypeIssues]
    mde: float | None  # pyright: ignore[reportIncompatibleVariableOverride, reportGeneralTypeIssues]
    missing: list[str] = Field(description="Arguments the caller must still supply.")


class ProportionArm(BaseModel):
    """One arm of a conversion experiment: ``conversions`` out of ``units``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(max_length=MAX_NAME_CHARS)
    conversions: int = Field(ge=0)
    units: int = Field(ge=1)


class MeanArm(BaseModel):
    """One arm of a continuous-metric experiment, as its mean, sd and units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(max_length=MAX_NAME_CHARS)
    mean: float
    sd: float = Field(ge=0.0)
    n: int = Field(ge=MIN_UNITS_PER_ARM)


class SumArm(BaseModel):
    """One arm as a warehouse query sums it: the metric's sum and sum of squares over ``n``
    units, and for CUPED the same of its pre-period covariate and the sum of their products."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(max_length=MAX_NAME_CHARS)
    n: int = Field(ge=MIN_UNITS_PER_ARM)
    sum: float
    sum_squares: float = Field(ge=0.0)
    pre_sum: float | None = None
    pre_sum_squares: float | None = Field(default=None, ge=0.0)
    sum_of_products: float | None = None


class RatioArm(BaseModel):
    """One arm of a ratio metric (GMV per viewer, orders per click): per-unit sums of the
    numerator and the denominator, their squares and their products, over ``n`` units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(max_length=MAX_NAME_CHARS)
    n: int = Field(ge=MIN_UNITS_PER_ARM)
    numerator_sum: float
    numerator_sum_squares: float = Field(ge=0.0)
    denominator_sum: float = Field(gt=0.0)
    denominator_sum_squares: float = Field(ge=0.0)
    sum_of_products: float


Arm = ProportionArm | MeanArm | SumArm | RatioArm


class GuardrailArms(BaseModel):
    """One guardrail metric's results per arm (control first, the primary's arms in order)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str = Field(max_length=MAX_METRIC_CHARS, description="The guardrail metric's name.")
    arms: list[Arm] = Field(min_length=2, max_length=MAX_ARMS)
    metric_kind: MetricKind | None = Field(
        default=None, description="Read from the arms' fields when omitted."
    )
    margin: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="Largest tolerated deterioration, as a fraction of the control's value "
        "(default: the catalogue's margin for the metric).",
    )
    improvement: Direction | None = Field(
        default=None,
        description="Which change of the metric is good (default: the catalogue's direction).",
    )


class AnalysisArgs(BaseModel):
    """The arguments of ``analyze_ab_test`` (the tool's input schema is built from them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric_kind: MetricKind
    arms: list[Arm] = Field(
        min_length=2, max_length=MAX_ARMS, description="Arms with their results, control first."
    )
    correction: Correction = "holm"
    sides: Sides = Field(
        default=2, description="1 tests only an improvement (in `improvement`'s direction)."
    )
    improvement: Direction = Field(default="increase", description="The metric's better direction.")
    method: Method = Field(
        default="pooled", description="relative_lift decides on the log ratio of the arms."
    )
    sequential: bool = Field(
        default=False, description="Always-valid analysis: peeking allowed (planned so)."
    )
    sequential_tuning: float = Field(default=5000.0, gt=0.0, le=MAX_MAGNITUDE)
    unit: Unit = "viewer"
    planned_allocation: list[float] | None = Field(default=None, min_length=2, max_length=MAX_ARMS)
    planned_n_per_arm: int | list[int] | None = Field(
        default=None,
        description="The design's n_per_arm: one count for every arm, or one per arm.",
    )
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    guardrails: list[GuardrailArms] | None = Field(default=None, max_length=MAX_GUARDRAILS)


class AnalysisRequest(AnalysisArgs):
    """What the ``analyze_ab_test`` tool takes: the arguments, or a registered plan's id whose
    settings (metric kind, sides, method, correction, alpha, CUPED, sequential) are used."""

    metric_kind: MetricKind | None = None  # pyright: ignore[reportIncompatibleVariableOverride, reportGeneralTypeIssues]
    plan_id: str | None = Field(
        default=None, max_length=64, description="Analyse as this registered plan says."
    )
