"""Streamable HTTP over real sockets on 127.0.0.1, its refusals, and the deep-nesting guard.

Two servers run as `creator-kpi-mcp serve --transport http` subprocesses for the whole module (one
open on loopback, one stateless with a bearer token); their stdout and stderr go to files. The
tests that need an extra, deliberately slow tool run the app in uvicorn on a background thread.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx2
import pytest
import uvicorn
from mcp import Client, MCPError
from mcp.client.context import ClientRequestContext
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp.types import INVALID_REQUEST, CallToolResult, ListRootsResult, Root, TextContent
from pydantic import FileUrl
from starlette.types import ASGIApp, Receive, Scope, Send

from kpi_core import load_catalogue
from kpi_core.demo import demo_creator_ids, demo_metrics
from kpi_core.errors import InvalidValueError
from kpi_core.scoring import score_answer
from server import build_server, server_version
from tests.conftest import ROOT, server_parameters
from tools._config import ServerConfig
from tools._edge import CallControl, run_tool
from transport._json import json_depth, message_id
from transport.http import HttpConfig, build_http_app

pytestmark = pytest.mark.anyio

TOKEN = "test-token-0123456789abcdef"
#: Headers of a JSON-RPC POST as the streamable HTTP transport wants them.
POST_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "test_http", "version": "1"},
    },
}
TOO_DEEP = (
    "Invalid Request: the message is nested deeper than 64 levels, the most this server accepts; "
    "send tool arguments as flat objects (no tool needs deep nesting)"
)
#: Bound on every wait for a server (start-up, a call); the machine may be busy.
WAIT_S = 60.0


def nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


def text_of(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


# --- servers -----------------------------------------------------------------------------------


@dataclass
class CliServer:
    """A `creator-kpi-mcp serve --transport http` subprocess; its stderr is copied to a file."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    listening: threading.Event
    base: str = ""
    copier: threading.Thread | None = None

    @property
    def mcp(self) -> str:
        return f"{self.base}/mcp"

    def wait_until_listening(self) -> None:
        """Bounded wait for uvicorn's start-up line, which names the port it picked."""
        if not self.listening.wait(WAIT_S) or not self.base:
            pytest.fail(f"server did not start: {self.stderr.read_text('utf-8', 'replace')}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=WAIT_S)
        if self.copier is not None:
            self.copier.join(timeout=WAIT_S)
        assert self.stdout.read_bytes() == b"", "the server path must write nothing to stdout"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATOR_KPI_")}
    return {**env, **extra}


def start_cli(
    folder: Path, name: str, *args: str, env: dict[str, str], script: str = "cli.py"
) -> CliServer:
    """`cli.py serve --transport http ARGS`, or `server.py --transport http ARGS`."""
    stdout, stderr = folder / f"{name}.out", folder / f"{name}.err"
    command = [sys.executable, str(ROOT / script), *(["serve"] if script == "cli.py" else [])]
    with stdout.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--transport", "http", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
    server = CliServer(process, stdout, stderr, threading.Event())
    running = re.compile(rb"Uvicorn running on (http://127\.0\.0\.1:\d+)")

    def copy_stderr() -> None:  # a pipe nobody reads fills up and blocks the server
        pipe = process.stderr
        assert pipe is not None
        with pipe, stderr.open("wb") as log:
            for line in pipe:
                log.write(line)
                log.flush()
                found = running.search(line)
                if found:
                    server.base = found.group(1).decode()
                    server.listening.set()
        server.listening.set()  # the server exited: stop waiting

    server.copier = threading.Thread(target=copy_stderr, daemon=True)
    server.copier.start()
    return server


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CliServer, CliServer]]:
    """Open (loopback, no token, sessions) and locked (token, stateless), started together."""
    folder = tmp_path_factory.mktemp("http")
    open_server = start_cli(folder, "open", "--port", "0", env=clean_env())
    locked = start_cli(
        folder, "locked", "--port", "0", "--stateless", env=clean_env(CREATOR_KPI_TOKEN=TOKEN)
    )
    try:
        open_server.wait_until_listening()
        locked.wait_until_listening()
        yield open_server, locked
    finally:
        open_server.stop()
        locked.stop()


@pytest.fixture
def open_server(servers: tuple[CliServer, CliServer]) -> CliServer:
    return servers[0]


