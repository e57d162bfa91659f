"""Benchmark: how soon a freshly started server answers, against a bare SDK server.

1. Start-up. Each run starts a fresh process as a desktop client would (`python server.py` over
   stdio), initialises, and times until the first tool call is answered: `score_creator` on a
   realistic creator for ours, the floor's `echo` for a bare SDK server (bench/bare_server.py)
   that does the same protocol work: the same arguments, an output schema of the same size and
   the same structured content (our answer, computed in this process first), so the client's
   validation costs the same on both sides. Runs alternate; the medians and their ratio are
   printed (goal <= 1.3x).
2. First analysis. A fresh server is initialised and listed (as a desktop client does), left
   idle until two seconds after it was spawned, then asked `analyze_ab_test` (the README's
   example) once, then ten more times, then once more after the same pause. The first call's
   round trip is compared (goal <= 2x) with the warm call after the pause (like for like: a
   server woken from the same idleness; waking alone costs about 2 ms here) and, for
   reference, with the back-to-back warm calls; medians over runs. A raw JSON-RPC client sends
   these, so the times are the server's (the SDK client validates each result, compiling the
   schema on the first, a client-side cost of tens of ms).
3. `python -X importtime` over what `python server.py` builds before serving (with the tool
   definitions cache): the heaviest imports on the start path, and whether pandas, scipy or
   pyarrow are among them (they must not be).

    python -m bench.bench_startup [--spawns 11] [--analysis-runs 5]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from server import build_server
from tests.cases import REALISTIC

ROOT = Path(__file__).resolve().parent.parent
#: The README's analyze_ab_test example.
README_ANALYSIS: dict[str, object] = {
    "metric_kind": "proportion",
    "arms": [
        {"name": "control", "conversions": 200, "units": 10000},
        {"name": "new hook", "conversions": 245, "units": 10000},
    ],
}
WARM_CALLS = 10


def parameters(script: Path, *args: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=[str(script), *args], cwd=str(ROOT))


async def first_call(
    params: StdioServerParameters, tool: str, arguments: dict[str, object], log: Path
) -> float:
    start = time.perf_counter()
    with log.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            result = await client.call_tool(tool, arguments)
            elapsed = time.perf_counter() - start
    assert not result.is_error, result.content
    return elapsed


async def stored_answer(path: Path) -> None:
    """Our first answer and its output schema, for the floor to answer the same (in memory)."""
    async with Client(build_server()) as client:
        result = await client.call_tool("score_creator", {"metrics": REALISTIC["beauty_micro"]})
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    text = result.content[0].text  # type: ignore[union-attr]
    schema = listed["score_creator"].output_schema
    stored = {"text": text, "structured": result.structured_content, "output_schema": schema}
    path.write_text(json.dumps(stored), encoding="utf-8")


class RawClient:
    """A JSON-RPC client over a server's stdin and stdout, one message per line and no result
    validation: the round trips it times are the server's alone (the SDK client compiles a
    tool's output schema on its first result, a client-side cost of tens of ms)."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.errlog = log.open("w")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errlog,
        )
        self.next_id = 0

    def send(self, method: str, params: dict[str, object] | None = None) -> dict[str, object]:
        """A request's response (a notification when ``method`` starts with notifications/)."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        message: dict[str, object] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        notification = method.startswith("notifications/")
        if not notification:
            self.next_id += 1
            message["id"] = self.next_id
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()
        while not notification:
            answer = json.loads(self.process.stdout.readline())
            if answer.get("id") == self.next_id:
                return answer
        return {}

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.errlog.close()


def first_analysis(log: Path, delay: float) -> tuple[float, float, float]:
    """Round trips of analyze_ab_test: the first, made `delay` seconds after the server was
    spawned (initialised and listed before); the median of ten warm ones right after it; and
    one more after a pause as long as the first call's (a warm server, woken from the same
    idleness: a like-for-like warm time)."""
    spawned = time.perf_counter()
    client = RawClient([sys.executable, str(ROOT / "server.py")], log)
    client.send(
        "initialize",
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        },
    )
    client.send("notifications/initialized")
    client.send("tools/list")
    idle = spawned + delay - time.perf_counter()
    time.sleep(max(0.0, idle))
    times = [analysis_round_trip(client) for _ in range(1 + WARM_CALLS)]
    time.sleep(max(0.0, idle))
    paused = analysis_round_trip(client)
    client.close()
    return times[0], statistics.median(times[1:]), paused


def analysis_round_trip(client: RawClient) -> float:
    started = time.perf_counter()
    answer = client.send("tools/call", {"name": "analyze_ab_test", "arguments": README_ANALYSIS})
    elapsed = time.perf_counter() - started
    result = answer.get("result")
    assert isinstance(result, dict), answer
    assert not result.get("isError"), answer  # pyright: ignore[reportUnknownMemberType]
    return elapsed


#: What `python server.py` builds before serving (with the definitions cache of this tree).
SERVED_BUILD = (
    "import server; from tools._config import ServerConfig; config = ServerConfig.from_env(); "
    "server.build_server(config, cache=server.definitions_cache(config))"
)


def import_profile() -> tuple[list[tuple[float, str]], list[str]]:
    subprocess.run([sys.executable, "-c", SERVED_BUILD], cwd=ROOT, check=True)  # the cache
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", SERVED_BUILD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows: list[tuple[float, str]] = []
    for line in completed.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if match and len(match.group(2)) <= 3:  # top-level imports and their direct children
            rows.append((int(match.group(1)) / 1000, match.group(3)))
    heavy = sorted({name for _, name in rows} & {"pandas", "scipy", "scipy.stats", "pyarrow"})
    return sorted(rows, reverse=True)[:8], heavy


def start_up(spawns: int, folder: Path) -> None:
    answer = folder / "answer.json"
    anyio.run(stored_answer, answer)
    bare_params = parameters(ROOT / "bench" / "bare_server.py", str(answer))
    ours_params = parameters(ROOT / "server.py")
    arguments: dict[str, object] = {"metrics": REALISTIC["beauty_micro"]}
    log = folder / "server.log"
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(spawns):
        bare.append(anyio.run(first_call, bare_params, "echo", arguments, log))
        ours.append(anyio.run(first_call, ours_params, "score_creator", arguments, log))
    ours_ms, bare_ms = statistics.median(ours) * 1000, statistics.median(bare) * 1000
    print(f"spawns={spawns} each, spawn -> initialise -> first answered call (medians)")
    print(f"bare SDK server, echo      {bare_ms:7.0f} ms")
    print(f"ours, score_creator        {ours_ms:7.0f} ms")
    print(f"start-up ratio             {ours_ms / bare_ms:7.2f}x   (goal <= 1.3x)")


def analysis(runs: int, folder: Path, delay: float) -> None:
    runs_seen = [first_analysis(folder / f"analysis{run}.log", delay) for run in range(runs)]
    first_ms, warm_ms, paused_ms = (
        statistics.median(run[column] for run in runs_seen) * 1000 for column in range(3)
    )
    print(f"\nanalyze_ab_test {delay:g} s after spawn, runs={runs} (medians; server round trips)")
    print(f"first call                 {first_ms:7.1f} ms")
    print(f"warm, back to back         {warm_ms:7.1f} ms")
    print(f"warm, after the same pause {paused_ms:7.1f} ms")
    back_to_back = statistics.median(first / warm for first, warm, _ in runs_seen)
    like_for_like = statistics.median(first / paused for first, _, paused in runs_seen)
    print(f"first-analysis ratio       {like_for_like:7.2f}x   (goal <= 2x; first / after pause)")
    print(f"  first / back-to-back     {back_to_back:7.2f}x")
    warmed = sum(_warmed_first(folder / f"analysis{run}.log") for run in range(runs))
    print(f"warm-up done before the first call in {warmed} of {runs} runs")


def _warmed_first(log: Path) -> bool:
    """Whether the server's log says its warm-up's first steps (every tool, template and common
    library) were done before it answered a tool call."""
    for line in log.read_text(encoding="utf-8").splitlines():
        if "steps are done" in line:
            return True
        if "answered in" in line:
            return False
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spawns", type=int, default=11)
    parser.add_argument("--analysis-runs", type=int, default=5)
    parser.add_argument("--delay", type=float, default=2.0, help="seconds before the analysis")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        start_up(options.spawns, folder)
        analysis(options.analysis_runs, folder, options.delay)
    heaviest, heavy = import_profile()
    print("\npython -X importtime: heaviest imports on the start path (cumulative ms)")
    for ms, name in heaviest:
        print(f"  {ms:8.1f}  {name}")
    print(f"pandas / scipy / pyarrow imported at start: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
