"""The one edge between the core's errors and MCP results.

Two doors lead into a tool, and both are guarded here:

* :func:`argument_guard` is server middleware that checks a ``tools/call`` request's arguments
  against the tool's own argument model *before* the SDK does, so a wrong type, a missing or an
  unknown argument comes back as an ``isError`` result in our words ("top_n must be ...; got 50")
  rather than a raw pydantic dump behind the SDK's "Error executing tool" prefix.
* :func:`run_tool` runs a tool's body in a worker thread, off the event loop, under a per-call
  time limit: a :class:`~kpi_core.errors.KpiError` becomes an ``isError`` result naming field,
  rule and value; a body that outruns the limit is stopped with a clear error; any other exception
  is logged with its traceback (to stderr) and becomes an ``isError`` result that says an internal
  error happened, so no call ever returns the SDK's bare prefix with the reason lost. A cancelled
  or timed-out call sets the body's stop flag, which long computations check at each progress
  report, so abandoned work ends promptly instead of burning a core; a cancelled call is logged
  as cancelled (the SDK sends no answer to a request its client cancelled).

Both log the tool name, the outcome and the fields at fault, never the payload.
"""

import difflib
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server import ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from kpi_core.errors import KpiError, Problem, field_name, truncate

__all__ = [
    "CallControl",
    "CallStoppedError",
    "PathRedactor",
    "ProgressMessage",
    "argument_guard",
    "error_result",
    "fair_share",
    "ok_result",
    "redact_paths",
    "run_tool",
]

logger = logging.getLogger("creator_kpi.tools")

#: pydantic's wording -> ours ("Input should be a valid integer" -> "must be a valid integer").
_RULE_REWRITES = (
    ("Input should be ", "must be "),
    ("Value should be ", "must be "),
    ("Field required", "is required"),
    ("Extra inputs are not permitted", "is not an argument of this tool"),
)


def error_result(tool: str, problems: tuple[Problem, ...] | list[Problem]) -> CallToolResult:
    """An ``isError`` result whose text names every field, rule and value at fault."""
    lines = [problem.message() for problem in problems[:8]]
    if len(problems) > 8:
        lines.append(f"and {len(problems) - 8} more problems")
    text = f"{tool} was not run: " + "; ".join(lines)
    if not text.endswith(("?", ".")):
        text += "."
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def ok_result(
    text: str,
    structured: BaseModel,
    meta: Mapping[str, Any] | None = None,
    *,
    omit: Collection[str] = (),
) -> CallToolResult:
    """A successful result: a short summary for the model and the data as structured content.

    The structured content leads with ``summary``, the same text as the text content (some
    clients give the model only the structured content); a field whose value is null is left
    out (the published output schema does not require it, see ``tools._schema``), and so are
    the top-level fields in ``omit`` (what a compact answer leaves to ``detail="full"``; the tool
    declares them optional with ``tools._schema.lean``). ``meta`` goes to the result's
    ``_meta``: data for a view, which hosts do not hand to the model.
    """
    data = _without_nulls(
        structured.model_dump(mode="json", exclude_none=True, exclude=_exclusions(omit))
    )
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content={"summary": text, **data},
        _meta=dict(meta) if meta is not None else None,
    )