@pytest.fixture
def locked_server(servers: tuple[CliServer, CliServer]) -> CliServer:
    return servers[1]


@asynccontextmanager
async def client_with_token(url: str, token: str) -> AsyncGenerator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=WAIT_S) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


@contextmanager
def serve_in_thread(app: ASGIApp) -> Generator[str]:
    """Run `app` under uvicorn on a background thread; yields its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # connections queue from here on, so no wait for start-up is needed
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT_S)
        listener.close()
        assert not thread.is_alive()


def add_waiting_tool(
    server: MCPServer,
    name: str,
    release: threading.Event,
    time_limit: float,
    entered: list[str] | None = None,
) -> threading.Event:
    """A tool whose body blocks its worker thread until `release` is set; returns 'started'.
    Each body that starts appends the tool's name to `entered`, when given."""
    started = threading.Event()

    def body(_: CallControl) -> CallToolResult:
        if entered is not None:
            entered.append(name)
        started.set()
        release.wait(timeout=WAIT_S)
        return CallToolResult(content=[TextContent(type="text", text=f"{name} released")])

    async def waiting_tool() -> CallToolResult:
        return await run_tool(name, body, time_limit=time_limit)

    server.add_tool(waiting_tool, name=name, description="Blocks until the test releases it.")
    return started


# --- MCP over HTTP -----------------------------------------------------------------------------


async def test_tools_list_and_score_creator_answer_over_http(open_server: CliServer) -> None:
    metrics = demo_metrics(demo_creator_ids()[0])
    async with Client(open_server.mcp) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("score_creator", {"metrics": metrics})
    assert {"score_creator", "design_ab_test", "analyze_ab_test"} <= listed
    assert not result.is_error
    assert result.structured_content == score_answer(metrics).model_dump(mode="json")


async def test_health_answers_without_a_token_with_name_and_versions(
    locked_server: CliServer,
) -> None:
    async with httpx2.AsyncClient(timeout=WAIT_S) as http:
        response = await http.get(f"{locked_server.base}/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "server": "creator-kpi",
        "version": server_version(),
        "model_version": load_catalogue().model_version,
        "stateless": True,
    }


async def test_over_http_the_tools_read_no_files_unless_the_operator_allows_it(
    open_server: CliServer, tmp_path: Path
) -> None:
    cohort = tmp_path / "cohort.csv"
    cohort.write_text("creator_id,gmv\n@a,100\n")
    async with Client(open_server.mcp) as client:
        result = await client.call_tool("score_cohort", {"path": str(cohort)})
    assert result.is_error
    assert "cannot be read over HTTP" in text_of(result)
    assert "CREATOR_KPI_HTTP_FILES=1" in text_of(result)


async def test_server_py_with_transport_http_serves_http(tmp_path: Path) -> None:
    """`python server.py --transport http` once served stdio, silently (issue 18)."""
    server = start_cli(tmp_path, "plain", "--port", "0", env=clean_env(), script="server.py")
    try:
        server.wait_until_listening()
        async with Client(server.mcp) as client:
            result = await client.call_tool("score_creator", {"metrics": {"views": 1000}})
    finally:
        server.stop()
    assert result.structured_content == score_answer({"views": 1000}).model_dump(mode="json")


async def test_stateless_mode_lists_tools_and_calls_them_without_a_session(
    locked_server: CliServer,
) -> None:
    metrics = demo_metrics(demo_creator_ids()[1])
    async with client_with_token(locked_server.mcp, TOKEN) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("score_creator", {"metrics": metrics})
    assert "score_creator" in listed
    assert result.structured_content == score_answer(metrics).model_dump(mode="json")
    async with httpx2.AsyncClient(timeout=WAIT_S) as http:
        headers = {**POST_HEADERS, "Authorization": f"Bearer {TOKEN}"}
        response = await http.post(locked_server.mcp, headers=headers, json=INITIALIZE)
    assert response.status_code == 200
    assert "mcp-session-id" not in response.headers


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, 'Bearer realm="creator-kpi"'),
        (f"Bearer {TOKEN}x", 'Bearer realm="creator-kpi", error="invalid_token"'),
        (f"Basic {TOKEN}", 'Bearer realm="creator-kpi", error="invalid_token"'),
        ("Bearer", 'Bearer realm="creator-kpi", error="invalid_token"'),
    ],
)
async def test_with_a_token_configured_a_request_without_the_right_one_gets_401(
    locked_server: CliServer, authorization: str | None, challenge: str
) -> None:
    headers = dict(POST_HEADERS)
    if authorization is not None:
        headers["Authorization"] = authorization
    async with httpx2.AsyncClient(timeout=WAIT_S) as http:
        response = await http.post(locked_server.mcp, headers=headers, json=INITIALIZE)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert response.json()["error"] == "invalid_token"
    assert TOKEN not in response.text


