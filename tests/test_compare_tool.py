"""compare_weighting through the real MCP client: single and cohort modes, progress, the guard."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pandas as pd
import pytest
from mcp import Client

from kpi_core.catalogue import KPI_IDS
from kpi_core.compare import compare_cohort, compare_single
from kpi_core.demo import demo_cohort_rows, demo_metrics
from server import build_server
from tools._config import ServerConfig

pytestmark = pytest.mark.anyio


async def test_single_mode_answers_the_librarys_comparison_with_the_contract_fields() -> None:
    metrics = demo_metrics("demo_food_01")
    async with Client(build_server()) as client:
        result = await client.call_tool("compare_weighting", {"metrics": metrics})
    data = result.structured_content
    assert data is not None
    expected = compare_single(metrics, ["tiered", "equal"])
    assert data == expected.model_dump(mode="json")
    assert next(iter(data)) == "summary"
    assert data["mode"] == "single"
    assert [scheme["name"] for scheme in data["schemes"]] == ["tiered", "equal"]
    assert set(data["schemes"][0]["weights"]) == set(KPI_IDS)
    assert set(data["scores"][0]["scores"]) == {"tiered", "equal"}
    assert result.content[0].text == expected.summary  # type: ignore[union-attr]


async def test_cohort_mode_reports_rank_quality_with_intervals_and_progress() -> None:
    rows = demo_cohort_rows()
    arguments: dict[str, Any] = {
        "creators": rows,
        "schemes": ["equal", "tiered"],
        "outcome": "next_gmv",
        "n_boot": 100,
    }
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(build_server()) as client:
        result = await client.call_tool(
            "compare_weighting", arguments, progress_callback=on_progress
        )
    data = result.structured_content
    assert data is not None
    expected = compare_cohort(rows, ["equal", "tiered"], "next_gmv", n_boot=100)
    assert data == expected.model_dump(mode="json")
    assert result.content[0].text == expected.summary  # type: ignore[union-attr]
    assert [item["scheme"] for item in data["rank_quality"]] == ["equal", "tiered", "baseline"]
    assert data["differences"][0]["versus"] == "equal"
    for item in data["rank_quality"]:
        assert item["ci_low"] <= item["spearman"] <= item["ci_high"]
    assert len(seen) >= 2
    assert seen == sorted(seen)


async def test_a_file_in_an_allowed_directory_gives_the_comparison_of_its_rows(
    tmp_path: Path,
) -> None:
    """The file's rows compared equal the same rows given inline (CSV round trip: the demo's
    values are written with full precision); outside file access the path is refused."""
    rows = demo_cohort_rows()
    pd.DataFrame(rows).to_csv(tmp_path / "cohort.csv", index=False)
    arguments = {"path": "cohort.csv", "outcome": "next_gmv", "n_boot": 50}
    async with Client(build_server(ServerConfig(allowed_dirs=(str(tmp_path),)))) as client:
        from_file = await client.call_tool("compare_weighting", arguments)
    async with Client(build_server(ServerConfig())) as client:
        refused = await client.call_tool("compare_weighting", arguments)
    expected = compare_cohort(rows, outcome="next_gmv", n_boot=50)
    assert from_file.structured_content == expected.model_dump(mode="json")
    assert refused.is_error
    message = refused.content[0].text  # type: ignore[union-attr]
    assert message.startswith("compare_weighting was not run: path cannot be read")


async def test_a_file_with_everyday_headers_is_read_as_score_cohort_reads_it(
    tmp_path: Path,
) -> None:
    """Headers an analyst exports (Creator, Followers, GMV, Conversion Rate, Views) are
    recognised, `columns` maps one that is not ("weekly cadence"), and the outcome keeps its
    header: the comparison equals the one of the same rows under canonical names."""
    rows = demo_cohort_rows()
    everyday = {
        "creator_id": "Creator",
        "follower_count": "Followers",
        "gmv": "GMV",
        "conversion_rate": "Conversion Rate",
        "views": "Views",
        "posts_per_week": "weekly cadence",
    }
    pd.DataFrame(rows).rename(columns=everyday).to_csv(tmp_path / "export.csv", index=False)
    arguments: dict[str, Any] = {"path": "export.csv", "outcome": "next_gmv", "n_boot": 50}
    async with Client(build_server(ServerConfig(allowed_dirs=(str(tmp_path),)))) as client:
        unmapped = await client.call_tool("compare_weighting", arguments)
        mapped = await client.call_tool(
            "compare_weighting", {**arguments, "columns": {"weekly cadence": "posts_per_week"}}
        )
        on_metrics = await client.call_tool(
            "compare_weighting", {"metrics": {"gmv": 5.0}, "columns": {"GMV": "gmv"}}
        )
    expected = compare_cohort(rows, outcome="next_gmv", n_boot=50)
    assert mapped.structured_content == expected.model_dump(mode="json")
    # without the mapping the unrecognised column is not a metric: it answers, but the scores
    # miss posting frequency
    assert not unmapped.is_error
    assert unmapped.structured_content is not None
    assert unmapped.structured_content["scores"] != expected.model_dump(mode="json")["scores"]
    assert on_metrics.is_error
    assert on_metrics.content[0].text.startswith(  # type: ignore[union-attr]
        "compare_weighting was not run: columns applies to creators or path"
    )


@pytest.mark.parametrize("outcome", ["gmv", "total_revenue", "gpm"])
async def test_a_same_period_outcome_is_refused_as_circular(outcome: str) -> None:
    rows = demo_cohort_rows()
    async with Client(build_server()) as client:
        result = await client.call_tool("compare_weighting", {"creators": rows, "outcome": outcome})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith("compare_weighting was not run: outcome must be a later period's")


EXACTLY_ONE = "give exactly one of metrics (one creator), creators (a cohort) or path (a file)."


@pytest.mark.parametrize(
    ("arguments", "text"),
    [
        ({}, f"metrics or creators or path is required - {EXACTLY_ONE}"),
        (
            {"metrics": {"gmv": 5.0}, "creators": []},
            f"creators cannot be given with metrics - {EXACTLY_ONE}",
        ),
        ({"creators": [], "path": "x.csv"}, f"path cannot be given with creators - {EXACTLY_ONE}"),
        (
            {"metrics": {"gmv": 5.0}, "n_boot": 5},
            "n_boot must be a whole number in [20, 100000]; got 5.",
        ),
        (
            {"metrics": {"gmv": 5.0}, "folds": 2.5},
            "folds must be a whole number in [2, 20]; got 2.5.",
        ),
    ],
)
async def test_either_or_and_bound_errors_read_as_sentences(
    arguments: dict[str, Any], text: str
) -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("compare_weighting", arguments)
    assert result.is_error
    assert result.content[0].text == f"compare_weighting was not run: {text}"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"metrics": {"gmv": 5.0}, "schemes": []}, "schemes"),
        ({"metrics": {"gmv": 5.0}, "schemes": ["tiered", "fitted"]}, "schemes"),
        ({"metrics": {"gmv": 5.0}, "outcome": "next_gmv"}, "outcome needs a cohort"),
        ({"metrics": {"gmv": 5.0}, "baseline": "gmv"}, "baseline needs a cohort"),
    ],
)
async def test_bad_comparison_arguments_name_the_field(
    arguments: dict[str, Any], field: str
) -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("compare_weighting", arguments)
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith(f"compare_weighting was not run: {field}"), text


def test_the_readme_quotes_the_demo_figures_the_tool_computes() -> None:
    """Every quoted line: tiered against equal, and the baseline against both schemes."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    result = compare_cohort(demo_cohort_rows(), ["equal", "tiered"], "next_gmv")
    quoted = [
        text
        for text in result.summary.splitlines()
        if text.startswith(
            ("- tiered versus equal", "- baseline", "- equal ranks", "- tiered ranks")
        )
    ]
    assert len(quoted) == 4
    for line in quoted:
        assert f"\n{line}\n" in readme


async def test_an_outcome_tracking_gmv_is_refused_until_allow_persistent_outcome_is_given() -> None:
    """gmv x 1.01 rounded to cents tracks gmv exactly in order (but is not proportional within
    1e-9): refused by default with the option named; accepted with it, the warning in the
    text and in the structured summary alike."""
    rows = [
        {**row, "later_gmv": round(float(cast("float", row["gmv"])) * 1.01 + 0.003, 2)}
        for row in demo_cohort_rows()
    ]
    arguments: dict[str, Any] = {"creators": rows, "outcome": "later_gmv", "n_boot": 20}
    async with Client(build_server()) as client:
        refused = await client.call_tool("compare_weighting", arguments)
        allowed = await client.call_tool(
            "compare_weighting", {**arguments, "allow_persistent_outcome": True}
        )
    assert refused.is_error
    assert "pass allow_persistent_outcome=true" in refused.content[0].text  # type: ignore[union-attr]
    data = allowed.structured_content
    assert data is not None
    assert data["summary"] == allowed.content[0].text  # type: ignore[union-attr]
    assert "Warning: later_gmv has rank correlation 1.0000 with gmv" in data["summary"]
