"""The stdio transport with raw lines: every line a client can send gets an answer.

The server runs as `python server.py` with a pipe for stdin; a thread reads its stdout line by
line into a queue (a pipe nobody reads fills up and blocks the server) and its stderr goes to a
file. Every wait is bounded by `WAIT_S`: an unanswered line fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, server_parameters
from transport._json import message_id

#: Bound on every wait for an answer; the machine may be busy.
WAIT_S = 60.0


class RawStdioServer:
    """`python server.py` driven line by line, as a hand-written client would."""

    def __init__(self, folder: Path) -> None:
        params = server_parameters()
        self._log = (folder / "stdio.log").open("wb")
        self.process = subprocess.Popen(
            [params.command, *params.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=ROOT,
            env=params.env,
        )
        self._lines: queue.Queue[bytes] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        for line in stdout:
            self._lines.put(line)

    def send(self, line: str | bytes) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write((line.encode() if isinstance(line, str) else line) + b"\n")
        stdin.flush()

    def request(self, message: dict[str, Any]) -> None:
        self.send(json.dumps(message))

    def answer(self) -> dict[str, Any]:
        """The next message the server writes (a bounded wait)."""
        try:
            line = self._lines.get(timeout=WAIT_S)
        except queue.Empty:
            pytest.fail(f"no answer within {WAIT_S:g} s")
        return json.loads(line)

    def initialize(self) -> None:
        self.request(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "1"},
                },
            }
        )
        assert self.answer()["id"] == 0
        self.request({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def close(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.close()
        try:
            self.process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=WAIT_S)
        self._reader.join(timeout=WAIT_S)
        assert self.process.stdout is not None
        self.process.stdout.close()
        self._log.close()


@pytest.fixture(scope="module")
def raw_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawStdioServer]:
    server = RawStdioServer(tmp_path_factory.mktemp("stdio"))
    try:
        server.initialize()
        yield server
    finally:
        server.close()


def ping(request_id: int | str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "ping"}


def call(request_id: int | str, metrics: str) -> str:
    """A score_creator call with `metrics` spliced in as raw JSON text."""
    return (
        f'{{"jsonrpc":"2.0","id":{json.dumps(request_id)},"method":"tools/call",'
        f'"params":{{"name":"score_creator","arguments":{{"metrics":{metrics}}}}}}}'
    )


PARSE_ERROR, INVALID_REQUEST = -32700, -32600


@pytest.mark.parametrize(
    ("line", "expected_id", "code"),
    [
        # What JavaScript's JSON.stringify emits for a string cut inside an emoji.
        (call(11, '{"creator_id": "ab\\ud800", "views": 1000}'), 11, PARSE_ERROR),
        (call("s-12", '{"creator_id": "\\udc00x"}'), "s-12", PARSE_ERROR),
        (json.dumps([ping(13)]), 13, INVALID_REQUEST),
        (json.dumps([{"jsonrpc": "2.0", "method": "notifications/x"}]), None, INVALID_REQUEST),
        (json.dumps(ping(14)) + " trailing garbage", 14, PARSE_ERROR),
        (call(15, '{"views": 1000}')[:-20], 15, PARSE_ERROR),
        ('{"jsonrpc": "2.0", "method": "ping", "id": 16, "params": {"a": ', 16, PARSE_ERROR),
        ('{"jsonrpc":', None, PARSE_ERROR),
        ("not json at all", None, PARSE_ERROR),
        ('{"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}', None, INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": [17], "method": "ping"}', None, INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": null, "method": "ping"}', None, INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 18.5, "method": "ping"}', None, INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 19, "method": 5}', 19, INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 20, "method": "ping", "params": 7}', 20, INVALID_REQUEST),
        ('"just a string"', None, INVALID_REQUEST),
        ("[]", None, INVALID_REQUEST),
    ],
    ids=[
        "lone-high-surrogate",
        "lone-low-surrogate",
        "batch",
        "batch-of-notifications",
        "trailing-garbage",
        "truncated-call",
        "truncated-after-id",
        "truncated-before-id",
        "not-json",
        "object-id",
        "array-id",
        "null-id",
        "fractional-id",
        "method-not-a-string",
        "params-not-an-object",
        "a-string",
        "empty-batch",
    ],
)
def test_a_malformed_line_gets_a_json_rpc_error_and_the_next_line_is_served(
    raw_server: RawStdioServer, line: str, expected_id: int | str | None, code: int
) -> None:
    raw_server.send(line)
    refusal = raw_server.answer()
    raw_server.request(ping("after"))
    after = raw_server.answer()
    assert refusal["id"] == expected_id, refusal
    assert refusal["error"]["code"] == code, refusal
    assert set(refusal) == {"jsonrpc", "id", "error"}
    assert after == {"jsonrpc": "2.0", "id": "after", "result": {}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"jsonrpc":"2.0","id":14,"method":"ping"} trailing', (14, "ping")),
        ('{"a": {"id": 3}, "id": "x\\"y", "method": "m", "params": {"n":', ('x"y', "m")),
        ('{"s": "\\"id\\": 5", "params": [', (None, "")),
        ('{"id": 14.5, "method": "ping", "params": [', (None, "ping")),
        ('[{"id": 1}', (None, "")),
    ],
    ids=["trailing", "nested-and-escaped", "inside-a-string", "fractional", "array"],
)
def test_the_id_of_a_broken_message_is_read_from_its_top_level_only(
    text: str, expected: tuple[int | str | None, str]
) -> None:
    assert message_id(text) == expected
