"""Serving a built server over streamable HTTP, safely.

`build_http_app(server, http)` wraps a built server's streamable HTTP app (MCP at ``/mcp``) in
one ASGI guard; `serve_http(server, http)` runs it under uvicorn with logs on stderr;
`HttpConfig.from_env(...)` reads and checks the settings, and refuses an unsafe bind before
anything starts.

Every request to ``/mcp`` (and to any path other than ``/health``) passes, in order:

1. the Host and Origin allow-lists (421 for a bad Host, 403 for a bad Origin), on every bind;
2. the bearer token, when one is configured (401 without it or with a wrong one, compared in
   constant time); it is required on any bind other than loopback;
3. the request body limit (413 beyond it, judged on Content-Length and on the bytes received);
4. the nesting limit: a JSON-RPC message nested deeper than `MAX_JSON_DEPTH` levels is answered
   with a JSON-RPC error carrying its id (HTTP 400) instead of being handed to the SDK.

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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import anyio
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.types import INTERNAL_ERROR, ErrorData, JSONRPCError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kpi_core import load_catalogue
from kpi_core.errors import InvalidValueError, Problem
from transport._json import MAX_JSON_DEPTH, deeper_than, error_body, message_id, too_deep_error
from transport._sessions import SessionTable

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_PORT",
    "HEALTH_PATH",
    "MCP_PATH",
    "HttpConfig",
    "build_http_app",
    "is_loopback",
    "serve_http",
]

logger = logging.getLogger("creator_kpi.http")

ENV_TOKEN: Final = "CREATOR_KPI_TOKEN"
ENV_TOKEN_FILE: Final = "CREATOR_KPI_TOKEN_FILE"
ENV_ALLOWED_HOSTS: Final = "CREATOR_KPI_ALLOWED_HOSTS"
ENV_ALLOWED_ORIGINS: Final = "CREATOR_KPI_ALLOWED_ORIGINS"
ENV_MAX_REQUEST_BYTES: Final = "CREATOR_KPI_MAX_REQUEST_BYTES"
ENV_MAX_SESSIONS: Final = "CREATOR_KPI_MAX_SESSIONS"
ENV_SESSION_IDLE: Final = "CREATOR_KPI_SESSION_IDLE"

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8000
DEFAULT_MAX_REQUEST_BYTES: Final = 1024 * 1024
#: Open sessions at most; when the table is full the oldest idle one is closed for a new one.
DEFAULT_MAX_SESSIONS: Final = 1000
#: Seconds a session may sit with no request in flight (an open GET stream counts as one).
DEFAULT_SESSION_IDLE: Final = 60.0
MCP_PATH: Final = "/mcp"
HEALTH_PATH: Final = "/health"
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


def _whole(environ: Mapping[str, str], variable: str, default: int, low: int, high: int) -> int:
    """A whole-number setting in [low, high]; a malformed one names the variable and the rule."""
    text = environ.get(variable, "").strip() or str(default)
    unit = "bytes" if variable == ENV_MAX_REQUEST_BYTES else "sessions"
    try:
        value = int(text)
    except ValueError:
        raise InvalidValueError(variable, f"must be a whole number of {unit}", text) from None
    if not low <= value <= high:
        raise InvalidValueError(variable, f"must be in [{low}, {high}]", text)
    return value


def _seconds(environ: Mapping[str, str], variable: str, default: float) -> float:
    text = environ.get(variable, "").strip() or str(default)
    try:
        value = float(text)
    except ValueError:
        raise InvalidValueError(variable, "must be a number of seconds", text) from None
    if not 1 <= value <= 86_400:
        raise InvalidValueError(variable, "must be in [1, 86400] seconds", text)
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
    max_sessions: int = DEFAULT_MAX_SESSIONS
    session_idle: float = DEFAULT_SESSION_IDLE

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
            max_request_bytes=_whole(
                env, ENV_MAX_REQUEST_BYTES, DEFAULT_MAX_REQUEST_BYTES, 1024, 1024**3
            ),
            max_sessions=_whole(env, ENV_MAX_SESSIONS, DEFAULT_MAX_SESSIONS, 1, 1_000_000),
            session_idle=_seconds(env, ENV_SESSION_IDLE, DEFAULT_SESSION_IDLE),
        )

    def transport_security(self) -> TransportSecuritySettings:
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=list(self.allowed_hosts),
            allowed_origins=list(self.allowed_origins),
        )

    def describe(self) -> str:
        """One log line about the bind and its safeguards (never the token)."""
        mode = (
            "stateless"
            if self.stateless
            else f"up to {self.max_sessions:,} sessions, closed after {self.session_idle:g} s idle"
        )
        token = "bearer token required" if self.token else "no token (loopback only)"
        return (
            f"{mode}; {token}; Host allow-list {', '.join(self.allowed_hosts)}; "
            f"bodies up to {self.max_request_bytes:,} bytes"
        )


# --- the HTTP guard ----------------------------------------------------------------------------


class _Guard:
    """The ASGI app in front of the SDK's: /health, then the checks of the module docstring."""

    def __init__(
        self, mcp_app: ASGIApp, http: HttpConfig, health: bytes, sessions: SessionTable | None
    ) -> None:
        self._mcp_app = mcp_app
        self._http = http
        self._health = health
        self._sessions = sessions
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
        refusal = _with_advice(await self._security.validate_request(Request(scope), is_post=False))
        if refusal is None:
            refusal = self._check_token(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if scope["method"] == "POST":
            body = await self._read_body(scope, receive, send)
            if body is None:
                return
            if await self._too_deep(body):
                request_id, method = await anyio.to_thread.run_sync(message_id, body)
                error = too_deep_error(request_id, method, self._http.max_json_depth)
                response = Response(error_body(error), 400, media_type="application/json")
                await response(scope, receive, send)
                return
            receive = _replay(body, receive)
        headers = Headers(scope=scope)
        session_id = headers.get(MCP_SESSION_ID_HEADER)
        if self._sessions is None or (session_id is None and not _opens_session(scope, headers)):
            await self._mcp_app(scope, receive, send)
        elif session_id is None:
            await self._open_session(self._sessions, scope, receive, send)
        else:
            await self._in_session(self._sessions, session_id, scope, receive, send)

    async def _open_session(
        self, sessions: SessionTable, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Admit a new session, closing expired or least recently used idle ones for room."""
        admitted, closing = sessions.admit()
        for session_id in closing:
            await self._close_session(session_id, scope)
        if closing:
            logger.info("closed %d idle sessions to admit a new one", len(closing))
        if not admitted:
            await _all_sessions_busy(len(sessions))(scope, receive, send)
            return
        answer = _Answer()
        try:
            await self._mcp_app(scope, receive, answer.watch(send, sessions.opened))
        finally:
            if answer.status is None:  # no answer at all: nothing was opened
                sessions.opened(None)
            elif answer.session_id is not None:
                sessions.end(answer.session_id, post=True)

    async def _in_session(
        self, sessions: SessionTable, session_id: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        post = scope["method"] == "POST"
        sessions.begin(session_id, post=post)
        answer = _Answer()
        try:
            await self._mcp_app(scope, receive, answer.watch(send))
        finally:
            sessions.end(session_id, post=post)
        ended = scope["method"] == "DELETE" and answer.status is not None and answer.status < 300
        if answer.status == 404 or ended:
            sessions.forget(session_id)

    async def _close_session(self, session_id: str, scope: Scope) -> None:
        """End a session as its client would: a DELETE with its id, handed to the SDK."""
        headers = [(name, value) for name, value in scope["headers"] if name == b"host"]
        headers.append((MCP_SESSION_ID_HEADER.encode(), session_id.encode()))
        request: Scope = {**scope, "method": "DELETE", "headers": headers, "query_string": b""}
        asked = False

        async def receive() -> Message:
            nonlocal asked
            if asked:
                return {"type": "http.disconnect"}
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def discard(message: Message) -> None:
            return None

        await self._mcp_app(request, receive, discard)

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
            return deeper_than(body, limit)
        return await anyio.to_thread.run_sync(deeper_than, body, limit)


#: What the operator sets when a Host or Origin header is refused (the SDK says only "Invalid").
_ALLOW_LIST_ADVICE: Final = {
    421: (
        "Invalid Host header: this server does not answer to that name. If it should, the "
        f"operator adds it to {ENV_ALLOWED_HOSTS} (comma-separated, such as "
        "kpi.example.com:443 or kpi.example.com:*)"
    ),
    403: (
        "Invalid Origin header: pages from that origin may not call this server. If they "
        f"should, the operator adds it to {ENV_ALLOWED_ORIGINS} (comma-separated, such as "
        "https://app.example.com)"
    ),
}


def _with_advice(refusal: Response | None) -> Response | None:
    """The SDK's Host / Origin refusal, saying which setting allows the name."""
    if refusal is None or refusal.status_code not in _ALLOW_LIST_ADVICE:
        return refusal
    return Response(_ALLOW_LIST_ADVICE[refusal.status_code], refusal.status_code)


def _all_sessions_busy(count: int) -> Response:
    """503 when the table is full and every session has a call in flight (none may be closed)."""
    logger.warning("refused a new session: all %d sessions have a call in flight", count)
    message = f"Too many open sessions: all {count} have a call in flight; retry when one ends"
    error = JSONRPCError(
        jsonrpc="2.0", id=None, error=ErrorData(code=INTERNAL_ERROR, message=message)
    )
    return Response(error_body(error), 503, {"Retry-After": "5"}, "application/json")


def _opens_session(scope: Scope, headers: Headers) -> bool:
    """Whether the SDK would open a session for this request: a POST without a session id in a
    protocol version with the initialize handshake (2026-07-28 requests are self-contained)."""
    version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
    return scope["method"] == "POST" and (version is None or version in HANDSHAKE_PROTOCOL_VERSIONS)


class _Answer:
    """What the SDK answered a request with: its status and, for a new session, its id."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.session_id: str | None = None

    def watch(self, send: Send, on_start: Callable[[str | None], None] | None = None) -> Send:
        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = int(message["status"])
                if self.status < 300:
                    for name, value in message.get("headers", ()):
                        if name.decode("latin-1").lower() == MCP_SESSION_ID_HEADER:
                            self.session_id = value.decode("latin-1")
                if on_start is not None:  # before the body: the client may use the id at once
                    on_start(self.session_id)
            await send(message)

        return watched


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


def build_http_app(
    server: MCPServer,
    http: HttpConfig | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> ASGIApp:
    """The ASGI app serving `server` at ``/mcp`` behind the guard, with ``/health`` beside it.

    Build `server` with ``ServerConfig(transport="http")`` (as the entry does), so that its
    tools apply the HTTP file-access policy. `clock` times session idleness (tests pass their
    own, so that no test waits for a minute to pass).
    """
    settings = http or HttpConfig()
    mcp_app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=settings.stateless,
        json_response=False,
        max_request_body_size=settings.max_request_bytes,
        session_idle_timeout=settings.session_idle,
        max_sessions=settings.max_sessions,
        transport_security=settings.transport_security(),
        host=settings.host,
    )
    health = json.dumps(_health_document(server, settings), separators=(",", ":")).encode()
    sessions = (
        None
        if settings.stateless
        else SessionTable(settings.max_sessions, settings.session_idle, clock)
    )
    return _Guard(mcp_app, settings, health, sessions)


def serve_http(server: MCPServer, http: HttpConfig) -> None:
    """Serve `server` over streamable HTTP until interrupted; nothing is written to stdout.

    Build `server` for HTTP (``ServerConfig(transport="http")``); `http` comes from
    `HttpConfig.from_env`, which refuses unsafe settings before anything starts.
    """
    import uvicorn

    app = build_http_app(server, http)
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
