"""The error edge: time limits, internal errors, cancellation and progress, on the real run_tool."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable

import anyio
import anyio.to_thread
import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from kpi_core.errors import InvalidValueError
from server import build_server
from tools._config import ServerConfig
from tools._edge import CallControl, PathRedactor, run_tool

pytestmark = pytest.mark.anyio

#: Bound on every wait for the server; the machine may be busy.
WAIT_S = 60.0


def text_of(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def endless_body(
    started: threading.Event, ended: threading.Event
) -> Callable[[CallControl], CallToolResult]:
    """A body that reports progress forever: it ends only when its call's stop flag is set."""

    def endless(control: CallControl) -> CallToolResult:
        started.set()
        try:
            for step in itertools.count():
                control.progress(step, float("inf"))
        finally:
            ended.set()
        raise AssertionError("unreachable")

    return endless


async def test_a_body_that_outruns_the_time_limit_is_stopped_with_a_clear_error() -> None:
    ended = threading.Event()
    endless = endless_body(threading.Event(), ended)
    result = await run_tool("slow_tool", endless, time_limit=0.2)
    assert result.is_error
    assert text_of(result).startswith("slow_tool was stopped: it ran longer than the 0.2 s limit")
    assert ended.wait(timeout=10), "the abandoned body must stop at its next progress report"


async def test_an_unexpected_exception_is_reported_without_the_sdk_prefix_or_its_text() -> None:
    def broken(_: CallControl) -> CallToolResult:
        raise ValueError("secret internal detail")

    result = await run_tool("broken_tool", broken, time_limit=5)
    assert result.is_error
    assert text_of(result).startswith("broken_tool failed with an internal error")
    assert "secret" not in text_of(result)


async def test_a_core_error_names_field_rule_and_value() -> None:
    def refusing(_: CallControl) -> CallToolResult:
        raise InvalidValueError("top_n", "must be at least 1", 0, "ask for 1 or more")

    result = await run_tool("some_tool", refusing, time_limit=5)
    assert (
        text_of(result)
        == "some_tool was not run: top_n must be at least 1; got 0 - ask for 1 or more."
    )


async def test_progress_reports_reach_the_sender_in_order() -> None:
    seen: list[tuple[float, float | None]] = []

    async def sender(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))

    def counting(control: CallControl) -> CallToolResult:
        for step in range(1, 4):
            control.progress(step, 3)
        return CallToolResult(content=[TextContent(type="text", text="done")])

    result = await run_tool("counting_tool", counting, time_limit=5, send_progress=sender)
    assert not result.is_error
    assert seen == [(1, 3), (2, 3), (3, 3)]


async def test_each_progress_report_says_what_the_describer_says_unless_it_brings_its_own() -> None:
    seen: list[tuple[float, str | None]] = []

    async def sender(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, message))

    def counting(control: CallControl) -> CallToolResult:
        control.progress(1, 3)
        control.progress(2, 3, "an explicit message")
        control.progress(3, 3)
        return CallToolResult(content=[TextContent(type="text", text="done")])

    result = await run_tool(
        "counting_tool",
        counting,
        time_limit=5,
        send_progress=sender,
        describe_progress=lambda done, total: f"counted {done:g} of {total:g}",
    )
    assert not result.is_error
    assert seen == [(1, "counted 1 of 3"), (2, "an explicit message"), (3, "counted 3 of 3")]


Report = tuple[float, float | None, str | None]


async def progress_of(tool: str, arguments: dict[str, object]) -> list[Report]:
    """Every progress notification the real client's callback receives during one call."""
    seen: list[Report] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(build_server()) as client:
        result = await client.call_tool(tool, arguments, progress_callback=on_progress)
    assert not result.is_error, result.content
    return seen


