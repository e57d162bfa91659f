"""The README's two end-to-end experiment examples, run through the real MCP client.

Not a benchmark: it produces the README's figures (design -> register -> record -> recommend's
evidence), with a CUPED experiment across creators and a ratio metric in a switchback, on a fresh
experiment store in a temporary directory. The outcomes are simulated with a fixed seed, so every
run prints the same text; ``tests/test_experiment_tools.py`` checks that the README quotes it.

    python -m bench.readme_experiments
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from mcp import Client

from kpi_core.demo import demo_metrics
from server import build_server
from tools._config import ServerConfig

CREATOR = "demo_food_05"


def _item(result: Any, ident: str) -> dict[str, Any]:
    return next(r for r in result.structured_content["recommendations"] if r["id"] == ident)


def _text(result: Any) -> str:
    return str(result.content[0].text)


def cuped_arms(n: int, baseline: float, sd: float, lift: float) -> list[dict[str, object]]:
    """Each creator's orders in the test window and the 28 days before (correlation 0.9)."""
    rng = np.random.default_rng(17)
    arms: list[dict[str, object]] = []
    for name, effect in (("control", 0.0), ("hero products", lift)):
        pre = baseline + sd * rng.standard_normal(n)
        post = (
            baseline * (1 + effect)
            + 0.9 * (pre - baseline)
            + sd * math.sqrt(0.19) * (rng.standard_normal(n))
        )
        arms.append(
            {
                "name": name,
                "n": n,
                "sum": round(float(post.sum()), 4),
                "sum_squares": round(float((post * post).sum()), 4),
                "pre_sum": round(float(pre.sum()), 4),
                "pre_sum_squares": round(float((pre * pre).sum()), 4),
                "sum_of_products": round(float((pre * post).sum()), 4),
            }
        )
    return arms


def ratio_arms(n: int, aov: float, lift: float) -> list[dict[str, object]]:
    """Per one-day block: GMV (the sum of its orders' values) over its orders."""
    rng = np.random.default_rng(29)
    arms: list[dict[str, object]] = []
    for name, effect in (("control", 0.0), ("bundle offer", lift)):
        orders = rng.poisson(40, n).astype(float) + 1
        gmv = np.array([rng.normal(aov * (1 + effect), 6.0, int(k)).sum() for k in orders])
        arms.append(
            {
                "name": name,
                "n": n,
                "numerator_sum": round(float(gmv.sum()), 4),
                "numerator_sum_squares": round(float((gmv * gmv).sum()), 4),
                "denominator_sum": float(orders.sum()),
                "denominator_sum_squares": float((orders * orders).sum()),
                "sum_of_products": round(float((gmv * orders).sum()), 4),
            }
        )
    return arms


async def _loop(
    client: Client,
    metrics: dict[str, Any],
    ident: str,
    fill: dict[str, Any],
    arms: Callable[[int], list[dict[str, object]]],
) -> dict[str, str]:
    advice = {"metrics": metrics, "max_items": 20, "detail": "full"}
    before = await client.call_tool("recommend", advice)
    item = _item(before, ident)
    arguments = {k: v for k, v in item["ab_test"].items() if k != "missing"}
    arguments |= fill
    design = await client.call_tool("design_ab_test", arguments)
    plan = design.structured_content
    registered = await client.call_tool(
        "register_experiment",
        {"plan": plan, "intervention_id": ident, "category": metrics["category"]},
    )
    plan_id = registered.structured_content["plan_id"]
    outcome = arms(plan["n_per_arm"][0])
    recorded = await client.call_tool("record_outcome", {"plan_id": plan_id, "arms": outcome})
    after = await client.call_tool("recommend", advice)
    return {
        "ab_test": json.dumps(item["ab_test"]),
        "design_arguments": json.dumps(fill),
        "design": _text(design),
        "register": _text(registered),
        "arms": json.dumps(outcome),
        "record": _text(recorded),
        "evidence_before": item["evidence"]["text"],
        "evidence_after": _item(after, ident)["evidence"]["text"],
        "range_after": json.dumps(
            [
                round(_item(after, ident)["evidence"][k], 4)
                for k in ("lift_low", "lift_mid", "lift_high")
            ]
        ),
    }


async def examples() -> dict[str, dict[str, str]]:
    """Both examples' inputs and answers, by example name."""
    metrics = demo_metrics(CREATOR)
    with tempfile.TemporaryDirectory() as folder:
        config = ServerConfig(store_path=Path(folder) / "experiments.sqlite3")
        async with Client(build_server(config)) as client:
            cuped = await _loop(
                client,
                metrics,
                "sp_hero_products",
                {"baseline_sd": 23.5, "available_units": 700, "cuped_correlation": 0.9},
                lambda n: cuped_arms(int(n), 47.0, 23.5, 0.08),
            )
            ratio = await _loop(
                client,
                metrics,
                "sp_bundle_offer",
                {"metric_kind": "ratio", "baseline_sd": 0.9, "block_days": 1},
                lambda n: ratio_arms(int(n), 21.08, 0.06),
            )
    return {"cuped": cuped, "ratio": ratio}


def main() -> None:
    for name, parts in anyio.run(examples).items():
        print(f"===== {name}")
        for key, text in parts.items():
            print(f"--- {key}\n{text}")


if __name__ == "__main__":
    main()
