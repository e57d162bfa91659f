"""Benchmark: concurrent MCP clients over streamable HTTP on 127.0.0.1, against a bare floor.

Part 1 (mixed): `--clients` concurrent sessions (default 50) each make `--calls` calls (default
200), cycling through every tool that `tools/list` shows and that `ARGUMENTS` knows how to call
(a tool it does not know is skipped with a note: adding one is one entry in `ARGUMENTS`). Every
call must succeed; prints failures, p50, p99 and calls per second.

Part 2 (floor): `score_creator` alone, the same load, against our server and against a bare SDK
server whose one tool returns a precomputed result of the same size (the same text and
structured content, the same output schema), both over HTTP. The two alternate in rounds so
machine noise hits both alike. Prints both throughputs and their ratio (goal >= 0.6x).

Both servers run as subprocesses on 127.0.0.1 with their output in files; the clients share this
process, so on a small machine they compete with the servers for CPU (both sides alike).

    python -m bench.bench_load [--clients 50] [--calls 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import anyio
import httpx2
from mcp import Client
from mcp.types import CallToolResult

from kpi_core import score
from kpi_core.demo import demo_creator_ids, demo_metrics
from kpi_core.scoring import ScoreResult

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 120.0
#: The creator both servers answer for in part 2 (the bare server precomputes its result).
COMPARISON_CREATOR = 0

ArgumentFactory = Callable[[int], dict[str, Any]]


class _DemoCreators:
    """Demo creators' metrics, loaded once; call ``i`` gets the i-th (cycling)."""

    def __init__(self) -> None:
        self._metrics: list[dict[str, Any]] = []

    def __call__(self, i: int) -> dict[str, Any]:
        if not self._metrics:
            self._metrics = [dict(demo_metrics(cid)) for cid in demo_creator_ids()]
        return self._metrics[i % len(self._metrics)]


demo = _DemoCreators()


def design_arguments(i: int) -> dict[str, Any]:
    """A realistic plan: a conversion-rate test over viewers, or a per-creator mean."""
    if i % 2:
        return {
            "metric_kind": "mean",
            "baseline": 42.0 + i % 7,
            "baseline_sd": 30.0,
            "mde": 0.05,
            "unit": "creator",
            "available_units": 400,
        }
    return {
        "metric_kind": "proportion",
        "baseline": 0.02 + (i % 5) * 0.002,
        "mde": 0.1,
        "daily_units": 5_000 + 100 * (i % 10),
    }


def analyze_arguments(i: int) -> dict[str, Any]:
    """A two-arm conversion test read at about 10k viewers an arm."""
    return {
        "metric_kind": "proportion",
        "arms": [
            {"name": "control", "conversions": 200 + i % 13, "units": 10_000},
            {"name": "treatment", "conversions": 236 + i % 17, "units": 10_050},
        ],
    }


def cohort_arguments(i: int) -> dict[str, Any]:
    """Ten demo creators inline (a file path would need file access over HTTP)."""
    return {"creators": [demo(i + k) for k in range(10)], "top_n": 5}


#: How to call each tool; call number ``i`` varies the inputs. The tools that write to the
#: experiment store get theirs from `writer_arguments`, once a plan is registered.
ARGUMENTS: dict[str, ArgumentFactory] = {
    "score_creator": lambda i: {"metrics": demo(i)},
    "diagnose": lambda i: {"metrics": demo(i)},
    "recommend": lambda i: {"metrics": demo(i)},
    "compare_weighting": lambda i: {"metrics": demo(i)},
    "show_scorecard": lambda i: {"metrics": demo(i)},
    "score_cohort": cohort_arguments,
    "design_ab_test": design_arguments,
    "analyze_ab_test": analyze_arguments,
    "list_experiments": lambda i: {"limit": 1 + i % 10},
}


