"""Evidence from recorded experiments: each intervention's measured lifts, blended with its prior.

Pure functions over plain records (the store reads them; :mod:`kpi_core.recommendations`
consumes the result as ``evidence=``). Nothing here does I/O.

**One experiment, one lift.** A recorded outcome becomes one lift of the intervention's target
metric, in the catalogue's terms (:func:`read_lift`): for ``lift_type = "relative"`` the relative
change of the metric in its better direction, ``r = m_t / m_c - 1`` for a higher-is-better metric
and ``1 - m_t / m_c`` for a lower-is-better one (``m`` the metric's value: a rate or mean as
measured, or one minus it when the plan measured the complement ``1 - metric``, as ``recommend``
plans a lower-is-better rate); for ``lift_type = "points"`` (growth rates) the difference
``m_t - m_c`` (negated for a lower-is-better metric). Standard errors by the delta method, with
``v`` the variance of one unit (``p (1 - p)`` for a proportion arm, ``sd^2`` for a mean arm) and
``n`` the units of the arm::

    relative   se = sqrt(v_t / (n_t m_c^2) + m_t^2 v_c / (n_c m_c^4))
    points     se = sqrt(v_t / n_t + v_c / n_c)

An outcome does not count (it is stored and listed, with the reason) when its split failed the
sample-ratio check, when the plan has more than one treatment arm (which arm is "the"
intervention is not defined), when its primary metric is not the intervention's target metric
(``sc_cart_reminder`` is judged on conversion_rate; turning that back into a change of cart
abandonment needs the creator's abandonment rate, which a plan does not carry), when a relative
lift has a control value of 0 or less, when its standard error is not above 0, or when its
intervention has left the catalogue.

**The blend.** The catalogue's range ``low <= mid <= high`` is read as a normal prior with mean
``mid`` and standard deviation ``(high - low) / (2 x 1.96)``: the range is taken as a central 95%
interval. Each recorded lift ``l_i`` with standard error ``se_i`` is a normal observation of the
same effect (a fixed-effect, inverse-variance blend)::

    w_0 = 1 / sd_0^2,  w_i = 1 / se_i^2
    mid' = (w_0 mid + sum w_i l_i) / (w_0 + sum w_i),  sd' = 1 / sqrt(w_0 + sum w_i)
    low' = mid' - 1.96 sd',  high' = mid' + 1.96 sd'

so the blended range is read the same way as the prior. Example: prior 0.05 / 0.10 / 0.20
(sd_0 = 0.15 / 3.92 = 0.03827) and one lift 0.12 with se 0.02 give mid' = 0.11571,
sd' = 0.017725, range 0.08097 .. 0.15045. A fixed-effect blend assumes one true lift for every
creator; creators differ, so with many experiments the blended range is narrower than the spread
a new creator will see.

**Scope.** With a creator's ``category``, an intervention whose recorded lifts include at least
one from that category uses only those ("same category: beauty"); otherwise all of them ("all
creators"). Categories compare after :func:`normalise_category`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kpi_core.catalogue import load_catalogue
from kpi_core.interventions import Intervention, LiftRange, LiftType, load_interventions
from kpi_core.recommendations import InterventionEvidence

__all__ = [
    "ALL_CREATORS",
    "MAX_LISTED_LIFTS",
    "PRIOR_Z",
    "ArmSummary",
    "BlendedEvidence",
    "Exclusion",
    "LiftReading",
    "LiftRecord",
    "RecordedLift",
    "blend",
    "blend_evidence",
    "evidence_for",
    "measures_complement",
    "normalise_category",
    "prior_sd",
    "read_lift",
    "scope_label",
]

#: The z of a central 95% interval: the catalogue's range and the blended range are read so.
PRIOR_Z = NormalDist().inv_cdf(0.975)
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


# --------------------------------------------------------------------------------------------
# One outcome -> one lift of the intervention's target metric
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArmSummary:
    """One arm as measured: its rate or mean, the variance of one unit, and its units."""

    value: float
    variance: float
    units: int


@dataclass(frozen=True, slots=True)
class LiftReading:
    """The lift an outcome measured, in the intervention's lift type, or why it does not count."""

    lift: float | None
    se: float | None
    excluded: Exclusion | None


