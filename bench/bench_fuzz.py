"""Benchmark: 10,000+ fuzz cases over stdio against a real server process.

Starts ``python -W error server.py`` as a subprocess the way a desktop client does (warnings as
errors, as in the tests; its stderr goes to a log file, its experiment store to a temporary
directory), lists its tools, and sends each tool in
turn a corrupted call drawn by the generator of tests/fuzz_cases.py from a seeded RNG. Every
answer is judged as tests/test_fuzz.py judges it. Bounded: each call has a timeout (an unanswered
call counts as a failure and the run goes on), and the whole run has a time budget.

Prints the counts: total, per tool, errors that named the corrupted field, calls accepted with
schema-valid structured content, whole messages the transport guard refused with a JSON-RPC error
carrying their id (nested deeper than its limit, or an integer too long to read: over stdio the
arguments travel in a message, unlike in memory), and failures (internal errors, unanswered
calls, errors not naming the field, results breaking the output schema), which must be 0. Exits 1
otherwise.

    python -m bench.bench_fuzz [--cases 10000] [--seed 1] [--timeout 30] [--budget 1800]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult

from tests.fuzz_cases import (
    SETUP_CALLS,
    Case,
    Fuzzer,
    RandomChooser,
    ToolSpec,
    Verdict,
    base_arguments,
    judge,
    valid_case,
)

ROOT = Path(__file__).resolve().parent.parent
#: Failures printed in full (the counts cover all of them).
SHOWN_FAILURES = 10


@dataclass
class Tally:
    """Counts per tool and outcome, and the first failures in full."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter[tuple[str, str]])
    failures: list[str] = field(default_factory=list[str])

    def add(self, tool: str, case: Case, verdict: Verdict) -> None:
        self.counts[tool, verdict.outcome] += 1
        if not verdict.ok and len(self.failures) < SHOWN_FAILURES:
            self.failures.append(f"{verdict.reason}\n{case.describe()}")

    def total(self, outcome: str | None = None) -> int:
        return sum(n for (_, seen), n in self.counts.items() if outcome in (None, seen))


def server_parameters(store: Path) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k.startswith(("PYTHON", "VIRTUAL"))}
    env |= {"CREATOR_KPI_DB": str(store / "experiments.sqlite3"), "XDG_DATA_HOME": str(store)}
    # Warnings are errors in the server, as in the tests: a numeric warning (an overflow, say)
    # is then the internal error it would be under pytest, and is counted, not just logged.
    return StdioServerParameters(
        command=sys.executable,
        args=["-W", "error", str(ROOT / "server.py")],
        env=env,
        cwd=str(ROOT),
    )


async def answer(
    client: Client, tool: str, arguments: dict[str, object], timeout: float
) -> CallToolResult | Exception:
    try:
        with anyio.fail_after(timeout + 5):
            return await client.call_tool(tool, arguments, read_timeout_seconds=timeout)
    except Exception as error:  # unanswered or broken: judged as a failure, the run goes on
        return error


async def prepare(client: Client, spec: ToolSpec, timeout: float) -> None:
    """The setup calls a tool needs, then its uncorrupted calls, which must be accepted."""
    for name, arguments in SETUP_CALLS.get(spec.name, ()):
        reply = await answer(client, name, arguments, timeout)
        assert isinstance(reply, CallToolResult), reply
        assert not reply.is_error, reply.content
    for arguments in base_arguments(spec):
        reply = await answer(client, spec.name, arguments, timeout)
        verdict = judge(spec, valid_case(spec, arguments), reply)
        assert verdict.outcome == "accepted", f"{spec.name}: {verdict.reason}"


async def run(cases: int, seed: int, timeout: float, budget: float, log: Path) -> Tally:
    tally = Tally()
    with tempfile.TemporaryDirectory() as store, log.open("w") as errlog:
        async with Client(stdio_client(server_parameters(Path(store)), errlog=errlog)) as client:
            specs = [ToolSpec.from_listing(tool) for tool in (await client.list_tools()).tools]
            fuzzers = [Fuzzer(spec) for spec in specs]
            for spec in specs:
                await prepare(client, spec, timeout)
            chooser = RandomChooser(seed)
            deadline = time.monotonic() + budget
            for index in range(cases):
                if time.monotonic() > deadline:
                    print(f"stopped at the {budget:g} s budget after {index} cases")
                    break
                fuzzer = fuzzers[index % len(fuzzers)]
                case = fuzzer.draw(chooser)
                reply = await answer(client, case.tool, case.arguments, timeout)
                tally.add(case.tool, case, judge(fuzzer.spec, case, reply))
    return tally


def report(tally: Tally, elapsed: float, seed: int, log: Path) -> None:
    tools = sorted({tool for tool, _ in tally.counts})
    total = tally.total()
    print(
        f"fuzz over stdio: {total:,} cases over {len(tools)} tools, seed {seed}, "
        f"{elapsed:.1f} s ({total / elapsed:.0f} calls/s); server stderr: {log}"
    )
    outcomes = ("named", "accepted", "refused", "failed")
    print(f"{'tool':<22}{'cases':>8}{'named':>8}{'accepted':>10}{'refused':>9}{'failed':>8}")
    for tool in tools:
        named, accepted, refused, failed = (tally.counts[tool, o] for o in outcomes)
        cases = named + accepted + refused + failed
        print(f"{tool:<22}{cases:>8}{named:>8}{accepted:>10}{refused:>9}{failed:>8}")
    named, accepted, refused, failed = (tally.total(o) for o in outcomes)
    print(f"{'total':<22}{total:>8}{named:>8}{accepted:>10}{refused:>9}{failed:>8}")
    print(f"errors that named the corrupted field:       {named:,}")
    print(f"accepted with schema-valid structured data:  {accepted:,}")
    print(f"whole message refused by the transport guard: {refused:,} (too deep / number too long)")
    print(f"failures (must be 0):                         {failed:,}")
    for text in tally.failures:
        print("\nFAILURE " + text)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds for the whole run")
    parser.add_argument("--log", type=Path, default=Path(tempfile.gettempdir()) / "fuzz-server.log")
    args = parser.parse_args()
    start = time.perf_counter()
    tally = anyio.run(run, args.cases, args.seed, args.timeout, args.budget, args.log)
    report(tally, time.perf_counter() - start, args.seed, args.log)
    if tally.total("failed") or tally.total() < args.cases:
        sys.exit(1)


if __name__ == "__main__":
    main()