async def writer_arguments(session: Client) -> dict[str, ArgumentFactory]:
    """Factories for register_experiment and record_outcome around one registered plan.

    Both are idempotent: registering the same plan again, or recording the same outcome again,
    changes nothing, so the load repeats them safely (on the benchmark's own store).
    """
    design = await session.call_tool("design_ab_test", design_arguments(0))
    plan = design.structured_content
    registration: dict[str, Any] = {
        "plan": plan,
        "intervention_id": "sc_pin_product_link",
        "creator_id": "bench-creator",
        "category": "beauty",
    }
    registered = await session.call_tool("register_experiment", registration)
    if registered.is_error or plan is None or registered.structured_content is None:
        print(f"note: skipping the store's writers: {_text(registered.content)[:200]}")
        return {}
    plan_id = str(registered.structured_content["plan_id"])
    units = [int(n) for n in plan["n_per_arm"]]
    outcome: dict[str, Any] = {
        "plan_id": plan_id,
        "arms": [
            {"name": "control", "conversions": round(units[0] * 0.020), "units": units[0]},
            {"name": "treatment", "conversions": round(units[1] * 0.023), "units": units[1]},
        ],
    }
    return {
        "register_experiment": lambda i: registration,
        "record_outcome": lambda i: outcome,
    }


def _text(content: Sequence[object]) -> str:
    return " ".join(str(getattr(block, "text", "")) for block in content)


# --- servers -----------------------------------------------------------------------------------


