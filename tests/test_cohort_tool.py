"""score_cohort through the real MCP client: lists, files, roots, refusals and progress."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.types import ListRootsResult, Root
from pydantic import FileUrl

from kpi_core.answers import brief_cohort
from kpi_core.cohorts.cohort import score_cohort
from kpi_core.cohorts.scoring import score_cohort_text
from kpi_core.demo import demo_cohort_rows
from server import build_server
from tests.cases import as_answer
from tools._config import ServerConfig

pytestmark = pytest.mark.anyio


def text(result: Any) -> str:
    return result.content[0].text


@pytest.fixture
def cohort_csv(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "cohort.csv"
    pd.DataFrame(demo_cohort_rows(outcome_fields=False)).to_csv(target, index=False)
    return target


async def test_a_list_with_bad_rows_scores_the_good_ones_and_rejects_the_rest() -> None:
    rows: list[dict[str, Any]] = [*demo_cohort_rows(outcome_fields=False)[:6]]
    rows.append({"creator_id": "typo", "conversion_rate": 4.0})
    rows.append({"creator_id": "empty"})
    async with Client(build_server()) as client:
        result = await client.call_tool("score_cohort", {"creators": rows, "top_n": 3})
    data = result.structured_content
    assert data is not None
    assert data == as_answer(brief_cohort(score_cohort(rows, top_n=3)))
    assert data["count"] == 6
    assert [row["creator_id"] for row in data["rejected"]] == ["typo", "empty"]
    assert "did you mean 0.04?" in data["rejected"][0]["reasons"][0]
    assert "2 rows rejected" in text(result)


async def test_the_tool_ranks_by_the_lower_bound_under_either_missing_mode() -> None:
    """The tool's answer is the library's, for both modes; the leaderboard carries the
    intervals and the counts of thin and revenue-less creators."""
    rows: list[dict[str, Any]] = [*demo_cohort_rows(outcome_fields=False)[:8]]
    rows.append({"creator_id": "gmv_only", "gmv": 60_000})
    async with Client(build_server()) as client:
        for missing in ("benchmark", "renormalise"):
            arguments = {"creators": rows, "sort_by": "lower_bound", "missing": missing}
            result = await client.call_tool("score_cohort", arguments)
            data = result.structured_content
            assert data is not None
            expected = score_cohort(rows, sort_by="lower_bound", missing=missing)
            assert data == as_answer(brief_cohort(expected))
            assert data["missing"] == missing
            assert data["thin_data"] == 1
            entry = data["leaderboard"][0]
            assert entry["score_low"] == entry["sort_value"] <= entry["score_high"]


async def test_a_path_is_refused_until_file_access_is_configured(cohort_csv: Path) -> None:
    async with Client(build_server(ServerConfig())) as client:
        result = await client.call_tool("score_cohort", {"path": str(cohort_csv)})
    assert result.is_error
    assert text(result).startswith("score_cohort was not run: path cannot be read")
    assert "CREATOR_KPI_ALLOWED_DIRS" in text(result)


async def test_an_allowed_directory_lets_a_file_be_scored_and_others_refused(
    cohort_csv: Path, tmp_path: Path
) -> None:
    config = ServerConfig(allowed_dirs=(str(cohort_csv.parent),))
    outside = tmp_path / "outside.csv"
    outside.write_text("gmv\n5\n")
    async with Client(build_server(config)) as client:
        inside = await client.call_tool("score_cohort", {"path": "cohort.csv"})
        escape = await client.call_tool("score_cohort", {"path": "../outside.csv"})
        absolute = await client.call_tool("score_cohort", {"path": str(outside)})
    assert not inside.is_error
    assert inside.structured_content is not None
    assert inside.structured_content["count"] == len(demo_cohort_rows())
    assert text(escape).startswith("score_cohort was not run: path ")
    assert text(absolute).startswith("score_cohort was not run: path must be inside an allowed")


async def test_the_clients_roots_allow_their_files_and_progress_is_reported(
    cohort_csv: Path,
) -> None:
    async def roots(context: ClientRequestContext) -> ListRootsResult:
        root = Root(uri=FileUrl(cohort_csv.parent.as_uri()), name="exports")
        return ListRootsResult(roots=[root])

    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(build_server(ServerConfig()), list_roots_callback=roots) as client:
        result = await client.call_tool(
            "score_cohort", {"path": "cohort.csv"}, progress_callback=on_progress
        )
    assert not result.is_error, text(result)
    assert len(seen) >= 2
    assert seen == sorted(seen)
    assert seen[-1] > seen[0]


async def test_over_http_file_access_stays_off_unless_enabled(cohort_csv: Path) -> None:
    allowed = ServerConfig(allowed_dirs=(str(cohort_csv.parent),), transport="http")
    enabled = dataclasses.replace(allowed, http_files=True)
    async with Client(build_server(allowed)) as client:
        refused = await client.call_tool("score_cohort", {"path": "cohort.csv"})
    async with Client(build_server(enabled)) as client:
        served = await client.call_tool("score_cohort", {"path": "cohort.csv"})
    assert text(refused).startswith("score_cohort was not run: path cannot be read over HTTP")
    assert not served.is_error


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({}, "creators"),
        ({"creators": [], "path": "x.csv"}, "creators"),
        ({"creators": [{"gmv": 5.0}], "top_n": 0}, "top_n"),
        ({"creators": [{"gmv": 5.0}], "sort_by": "fame"}, "sort_by"),
        ({"creators": [{"gmv": 5.0}], "min_coverage": 2}, "min_coverage"),
        ({"creators": [{"gmv": 5.0}], "missing": "drop"}, "missing"),
        ({"creators": [{"gmv": -5.0}]}, "creators"),
    ],
)
async def test_bad_cohort_arguments_name_the_field(arguments: dict[str, Any], field: str) -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("score_cohort", arguments)
    assert result.is_error
    assert text(result).startswith(f"score_cohort was not run: {field}"), text(result)


async def test_a_pasted_csv_is_scored_with_the_ingest_line_leading_the_text() -> None:
    pasted = 'Creator,Followers,GMV,Conversion Rate,Views\n@a,2.4M,"48,000",3.5%,1.2M\n'
    async with Client(build_server()) as client:
        result = await client.call_tool("score_cohort", {"csv_text": pasted})
    assert not result.is_error, text(result)
    data = result.structured_content
    assert data is not None
    assert data == as_answer(brief_cohort(score_cohort_text(pasted)))
    assert text(result).splitlines()[0] == "1 rows, 1 creators, no column ignored."
    assert data["ingest"]["notes_by_code"] == {
        "abbreviated": 2,
        "percent": 1,
        "thousands_separator": 1,
    }


async def test_a_dry_run_shows_the_mapping_and_scores_nothing(cohort_csv: Path) -> None:
    config = ServerConfig(allowed_dirs=(str(cohort_csv.parent),))
    async with Client(build_server(config)) as client:
        result = await client.call_tool("score_cohort", {"path": "cohort.csv", "dry_run": True})
    data = result.structured_content
    assert data is not None
    assert (data["dry_run"], data["count"], data["leaderboard"]) == (True, 0, [])
    assert all(column["applied"] for column in data["ingest"]["columns"])
    assert "Dry run: nothing was scored." in text(result)


async def test_a_list_takes_a_columns_mapping_too() -> None:
    rows = [{"Creator": "@a", "GMV": 1200.0}]
    mapping = {"Creator": "creator_id", "GMV": "gmv"}
    async with Client(build_server()) as client:
        result = await client.call_tool("score_cohort", {"creators": rows, "columns": mapping})
    assert result.structured_content is not None
    expected = as_answer(brief_cohort(score_cohort([{"creator_id": "@a", "gmv": 1200.0}])))
    assert result.structured_content == expected


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"creators": [{"gmv": 1.0}], "csv_text": "gmv\n1\n"},
            "score_cohort was not run: creators give exactly one of creators (a list), "
            "path (a file) or csv_text (a pasted CSV); got 'more than one'.",
        ),
        (
            {"csv_text": "foo,bar\n1,2\n"},
            "score_cohort was not run: columns has no header recognised as a metric, so nothing "
            "can be scored: 'foo', 'bar'; got '2 columns' - give columns={'Header in the "
            "file': 'canonical_name'}; the canonical names are in kpi://metrics, and "
            "dry_run=true shows how each header was read.",
        ),
    ],
)
async def test_file_and_text_refusals_read_as_sentences(
    arguments: dict[str, Any], expected: str
) -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("score_cohort", arguments)
    assert result.is_error
    assert text(result) == expected


async def test_the_window_and_period_bounds_are_in_the_input_schema() -> None:
    async with Client(build_server()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        refused = await client.call_tool("score_cohort", {"csv_text": "gmv\n1\n", "window_days": 0})
    properties = tools["score_cohort"].input_schema["properties"]
    assert (properties["window_days"]["minimum"], properties["window_days"]["maximum"]) == (1, 3660)
    assert refused.is_error
    assert text(refused).startswith(
        "score_cohort was not run: window_days must be a whole number in [1, 3660]"
    )


async def test_a_dry_run_of_pasted_text_shows_example_values_per_column() -> None:
    pasted = "Creator,Followers,Notes\n@a,2.4M,hi\n@b,12K,\n"
    async with Client(build_server()) as client:
        result = await client.call_tool("score_cohort", {"csv_text": pasted, "dry_run": True})
    data = result.structured_content
    assert data is not None
    shown = {column["source"]: column["examples"] for column in data["ingest"]["columns"]}
    assert shown == {"Creator": ["@a", "@b"], "Followers": ["2.4M", "12K"], "Notes": ["hi"]}


async def test_over_http_the_advice_for_unconfigured_files_never_mentions_client_roots() -> None:
    config = ServerConfig(transport="http", http_files=True)
    async with Client(build_server(config)) as client:
        result = await client.call_tool("score_cohort", {"path": "cohort.csv"})
    assert result.is_error
    assert "file access is not configured" in text(result)
    assert "client roots do not count over HTTP" in text(result)
    assert "let the client share its roots" not in text(result)
