"""Benchmark: a flood of sessions and one greedy session over HTTP, each against a baseline run
in the same command (medians of --runs runs; the machine is noisy).

Part 1 (flood): the server holds at most 50 sessions (CREATOR_KPI_MAX_SESSIONS); 20 flooders
send --flood `initialize` requests (default 2,000) that never come back, while a legitimate
client (the 2025-11-25 handshake, which opens a session) connects and calls score_creator again
and again. Printed: the share of those probes served and their median time against the same
probe on the idle server, and the share a bare SDK server with the same limit serves during the
same flood (what happened before: 503 "Too many open sessions").

Part 2 (fairness): one session sends 45 concurrent compare_weighting calls on the demo cohort;
0.5 s later another client calls score_creator. Printed: that call's time against its median on
the idle server, with the per-client cap (CREATOR_KPI_CALLS_PER_CLIENT=8, the default) and
without one (1000: what happened before), and how many of the 45 had finished first.

    python -m bench.bench_sessions [--runs 3] [--flood 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2

from bench.bench_load import (
    POST_HEADERS,
    PROTOCOL_VERSION,
    ROOT,
    CallFailedError,
    RawSession,
    demo,
    running,
)
from kpi_core.demo import demo_cohort_rows

TABLE = 50
FLOODERS = 20
GREEDY_CALLS = 45
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "flood", "version": "1"},
    },
}


async def probe(url: str) -> float | None:
    """A new client connects and scores one creator: the seconds it took, None if refused."""
    started = time.perf_counter()
    async with httpx2.AsyncClient(timeout=120) as http:
        session = RawSession(http, url)
        try:
            await session.open()
            await session.call_tool("score_creator", {"metrics": demo(0)})
        except CallFailedError:
            return None
        elapsed = time.perf_counter() - started
        await session.close()
    return elapsed


async def idle_probes(url: str, count: int = 7) -> float:
    times = [await probe(url) for _ in range(count)]
    return statistics.median(t for t in times if t is not None)


async def flood(url: str, total: int) -> tuple[list[float | None], float]:
    """`total` initialize requests from FLOODERS clients, probing a legitimate client meanwhile
    (once the flood has sent twice the table); returns the probes and the flood's rate."""
    sent = 0
    finished = anyio.Event()
    filled = anyio.Event()
    probes: list[float | None] = []

    async def flooder(count: int) -> None:
        nonlocal sent
        async with httpx2.AsyncClient(timeout=120) as http:
            for _ in range(count):
                await http.post(url, headers=POST_HEADERS, json=INITIALIZE)
                sent += 1
                if sent >= 2 * TABLE:
                    filled.set()

    async def prober() -> None:
        await filled.wait()
        while not finished.is_set():
            probes.append(await probe(url))

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        group.start_soon(prober)
        async with anyio.create_task_group() as flooding:
            for _ in range(FLOODERS):
                flooding.start_soon(flooder, total // FLOODERS)
        finished.set()
    return probes, sent / (time.perf_counter() - started)


def _served(probes: list[float | None]) -> str:
    done = [p for p in probes if p is not None]
    return f"{len(done)}/{len(probes)} served"


async def flood_part(ours: str, bare: str, runs: int, total: int) -> None:
    print(f"\nsession flood: a table of {TABLE}, {total:,} initialize requests per run")
    ratios: list[float] = []
    for run in range(runs):
        baseline = await idle_probes(ours)
        probes, rate = await flood(ours, total)
        theirs, their_rate = await flood(bare, total)
        served = [p for p in probes if p is not None]
        ratio = statistics.median(served) / baseline if served else float("inf")
        ratios.append(ratio)
        median_ms = statistics.median(served) * 1000 if served else float("nan")
        print(
            f"  run {run + 1}: ours {_served(probes)}, median {median_ms:.0f}"
            f" ms vs {baseline * 1000:.0f} ms idle ({ratio:.2f}x), flood {rate:,.0f} req/s; "
            f"bare SDK {_served(theirs)}, flood {their_rate:,.0f} req/s"
        )
    overall = statistics.median(ratios)
    print(f"  median time to connect and call during the flood: {overall:.2f}x idle")


async def fairness_run(url: str) -> tuple[float, float, int]:
    """(idle median, the other client's time under the greedy load, greedy calls done first)."""
    rows = demo_cohort_rows()
    arguments = {"creators": rows, "outcome": "next_gmv", "n_boot": 2000}
    done: list[float] = []
    async with (
        httpx2.AsyncClient(timeout=600) as greedy_http,
        httpx2.AsyncClient(timeout=600) as other_http,
    ):
        greedy, other = RawSession(greedy_http, url), RawSession(other_http, url)
        await greedy.open()
        await other.open()
        metrics = {"metrics": demo(0)}
        idle: list[float] = []
        for _ in range(7):
            started = time.perf_counter()
            await other.call_tool("score_creator", metrics)
            idle.append(time.perf_counter() - started)

        async def greedy_call() -> None:
            await greedy.call_tool("compare_weighting", arguments)
            done.append(time.perf_counter())

        timing: list[float] = []  # when the other client asked, and when it was answered
        async with anyio.create_task_group() as group:
            for _ in range(GREEDY_CALLS):
                group.start_soon(greedy_call)
            await anyio.sleep(0.5)
            timing.append(time.perf_counter())
            await other.call_tool("score_creator", metrics)
            timing.append(time.perf_counter())
        asked, answered = timing
        before = sum(1 for moment in done if moment < answered)
        return statistics.median(idle), answered - asked, before


async def fairness_part(capped: str, uncapped: str, runs: int) -> None:
    print(f"\none session with {GREEDY_CALLS} concurrent compare_weighting calls")
    for label, url in (("cap 8 (default)", capped), ("no cap (before)", uncapped)):
        ratios: list[float] = []
        finished_first: list[int] = []
        for _ in range(runs):
            idle, busy, before = await fairness_run(url)
            ratios.append(busy / idle)
            finished_first.append(before)
        print(
            f"  {label:16s} another client's score_creator: {statistics.median(ratios):7.1f}x "
            f"its idle time (runs {', '.join(f'{r:.1f}' for r in ratios)}); greedy calls "
            f"finished before it: {statistics.median(finished_first):.0f} of {GREEDY_CALLS}"
        )


async def run(runs: int, total: int) -> None:
    ours_command = [sys.executable, str(ROOT / "server.py"), "--transport", "http", "--port", "0"]
    bare_command = [sys.executable, "-m", "bench.bench_load", "--bare-server", "--port", "0"]
    with tempfile.TemporaryDirectory(prefix="creator-kpi-sessions-") as folder:
        where = Path(folder)
        limit = {"CREATOR_KPI_MAX_SESSIONS": str(TABLE)}
        with (
            running(ours_command, where, "ours", limit) as ours,
            running([*bare_command, "--max-sessions", str(TABLE)], where, "bare") as bare,
        ):
            await flood_part(f"{ours}/mcp", f"{bare}/mcp", runs, total)
        uncapped_env = {"CREATOR_KPI_CALLS_PER_CLIENT": "1000"}
        with (
            running(ours_command, where, "capped") as capped,
            running(ours_command, where, "uncapped", uncapped_env) as uncapped,
        ):
            await fairness_part(f"{capped}/mcp", f"{uncapped}/mcp", runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--flood", type=int, default=2000, help="initialize requests per run")
    args = parser.parse_args()
    anyio.run(run, args.runs, args.flood)


if __name__ == "__main__":
    main()
