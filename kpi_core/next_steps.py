"""Always a next step (issue 18): which interventions ``recommend`` may offer, the stretch goal
when no KPI is below its benchmark, and the metrics whose absence keeps interventions out.

* **Normal mode** (some measured KPI is below its benchmark score): an intervention applies when
  its KPI is such a weakness that the objective counts, its target metric is present and worse
  than the creator's benchmark, and its preconditions hold.
* **Stretch mode** (no measured KPI is below its benchmark): the goal is the next band up (from
  ``excellent``, staying in it), and an intervention applies when the objective counts its KPI,
  its target metric is present and its preconditions hold; the uplift ranks them as usual.
* **Data needed**: an intervention that would apply but for missing data (its target metric, or
  a metric one of its preconditions reads) names those metrics; each metric lists the
  interventions it would unlock, most unlocks first.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from kpi_core.catalogue import load_catalogue
from kpi_core.interventions import Intervention, load_interventions
from kpi_core.scoring import ScoredCreator

__all__ = [
    "MAX_DATA_NEEDED",
    "DataNeeded",
    "StretchGoal",
    "applies",
    "data_needed",
    "has_weakness",
    "select",
    "stretch_goal",
]

#: Metrics listed in ``data_needed`` (the total says how many there are).
MAX_DATA_NEEDED = 5


class StretchGoal(BaseModel):
    """What to aim for when nothing is below its benchmark: the next band up."""

    model_config = ConfigDict(frozen=True)

    band: str = Field(description="The band aimed at.")
    score_needed: float = Field(description="The overall score where that band starts.")
    points_away: float = Field(description="Overall score points still to gain (0 if there).")


class DataNeeded(BaseModel):
    """A metric that is missing, and the interventions it would let recommend consider."""

    model_config = ConfigDict(frozen=True)

    metric: str
    unlocks: list[str] = Field(description="Ids of the interventions it would unlock.")
    titles: list[str] | None = Field(default=None, description="Their titles (full).")


def stretch_goal(scored: ScoredCreator) -> StretchGoal:
    """The next band above the creator's (the top band when already in it)."""
    bands = load_catalogue().bands  # highest first
    names = [name for name, _ in bands]
    index = names.index(scored.result.band)
    name, lower = bands[max(index - 1, 0)]
    away = max(lower - scored.result.overall_score, 0.0)
    return StretchGoal(band=name, score_needed=lower, points_away=round(away, 2))


def has_weakness(scored: ScoredCreator) -> bool:
    """True when some measured KPI is below its benchmark score (kpi_core.standing)."""
    return any(scored.gap(item.kpi) > 0.0 for item in scored.result.kpis)


def _missing_metrics(item: Intervention, values: Mapping[str, float]) -> list[str]:
    needed = [item.metric, *(condition.metric for condition in item.preconditions)]
    missing: list[str] = []
    for metric in needed:
        if metric not in values and metric not in missing:
            missing.append(metric)
    return missing


def _kpi_counts(item: Intervention, scored: ScoredCreator, stretch: bool) -> bool:
    return stretch or scored.gap(item.kpi) > 0.0


def applies(
    item: Intervention, scored: ScoredCreator, multipliers: Mapping[str, float], *, stretch: bool
) -> bool:
    """True when recommend may offer ``item`` (see the module docstring)."""
    if multipliers[item.kpi] <= 0.0 or not _kpi_counts(item, scored, stretch):
        return False
    if item.metric not in scored.values:
        return False
    if not stretch and not scored.worse_than_benchmark(item.metric):
        return False
    return all(p.holds(scored.values, scored.benchmarks) for p in item.preconditions)


def data_needed(
    scored: ScoredCreator, multipliers: Mapping[str, float], *, stretch: bool
) -> list[DataNeeded]:
    """Every missing metric that keeps an intervention out, most unlocks first (ties: name)."""
    unlocks: dict[str, list[Intervention]] = {}
    for item in load_interventions().interventions:
        if multipliers[item.kpi] <= 0.0 or not _kpi_counts(item, scored, stretch):
            continue
        missing = _missing_metrics(item, scored.values)
        if not missing:
            continue
        present = [
            p for p in item.preconditions if p.metric in scored.values and p.metric not in missing
        ]
        if not all(p.holds(scored.values, scored.benchmarks) for p in present):
            continue  # kept out by data it has, not by data it lacks
        for metric in missing:
            unlocks.setdefault(metric, []).append(item)
    ranked = sorted(unlocks.items(), key=lambda entry: (-len(entry[1]), entry[0]))
    return [
        DataNeeded(
            metric=metric,
            unlocks=[item.id for item in items],
            titles=[item.title for item in items],
        )
        for metric, items in ranked
    ]


def select(
    scored: ScoredCreator, multipliers: Mapping[str, float]
) -> tuple[list[Intervention], list[DataNeeded], StretchGoal | None]:
    """What recommend works with: the interventions that apply (catalogue order), the missing
    metrics that keep others out, and the stretch goal when no KPI is below its benchmark."""
    stretch = not has_weakness(scored)
    candidates = [
        item
        for item in load_interventions().interventions
        if applies(item, scored, multipliers, stretch=stretch)
    ]
    needed = data_needed(scored, multipliers, stretch=stretch)
    return candidates, needed, stretch_goal(scored) if stretch else None