async def test_with_the_right_token_the_request_is_served(locked_server: CliServer) -> None:
    headers = {**POST_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient(timeout=WAIT_S) as http:
        response = await http.post(locked_server.mcp, headers=headers, json=INITIALIZE)
    assert response.status_code == 200
    assert '"serverInfo"' in response.text


@pytest.mark.parametrize(
    ("extra_headers", "status"),
    [
        ({"Host": "evil.example:8000"}, 421),
        ({"Host": "evil.example"}, 421),
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "http://localhost.evil.example:80"}, 403),
        ({"Origin": "http://localhost:5173"}, 200),
        ({}, 200),
    ],
)
async def test_host_and_origin_headers_outside_the_allow_lists_are_refused(
    open_server: CliServer, extra_headers: dict[str, str], status: int
) -> None:
    async with httpx2.AsyncClient(timeout=WAIT_S) as http:
        response = await http.post(
            open_server.mcp, headers={**POST_HEADERS, **extra_headers}, json=INITIALIZE
        )
    assert response.status_code == status
    if status == 421:
        assert "CREATOR_KPI_ALLOWED_HOSTS" in response.text
    if status == 403:
        assert "CREATOR_KPI_ALLOWED_ORIGINS" in response.text


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_over_the_size_limit_gets_413(open_server: CliServer, declared: bool) -> None:
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "pad": "' + b"x" * (1 << 20) + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    async with httpx2.AsyncClient(timeout=WAIT_S) as http:
        content = body if declared else chunks()
        response = await http.post(open_server.mcp, headers=POST_HEADERS, content=content)
    assert response.status_code == 413


