"""Benchmark: `score_creator` round trip through the in-memory client against a bare tool.

The floor is a tool on the same server that returns a precomputed result of the same size (the
same text and structured content, the same output schema), so it pays for the protocol, the
validation of the structured content and serialisation, but not for scoring. Calls alternate
between the two so machine noise hits both alike. Prints medians and the ratio (goal <= 1.5x).

    python -m bench.bench_roundtrip [--calls 400]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Annotated

import anyio
from mcp import Client
from mcp.types import CallToolResult

from kpi_core import score
from kpi_core.scoring import ScoreResult
from server import build_server
from tests.cases import REALISTIC
from tools._edge import ok_result


async def run(calls: int) -> None:
    metrics = REALISTIC["beauty_micro"]
    precomputed = score(metrics)
    canned = ok_result(precomputed.summary, precomputed)
    server = build_server()

    def bare_precomputed() -> Annotated[CallToolResult, ScoreResult]:
        """Returns a result computed before the benchmark."""
        return canned

    server.add_tool(bare_precomputed, name="bare_precomputed", structured_output=True)
    ours: list[float] = []
    floor: list[float] = []
    async with Client(server) as client:
        for _ in range(20):  # warm both paths (template compile, catalogue load)
            await client.call_tool("score_creator", {"metrics": metrics})
            await client.call_tool("bare_precomputed", {})
        for _ in range(calls):
            start = time.perf_counter()
            result = await client.call_tool("score_creator", {"metrics": metrics})
            ours.append(time.perf_counter() - start)
            assert not result.is_error
            start = time.perf_counter()
            await client.call_tool("bare_precomputed", {})
            floor.append(time.perf_counter() - start)
    ours_ms, floor_ms = statistics.median(ours) * 1000, statistics.median(floor) * 1000
    size = len(canned.model_dump_json())
    print(f"calls={calls} each, in-memory client, result size {size:,} bytes (medians)")
    print(f"bare precomputed tool  {floor_ms:7.2f} ms")
    print(f"score_creator          {ours_ms:7.2f} ms")
    print(f"ratio                  {ours_ms / floor_ms:7.2f}x   (goal <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    anyio.run(run, parser.parse_args().calls)


if __name__ == "__main__":
    main()
