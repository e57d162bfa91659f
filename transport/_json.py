"""JSON-RPC helpers both transports share: the nesting guard and reading a broken message's id.

A JSON-RPC message nested deeper than `MAX_JSON_DEPTH` levels is answered with a JSON-RPC error
carrying its id instead of being handed to the SDK, which in mcp 2.3.0 drops such a message
unanswered over stdio and answers it without its id over HTTP. The depth is measured on the raw
bytes (vectorised, without parsing), and the id is read from the message's top level only.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Final, cast

import numpy as np
import numpy.typing as npt
from mcp.types import INVALID_REQUEST, ErrorData, JSONRPCError, RequestId

from kpi_core.errors import truncate

__all__ = [
    "MAX_JSON_DEPTH",
    "deeper_than",
    "error_body",
    "json_depth",
    "message_id",
    "too_deep_error",
]

logger = logging.getLogger("creator_kpi.transport")

#: Deepest JSON-RPC message accepted (the message object itself is level 1; a tool call's
#: arguments sit at level 3 and a metric value at level 5). The SDK's own parser gives up
#: at about 200 levels, and not every transport answers then.
MAX_JSON_DEPTH: Final = 64

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN_BRACE, _OPEN_BRACKET, _CLOSE_BRACE, _CLOSE_BRACKET = (ord(c) for c in "{[}]")

IntArray = npt.NDArray[np.int32]


def _nesting(data: bytes) -> tuple[npt.NDArray[np.int8], IntArray]:
    """Per byte of a JSON text: its bracket step (+1, -1, or 0 inside strings and elsewhere)
    and the depth after it. Vectorised: a 1 MiB body costs milliseconds however it nests."""
    step, depth, _ = _scan(data)
    return step, depth


def _scan(data: bytes) -> tuple[npt.NDArray[np.int8], IntArray, npt.NDArray[np.bool_]]:
    """`_nesting`'s step and depth, and whether each byte is inside a string."""
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
    return step, np.cumsum(step, dtype=np.int32), inside


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


#: A top-level member that may hold a message's id or method: `"id": 7`, `"method": "x"`.
_MEMBER = re.compile(rb'"(id|method)"\s*:\s*(-?\d+(?![\d.eE])|"(?:[^"\\]|\\.)*")')


def _top_level_members(data: bytes) -> dict[str, object]:
    """The id and method found at the top level of a broken JSON text (truncated, or followed
    by garbage): members at depth 1, outside any string, whose value is complete."""
    if not data.startswith(b"{"):
        return {}
    _, depth, inside = _scan(data)
    found: dict[str, object] = {}
    for match in _MEMBER.finditer(data):
        start = match.start()
        if depth[start] != 1 or inside[start - 1] or match.group(1).decode() in found:
            continue
        try:
            found[match.group(1).decode()] = json.loads(match.group(2))
        except ValueError:  # an escape JSON does not allow
            continue
    return found


def message_id(text: str | bytes) -> tuple[RequestId | None, str]:
    """The id and method of a JSON-RPC message too deep or too broken to parse whole
    (None, "" where they cannot be read)."""
    data = text.encode() if isinstance(text, str) else text
    message = _top_level(data)
    if not isinstance(message, dict):
        message = _top_level_members(data.lstrip())
    fields = cast("dict[str, object]", message)
    request_id = fields.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int):
        request_id = None
    method = fields.get("method")
    return request_id, (method if isinstance(method, str) else "")


def deeper_than(data: bytes, limit: int) -> bool:
    """Whether a JSON text nests deeper than `limit` levels."""
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


def error_body(error: JSONRPCError) -> bytes:
    """The wire form of a JSON-RPC error, with ``"id": null`` when the id is unknown."""
    body = error.model_dump(mode="json", by_alias=True, exclude_none=True)
    body["id"] = error.id  # JSON-RPC wants "id": null on the wire when it is unknown
    return json.dumps(body, separators=(",", ":")).encode()
