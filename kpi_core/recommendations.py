"""What to change, in order: interventions for a creator's bottlenecks, with expected uplift and
the A/B test that would prove each one.

:func:`recommend` is pure: metrics in, :class:`Recommendations` out, every sentence rendered from a
``prompts/templates/recommend_*.txt.j2`` template, every number from the scoring core.

**Selection.** An intervention of ``data/interventions.toml`` is offered when its KPI is a
bottleneck (scored, below its benchmark score) that the ``objective`` counts (multiplier > 0),
its target metric is present and worse than the creator's benchmark for it, all of its
preconditions hold, and its mid uplift is positive.

**Expected uplift.** The low, mid and high lift of the target metric are applied through the
funnel rule (:func:`kpi_core.funnel.apply_changes`) and rescored; the uplift is the overall-score
points gained. All counterfactuals of one call are scored in one kernel batch.

**Priority** = objective multiplier of the KPI x mid uplift x feasibility / effort cost, with effort
cost low = 1, medium = 2, high = 4 and the multipliers of ``[objectives]`` in the catalogue
(``balanced``: 1 for every KPI, which leaves mid uplift x feasibility / effort cost). Higher first;
ties broken by id. Example: mid uplift 2.0 points, feasibility 0.8, low effort: 2.0 x 0.8 / 1 = 1.6.

**Evidence.** ``evidence`` maps intervention ids to recorded experiment results
(:class:`InterventionEvidence`); for such an id the blended range replaces the catalogue's range
(uplift, priority and the text "based on N recorded experiments"). Ids not in the catalogue are
ignored (a store may hold retired interventions).

**A/B test.** ``ab_test`` holds exactly the keyword arguments of ``design_ab_test``: the primary
metric's kind (``proportion`` for a fraction, else ``mean``), its current value as the baseline
(a lower-is-better fraction is measured as its complement, ``1 - rate``, so the hoped-for change is
an increase as ``design_ab_test`` expects), the MDE at the low end of the lift range (relative;
the absolute difference for growth rates), the first unit the catalogue allows, and ``missing[]``
naming what the caller must still supply.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kpi_core.catalogue import load_catalogue
from kpi_core.diagnosis import metric_sentence
from kpi_core.errors import InvalidValueError
from kpi_core.experiments.args import AbTestArgs, Direction
from kpi_core.funnel import Scenario, apply_changes, improve, score_scenarios
from kpi_core.interventions import (
    OBJECTIVES,
    Effort,
    ExperimentUnit,
    Intervention,
    LiftRange,
    LiftType,
    Objective,
    load_interventions,
)
from kpi_core.metrics import CreatorMetrics
from kpi_core.scoring import ScoredCreator, assess
from kpi_core.weights import Weighting, WeightingArg
from prompts import inert, render

__all__ = [
    "MAX_ITEMS",
    "AbTestArgs",
    "ExperimentInfo",
    "InterventionEvidence",
    "LiftEvidence",
    "Recommendation",
    "Recommendations",
    "Uplift",
    "intervention_text",
    "recommend",
]

MAX_ITEMS = 20
#: Uplifts at or below this many points are float noise: the intervention would change nothing.
MIN_UPLIFT = 1e-9
#: Longest evidence scope echoed in a sentence.
MAX_SCOPE_CHARS = 80

_RESULT_CONFIG = ConfigDict(frozen=True)


class InterventionEvidence(BaseModel):
    """Recorded experiments on one intervention, blended into one lift range.

    The blended figures are in the intervention's lift type (a relative change of the target
    metric in its better direction, or the difference for growth rates), like the catalogue's range.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(ge=1, description="Number of recorded experiments blended.")
    blended_low: float = Field(allow_inf_nan=False)
    blended_mid: float = Field(allow_inf_nan=False)
    blended_high: float = Field(allow_inf_nan=False)
    scope: str = Field(
        default="all creators", description="Which creators the experiments covered."
    )


EvidenceArg = Mapping[str, InterventionEvidence | Mapping[str, object]]


class Uplift(BaseModel):
    """Overall-score points gained at the low, mid and high end of the lift range."""

    model_config = _RESULT_CONFIG

    low: float
    mid: float
    high: float


class LiftEvidence(BaseModel):
    """The lift range used, and where it comes from."""

    model_config = _RESULT_CONFIG

    lift_type: LiftType = Field(
        description="relative: a fraction of the metric; absolute: of a growth rate (0.01 = +1 pp)."
    )
    lift_low: float
    lift_mid: float
    lift_high: float
    source: str = Field(
        description="'assumption', a citation, or 'recorded experiments' when evidence was given."
    )
    experiments: int = Field(description="Recorded experiments behind the range (0: catalogue).")
    scope: str | None
    text: str


