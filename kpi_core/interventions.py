"""The intervention catalogue: what can be changed, by how much we expect, and how to test it.

The numbers live in ``data/interventions.toml`` (with the honesty note on their sources); this
module reads the file once, checks it against the metric catalogue and the funnel rule, and exposes
frozen, typed objects. Nothing is read at import time: :func:`load_interventions` reads on first
use and caches the result.
"""

from __future__ import annotations

import math
import operator
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, cast, get_args

from kpi_core.catalogue import KPI_IDS, Catalogue, Metric, load_catalogue
from kpi_core.errors import ConfigurationError
from kpi_core.experiments.args import UNITS, LiftRange, LiftType
from kpi_core.experiments.args import Unit as ExperimentUnit
from kpi_core.funnel import DOWNSTREAM

__all__ = [
    "EFFORTS",
    "OBJECTIVES",
    "UNITS",
    "Effort",
    "ExperimentUnit",
    "Intervention",
    "InterventionCatalogue",
    "LiftRange",
    "LiftType",
    "Objective",
    "Precondition",
    "load_interventions",
    "parse_interventions",
]

Effort = Literal["low", "medium", "high"]
Objective = Literal["balanced", "grow_gmv", "improve_conversion", "build_audience"]

EFFORTS: tuple[Effort, ...] = get_args(Effort)
OBJECTIVES: tuple[Objective, ...] = get_args(Objective)
MIN_INTERVENTIONS = 25
MAX_GUARDRAILS = 5

_ID = re.compile(r"^[a-z][a-z0-9_]{2,63}$")
_PRECONDITION = re.compile(
    r"^(?P<metric>[a-z_]+) (?:(?P<present>present)|(?P<op><=|>=|<|>) "
    r"(?P<rhs>benchmark|-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?))$"
)
#: The keys of one [[interventions]] entry (all required).
_KEYS: tuple[str, ...] = (
    "id",
    "title",
    "kpi",
    "metric",
    "steps",
    "effort",
    "feasibility",
    "time_to_effect_days",
    "lift",
    "lift_type",
    "source",
    "preconditions",
    "units",
    "primary_metric",
    "guardrails",
)
_COMPARE: Mapping[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True, slots=True)
class Precondition:
    """One machine-checkable condition: a metric is present, or compares with a number or with
    the creator's benchmark for it. A comparison with a missing metric is false."""

    text: str
    metric: str
    op: Literal["present", "<", "<=", ">", ">="]
    number: float | None = None
    against_benchmark: bool = False

    def holds(self, values: Mapping[str, float], benchmarks: Mapping[str, float]) -> bool:
        value = values.get(self.metric)
        if value is None or not math.isfinite(value):
            return False
        if self.op == "present":
            return True
        other = benchmarks.get(self.metric) if self.against_benchmark else self.number
        if other is None:
            return False
        return _COMPARE[self.op](value, other)


@dataclass(frozen=True, slots=True)
class Intervention:
    """One entry of the catalogue (field meanings are in ``data/interventions.toml``)."""

    id: str
    title: str
    kpi: str
    metric: str
    steps: tuple[str, ...]
    effort: Effort
    feasibility: float
    time_to_effect_days: int
    lift: LiftRange
    lift_type: LiftType
    source: str
    preconditions: tuple[Precondition, ...]
    units: tuple[ExperimentUnit, ...]
    primary_metric: str
    guardrails: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InterventionCatalogue:
    """The checked catalogue: interventions (sorted by id), effort costs, objective multipliers."""

    interventions: tuple[Intervention, ...]
    effort_cost: Mapping[str, float]
    #: objective -> KPI id -> multiplier of priority (0: the objective does not count the KPI).
    objectives: Mapping[str, Mapping[str, float]]
    sources: Mapping[str, str]

    def get(self, intervention_id: str) -> Intervention | None:
        for item in self.interventions:
            if item.id == intervention_id:
                return item
        return None


def _fail(where: str, rule: str, value: object) -> ConfigurationError:
    return ConfigurationError(f"interventions.toml {where}", rule, value)