def _excluded(reason: Exclusion) -> LiftReading:
    return LiftReading(lift=None, se=None, excluded=reason)


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
    lower = load_catalogue().metrics[item.metric].direction == "lower"
    sign = -1.0 if lower else 1.0
    if item.lift_type == "points":
        lift = sign * (m_t - m_c)
        se = math.sqrt(treatment.variance / treatment.units + control.variance / control.units)
    else:
        if m_c <= 0.0:
            return _excluded("control_not_positive")
        ratio = m_t / m_c
        lift = sign * (ratio - 1.0)
        try:
            se = math.sqrt(
                treatment.variance / (treatment.units * m_c**2)
                + m_t**2 * control.variance / (control.units * m_c**4)
            )
        except (ZeroDivisionError, OverflowError):  # a control so close to 0 its powers underflow
            return _excluded("no_variance")
    if not (se > 0.0 and math.isfinite(se) and math.isfinite(lift)):
        return _excluded("no_variance")
    return LiftReading(lift=lift, se=se, excluded=None)


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
        description="relative: a fraction of the target metric; points: of a growth rate."
    )
    scope: str = Field(description="'all creators' or 'same category: <category>'.")
    count: int = Field(description="Recorded experiments in the scope.")
    lifts: list[RecordedLift] = Field(
        description=f"The recorded lifts in the scope, first recorded first (at most "
        f"{MAX_LISTED_LIFTS}; count says how many there are)."
    )
    recorded_mean: float = Field(description="Inverse-variance mean of the recorded lifts alone.")
    recorded_se: float
    prior_low: float
    prior_mid: float
    prior_high: float
    prior_sd: float = Field(description="(prior_high - prior_low) / (2 x 1.96).")
    blended_low: float
    blended_mid: float
    blended_high: float
    blended_sd: float

    def as_intervention_evidence(self) -> InterventionEvidence:
        """The figures ``recommend(evidence=...)`` takes."""
        return InterventionEvidence(
            count=self.count,
            blended_low=self.blended_low,
            blended_mid=self.blended_mid,
            blended_high=self.blended_high,
            scope=self.scope,
        )


def prior_sd(lift: LiftRange) -> float:
    """The prior's standard deviation: the catalogue's range read as a central 95% interval."""
    return (lift.high - lift.low) / (2.0 * PRIOR_Z)


def blend(
    prior_mean: float, prior_sigma: float, lifts: Sequence[tuple[float, float]]
) -> tuple[float, float]:
    """Inverse-variance blend of a normal prior with ``(lift, se)`` observations: (mean, sd).

    Sums are taken with :func:`math.fsum`, so the result does not depend on the order of lifts.
    """
    weights = [1.0 / prior_sigma**2, *(1.0 / se**2 for _, se in lifts)]
    values = [prior_mean, *(lift for lift, _ in lifts)]
    total = math.fsum(weights)
    mean = math.fsum(w * v for w, v in zip(weights, values, strict=True)) / total
    return mean, 1.0 / math.sqrt(total)


def _recorded(lifts: Sequence[tuple[float, float]]) -> tuple[float, float]:
    weights = [1.0 / se**2 for _, se in lifts]
    total = math.fsum(weights)
    mean = math.fsum(w * lift for w, (lift, _) in zip(weights, lifts, strict=True)) / total
    return mean, 1.0 / math.sqrt(total)


def _blended(item: Intervention, scope: str, records: Sequence[LiftRecord]) -> BlendedEvidence:
    pairs = [(record.lift, record.se) for record in records]
    sigma = prior_sd(item.lift)
    mean, sd = blend(item.lift.mid, sigma, pairs)
    recorded_mean, recorded_se = _recorded(pairs)
    return BlendedEvidence(
        intervention_id=item.id,
        lift_type=item.lift_type,
        scope=scope,
        count=len(records),
        lifts=[
            RecordedLift(plan_id=r.plan_id, category=r.category, lift=r.lift, se=r.se)
            for r in records[:MAX_LISTED_LIFTS]
        ],
        recorded_mean=recorded_mean,
        recorded_se=recorded_se,
        prior_low=item.lift.low,
        prior_mid=item.lift.mid,
        prior_high=item.lift.high,
        prior_sd=sigma,
        blended_low=mean - PRIOR_Z * sd,
        blended_mid=mean,
        blended_high=mean + PRIOR_Z * sd,
        blended_sd=sd,
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
        if same:
            blended[ident] = _blended(item, scope_label(wanted), same)
        else:
            blended[ident] = _blended(item, ALL_CREATORS, everything)
    return blended


def evidence_for(
    records: Iterable[LiftRecord], *, category: str | None = None
) -> Mapping[str, InterventionEvidence]:
    """What ``recommend(evidence=...)`` takes: :func:`blend_evidence` reduced to its figures."""
    return {
        ident: item.as_intervention_evidence()
        for ident, item in blend_evidence(records, category=category).items()
    }
