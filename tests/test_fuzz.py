"""Robustness under bad input: every tool the server lists, fed corrupted arguments.

The generator (tests/fuzz_cases.py) takes a known-good call of each tool, corrupts one field in
one known way and says what a right answer is; see its docstring for the corruptions and for how
an error must name the field. The tool list comes from ``tools/list``, so a tool added later is
fuzzed without touching this file (or fails here, clearly, until it has a known-good call).

Profiles: ``fuzz-ci`` (the default: derandomized, no deadline, :data:`CASES_PER_TOOL` cases per
tool) and ``fuzz-deep`` (random, ten times as many); choose with ``FUZZ_PROFILE=fuzz-deep``.
bench/bench_fuzz.py runs the same cases by the ten thousand over stdio.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.types import CallToolResult

from server import build_server
from tests.conftest import StdioFactory
from tests.fuzz_cases import (
    BASE_ARGUMENTS,
    INVALID_REQUEST,
    KINDS,
    MAX_ARGUMENT_DEPTH,
    PARSE_ERROR,
    SETUP_CALLS,
    Case,
    Fuzzer,
    RandomChooser,
    ToolSpec,
    Verdict,
    base_arguments,
    json_depth,
    judge,
    point_case,
    result_text,
    targets,
    valid_case,
)
from transport._json import MAX_JSON_DEPTH

#: Seconds a call may take before it counts as unanswered (the server's own limit is 120 s).
CALL_TIMEOUT = 30.0
#: The least number of corrupted calls each tool gets in the CI profile.
MIN_CASES = 300
#: Cases per tool in the CI profile, sized by the tool's cost: the cheap ones get more.
CASES_PER_TOOL: dict[str, int] = {
    "score_creator": 400,
    "design_ab_test": 500,
    "record_outcome": 400,
    "list_experiments": 400,
}

settings.register_profile(
    "fuzz-ci",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=MIN_CASES,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz-deep",
    deadline=None,
    database=None,
    max_examples=10 * MIN_CASES,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE_NAME = os.environ.get("FUZZ_PROFILE", "fuzz-ci")
PROFILE = settings.get_profile(PROFILE_NAME)


def cases_for(tool: str) -> int:
    scale = 10 if PROFILE_NAME == "fuzz-deep" else 1
    return scale * CASES_PER_TOOL.get(tool, MIN_CASES)


class HypothesisChooser:
    """The generator's choices, drawn by hypothesis (so a failure shrinks to a simple case)."""

    def __init__(self, data: st.DataObject) -> None:
        self._data = data

    def index(self, count: int) -> int:
        return self._data.draw(st.integers(0, count - 1))


class FuzzClient:
    """One in-memory client on a background event loop, for synchronous hypothesis tests."""

    def __init__(self, portal: BlockingPortal, client: Client) -> None:
        self._portal = portal
        self._client = client
        listed = portal.call(client.list_tools)
        self.specs = {tool.name: ToolSpec.from_listing(tool) for tool in listed.tools}
        self.calls = 0

    async def _call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult | Exception:
        try:
            with anyio.fail_after(CALL_TIMEOUT + 5):
                return await self._client.call_tool(
                    tool, arguments, read_timeout_seconds=CALL_TIMEOUT
                )
        except Exception as error:  # an unanswered or broken call: judge() reports it
            return error

    def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult | Exception:
        self.calls += 1
        return self._portal.call(self._call, tool, arguments)

    def setup(self, tool: str) -> None:
        """The calls a tool's known-good arguments depend on (a registered plan, say)."""
        for name, arguments in SETUP_CALLS.get(tool, ()):
            answer = self.call(name, arguments)
            assert isinstance(answer, CallToolResult), answer
            assert not answer.is_error, f"setup of {tool}: {result_text(answer)}"


def listed_tools() -> dict[str, ToolSpec]:
    """The tools the server lists now (collection time; the tests re-read them at test time)."""

    async def listing() -> dict[str, ToolSpec]:
        async with Client(build_server()) as client:
            listed = (await client.list_tools()).tools
        return {tool.name: ToolSpec.from_listing(tool) for tool in listed}

    return anyio.run(listing)


def number_paths(spec: ToolSpec) -> list[tuple[str | int, ...]]:
    """Where the tool's first known-good call holds a number (not a boolean)."""
    return [
        target.path
        for target in targets(spec.inputs, base_arguments(spec)[0])
        if target.present
        and isinstance(target.value, int | float)
        and not isinstance(target.value, bool)
    ]


LISTED = listed_tools()
TOOLS = list(LISTED)
#: The tools whose known-good call has a number to replace with NaN or infinity.
TOOLS_WITH_NUMBERS = [tool for tool, spec in LISTED.items() if number_paths(spec)]


@pytest.fixture
def fuzz_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FuzzClient]:
    """A fresh server (its own experiment store) and one client for the whole test."""
    monkeypatch.setenv("CREATOR_KPI_DB", str(tmp_path / "experiments.sqlite3"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(build_server())) as client,
    ):
        yield FuzzClient(portal, client)


def failure(case: Case, verdict: Verdict) -> str:
    return f"{verdict.reason}\n{case.describe()}"


