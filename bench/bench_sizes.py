"""What a model reads: the size of the tool definitions and of each default answer (issue 18).

Prints, through the real MCP client against the server in memory:

* ``tools/list`` in bytes (compact JSON of every tool definition), and per tool its input schema
  plus description, against the budget for all of them together (28 KB = 28,672 bytes);
* the structured content of each tool's default answer (``detail="summary"``) for the README's
  examples, in bytes, against its budget (``score_creator`` 3 KB, ``show_scorecard`` 3 KB, every
  other tool 4 KB), and whether its ``summary`` equals the text content.

Sizes are bytes of compact JSON (``separators=(",", ":")``), UTF-8.

    python -m bench.bench_sizes
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import anyio
from mcp import Client

from kpi_core.demo import demo_cohort_rows, demo_metrics
from tests.cases import SOURCE_PAYLOAD

#: The budget of all input schemas plus descriptions (issue 18).
DEFINITIONS_BUDGET = 28 * 1024
#: The budget of a default answer's structured content, per tool (others: DEFAULT_BUDGET).
ANSWER_BUDGETS = {"score_creator": 3 * 1024, "show_scorecard": 3 * 1024}
DEFAULT_BUDGET = 4 * 1024

#: The README's headline payload (the product's source document).
HEADLINE = SOURCE_PAYLOAD
README_DESIGN = {"metric_kind": "proportion", "baseline": 0.02, "mde": 0.2, "daily_units": 5000}
README_ANALYSIS = {
    "metric_kind": "proportion",
    "arms": [
        {"name": "control", "conversions": 200, "units": 10000},
        {"name": "new hook", "conversions": 245, "units": 10000},
    ],
}
README_COHORT = {
    "creators": [
        {"creator_id": "a", "gmv": 9800, "orders": 260, "follower_count": 48000},
        {"creator_id": "b", "conversion_rate": 4.0},
    ],
    "top_n": 10,
}


def size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def definition_sizes(tools: list[Any]) -> tuple[int, int, list[tuple[str, int]]]:
    total = 0
    inputs = 0
    rows: list[tuple[str, int]] = []
    for tool in tools:
        dumped = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
        total += size(dumped)
        own = size(dumped.get("inputSchema")) + size(dumped.get("description") or "")
        inputs += own
        rows.append((tool.name, own))
    return total, inputs, rows


async def answers(client: Client) -> list[tuple[str, str, int, bool]]:
    """(tool, example, bytes of structured content, summary == text) per README example."""
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("score_creator", "headline", {"metrics": HEADLINE}),
        ("show_scorecard", "headline", {"metrics": HEADLINE}),
        ("diagnose", "headline", {"metrics": HEADLINE}),
        ("recommend", "headline", {"metrics": HEADLINE}),
        ("diagnose", "demo_beauty_01", {"metrics": demo_metrics("demo_beauty_01")}),
        ("recommend", "demo_beauty_01", {"metrics": demo_metrics("demo_beauty_01")}),
        ("compare_weighting", "one demo creator", {"metrics": demo_metrics("demo_food_01")}),
        (
            "compare_weighting",
            "demo cohort vs next_gmv",
            {"creators": demo_cohort_rows(), "schemes": ["equal", "tiered"], "outcome": "next_gmv"},
        ),
        ("score_cohort", "README list", README_COHORT),
        ("design_ab_test", "README plan", README_DESIGN),
        ("analyze_ab_test", "README arms", README_ANALYSIS),
    ]
    rows: list[tuple[str, str, int, bool]] = []
    for name, example, arguments in calls:
        rows.append(await _measured(client, name, example, arguments))
    design = await client.call_tool("design_ab_test", README_DESIGN)
    plan = design.structured_content or {}
    register = {"plan": plan, "intervention_id": "sc_pin_product_link", "creator_id": "a"}
    rows.append(await _measured(client, "register_experiment", "README plan", register))
    plan_id = (await client.call_tool("register_experiment", register)).structured_content or {}
    n = plan["n_per_arm"][0]
    outcome = {
        "plan_id": plan_id["plan_id"],
        "arms": [
            {"name": "control", "conversions": round(0.02 * n), "units": n},
            {"name": "pinned link", "conversions": round(0.024 * n), "units": n},
        ],
    }
    rows.append(await _measured(client, "record_outcome", "its outcome", outcome))
    rows.append(await _measured(client, "list_experiments", "after it", {}))
    return rows


async def _measured(
    client: Client, name: str, example: str, arguments: dict[str, Any]
) -> tuple[str, str, int, bool]:
    result = await client.call_tool(name, arguments)
    if result.is_error:
        raise SystemExit(f"{name} ({example}) failed: {result.content}")
    structured = result.structured_content or {}
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    return name, example, size(structured), structured.get("summary") == text


async def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["CREATOR_KPI_DB"] = os.path.join(scratch, "experiments.sqlite3")
        os.environ["CREATOR_KPI_CACHE_DIR"] = os.path.join(scratch, "cache")
        from server import build_server  # after the store is set

        async with Client(build_server()) as client:
            tools = (await client.list_tools()).tools
            total, inputs, rows = definition_sizes(tools)
            print(f"tools/list: {total:,} bytes for {len(tools)} tools")
            print(
                f"input schemas + descriptions: {inputs:,} bytes "
                f"(budget {DEFINITIONS_BUDGET:,}; {inputs / DEFINITIONS_BUDGET:.2f}x)"
            )
            for name, own in rows:
                print(f"  {name:22s} {own:6,}")
            print("default answers (structured content, bytes; budget; summary == text):")
            for name, example, answer, same in await answers(client):
                budget = ANSWER_BUDGETS.get(name, DEFAULT_BUDGET)
                flag = "ok" if answer <= budget else "OVER"
                print(
                    f"  {name:20s} {example:26s} {answer:6,} / {budget:,} {flag:4s} "
                    f"summary {'==' if same else '!='} text"
                )


if __name__ == "__main__":
    anyio.run(main)
