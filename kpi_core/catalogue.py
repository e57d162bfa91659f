"""The metric catalogue: how each raw metric is validated, normalised, weighted and benchmarked.

All numbers live in ``data/catalogue.toml`` (with their sources); this module only reads them once,
checks that they are consistent, and exposes them as frozen, typed objects. Nothing is read at
import time: :func:`load_catalogue` reads the file on first use and caches the result.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, cast, get_args

from kpi_core.errors import ConfigurationError

__all__ = [
    "KPI_IDS",
    "Catalogue",
    "Derivation",
    "Direction",
    "Kpi",
    "KpiId",
    "Metric",
    "MetricKind",
    "ModelSettings",
    "Moves",
    "Scale",
    "load_catalogue",
]

MetricKind = Literal["fraction", "count", "money", "growth", "ratio", "seconds", "per_week", "text"]
#: Which way a scored metric is better.
Direction = Literal["higher", "lower"]
#: How a scored metric is normalised: on its value, or on log1p of it.
Scale = Literal["linear", "log"]
#: How a higher raw value moves the overall score, every other raw input fixed.
Moves = Literal["higher", "lower", "mixed"]

#: The 13 KPI ids in the fixed order used by every array and table in the product (the one list:
#: ``KPI_IDS`` and every argument type that accepts a KPI id derive from it).
KpiId = Literal[
    "sales_performance",
    "shop_conversion",
    "tiktok_shop",
    "engagement",
    "content_strategy",
    "engagement_growth",
    "discovery",
    "audience_fit",
    "brand_fit",
    "trend_fit",
    "image_quality",
    "reach_visibility",
    "cost_efficiency",
]
KPI_IDS: tuple[str, ...] = get_args(KpiId)

_NUMERIC_DEFAULT_RANGE: dict[str, tuple[float, float]] = {"fraction": (0.0, 1.0)}


@dataclass(frozen=True, slots=True)
class Metric:
    """One canonical raw metric and how it is judged."""

    name: str
    kind: MetricKind
    description: str
    #: For unscored metrics: why the metric exists ("definition").
    source: str
    low: float = 0.0
    high: float = 0.0
    max_length: int = 0
    direction: Direction | None = None
    scale: Scale | None = None
    floor: float = 0.0
    target: float = 0.0
    kpi: str | None = None
    weight: float = 0.0
    #: ((log10 followers, value), ...); a single anchor means a constant benchmark.
    benchmark: tuple[tuple[float, float], ...] = ()
    #: Where (floor, target, benchmark) come from: "[key] ...", "definition: ..." or "assumption".
    figure_sources: tuple[str, str, str] = ("", "", "")
    #: How a higher raw value moves the overall score (None for text fields), and why.
    moves: Moves | None = None
    moves_reason: str = ""

    @property
    def scored(self) -> bool:
        """True when the metric feeds a KPI (else it is an input or an identity field)."""
        return self.kpi is not None

    @property
    def is_numeric(self) -> bool:
        return self.kind != "text"

    @property
    def size_dependent(self) -> bool:
        return len(self.benchmark) > 1

    def transform(self, value: float) -> float:
        """The value on the normalisation scale (log1p for log-scaled metrics)."""
        return math.log1p(value) if self.scale == "log" else value

    @property
    def norm_offset_span(self) -> tuple[float, float]:
        """(transformed floor, transformed target - transformed floor)."""
        low = self.transform(self.floor)
        return low, self.transform(self.target) - low


@dataclass(frozen=True, slots=True)
class Kpi:
    """One of the 13 KPIs: its tier, its tiered weight and the metrics that feed it."""

    id: str
    label: str
    tier: int
    tiered_weight: float
    metrics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Derivation:
    """A metric computed from others when missing (the formula is documentation)."""

    metric: str
    formula: str
    inputs: tuple[str, ...]
    tolerance: float


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """The ``[model]`` table: soft saturation, the interval level and the size prior."""

    saturation_knee: float
    interval_level: float
    #: (low, high) log10(follower_count) of the reference population (log-uniform).
    size_prior: tuple[float, float]
    #: Noise variance of an observed position in the regressions, as a share of its prior's.
    observation_noise: float
    #: Reporting spread added to each prior: log units (log-scaled), share of the benchmark (else).
    reporting_spread_log: float
    reporting_spread_linear: float
    #: Degrees of freedom of the multivariate-t prior.
    prior_degrees_of_freedom: float
    #: Share of an upward shift (from the observed metrics) a missing metric's estimate keeps.
    upward_evidence: float


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Everything the scoring model knows, read from ``data/catalogue.toml``."""

    model_version: str
    default_currency: str
    metrics: Mapping[str, Metric]
    kpis: Mapping[str, Kpi]
    derivations: Mapping[str, Derivation]
    aliases: Mapping[str, str]
    citations: Mapping[str, str]
    tiers: Mapping[int, str]
    #: (band name, lower bound on the 0-100 score), highest first.
    bands: tuple[tuple[str, float], ...]
    model: ModelSettings
    #: Rates shrunk when their trials are known: rate -> the counts whose sum is the trials.
    shrinkage: Mapping[str, tuple[str, ...]]

    @property
    def scored_metrics(self) -> tuple[Metric, ...]:
        return tuple(metric for metric in self.metrics.values() if metric.scored)

    def figure_counts(self) -> dict[str, int]:
        """How many floors, targets and benchmarks are cited, definitional or assumed."""
        counts = {"cited": 0, "definition": 0, "assumption": 0}
        for metric in self.scored_metrics:
            for source in metric.figure_sources:
                counts[source_kind(source)] += 1
        return counts

    def band(self, score: float) -> str:
        for name, lower in self.bands:
            if score >= lower:
                return name
        return self.bands[-1][0]