def _number(where: str, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise _fail(where, "must be a finite number", raw)
    return float(raw)


def _text(where: str, raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise _fail(where, "must be a non-empty string", raw)
    return raw


def _strings(where: str, raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise _fail(where, "must be a list of strings", raw)
    items = cast("list[object]", raw)
    return tuple(_text(f"{where}[{i}]", item) for i, item in enumerate(items))


def _metric(where: str, name: str, catalogue: Catalogue, *, scored: bool = True) -> str:
    metric = catalogue.metrics.get(name)
    if metric is None or not metric.is_numeric or (scored and not metric.scored):
        kind = "a metric that feeds a KPI" if scored else "a numeric metric"
        raise _fail(where, f"must name {kind}", name)
    return name


def _precondition(where: str, text: str, catalogue: Catalogue) -> Precondition:
    match = _PRECONDITION.match(text)
    if match is None:
        raise _fail(
            where,
            "must read '<metric> present', '<metric> <op> <number>' or '<metric> <op> benchmark'",
            text,
        )
    against = match["rhs"] == "benchmark"
    metric = _metric(where, match["metric"], catalogue, scored=against)
    if match["present"]:
        return Precondition(text=text, metric=metric, op="present")
    op = cast("Literal['<', '<=', '>', '>=']", match["op"])
    number = None if against else float(match["rhs"])
    return Precondition(text=text, metric=metric, op=op, number=number, against_benchmark=against)


def _lift(where: str, raw: object) -> LiftRange:
    if not isinstance(raw, dict):
        raise _fail(where, "must be a table {low, mid, high}", raw)
    table = cast("dict[str, object]", raw)
    if set(table) != {"low", "mid", "high"}:
        raise _fail(where, "must have exactly low, mid and high", sorted(table))
    low, mid, high = (_number(f"{where}.{key}", table[key]) for key in ("low", "mid", "high"))
    if not 0.0 < low <= mid <= high:
        raise _fail(where, "must satisfy 0 < low <= mid <= high", (low, mid, high))
    return LiftRange(low=low, mid=mid, high=high)


def _intervention(
    index: int,
    entry: dict[str, Any],
    catalogue: Catalogue,
    effort_cost: Mapping[str, float],
    sources: Mapping[str, str],
) -> Intervention:
    where = f"interventions[{index}]"
    unknown = sorted(set(entry) - set(_KEYS))
    missing = [key for key in _KEYS if key not in entry]
    if unknown or missing:
        raise _fail(
            where, "must have exactly the documented keys", {"unknown": unknown, "missing": missing}
        )
    ident = _text(f"{where}.id", entry["id"])
    if not _ID.match(ident):
        raise _fail(f"{where}.id", "must be lower case letters, digits and underscores", ident)
    where = f"interventions.{ident}"
    kpi, metric = _target(where, entry, catalogue)
    effort, feasibility, days = _cost(where, entry, effort_cost)
    lift, lift_type, source = _lift_section(where, entry, metric, sources)
    preconditions = tuple(
        _precondition(f"{where}.preconditions[{i}]", text, catalogue)
        for i, text in enumerate(_strings(f"{where}.preconditions", entry["preconditions"]))
    )
    units, primary, guardrails = _test_plan(where, entry, metric.name, catalogue)
    return Intervention(
        id=ident,
        title=_text(f"{where}.title", entry["title"]),
        kpi=kpi,
        metric=metric.name,
        steps=_strings(f"{where}.steps", entry["steps"]),
        effort=effort,
        feasibility=feasibility,
        time_to_effect_days=days,
        lift=lift,
        lift_type=lift_type,
        source=source,
        preconditions=preconditions,
        units=units,
        primary_metric=primary,
        guardrails=guardrails,
    )


def _target(where: str, entry: dict[str, Any], catalogue: Catalogue) -> tuple[str, Metric]:
    """The KPI and the metric the intervention moves (which must feed that KPI)."""
    kpi = _text(f"{where}.kpi", entry["kpi"])
    if kpi not in KPI_IDS:
        raise _fail(f"{where}.kpi", "must be a KPI id", kpi)
    metric_name = _metric(f"{where}.metric", _text(f"{where}.metric", entry["metric"]), catalogue)
    metric = catalogue.metrics[metric_name]
    if metric.kpi != kpi:
        raise _fail(f"{where}.metric", f"must feed the KPI {kpi}", metric_name)
    return kpi, metric


def _cost(
    where: str, entry: dict[str, Any], effort_cost: Mapping[str, float]
) -> tuple[Effort, float, int]:
    """Effort, feasibility and the days until the effect shows."""
    effort = _text(f"{where}.effort", entry["effort"])
    if effort not in effort_cost:
        raise _fail(f"{where}.effort", f"must be one of {', '.join(EFFORTS)}", effort)
    feasibility = _number(f"{where}.feasibility", entry["feasibility"])
    if not 0.0 < feasibility <= 1.0:
        raise _fail(f"{where}.feasibility", "must be in (0, 1]", feasibility)
    days = entry["time_to_effect_days"]
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise _fail(f"{where}.time_to_effect_days", "must be a whole number of days >= 1", days)
    return cast("Effort", effort), feasibility, days


def _lift_section(
    where: str, entry: dict[str, Any], metric: Metric, sources: Mapping[str, str]
) -> tuple[LiftRange, LiftType, str]:
    """The lift range, its type (absolute for a growth rate, else relative) and its source."""
    lift = _lift(f"{where}.lift", entry["lift"])
    lift_type = _text(f"{where}.lift_type", entry["lift_type"])
    expected_type = "absolute" if metric.kind == "growth" else "relative"
    if lift_type != expected_type:
        raise _fail(
            f"{where}.lift_type",
            f"must be '{expected_type}' for a {metric.kind} metric",
            lift_type,
        )
    if lift_type == "relative" and metric.direction == "lower" and lift.high >= 1.0:
        raise _fail(f"{where}.lift.high", "a decrease must stay below 100%", lift.high)
    source = _text(f"{where}.source", entry["source"])
    if source != "assumption" and source not in sources:
        raise _fail(f"{where}.source", "must be 'assumption' or a key of [sources]", source)
    return lift, cast("LiftType", lift_type), source


def _test_plan(
    where: str, entry: dict[str, Any], metric_name: str, catalogue: Catalogue
) -> tuple[tuple[ExperimentUnit, ...], str, tuple[str, ...]]:
    """The experiment units allowed, the primary metric (the target, or a rate the funnel rule
    moves with it) and the guardrails."""
    units = _strings(f"{where}.units", entry["units"])
    if not units or len(set(units)) != len(units) or any(unit not in UNITS for unit in units):
        raise _fail(f"{where}.units", f"must list distinct units among {', '.join(UNITS)}", units)
    primary_name = _text(f"{where}.primary_metric", entry["primary_metric"])
    primary = _metric(f"{where}.primary_metric", primary_name, catalogue)
    responds = primary in DOWNSTREAM.get(metric_name, frozenset()) and catalogue.metrics[
        primary
    ].kind not in ("count", "growth")
    if primary != metric_name and not responds:
        raise _fail(
            f"{where}.primary_metric",
            f"must be {metric_name} or a rate that the funnel rule moves with it",
            primary,
        )
    guardrails = _strings(f"{where}.guardrails", entry["guardrails"])
    for i, name in enumerate(guardrails):
        _metric(f"{where}.guardrails[{i}]", name, catalogue, scored=False)
    if len(set(guardrails)) != len(guardrails) or primary in guardrails:
        raise _fail(
            f"{where}.guardrails", "must be distinct and differ from the primary", guardrails
        )
    if len(guardrails) > MAX_GUARDRAILS:
        raise _fail(f"{where}.guardrails", f"must list at most {MAX_GUARDRAILS}", guardrails)
    return cast("tuple[ExperimentUnit, ...]", units), primary, guardrails


def _table(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise _fail(key, "must be a table", value)
    return cast("dict[str, Any]", value)


def _objectives(objective_table: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each objective's KPI multipliers, all 13 KPIs in their fixed order, >= 0, not all 0."""
    if tuple(objective_table) != OBJECTIVES:
        raise _fail(
            "objectives", f"must give {', '.join(OBJECTIVES)} in that order", list(objective_table)
        )
    objectives: dict[str, dict[str, float]] = {}
    for name in OBJECTIVES:
        weights = _table(objective_table, name)
        if tuple(weights) != KPI_IDS:
            raise _fail(
                f"objectives.{name}", "must give the 13 KPI ids in their fixed order", list(weights)
            )
        multipliers = {
            kpi: _number(f"objectives.{name}.{kpi}", value) for kpi, value in weights.items()
        }
        if any(value < 0 for value in multipliers.values()) or not any(multipliers.values()):
            raise _fail(f"objectives.{name}", "multipliers must be >= 0 and not all 0", multipliers)
        objectives[name] = multipliers

    return objectives


def parse_interventions(text: str) -> InterventionCatalogue:
    """Parse and check the text of an intervention catalogue (``load_interventions`` reads ours)."""
    catalogue = load_catalogue()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _fail("", "must be valid TOML", str(error)) from None

    sources = {
        str(key): _text(f"sources.{key}", value) for key, value in _table(raw, "sources").items()
    }
    effort_table = _table(raw, "effort_cost")
    if tuple(effort_table) != EFFORTS:
        raise _fail(
            "effort_cost", f"must give {', '.join(EFFORTS)} in that order", list(effort_table)
        )
    effort_cost = {key: _number(f"effort_cost.{key}", value) for key, value in effort_table.items()}
    costs = list(effort_cost.values())
    if costs[0] <= 0 or costs != sorted(costs):
        raise _fail("effort_cost", "must be positive and rise with effort", costs)

    objectives = _objectives(_table(raw, "objectives"))

    entries = raw.get("interventions")
    if not isinstance(entries, list):
        raise _fail("interventions", "must be an array of tables", type(entries).__name__)
    interventions: list[Intervention] = []
    for index, entry in enumerate(cast("list[object]", entries)):
        if not isinstance(entry, dict):
            raise _fail(f"interventions[{index}]", "must be a table", entry)
        interventions.append(
            _intervention(index, cast("dict[str, Any]", entry), catalogue, effort_cost, sources)
        )
    ids = [item.id for item in interventions]
    duplicates = sorted({ident for ident in ids if ids.count(ident) > 1})
    if duplicates:
        raise _fail("interventions", "ids must be unique", duplicates)
    if len(interventions) < MIN_INTERVENTIONS:
        raise _fail("interventions", f"must hold at least {MIN_INTERVENTIONS}", len(interventions))
    uncovered = [kpi for kpi in KPI_IDS if not any(item.kpi == kpi for item in interventions)]
    if uncovered:
        raise _fail("interventions", "must cover all 13 KPIs", uncovered)
    return InterventionCatalogue(
        interventions=tuple(sorted(interventions, key=lambda item: item.id)),
        effort_cost=effort_cost,
        objectives=objectives,
        sources=sources,
    )


@cache
def load_interventions() -> InterventionCatalogue:
    """Read and check ``data/interventions.toml`` (once per process)."""
    text = resources.files("kpi_core").joinpath("data/interventions.toml").read_text("utf-8")
    return parse_interventions(text)
