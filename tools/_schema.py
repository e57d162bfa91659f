"""Lean tool definitions: what a model reads in ``tools/list`` is a budget (issue 18).

Pydantic's schemas carry a ``title`` on every property and model (the name again, in other
letters) and spell an optional value as ``anyOf [X, {"type": "null"}]`` with ``"default": null``.
:func:`lean` rewrites a built tool's schemas without them:

* an input argument that may be null is declared as its kind alone (leaving it out means the
  same; the tool's own argument model still accepts an explicit null);
* an output field (or a map's value) that may be null is declared as its kind alone and is no
  longer required: the answer leaves a null out (:func:`tools._edge.ok_result` serialises
  without nulls), so the schema and the data agree. A list's items keep a null branch (a null
  inside a list stays); no tool's answer has one today.

The rewriting never touches a property *named* ``title`` (only the keyword) and keeps every
bound, enum and description.
"""

from collections.abc import Collection, Mapping
from typing import Any, cast

from mcp.server.mcpserver.tools import Tool

__all__ = ["lean", "lean_schema"]

_NULL = {"type": "null"}


def _without_null(options: list[Any]) -> list[Any] | None:
    """The options of an ``anyOf`` without its null branch, or None when it had none."""
    if _NULL not in options:
        return None
    return [option for option in options if option != _NULL]


def _without_description(node: object) -> object:
    if isinstance(node, Mapping):
        return {k: v for k, v in cast("Mapping[str, object]", node).items() if k != "description"}
    return node


def _lean_node(node: object, *, everywhere: bool, field: bool = False) -> object:
    """``node`` without titles; its null branch goes when it is an object's property or a
    map's value (or ``everywhere``: an input schema, whose values the tool's own model
    validates); a list's items keep theirs."""
    if isinstance(node, list):
        return [_lean_node(item, everywhere=everywhere) for item in cast("list[object]", node)]
    if not isinstance(node, Mapping):
        return node
    schema = cast("Mapping[str, object]", node)
    out: dict[str, object] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "properties" and isinstance(value, Mapping):
            members = cast("Mapping[str, object]", value)
            out[key] = {
                name: _lean_node(member, everywhere=everywhere, field=True)
                for name, member in members.items()
            }
        elif key == "$defs" and isinstance(value, Mapping):
            # A definition's description is its class docstring, written for the code's readers.
            members = cast("Mapping[str, object]", value)
            out[key] = {
                name: _without_description(_lean_node(member, everywhere=everywhere))
                for name, member in members.items()
            }
        elif key == "additionalProperties":
            # a map's null values are left out of the answer like a field's
            out[key] = _lean_node(value, everywhere=everywhere, field=True)
        else:
            out[key] = _lean_node(value, everywhere=everywhere)
    if field or everywhere:
        return _without_null_branch(out)
    return out


def _without_null_branch(out: dict[str, object]) -> dict[str, object]:
    """A schema whose ``anyOf`` allows null, as its other branch alone (marked nullable)."""
    options = out.get("anyOf")
    if not isinstance(options, list):
        return out
    kept = _without_null(cast("list[Any]", options))
    if kept is None:
        return out
    del out["anyOf"]
    if len(kept) == 1 and isinstance(kept[0], Mapping):
        out = {**cast("Mapping[str, object]", kept[0]), **out}
    else:
        out["anyOf"] = kept
    if out.get("default", 0) is None:
        del out["default"]
    out["__nullable__"] = True
    return out


def _unrequire_nullable(node: object) -> object:
    """Drop the nullable marks; a nullable property is no longer required of its object."""
    if isinstance(node, list):
        return [_unrequire_nullable(item) for item in cast("list[object]", node)]
    if not isinstance(node, Mapping):
        return node
    schema = dict(cast("Mapping[str, object]", node))
    schema.pop("__nullable__", None)
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        members = cast("Mapping[str, object]", properties)
        nullable = {
            name
            for name, member in members.items()
            if isinstance(member, Mapping) and "__nullable__" in member
        }
        required = schema.get("required")
        if nullable and isinstance(required, list):
            kept = [name for name in cast("list[str]", required) if name not in nullable]
            if kept:
                schema["required"] = kept
            else:
                del schema["required"]
    for key, value in list(schema.items()):
        if key in {"properties", "$defs"} and isinstance(value, Mapping):
            members = cast("Mapping[str, object]", value)
            schema[key] = {name: _unrequire_nullable(member) for name, member in members.items()}
        elif key != "required":
            schema[key] = _unrequire_nullable(value)
    return schema


def lean_schema(schema: Mapping[str, Any], *, output: bool = False) -> dict[str, Any]:
    """``schema`` without titles and null unions (see the module docstring); an ``output``
    schema loses the null branch of object properties only (a null inside a list or a map is
    data the answer keeps)."""
    return cast("dict[str, Any]", _unrequire_nullable(_lean_node(schema, everywhere=not output)))


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        resolved: dict[str, Any] = schema["$defs"][reference.removeprefix("#/$defs/")]
        return resolved
    return node


def _unrequire(schema: dict[str, Any], path: list[str]) -> None:
    """Make the field at a dotted ``path`` optional ("*" steps into a list's items)."""
    node = schema
    for part in path[:-1]:
        node = _resolve(schema, node)
        node = node["items"] if part == "*" else node["properties"][part]
    node = _resolve(schema, node)
    required = node.get("required")
    if isinstance(required, list):
        kept = [name for name in cast("list[str]", required) if name != path[-1]]
        if kept:
            node["required"] = kept
        else:
            del node["required"]


_SUMMARY = {"type": "string", "description": "What to say first: the text content's words."}


def lean(tool: Tool, *, full_only: Collection[str] = ()) -> Tool:
    """``tool`` with lean input and output schemas (rewritten in place; returned for chaining).

    ``full_only`` names output fields (dotted paths; "*" for a list's items) that only
    ``detail="full"`` answers carry: the schema no longer requires them. Leaning a lean tool
    again changes nothing.

    The output schema leads with ``summary`` (every answer carries it, see
    :func:`tools._edge.ok_result`). The SDK's own check of an answer against the output model
    is switched off: an answer is that model's dump without its nulls, which the model (whose
    optional fields have no default) would refuse; the client checks it against the published
    schema, which says exactly that.
    """
    tool.parameters = lean_schema(tool.parameters)
    metadata = tool.fn_metadata
    if metadata.output_schema is not None:
        schema = lean_schema(metadata.output_schema, output=True)
        properties = {"summary": _SUMMARY, **schema.get("properties", {})}
        for path in full_only:
            _unrequire(schema, path.split("."))
        required = ["summary", *(n for n in schema.get("required", []) if n != "summary")]
        metadata.output_schema = {**schema, "properties": properties, "required": required}
        metadata.output_model = None
    return tool
