"""The error edge: time limits, internal errors and progress, on the real run_tool."""

from __future__ import annotations

import itertools
import threading

import pytest
from mcp.types import CallToolResult, TextContent

from kpi_core.errors import InvalidValueError
from tools._edge import CallControl, run_tool

pytestmark = pytest.mark.anyio


def text_of(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def test_a_body_that_outruns_the_time_limit_is_stopped_with_a_clear_error() -> None:
    ended = threading.Event()

    def endless(control: CallControl) -> CallToolResult:
        try:
            for step in itertools.count():
                control.progress(step, float("inf"))
        finally:
            ended.set()
        raise AssertionError("unreachable")

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