class ExperimentInfo(BaseModel):
    """What the experiment measures (for ``design_ab_test``'s primary_metric and guardrails)."""

    model_config = _RESULT_CONFIG

    primary_metric: str
    measured_as: str = Field(description="The metric, or '1 - metric' for a lower-is-better rate.")
    direction: Direction = Field(description="The hoped-for change of primary_metric itself.")
    guardrails: list[str]
    allowed_units: list[ExperimentUnit]


class Recommendation(BaseModel):
    """One intervention for this creator, with its expected uplift, evidence and test plan."""

    model_config = _RESULT_CONFIG

    id: str
    kpi: str
    title: str
    text: str = Field(description="Rationale and steps, from templates.")
    priority: float = Field(description="multiplier x mid uplift x feasibility / effort cost.")
    expected_uplift: Uplift
    evidence: LiftEvidence
    ab_test: AbTestArgs
    experiment: ExperimentInfo
    target_metric: str
    steps: list[str]
    effort: Effort
    effort_cost: float
    feasibility: float
    time_to_effect_days: int
    objective_multiplier: float


class Recommendations(BaseModel):
    """Interventions for one creator, highest priority first (capped at max_items)."""

    model_config = _RESULT_CONFIG

    summary: str = Field(description="What to say first (the same text as the text content).")
    creator_id: str | None
    objective: Objective
    weighting: str
    overall_score: float
    recommendations: list[Recommendation]
    total: int = Field(description="Interventions that apply; raise max_items to see more.")
    max_items: int
    model_version: str


def _check_max_items(max_items: object) -> int:
    if (
        isinstance(max_items, bool)
        or not isinstance(max_items, int)
        or not 1 <= max_items <= MAX_ITEMS
    ):
        raise InvalidValueError(
            "max_items", f"must be a whole number in [1, {MAX_ITEMS}]", max_items
        )
    return max_items


def _check_objective(objective: object) -> Objective:
    if not isinstance(objective, str) or objective not in OBJECTIVES:
        raise InvalidValueError(
            "objective", f"must be one of {', '.join(OBJECTIVES)}", objective, "use 'balanced'"
        )
    return objective  # pyright: ignore[reportReturnType]


def _check_evidence(evidence: object) -> dict[str, InterventionEvidence]:
    if evidence is None:
        return {}
    if not isinstance(evidence, Mapping):
        raise InvalidValueError("evidence", "must map intervention ids to results", evidence)
    catalogue = load_interventions()
    checked: dict[str, InterventionEvidence] = {}
    for key, raw in evidence.items():  # pyright: ignore[reportUnknownVariableType]
        ident = str(key)  # pyright: ignore[reportUnknownArgumentType]
        if catalogue.get(ident) is None:
            continue
        try:
            item = (
                raw
                if isinstance(raw, InterventionEvidence)
                else InterventionEvidence.model_validate(raw)
            )
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidValueError(
                f"evidence.{ident}.{where}" if where else f"evidence.{ident}",
                first["msg"].lower(),
                first.get("input"),
            ) from None
        if not item.blended_low <= item.blended_mid <= item.blended_high:
            raise InvalidValueError(
                f"evidence.{ident}",
                "must satisfy blended_low <= blended_mid <= blended_high",
                (item.blended_low, item.blended_mid, item.blended_high),
            )
        checked[ident] = item
    return checked


def _lift_range(item: Intervention, recorded: InterventionEvidence | None) -> LiftRange:
    if recorded is None:
        return item.lift
    return LiftRange(low=recorded.blended_low, mid=recorded.blended_mid, high=recorded.blended_high)


def _evidence(item: Intervention, recorded: InterventionEvidence | None) -> LiftEvidence:
    lift = _lift_range(item, recorded)
    scope = None if recorded is None else inert(recorded.scope, MAX_SCOPE_CHARS)
    source = "recorded experiments" if recorded is not None else item.source
    citation = load_interventions().sources.get(item.source)
    return LiftEvidence(
        lift_type=item.lift_type,
        lift_low=lift.low,
        lift_mid=lift.mid,
        lift_high=lift.high,
        source=source,
        experiments=0 if recorded is None else recorded.count,
        scope=scope,
        text=render(
            "recommend_evidence.txt.j2",
            experiments=0 if recorded is None else recorded.count,
            scope=scope,
            source=item.source,
            citation=citation,
        ),
    )


#: The design argument each unit needs to turn a sample size into a duration.
_DURATION_ARG = {"viewer": "daily_units", "creator": "available_units", "time_block": "block_days"}


