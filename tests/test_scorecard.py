"""show_scorecard and its ui:// view through the real MCP client (the browser test is separate)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from types import FrameType
from typing import Any

import pytest
from mcp import Client
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import TextContent, TextResourceContents

from kpi_core import KPI_IDS, resolve_weighting, score
from kpi_core.diagnosis import diagnose
from kpi_core.kernel import derive, score_arrays
from kpi_core.recommendations import recommend
from kpi_core.scorecard import scorecard
from kpi_core.validation import validate
from server import build_server
from tests.cases import REALISTIC, SOURCE_PAYLOAD
from tests.conftest import StdioFactory
from tools._config import ServerConfig
from tools.scorecard import SCORECARD_HTML, SCORECARD_META, SCORECARD_URI

pytestmark = pytest.mark.anyio

#: Calls of the browser APIs that reach the network; the view makes none (it talks only to its
#: host). The browser test checks the same at run time: the view makes no request at all.
NETWORK_CALLS = (
    "fetch(",
    "new XMLHttpRequest",
    "new WebSocket",
    "new EventSource",
    ".sendBeacon(",
    "importScripts(",
)


class Markup(HTMLParser):
    """The page's tags and attributes, the text of its <style> and <script> elements apart."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self.outside: list[str] = []
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("style", "script"):
            self._inside = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            self._inside = None

    def handle_data(self, data: str) -> None:
        {"style": self.styles, "script": self.scripts}.get(self._inside or "", self.outside).append(
            data
        )


def parse(html: str) -> Markup:
    markup = Markup()
    markup.feed(html)
    markup.close()
    return markup


def card_of(result: Any) -> dict[str, Any]:
    """The whole scorecard: the view's data, in the result's _meta (the structured content is
    the compact answer a model reads)."""
    meta = result.meta
    assert meta is not None
    card: dict[str, Any] = meta[SCORECARD_META]
    return card


