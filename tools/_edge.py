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
  report, so abandoned work ends promptly instead of burning a core.

Both log the tool name, the outcome and the fields at fault, never the payload.
"""

import difflib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server import ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ValidationError

from kpi_core.errors import KpiError, Problem, field_name, truncate

__all__ = [
    "CallControl",
    "CallStoppedError",
    "argument_guard",
    "error_result",
    "ok_result",
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


def ok_result(text: str, structured: BaseModel) -> CallToolResult:
    """A successful result: a short summary for the model and the data as structured content."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=structured.model_dump(mode="json"),
    )


class CallStoppedError(Exception):
    """Raised inside a tool body at a progress report once its call was cancelled or timed out."""


ProgressSender = Callable[[float, float | None, str | None], Coroutine[Any, Any, None]]


@dataclass
class CallControl:
    """What a tool body may use while it runs in its worker thread."""

    stop: threading.Event = field(default_factory=threading.Event)
    send_progress: ProgressSender | None = None

    def progress(self, done: float, total: float, message: str | None = None) -> None:
        """Report progress to the client (if it asked) and stop here if the call has ended."""
        if self.stop.is_set():
            raise CallStoppedError
        if self.send_progress is not None:
            anyio.from_thread.run(self.send_progress, done, total, message)


def _internal_error(tool: str) -> CallToolResult:
    text = (
        f"{tool} failed with an internal error (not caused by the arguments). "
        "The server log has the details; other tools keep working."
    )
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


async def run_tool(
    tool: str,
    body: Callable[[CallControl], CallToolResult],
    *,
    time_limit: float,
    send_progress: ProgressSender | None = None,
) -> CallToolResult:
    """Run a tool's body behind the error edge (see the module docstring)."""
    started = time.perf_counter()
    control = CallControl(send_progress=send_progress)
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
    except (
        CallStoppedError
    ):  # only after the stop flag is set, that is cancelled: nobody is waiting
        logger.info("tool %s stopped after its call ended", tool)
        return _internal_error(tool)
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


def argument_guard(tools: Mapping[str, Tool]) -> Callable[..., Any]:
    """Middleware that validates ``tools/call`` arguments against each tool's argument model."""

    async def guard(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call" or not isinstance(ctx.params, Mapping):
            return await call_next(ctx)
        params: Mapping[str, Any] = ctx.params
        tool = tools.get(str(params.get("name")))
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