def _missing_design_args(
    baseline: float | None, mde: float | None, *, proportion: bool, unit: str
) -> list[str]:
    """The design arguments the caller must still supply before design_ab_test can run."""
    missing = [name for name, value in (("baseline", baseline), ("mde", mde)) if value is None]
    if not (proportion and unit == "viewer"):
        missing.append("baseline_sd")
    missing.append(_DURATION_ARG[unit])
    return missing


def _ab_test(
    item: Intervention, scored: ScoredCreator, mde_lift: float
) -> tuple[AbTestArgs, ExperimentInfo]:
    metrics = load_catalogue().metrics
    primary = metrics[item.primary_metric]
    proportion = primary.kind == "fraction"
    complement = proportion and primary.direction == "lower"
    unit = item.units[0]
    value = scored.values.get(primary.name)

    baseline: float | None = None
    mde: float | None = None
    if value is not None:
        if primary.name == item.metric:
            moved = improve(primary, value, mde_lift, item.lift_type)
            moved = min(primary.high, max(primary.low, moved))
        else:
            moved = apply_changes(
                scored.values, {item.metric: mde_lift}, item.lift_type, round_counts=False
            )[primary.name]
        before, after = (1.0 - value, 1.0 - moved) if complement else (value, moved)
        if item.lift_type == "absolute":
            baseline, mde = before, abs(after - before)
        elif before > 0.0:
            baseline, mde = before, abs(after - before) / before
        if baseline is not None and proportion and not 0.0 < baseline < 1.0:
            baseline = None
        if mde is not None:
            # 12 decimals drop the float noise of (after - before) / before (0.05000000000000013)
            mde = round(mde, 12) if mde > 0.0 else None
    missing = _missing_design_args(baseline, mde, proportion=proportion, unit=unit)

    args = AbTestArgs(
        metric_kind="proportion" if proportion else "mean",
        baseline=baseline,
        baseline_sd=None,
        mde=mde,
        mde_type="absolute" if item.lift_type == "absolute" else "relative",
        alpha=0.05,
        power=0.8,
        sides=2,
        arms=2,
        allocation=[0.5, 0.5],
        unit=unit,
        daily_units=None,
        available_units=None,
        block_days=None,
        cuped_correlation=None,
        method="pooled",
        missing=missing,
    )
    info = ExperimentInfo(
        primary_metric=primary.name,
        measured_as=f"1 - {primary.name}" if complement else primary.name,
        direction="decrease" if primary.direction == "lower" else "increase",
        guardrails=list(item.guardrails),
        allowed_units=list(item.units),
    )
    return args, info


def intervention_text(
    item: Intervention,
    *,
    kpi_label: str,
    kpi_score: float,
    kpi_benchmark_score: float,
    metric_text: str,
    lift: LiftRange,
    uplift: Uplift,
    evidence_text: str,
) -> str:
    """The recommendation's text: rationale, expected effect and steps (from templates)."""
    metric = load_catalogue().metrics[item.metric]
    rationale = render(
        "recommend_rationale.txt.j2",
        kpi_label=kpi_label,
        kpi_score=kpi_score,
        kpi_benchmark_score=kpi_benchmark_score,
        metric_text=metric_text,
        title=item.title,
        metric=item.metric,
        lower_is_better=metric.direction == "lower",
        lift_type=item.lift_type,
        lift_low=lift.low,
        lift_high=lift.high,
        uplift_low=uplift.low,
        uplift_mid=uplift.mid,
        uplift_high=uplift.high,
        evidence_text=evidence_text,
        time_to_effect_days=item.time_to_effect_days,
    )
    return render("recommend_text.txt.j2", rationale=rationale, steps=list(item.steps))


