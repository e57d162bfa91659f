"""Serving the creator-KPI server over streamable HTTP, safely.

`build_http_app(server, http)` wraps a built server's streamable HTTP app (MCP at ``/mcp``) in
one ASGI guard; `serve_http(...)` runs it under uvicorn with logs on stderr;
`HttpConfig.from_env(...)` reads and checks the settings, and refuses an unsafe bind before
anything starts. `serve_stdio(...)` is the stdio entry point with the same deep-nesting guard.

Every request to ``/mcp`` (and to any path other than ``/health``) passes, in order:

1. the Host and Origin allow-lists (421 for a bad Host, 403 for a bad Origin), on every bind;
2. the bearer token, when one is configured (401 without it or with a wrong one, compared in
   constant time); it is required on any bind other than loopback;
3. the request body limit (413 beyond it, judged on Content-Length and on the bytes received);
4. the nesting limit: a JSON-RPC message nested deeper than `MAX_JSON_DEPTH` levels is answered
   with a JSON-RPC error carrying its id (HTTP 400) instead of being handed to the SDK, which in
   mcp 2.3.0 drops such a message unanswered over stdio and answers it without its id over HTTP.

The settings, the token rules and what stateless mode means for the experiment store are
documented in the README ("Serving over HTTP").
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Final, Self, cast

import anyio
import anyio.to_thread
import numpy as np
import numpy.typing as npt
import pydantic_core
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.shared._stream_protocols import ReadStream, WriteStream  # the types of Server.run
from mcp.shared.message import SessionMessage
from mcp.types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCRequest,
    RequestId,
)
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kpi_core import load_catalogue
from kpi_core.errors import InvalidValueError, Problem, truncate
from tools._config import ServerConfig

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_PORT",
    "HEALTH_PATH",
    "MAX_JSON_DEPTH",
    "MCP_PATH",
    "HttpConfig",
    "build_http_app",
    "is_loopback",
    "json_depth",
    "run_stdio_guarded",
    "serve_http",
    "serve_stdio",
    "too_deep_error",
]

logger = logging.getLogger("creator_kpi.http")

ENV_TOKEN: Final = "CREATOR_KPI_TOKEN"
ENV_TOKEN_FILE: Final = "CREATOR_KPI_TOKEN_FILE"
ENV_ALLOWED_HOSTS: Final = "CREATOR_KPI_ALLOWED_HOSTS"
ENV_ALLOWED_ORIGINS: Final = "CREATOR_KPI_ALLOWED_ORIGINS"
ENV_MAX_REQUEST_BYTES: Final = "CREATOR_KPI_MAX_REQUEST_BYTES"

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8000
DEFAULT_MAX_REQUEST_BYTES: Final = 1024 * 1024
MCP_PATH: Final = "/mcp"
HEALTH_PATH: Final = "/health"
#: Deepest JSON-RPC message accepted (the message object itself is level 1; a tool call's
#: arguments sit at level 3 and a metric value at level 5). The SDK's own parser gives up
#: at about 200 levels, and not every transport answers then.
MAX_JSON_DEPTH: Final = 64
MIN_TOKEN_LENGTH: Final = 16

_LOOPBACK_NAMES: Final = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD_BINDS: Final = frozenset({"0.0.0.0", "::", ""})
_TOKEN_ADVICE: Final = (
    f"set {ENV_TOKEN} to a secret of at least {MIN_TOKEN_LENGTH} characters, for example "
    f"export {ENV_TOKEN}=\"$(python -c 'import secrets; print(secrets.token_urlsafe(32))')\", "
    f"or set {ENV_TOKEN_FILE} to the path of a file holding it; clients then send the header "
    "'Authorization: Bearer <token>'"
)


# --- configuration -----------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Whether a bind address only accepts connections from this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve to anything
        return False


def _refusal(variable: str, rule: str, hint: str = "") -> InvalidValueError:
    """A configuration error that never echoes the value (it may be a secret)."""
    return InvalidValueError.from_problems([Problem(variable, rule, "", hint)])


def _read_token(environ: Mapping[str, str]) -> str | None:
    inline = environ.get(ENV_TOKEN, "")
    path = environ.get(ENV_TOKEN_FILE, "")
    if inline and path:
        raise _refusal(ENV_TOKEN, f"and {ENV_TOKEN_FILE} are both set", "set only one of them")
    if path:
        try:
            token = Path(path).read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidValueError(
                ENV_TOKEN_FILE, f"must name a readable text file ({error.__class__.__name__})", path
            ) from None
        if not token:
            raise InvalidValueError(ENV_TOKEN_FILE, "names an empty file", path, _TOKEN_ADVICE)
        source = ENV_TOKEN_FILE
    elif inline:
        token, source = inline.strip(), ENV_TOKEN
    else:
        return None
    if len(token) < MIN_TOKEN_LENGTH:
        raise _refusal(source, f"must hold at least {MIN_TOKEN_LENGTH} characters", _TOKEN_ADVICE)
    if not all("!" <= char <= "~" for char in token):
        raise _refusal(source, "must hold visible ASCII characters only (no spaces)")
    return token


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _max_request_bytes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InvalidValueError(
            ENV_MAX_REQUEST_BYTES, "must be a whole number of bytes", text
        ) from None
    if not 1024 <= value <= 1024**3:
        raise InvalidValueError(ENV_MAX_REQUEST_BYTES, "must be in [1024, 1073741824]", text)
    return value


def _host_header_name(host: str) -> str:
    """How a bind address appears in a Host header (IPv6 in brackets)."""
    name = host.strip().strip("[]")
    return f"[{name}]" if ":" in name else name


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """Where and how the HTTP transport listens; `from_env` builds a checked one."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    stateless: bool = False
    token: str | None = field(default=None, repr=False)
    allowed_hosts: tuple[str, ...] = tuple(f"{name}:*" for name in _LOOPBACK_NAMES)
    allowed_origins: tuple[str, ...] = tuple(
        f"{scheme}://{name}:*" for scheme in ("http", "https") for name in _LOOPBACK_NAMES
    )
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_json_depth: int = MAX_JSON_DEPTH

    @classmethod
    def from_env(
        cls,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        stateless: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> HttpConfig:
        """Read the token, allow-lists and size limit; refuse a non-loopback bind without token."""
        env = os.environ if environ is None else environ
        if not 0 <= port <= 65_535:
            raise InvalidValueError("port", "must be in [0, 65535] (0 picks a free port)", port)
        if not host.strip():
            raise InvalidValueError("host", "must be an address or host name", host)
        token = _read_token(env)
        if token is None and not is_loopback(host):
            raise _refusal(
                ENV_TOKEN,
                f"is required to serve on {host} (any address other than 127.0.0.1, "
                "localhost or ::1): the server refuses to start without a bearer token",
                _TOKEN_ADVICE,
            )
        names: list[str] = list(_LOOPBACK_NAMES)
        if host.strip() not in _WILDCARD_BINDS and _host_header_name(host) not in names:
            names.append(_host_header_name(host))
        hosts = [f"{name}:*" for name in names] + list(_split_list(env.get(ENV_ALLOWED_HOSTS, "")))
        origins = [f"{scheme}://{name}:*" for scheme in ("http", "https") for name in names]
        origins += _split_list(env.get(ENV_ALLOWED_ORIGINS, ""))
        return cls(
            host=host.strip(),
            port=port,
            stateless=stateless,
            token=token,
            allowed_hosts=tuple(hosts),
            allowed_origins=tuple(origins),
            max_request_bytes=_max_request_bytes(
                env.get(ENV_MAX_REQUEST_BYTES, str(DEFAULT_MAX_REQUEST_BYTES))
            ),
        )

    def transport_security(self) -> TransportSecuritySettings:
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=list(self.allowed_hosts),
            allowed_origins=list(self.allowed_origins),
        )

    def describe(self) -> str:
        """One log line about the bind and its safeguards (never the token)."""
        mode = "stateless" if self.stateless else "with sessions"
        token = "bearer token required" if self.token else "no token (loopback only)"
        return (
            f"{mode}; {token}; Host allow-list {', '.join(self.allowed_hosts)}; "
            f"bodies up to {self.max_request_bytes:,} bytes"
        )