def _table(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise ConfigurationError(key, "must be a table in catalogue.toml", value)
    return cast("dict[str, Any]", value)


def _parse_metric(name: str, entry: dict[str, Any]) -> Metric:
    kind = cast("MetricKind", entry["kind"])
    if kind == "text":
        return Metric(
            name=name,
            kind=kind,
            description=str(entry["description"]),
            source="definition",
            max_length=int(entry["max_length"]),
        )
    low, high = entry.get("range", _NUMERIC_DEFAULT_RANGE.get(kind, (None, None)))
    if low is None or high is None:
        raise ConfigurationError(f"metrics.{name}.range", "is required for this kind", kind)
    anchors: tuple[tuple[float, float], ...] = ()
    raw_benchmark = entry.get("benchmark")
    if isinstance(raw_benchmark, list):
        pairs = cast("list[list[float]]", raw_benchmark)
        anchors = tuple((float(x), float(y)) for x, y in pairs)
    elif raw_benchmark is not None:
        anchors = ((0.0, float(raw_benchmark)),)
    figure_sources = (
        str(entry.get("floor_source", "")),
        str(entry.get("target_source", "")),
        str(entry.get("benchmark_source", "")),
    )
    metric = Metric(
        name=name,
        kind=kind,
        description=str(entry["description"]),
        source=str(entry.get("source", "scored" if entry.get("kpi") else "")),
        figure_sources=figure_sources,
        low=float(low),
        high=float(high),
        direction=entry.get("direction"),
        scale=entry.get("scale"),
        floor=float(entry.get("floor", 0.0)),
        target=float(entry.get("target", 0.0)),
        kpi=entry.get("kpi"),
        weight=float(entry.get("weight", 0.0)),
        benchmark=anchors,
        moves=entry.get("moves"),
        moves_reason=str(entry.get("moves_reason", "")),
    )
    _check_metric(metric)
    return metric


def _check_metric(metric: Metric) -> None:
    where = f"metrics.{metric.name}"
    if not metric.source:
        raise ConfigurationError(f"{where}.source", "every numeric metric says its source", "")
    if not metric.low <= metric.high:
        raise ConfigurationError(f"{where}.range", "low must not exceed high", metric.low)
    if metric.moves not in get_args(Moves):
        raise ConfigurationError(f"{where}.moves", "must be higher, lower or mixed", metric.moves)
    if metric.moves == "mixed" and not metric.moves_reason:
        raise ConfigurationError(f"{where}.moves_reason", "a mixed metric says why", "")
    if not metric.scored:
        return
    if metric.direction not in get_args(Direction) or metric.scale not in get_args(Scale):
        raise ConfigurationError(where, "a scored metric needs direction and scale", metric.name)
    if not metric.benchmark:
        raise ConfigurationError(f"{where}.benchmark", "a scored metric needs a benchmark", None)
    rising = metric.target > metric.floor
    if rising != (metric.direction == "higher"):
        raise ConfigurationError(
            f"{where}.target", "must be above floor iff higher is better", metric.target
        )
    for value in (metric.floor, metric.target, *(y for _, y in metric.benchmark)):
        if not metric.low <= value <= metric.high:
            raise ConfigurationError(where, "floor, target and benchmark lie in range", value)
    xs = [x for x, _ in metric.benchmark]
    if xs != sorted(xs) or len(set(xs)) != len(xs):
        raise ConfigurationError(f"{where}.benchmark", "anchors rise strictly", xs)


def source_kind(source: str) -> Literal["cited", "definition", "assumption"]:
    """Classify one figure's source text."""
    if source.startswith("["):
        return "cited"
    if source.startswith("definition"):
        return "definition"
    return "assumption"


def _check_sources(metrics: Mapping[str, Metric], citations: Mapping[str, str]) -> None:
    for metric in metrics.values():
        if not metric.scored:
            continue
        for label, source in zip(
            ("floor", "target", "benchmark"), metric.figure_sources, strict=True
        ):
            where = f"metrics.{metric.name}.{label}_source"
            if not source.startswith(("[", "definition", "assumption")):
                raise ConfigurationError(
                    where, "must cite [key], say definition or assumption", source
                )
            if source.startswith("["):
                key = source[1 : source.find("]")]
                if key not in citations:
                    raise ConfigurationError(where, "cites a key missing from [citations]", key)


@cache
def load_catalogue() -> Catalogue:
    """Read and check ``data/catalogue.toml`` (once per process)."""
    text = resources.files("kpi_core").joinpath("data/catalogue.toml").read_text("utf-8")
    raw = tomllib.loads(text)

    metrics = {name: _parse_metric(name, entry) for name, entry in _table(raw, "metrics").items()}

    kpi_table = _table(raw, "kpis")
    if tuple(kpi_table) != KPI_IDS:
        raise ConfigurationError("kpis", "must list the 13 KPI ids in their fixed order", "")
    kpis: dict[str, Kpi] = {}
    for kpi_id, entry in kpi_table.items():
        feeding = tuple(m.name for m in metrics.values() if m.kpi == kpi_id)
        total = math.fsum(metrics[name].weight for name in feeding)
        if not feeding or abs(total - 1.0) > 1e-9:
            raise ConfigurationError(f"kpis.{kpi_id}", "metric weights must sum to 1", total)
        kpis[kpi_id] = Kpi(
            id=kpi_id,
            label=str(entry["label"]),
            tier=int(entry["tier"]),
            tiered_weight=float(entry["tiered_weight"]),
            metrics=feeding,
        )
    unknown_kpi = {m.kpi for m in metrics.values() if m.kpi is not None} - set(kpis)
    if unknown_kpi:
        raise ConfigurationError("metrics.kpi", "names a KPI that does not exist", unknown_kpi)
    tiered_total = math.fsum(kpi.tiered_weight for kpi in kpis.values())
    if abs(tiered_total - 1.0) > 1e-9:
        raise ConfigurationError("kpis.tiered_weight", "must sum to 1", tiered_total)

    derivations: dict[str, Derivation] = {}
    for name, entry in _table(raw, "derivations").items():
        inputs = tuple(str(item) for item in entry["inputs"])
        missing = [item for item in (name, *inputs) if item not in metrics]
        if missing:
            raise ConfigurationError(f"derivations.{name}", "uses unknown metrics", missing)
        derivations[name] = Derivation(
            metric=name,
            formula=str(entry["formula"]),
            inputs=inputs,
            tolerance=float(entry["tolerance"]),
        )

    aliases = {str(alias): str(target) for alias, target in _table(raw, "aliases").items()}
    citations = {str(key): str(text) for key, text in _table(raw, "citations").items()}
    _check_sources(metrics, citations)
    bands = sorted(
        ((str(name), float(lower)) for name, lower in _table(raw, "bands").items()),
        key=lambda item: -item[1],
    )
    shrinkage = _shrinkage(_table(raw, "shrinkage"), metrics)
    return Catalogue(
        model_version=str(raw["model_version"]),
        default_currency=str(raw["default_currency"]),
        metrics=metrics,
        kpis=kpis,
        derivations=derivations,
        aliases=aliases,
        citations=citations,
        tiers={int(key): str(value) for key, value in _table(raw, "tiers").items()},
        bands=tuple(bands),
        model=_model_settings(_table(raw, "model")),
        shrinkage=shrinkage,
    )


def _model_settings(entry: Mapping[str, Any]) -> ModelSettings:
    knee = float(entry["saturation_knee"])
    level = float(entry["interval_level"])
    low, high = (float(value) for value in entry["size_prior"])
    if not 0.0 < knee < 0.5:
        raise ConfigurationError("model.saturation_knee", "must lie in (0, 0.5)", knee)
    if not 0.5 < level < 1.0:
        raise ConfigurationError("model.interval_level", "must lie in (0.5, 1)", level)
    if not low < high:
        raise ConfigurationError("model.size_prior", "must be [low, high] with low < high", low)
    spreads = {
        key: float(entry[key])
        for key in (
            "observation_noise",
            "reporting_spread_log",
            "reporting_spread_linear",
            "upward_evidence",
        )
    }
    for key, value in spreads.items():
        if not 0.0 <= value <= 1.0:
            raise ConfigurationError(f"model.{key}", "must lie in [0, 1]", value)
    freedom = float(entry["prior_degrees_of_freedom"])
    if not freedom > 0.0:
        raise ConfigurationError("model.prior_degrees_of_freedom", "must be > 0", freedom)
    return ModelSettings(
        saturation_knee=knee,
        interval_level=level,
        size_prior=(low, high),
        prior_degrees_of_freedom=freedom,
        **spreads,
    )


def _shrinkage(
    entries: Mapping[str, Any], metrics: Mapping[str, Metric]
) -> dict[str, tuple[str, ...]]:
    shrinkage: dict[str, tuple[str, ...]] = {}
    for name, trials in entries.items():
        metric = metrics.get(name)
        if metric is None or metric.kind != "fraction" or not metric.scored:
            raise ConfigurationError(f"shrinkage.{name}", "must name a scored fraction", name)
        counts = tuple(str(item) for item in cast("list[object]", trials))
        bad = [item for item in counts if item not in metrics or metrics[item].kind != "count"]
        if not counts or bad:
            raise ConfigurationError(f"shrinkage.{name}", "trials must be count metrics", bad)
        shrinkage[name] = counts
    return shrinkage
