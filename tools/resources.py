"""MCP resources: the weights, the metric catalogue and the demo creators, as read-only JSON.

Each is data the core already holds; these functions only shape it for a client to read.
"""

from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from kpi_core.catalogue import KPI_IDS, load_catalogue
from kpi_core.errors import truncate
from kpi_core.weights import NAMED_SCHEMES, resolve_weighting

__all__ = [
    "catalogue_document",
    "demo_document",
    "interventions_document",
    "register_resources",
    "weights_document",
]

JSON = "application/json"


def weights_document(scheme: str) -> dict[str, Any]:
    if scheme not in NAMED_SCHEMES:
        raise ResourceNotFoundError(
            f"no weighting scheme {truncate(scheme)}; the schemes are {', '.join(NAMED_SCHEMES)}"
        )
    catalogue = load_catalogue()
    weights = resolve_weighting(scheme).as_dict()
    return {
        "scheme": scheme,
        "model_version": catalogue.model_version,
        "weights": weights,
        "kpis": [
            {
                "kpi": kpi,
                "label": catalogue.kpis[kpi].label,
                "tier": catalogue.kpis[kpi].tier,
                "weight": weights[kpi],
                "metrics": list(catalogue.kpis[kpi].metrics),
            }
            for kpi in KPI_IDS
        ],
        "tiers": {
            str(tier): {
                "label": label,
                "weight": sum(w for k, w in weights.items() if catalogue.kpis[k].tier == tier),
            }
            for tier, label in sorted(catalogue.tiers.items())
        },
    }


def catalogue_document() -> dict[str, Any]:
    """kpi://metrics: every metric with its figures, sources and declared direction (``moves``:
    how a higher value moves the overall score with the other inputs fixed), and the ``model``
    (formulas, interval level, settings, the priors' source; docs/methodology.md in full)."""
    from kpi_core.methodology import model_section

    catalogue = load_catalogue()
    metrics: list[dict[str, Any]] = []
    for metric in catalogue.metrics.values():
        entry: dict[str, Any] = {
            "metric": metric.name,
            "kind": metric.kind,
            "description": metric.description,
        }
        if metric.is_numeric:
            entry["range"] = [metric.low, metric.high]
        if metric.moves is not None:
            entry["moves"] = metric.moves
            if metric.moves_reason:
                entry["moves_reason"] = metric.moves_reason
        if metric.scored:
            floor_source, target_source, benchmark_source = metric.figure_sources
            entry.update(
                kpi=metric.kpi,
                weight_in_kpi=metric.weight,
                direction=metric.direction,
                scale=metric.scale,
                floor=metric.floor,
                target=metric.target,
                benchmark=[{"log10_followers": x, "value": y} for x, y in metric.benchmark],
                sources={
                    "floor": floor_source,
                    "target": target_source,
                    "benchmark": benchmark_source,
                },
            )
        if metric.name in catalogue.derivations:
            derivation = catalogue.derivations[metric.name]
            entry["derived_when_missing"] = {
                "formula": derivation.formula,
                "tolerance": derivation.tolerance,
            }
        metrics.append(entry)
    return {
        "model_version": catalogue.model_version,
        "currency": catalogue.default_currency,
        "aliases": dict(catalogue.aliases),
        "bands": dict(catalogue.bands),
        "figure_counts": catalogue.figure_counts(),
        "citations": dict(catalogue.citations),
        "model": model_section(),
        "metrics": metrics,
    }


def interventions_document() -> dict[str, Any]:
    from kpi_core.interventions import load_interventions

    catalogue = load_interventions()
    return {
        "effort_cost": dict(catalogue.effort_cost),
        "objectives": {name: dict(weights) for name, weights in catalogue.objectives.items()},
        "sources": dict(catalogue.sources),
        "count": len(catalogue.interventions),
        "interventions": [
            {
                "id": item.id,
                "title": item.title,
                "kpi": item.kpi,
                "metric": item.metric,
                "steps": list(item.steps),
                "effort": item.effort,
                "feasibility": item.feasibility,
                "time_to_effect_days": item.time_to_effect_days,
                "lift": {"low": item.lift.low, "mid": item.lift.mid, "high": item.lift.high},
                "lift_type": item.lift_type,
                "source": item.source,
                "preconditions": [condition.text for condition in item.preconditions],
                "units": list(item.units),
                "primary_metric": item.primary_metric,
                "guardrails": list(item.guardrails),
            }
            for item in catalogue.interventions
        ],
    }


def demo_document() -> dict[str, Any]:
    """The demo creators: period-1 metrics, and beside them the next period's outcomes, so that
    compare_weighting can be asked what the README measures (each creator's metrics plus its
    ``next_gmv``, with ``outcome`` ``next_gmv``)."""
    from kpi_core.demo import demo_cohort_rows, load_demo_cohort

    creators = load_demo_cohort()
    rows = demo_cohort_rows()  # period 1's metrics plus the next period's outcomes
    return {
        "synthetic": True,
        "note": "Invented creators for trying the tools; not real people or real data.",
        "count": len(creators),
        "creators": [
            {
                "creator_id": creator["creator_id"],
                "category": creator["category"],
                "follower_count": creator["follower_count"],
                "metrics": creator["period_1"],
                **{name: value for name, value in row.items() if name not in creator["period_1"]},
            }
            for creator, row in zip(creators, rows, strict=True)
        ],
    }


def register_resources(server: MCPServer) -> None:
    @server.resource(
        "kpi://weights/{scheme}",
        name="weights",
        title="KPI weights of a scheme",
        description="The 13 KPI weights of a scheme (tiered or equal), with tiers and metrics.",
        mime_type=JSON,
    )
    def weights(scheme: str) -> dict[str, Any]:
        return weights_document(scheme)

    @server.resource(
        "kpi://metrics",
        name="metrics",
        title="Metric catalogue",
        description=(
            "Every metric: kind, valid range, direction, normalisation (floor, target, scale), "
            "the KPI it feeds, size-interpolated benchmarks, derivations and each figure's source."
        ),
        mime_type=JSON,
    )
    def metrics() -> dict[str, Any]:
        return catalogue_document()

    @server.resource(
        "kpi://interventions",
        name="interventions",
        title="Intervention catalogue",
        description=(
            "Every intervention recommend can propose: target KPI and metric, steps, effort, "
            "feasibility, expected lift range with its source, preconditions, experiment unit."
        ),
        mime_type=JSON,
    )
    def interventions() -> dict[str, Any]:
        return interventions_document()

    @server.resource(
        "kpi://demo/creators",
        name="demo_creators",
        title="Demo creators (synthetic)",
        description=(
            "The built-in synthetic demo creators: period-1 metrics, and the next period's "
            "outcomes (next_gmv, next_orders). To compare weightings as the README does, call "
            "compare_weighting with creators = each creator's metrics plus its next_gmv and "
            "outcome next_gmv."
        ),
        mime_type=JSON,
    )
    def demo_creators() -> dict[str, Any]:
        return demo_document()