# --- the nesting guard (both transports) -------------------------------------------------------

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN_BRACE, _OPEN_BRACKET, _CLOSE_BRACE, _CLOSE_BRACKET = (ord(c) for c in "{[}]")

IntArray = npt.NDArray[np.int32]


def _nesting(data: bytes) -> tuple[npt.NDArray[np.int8], IntArray]:
    """Per byte of a JSON text: its bracket step (+1, -1, or 0 inside strings and elsewhere)
    and the depth after it. Vectorised: a 1 MiB body costs milliseconds however it nests."""
    plain = np.frombuffer(data, dtype=np.uint8)
    quote = plain == _QUOTE
    if _BACKSLASH in plain:  # a quote is escaped when an odd run of backslashes precedes it
        position = np.arange(len(plain), dtype=np.int32)
        last_plain = np.maximum.accumulate(np.where(plain == _BACKSLASH, -1, position))
        run = np.zeros(len(plain), dtype=np.int32)
        run[1:] = position[:-1] - last_plain[:-1]
        quote &= run % 2 == 0
    # Inside a string: after an odd number of quotes (an opening quote counts as inside).
    inside = np.bitwise_xor.accumulate(quote.view(np.uint8)).view(np.bool_)
    opens = ((plain == _OPEN_BRACE) | (plain == _OPEN_BRACKET)) & ~inside
    closes = ((plain == _CLOSE_BRACE) | (plain == _CLOSE_BRACKET)) & ~inside
    step = opens.view(np.int8) - closes.view(np.int8)
    return step, np.cumsum(step, dtype=np.int32)


