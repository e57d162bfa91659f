"""Serving a built server over stdio: every line a client sends gets an answer.

stdout is the transport: nothing else may write to it, and logs go to stderr.

The SDK's stdin reader (mcp 2.3.0) drops a line it cannot parse without a word, so a client that
sent it waits forever: a lone UTF-16 surrogate escape (``"\\ud800"``, what JavaScript's
``JSON.stringify`` emits for a string cut inside an emoji), a batch array, trailing garbage,
truncated JSON, an integer of over 4300 digits, a message nested past its parser's ~200 levels.
It also reads a message whose id is not a string or an integer as a notification, which is
never answered. This module therefore reads stdin itself, one line at a time, and answers each
such line with a JSON-RPC error: -32700 (parse error) for text that is not JSON, -32600 (invalid
request) for JSON that is not a JSON-RPC message or nests deeper than `MAX_JSON_DEPTH`; the
error carries the message's id when one can be read, else ``null``. Blank lines are skipped. The
SDK's `stdio_server` still owns stdout (and keeps stray writes off it).
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from collections.abc import Generator
from contextlib import contextmanager
from typing import BinaryIO, cast

import anyio
import mcp_types
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._context_streams import create_context_streams  # what stdio_server uses
from mcp.shared._stream_protocols import WriteStream  # the type of Server.run's write stream
from mcp.shared.message import SessionMessage
from mcp.types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    RequestId,
)
from pydantic import ValidationError

from kpi_core.errors import truncate
from transport._json import MAX_JSON_DEPTH, deeper_than, message_id, too_deep_error

__all__ = ["answer_line", "run_stdio_guarded", "serve_stdio"]

logger = logging.getLogger("creator_kpi.transport")

_SURROGATE_ADVICE = (
    "Parse error: a \\u escape in the message is not valid Unicode (a lone UTF-16 surrogate such "
    "as \\ud800, what a string cut inside an emoji becomes); send whole characters"
)
_OUT_OF_RANGE = "Parse error: a number in the message is out of range (over 4300 digits)"
_BATCH = (
    "Invalid Request: batches (a JSON array of messages) are not supported; "
    "send one message per line"
)
_NOT_AN_OBJECT = "Invalid Request: a message must be a JSON object"
_BAD_ID = "Invalid Request: id must be a string or an integer"


def _error(request_id: RequestId | None, code: int, message: str) -> JSONRPCError:
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))


def _valid_id(value: object) -> RequestId | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return value


def _request_id(message: object) -> RequestId | None:
    """The id to answer a malformed message with: a request's own id, else None."""
    if not isinstance(message, dict):
        return None
    fields = cast("dict[str, object]", message)
    if "method" not in fields:  # a response the client sent us: its id is ours, not theirs
        return None
    return _valid_id(fields.get("id"))


def _parse_error(line: str, detail: str) -> JSONRPCError:
    """-32700 for a line that is not JSON, with the id read from its intact top level if any."""
    request_id, _ = message_id(line)
    if "surrogate" in detail or "hex escape" in detail:
        text = _SURROGATE_ADVICE
    elif "number out of range" in detail:
        text = _OUT_OF_RANGE
    else:
        reason = detail.removeprefix("Invalid JSON: ")
        text = f"Parse error: the line is not valid JSON ({reason}); send one message per line"
    return _error(request_id, PARSE_ERROR, text)


