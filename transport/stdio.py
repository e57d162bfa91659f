"""Serving a built server over stdio, with the same deep-nesting guard as HTTP.

stdout is the transport: nothing else may write to it, and logs go to stderr.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Self

import anyio
import pydantic_core
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream  # the types of Server.run
from mcp.shared.message import SessionMessage
from mcp.types import PARSE_ERROR, ErrorData, JSONRPCError, JSONRPCRequest
from pydantic import ValidationError

from transport._json import MAX_JSON_DEPTH, deeper_than, message_id, too_deep_error

__all__ = ["run_stdio_guarded", "serve_stdio"]

logger = logging.getLogger("creator_kpi.transport")


def _too_deep_line(item: Exception) -> str | None:
    """The raw line of a message the SDK's stdio reader could not parse for its depth, if so."""
    if not isinstance(item, ValidationError):
        return None
    for problem in item.errors(include_url=False):
        line = problem.get("input")
        if (
            problem["type"] == "json_invalid"
            and "recursion limit" in problem["msg"]
            and isinstance(line, str)
        ):
            return line
    return None


def _out_of_range_error(item: Exception) -> JSONRPCError | None:
    """The error answering a request the SDK's stdio reader could not parse for a number out of
    range (an integer of over 4300 digits), which it would otherwise drop unanswered."""
    if not isinstance(item, ValidationError):
        return None
    for problem in item.errors(include_url=False):
        line = problem.get("input")
        if problem["type"] == "json_invalid" and "number out of range" in problem["msg"]:
            request_id, method = message_id(line) if isinstance(line, str) else (None, "")
            if request_id is None:  # a notification, or no id to be found: nobody waits
                return None
            logger.info("refused a JSON-RPC message with a number out of range: method %s", method)
            message = "Parse error: a number in the message is out of range (over 4300 digits)"
            return JSONRPCError(
                jsonrpc="2.0", id=request_id, error=ErrorData(code=PARSE_ERROR, message=message)
            )
    return None


class _GuardedReadStream:
    """The SDK's stdio read stream, answering too-deep requests instead of passing them on.

    A request nested deeper than `MAX_JSON_DEPTH` is answered here with a JSON-RPC error
    carrying its id. That covers the lines the SDK's stdin reader cannot parse at all (beyond
    about 200 levels): it hands those to the server as exception items, which the server only
    logs at debug level, so without this the client would wait forever.
    """

    def __init__(
        self,
        inner: ReadStream[SessionMessage | Exception],
        write_stream: WriteStream[SessionMessage],
        limit: int = MAX_JSON_DEPTH,
    ) -> None:
        self._inner = inner
        self._write_stream = write_stream
        self._limit = limit

    @property
    def last_context(self) -> object:
        return getattr(self._inner, "last_context", None)

    def _refusal(self, item: SessionMessage | Exception) -> JSONRPCError | None:
        if isinstance(item, Exception):
            line = _too_deep_line(item)
            if line is None:
                return _out_of_range_error(item)
            request_id, method = message_id(line)
        else:
            message = item.message
            if not isinstance(message, JSONRPCRequest) or message.params is None:
                return None
            try:
                params = pydantic_core.to_json(message.params)
            except ValueError:  # too deep even to serialise
                params = b"[" * (self._limit + 1)
            if not deeper_than(params, self._limit - 1):  # params sit one level down
                return None
            request_id, method = message.id, message.method
        if request_id is None:  # a notification or a response: nobody waits for an answer
            return None
        return too_deep_error(request_id, method, self._limit)

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item = await self._inner.receive()
            error = self._refusal(item)
            if error is None:
                return item
            try:
                await self._write_stream.send(SessionMessage(error))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        await self.aclose()
        return None


async def run_stdio_guarded(server: MCPServer) -> None:
    """`server.run_stdio_async()` with too-deep messages answered (see `_GuardedReadStream`).

    The SDK offers no hook between its stdin reader and the server, so this opens the same
    `stdio_server()` streams and runs the low-level server itself, as ``run_stdio_async`` does.
    """
    lowlevel = server._lowlevel_server  # the same call MCPServer.run_stdio_async makes
    async with stdio_server() as (read_stream, write_stream):
        guarded = _GuardedReadStream(read_stream, write_stream)
        await lowlevel.run(guarded, write_stream, lowlevel.create_initialization_options())


def serve_stdio(server: MCPServer) -> None:
    """Serve `server` over stdio until stdin closes (stdout is the transport)."""
    anyio.run(run_stdio_guarded, server)
