"""Issue 19, items 4-6, reproduced against a real store file, each shown held: poisoned evidence
(floors, plausible ranges, operator retraction through the real CLI), plan-id squatting, and
unbounded plans (size caps, a store quota, bounded listings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from kpi_core.errors import InvalidValueError, KpiError, StoreError
from kpi_core.experiments.design import design_ab_test
from kpi_core.experiments.plans import MAX_PAGE_SIZE, MAX_PLAN_BYTES
from kpi_core.experiments.store import ExperimentStore
from kpi_core.recommendations import recommend
from server import build_server
from tests.cases import REALISTIC
from tests.conftest import ROOT
from tools._config import ServerConfig

PIN = "sc_pin_product_link"
CREATOR = REALISTIC["gadgets_macro"]
#: A switchback plan of the pinned link: per-block means of product_ctr, 26 blocks per arm.
BLOCKS = design_ab_test(
    "mean", 0.008, baseline_sd=0.0005, mde=0.05, unit="time_block", block_days=1
)
N = BLOCKS.n_per_arm[0]


def poisoned_arms(n: int = N) -> list[dict[str, Any]]:
    """The issue's attack: sd 1e-9 in both arms and a hundredfold mean."""
    return [
        {"name": "control", "mean": 0.008, "sd": 1e-9, "n": n},
        {"name": "treatment", "mean": 0.8, "sd": 1e-9, "n": n},
    ]


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with ExperimentStore(tmp_path / "experiments.sqlite3") as opened:
        yield opened


def pinned_mid(evidence: Any) -> float:
    item = next(
        r
        for r in recommend(CREATOR, max_items=20, evidence=evidence).recommendations
        if r.id == PIN
    )
    return item.evidence.lift_mid


# --------------------------------------------------------------------------------------------
# 4. Evidence poisoning
# --------------------------------------------------------------------------------------------


def test_a_poisoned_outcome_is_flagged_and_kept_out_of_the_evidence(store: Any) -> None:
    """Arms {mean 0.008, sd 1e-9} and {mean 0.8, sd 1e-9} (the issue's, at the plan's 26 blocks):
    a +9,900% lift. Its standard error is floored (1% of each mean: sd 8e-5 and 8e-3, so se =
    sqrt(0.008^2 / (n 0.008^2) + 0.8^2 x 0.00008^2 / (n 0.008^4)) = sqrt(2 / 26) = 27.7%, not
    0.0%), and the lift is outside product_ctr's plausible range (-75% .. +300%): stored,
    listed, not blended, and recommend keeps the catalogue's range."""
    plan_id = store.register_experiment(BLOCKS, PIN, category="gadgets").plan_id
    recorded = store.record_outcome(plan_id, poisoned_arms())
    outcome = recorded.experiment.outcome
    assert outcome is not None
    assert outcome.lift == pytest.approx(99.0)
    assert N == 26
    assert outcome.lift_se == pytest.approx((2 / N) ** 0.5, rel=1e-9)
    assert (outcome.flag, outcome.in_evidence, outcome.excluded) == (
        "implausible_lift",
        False,
        None,
    )
    assert recorded.evidence is None
    assert store.evidence("gadgets") == {}
    assert pinned_mid(store.evidence("gadgets")) == 0.10
    assert "outside the plausible range for product_ctr" in recorded.summary
    assert f"creator-kpi-mcp outcome confirm {plan_id}" in recorded.summary


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=ROOT,
    )


def test_an_operator_confirms_and_retracts_outcomes_through_the_cli_and_nothing_is_deleted(
    store: Any,
) -> None:
    """The real command, on the real file: confirming the flagged outcome lets it count;
    retracting it takes it out again. Both reviews stay in the file, in order."""
    poisoned = store.register_experiment(BLOCKS, PIN, category="gadgets").plan_id
    store.record_outcome(poisoned, poisoned_arms())
    db = str(store.path)
    confirmed = run_cli("outcome", "confirm", poisoned, "--reason", "checked the logs", "--db", db)
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.startswith(f"Confirmed the outcome of plan {poisoned}")
    assert store.evidence("gadgets")[PIN]["count"] == 1
    retracted = run_cli("outcome", "retract", poisoned, "--reason", "a logging bug", "--db", db)
    assert retracted.returncode == 0, retracted.stderr
    assert "It does not count as evidence" in retracted.stdout
    assert store.evidence("gadgets") == {}
    experiment = store.get(poisoned)
    assert experiment.outcome.review == "retract"
    import sqlite3

    with sqlite3.connect(db) as raw:
        rows = raw.execute("SELECT action, reason FROM reviews ORDER BY seq").fetchall()
        outcomes = raw.execute("SELECT COUNT(*) FROM outcomes").fetchone()
    assert rows == [("confirm", "checked the logs"), ("retract", "a logging bug")]
    assert outcomes == (1,)
    unknown = run_cli("outcome", "retract", "no-such-plan", "--reason", "x", "--db", db)
    assert unknown.returncode == 2
    assert "plan_id is not a registered plan" in unknown.stderr


