"""The feedback loop through the real MCP client: recommend -> design -> register -> record ->
recommend again, on a store in a temporary directory."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from kpi_core.experiments.store import ExperimentStore
from kpi_core.recommendations import recommend
from server import build_server
from tests.cases import REALISTIC
from tools._config import ServerConfig

pytestmark = pytest.mark.anyio

PIN = "sc_pin_product_link"
CREATOR = REALISTIC["gadgets_macro"]


def config(path: Path) -> ServerConfig:
    return ServerConfig(store_path=path)


def text(result: Any) -> str:
    return result.content[0].text


def pinned(result: Any) -> dict[str, Any]:
    return next(item for item in result.structured_content["recommendations"] if item["id"] == PIN)


async def test_the_writing_tools_are_idempotent_writes_and_listing_is_read_only(
    tmp_path: Path,
) -> None:
    async with Client(build_server(config(tmp_path / "x.sqlite3"))) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    hints: dict[str, tuple[bool | None, bool | None]] = {}
    for name in ("register_experiment", "record_outcome", "list_experiments"):
        annotations = tools[name].annotations
        assert annotations is not None
        hints[name] = (annotations.read_only_hint, annotations.idempotent_hint)
    assert hints == {
        "register_experiment": (False, True),
        "record_outcome": (False, True),
        "list_experiments": (True, True),
    }
    assert all(tools[name].output_schema for name in hints)
    assert not (tmp_path / "x.sqlite3").exists()


async def test_the_loop_changes_recommends_evidence_and_wording_and_repeats_change_nothing(
    tmp_path: Path,
) -> None:
    """The pinned product link (catalogue range 5% / 10% / 20%, an assumption) is tested on 26
    one-day blocks per arm (under 30, so t quantiles: statsmodels TTestIndPower at effect size
    0.0004 / 0.0005 = 0.8 gives 25.5); product_ctr 0.80% -> 0.92% (+15%) becomes evidence."""
    path = tmp_path / "experiments.sqlite3"
    async with Client(build_server(config(path))) as client:
        before = await client.call_tool("recommend", {"metrics": CREATOR, "max_items": 20})
        item = pinned(before)
        assert item["evidence"]["experiments"] == 0
        assert item["evidence"]["text"] == "a team assumption, not yet measured"

        arguments = {key: value for key, value in item["ab_test"].items() if key != "missing"}
        assert item["ab_test"]["missing"] == ["baseline_sd", "block_days"]
        design = await client.call_tool(
            "design_ab_test", {**arguments, "baseline_sd": 0.0005, "block_days": 1}
        )
        plan = design.structured_content
        n = plan["n_per_arm"][0]
        assert (n, plan["duration_days"], plan["feasible"]) == (26, 56, True)

        register = {
            "plan": plan,
            "intervention_id": PIN,
            "creator_id": CREATOR["creator_id"],
            "category": CREATOR["category"],
        }
        registered = await client.call_tool("register_experiment", register)
        plan_id = registered.structured_content["plan_id"]
        assert text(registered).startswith(
            f"Registered plan {plan_id}: {PIN} for techtalk_dan (category gadgets)."
        )
        assert (await client.call_tool("register_experiment", register)).structured_content[
            "plan_id"
        ] == plan_id

        arms = [
            {"name": "control", "mean": 0.008, "sd": 0.0005, "n": n},
            {"name": "pinned link", "mean": 0.0092, "sd": 0.0005, "n": n},
        ]
        recorded = await client.call_tool("record_outcome", {"plan_id": plan_id, "arms": arms})
        assert not recorded.is_error, text(recorded)
        evidence = recorded.structured_content["evidence"]
        assert (evidence["count"], evidence["scope"]) == (1, "same category: gadgets")
        assert "It counts as evidence: product_ctr lift +15.0% in its better direction" in text(
            recorded
        )
        assert f"{PIN} is now based on 1 recorded experiment (same category: gadgets)" in text(
            recorded
        )

        after = await client.call_tool("recommend", {"metrics": CREATOR, "max_items": 20})
        again = await client.call_tool("record_outcome", {"plan_id": plan_id, "arms": arms})
        repeated = await client.call_tool("recommend", {"metrics": CREATOR, "max_items": 20})
        listed = await client.call_tool("list_experiments", {})
        elsewhere = await client.call_tool(
            "recommend", {"metrics": {**CREATOR, "category": "beauty"}, "max_items": 20}
        )

    item = pinned(after)
    assert item["evidence"]["experiments"] == 1
    assert item["evidence"]["scope"] == "same category: gadgets"
    assert item["evidence"]["text"] == "based on 1 recorded experiment (same category: gadgets)"
    assert "(based on 1 recorded experiment (same category: gadgets))" in item["text"]
    assert item["evidence"]["lift_mid"] == pytest.approx(evidence["blended_mid"])
    assert item["evidence"]["lift_mid"] > pinned(before)["evidence"]["lift_mid"]
    assert item["expected_uplift"]["mid"] > pinned(before)["expected_uplift"]["mid"]
    with ExperimentStore(path) as store:
        library = recommend(CREATOR, max_items=20, evidence=store.evidence("gadgets"))
    assert after.structured_content == library.model_dump(mode="json")

    assert not again.structured_content["created"]
    assert text(again).splitlines()[3] == (
        f"This outcome was already recorded for plan {plan_id}; nothing changed."
    )
    assert repeated.structured_content == after.structured_content
    assert text(repeated) == text(after)
    assert listed.structured_content["total"] == 1
    assert pinned(elsewhere)["evidence"]["text"] == "based on 1 recorded experiment (all creators)"


async def test_a_broken_store_fails_the_store_tools_clearly_while_scoring_keeps_working(
    tmp_path: Path,
) -> None:
    path = tmp_path / "experiments.sqlite3"
    garbage = random.Random(6).randbytes(4096)
    path.write_bytes(garbage)
    problem = (
        f"experiment store {path} is not a readable SQLite database (file is not a database) - "
        "move the file aside (or restore a backup) or set CREATOR_KPI_DB to another path; the "
        "scoring tools keep working"
    )
    async with Client(build_server(config(path))) as client:
        listed = await client.call_tool("list_experiments", {})
        recorded = await client.call_tool(
            "record_outcome",
            {"plan_id": "exp-0", "arms": [{"name": "a", "conversions": 1, "units": 9}] * 2},
        )
        scored = await client.call_tool("score_creator", {"metrics": CREATOR})
        advice = await client.call_tool("recommend", {"metrics": CREATOR})
    assert listed.is_error
    assert text(listed) == f"list_experiments was not run: {problem}."
    assert recorded.is_error
    assert text(recorded) == f"record_outcome was not run: {problem}."
    assert not scored.is_error
    assert not advice.is_error
    assert text(advice).splitlines()[-1] == (
        "Recorded experiments were not used, so the lift ranges are the catalogue's: " + problem
    )
    assert advice.structured_content == recommend(CREATOR).model_dump(mode="json")
    assert path.read_bytes() == garbage


async def test_listing_pages_through_the_client_with_a_cursor(tmp_path: Path) -> None:
    path = tmp_path / "experiments.sqlite3"
    plan = {"metric_kind": "proportion", "baseline": 0.02, "mde": 0.2}
    plan |= {"allocation": [0.5, 0.5], "n_per_arm": [21109, 21109]}
    with ExperimentStore(path) as store:
        ids = [store.register_experiment(plan, PIN, creator_id=f"c{i}").plan_id for i in range(3)]
    async with Client(build_server(config(path))) as client:
        first = await client.call_tool("list_experiments", {"limit": 2})
        cursor = first.structured_content["next_cursor"]
        second = await client.call_tool("list_experiments", {"limit": 2, "cursor": cursor})
    assert [e["plan_id"] for e in first.structured_content["experiments"]] == ids[:0:-1]
    assert text(first).splitlines()[0] == (
        "3 experiments match; showing 2, newest first. For more, call list_experiments again "
        f'with cursor "{cursor}".'
    )
    assert text(first).splitlines()[1] == (
        f"- {ids[2]}: {PIN}, c2: registered, awaiting its outcome (21109 / 21109 viewers)"
    )
    assert second.structured_content["next_cursor"] is None
    assert [e["plan_id"] for e in second.structured_content["experiments"]] == ids[:1]


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        (
            "register_experiment",
            {"plan": {"metric_kind": "proportion"}, "intervention_id": PIN},
            "register_experiment was not run: plan.baseline is required.",
        ),
        (
            "register_experiment",
            {
                "plan": {"metric_kind": "proportion", "baseline": 0.02, "mde": 0.2}
                | {"allocation": [0.5, 0.5], "n_per_arm": [9, 9]},
                "intervention_id": "sc_pin_prodct_link",
            },
            "register_experiment was not run: intervention_id must be the id of an intervention "
            "in the catalogue (a recommendation's id); got 'sc_pin_prodct_link' - did you mean "
            "sc_pin_product_link?",
        ),
        (
            "register_experiment",
            {
                "plan": {"metric_kind": "proportion", "baseline": 0.02, "mde": 0.2}
                | {"allocation": [0.5, 0.5], "n_per_arm": 25},
                "intervention_id": PIN,
            },
            "register_experiment was not run: plan.n_per_arm must be a list of units, one per arm "
            "(2 to 20, control first), e.g. [1000, 1000]; got 25.",
        ),
        (
            "register_experiment",
            {
                "plan": {"metric_kind": "proportion", "baseline": 0.02, "mde": 0.2}
                | {"allocation": [1.0], "n_per_arm": [9, 9]},
                "intervention_id": PIN,
            },
            "register_experiment was not run: plan.allocation must be a list of fractions, one "
            "per arm (2 to 20, control first), e.g. [0.5, 0.5]; got [1.0].",
        ),
        (
            "record_outcome",
            {"plan_id": "exp-0", "arms": []},
            "record_outcome was not run: plan_id is not a registered plan in this store; got "
            "'exp-0' - call register_experiment first, or list_experiments to find the id.",
        ),
        (
            "list_experiments",
            {"limit": 0},
            "list_experiments was not run: limit must be a whole number from 1 to 50; got 0.",
        ),
    ],
)
async def test_bad_arguments_name_the_field_rule_and_value(
    tmp_path: Path, tool: str, arguments: dict[str, Any], message: str
) -> None:
    async with Client(build_server(config(tmp_path / "x.sqlite3"))) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert text(result) == message


def test_the_store_path_comes_from_creator_kpi_db() -> None:
    assert ServerConfig.from_env({"CREATOR_KPI_DB": "/data/kpi.sqlite3"}).store_path == Path(
        "/data/kpi.sqlite3"
    )
    assert ServerConfig.from_env({"CREATOR_KPI_DB": "~/kpi.sqlite3"}).store_path == (
        Path.home() / "kpi.sqlite3"
    )
    assert ServerConfig.from_env({}).store_path is None


async def test_the_readmes_cuped_and_ratio_examples_are_what_the_tools_answer() -> None:
    """bench/readme_experiments.py runs both examples through the client; every line the README
    quotes from their answers must be an answer line of that run (so the figures are the code's)."""
    from bench.readme_experiments import examples

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    found = await examples()
    quoted = {
        "cuped": ("design", 3, "register", 0, "record", 1, "record", 4, "record", 5),
        "ratio": ("design", 3, "register", 0, "record", 1, "record", 4, "record", 5),
    }
    for name, picks in quoted.items():
        for part, line in zip(picks[::2], picks[1::2], strict=True):
            text = found[name][str(part)].splitlines()[int(line)]
            assert text in readme, (name, part, text)
        assert (
            found[name]["evidence_after"] == "based on 1 recorded experiment (same category: food)"
        )
        assert found[name]["evidence_before"] == "a team assumption, not yet measured"
    assert '"cuped_correlation": 0.9' in found["cuped"]["design_arguments"]


async def test_a_planned_guardrail_left_out_of_the_outcome_holds_the_ship_decision(
    tmp_path: Path,
) -> None:
    """Primary: 100/1000 vs 140/1000 conversions (pooled z = 2.75, p = 0.0059 by hand:
    p = 0.12, se = sqrt(0.12 * 0.88 * 2 / 1000) = 0.01453), a significant improvement. The plan
    names refund_rate as a guardrail; an outcome without it must not say "Ship", and the same
    outcome with a flat refund rate (50/1000 in both arms) ships."""
    design = {
        "metric_kind": "proportion",
        "baseline": 0.10,
        "mde": 0.4,
        "guardrails": ["refund_rate"],
    }
    arms = [
        {"name": "control", "conversions": 100, "units": 1000},
        {"name": "treatment", "conversions": 140, "units": 1000},
    ]
    flat = {
        "metric": "refund_rate",
        "arms": [
            {"name": "control", "conversions": 50, "units": 1000},
            {"name": "treatment", "conversions": 50, "units": 1000},
        ],
    }
    async with Client(build_server(config(tmp_path / "x.sqlite3"))) as client:
        plan = (await client.call_tool("design_ab_test", design)).structured_content
        assert plan["guardrails"] == ["refund_rate"]
        plans = []
        for creator in ("held", "shipped"):
            registered = await client.call_tool(
                "register_experiment",
                {
                    "plan": {**plan, "n_per_arm": [1000, 1000]},
                    "intervention_id": PIN,
                    "creator_id": creator,
                },
            )
            assert not registered.is_error, text(registered)
            plans.append(registered.structured_content["plan_id"])
        held = await client.call_tool("record_outcome", {"plan_id": plans[0], "arms": arms})
        shipped = await client.call_tool(
            "record_outcome", {"plan_id": plans[1], "arms": arms, "guardrails": [flat]}
        )
    analysis = held.structured_content["analysis"]
    assert (analysis["verdict"], analysis["ship"]) == ("significant", False)
    assert analysis["untested_guardrails"] == ["refund_rate"]
    assert analysis["comparisons"][0]["p_value"] == pytest.approx(0.0059, abs=1e-4)
    assert (
        "Hold: treatment improved the metric significantly, but the plan's guardrail "
        "refund_rate was not tested" in text(held)
    )
    assert "Ship" not in text(held)
    analysis = shipped.structured_content["analysis"]
    assert (analysis["ship"], analysis["untested_guardrails"]) == (True, [])
    assert "Ship: treatment improved the metric significantly with no failed guardrail" in text(
        shipped
    )