def _bench_env(folder: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without a token (the servers bind loopback and the clients send none)
    and with an experiment store of the benchmark's own, removed afterwards."""
    drop = {"CREATOR_KPI_TOKEN", "CREATOR_KPI_TOKEN_FILE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "CREATOR_KPI_DB": str(folder / "experiments.sqlite3"), **extra}


@contextmanager
def running(
    command: list[str], folder: Path, name: str, env: Mapping[str, str] | None = None
) -> Generator[str]:
    """Start a server subprocess; yields its base URL once uvicorn says it is listening."""
    out_path, err_path = folder / f"{name}.out", folder / f"{name}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=ROOT,
            env=_bench_env(folder, env or {}),
        )
    try:
        pattern = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            found = pattern.search(err_path.read_text("utf-8", "replace"))
            if found:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {err_path}")
            time.sleep(0.05)
        yield found.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        if out_path.stat().st_size:
            print(f"warning: {name} wrote {out_path.stat().st_size} bytes to stdout")


def serve_bare(port: int, max_sessions: int | None = None) -> None:
    """The floor: an SDK server whose one tool returns a precomputed score_creator result
    (with the SDK's own session limit, 10,000 unless `max_sessions` is given)."""
    import uvicorn
    from mcp.server import MCPServer

    from tools._edge import ok_result

    precomputed = score(demo(COMPARISON_CREATOR))
    canned = ok_result(precomputed.summary, precomputed)
    server = MCPServer("bare")

    @server.tool(name="score_creator", structured_output=True)
    def score_creator(metrics: dict[str, Any]) -> Annotated[CallToolResult, ScoreResult]:  # pyright: ignore[reportUnusedFunction]
        """Returns a result computed before the benchmark."""
        del metrics
        return canned

    # The SDK's default loopback protection, and its own session limit unless one is given.
    if max_sessions is None:
        app = server.streamable_http_app(host="127.0.0.1")
    else:
        app = server.streamable_http_app(host="127.0.0.1", max_sessions=max_sessions)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


# --- load --------------------------------------------------------------------------------------


@dataclass
class Load:
    """What the clients of one run saw."""

    latencies: list[float] = field(default_factory=list[float])
    failures: Counter[str] = field(default_factory=Counter[str])
    first_failure: dict[str, str] = field(default_factory=dict[str, str])
    elapsed: float = 0.0

    @property
    def calls(self) -> int:
        return len(self.latencies)

    def percentile(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1]


Plan = list[tuple[str, dict[str, Any]]]

#: The streamable HTTP headers of a JSON-RPC POST.
POST_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
PROTOCOL_VERSION = "2025-11-25"


class CallFailedError(Exception):
    """A call that came back as a JSON-RPC error or an isError result."""


class RawSession:
    """A lean MCP client session (2025-11-25, JSON-RPC over streamable HTTP) for the load.

    The SDK's client validates every structured result against the tool's output schema with
    jsonschema, which costs more than the server's whole call here (about 35 ms for a
    score_creator result); with 50 such clients in one process the client would be what is
    measured. This one checks only that the answer is a result and not an error; each tool's
    result is validated once, through the SDK's client, before the load starts.
    """

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self._http = http
        self._url = url
        self._headers = dict(POST_HEADERS)
        self._next_id = 0

    async def _send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        request_id = self._next_id  # calls may overlap on one session
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        response = await self._http.post(self._url, headers=self._headers, json=message)
        if response.status_code != 200:
            raise CallFailedError(f"HTTP {response.status_code}: {response.text[:200]}")
        if "mcp-session-id" in response.headers:
            self._headers["Mcp-Session-Id"] = response.headers["mcp-session-id"]
        for line in response.text.splitlines():
            if not line.startswith("data:"):
                continue
            answer: dict[str, Any] = json.loads(line[5:])
            if answer.get("id") != request_id:
                continue
            if "error" in answer:
                raise CallFailedError(str(answer["error"]))
            result: dict[str, Any] = answer["result"]
            return result
        raise CallFailedError(f"no answer to request {request_id}: {response.text[:200]}")

    async def open(self) -> None:
        client_info = {"name": "bench_load", "version": "1"}
        params = {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": client_info,
        }
        await self._send("initialize", params)
        self._headers["Mcp-Protocol-Version"] = PROTOCOL_VERSION
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await self._http.post(self._url, headers=self._headers, json=initialized)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self._send("tools/call", {"name": name, "arguments": arguments})
        if result.get("isError"):
            raise CallFailedError(" ".join(str(b.get("text", "")) for b in result["content"]))
        return result

    async def close(self) -> None:
        await self._http.delete(self._url, headers=self._headers)


async def run_load(url: str, plans: list[Plan]) -> Load:
    """One session per plan, all opened before the clock starts, then all calls at once."""
    load = Load()
    opened = 0
    all_open, go = anyio.Event(), anyio.Event()
    finished: list[float] = []

    async def client(plan: Plan) -> None:
        nonlocal opened
        async with httpx2.AsyncClient(timeout=START_TIMEOUT_S) as http:
            session = RawSession(http, url)
            await session.open()
            opened += 1
            if opened == len(plans):
                all_open.set()
            await go.wait()
            for name, arguments in plan:
                start = time.perf_counter()
                try:
                    await session.call_tool(name, arguments)
                    problem = ""
                except Exception as error:  # a failed call is counted, not fatal to the run
                    problem = f"{error.__class__.__name__}: {error}"
                load.latencies.append(time.perf_counter() - start)
                if problem:
                    load.failures[name] += 1
                    load.first_failure.setdefault(name, problem[:300])
            finished.append(time.perf_counter())
            await session.close()

    started = 0.0
    async with anyio.create_task_group() as group:
        for plan in plans:
            group.start_soon(client, plan)
        with anyio.fail_after(START_TIMEOUT_S):
            await all_open.wait()
        started = time.perf_counter()
        go.set()
    load.elapsed = max(finished) - started
    return load


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def callable_tools(url: str) -> dict[str, ArgumentFactory]:
    """The listed tools the benchmark can call, each checked once through the SDK's client."""
    callable_now: dict[str, ArgumentFactory] = {}
    async with Client(url) as session:
        listed = [tool.name for tool in (await session.list_tools()).tools]
        known = dict(ARGUMENTS)
        if {"register_experiment", "record_outcome"} & set(listed):
            known.update(await writer_arguments(session))
        for name in listed:
            if name not in known:
                print(f"note: skipping {name}: no argument factory (add one entry to ARGUMENTS)")
                continue
            result = await session.call_tool(name, known[name](0))  # validates the schema
            if result.is_error:
                raise RuntimeError(f"{name} refused the arguments: {_text(result.content)[:300]}")
            callable_now[name] = known[name]
    return callable_now


async def mixed(url: str, clients: int, calls: int) -> Load:
    factories = await callable_tools(url)
    tools = list(factories)
    plans: list[Plan] = []
    for c in range(clients):
        plan: Plan = []
        for k in range(calls):
            name = tools[(c + k) % len(tools)]
            plan.append((name, factories[name](c * calls + k)))
        plans.append(plan)
    print(f"tools: {', '.join(tools)}")
    load = await run_load(url, plans)
    print(f"{clients} clients x {calls} calls = {load.calls:,} calls, mixed tools")
    print(f"  failures     {sum(load.failures.values()):8d}")
    for name, count in sorted(load.failures.items()):
        print(f"    {name}: {count} (first: {load.first_failure[name]})")
    print(f"  p50          {_ms(statistics.median(load.latencies))}")
    print(f"  p99          {_ms(load.percentile(99))}")
    print(f"  calls/s      {load.calls / load.elapsed:8.1f}")
    return load


async def floor(ours: str, bare: str, clients: int, calls: int, rounds: int) -> float:
    arguments = {"metrics": demo(COMPARISON_CREATOR)}
    async with Client(ours) as a, Client(bare) as b:
        mine = await a.call_tool("score_creator", arguments)
        theirs = await b.call_tool("score_creator", arguments)
    if mine.structured_content != theirs.structured_content or mine.content != theirs.content:
        raise RuntimeError("the bare server's result differs from ours: the floor is unfair")
    size = len(mine.model_dump_json(by_alias=True, exclude_none=True))
    per_round = max(1, calls // rounds)
    plans = [[("score_creator", arguments)] * per_round for _ in range(clients)]
    totals = {"ours": Load(), "bare": Load()}
    for _ in range(rounds):
        for label, url in (("ours", ours), ("bare", bare)):
            load = await run_load(url, plans)
            total = totals[label]
            total.latencies += load.latencies
            total.elapsed += load.elapsed
            total.failures.update(load.failures)
    print(
        f"\nscore_creator alone, {clients} clients x {per_round * rounds} calls each, "
        f"{rounds} alternating rounds, result {size:,} bytes"
    )
    rates: dict[str, float] = {}
    for label, name in (("bare", "bare SDK, precomputed"), ("ours", "creator-kpi")):
        total = totals[label]
        rates[label] = total.calls / total.elapsed
        p50, p99 = statistics.median(total.latencies), total.percentile(99)
        print(
            f"  {name:22s} {rates[label]:8.1f} calls/s  p50 {_ms(p50)}  p99 {_ms(p99)}"
            f"  failures {sum(total.failures.values())}"
        )
    ratio = rates["ours"] / rates["bare"]
    print(f"  throughput ratio       {ratio:8.2f}x   (goal >= 0.6x)")
    return ratio


async def run(clients: int, calls: int, rounds: int) -> int:
    with tempfile.TemporaryDirectory(prefix="creator-kpi-load-") as folder:
        ours_command = [sys.executable, str(ROOT / "cli.py"), "serve", "--transport", "http"]
        bare_command = [sys.executable, "-m", "bench.bench_load", "--bare-server"]
        with (
            running([*ours_command, "--port", "0"], Path(folder), "ours") as ours,
            running([*bare_command, "--port", "0"], Path(folder), "bare") as bare,
        ):
            load = await mixed(f"{ours}/mcp", clients, calls)
            await floor(f"{ours}/mcp", f"{bare}/mcp", clients, calls, rounds)
    return 1 if load.failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=200, help="calls per client")
    parser.add_argument("--rounds", type=int, default=2, help="alternations in part 2")
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--max-sessions", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(args.port, args.max_sessions)
        return
    sys.exit(anyio.run(run, args.clients, args.calls, args.rounds))


if __name__ == "__main__":
    main()
