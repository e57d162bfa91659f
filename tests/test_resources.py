"""Resources through the real MCP client: weights, the metric catalogue, the demo creators."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client, MCPError

from kpi_core import KPI_IDS, load_catalogue
from kpi_core.demo import demo_creator_ids, demo_metrics
from server import build_server

pytestmark = pytest.mark.anyio


async def read_json(uri: str) -> Any:
    async with Client(build_server()) as client:
        result = await client.read_resource(uri)
    content = result.contents[0]
    assert content.mime_type == "application/json"
    return json.loads(content.text)  # type: ignore[union-attr]


async def test_the_server_lists_its_resources_and_the_weights_template() -> None:
    async with Client(build_server()) as client:
        resources = {str(item.uri) for item in (await client.list_resources()).resources}
        templates = [
            item.uri_template
            for item in (await client.list_resource_templates()).resource_templates
        ]
    assert resources == {
        "kpi://metrics",
        "kpi://interventions",
        "kpi://demo/creators",
        "ui://creator-kpi/scorecard.html",
    }
    assert templates == ["kpi://weights/{scheme}"]


@pytest.mark.parametrize("scheme", ["tiered", "equal"])
async def test_weights_resource_gives_the_schemes_13_weights_and_tier_totals(scheme: str) -> None:
    document = await read_json(f"kpi://weights/{scheme}")
    assert list(document["weights"]) == list(KPI_IDS)
    assert sum(document["weights"].values()) == pytest.approx(1.0)
    if scheme == "tiered":
        assert document["weights"]["sales_performance"] == 0.30
        totals = {tier: round(item["weight"], 12) for tier, item in document["tiers"].items()}
        assert totals == {"1": 0.55, "2": 0.32, "3": 0.13}
    else:
        assert set(document["weights"].values()) == {1 / 13}


async def test_an_unknown_scheme_is_a_resource_not_found_error_naming_the_schemes() -> None:
    async with Client(build_server()) as client:
        with pytest.raises(MCPError, match="the schemes are tiered, equal") as caught:
            await client.read_resource("kpi://weights/fancy")
        assert (await client.list_resources()).resources  # the session carries on
    assert caught.value.error.code == -32602


async def test_metrics_resource_lists_every_metric_with_its_sources() -> None:
    document = await read_json("kpi://metrics")
    catalogue = load_catalogue()
    assert [entry["metric"] for entry in document["metrics"]] == list(catalogue.metrics)
    assert document["figure_counts"] == catalogue.figure_counts()
    engagement = next(e for e in document["metrics"] if e["metric"] == "engagement_rate")
    assert engagement["sources"]["target"].startswith("[scrape650]")
    assert engagement["derived_when_missing"]["formula"].startswith("(likes")


async def test_metrics_resource_documents_the_model_and_each_metrics_direction() -> None:
    """The model section quotes the live settings and priors (read here from the catalogue
    and priors.json, not from the resource's own code), and each scored metric declares how
    it moves the score, with the reason where it is mixed."""
    from kpi_core.priors import load_priors

    document = await read_json("kpi://metrics")
    catalogue = load_catalogue()
    priors = load_priors()
    model = document["model"]
    assert model["interval_level"] == catalogue.model.interval_level == 0.8
    assert model["missing_default"] == "benchmark"
    assert model["settings"]["saturation_knee"] == catalogue.model.saturation_knee
    assert model["priors"]["source"] == priors.source
    assert model["priors"]["seed"] == priors.seed
    assert set(model["formulas"]) >= {"position", "saturation", "overall score", "interval"}
    assert model["shrinkage"]["conversion_rate"] == {
        "trials": ["product_clicks"],
        "prior_strength": priors.strength["conversion_rate"],
    }
    views = next(e for e in document["metrics"] if e["metric"] == "views")
    assert views["moves"] == "mixed"
    assert views["moves_reason"].startswith("more reach, but the denominator of engagement_rate")
    for entry in document["metrics"]:
        if "kpi" in entry:
            assert entry["moves"] in {"higher", "lower", "mixed"}, entry["metric"]


async def test_demo_resource_gives_the_synthetic_creators_and_their_metrics() -> None:
    document = await read_json("kpi://demo/creators")
    assert document["synthetic"] is True
    assert [c["creator_id"] for c in document["creators"]] == demo_creator_ids()
    first = document["creators"][0]
    assert first["metrics"] == demo_metrics(first["creator_id"])