def text_of(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def test_show_scorecard_is_listed_read_only_and_bound_to_its_ui_resource() -> None:
    async with Client(build_server()) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        capabilities = client.server_capabilities
    tool = listed["show_scorecard"]
    assert tool.meta == {"ui": {"resourceUri": SCORECARD_URI}}
    assert tool.annotations is not None
    assert tool.annotations.read_only_hint is True
    assert tool.annotations.idempotent_hint is True
    assert tool.annotations.destructive_hint is False
    assert set(tool.input_schema["properties"]) == {
        "metrics",
        "creator_ref",
        "weighting",
        "currency",
        "detail",
    }
    assert tool.output_schema is not None
    assert {"summary", "bottlenecks", "recommendations", "schemes", "card"} <= set(
        tool.output_schema["properties"]
    )
    assert capabilities.extensions is not None
    assert EXTENSION_ID in capabilities.extensions


async def test_reading_the_ui_resource_gives_the_built_app_as_mcp_app_html() -> None:
    async with Client(build_server()) as client:
        listed = {str(item.uri): item for item in (await client.list_resources()).resources}
        contents = (await client.read_resource(SCORECARD_URI)).contents
    assert listed[SCORECARD_URI].mime_type == APP_MIME_TYPE
    assert len(contents) == 1
    page = contents[0]
    assert isinstance(page, TextResourceContents)
    assert page.mime_type == APP_MIME_TYPE
    assert page.text == SCORECARD_HTML.read_text(encoding="utf-8")
    assert page.text.startswith("<!doctype html>")


def test_the_view_loads_nothing_from_the_network() -> None:
    """No element or style loads a resource, no script calls a network API, and the only
    http(s):// strings are inside the bundled script (JSON Schema identifiers, never fetched)."""
    html = SCORECARD_HTML.read_text(encoding="utf-8")
    markup = parse(html)
    loading = ("src", "href", "srcset", "action", "formaction", "poster", "data", "background")
    assert [(tag, name) for tag, attrs in markup.tags for name in attrs if name in loading] == []
    tags = {tag for tag, _ in markup.tags}
    assert not tags & {"link", "img", "iframe", "object", "embed", "base", "audio", "video"}
    assert [attrs for tag, attrs in markup.tags if tag == "script"] == [{}]
    assert len(markup.scripts) == 1
    css = "\n".join(markup.styles)
    assert "@import" not in css
    assert "url(" not in css
    assert "@font-face" not in css
    script = markup.scripts[0]
    assert [call for call in NETWORK_CALLS if call in script] == []
    assert re.findall(r"https?://", "\n".join([css, *markup.outside])) == []


def test_creator_strings_are_written_with_text_content_only() -> None:
    """The view's own code never parses strings as HTML (the bundle is checked in the browser)."""
    source = (SCORECARD_HTML.parent / "scorecard" / "app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source
    assert "textContent" in source


@pytest.mark.parametrize("name", sorted(REALISTIC))
async def test_the_structured_scorecard_is_exactly_the_librarys_results(name: str) -> None:
    metrics = REALISTIC[name]
    async with Client(build_server()) as client:
        result = await client.call_tool("show_scorecard", {"metrics": metrics})
    assert not result.is_error, text_of(result)
    card = card_of(result)
    tiered, equal = score(metrics, "tiered"), score(metrics, "equal")
    diagnosis = diagnose(metrics, "tiered", 3)
    advice = recommend(metrics, "tiered", 3)
    assert card["score"] == tiered.model_dump(mode="json")
    assert card["bottlenecks"] == [item.model_dump(mode="json") for item in diagnosis.bottlenecks]
    assert card["bottlenecks_total"] == diagnosis.bottlenecks_total
    assert card["what_if"] == diagnosis.what_if.model_dump(mode="json")
    assert card["recommendations"] == [
        item.model_dump(mode="json") for item in advice.recommendations
    ]
    assert card["recommendations_total"] == advice.total
    assert card["schemes"] == [
        {
            "name": scheme,
            "weights": resolve_weighting(scheme).as_dict(),
            "overall_score": under.overall_score,
            "band": under.band,
            "coverage": under.coverage,
        }
        for scheme, under in (("tiered", tiered), ("equal", equal))
    ]
    assert card["metrics"] == {key: value for key, value in metrics.items() if value is not None}
    assert card["weighting"] == "tiered"
    assert card["creator_id"] == metrics["creator_id"]
    assert [(row["kpi"], row["metric"]) for row in card["editable_metrics"]] == [
        (item.kpi, component.metric) for item in tiered.kpis for component in item.components
    ]
    assert {row["kpi"] for row in card["editable_metrics"]} == set(KPI_IDS)


async def test_the_text_says_the_score_under_both_weightings_first() -> None:
    metrics = REALISTIC["gadgets_macro"]
    tiered, equal = score(metrics, "tiered"), score(metrics, "equal")
    top = diagnose(metrics, "tiered", 3).bottlenecks[0]
    advice = recommend(metrics, "tiered", 3).recommendations[0]
    async with Client(build_server()) as client:
        result = await client.call_tool("show_scorecard", {"metrics": metrics})
    assert text_of(result) == (
        f'Creator "techtalk_dan": {tiered.overall_score:.1f}/100'
        f" ({tiered.band}) under tiered weighting; "
        f"{equal.overall_score:.1f} ({equal.band}) under equal. "
        f"Coverage: {tiered.coverage * 100:.0f}% of the weight had data. "
        f"Biggest bottleneck: {top.label} ({top.impact:.1f} points below benchmark; "
        f"2 KPIs below in all). "
        f'Top recommendation: "{advice.title}" ({advice.expected_uplift.mid:+.1f} points '
        "expected; 5 apply in all). The scorecard view shows all 13 KPIs against their "
        "benchmarks and a what-if form; the structured result carries the same data."
    )


async def test_a_custom_weighting_is_shown_beside_tiered_and_equal() -> None:
    metrics = REALISTIC["beauty_micro"]
    weights = {kpi: (0.45 if kpi == "sales_performance" else 0.05) for kpi in KPI_IDS}
    weights["cost_efficiency"] = 0.0
    assert abs(sum(weights.values()) - 1.0) < 1e-9
    async with Client(build_server()) as client:
        result = await client.call_tool(
            "show_scorecard", {"metrics": metrics, "weighting": weights}
        )
    card = card_of(result)
    assert [scheme["name"] for scheme in card["schemes"]] == ["tiered", "equal", "custom"]
    assert card["schemes"][2]["weights"] == weights
    assert card["schemes"][2]["overall_score"] == score(metrics, weights).overall_score
    assert card["score"] == score(metrics, weights).model_dump(mode="json")
    assert card["weighting"] == weights


async def test_re_sending_the_echoed_inputs_reproduces_the_scorecard() -> None:
    """What the view's what-if form sends, unchanged, gives back the same scorecard; the source
    document's payload comes back under canonical names (total_revenue as gmv)."""
    async with Client(build_server()) as client:
        first = await client.call_tool("show_scorecard", {"metrics": SOURCE_PAYLOAD})
        card = card_of(first)
        again = await client.call_tool(
            "show_scorecard",
            {
                "metrics": card["metrics"],
                "weighting": card["weighting"],
                "currency": card["score"]["currency"],
            },
        )
    assert card["metrics"]["gmv"] == SOURCE_PAYLOAD["total_revenue"]
    assert "total_revenue" not in card["metrics"]
    assert card_of(again) == card
    assert again.structured_content == first.structured_content


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"metrics": {"conversion_rate": 7.0}}, "conversion_rate"),
        ({"metrics": {"gmv": 10.0}, "weighting": "fancy"}, "weighting"),
        ({"metrics": {"gmv": 10.0}, "currency": "XYZ"}, "currency"),
        ({"metric": {"gmv": 10.0}}, "metric"),
    ],
)
async def test_bad_scorecard_arguments_are_error_results_naming_the_field(
    arguments: dict[str, Any], field: str
) -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("show_scorecard", arguments)
    assert result.is_error
    assert text_of(result).startswith(f"show_scorecard was not run: {field} ")