def test_a_non_loopback_bind_without_a_token_refuses_to_start_and_says_how(
    tmp_path: Path,
) -> None:
    process = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "serve", "--transport", "http", "--host", "0.0.0.0"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        cwd=ROOT,
        env=clean_env(),
        timeout=WAIT_S,
        check=False,
    )
    message = process.stderr.decode()
    assert process.returncode == 2
    assert process.stdout == b""
    assert message.startswith(
        "creator-kpi-mcp: not started: CREATOR_KPI_TOKEN is required to serve on 0.0.0.0"
    )
    for advice in ("export CREATOR_KPI_TOKEN=", "CREATOR_KPI_TOKEN_FILE", "Authorization: Bearer"):
        assert advice in message
    assert "Uvicorn running" not in message


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "kpi.example.com"])
def test_the_config_refuses_any_non_loopback_bind_without_a_token(host: str) -> None:
    with pytest.raises(InvalidValueError) as refused:
        HttpConfig.from_env(host, 8000, environ={})
    assert refused.value.field == "CREATOR_KPI_TOKEN"
    assert "CREATOR_KPI_TOKEN_FILE" in str(refused.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_a_loopback_bind_needs_no_token(host: str) -> None:
    assert HttpConfig.from_env(host, 8000, environ={}).token is None


def test_the_token_comes_from_a_file_and_is_never_shown(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    environ = {
        "CREATOR_KPI_TOKEN_FILE": str(token_file),
        "CREATOR_KPI_ALLOWED_HOSTS": "kpi.example.com:443, 10.0.0.5:*",
        "CREATOR_KPI_ALLOWED_ORIGINS": "https://app.example.com",
        "CREATOR_KPI_MAX_REQUEST_BYTES": "65536",
        "CREATOR_KPI_MAX_SESSIONS": "50",
        "CREATOR_KPI_SESSION_IDLE": "90",
    }
    config = HttpConfig.from_env("10.0.0.5", 9000, stateless=True, environ=environ)
    assert config.token == TOKEN
    assert TOKEN not in repr(config)
    assert TOKEN not in config.describe()
    assert config.allowed_hosts == (
        "127.0.0.1:*",
        "localhost:*",
        "[::1]:*",
        "10.0.0.5:*",
        "kpi.example.com:443",
        "10.0.0.5:*",
    )
    assert "https://app.example.com" in config.allowed_origins
    assert (config.max_request_bytes, config.max_sessions, config.session_idle) == (65536, 50, 90.0)


@pytest.mark.parametrize(
    ("environ", "field", "rule"),
    [
        ({"CREATOR_KPI_TOKEN": "short"}, "CREATOR_KPI_TOKEN", "must hold at least 16 characters"),
        (
            {"CREATOR_KPI_TOKEN": "has a space in it, sixteen+"},
            "CREATOR_KPI_TOKEN",
            "must hold visible ASCII characters only (no spaces)",
        ),
        (
            {"CREATOR_KPI_TOKEN": TOKEN, "CREATOR_KPI_TOKEN_FILE": "/nonexistent"},
            "CREATOR_KPI_TOKEN",
            "and CREATOR_KPI_TOKEN_FILE are both set",
        ),
        (
            {"CREATOR_KPI_TOKEN_FILE": "/nonexistent/token"},
            "CREATOR_KPI_TOKEN_FILE",
            "must name a readable text file (FileNotFoundError)",
        ),
        (
            {"CREATOR_KPI_MAX_REQUEST_BYTES": "1MB"},
            "CREATOR_KPI_MAX_REQUEST_BYTES",
            "must be a whole number of bytes",
        ),
        (
            {"CREATOR_KPI_MAX_SESSIONS": "lots"},
            "CREATOR_KPI_MAX_SESSIONS",
            "must be a whole number of sessions",
        ),
        ({"CREATOR_KPI_MAX_SESSIONS": "0"}, "CREATOR_KPI_MAX_SESSIONS", "must be in [1, 1000000]"),
        (
            {"CREATOR_KPI_SESSION_IDLE": "0.5"},
            "CREATOR_KPI_SESSION_IDLE",
            "must be in [1, 86400] seconds",
        ),
        (
            {"CREATOR_KPI_SESSION_IDLE": "1m"},
            "CREATOR_KPI_SESSION_IDLE",
            "must be a number of seconds",
        ),
    ],
)
def test_a_malformed_setting_is_refused_naming_the_variable_without_echoing_a_token(
    environ: dict[str, str], field: str, rule: str
) -> None:
    with pytest.raises(InvalidValueError) as refused:
        HttpConfig.from_env("127.0.0.1", 8000, environ=environ)
    assert (refused.value.field, refused.value.rule) == (field, rule)
    assert environ.get("CREATOR_KPI_TOKEN", "short") not in str(refused.value)


# --- deep nesting ------------------------------------------------------------------------------


async def open_legacy_session(http: httpx2.AsyncClient, url: str) -> dict[str, str]:
    """Initialize a 2025-11-25 session by hand; returns the headers later requests need."""
    response = await http.post(url, headers=POST_HEADERS, json=INITIALIZE)
    assert response.status_code == 200
    headers = {
        **POST_HEADERS,
        "Mcp-Session-Id": response.headers["mcp-session-id"],
        "Mcp-Protocol-Version": "2025-11-25",
    }
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await http.post(url, headers=headers, json=initialized)).status_code == 202
    return headers


@pytest.mark.parametrize(
    ("levels", "request_id"),
    [(62, 7), (300, "deep-300"), (100_000, 9)],
    ids=["past-our-limit", "past-the-sdk-parser", "100k-levels"],
)
async def test_a_too_deep_message_over_http_gets_a_json_rpc_error_carrying_its_id(
    open_server: CliServer, levels: int, request_id: int | str
) -> None:
    """The SDK alone answers a message past its parser's ~200 levels without its id."""
    value = "[" * levels + "]" * levels
    body = (
        f'{{"jsonrpc":"2.0","id":{json.dumps(request_id)},"method":"tools/call","params":'
        f'{{"name":"score_creator","arguments":{{"metrics":{{"views":{value}}}}}}}}}'
    )
    async with httpx2.AsyncClient(timeout=WAIT_S) as http:
        headers = await open_legacy_session(http, open_server.mcp)
        response = await http.post(open_server.mcp, headers=headers, content=body)
    assert response.status_code == 400
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": INVALID_REQUEST, "message": TOO_DEEP},
    }