def _is_null(value: Any) -> bool:
    """None, or a float JSON would write as null (infinite or NaN)."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _without_nulls(value: Any) -> Any:
    """Object members whose value is null left out, at every depth; inside lists a null stays
    (an infinite or NaN float is written as null, as JSON would)."""
    if isinstance(value, dict):
        members = cast("dict[str, Any]", value)
        return {key: _without_nulls(item) for key, item in members.items() if not _is_null(item)}
    if isinstance(value, list):
        items = cast("list[Any]", value)
        return [None if _is_null(item) else _without_nulls(item) for item in items]
    return value


def _exclusions(omit: Collection[str]) -> dict[str, Any]:
    """pydantic's nested ``exclude`` for dotted paths ("analysis.decision"; "*" is every item
    of a list), with the model's own ``summary`` (the answer puts the text's first)."""
    tree: dict[str, Any] = {"summary": True}
    for path in omit:
        node = tree
        parts = ["__all__" if part == "*" else part for part in path.split(".")]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = True
    return tree


class CallStoppedError(Exception):
    """Raised inside a tool body at a progress report once its call was cancelled or timed out."""


ProgressSender = Callable[[float, float | None, str | None], Coroutine[Any, Any, None]]
#: What a call is doing once ``done`` of ``total`` is reported (a sentence rendered by the core).
ProgressMessage = Callable[[float, float], str]


@dataclass
class CallControl:
    """What a tool body may use while it runs in its worker thread."""

    stop: threading.Event = field(default_factory=threading.Event)
    send_progress: ProgressSender | None = None
    describe: ProgressMessage | None = None

    def progress(self, done: float, total: float, message: str | None = None) -> None:
        """Report progress to the client (if it asked) and stop here if the call has ended.

        The notification carries ``message``, else what ``describe`` says about this point.
        """
        if self.stop.is_set():
            raise CallStoppedError
        if self.send_progress is not None:
            if message is None and self.describe is not None:
                message = self.describe(done, total)
            anyio.from_thread.run(self.send_progress, done, total, message)


def _internal_error(tool: str) -> CallToolResult:
    text = (
        f"{tool} failed with an internal error (not caused by the arguments). "
        "The server log has the details; other tools keep working."
    )
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _cancelled(tool: str) -> CallToolResult:
    text = f"{tool} was cancelled before it finished; nothing was computed for this call."
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


async def run_tool(
    tool: str,
    body: Callable[[CallControl], CallToolResult],
    *,
    time_limit: float,
    send_progress: ProgressSender | None = None,
    describe_progress: ProgressMessage | None = None,
) -> CallToolResult:
    """Run a tool's body behind the error edge (see the module docstring).

    A body that reports progress sends the client ``describe_progress``'s sentence with each
    report (what the call is doing), unless the report brings its own message.
    """
    started = time.perf_counter()
    control = CallControl(send_progress=send_progress, describe=describe_progress)
    try:
        with anyio.fail_after(time_limit):
            result = await anyio.to_thread.run_sync(body, control, abandon_on_cancel=True)
    except TimeoutError:
        logger.warning("tool %s stopped at its %g s time limit", tool, time_limit)
        text = (
            f"{tool} was stopped: it ran longer than the {time_limit:g} s limit per call. "
            "Send a smaller input (fewer creators, fewer bootstrap resamples) or ask the "
            "operator to raise CREATOR_KPI_TIME_LIMIT."
        )
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
    except KpiError as error:
        logger.info("tool %s refused: fields %s", tool, list(error.fields)[:8])
        return error_result(tool, error.problems)
    except anyio.get_cancelled_exc_class():  # notifications/cancelled, or the client went away
        control.stop.set()
        logger.info("tool %s cancelled by the client", tool)
        raise
    except CallStoppedError:  # the stop flag was set while the body ran: the call was cancelled
        logger.info("tool %s cancelled by the client", tool)
        return _cancelled(tool)
    except Exception:  # the edge: log the traceback, tell the caller it was not their input
        logger.exception("tool %s failed with an internal error", tool)
        return _internal_error(tool)
    finally:
        control.stop.set()
    logger.info("tool %s answered in %.1f ms", tool, (time.perf_counter() - started) * 1000)
    return result


def _rule(message: str) -> str:
    for theirs, ours in _RULE_REWRITES:
        if message.startswith(theirs):
            return ours + message[len(theirs) :]
    return message[:1].lower() + message[1:]


#: pydantic error types about a value's kind or bounds, which the published schema words better.
_SCHEMA_WORDED = frozenset(
    {
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "int_type",
        "int_parsing",
        "int_from_float",
        "float_type",
        "float_parsing",
        "finite_number",
        "literal_error",
        "enum",
    }
)


def _number_text(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def schema_rule(schema: Mapping[str, Any]) -> str | None:
    """The rule a JSON schema property states, in our words ("must be a whole number in
    [1, 13]", "must be one of a, b, c"), or None when it states no kind, bound or choice."""
    choices = schema.get("enum")
    if isinstance(choices, list) and choices:
        return "must be one of " + ", ".join(str(item) for item in choices)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    kind = {"integer": "a whole number", "number": "a number"}.get(str(schema.get("type")))
    if kind is None:
        return None
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is None and high is None:
        return f"must be {kind}"
    if high is None:
        return f"must be {kind} >= {_number_text(low)}"
    if low is None:
        return f"must be {kind} <= {_number_text(high)}"
    opening = "(" if "exclusiveMinimum" in schema else "["
    closing = ")" if "exclusiveMaximum" in schema else "]"
    return f"must be {kind} in {opening}{_number_text(low)}, {_number_text(high)}{closing}"


def validation_problems(
    error: ValidationError, schema: Mapping[str, Any] | None = None
) -> list[Problem]:
    """Our problems from pydantic's errors (field path, rule in our wording, truncated input).

    With the tool's input ``schema``, an error about a top-level argument's kind, bounds or
    choices states the rule the schema publishes, so the client reads the same rule in both.
    """
    properties: Mapping[str, Any] = (schema or {}).get("properties", {})
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "arguments"
        value = "(missing)" if item["type"] == "missing" else truncate(item.get("input"))
        rule = None
        if item["type"] in _SCHEMA_WORDED and len(item["loc"]) == 1:
            published = properties.get(str(item["loc"][0]))
            rule = schema_rule(published) if isinstance(published, Mapping) else None
        problems.append(Problem(field, rule or _rule(item["msg"]), value))
    return problems


def _unknown_arguments(arguments: Mapping[str, Any], tool: Tool) -> list[Problem]:
    known = list(tool.fn_metadata.arg_model.model_fields)
    problems: list[Problem] = []
    for name in arguments:
        if name in known:
            continue
        close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else f"the arguments are {', '.join(known)}"
        problems.append(Problem(field_name(name), "is not an argument of this tool", "", hint))
    return problems


def argument_guard(tools: Callable[[str], Tool | None]) -> Callable[..., Any]:
    """Middleware that validates ``tools/call`` arguments against each tool's argument model;
    ``tools`` gives the tool of a name (building it if need be), or None for another name."""

    async def guard(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call" or not isinstance(ctx.params, Mapping):
            return await call_next(ctx)
        params: Mapping[str, Any] = ctx.params
        tool = tools(str(params.get("name")))
        if tool is None:
            return await call_next(ctx)
        arguments: object = params.get("arguments") or {}
        if not isinstance(arguments, Mapping):
            problem = Problem("arguments", "must be an object", truncate(arguments))
            return error_result(tool.name, [problem])
        named: Mapping[str, Any] = arguments
        problems = _unknown_arguments(named, tool)
        try:
            tool.fn_metadata.validate_arguments(dict(named))
        except ValidationError as error:
            problems.extend(validation_problems(error, tool.parameters))
        if problems:
            logger.info("tool %s refused arguments: %s", tool.name, [p.field for p in problems][:8])
            return error_result(tool.name, problems)
        return await call_next(ctx)

    return guard


# --- one client cannot take every worker -------------------------------------------------------


def _client_key(ctx: ServerRequestContext[Any, Any]) -> tuple[str, str]:
    """Who is calling: an HTTP session, else an HTTP client's address, else the one stdio client."""
    request = ctx.request
    if not isinstance(request, Request):
        return ("local", "")
    session_id = request.headers.get("mcp-session-id")
    if session_id:
        return ("session", session_id)
    return ("address", request.client.host if request.client else "")


def fair_share(per_client: int) -> Callable[..., Any]:
    """Middleware letting each client run at most `per_client` tool calls at once.

    The worker threads are one pool (40 in anyio); without this, one session's 45 concurrent
    slow calls took all of them and another client's call waited behind them (issue 19.8). A
    client's further calls wait here, holding no thread, in the order they came. A client is an
    MCP session (stdio has one; over HTTP, the ``Mcp-Session-Id``), or for HTTP requests without
    a session (the 2026-07-28 protocol, stateless mode) the client's address.
    """
    limiters: dict[tuple[str, str], anyio.CapacityLimiter] = {}

    async def limit(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        key = _client_key(ctx)
        limiter = limiters.setdefault(key, anyio.CapacityLimiter(per_client))
        if limiter.available_tokens == 0:
            logger.info("a client has %d tool calls running; its next call waits", per_client)
        try:
            async with limiter:
                return await call_next(ctx)
        finally:
            if limiter.borrowed_tokens == 0 and limiter.statistics().tasks_waiting == 0:
                limiters.pop(key, None)

    return limit


# --- server paths stay on the server (HTTP) ----------------------------------------------------

#: An absolute path in a message: POSIX (``/srv/data``) or a Windows drive (``C:\\data``).
_PATH = re.compile(r"(?<![\w/.~:\\-])(?:/|[A-Za-z]:\\)[^\s'\"<>|;,]+")
_STORE_PHRASE = re.compile(r"experiment store (?:/|[A-Za-z]:\\)[^\s'\"<>|;,]+")
_ALLOWED_RUN = re.compile(r"an allowed directory(?:, an allowed directory)+")


class PathRedactor:
    """Replaces the server's paths in a message with what they are, for clients that are not
    on the server's machine: an allowed directory is "an allowed directory" (a file inside one
    is named relative to it, as HTTP clients name it), the store is "the experiment store",
    any other path "a server path". Paths the client sent itself are left as they are."""

    def __init__(self, allowed_dirs: Sequence[str]) -> None:
        spellings: set[str] = set()
        for directory in allowed_dirs:
            given = Path(directory).expanduser()
            spellings.update({directory.rstrip("/\\"), str(given), str(given.resolve())})
        self._dirs = sorted(filter(None, spellings), key=len, reverse=True)

    def _describe(self, path: str, client_said: Collection[str]) -> str:
        core = path.rstrip(".")
        cut = path.endswith("...")  # an echo truncated by kpi_core.errors.truncate
        if core in client_said or (cut and any(text.startswith(core) for text in client_said)):
            return path
        tail = path[len(core) :]
        for directory in self._dirs:
            if core.rstrip("/\\") == directory:
                return "an allowed directory" + tail
            if core.startswith((directory + "/", directory + "\\")):
                return core[len(directory) + 1 :] + tail
        return "a server path" + tail

    def __call__(self, text: str, client_said: Collection[str] = ()) -> str:
        text = _STORE_PHRASE.sub("the experiment store", text)
        text = _PATH.sub(lambda found: self._describe(found.group(), client_said), text)
        return _ALLOWED_RUN.sub("the allowed directories", text)


def _strings(value: object, found: set[str], budget: int = 1000) -> None:
    """The strings in a client's arguments (the paths it may see echoed back)."""
    if len(found) >= budget:
        return
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, Mapping):
        for item in cast("Mapping[object, object]", value).values():
            _strings(item, found, budget)
    elif isinstance(value, list):
        for item in cast("list[object]", value):
            _strings(item, found, budget)


def _redacted(result: HandlerResult, redact: Callable[[str], str]) -> HandlerResult:
    """An error result with `redact` applied to its text (a model or its serialised dict)."""
    if isinstance(result, CallToolResult) and result.is_error:
        content = [
            block.model_copy(update={"text": redact(block.text)})
            if isinstance(block, TextContent)
            else block
            for block in result.content
        ]
        return result.model_copy(update={"content": content})
    if isinstance(result, dict) and result.get("isError"):
        blocks = cast("list[object]", result.get("content") or [])
        content: list[object] = []
        for block in blocks:
            text = block.get("text") if isinstance(block, dict) else None
            if isinstance(block, dict) and isinstance(text, str):
                content.append({**block, "text": redact(text)})
            else:
                content.append(block)
        return {**result, "content": content}
    return result


def redact_paths(allowed_dirs: Sequence[str]) -> Callable[..., Any]:
    """Middleware for HTTP: server paths in error results and protocol errors are replaced by
    neutral descriptions (`PathRedactor`); the log keeps the original (issue 19.11). Over stdio
    the client is the operator, and errors keep their paths."""
    redactor = PathRedactor(allowed_dirs)

    async def redact(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        def rewrite(text: str) -> str:
            if not _PATH.search(text):
                return text
            said: set[str] = set()
            _strings(ctx.params, said)
            clean = redactor(text, said)
            if clean != text:
                logger.info("server paths withheld from an HTTP client in: %s", truncate(text, 400))
            return clean

        try:
            return _redacted(await call_next(ctx), rewrite)
        except MCPError as error:
            message = rewrite(error.error.message)
            if message == error.error.message:
                raise
            raise MCPError(error.error.code, message, error.error.data) from None

    return redact