def recommend(
    metrics: Mapping[str, object] | CreatorMetrics | ScoredCreator,
    weighting: WeightingArg | Weighting | None = None,
    max_items: int = 5,
    objective: Objective = "balanced",
    evidence: EvidenceArg | None = None,
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
) -> Recommendations:
    """Prioritised interventions for a creator's bottlenecks (see the module docstring).

    ``metrics`` and ``weighting`` are those of :func:`kpi_core.diagnosis` (a creator already
    scored by :func:`kpi_core.scoring.assess` is reused as it is); ``max_items`` (1-20) caps
    the list; ``objective`` is ``balanced``, ``grow_gmv``, ``improve_conversion`` or
    ``build_audience``; ``evidence`` maps intervention ids to recorded results. A bad argument
    raises a :class:`~kpi_core.errors.KpiError` naming the field.
    """
    cap = _check_max_items(max_items)
    goal = _check_objective(objective)
    recorded = _check_evidence(evidence)
    scored = assess(metrics, weighting, currency=currency, fx_to_default=fx_to_default)
    catalogue = load_interventions()
    multipliers = catalogue.objectives[goal]
    result = scored.result
    candidates = _candidates(scored, multipliers)
    ranked = _ranked(scored, candidates, recorded, multipliers)
    chosen = [
        _recommendation(
            candidates[index],
            scored,
            recorded.get(candidates[index].id),
            uplift=uplift,
            priority=priority,
            effort_cost=catalogue.effort_cost[candidates[index].effort],
            multiplier=multipliers[candidates[index].kpi],
        )
        for priority, _, index, uplift in ranked[:cap]
    ]
    top = chosen[0] if chosen else None
    summary = render(
        "recommend_summary.txt.j2",
        creator_id=result.creator_id,
        objective=goal,
        shown=len(chosen),
        total=len(ranked),
        bottlenecks=sum(scored.gap(kpi.kpi) > 0.0 for kpi in result.kpis),
        top_title=None if top is None else top.title,
        top_uplift=None if top is None else top.expected_uplift.mid,
        top_missing=[] if top is None else top.ab_test.missing,
        top_unit=None if top is None else top.ab_test.unit,
        max_items=MAX_ITEMS,
    )
    return Recommendations(
        summary=summary,
        creator_id=result.creator_id,
        objective=goal,
        weighting=result.weighting,
        overall_score=result.overall_score,
        recommendations=chosen,
        total=len(ranked),
        max_items=cap,
        model_version=result.model_version,
    )


def _candidates(scored: ScoredCreator, multipliers: Mapping[str, float]) -> list[Intervention]:
    """The interventions that apply (see Selection in the module docstring), in catalogue order."""
    candidates: list[Intervention] = []
    for item in load_interventions().interventions:
        if multipliers[item.kpi] <= 0.0 or scored.gap(item.kpi) <= 0.0:
            continue
        if not scored.worse_than_benchmark(item.metric):
            continue
        if all(p.holds(scored.values, scored.benchmarks) for p in item.preconditions):
            candidates.append(item)
    return candidates


def _ranked(
    scored: ScoredCreator,
    candidates: list[Intervention],
    recorded: Mapping[str, InterventionEvidence],
    multipliers: Mapping[str, float],
) -> list[tuple[float, str, int, Uplift]]:
    """(priority, id, index in candidates, uplift) of each candidate with a positive mid uplift,
    highest priority first (ties: id); every counterfactual scored in one kernel batch."""
    scenarios: list[Scenario] = []
    for item in candidates:
        lift = _lift_range(item, recorded.get(item.id))
        for amount in (lift.low, lift.mid, lift.high):
            scenarios.append(Scenario(changes={item.metric: amount}, mode=item.lift_type))
    scores = score_scenarios(scored.values, scenarios, scored.scheme)
    effort_cost = load_interventions().effort_cost
    ranked: list[tuple[float, str, int, Uplift]] = []
    for index, item in enumerate(candidates):
        uplift = Uplift(
            low=scores.uplift(3 * index),
            mid=scores.uplift(3 * index + 1),
            high=scores.uplift(3 * index + 2),
        )
        if uplift.mid <= MIN_UPLIFT:
            continue
        priority = multipliers[item.kpi] * uplift.mid * item.feasibility / effort_cost[item.effort]
        ranked.append((priority, item.id, index, uplift))
    ranked.sort(key=lambda row: (-row[0], row[1]))
    return ranked


def _recommendation(
    item: Intervention,
    scored: ScoredCreator,
    recorded: InterventionEvidence | None,
    *,
    uplift: Uplift,
    priority: float,
    effort_cost: float,
    multiplier: float,
) -> Recommendation:
    lift = _lift_range(item, recorded)
    mde_lift = lift.low if lift.low > 0.0 else item.lift.low
    ab_test, experiment = _ab_test(item, scored, mde_lift)
    evidence = _evidence(item, recorded)
    kpi = scored.kpi(item.kpi)
    score = kpi.score if kpi.score is not None else 0.0
    text = intervention_text(
        item,
        kpi_label=kpi.label,
        kpi_score=score,
        kpi_benchmark_score=kpi.benchmark_score,
        metric_text=metric_sentence(
            item.metric,
            scored.values[item.metric],
            scored.benchmarks[item.metric],
            size_assumed=scored.size_assumed,
            currency=scored.result.currency,
        ),
        lift=lift,
        uplift=uplift,
        evidence_text=evidence.text,
    )
    return Recommendation(
        id=item.id,
        kpi=item.kpi,
        title=item.title,
        text=text,
        priority=priority,
        expected_uplift=uplift,
        evidence=evidence,
        ab_test=ab_test,
        experiment=experiment,
        target_metric=item.metric,
        steps=list(item.steps),
        effort=item.effort,
        effort_cost=effort_cost,
        feasibility=item.feasibility,
        time_to_effect_days=item.time_to_effect_days,
        objective_multiplier=multiplier,
    )