def _invalid_request(line: str, error: ValidationError) -> list[JSONRPCError]:
    """-32600 for JSON that is no JSON-RPC message: one error per request id in a batch."""
    message: object = json.loads(line)
    if isinstance(message, list):
        ids = [_request_id(item) for item in cast("list[object]", message)]
        known = [request_id for request_id in ids if request_id is not None]
        return [_error(request_id, INVALID_REQUEST, _BATCH) for request_id in known] or [
            _error(None, INVALID_REQUEST, _BATCH)
        ]
    if not isinstance(message, dict):
        return [_error(None, INVALID_REQUEST, _NOT_AN_OBJECT)]
    fields = cast("dict[str, object]", message)
    request_id = _request_id(fields)
    variant = "JSONRPCRequest" if request_id is not None else "JSONRPCNotification"
    problems = [p for p in error.errors(include_url=False) if p["loc"][:1] == (variant,)]
    if not problems or "method" not in fields:
        return [_error(request_id, INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message")]
    place = ".".join(str(part) for part in problems[0]["loc"][1:]) or "message"
    rule = problems[0]["msg"].replace("Input should be", "must be")
    return [_error(request_id, INVALID_REQUEST, f"Invalid Request: {place} {rule.lower()}")]


def _has_id(line: str) -> bool:
    """Whether a message the SDK read as a notification carries an id (one it could not use)."""
    if '"id"' not in line:
        return False
    parsed: object = json.loads(line)
    return isinstance(parsed, dict) and "id" in parsed


def answer_line(line: str, limit: int = MAX_JSON_DEPTH) -> SessionMessage | list[JSONRPCError]:
    """The message a stdin line carries, or the errors answering it (none for a blank line or
    a too-deep notification, which nobody waits for)."""
    text = line.strip()
    if not text:
        return []
    if deeper_than(text.encode(), limit):
        request_id, method = message_id(text)
        if request_id is None and method:  # a notification: nobody waits for an answer
            logger.info("dropped a notification nested deeper than %d levels", limit)
            return []
        return [too_deep_error(request_id, method, limit)]
    try:
        message = mcp_types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValidationError as error:
        invalid_json = [p for p in error.errors(include_url=False) if p["type"] == "json_invalid"]
        if invalid_json:
            return [_parse_error(text, invalid_json[0]["msg"])]
        return _invalid_request(text, error)
    if isinstance(message, JSONRPCNotification) and _has_id(text):
        return [_error(None, INVALID_REQUEST, _BAD_ID)]
    return SessionMessage(message)


async def _read_lines(
    lines: anyio.AsyncFile[str],
    sink: WriteStream[SessionMessage | Exception],
    write_stream: WriteStream[SessionMessage],
) -> None:
    """Hand each well-formed message to the server and answer every other line at once."""
    async with sink:
        async for line in lines:
            item = answer_line(line)
            if isinstance(item, SessionMessage):
                await sink.send(item)
                continue
            for error in item:
                logger.info(
                    "refused a stdio line (%d): %s; id %s",
                    error.error.code,
                    error.error.message.partition(";")[0],
                    truncate(error.id),
                )
                await write_stream.send(SessionMessage(error))


@contextmanager
def _claimed_stdin() -> Generator[BinaryIO]:
    """stdin's bytes, with fd 0 pointed at the null device meanwhile (as the SDK's stdio_server
    does), so a child process or a stray read sees end of file instead of protocol bytes."""
    try:
        private = os.dup(sys.stdin.fileno())  # not inherited by child processes
    except (AttributeError, OSError, ValueError):  # no real stdin (embedded, or replaced)
        yield sys.stdin.buffer
        return
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        # Never closed: a worker thread may still block on it after the server stops.
        yield os.fdopen(private, "rb", closefd=False)
    finally:
        os.dup2(private, 0)


async def run_stdio_guarded(server: MCPServer) -> None:
    """Serve `server` over stdin/stdout, answering every malformed line (module docstring).

    The SDK offers no hook between its stdin reader and the server, so this reads stdin itself,
    lets `stdio_server()` own stdout only, and runs the low-level server as
    ``run_stdio_async`` does.
    """
    lowlevel = server._lowlevel_server  # the same call MCPServer.run_stdio_async makes
    nothing = anyio.wrap_file(io.StringIO(""))  # stdio_server's own reader: ends at once
    with _claimed_stdin() as stdin:
        text = io.TextIOWrapper(stdin, encoding="utf-8", errors="replace")
        async with stdio_server(stdin=nothing) as (_, write_stream):
            sink, source = create_context_streams[SessionMessage | Exception](0)
            async with anyio.create_task_group() as group:
                group.start_soon(_read_lines, anyio.wrap_file(text), sink, write_stream)
                await lowlevel.run(source, write_stream, lowlevel.create_initialization_options())
                group.cancel_scope.cancel()


def serve_stdio(server: MCPServer) -> None:
    """Serve `server` over stdio until stdin closes (stdout is the transport)."""
    anyio.run(run_stdio_guarded, server)