async def test_the_scorecard_is_the_same_over_stdio(stdio_server: StdioFactory) -> None:
    """Started as `python server.py`, the server finds its view and answers the same bytes."""
    arguments = {"metrics": REALISTIC["fitness_nano"]}
    async with stdio_server() as client:
        remote = await client.call_tool("show_scorecard", arguments)
        page = (await client.read_resource(SCORECARD_URI)).contents[0]
    async with Client(build_server(ServerConfig())) as client:
        local = await client.call_tool("show_scorecard", arguments)
    assert remote.structured_content == local.structured_content
    assert text_of(remote) == text_of(local)
    assert isinstance(page, TextResourceContents)
    assert page.text == SCORECARD_HTML.read_text(encoding="utf-8")


def count_calls(functions: list[Callable[..., Any]], body: Callable[[], object]) -> dict[str, int]:
    """How many times each of ``functions`` ran during ``body`` (a profile hook on their code)."""
    codes = {function.__code__: function.__name__ for function in functions}
    counts = dict.fromkeys(codes.values(), 0)

    def hook(frame: FrameType, event: str, _: object) -> None:
        name = codes.get(frame.f_code) if event == "call" else None
        if name is not None:
            counts[name] += 1

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        body()
    finally:
        sys.setprofile(previous)
    return counts


def test_one_scorecard_validates_the_record_once_and_runs_the_kernel_once_per_batch() -> None:
    """One validation; the kernel runs for the score, the what-ifs (one batch), the
    recommendations' counterfactuals (one batch) and the equal-weight overall; each kernel run
    derives once, and nothing else derives."""
    counts = count_calls(
        [validate, score_arrays, derive], lambda: scorecard(REALISTIC["beauty_micro"])
    )
    assert counts == {"validate": 1, "score_arrays": 4, "derive": 4}


@pytest.mark.parametrize(
    ("call", "kernel_runs"),
    [
        (score, 1),
        (diagnose, 2),
        (recommend, 2),
    ],
    ids=["score", "diagnose", "recommend"],
)
def test_score_diagnose_and_recommend_each_validate_the_record_once(
    call: Callable[[dict[str, Any]], object], kernel_runs: int
) -> None:
    counts = count_calls([validate, score_arrays], lambda: call(REALISTIC["beauty_micro"]))
    assert counts == {"validate": 1, "score_arrays": kernel_runs}


async def test_money_in_another_currency_is_reported_in_usd_by_every_tool() -> None:
    """gmv 9,800 EUR at 1.1 USD per EUR is 10,780 USD: score_creator and show_scorecard say
    USD with a warning naming EUR, the scorecard echoes the converted metrics, and diagnose and
    recommend give exactly what the same creator in USD gets."""
    in_eur = {**REALISTIC["beauty_micro"], "gmv": 9_800.0}
    in_usd = {**REALISTIC["beauty_micro"], "gmv": 9_800.0 * 1.1}
    config = ServerConfig(fx_to_default={"EUR": 1.1})
    arguments = {"metrics": in_eur, "currency": "EUR"}
    async with Client(build_server(config)) as client:
        scored = (await client.call_tool("score_creator", arguments)).structured_content
        card = card_of(await client.call_tool("show_scorecard", arguments))
        diagnosis = (await client.call_tool("diagnose", arguments)).structured_content
        advice = (await client.call_tool("recommend", arguments)).structured_content
        plain = (await client.call_tool("diagnose", {"metrics": in_usd})).structured_content
        plain_advice = (await client.call_tool("recommend", {"metrics": in_usd})).structured_content
    assert scored is not None
    assert card is not None
    assert scored["currency"] == card["score"]["currency"] == "USD"
    converted = [w for w in scored["warnings"] if w["code"] == "currency_converted"]
    assert [w["message"] for w in converted] == [
        "Money fields were converted from EUR to USD at the configured rate before scoring."
    ]
    assert card["metrics"]["gmv"] == pytest.approx(10_780.0, abs=1e-9)
    assert card["metrics"]["currency"] == "USD"
    assert diagnosis == plain
    assert advice == plain_advice