def json_depth(text: str | bytes) -> int:
    """The nesting depth of a JSON text (a scalar is 0, ``{}`` is 1), without parsing it."""
    data = text.encode() if isinstance(text, str) else text
    if data.count(b"{") + data.count(b"[") == 0:
        return 0
    return int(_nesting(data)[1].max())


def _top_level(data: bytes) -> object:
    """The message with every member's content below the first level emptied (``{}``, ``[]``)."""
    step, after = _nesting(data)
    before = after - step
    keep = (
        ((before <= 1) & (after <= 1))
        | ((step == 1) & (after == 2))  # the opening bracket of a member's value
        | ((step == -1) & (before == 2))  # and its closing one
    )
    try:
        return json.loads(np.frombuffer(data, dtype=np.uint8)[keep].tobytes())
    except ValueError:  # not JSON at all, or not even its top level
        return None


def _message_id(text: str | bytes) -> tuple[RequestId | None, str]:
    """The id and method of a JSON-RPC message too deep to parse whole (None, "" if unknown)."""
    message = _top_level(text.encode() if isinstance(text, str) else text)
    if not isinstance(message, dict):
        return None, ""
    fields = cast("dict[str, object]", message)
    request_id = fields.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int):
        request_id = None
    method = fields.get("method")
    return request_id, (method if isinstance(method, str) else "")


def _deeper_than(data: bytes, limit: int) -> bool:
    # Fast path: no more opening brackets than the limit cannot nest deeper than it.
    if data.count(b"{") + data.count(b"[") <= limit:
        return False
    return json_depth(data) > limit


def too_deep_error(
    request_id: RequestId | None, method: str, limit: int = MAX_JSON_DEPTH
) -> JSONRPCError:
    """The JSON-RPC error answering a message nested deeper than `limit` levels, with its id."""
    logger.info(
        "refused a JSON-RPC message nested deeper than %d levels: method %s, id %s",
        limit,
        truncate(method) if method else "unknown",
        truncate(request_id),
    )
    message = (
        f"Invalid Request: the message is nested deeper than {limit} levels, the most this "
        "server accepts; send tool arguments as flat objects (no tool needs deep nesting)"
    )
    return JSONRPCError(
        jsonrpc="2.0", id=request_id, error=ErrorData(code=INVALID_REQUEST, message=message)
    )


# --- the HTTP guard ----------------------------------------------------------------------------


def _error_body(error: JSONRPCError) -> bytes:
    body = error.model_dump(mode="json", by_alias=True, exclude_none=True)
    body["id"] = error.id  # JSON-RPC wants "id": null on the wire when it is unknown
    return json.dumps(body, separators=(",", ":")).encode()