async def test_the_real_client_gets_the_depth_error_and_the_level_below_is_served(
    open_server: CliServer,
) -> None:
    """message 1 > params 2 > arguments 3 > metrics 4 > views 5 + (levels - 1) lists."""
    async with Client(open_server.mcp) as client:
        served = await client.call_tool("score_creator", {"metrics": {"views": nested(60)}})
        with pytest.raises(MCPError) as refused:
            await client.call_tool("score_creator", {"metrics": {"views": nested(61)}})
    assert served.is_error
    assert text_of(served).startswith("score_creator was not run: views must be")
    assert (refused.value.code, refused.value.message) == (INVALID_REQUEST, TOO_DEEP)


async def test_over_stdio_the_serve_command_answers_a_too_deep_message_with_its_id(
    tmp_path: Path,
) -> None:
    """The SDK's stdin reader drops a line past ~200 levels; `serve` answers it instead."""
    params = server_parameters()
    params.args = [str(ROOT / "cli.py"), "serve"]
    with (tmp_path / "stdio.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            with anyio.fail_after(WAIT_S), pytest.raises(MCPError) as refused:
                await client.call_tool("score_creator", {"metrics": {"views": nested(220)}})
            assert (refused.value.code, refused.value.message) == (INVALID_REQUEST, TOO_DEEP)
            with anyio.fail_after(WAIT_S), pytest.raises(MCPError) as refused:
                await client.call_tool("score_creator", {"metrics": {"views": nested(61)}})
            assert refused.value.code == INVALID_REQUEST
            with anyio.fail_after(WAIT_S):
                served = await client.call_tool("score_creator", {"metrics": {"views": 1000}})
    assert not served.is_error


async def test_plain_server_py_over_stdio_answers_a_too_deep_line_too(tmp_path: Path) -> None:
    """`python server.py` (what desktop configs start) goes through the same guarded loop."""
    with (tmp_path / "stdio.log").open("w") as errlog:
        async with Client(stdio_client(server_parameters(), errlog=errlog)) as client:
            with anyio.fail_after(WAIT_S), pytest.raises(MCPError) as refused:
                await client.call_tool("score_creator", {"metrics": {"views": nested(220)}})
            with anyio.fail_after(WAIT_S):
                served = await client.call_tool("score_creator", {"metrics": {"views": 1000}})
    assert (refused.value.code, refused.value.message) == (INVALID_REQUEST, TOO_DEEP)
    assert not served.is_error


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('{"a": "[[[[{{{{"}', 1),
        ('{"a": "\\"[[", "b": [[]]}', 3),
        ('{"a": "\\\\", "b": [[]]}', 3),
        ('{"a": "\\\\\\"[", "b": [[]]}', 3),
        ('[{"x": [1, {"y": []}]}]', 5),
        ('"unterminated [[[[', 0),
    ],
)
def test_json_depth_counts_brackets_outside_strings_and_escapes(text: str, depth: int) -> None:
    assert json_depth(text) == depth


def test_the_id_of_a_too_deep_message_is_read_from_its_top_level_only() -> None:
    deep = "[" * 5000 + "]" * 5000
    text = f'{{"params": {{"a": [{deep}, "}}"]}}, "id": "a\\"b{{", "method": "tools/call"}}'
    assert message_id(text) == ('a"b{', "tools/call")
    assert message_id('{"id": true, "params": ' + deep + "}") == (None, "")
    assert message_id("[" + deep + "]") == (None, "")


# --- one slow call stalls nothing else ---------------------------------------------------------


