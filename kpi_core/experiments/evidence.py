"""Evidence from recorded experiments: each intervention's measured lifts, blended with its prior.

Pure functions over plain records (the store reads them; :mod:`kpi_core.recommendations`
consumes the figures as ``evidence=``, so nothing here imports advice). Nothing here does I/O.

**One experiment, one lift.** A recorded outcome becomes one lift of the intervention's target
metric, in the catalogue's terms (:func:`read_lift`): for ``lift_type = "relative"`` the relative
change of the metric in its better direction, ``r = m_t / m_c - 1`` for a higher-is-better metric
and ``1 - m_t / m_c`` for a lower-is-better one (``m`` the metric's value: a rate or mean as
measured, or one minus it when the plan measured the complement ``1 - metric``, as ``recommend``
plans a lower-is-better rate); for ``lift_type = "absolute"`` (growth rates) the difference
``m_t - m_c`` (negated for a lower-is-better metric). Standard errors by the delta method, with
``v`` the variance of one unit and ``n`` the units of the arm::

    relative   se = sqrt(v_t / (n_t m_c^2) + m_t^2 v_c / (n_c m_c^4))
    absolute   se = sqrt(v_t / n_t + v_c / n_c)

**Floors** (``data/experiments.toml``), so that no outcome is more certain than its data allow:
a proportion arm's ``v`` is the binomial ``p (1 - p)`` of its counts, with half a conversion added
to an arm of none or all; a mean arm's ``sd`` is at least ``min_unit_cv`` of its mean (and
``min_points_sd`` for a growth rate). A lift outside the metric's plausible range is **flagged**:
stored and listed, but out of the blend until an operator confirms it.

An outcome does not count (it is stored and listed, with the reason) when its split failed the
sample-ratio check, when the plan has more than one treatment arm (which arm is "the"
intervention is not defined), when its primary metric is not the intervention's target metric
(``sc_cart_reminder`` is judged on conversion_rate; turning that back into a change of cart
abandonment needs the creator's abandonment rate, which a plan does not carry), when a relative
lift has a control value of 0 or less, when its standard error is not above 0, or when its
intervention has left the catalogue. An operator can retract any outcome (kept, never deleted).

**The blend** (:mod:`~kpi_core.experiments.blend`): the counted lifts in scope are summarised by
a random-effects meta-analysis (DerSimonian-Laird, with ``I^2``) on the log-ratio scale, and the
catalogue's range, read as an asymmetric (split normal) prior with its low / mid / high as the
2.5% / 50% / 97.5% quantiles, is updated by that summary. The blended range is the posterior's
2.5% / 50% / 97.5% quantiles.

**Scope.** With a creator's ``category``, an intervention whose recorded lifts include at least
one from that category uses only those ("same category: beauty"); otherwise all of them ("all
creators"). Categories compare after :func:`normalise_category`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kpi_core.catalogue import load_catalogue
from kpi_core.experiments.args import LiftRange, LiftType
from kpi_core.experiments.blend import PRIOR_Z, SplitNormal, posterior, random_effects
from kpi_core.experiments.settings import load_settings
from kpi_core.interventions import Intervention, load_interventions
from prompts import render

__all__ = [
    "ALL_CREATORS",
    "MAX_LISTED_LIFTS",
    "ArmSummary",
    "BlendedEvidence",
    "Exclusion",
    "Flag",
    "LiftReading",
    "LiftRecord",
    "RecordedLift",
    "blend_evidence",
    "measures_complement",
    "normalise_category",
    "read_lift",
    "scope_label",
]

#: Recorded lifts listed per intervention in a result (the count says how many there are).
MAX_LISTED_LIFTS = 20
ALL_CREATORS = "all creators"
#: Longest category kept (longer ones are refused by the store).
MAX_CATEGORY_CHARS = 64

#: Why a recorded outcome does not count as evidence (prompts/templates/experiments_exclusion).
Exclusion = Literal[
    "sample_ratio_mismatch",
    "several_treatments",
    "primary_not_target",
    "control_not_positive",
    "no_variance",
    "unknown_intervention",
]
#: Where lifts are blended: the log of the metric's ratio (relative lifts), or their difference.
BlendScale = Literal["log_ratio", "difference"]
#: math.expm1 overflows a float above about 709.78.
_MAX_EXP = 709.0
#: Why a recorded outcome waits for an operator's confirmation before it counts.
Flag = Literal["implausible_lift"]


def normalise_category(category: str | None) -> str | None:
    """A category as the store keeps and compares it: whitespace collapsed, case folded."""
    if category is None:
        return None
    flat = " ".join(category.split()).casefold()
    return flat or None


def scope_label(category: str | None) -> str:
    """The scope of evidence, as ``recommend`` cites it."""
    return ALL_CREATORS if category is None else f"same category: {category}"


def measures_complement(item: Intervention) -> bool:
    """True when ``recommend`` plans this intervention's test on ``1 - primary metric``.

    ``design_ab_test`` plans an increase, so a lower-is-better rate (refund_rate) is measured as
    its complement, the share of units without the event (``recommend``'s ``measured_as``).
    """
    primary = load_catalogue().metrics[item.primary_metric]
    return primary.kind == "fraction" and primary.direction == "lower"


def _lower_is_better(item: Intervention) -> bool:
    return load_catalogue().metrics[item.metric].direction == "lower"


# --------------------------------------------------------------------------------------------
# One outcome -> one lift of the intervention's target metric
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArmSummary:
    """One arm as measured: its rate or mean, the variance of one unit, its units, and for a
    proportion arm its conversions (None for a mean)."""

    value: float
    variance: float
    units: int
    conversions: int | None = None


@dataclass(frozen=True, slots=True)
class LiftReading:
    """The lift an outcome measured, in the intervention's lift type, or why it does not count."""

    lift: float | None
    se: float | None
    excluded: Exclusion | None
    flag: Flag | None = None


def _excluded(reason: Exclusion) -> LiftReading:
    return LiftReading(lift=None, se=None, excluded=reason)


def _floored(arm: ArmSummary, measured: float, lift_type: LiftType) -> float:
    """The arm's unit variance with the floors of the module docstring."""
    settings = load_settings()
    if arm.conversions is not None:
        converted = arm.conversions
        if converted in (0, arm.units):  # half a conversion more or less: never a zero variance
            rate = (converted + 0.5) / (arm.units + 1.0)
            return rate * (1.0 - rate)
        return arm.variance
    floor = settings.min_unit_cv * abs(measured)
    if lift_type == "absolute":
        floor = max(floor, settings.min_points_sd)
    return max(arm.variance, floor**2)


def read_lift(
    item: Intervention,
    arms: Sequence[ArmSummary],
    *,
    complement: bool,
    primary_metric: str,
    srm_alarm: bool,
) -> LiftReading:
    """The lift of ``item``'s target metric that an outcome measured (see the module docstring).

    ``arms`` are control first, measured as the plan measured them (``complement``: as
    ``1 - metric``); ``primary_metric`` is the plan's.
    """
    if srm_alarm:
        return _excluded("sample_ratio_mismatch")
    if len(arms) != 2:
        return _excluded("several_treatments")
    if primary_metric != item.metric:
        return _excluded("primary_not_target")
    control, treatment = arms
    m_c = 1.0 - control.value if complement else control.value
    m_t = 1.0 - treatment.value if complement else treatment.value
    v_c = _floored(control, m_c, item.lift_type)
    v_t = _floored(treatment, m_t, item.lift_type)
    sign = -1.0 if _lower_is_better(item) else 1.0
    if item.lift_type == "absolute":
        lift = sign * (m_t - m_c)
        se = math.sqrt(v_t / treatment.units + v_c / control.units)
    else:
        if m_c <= 0.0:
            return _excluded("control_not_positive")
        lift = sign * (m_t / m_c - 1.0)
        try:
            se = math.sqrt(
                v_t / (treatment.units * m_c**2) + m_t**2 * v_c / (control.units * m_c**4)
            )
        except (ZeroDivisionError, OverflowError):  # a control so close to 0 its powers underflow
            return _excluded("no_variance")
    if not (se > 0.0 and math.isfinite(se) and math.isfinite(lift)):
        return _excluded("no_variance")
    low, high = load_settings().plausible_lifts[item.lift_type]
    flag: Flag | None = None if low <= lift <= high else "implausible_lift"
    return LiftReading(lift=lift, se=se, excluded=None, flag=flag)


# --------------------------------------------------------------------------------------------
# Many lifts -> one blended range per intervention
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiftRecord:
    """One counted outcome as the store hands it over."""

    plan_id: str
    intervention_id: str
    category: str | None
    lift: float
    se: float


class RecordedLift(BaseModel):
    """One recorded experiment's lift of the target metric (the intervention's lift type)."""

    model_config = ConfigDict(frozen=True)

    plan_id: str
    category: str | None
    lift: float
    se: float


class BlendedEvidence(BaseModel):
    """An intervention's recorded lifts, its catalogue prior, and their blend."""

    model_config = ConfigDict(frozen=True)

    intervention_id: str
    lift_type: LiftType = Field(
        description="relative: a fraction of the target metric; absolute: of a growth rate."
    )
    scale: BlendScale = Field(
        description="Where the blend is computed: the log of the metric's ratio, or the difference."
    )
    scope: str = Field(description="'all creators' or 'same category: <category>'.")
    count: int = Field(description="Recorded experiments in the scope.")
    lifts: list[RecordedLift] = Field(
        description=f"The recorded lifts in the scope, first recorded first (at most "
        f"{MAX_LISTED_LIFTS}; count says how many there are)."
    )
    recorded_mean: float = Field(description="Random-effects mean of the recorded lifts alone.")
    recorded_low: float
    recorded_high: float
    tau: float = Field(description="Spread of the true lifts between experiments (blend scale).")
    i_squared: float = Field(description="Share of the lifts' variation beyond chance (0-1).")
    prior_low: float
    prior_mid: float
    prior_high: float
    blended_low: float
    blended_mid: float
    blended_high: float
    moved: str = Field(description="How much the recorded outcomes moved the prior, in a sentence.")

    def figures(self) -> dict[str, float | int | str]:
        """The figures ``recommend(evidence=...)`` takes (its ``InterventionEvidence`` fields)."""
        return {
            "count": self.count,
            "blended_low": self.blended_low,
            "blended_mid": self.blended_mid,
            "blended_high": self.blended_high,
            "scope": self.scope,
        }


@dataclass(frozen=True, slots=True)
class _Scale:
    """The blend's scale for one intervention: to it from a lift, and back."""

    kind: BlendScale
    lower_is_better: bool

    def to(self, lift: float) -> float:
        if self.kind == "difference":
            return lift
        return -math.log(1.0 - lift) if self.lower_is_better else math.log1p(lift)

    def slope(self, lift: float) -> float:
        """d(scale)/d(lift), for the delta method."""
        if self.kind == "difference":
            return 1.0
        return 1.0 / (1.0 - lift) if self.lower_is_better else 1.0 / (1.0 + lift)

    def back(self, value: float) -> float:
        """From the blend scale to a lift (a bound past floating point stays finite)."""
        if self.kind == "difference":
            return value
        if self.lower_is_better:
            return -math.expm1(min(-value, _MAX_EXP))
        return math.expm1(min(value, _MAX_EXP))

    def defined(self, lift: float) -> bool:
        return self.kind == "difference" or (lift < 1.0 if self.lower_is_better else lift > -1.0)


def _blended(
    item: Intervention, scope: str, records: Sequence[LiftRecord]
) -> BlendedEvidence | None:
    scale = _Scale(
        "difference" if item.lift_type == "absolute" else "log_ratio", _lower_is_better(item)
    )
    usable = [r for r in records if scale.defined(r.lift)]
    if not usable:  # every lift beyond -100%: nothing to blend on the log scale
        return None
    pairs = [(scale.to(r.lift), r.se * scale.slope(r.lift)) for r in usable]
    summary = random_effects(pairs)
    prior = SplitNormal.from_quantiles(
        scale.to(item.lift.low), scale.to(item.lift.mid), scale.to(item.lift.high)
    )
    updated = posterior(prior, summary.mean, summary.se)
    low, mid, high = (scale.back(updated.quantile(q)) for q in (0.025, 0.5, 0.975))
    half = PRIOR_Z * summary.se
    facts = {
        "count": len(usable),
        "lift_type": item.lift_type,
        "prior": item.lift,
        "blended": LiftRange(low, mid, high),
        "i_squared": summary.i_squared,
    }
    return BlendedEvidence(
        intervention_id=item.id,
        lift_type=item.lift_type,
        scale=scale.kind,
        scope=scope,
        count=len(usable),
        lifts=[
            RecordedLift(plan_id=r.plan_id, category=r.category, lift=r.lift, se=r.se)
            for r in usable[:MAX_LISTED_LIFTS]
        ],
        recorded_mean=scale.back(summary.mean),
        recorded_low=scale.back(summary.mean - half),
        recorded_high=scale.back(summary.mean + half),
        tau=math.sqrt(summary.tau2),
        i_squared=summary.i_squared,
        prior_low=item.lift.low,
        prior_mid=item.lift.mid,
        prior_high=item.lift.high,
        blended_low=low,
        blended_mid=mid,
        blended_high=high,
        moved=render("experiments_moved.txt.j2", **facts),
    )


def blend_evidence(
    records: Iterable[LiftRecord], *, category: str | None = None
) -> dict[str, BlendedEvidence]:
    """Per intervention id (sorted), the blended evidence in scope for a creator's ``category``.

    ``records`` come in the order they were recorded; ids not in the catalogue (retired
    interventions) are skipped.
    """
    wanted = normalise_category(category)
    by_id: dict[str, list[LiftRecord]] = {}
    for record in records:
        by_id.setdefault(record.intervention_id, []).append(record)
    catalogue = load_interventions()
    blended: dict[str, BlendedEvidence] = {}
    for ident in sorted(by_id):
        item = catalogue.get(ident)
        if item is None:
            continue
        everything = by_id[ident]
        same = [r for r in everything if wanted is not None and r.category == wanted]
        found = _blended(item, scope_label(wanted) if same else ALL_CREATORS, same or everything)
        if found is not None:
            blended[ident] = found
    return blended
