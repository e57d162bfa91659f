"""Benchmark: spawn to first answered call over stdio, ours against a bare SDK server.

Each run starts a fresh process as a desktop client would (`python server.py` over stdio),
initialises, and times until the first tool call is answered: `score_creator` on a realistic
creator for ours, a trivial `echo` for the bare SDK server (bench/bare_server.py). Runs alternate
between the two; the medians and their ratio are printed (goal <= 1.5x). Then
`python -X importtime -c "import server"` shows what the start path imports: the heaviest
modules by cumulative time, and whether pandas or scipy were imported (they must not be).

    python -m bench.bench_startup [--spawns 11]
"""

from __future__ import annotations

import argparse
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

from tests.cases import REALISTIC

ROOT = Path(__file__).resolve().parent.parent


async def first_call(script: Path, tool: str, arguments: dict[str, object], log: Path) -> float:
    params = StdioServerParameters(command=sys.executable, args=[str(script)], cwd=str(ROOT))
    start = time.perf_counter()
    with log.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            result = await client.call_tool(tool, arguments)
            elapsed = time.perf_counter() - start
    assert not result.is_error, result.content
    return elapsed


def import_profile() -> tuple[list[tuple[float, str]], list[str]]:
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import server; server.build_server()"],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spawns", type=int, default=11)
    spawns = parser.parse_args().spawns
    ours: list[float] = []
    bare: list[float] = []
    metrics: dict[str, object] = {"metrics": REALISTIC["beauty_micro"]}
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "server.log"
        for _ in range(spawns):
            bare.append(anyio.run(first_call, ROOT / "bench" / "bare_server.py", "echo", {}, log))
            ours.append(anyio.run(first_call, ROOT / "server.py", "score_creator", metrics, log))
    ours_ms, bare_ms = statistics.median(ours) * 1000, statistics.median(bare) * 1000
    print(f"spawns={spawns} each, spawn -> initialise -> first answered call (medians)")
    print(f"bare SDK server, echo      {bare_ms:7.0f} ms")
    print(f"ours, score_creator        {ours_ms:7.0f} ms")
    print(f"ratio                      {ours_ms / bare_ms:7.2f}x   (goal <= 1.5x)")
    heaviest, heavy = import_profile()
    print("\npython -X importtime: heaviest imports on the start path (cumulative ms)")
    for ms, name in heaviest:
        print(f"  {ms:8.1f}  {name}")
    print(f"pandas / scipy / pyarrow imported at start: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
