"""What the assistant sees (issue 18): the README's workflow as one scripted conversation.

The server runs as a client starts it (`python server.py` over stdio, the official SDK client,
the server's stderr in a file). From the README's headline payload the conversation goes
score_creator -> diagnose -> recommend -> design_ab_test -> register_experiment, passing
`creator_ref` instead of the metrics, and at every step checks what a model reads:

* the structured content leads with `summary`, equal to the text content (clients such as
  Claude Code give the model only the structured content);
* the default answer is small: score_creator at most 3 KB, every other step at most 4 KB (bytes
  of compact JSON);
* the prose names KPIs by label, never by id;
* score_creator and diagnose agree on the strengths and weaknesses (kpi_core.standing: measured
  KPIs above / below their benchmark score for this size);
* the recommendation's primary metric and guardrails survive into the design and the plan.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from kpi_core.catalogue import KPI_IDS, load_catalogue
from server import build_server
from tests.cases import SOURCE_PAYLOAD
from tests.conftest import StdioFactory

pytestmark = pytest.mark.anyio

#: The README's headline payload (the product's source document).
HEADLINE = SOURCE_PAYLOAD
#: Bytes of structured content a default answer may take (issue 18).
BUDGET = {"score_creator": 3 * 1024}
DEFAULT_BUDGET = 4 * 1024
#: What the conversation supplies for a design's missing arguments (a switchback of 1-day blocks
#: whose daily conversion rate varies with an sd of 0.01 between blocks).
FILL = {"baseline_sd": 0.01, "block_days": 1, "daily_units": 5000, "available_units": 400}

#: A KPI id as a whole token (ids that are plain words, such as engagement, are also labels).
KPI_ID_TOKENS = [
    re.compile(rf"(?<![\w.]){re.escape(kpi)}(?![\w])") for kpi in KPI_IDS if "_" in kpi
]


def size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def read(result: CallToolResult, tool: str) -> dict[str, Any]:
    """The structured content, after the checks every step shares."""
    assert not result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, TextContent)
    structured = result.structured_content
    assert structured is not None
    assert next(iter(structured)) == "summary"
    assert structured["summary"] == block.text
    assert size(structured) <= BUDGET.get(tool, DEFAULT_BUDGET), (tool, size(structured))
    for pattern in KPI_ID_TOKENS:
        assert not pattern.search(block.text), (tool, pattern.pattern, block.text)
    return structured


def labelled(kpis: list[str]) -> set[str]:
    labels = {kpi: item.label for kpi, item in load_catalogue().kpis.items()}
    return {labels[kpi] for kpi in kpis}


def named_after(text: str, lead: str) -> set[str]:
    """The labels a sentence starting with `lead` lists (up to its full stop)."""
    found = re.search(re.escape(lead) + r"(.*?)\.(?:\s|$)", text)
    if found is None:
        return set()
    return {re.sub(r"\s[\d.]+ vs [\d.]+$", "", part.strip()) for part in found[1].split(",")}


async def test_the_readme_workflow_from_the_headline_payload_to_a_registered_plan(
    stdio_server: StdioFactory,
) -> None:
    async with stdio_server(log_name="conversation.log") as client:
        await converse(client)


async def converse(client: Client) -> None:
    scored = read(await client.call_tool("score_creator", {"metrics": HEADLINE}), "score_creator")
    ref = scored["creator_ref"]
    assert re.fullmatch(r"cr-[0-9a-f]{16}", ref)

    diagnosis = read(await client.call_tool("diagnose", {"creator_ref": ref}), "diagnose")
    strengths = [item["kpi"] for item in diagnosis["strengths"]]
    weaknesses = [item["kpi"] for item in diagnosis["bottlenecks"]]
    # Both tools define them the same way: measured KPIs against their benchmark for this size.
    assert diagnosis["strengths_total"] == len(strengths)  # few enough to be listed in full
    for item in scored["kpis"]:
        if item["imputed"]:
            assert item["kpi"] not in strengths + weaknesses
        elif item["score"] > item["benchmark_score"]:
            assert item["kpi"] in strengths
        elif item["score"] < item["benchmark_score"]:
            assert item["kpi"] in weaknesses or diagnosis["bottlenecks_total"] > len(weaknesses)
    said_above = named_after(scored["summary"], "Above the benchmark for this size: ")
    assert said_above == labelled(strengths[: len(said_above)])
    assert said_above <= named_after(diagnosis["summary"], "Above the benchmark for this size: ")
    assert not named_after(scored["summary"], "Below it: ") & labelled(strengths)

    advice = read(await client.call_tool("recommend", {"creator_ref": ref}), "recommend")
    assert advice["recommendations"], advice["summary"]
    first = advice["recommendations"][0]
    arguments = {key: value for key, value in first["ab_test"].items() if key != "missing"}
    arguments.update({name: FILL[name] for name in first["ab_test"]["missing"]})

    design = read(await client.call_tool("design_ab_test", arguments), "design_ab_test")
    assert design["primary_metric"] == first["ab_test"]["primary_metric"]
    assert design["guardrails"] == first["ab_test"]["guardrails"]

    registration = read(
        await client.call_tool(
            "register_experiment",
            {"plan": design, "intervention_id": first["id"], "category": "beauty"},
        ),
        "register_experiment",
    )
    plan = registration["experiment"]["plan"]
    assert registration["plan_id"].startswith("exp-")
    assert plan["primary_metric"] == first["ab_test"]["primary_metric"]
    assert plan["guardrails"] == first["ab_test"]["guardrails"]
    assert plan["intervention_id"] == first["id"]


#: The budget of every tool's input schema plus description in tools/list (issue 18: 28 KB).
DEFINITIONS_BUDGET = 28 * 1024


async def test_the_tool_definitions_are_small_with_no_titles_and_no_null_unions() -> None:
    """What every conversation pays before its first call: input schemas plus descriptions within
    28 KB; the full metrics schema once (score_creator), the other tools' `metrics` a plain
    object; no schema repeats a property's name as its title or spells an optional value as a
    union with null."""
    async with Client(build_server()) as client:
        tools = (await client.list_tools()).tools
    spent = sum(size(tool.input_schema) + size(tool.description or "") for tool in tools)
    assert spent <= DEFINITIONS_BUDGET, spent
    for tool in tools:
        for schema in (tool.input_schema, tool.output_schema or {}):
            text = json.dumps(schema)
            assert '"title":' not in text.replace('"title": {', ""), tool.name
            assert '{"type": "null"}' not in text, tool.name
        metrics = tool.input_schema.get("properties", {}).get("metrics")
        if metrics is not None and tool.name != "score_creator":
            assert "properties" not in metrics, tool.name
            assert "score_creator.metrics" in metrics["description"], tool.name
    assert "conversion_rate" in json.dumps(tools[0].input_schema)
