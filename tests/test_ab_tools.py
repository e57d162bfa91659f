"""design_ab_test and analyze_ab_test through the real MCP client."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.types import TextContent

from kpi_core.experiments.analysis import analyze_ab_test
from kpi_core.experiments.design import design_ab_test
from server import build_server
from tests.cases import as_answer
from tools.ab_test import ANALYZE_FULL_ONLY, DESIGN_FULL_ONLY

pytestmark = pytest.mark.anyio


async def call(tool: str, arguments: dict[str, Any]) -> Any:
    async with Client(build_server()) as client:
        return await client.call_tool(tool, arguments)


async def test_a_design_through_the_client_is_the_librarys_design_with_a_summary() -> None:
    """2.0% -> 2.4% (relative MDE 0.2), pooled: 21109 per arm (statsmodels
    samplesize_proportions_2indep_onetail, pinned in tests/test_abtest.py); at 5000 viewers a
    day, 42218 viewers take 8.4 days, rounded up to whole weeks: 14 days."""
    arguments = {"metric_kind": "proportion", "baseline": 0.02, "mde": 0.2, "daily_units": 5000}
    result = await call("design_ab_test", arguments)
    expected = design_ab_test("proportion", 0.02, mde=0.2, daily_units=5000)
    assert result.structured_content == as_answer(expected, DESIGN_FULL_ONLY)
    full = await call("design_ab_test", {**arguments, "detail": "full"})
    assert full.structured_content == as_answer(expected)
    assert expected.n_per_arm == [21109, 21109]
    assert expected.duration_days == 14
    text = result.content[0].text
    assert "Needs 21,109 viewers in the control arm" in text
    assert "Duration: 14 days (2 weeks)" in text


async def test_an_analysis_through_the_client_is_the_librarys_analysis() -> None:
    """200/10000 vs 245/10000: pooled z = 2.15734, p = 0.0309792 (the issue's oracle)."""
    arms = [
        {"name": "control", "conversions": 200, "units": 10000},
        {"name": "new hook", "conversions": 245, "units": 10000},
    ]
    result = await call("analyze_ab_test", {"metric_kind": "proportion", "arms": arms})
    expected = analyze_ab_test("proportion", arms)
    assert result.structured_content == as_answer(expected, ANALYZE_FULL_ONLY)
    assert expected.comparisons[0].p_value == pytest.approx(0.0309792, abs=1e-7)
    assert result.content[0].text.startswith(expected.decision)


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("design_ab_test", {"metric_kind": "proportion", "baseline": 1.4, "mde": 0.1}, "baseline"),
        ("design_ab_test", {"metric_kind": "proportion", "baseline": 0.6, "mde": 0.9}, "mde"),
        (
            "design_ab_test",
            {"metric_kind": "proportion", "baseline": 0.1, "mde": 0.1, "arms": 1},
            "arms",
        ),
        (
            "design_ab_test",
            {"metric_kind": "proportion", "baseline": 0.1, "mde": 0.1, "allocation": [0.5, 0.4]},
            "allocation",
        ),
        ("design_ab_test", {"metric_kind": "rate", "baseline": 0.1, "mde": 0.1}, "metric_kind"),
        ("design_ab_test", {"metric_kind": "proportion", "mde": 0.1}, "baseline"),
        (
            "analyze_ab_test",
            {"metric_kind": "proportion", "arms": [{"name": "a", "conversions": 5, "units": 9}]},
            "arms",
        ),
        (
            "analyze_ab_test",
            {
                "metric_kind": "proportion",
                "arms": [
                    {"name": "a", "conversions": 5, "units": 9},
                    {"name": "b", "conversions": 12, "units": 9},
                ],
            },
            "arms[1].conversions",
        ),
    ],
)
async def test_bad_experiment_arguments_are_error_results_naming_the_field(
    tool: str, arguments: dict[str, Any], field: str
) -> None:
    result = await call(tool, arguments)
    assert result.is_error
    assert result.content[0].text.startswith(f"{tool} was not run: {field} ")


async def test_cuped_ratio_and_planned_analyses_go_through_the_client(tmp_path: Any) -> None:
    """The input schema takes every arm form; with plan_id the registered plan's settings are
    used (and a conflicting one is refused in the edge's words)."""
    from tools._config import ServerConfig

    cuped = [
        {
            "name": "c",
            "n": 100,
            "sum": 5000.0,
            "sum_squares": 260000.0,
            "pre_sum": 5000.0,
            "pre_sum_squares": 260000.0,
            "sum_of_products": 259000.0,
        },
        {
            "name": "t",
            "n": 100,
            "sum": 5200.0,
            "sum_squares": 280000.0,
            "pre_sum": 5000.0,
            "pre_sum_squares": 260000.0,
            "sum_of_products": 269000.0,
        },
    ]
    ratio = [
        {
            "name": "c",
            "n": 50,
            "numerator_sum": 1000.0,
            "numerator_sum_squares": 21000.0,
            "denominator_sum": 500.0,
            "denominator_sum_squares": 5200.0,
            "sum_of_products": 10400.0,
        },
        {
            "name": "t",
            "n": 50,
            "numerator_sum": 1100.0,
            "numerator_sum_squares": 25000.0,
            "denominator_sum": 500.0,
            "denominator_sum_squares": 5200.0,
            "sum_of_products": 11400.0,
        },
    ]
    config = ServerConfig(store_path=tmp_path / "x.sqlite3")
    async with Client(build_server(config)) as client:
        adjusted = await client.call_tool("analyze_ab_test", {"metric_kind": "mean", "arms": cuped})
        ratios = await client.call_tool("analyze_ab_test", {"metric_kind": "ratio", "arms": ratio})
        plan = design_ab_test("proportion", 0.02, mde=0.2, sides=1).model_dump(mode="json")
        registered = await client.call_tool(
            "register_experiment", {"plan": plan, "intervention_id": "sc_pin_product_link"}
        )
        plan_id = registered.structured_content["plan_id"]
        arms = [
            {"name": "control", "conversions": 200, "units": 10000},
            {"name": "treatment", "conversions": 250, "units": 10000},
        ]
        planned = await client.call_tool("analyze_ab_test", {"plan_id": plan_id, "arms": arms})
        refused = await client.call_tool(
            "analyze_ab_test", {"plan_id": plan_id, "arms": arms, "alpha": 0.1}
        )
    assert adjusted.structured_content["comparisons"][0]["test"] == "ancova_t"
    assert ratios.structured_content["comparisons"][0]["test"] == "welch_t"
    assert ratios.structured_content == as_answer(
        analyze_ab_test("ratio", ratio), ANALYZE_FULL_ONLY
    )
    assert (planned.structured_content["sides"], planned.structured_content["verdict"]) == (
        1,
        "incomplete",
    )
    assert refused.is_error
    text = refused.content[0]
    assert isinstance(text, TextContent)
    assert text.text.startswith("analyze_ab_test was not run: alpha is set by plan")