@pytest.mark.parametrize("tool", TOOLS)
def test_the_uncorrupted_call_is_accepted_within_the_output_schema(
    tool: str, fuzz_client: FuzzClient
) -> None:
    spec = fuzz_client.specs[tool]
    fuzz_client.setup(tool)
    source = (
        "its entry in BASE_ARGUMENTS"
        if tool in BASE_ARGUMENTS
        else "arguments derived from its input schema (it has no entry in BASE_ARGUMENTS)"
    )
    for arguments in base_arguments(spec):
        case = valid_case(spec, arguments)
        verdict = judge(spec, case, fuzz_client.call(tool, arguments))
        assert verdict.outcome == "accepted", (
            f"{tool} refused {source}: {verdict.reason}\nGive {tool} a known-good call in "
            f"BASE_ARGUMENTS (tests/fuzz_cases.py), and SETUP_CALLS if it needs a prior call."
        )


@pytest.mark.parametrize("tool", TOOLS)
def test_every_corruption_is_refused_naming_its_field_or_accepted_within_the_output_schema(
    tool: str, fuzz_client: FuzzClient
) -> None:
    spec = fuzz_client.specs[tool]
    fuzzer = Fuzzer(spec)
    fuzz_client.setup(tool)
    outcomes: dict[str, int] = {}

    @settings(parent=PROFILE, max_examples=cases_for(tool))
    @given(data=st.data())
    def one_case(data: st.DataObject) -> None:
        case = fuzzer.draw(HypothesisChooser(data))
        verdict = judge(spec, case, fuzz_client.call(tool, case.arguments))
        outcomes[verdict.outcome] = outcomes.get(verdict.outcome, 0) + 1
        assert verdict.ok, failure(case, verdict)

    one_case()
    assert fuzz_client.calls >= cases_for(tool), fuzz_client.calls
    assert outcomes.get("named", 0) > 0, outcomes  # a fuzzer that never hits an error is broken


@pytest.mark.parametrize("tool", TOOLS)
def test_the_generator_knows_which_field_it_corrupted_and_stays_below_the_depth_limit(
    tool: str, fuzz_client: FuzzClient
) -> None:
    fuzzer = Fuzzer(fuzz_client.specs[tool])
    chooser = RandomChooser(2026)
    kinds: set[str] = set()
    for _ in range(200):
        case = fuzzer.draw(chooser)
        kinds.add(case.kind)
        assert json_depth(case.arguments) <= MAX_ARGUMENT_DEPTH
        assert case.fields or case.prefixes, case.describe()
        parent: Any = case.arguments
        for part in case.path[:-1]:
            parent = parent[part]
        if case.kind == "missing":
            assert case.path[-1] not in parent, case.describe()
        elif case.path:
            assert case.path[-1] in (parent if isinstance(parent, dict) else range(len(parent)))
    assert len(kinds) >= len(KINDS) // 2, sorted(kinds)


@pytest.mark.parametrize("tool", TOOLS_WITH_NUMBERS)
def test_nan_and_infinity_reach_the_tool_as_null(tool: str, fuzz_client: FuzzClient) -> None:
    """JSON has no NaN: the client sends null, so NaN, inf and null get the very same answer."""
    spec = fuzz_client.specs[tool]
    fuzz_client.setup(tool)
    base = base_arguments(spec)[0]
    path = number_paths(spec)[0]
    answers: list[tuple[bool, str]] = []
    for value in (math.nan, math.inf, -math.inf, None):
        answer = fuzz_client.call(tool, point_case(spec, base, path, value).arguments)
        assert isinstance(answer, CallToolResult), answer
        answers.append((bool(answer.is_error), result_text(answer)))
    assert answers[:3] == [answers[3]] * 3


