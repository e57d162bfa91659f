"""The scorecard view in a real browser: headless Chromium, and a test host with the real bridge.

``tests/browser/run-host.mjs`` loads ``tests/browser/host.html`` in Debian's Chromium (driven by
playwright-core); the host page uses the ``AppBridge`` of ``@modelcontextprotocol/ext-apps`` to
load the ``ui://`` resource served by our server into a sandboxed iframe under a strict content
security policy, and hands it a real ``show_scorecard`` result from the in-process server. The
tests check the rendered numbers against that result, the tools/call that a what-if sends, the
layout at 360 px, markup in creator strings, and that the view made no network request.

Needs node, ``npm ci`` in tests/browser and /usr/bin/chromium (or ``$CHROMIUM_PATH``); ``.ci/run``
installs them. With ``CI=true`` a missing piece fails the run; otherwise these tests are skipped.
Set ``SCORECARD_SCREENSHOT_DIR`` to keep the screenshots (docs/scorecard.png is
``scorecard-whatif-720.png`` from such a run).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult, TextResourceContents

from kpi_core import KPI_IDS
from kpi_core.demo import demo_metrics
from server import build_server
from tools._config import ServerConfig
from tools.scorecard import SCORECARD_META, SCORECARD_URI

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
BROWSER_DIR = ROOT / "tests" / "browser"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
#: The view's own requests may only be these (the host page and its script and data).
HOST_PATHS = {"/", "/host.js", "/scenario.json"}
#: A creator whose strings are markup: the view must show them as text.
HOSTILE_ID = "<img src=x onerror=\"parent.postMessage('pwned','*')\">"
HOSTILE_CATEGORY = "<b>bold</b> & <script>1</script>"
#: What the tests compare of each KPI bar with the server's result.
KPI_KEYS = ("kpi", "name", "role", "valueNow", "benchmark")


def missing_piece() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not CHROMIUM.is_file():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        return "tests/browser has no node_modules: run `npm ci` in tests/browser"
    return None


def require_browser() -> None:
    reason = missing_piece()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser test must run in CI, but {reason}")
    pytest.skip(f"browser test skipped: {reason}")


def wire(result: CallToolResult) -> dict[str, Any]:
    """A tool result as it travels over MCP (camelCase, no nulls)."""
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


def structured(result: CallToolResult) -> dict[str, Any]:
    """The whole scorecard the view renders: it travels in the result's _meta (the structured
    content is the compact answer a model reads), and the view reads it from there."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert "card" not in result.structured_content
    assert result.meta is not None
    card: dict[str, Any] = result.meta[SCORECARD_META]
    return card


