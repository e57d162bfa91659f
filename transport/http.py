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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import anyio
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kpi_core import load_catalogue
from kpi_core.errors import InvalidValueError, Problem
from transport._json import MAX_JSON_DEPTH, deeper_than, error_body, message_id, too_deep_error

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

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8000
DEFAULT_MAX_REQUEST_BYTES: Final = 1024 * 1024
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


# --- the HTTP guard ----------------------------------------------------------------------------


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
            request_id, method = await anyio.to_thread.run_sync(message_id, body)
            error = too_deep_error(request_id, method, self._http.max_json_depth)
            response = Response(error_body(error), 400, media_type="application/json")
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
            return deeper_than(body, limit)
        return await anyio.to_thread.run_sync(deeper_than, body, limit)


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

    Build `server` with ``ServerConfig(transport="http")`` (as the entry does), so that its
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
