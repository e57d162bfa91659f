"""Shared fixtures: the real server in memory, and the real server as a subprocess over stdio."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from hypothesis import settings
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parent.parent

#: Every property test runs the same examples on every run and machine (no database, no clock).
settings.register_profile("derandomised", derandomize=True, deadline=None, database=None)
settings.load_profile("derandomised")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's servers use an experiment store of their own, never the user's real one,
    and a tool definitions cache of their own (never the user's cache directory)."""
    path = tmp_path / "experiments.sqlite3"
    monkeypatch.setenv("CREATOR_KPI_DB", str(path))
    monkeypatch.setenv("CREATOR_KPI_CACHE_DIR", str(tmp_path / "cache"))
    return path


def server_parameters(env: dict[str, str] | None = None) -> StdioServerParameters:
    """How a client starts this server: `python server.py`, with the test's environment."""
    return StdioServerParameters(
        command=sys.executable,
        args=[str(ROOT / "server.py")],
        env={
            **{
                k: v
                for k, v in os.environ.items()
                if k.startswith(("PYTHON", "VIRTUAL", "CREATOR_KPI"))
            },
            **(env or {}),
        },
        cwd=str(ROOT),
    )


StdioFactory = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def stdio_server(tmp_path: Path) -> StdioFactory:
    """Start the server as a subprocess; its stderr goes to a file (a pipe nobody reads fills)."""

    @asynccontextmanager
    async def start(
        env: dict[str, str] | None = None, log_name: str = "server.log"
    ) -> AsyncGenerator[Client]:
        with (tmp_path / log_name).open("w") as errlog:
            async with Client(stdio_client(server_parameters(env), errlog=errlog)) as client:
                yield client

    return start