async def test_one_slow_call_stalls_neither_health_nor_other_calls() -> None:
    """The slow call cannot finish before `release` is set, which happens only at the end."""
    release = threading.Event()
    server = build_server(ServerConfig())
    started = add_waiting_tool(server, "hold", release, time_limit=WAIT_S)
    metrics = [demo_metrics(creator) for creator in demo_creator_ids()[:2]]
    slow: list[CallToolResult] = []
    scored: list[CallToolResult] = []
    try:
        with serve_in_thread(build_http_app(server, HttpConfig())) as base:
            async with (
                Client(f"{base}/mcp") as client,
                httpx2.AsyncClient(timeout=WAIT_S) as http,
                anyio.create_task_group() as group,
            ):

                async def call_slow() -> None:
                    slow.append(await client.call_tool("hold", {}))

                async def call_score(creator: dict[str, Any]) -> None:
                    scored.append(await client.call_tool("score_creator", {"metrics": creator}))

                group.start_soon(call_slow)
                assert await anyio.to_thread.run_sync(started.wait, WAIT_S)
                with anyio.fail_after(WAIT_S):
                    health = await http.get(f"{base}/health")
                    async with anyio.create_task_group() as scoring:
                        for creator in metrics:
                            scoring.start_soon(call_score, creator)
                assert health.status_code == 200
                assert not slow
                release.set()
    finally:
        release.set()
    by_creator = {str(r.structured_content["creator_id"]): r.structured_content for r in scored}
    assert by_creator == {
        str(m["creator_id"]): score_answer(m).model_dump(mode="json") for m in metrics
    }
    assert text_of(slow[0]) == "hold released"


async def test_a_call_past_the_time_limit_is_stopped_with_a_clear_error_over_http() -> None:
    release = threading.Event()
    server = build_server(ServerConfig())
    add_waiting_tool(server, "stall", release, time_limit=0.3)
    try:
        with serve_in_thread(build_http_app(server, HttpConfig())) as base:
            async with Client(f"{base}/mcp") as client:
                with anyio.fail_after(WAIT_S):
                    result = await client.call_tool("stall", {})
                    after = await client.call_tool("score_creator", {"metrics": {"views": 1000}})
    finally:
        release.set()
    assert result.is_error
    assert text_of(result).startswith("stall was stopped: it ran longer than the 0.3 s limit")
    assert not after.is_error


async def test_client_roots_never_widen_file_access_over_http(tmp_path: Path) -> None:
    """A client answering roots/list with file:/// reads nothing outside the operator's folder.

    Over HTTP a root describes the client's machine, so only the operator's directories count;
    a path outside them is refused with the same words whether it exists or not.
    """
    allowed, secret = tmp_path / "allowed", tmp_path / "secret"
    allowed.mkdir()
    secret.mkdir()
    (allowed / "cohort.csv").write_text("creator_id,gmv\nmine,5000\n")
    (secret / "secret.csv").write_text("creator_id,gmv\nsecret_row,99999\n")
    config = ServerConfig(allowed_dirs=(str(allowed),), transport="http", http_files=True)
    asked: list[str] = []

    async def everything(context: ClientRequestContext) -> ListRootsResult:
        asked.append("roots")
        return ListRootsResult(roots=[Root(uri=FileUrl("file:///"), name="everything")])

    with serve_in_thread(build_http_app(build_server(config), HttpConfig())) as base:
        async with Client(f"{base}/mcp", list_roots_callback=everything) as client:
            with anyio.fail_after(WAIT_S):
                inside = await client.call_tool("score_cohort", {"path": "cohort.csv"})
                existing = await client.call_tool(
                    "score_cohort", {"path": str(secret / "secret.csv")}
                )
                absent = await client.call_tool("score_cohort", {"path": str(secret / "none.csv")})
    assert not inside.is_error, text_of(inside)
    assert existing.is_error
    assert absent.is_error
    assert "secret_row" not in text_of(existing)
    rule = "path must be inside an allowed directory"
    assert rule in text_of(existing)
    assert rule in text_of(absent)


# --- sessions ----------------------------------------------------------------------------------