async def test_cohort_progress_reaches_the_client_saying_which_step_is_under_way() -> None:
    """A list is checked, scored, ranked and summarised (the steps end at 60, 70, 85 and 100 of
    100, kpi_core.cohorts.cohort.STEP_ENDS); a pasted CSV is read first (up to 20)."""
    from kpi_core.demo import demo_cohort_rows

    rows = demo_cohort_rows(outcome_fields=False)
    listed = await progress_of("score_cohort", {"creators": rows})
    assert [message for _, _, message in listed[-4:]] == [
        "Scoring the creators (60% of the call done).",
        "Ranking the leaderboard (70% of the call done).",
        "Summarising the score distribution (85% of the call done).",
        "Scored and summarised the cohort; writing the answer.",
    ]
    assert {message for _, _, message in listed[:-4]} == {
        f"Checking each creator's metrics ({round(done)}% of the call done)."
        for done, _, _ in listed[:-4]
    }
    header = ",".join(rows[0])
    lines = [",".join(str(row.get(name, "")) for name in rows[0]) for row in rows]
    pasted = await progress_of("score_cohort", {"csv_text": "\n".join([header, *lines])})
    assert pasted[0][2] is not None
    assert pasted[0][2].startswith("Reading the file (")
    assert pasted[-1][2] == "Scored and summarised the cohort; writing the answer."
    assert all(total == 100 for _, total, _ in [*listed, *pasted])


async def test_comparison_progress_reaches_the_client_counting_the_resamples() -> None:
    from kpi_core.demo import demo_cohort_rows

    arguments: dict[str, object] = {
        "creators": demo_cohort_rows(),
        "outcome": "next_gmv",
        "n_boot": 40,
    }
    seen = await progress_of("compare_weighting", arguments)
    assert [(done, total) for done, total, _ in seen] == [(float(n), 40.0) for n in range(2, 41, 2)]
    assert seen[0][2] == (
        "Measuring how well each scheme ranks the outcome: 2 of 40 bootstrap resamples done."
    )
    assert seen[-1][2] == (
        "Measured how well each scheme ranks the outcome on all 40 bootstrap resamples; "
        "writing the answer."
    )


async def test_a_call_the_client_cancels_is_logged_as_cancelled_and_its_body_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The real client cancels its own call (it sends notifications/cancelled); the server logs
    the call as cancelled, never as an internal error, and the body stops at its next check."""
    started, ended = threading.Event(), threading.Event()
    spinning = endless_body(started, ended)

    async def spin() -> CallToolResult:
        return await run_tool("spin", spinning, time_limit=WAIT_S)

    server = build_server(ServerConfig())
    server.add_tool(spin, name="spin", description="Runs until it is cancelled.")
    caplog.set_level(logging.INFO, logger="creator_kpi.tools")
    async with Client(server) as client:
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "spin", {})
            assert await anyio.to_thread.run_sync(started.wait, WAIT_S)
            group.cancel_scope.cancel()
        assert await anyio.to_thread.run_sync(ended.wait, WAIT_S)
        after = await client.call_tool("score_creator", {"metrics": {"views": 1000}})
    about_spin = [r.getMessage() for r in caplog.records if "tool spin" in r.getMessage()]
    assert about_spin == ["tool spin cancelled by the client"]
    assert not after.is_error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "allowed: '/srv/a, /srv/b/'; set X",
            "allowed: 'the allowed directories'; set X",
        ),
        ("Failed to open '/srv/b/sub/x.parquet'.", "Failed to open 'sub/x.parquet'."),
        ("allowed: '/srv/a, /sr...", "allowed: 'an allowed directory, a server path..."),
        ("experiment store /var/lib/kpi/e.sqlite3 is locked", "the experiment store is locked"),
        ("got '/home/me/x.csv' - no", "got '/home/me/x.csv' - no"),
        ("got '/home/me/very/long/na...' - no", "got '/home/me/very/long/na...' - no"),
        ("got '/home/me/other.csv'", "got 'a server path'"),
        ("see kpi://metrics, 1/2 and/or 3 / 4", "see kpi://metrics, 1/2 and/or 3 / 4"),
        (r"at C:\data\x.csv", "at a server path"),
    ],
    ids=[
        "allowed-list",
        "inside-allowed",
        "truncated-list",
        "store",
        "client-path",
        "client-path-truncated",
        "other-path",
        "not-paths",
        "windows",
    ],
)
def test_the_path_redactor_describes_server_paths_and_keeps_the_clients_own(
    text: str, expected: str
) -> None:
    client_said = {"/home/me/x.csv", "/home/me/very/long/name.csv"}
    assert PathRedactor(["/srv/a", "/srv/b/"])(text, client_said) == expected