#: Inputs that broke a tool before the fix named in the report (each a regression case):
#: (tool, index of the known-good call, path, value, the outcome it must have).
REGRESSIONS: list[tuple[str, int, tuple[str | int, ...], object, str]] = [
    # a JSON integer beyond the float range: OverflowError in float()
    ("score_creator", 0, ("metrics", "gmv"), 10**400, "named"),
    ("score_creator", 0, ("weighting", "engagement"), 10**400, "named"),
    ("design_ab_test", 0, ("baseline",), 10**400, "named"),
    ("design_ab_test", 0, ("arms",), 10**400, "named"),
    ("analyze_ab_test", 1, ("arms", 0, "n"), 10**400, "named"),
    ("score_cohort", 0, ("min_coverage",), 10**400, "named"),
    # a duration next to 0: the derived watch ratio overflowed (a RuntimeWarning, an error here)
    ("score_creator", 0, ("metrics", "avg_video_duration_s"), 5e-324, "accepted"),
    ("diagnose", 0, ("metrics", "avg_video_duration_s"), 5e-324, "accepted"),
    # a JSON integer longer than Python prints (4300 digits): ValueError in the error's echo
    ("score_creator", 0, ("metrics", "orders"), 10**5000, "named"),
    # an unbounded plan count: ValueError when the plan was written out as JSON
    ("register_experiment", 0, ("plan", "n_per_arm", 0), 10**5000, "named"),
    ("register_experiment", 0, ("plan", "duration_days"), 10**5000, "named"),
    # numbers whose squares or quotients leave the float range in the experiment maths
    ("design_ab_test", 0, ("baseline",), 5e-324, "named"),
    ("design_ab_test", 1, ("baseline_sd",), 1e300, "named"),
    ("design_ab_test", 0, ("mde",), 1e-300, "named"),
    ("design_ab_test", 0, ("daily_units",), 5e-324, "named"),
    ("design_ab_test", 0, ("alpha",), 1e-30, "named"),
    ("analyze_ab_test", 1, ("arms", 0, "sd"), 1e308, "named"),
    ("analyze_ab_test", 0, ("arms", 1, "units"), 1.7976931348623157e308, "named"),
    ("analyze_ab_test", 1, ("arms", 0, "mean"), 5e-324, "accepted"),
    ("analyze_ab_test", 1, ("arms", 1, "mean"), 1e-9, "accepted"),
    ("analyze_ab_test", 1, ("arms", 1, "sd"), 1e-155, "accepted"),
    # (read and refused as differing from the recorded outcome, after its lift was computed)
    ("record_outcome", 0, ("arms", 0, "mean"), 5e-324, "named"),
    # a key that is empty, blank or invisible is named quoted, so the reader can see it
    ("score_creator", 0, ("",), 1, "named"),
    ("score_creator", 0, ("metrics", "gmv\u200b"), 1, "named"),
    ("analyze_ab_test", 0, ("arms", 1, " "), 1, "named"),
    # a cohort row that is not an object is rejected as a row, not the whole call
    ("score_cohort", 0, ("creators", 1), "twelve", "accepted"),
    # a creator id of over 4300 digits: ValueError in the row's echo
    ("score_cohort", 0, ("creators", 0, "creator_id"), 10**5000, "accepted"),
    # per-arm planned counts were accepted while the published schema allowed one int only
    ("analyze_ab_test", 1, ("planned_n_per_arm",), [800, 790], "accepted"),
    # options of a cohort comparison are checked in single mode too
    ("compare_weighting", 0, ("seed",), [[1]], "named"),
    ("compare_weighting", 0, ("k",), None, "named"),
]


@pytest.mark.parametrize(
    ("tool", "variant", "path", "value", "outcome"),
    REGRESSIONS,
    ids=[
        f"{tool}-{'.'.join(map(str, path))}-{i}"
        for i, (tool, _, path, _, _) in enumerate(REGRESSIONS)
    ],
)
def test_inputs_that_once_broke_a_tool_now_get_a_right_answer(
    tool: str,
    variant: int,
    path: tuple[str | int, ...],
    value: object,
    outcome: str,
    fuzz_client: FuzzClient,
) -> None:
    assert tool in fuzz_client.specs, f"{tool} is a public tool but the server does not list it"
    spec = fuzz_client.specs[tool]
    fuzz_client.setup(tool)
    case = point_case(spec, base_arguments(spec)[variant], path, value)
    verdict = judge(spec, case, fuzz_client.call(tool, case.arguments))
    assert verdict.ok, failure(case, verdict)
    assert verdict.outcome == outcome, failure(case, verdict)


#: Deeper than mcp 2.3.0 parses at all (about 200 levels with the JSON-RPC envelope).
TOO_DEEP_FOR_THE_SDK = 250


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.anyio
async def test_over_stdio_a_message_too_deep_or_too_long_to_parse_gets_an_error_with_its_id(
    stdio_server: StdioFactory, tmp_path: Path
) -> None:
    """mcp 2.3.0's stdio reader drops a message it cannot parse, and the client waits forever.

    Two kinds of message fail there before any server code runs: one nested deeper than about
    200 levels, and one holding an integer of more than 4300 digits (Python's limit on reading
    an int from text). The server's stdio guard (transport/stdio.py) answers both with a JSON-RPC
    error carrying the request's id, and refuses any message nested deeper than its own limit
    (64 levels, envelope included) the same way; the next call is served as usual.
    """
    metrics = {"gmv": 1_000.0, "views": 50_000}
    env = {"CREATOR_KPI_DB": str(tmp_path / "experiments.sqlite3")}
    # {"params": {"arguments": {"metrics": {"orders": ...}}}}: 4 levels above the value
    at_limit = MAX_JSON_DEPTH - 4
    async with stdio_server(env=env) as client:
        answered = await client.call_tool(
            "score_creator", {"metrics": {**metrics, "orders": nested(at_limit)}}
        )
        assert result_text(answered).startswith("score_creator was not run: orders must be")
        for unparseable, code in (
            (nested(at_limit + 1), INVALID_REQUEST),
            (nested(TOO_DEEP_FOR_THE_SDK), INVALID_REQUEST),
            (10**5000, PARSE_ERROR),
        ):
            arguments = {"metrics": {**metrics, "orders": unparseable}}
            with pytest.raises(MCPError) as refused:
                await client.call_tool("score_creator", arguments, read_timeout_seconds=30)
            assert refused.value.code == code, refused.value.message
        still = await client.call_tool("score_creator", {"metrics": metrics})
        assert not still.is_error