async def node(*args: str) -> None:
    with anyio.fail_after(90):
        done = await anyio.run_process(["node", *args], cwd=BROWSER_DIR, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")[-4000:]
        pytest.fail(f"node {' '.join(args)} failed ({done.returncode}):\n{output}")


def one_decimal(value: float) -> str:
    return f"{value:.1f}"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def browser_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One browser session over a real scorecard: what it rendered, recorded and saw."""
    require_browser()
    work = tmp_path_factory.mktemp("scorecard-browser")
    metrics = demo_metrics("demo_beauty_02")
    config = ServerConfig(store_path=work / "experiments.sqlite3")
    async with Client(build_server(config)) as client:
        listed = await client.list_tools()
        tool = next(item for item in listed.tools if item.name == "show_scorecard")
        html = (await client.read_resource(SCORECARD_URI)).contents[0]
        assert isinstance(html, TextResourceContents)
        arguments: dict[str, Any] = {"metrics": metrics}
        first = await client.call_tool("show_scorecard", arguments)
        card = structured(first)
        gap = card["bottlenecks"][0]["metrics"][0]
        change = {"metric": gap["metric"], "value": round(gap["benchmark"], 4)}
        what_if: dict[str, Any] = {
            "metrics": {**card["metrics"], change["metric"]: change["value"]},
            "weighting": card["weighting"],
            "currency": card["score"]["currency"],
        }
        request = {"name": "show_scorecard", "arguments": what_if}
        answer = await client.call_tool("show_scorecard", what_if)
        hostile = await client.call_tool(
            "show_scorecard",
            {"metrics": {**metrics, "creator_id": HOSTILE_ID, "category": HOSTILE_CATEGORY}},
        )
    scenario = {
        "html": html.text,
        "tool": tool.model_dump(mode="json", by_alias=True, exclude_none=True),
        "arguments": arguments,
        "result": wire(first),
        "answers": [{"request": request, "result": wire(answer)}],
        "whatIf": change,
        "hostile": {"result": wire(hostile)},
    }
    (work / "scenario.json").write_text(json.dumps(scenario), encoding="utf-8")
    await node("run-host.mjs", str(work / "scenario.json"), str(work))
    report: dict[str, Any] = json.loads((work / "report.json").read_text(encoding="utf-8"))
    keep = os.environ.get("SCORECARD_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for shot in work.glob("*.png"):
            shutil.copy(shot, Path(keep) / shot.name)
    return {
        "report": report,
        "card": card,
        "answer": structured(answer),
        "hostile": structured(hostile),
        "request": request,
        "work": work,
    }


async def test_the_committed_view_is_a_fresh_build_of_its_sources() -> None:
    require_browser()
    await node("build-scorecard.mjs", "--check")


async def test_the_view_shows_the_servers_overall_score_band_and_creator(
    browser_run: dict[str, Any],
) -> None:
    view, card = browser_run["report"]["initial"], browser_run["card"]
    assert browser_run["report"]["hostLog"] == {"initialized": True, "results": 2, "error": None}
    assert view["state"] == "ready"
    assert view["creator"] == card["creator_id"]
    assert view["overall"] == one_decimal(card["score"]["overall_score"])
    assert view["band"] == card["score"]["band"]


async def test_every_kpi_is_a_labelled_bar_in_its_tier_with_its_benchmark(
    browser_run: dict[str, Any],
) -> None:
    view, card = browser_run["report"]["initial"], browser_run["card"]
    expected = [
        {
            "tier": tier["tier"],
            "kpis": [
                {
                    "kpi": item["kpi"],
                    "name": item["label"],
                    "role": "img" if item["score"] is None else "meter",
                    "valueNow": None if item["score"] is None else one_decimal(item["score"] * 100),
                    "benchmark": one_decimal(item["benchmark_score"] * 100),
                }
                for item in card["score"]["kpis"]
                if item["tier"] == tier["tier"]
            ],
        }
        for tier in card["score"]["tiers"]
    ]
    shown = [
        {
            "tier": tier["tier"],
            "kpis": [{key: row[key] for key in KPI_KEYS} for row in tier["kpis"]],
        }
        for tier in view["tiers"]
    ]
    assert shown == expected
    assert sorted(row["kpi"] for tier in view["tiers"] for row in tier["kpis"]) == sorted(KPI_IDS)
    for tier in view["tiers"]:
        for row in tier["kpis"]:
            assert row["label"].startswith(row["name"])
            assert "benchmark" in (row["valueText"] or row["label"])
            if row["role"] == "meter":
                width = float(row["fill"].removesuffix("%"))
                assert abs(width - float(row["valueNow"])) < 0.05


async def test_bottlenecks_recommendations_and_both_weightings_follow_the_result(
    browser_run: dict[str, Any],
) -> None:
    view, card = browser_run["report"]["initial"], browser_run["card"]
    assert [item["kpi"] for item in view["bottlenecks"]] == [
        item["kpi"] for item in card["bottlenecks"]
    ]
    assert [item["impact"] for item in view["bottlenecks"]] == [
        f"\u2212{item['impact']:.1f} points" for item in card["bottlenecks"]
    ]
    assert view["recommendations"] == [
        {"id": item["id"], "title": item["title"]} for item in card["recommendations"]
    ]
    assert view["schemes"] == [
        {
            "name": scheme["name"],
            "score": one_decimal(scheme["overall_score"]),
            "used": scheme["name"] == card["score"]["weighting"],
        }
        for scheme in card["schemes"]
    ]
    assert [row["kpi"] for row in view["weightRows"]] == [
        item["kpi"] for item in card["score"]["kpis"]
    ]
    sales = next(row for row in view["weightRows"] if row["kpi"] == "sales_performance")
    assert sales["cells"] == ["30%", "7.7%"]


async def test_a_what_if_sends_the_expected_tool_call_and_shows_the_new_score(
    browser_run: dict[str, Any],
) -> None:
    report, answer = browser_run["report"], browser_run["answer"]
    assert report["focusAfterTab"] == "whatif-submit"
    calls = [{"name": call["name"], "arguments": call["arguments"]} for call in report["calls"]]
    assert calls == [browser_run["request"]]
    after = report["afterWhatIf"]
    assert after["overall"] == one_decimal(answer["score"]["overall_score"])
    assert after["band"] == answer["score"]["band"]
    before = browser_run["card"]["score"]["overall_score"]
    assert after["status"].startswith(
        f"Re-scored: {one_decimal(before)} \u2192 {one_decimal(answer['score']['overall_score'])}"
    )
    assert after["delta"] is not None
    assert browser_run["request"]["arguments"]["metrics"] != browser_run["card"]["metrics"]


async def test_the_view_fits_360_px_without_sideways_scrolling(
    browser_run: dict[str, Any],
) -> None:
    narrow = browser_run["report"]["narrow"]
    assert narrow["state"] == "ready"
    assert narrow["overflow"] <= 0


async def test_creator_strings_that_look_like_markup_are_shown_as_text(
    browser_run: dict[str, Any],
) -> None:
    hostile = browser_run["report"]["hostile"]
    assert hostile["creator"] == HOSTILE_ID
    assert HOSTILE_CATEGORY in hostile["creatorMeta"]
    assert hostile["markupElements"] == 0
    assert hostile["overall"] == one_decimal(browser_run["hostile"]["score"]["overall_score"])


async def test_the_view_loads_nothing_and_breaks_no_content_security_rule(
    browser_run: dict[str, Any],
) -> None:
    report = browser_run["report"]
    assert set(report["browserRequests"]) <= HOST_PATHS, report["browserRequests"]
    assert set(report["serverRequests"]) <= HOST_PATHS, report["serverRequests"]
    problems = [
        line
        for line in report["console"]
        if line.startswith(("error:", "pageerror:")) or "Content Security Policy" in line
    ]
    assert problems == []