async def test_a_flood_of_initialize_requests_cannot_lock_a_legitimate_client_out() -> None:
    """A table of 8 sessions and 300 `initialize` requests that never come back (issue 19.3,
    scaled from 10,050): a client whose call is in flight keeps its session, and a client
    arriving after the flood is served. Without eviction the SDK answers 503 once 8 are open.

    Sessions belong to the handshake protocol versions (up to 2025-11-25), so both clients use
    ``mode="legacy"``; a 2026-07-28 client sends self-contained requests and opens none."""
    release = threading.Event()
    server = build_server(ServerConfig(transport="http"))
    started = add_waiting_tool(server, "hold", release, time_limit=WAIT_S)
    statuses: Counter[int] = Counter()
    held: list[CallToolResult] = []
    served: list[CallToolResult] = []
    try:
        with serve_in_thread(build_http_app(server, HttpConfig(max_sessions=8))) as base:
            async with Client(f"{base}/mcp", mode="legacy") as busy:

                async def hold() -> None:
                    held.append(await busy.call_tool("hold", {}))

                async with anyio.create_task_group() as group:
                    group.start_soon(hold)
                    assert await anyio.to_thread.run_sync(started.wait, WAIT_S)
                    with anyio.fail_after(WAIT_S):
                        async with httpx2.AsyncClient(timeout=WAIT_S) as http:
                            for _ in range(300):
                                flood = await http.post(
                                    f"{base}/mcp", headers=POST_HEADERS, json=INITIALIZE
                                )
                                statuses[flood.status_code] += 1
                        async with Client(f"{base}/mcp", mode="legacy") as late:
                            served.append(
                                await late.call_tool("score_creator", {"metrics": {"views": 1000}})
                            )
                    release.set()
                with anyio.fail_after(WAIT_S):
                    again = await busy.call_tool("score_creator", {"metrics": {"views": 1000}})
    finally:
        release.set()
    assert statuses == {200: 300}
    assert [result.is_error for result in served] == [False], text_of(served[0])
    assert [text_of(result) for result in held] == ["hold released"]
    assert not again.is_error, text_of(again)


async def test_sessions_idle_past_the_limit_are_closed_whether_or_not_they_initialised() -> None:
    """The table's clock is the test's: a session that never sent `initialized` and one idle
    since its last ping are both closed once idle for 60 s, when the next session opens."""
    now = [0.0]
    server = build_server(ServerConfig(transport="http"))
    app = build_http_app(server, HttpConfig(session_idle=60.0), clock=lambda: now[0])
    ping = {"jsonrpc": "2.0", "id": 5, "method": "ping"}
    with serve_in_thread(app) as base:
        url = f"{base}/mcp"
        async with httpx2.AsyncClient(timeout=WAIT_S) as http:
            active = await open_legacy_session(http, url)
            silent = await http.post(url, headers=POST_HEADERS, json=INITIALIZE)
            silent_headers = {**active, "Mcp-Session-Id": silent.headers["mcp-session-id"]}
            now[0] = 30.0
            assert (await http.post(url, headers=active, json=ping)).status_code == 200
            now[0] = 61.0
            await http.post(url, headers=POST_HEADERS, json=INITIALIZE)  # closes `silent`
            after_silent = await http.post(url, headers=silent_headers, json=ping)
            still_active = await http.post(url, headers=active, json=ping)  # idle since 61
            now[0] = 121.0
            await http.post(url, headers=POST_HEADERS, json=INITIALIZE)  # closes `active`
            after_active = await http.post(url, headers=active, json=ping)
    assert (after_silent.status_code, still_active.status_code) == (404, 200)
    assert after_active.status_code == 404


async def test_when_every_session_has_a_call_in_flight_a_new_one_gets_503_saying_why() -> None:
    release = threading.Event()
    server = build_server(ServerConfig(transport="http"))
    started = add_waiting_tool(server, "hold", release, time_limit=WAIT_S)
    refused: list[httpx2.Response] = []
    try:
        with serve_in_thread(build_http_app(server, HttpConfig(max_sessions=1))) as base:
            async with (
                Client(f"{base}/mcp", mode="legacy") as busy,
                anyio.create_task_group() as group,
            ):
                group.start_soon(busy.call_tool, "hold", {})
                assert await anyio.to_thread.run_sync(started.wait, WAIT_S)
                async with httpx2.AsyncClient(timeout=WAIT_S) as http:
                    refused.append(
                        await http.post(f"{base}/mcp", headers=POST_HEADERS, json=INITIALIZE)
                    )
                release.set()
    finally:
        release.set()
    assert refused[0].status_code == 503
    assert refused[0].headers["retry-after"] == "5"
    assert refused[0].json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": -32603,
            "message": "Too many open sessions: all 1 have a call in flight; retry when one ends",
        },
    }


# --- fairness ----------------------------------------------------------------------------------


class PostCounter:
    """ASGI middleware that sets `reached` once `target` POST requests have arrived."""

    def __init__(self, app: ASGIApp, target: int) -> None:
        self.app = app
        self.target = target
        self.posts = 0
        self.reached = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            self.posts += 1
            if self.posts >= self.target:
                self.reached.set()
        await self.app(scope, receive, send)