def test_a_retracted_ordinary_outcome_leaves_the_blend(store: Any) -> None:
    plan_id = store.register_experiment(BLOCKS, PIN, category="gadgets").plan_id
    arms = [
        {"name": "control", "mean": 0.008, "sd": 0.0005, "n": N},
        {"name": "treatment", "mean": 0.0092, "sd": 0.0005, "n": N},
    ]
    assert store.record_outcome(plan_id, arms).experiment.outcome.in_evidence
    review = store.review_outcome(plan_id, "retract", "the treatment ran on a holiday")
    assert (review.in_evidence, review.evidence) == (False, None)
    assert store.evidence("gadgets") == {}
    with pytest.raises(InvalidValueError) as caught:
        store.review_outcome(plan_id, "retract", "")
    assert caught.value.field == "reason"


@pytest.mark.anyio
async def test_the_mcp_tools_cannot_retract_or_confirm(tmp_path: Path) -> None:
    """Reviews are an operator's: no tool of the server offers them."""
    async with Client(build_server(ServerConfig(store_path=tmp_path / "x.sqlite3"))) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert not any("retract" in name or "confirm" in name or "review" in name for name in names)


# --------------------------------------------------------------------------------------------
# 5. Plan-id squatting
# --------------------------------------------------------------------------------------------


def test_a_caller_cannot_take_a_derived_plan_id(store: Any, tmp_path: Path) -> None:
    """The attacker registers any plan under the id the victim's plan will derive; the id is
    refused, and the victim's registration then gets its id."""
    with ExperimentStore(tmp_path / "other.sqlite3") as scratch:
        victims_id = scratch.register_experiment(BLOCKS, PIN, creator_id="victim").plan_id
    assert victims_id.startswith("exp-")
    for squatted in (victims_id, victims_id.upper(), "exp-anything"):
        with pytest.raises(InvalidValueError) as caught:
            store.register_experiment(BLOCKS, PIN, plan_id=squatted)
        assert caught.value.field == "plan_id"
        assert "reserved for ids derived from a plan's content" in str(caught.value)
    assert store.register_experiment(BLOCKS, PIN, creator_id="victim").plan_id == victims_id


# --------------------------------------------------------------------------------------------
# 6. Unbounded plans
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"guardrails": ["x" * 1_000_000]}, "plan.guardrails.0"),
        ({"guardrails": [f"g{i}" for i in range(21)]}, "plan.guardrails"),
        ({"primary_metric": "y" * 65}, "plan.primary_metric"),
        ({"arm_names": ["control", "t" * 81]}, "plan.arm_names.1"),
        ({"guardrail_margins": {f"m{i}": 0.1 for i in range(21)}}, "plan.guardrail_margins"),
    ],
)
def test_oversized_plan_strings_are_refused_before_anything_is_stored(
    store: Any, change: dict[str, Any], field: str
) -> None:
    """The issue's attack registered 60 plans with ~1 MB guardrail strings (64 MB of file)."""
    with pytest.raises(KpiError) as caught:
        store.register_experiment({**BLOCKS.model_dump(), **change}, PIN)
    assert caught.value.field == field
    assert not store.path.exists() or store.list_experiments().total == 0


def test_a_store_refuses_plans_beyond_its_quota_with_a_clear_error(tmp_path: Path) -> None:
    with ExperimentStore(tmp_path / "small.sqlite3", max_plans=3) as small:
        for index in range(3):
            small.register_experiment(BLOCKS, PIN, creator_id=f"c{index}")
        with pytest.raises(StoreError) as caught:
            small.register_experiment(BLOCKS, PIN, creator_id="c3")
        assert "is full: it holds 3 plans, its quota" in str(caught.value)
        again = small.register_experiment(BLOCKS, PIN, creator_id="c0")
        assert not again.created  # an existing plan is still found


def test_a_full_page_of_the_largest_plans_stays_bounded(store: Any) -> None:
    """50 plans at the caps (20 arms named with 80 characters, 20 guardrails of 64): each is
    under MAX_PLAN_BYTES as stored, and a page of list_experiments is under 50 of them plus
    their summary."""
    arms = 20
    largest = design_ab_test(
        "proportion",
        0.2,
        mde=0.2,
        arms=arms,
        guardrails=[f"{i:02d}" + "g" * 62 for i in range(20)],
    ).model_dump()
    largest["arm_names"] = [f"{i:02d}" + "a" * 78 for i in range(arms)]
    for index in range(MAX_PAGE_SIZE):
        store.register_experiment(largest, PIN, creator_id=f"creator-{index:03d}" + "c" * 100)
    page = store.list_experiments(limit=MAX_PAGE_SIZE)
    size = len(json.dumps(page.model_dump(mode="json")))
    assert page.total == MAX_PAGE_SIZE
    assert size < MAX_PAGE_SIZE * (MAX_PLAN_BYTES + 2048)