class _Guard:
    """The ASGI app in front of the SDK's: /health, then the checks of the module docstring."""

    def __init__(self, mcp_app: ASGIApp, http: HttpConfig, health: bytes) -> None:
        self._mcp_app = mcp_app
        self._http = http
        self._health = health
        self._security = TransportSecurityMiddleware(http.transport_security())
        self._token = _digest(http.token) if http.token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the SDK's session manager starts and stops here
            await self._mcp_app(scope, receive, send)
            return
        if scope["type"] != "http":  # a websocket: MCP has none, and it would skip the checks
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["path"] == HEALTH_PATH:
            await self._answer_health(scope, receive, send)
            return
        refusal = await self._security.validate_request(Request(scope), is_post=False)
        if refusal is None:
            refusal = self._check_token(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if scope["method"] != "POST":
            await self._mcp_app(scope, receive, send)
            return
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        if await self._too_deep(body):
            request_id, method = await anyio.to_thread.run_sync(_message_id, body)
            error = too_deep_error(request_id, method, self._http.max_json_depth)
            response = Response(_error_body(error), 400, media_type="application/json")
            await response(scope, receive, send)
            return
        await self._mcp_app(scope, _replay(body, receive), send)

    async def _answer_health(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "GET":
            await Response(status_code=405, headers={"Allow": "GET"})(scope, receive, send)
            return
        response = Response(self._health, media_type="application/json")
        response.headers["Cache-Control"] = "no-store"
        await response(scope, receive, send)

    def _check_token(self, scope: Scope) -> Response | None:
        if self._token is None:
            return None
        header = Headers(scope=scope).get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(_digest(given.strip()), self._token):
            return None
        client = scope.get("client")
        where = f"{client[0]}" if client else "an unknown client"
        if not header:
            logger.warning("refused a request from %s without a bearer token", where)
            challenge = 'Bearer realm="creator-kpi"'
            detail = "this server needs the header 'Authorization: Bearer <token>'"
        else:
            logger.warning("refused a request from %s with a wrong bearer token", where)
            challenge = 'Bearer realm="creator-kpi", error="invalid_token"'
            detail = "the bearer token is not the one this server was given"
        return JSONResponse(
            {"error": "invalid_token", "error_description": detail},
            status_code=401,
            headers={"WWW-Authenticate": challenge},
        )

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once a 413 has been sent (the client said or sent too much)."""
        limit = self._http.max_request_bytes
        too_large = Response(f"Request body larger than {limit} bytes", status_code=413)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(scope, receive, send)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await too_large(scope, receive, send)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_deep(self, body: bytes) -> bool:
        limit = self._http.max_json_depth
        if len(body) < 64 * 1024:  # a small body is checked faster than a thread hop
            return _deeper_than(body, limit)
        return await anyio.to_thread.run_sync(_deeper_than, body, limit)


def _digest(token: str) -> bytes:
    """Tokens are compared as SHA-256 digests: equal lengths, so the time tells nothing."""
    return hashlib.sha256(token.encode("utf-8", errors="surrogateescape")).digest()


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that hands the already-read body to the next app, then defers."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


def _health_document(server: MCPServer, http: HttpConfig) -> dict[str, object]:
    return {
        "status": "ok",
        "server": server.name,
        "version": server.version,
        "model_version": load_catalogue().model_version,
        "stateless": http.stateless,
    }


def build_http_app(server: MCPServer, http: HttpConfig | None = None) -> ASGIApp:
    """The ASGI app serving `server` at ``/mcp`` behind the guard, with ``/health`` beside it.

    Build `server` with ``ServerConfig(transport="http")`` (as `serve_http` does), so that its
    tools apply the HTTP file-access policy.
    """
    settings = http or HttpConfig()
    mcp_app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=settings.stateless,
        json_response=False,
        max_request_body_size=settings.max_request_bytes,
        transport_security=settings.transport_security(),
        host=settings.host,
    )
    health = json.dumps(_health_document(server, settings), separators=(",", ":")).encode()
    return _Guard(mcp_app, settings, health)


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def serve_http(
    config: ServerConfig | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    stateless: bool = False,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Serve over streamable HTTP until interrupted; logs go to stderr, nothing to stdout.

    Raises `InvalidValueError` before anything starts when the settings are unsafe or malformed
    (a non-loopback `host` without a token, a malformed token or size limit).
    """
    http = HttpConfig.from_env(host, port, stateless=stateless, environ=environ)
    # Over HTTP the tools read no files unless the operator allows it (see tools/_config.py).
    server_config = replace(config or ServerConfig.from_env(environ), transport="http")

    import uvicorn

    from server import build_server

    _configure_logging()
    app = build_http_app(build_server(server_config), http)
    shown = _host_header_name(http.host)
    logger.info("serving MCP at http://%s:%d%s (%s)", shown, http.port, MCP_PATH, http.describe())
    uvicorn.run(
        app,
        host=http.host,
        port=http.port,
        log_config=None,  # uvicorn's own config sends access logs to stdout; ours is stderr
        access_log=False,  # the tools log each call; an access line per POST /mcp adds nothing
        ws="none",
        timeout_graceful_shutdown=5,
    )


# --- stdio with the nesting guard --------------------------------------------------------------


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
            request_id, method = _message_id(line) if isinstance(line, str) else (None, "")
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
            request_id, method = _message_id(line)
        else:
            message = item.message
            if not isinstance(message, JSONRPCRequest) or message.params is None:
                return None
            try:
                params = pydantic_core.to_json(message.params)
            except ValueError:  # too deep even to serialise
                params = b"[" * (self._limit + 1)
            if not _deeper_than(params, self._limit - 1):  # params sit one level down
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


def serve_stdio(config: ServerConfig | None = None) -> None:
    """Serve over stdio (stdout is the transport; logs go to stderr) with the nesting guard."""
    from server import build_server

    _configure_logging()
    anyio.run(run_stdio_guarded, build_server(config))