async def test_one_session_with_45_slow_calls_cannot_starve_another_clients_call() -> None:
    """Issue 19.8: 45 concurrent calls from one session took all 40 worker threads, and another
    client's score_creator waited for them. With the per-session cap (8 by default) at most 8
    of them run at once, and the other client is answered while all 45 are still held.

    The other client calls only once the server has received all 45 calls (two clients make
    2 x 2 POSTs to connect), so without the cap it would queue behind them."""
    release = threading.Event()
    entered: list[str] = []
    server = build_server(ServerConfig(transport="http"))
    started = add_waiting_tool(server, "hold", release, time_limit=WAIT_S, entered=entered)
    held: list[CallToolResult] = []
    others: list[CallToolResult] = []
    running_when_answered: list[int] = []
    app = PostCounter(build_http_app(server, HttpConfig()), target=4 + 45)
    try:
        with serve_in_thread(app) as base:
            async with (
                Client(f"{base}/mcp", mode="legacy") as greedy,
                Client(f"{base}/mcp", mode="legacy") as other,
            ):

                async def hold() -> None:
                    held.append(await greedy.call_tool("hold", {}))

                async with anyio.create_task_group() as group:
                    for _ in range(45):
                        group.start_soon(hold)
                    assert await anyio.to_thread.run_sync(started.wait, WAIT_S)
                    assert await anyio.to_thread.run_sync(app.reached.wait, WAIT_S)
                    with anyio.fail_after(WAIT_S):
                        others.append(
                            await other.call_tool("score_creator", {"metrics": {"views": 1000}})
                        )
                    running_when_answered.append(len(entered))
                    assert held == []
                    release.set()
    finally:
        release.set()
    assert [result.is_error for result in others] == [False]
    assert 1 <= running_when_answered[0] <= 8
    assert [text_of(result) for result in held] == ["hold released"] * 45


# --- server paths ------------------------------------------------------------------------------


async def test_errors_sent_over_http_name_no_server_path_and_the_log_keeps_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 19.11: an HTTP client learned the allowed directories and the store's path from
    error texts. Over HTTP they are described instead; stdio (the operator) keeps them."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    store = tmp_path / "experiments.sqlite3"
    store.write_bytes(b"not a database " * 100)
    config = ServerConfig(
        allowed_dirs=(str(allowed),), transport="http", http_files=True, store_path=store
    )
    calls: list[tuple[str, dict[str, Any]]] = [
        ("score_cohort", {"path": "/etc/hostname"}),
        ("score_cohort", {"path": "../outside.csv"}),
        ("list_experiments", {}),
    ]
    caplog.set_level(logging.INFO, logger="creator_kpi.tools")
    with serve_in_thread(build_http_app(build_server(config), HttpConfig())) as base:
        async with Client(f"{base}/mcp") as client:
            over_http = [text_of(await client.call_tool(name, args)) for name, args in calls]
    async with Client(build_server(replace(config, transport="stdio"))) as client:
        over_stdio = [text_of(await client.call_tool(name, args)) for name, args in calls]
    how_to_allow = (  # over HTTP the advice never offers client roots (they do not count)
        "have the operator set CREATOR_KPI_ALLOWED_DIRS (or --allow-dir DIR; client roots do "
        "not count over HTTP) to allow another."
    )
    assert over_http == [
        "score_cohort was not run: path must be inside an allowed directory; got "
        f"'/etc/hostname' - allowed: 'an allowed directory'; {how_to_allow}",
        "score_cohort was not run: path must not use '..' to leave the allowed directories; "
        "got '../outside.csv' - give a path inside 'an allowed directory'.",
        "list_experiments was not run: the experiment store is not a readable SQLite database "
        "(file is not a database) - move the file aside (or restore a backup) or set "
        "CREATOR_KPI_DB to another path; the scoring tools keep working.",
    ]
    assert [str(allowed) in text for text in over_stdio] == [True, True, False]
    assert str(store) in over_stdio[2]
    withheld = "\n".join(r.getMessage() for r in caplog.records if "withheld" in r.getMessage())
    assert str(allowed) in withheld
    assert str(store) in withheld
