"""Fuzz cases for every tool the server lists: a valid call, corrupted in one known way.

A case starts from a known-good argument object (:data:`BASE_ARGUMENTS`, or one derived from the
tool's input schema when a tool has no entry there), picks one field of it and corrupts that field
in one way of a known kind (:data:`KINDS`). The case knows the field it corrupted, as a path such
as ``("arms", 1, "conversions")``, spelt ``arms[1].conversions``. :func:`judge` then says whether
the server's answer is right:

* No internal error, no unanswered call (the callers bound every call with a timeout).
* An error result comes from our edge ("TOOL was not run: ...") and names the corrupted field.
* An accepted call carries structured content that validates against the tool's output schema,
  and a short text summary that is not a JSON dump. A call whose arguments break the tool's own
  input schema is not accepted, except by the coercions the server allows on purpose
  (:data:`LENIENT_KINDS`: a number sent as a numeric string or a boolean, an object or a list
  sent as a JSON string).

How an error names a field. The edge (``tools/_edge.py``, ``kpi_core/errors.py``) writes each
problem as ``FIELD RULE; got VALUE - HINT`` and joins the problems with ``"; "`` after
``"TOOL was not run: "``. FIELD is a top-level argument's name (``baseline``), or a path below it
with list indexes in brackets (``arms[1].conversions``, ``weighting.engagement``,
``allocation[2]``) or in dots as pydantic spells locations (``guardrails.0``), or, inside a
creator's metrics record, the metric's own name (``conversion_rate`` for
``metrics.conversion_rate``: the core validates the record and names its fields). An error names
the corrupted field when one of its problems' FIELD is a spelling of the corrupted path or of a
field below it. A corrupted value that is still valid under the input schema (near-valid) may
break a rule that spans fields; such an error may name instead a sibling in the same object or
list, a container of the field below the top level, or a top-level argument that
:data:`RELATED_ARGUMENTS` couples with it. Giving a second of two arguments of which a call takes
exactly one (:data:`EXCLUSIVE_ARGUMENTS`), or taking away the only one, may be refused under
either name. A corrupted cohort row (:data:`ROW_ARGUMENTS`) may be accepted with the row listed
in the result's ``rejected``, whose reasons must then name the field; a row that breaks the input
schema must be refused or rejected.

JSON cannot carry NaN or infinity: the client sends them as null (pinned by
tests/test_fuzz.py), so a ``non_finite`` case is judged as the null it becomes on the wire.
Nesting is bounded (:data:`MAX_ARGUMENT_DEPTH`) below the SDK's limit of about 200 levels per
message, beyond which mcp 2.3.0 cannot parse a message at all. Over stdio and HTTP the server's
transport guard refuses a whole message nested deeper than its own limit (64 levels) or holding
an integer too long to read, with a JSON-RPC error carrying the request's id; such an answer is
right only for such a message (outcome ``refused``). In memory there is no message: the tool
itself must name the field.
"""

from __future__ import annotations

import copy
import json
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, cast

import jsonschema
from mcp import MCPError
from mcp.types import CallToolResult, TextContent
from mcp.types import Tool as ListedTool

from kpi_core import KPI_IDS
from kpi_core.catalogue import load_catalogue
from kpi_core.errors import field_name, truncate
from kpi_core.experiments.design import design_ab_test
from tests.cases import REALISTIC, SOURCE_PAYLOAD

__all__ = [
    "BASE_ARGUMENTS",
    "INVALID_REQUEST",
    "KINDS",
    "MAX_ARGUMENT_DEPTH",
    "PARSE_ERROR",
    "SETUP_CALLS",
    "Case",
    "Chooser",
    "Fuzzer",
    "RandomChooser",
    "ToolSpec",
    "Verdict",
    "base_arguments",
    "json_depth",
    "judge",
    "point_case",
    "result_text",
    "spell",
    "targets",
    "valid_case",
    "wire_form",
]

T = TypeVar("T")
Path = tuple[str | int, ...]
Schema = Mapping[str, Any]

#: Deepest argument object a case sends (levels of objects and lists, the arguments object
#: counted). The SDK drops a message nested deeper than about 200 levels unanswered over stdio;
#: the JSON-RPC envelope adds two levels above the arguments.
MAX_ARGUMENT_DEPTH = 190

#: Every kind of corruption, in the order a chooser indexes them.
KINDS: tuple[str, ...] = (
    "wrong_type",
    "null",
    "non_finite",
    "negative",
    "huge",
    "deep_nesting",
    "odd_unicode",
    "extra_key",
    "empty",
    "missing",
    "near_valid.percent",
    "near_valid.fractional_count",
    "near_valid.enum_neighbour",
    "near_valid.int_step",
    "near_valid.bound_step",
    "near_valid.sign_flip",
    "near_valid.list_length",
    "near_valid.numeric_string",
    "near_valid.bool_number",
    "near_valid.json_string",
)

#: Kinds whose schema-breaking values the server may accept on purpose (pydantic's lax numbers;
#: object and list arguments sent as JSON strings, which some clients do).
LENIENT_KINDS = frozenset(
    {"near_valid.numeric_string", "near_valid.bool_number", "near_valid.json_string"}
)

# --------------------------------------------------------------------------------------------
# Known-good arguments
# --------------------------------------------------------------------------------------------

TIERED_WEIGHTS: dict[str, float] = {
    kpi: load_catalogue().kpis[kpi].tiered_weight for kpi in KPI_IDS
}

#: A creator with data for every KPI, so that a corruption of any one metric still leaves a
#: record worth scoring.
RICH_CREATOR: dict[str, Any] = {
    **REALISTIC["beauty_micro"],
    "conversion_rate": 0.049,
    "live_gmv_share": 0.2,
    "avg_commission_rate": 0.15,
    "engagement_rate_change": 0.03,
    "search_traffic_share": 0.08,
    "new_viewer_share": 0.55,
    "video_quality": 0.8,
    "category_match": 0.9,
    "trending_sound_share": 0.3,
    "trending_hashtag_share": 0.2,
    "visual_quality_score": 0.7,
    "profile_completeness": 0.9,
    "avg_views_per_video": 36_000,
    "creator_cost": 1_500.0,
}

#: A small cohort (score_cohort), and the same with next-period outcomes (compare_weighting).
COHORT: list[dict[str, Any]] = [
    REALISTIC["beauty_micro"],
    REALISTIC["gadgets_macro"],
    REALISTIC["fitness_nano"],
    {**REALISTIC["beauty_micro"], "creator_id": "@mia.two", "gmv": 4_000.0},
    {**SOURCE_PAYLOAD, "creator_id": "source_doc"},
]
NEXT_GMV = (11_000.0, 80_000.0, 700.0, 3_500.0, 12_000.0)
#: Three copies of the cohort with shifted outcomes: compare_weighting measures an outcome on 10
#: creators or more (issue 17), and a corrupted row must leave enough.
OUTCOME_COHORT: list[dict[str, Any]] = [
    {**row, "creator_id": f"c{copy}_{index}", "next_gmv": outcome * (1.0 + 0.3 * copy)}
    for copy in range(3)
    for index, (row, outcome) in enumerate(zip(COHORT, NEXT_GMV, strict=True))
]

#: A design_ab_test plan for the intervention below (what register_experiment is given).
PLAN: dict[str, Any] = design_ab_test(
    "proportion",
    0.012,
    baseline_sd=0.004,
    mde=0.2,
    unit="time_block",
    block_days=7,
    primary_metric="product_ctr",
).model_dump(mode="json")
PLAN_INTERVENTION = "sc_pin_product_link"
#: The plan that record_outcome's cases report on (registered by :data:`SETUP_CALLS`).
OUTCOME_PLAN_ID = "fuzz-outcome-plan"

OUTCOME: dict[str, Any] = {
    "plan_id": OUTCOME_PLAN_ID,
    "arms": [
        {"name": "control", "mean": 0.012, "sd": 0.004, "n": PLAN["n_per_arm"][0]},
        {"name": "treatment", "mean": 0.0135, "sd": 0.0042, "n": PLAN["n_per_arm"][1]},
    ],
    "correction": "holm",
}

#: Known-good argument objects per tool name (the first is the richest). A tool without an entry
#: gets one derived from its input schema (:func:`schema_arguments`); tests/test_fuzz.py fails
#: with a clear message when that derived call is refused, asking for an entry here.
BASE_ARGUMENTS: dict[str, tuple[dict[str, Any], ...]] = {
    "score_creator": (
        {"metrics": RICH_CREATOR, "weighting": TIERED_WEIGHTS, "currency": "USD"},
        {"metrics": SOURCE_PAYLOAD, "weighting": "equal"},
        {"metrics": REALISTIC["gadgets_macro"]},
    ),
    "diagnose": (
        {"metrics": RICH_CREATOR, "weighting": TIERED_WEIGHTS, "top_n": 3, "currency": "USD"},
        {"metrics": SOURCE_PAYLOAD, "weighting": "equal", "top_n": 5},
    ),
    "recommend": (
        {"metrics": RICH_CREATOR, "max_items": 3, "objective": "grow_gmv", "currency": "USD"},
        {"metrics": REALISTIC["fitness_nano"], "weighting": TIERED_WEIGHTS, "max_items": 5},
    ),
    "score_cohort": (
        {
            "creators": COHORT,
            "weighting": TIERED_WEIGHTS,
            "top_n": 3,
            "sort_by": "overall_score",
            "min_coverage": 0.2,
            "currency": "USD",
        },
        {"creators": COHORT[:3], "weighting": "equal", "sort_by": "shop_conversion"},
    ),
    "compare_weighting": (
        {"metrics": RICH_CREATOR, "schemes": ["tiered", TIERED_WEIGHTS, "equal"]},
        {
            "creators": OUTCOME_COHORT,
            "schemes": ["tiered", "equal"],
            "outcome": "next_gmv",
            "k": 3,
            "n_boot": 20,
            "seed": 7,
            "folds": 2,
            "limit": 4,
            "offset": 1,
        },
    ),
    "design_ab_test": (
        {
            "metric_kind": "proportion",
            "baseline": 0.03,
            "mde": 0.1,
            "mde_type": "relative",
            "alpha": 0.05,
            "power": 0.8,
            "sides": 2,
            "arms": 3,
            "allocation": [0.5, 0.25, 0.25],
            "unit": "viewer",
            "daily_units": 20_000,
            "cuped_correlation": 0.4,
            "method": "pooled",
            "primary_metric": "conversion_rate",
            "guardrails": ["refund_rate", "cart_abandonment_rate"],
        },
        {
            "metric_kind": "mean",
            "baseline": 42.0,
            "baseline_sd": 30.0,
            "mde": 0.05,
            "unit": "creator",
            "available_units": 400,
            "observation_days": 28,
            "method": "relative_lift",
        },
        {
            "metric_kind": "mean",
            "baseline": 120.0,
            "baseline_sd": 40.0,
            "mde": 10,
            "mde_type": "absolute",
            "unit": "time_block",
            "block_days": 7,
            "sides": 1,
        },
    ),
    "register_experiment": (
        {
            "plan": PLAN,
            "intervention_id": PLAN_INTERVENTION,
            "creator_id": "@glowwithmia",
            "category": "beauty",
            "measured_as": "product_ctr",
        },
    ),
    "record_outcome": (OUTCOME,),
    "list_experiments": (
        {"intervention_id": PLAN_INTERVENTION, "status": "registered", "limit": 5},
        {"category": "beauty", "creator_id": "@glowwithmia", "status": "completed"},
    ),
    "analyze_ab_test": (
        {
            "metric_kind": "proportion",
            "arms": [
                {"name": "control", "conversions": 310, "units": 10_000},
                {"name": "bundle", "conversions": 365, "units": 10_050},
                {"name": "live", "conversions": 330, "units": 9_950},
            ],
            "correction": "holm",
            "planned_allocation": [0.34, 0.33, 0.33],
            "planned_n_per_arm": 10_000,
            "alpha": 0.05,
        },
        {
            "metric_kind": "mean",
            "arms": [
                {"name": "control", "mean": 41.5, "sd": 22.0, "n": 800},
                {"name": "treatment", "mean": 44.0, "sd": 23.5, "n": 790},
            ],
            "correction": "bonferroni",
        },
    ),
}

#: Calls a client makes once (on a fresh experiment store) before a tool's cases can be valid.
SETUP_CALLS: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    # the plan, and its outcome: a plan is read once, so afterwards only this very outcome is
    # accepted again and any other is refused (under "arms"), whatever order cases run in
    "record_outcome": (
        (
            "register_experiment",
            {
                "plan": PLAN,
                "intervention_id": PLAN_INTERVENTION,
                "creator_id": "@glowwithmia",
                "category": "beauty",
                "plan_id": OUTCOME_PLAN_ID,
            },
        ),
        ("record_outcome", OUTCOME),
    ),
}

#: Known-good values by argument name, used by the schema-derived fallback.
NAMED_VALUES: dict[str, Any] = {
    "metrics": RICH_CREATOR,
    "creators": [RICH_CREATOR, REALISTIC["gadgets_macro"], REALISTIC["fitness_nano"]],
}

#: Top-level arguments coupled by rules that span them: a near-valid value of one may be refused
#: under the name of another (a baseline of 0.99 makes the mde too large for a proportion).
RELATED_ARGUMENTS: dict[str, tuple[frozenset[str], ...]] = {
    "design_ab_test": (
        frozenset(
            {
                "metric_kind",
                "baseline",
                "baseline_sd",
                "mde",
                "mde_type",
                "method",
                "unit",
                "block_days",
                "arms",
                "allocation",
            }
        ),
    ),
    "analyze_ab_test": (frozenset({"metric_kind", "arms", "planned_allocation"}),),
    # the outcome is a field of each creator
    "compare_weighting": (frozenset({"creators", "outcome"}),),
    # an outcome is checked against its registered plan (arm kind and count, sample, sameness)
    "record_outcome": (frozenset({"plan_id", "arms"}),),
    # the plan's primary metric and measure must be those of the intervention tested
    "register_experiment": (
        frozenset({"intervention_id", "measured_as", "plan.primary_metric", "plan"}),
    ),
}

#: Arguments of which a call gives exactly one: adding another is refused under either's name.
EXCLUSIVE_ARGUMENTS: dict[str, frozenset[str]] = {
    "compare_weighting": frozenset({"metrics", "creators"}),
    "score_cohort": frozenset({"creators", "path"}),
}

#: Arguments the core validates as a creator record, naming the record's fields by their own
#: name: the number of leading path parts the core drops (``metrics.gmv`` -> ``gmv``,
#: ``creators[2].gmv`` -> ``gmv``).
RECORD_ARGUMENTS: dict[str, int] = {"metrics": 1, "creators": 2}

#: Arguments listing cohort rows: a row that fails validation is rejected (listed in the
#: result's ``rejected`` with its reasons) and the rest are scored, so a corrupted row may be
#: accepted; if listed, its reasons must name the field.
ROW_ARGUMENTS = frozenset({"creators"})


def base_arguments(spec: ToolSpec) -> tuple[dict[str, Any], ...]:
    """The known-good argument objects of a tool: registered ones, else one from its schema."""
    return BASE_ARGUMENTS.get(spec.name) or (schema_arguments(spec),)


def schema_arguments(spec: ToolSpec) -> dict[str, Any]:
    """A valid-looking argument object from the input schema alone (required arguments only).

    Arguments named in :data:`NAMED_VALUES` take that value; when no required argument did, the
    first optional one of them that the tool takes is added (most tools need a creator).
    """
    view = spec.inputs
    arguments: dict[str, Any] = {}
    properties: Mapping[str, Schema] = view.root.get("properties", {})
    required: list[str] = list(view.root.get("required", []))
    for name in required:
        arguments[name] = (
            copy.deepcopy(NAMED_VALUES[name])
            if name in NAMED_VALUES
            else view.example(properties[name])
        )
    if not any(name in NAMED_VALUES for name in required):
        for name, value in NAMED_VALUES.items():
            if name in properties:
                arguments[name] = copy.deepcopy(value)
                break
    return arguments


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------


def json_type(value: object) -> str:
    """The JSON type of a decoded value, as JSON Schema names it (whole floats are integers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if math.isfinite(value) and value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class SchemaView:
    """Read a JSON Schema as published by the SDK: ``$ref`` into ``$defs``, ``anyOf`` branches."""

    def __init__(self, root: Schema) -> None:
        self.root = root
        self.defs: Mapping[str, Schema] = root.get("$defs", {})
        self._validator = _validator(root)
        self._seen: dict[str, bool] = {}

    def is_valid(self, instance: object) -> bool:
        try:
            return self._validator.is_valid(instance)
        except ValueError:  # jsonschema printing an integer of over 4300 digits in its error
            return False

    def is_valid_once(self, instance: object) -> bool:
        """:meth:`is_valid`, remembered per distinct JSON text (many cases share a result)."""
        key = json.dumps(instance, sort_keys=True)
        known = self._seen.get(key)
        if known is None:
            known = self._seen[key] = self.is_valid(instance)
        return known

    def resolve(self, node: Schema) -> Schema:
        while "$ref" in node:
            node = self.defs[str(node["$ref"]).rsplit("/", 1)[-1]]
        return node

    def branches(self, node: Schema) -> list[Schema]:
        """The alternatives of a node, ``$ref`` resolved and nested ``anyOf`` flattened."""
        node = self.resolve(node)
        options: list[Schema] = list(node.get("anyOf", node.get("oneOf", [])))
        if not options:
            return [node]
        return [branch for option in options for branch in self.branches(option)]

    def types(self, node: Schema) -> set[str]:
        """The JSON types a node allows ("any" when it says nothing)."""
        allowed: set[str] = set()
        for branch in self.branches(node):
            if "enum" in branch or "const" in branch:
                values: list[object] = list(branch.get("enum", [branch.get("const")]))
                allowed.update(json_type(value) for value in values)
            elif "type" in branch:
                kind = branch["type"]
                allowed.update([kind] if isinstance(kind, str) else kind)
            else:
                allowed.add("any")
        if "integer" in allowed:
            allowed.add("whole")
        if "number" in allowed:
            allowed.update({"integer", "whole"})
        return allowed

    def allows(self, node: Schema, value: object) -> bool:
        """Whether the node's types admit the value's JSON type (enums and bounds aside)."""
        types = self.types(node)
        return "any" in types or json_type(value) in types

    def enum(self, node: Schema) -> list[object]:
        values: list[object] = []
        for branch in self.branches(node):
            values.extend(branch.get("enum", []))
            if "const" in branch:
                values.append(branch["const"])
        return values

    def bounds(self, node: Schema) -> tuple[float | None, float | None]:
        """The numeric branch's minimum and maximum, when it gives them."""
        for branch in self.branches(node):
            if branch.get("type") in ("number", "integer"):
                low, high = branch.get("minimum"), branch.get("maximum")
                return (
                    None if low is None else float(low),
                    None if high is None else float(high),
                )
        return None, None

    def max_length(self, node: Schema) -> int | None:
        for branch in self.branches(node):
            if branch.get("type") == "string" and "maxLength" in branch:
                return int(branch["maxLength"])
        return None

    def object_branch(self, node: Schema, value: Mapping[str, Any]) -> Schema | None:
        """The object alternative that best fits ``value`` (the valid one, else the first)."""
        objects = [branch for branch in self.branches(node) if branch.get("type") == "object"]
        if len(objects) <= 1:
            return objects[0] if objects else None
        for branch in objects:
            if self.fits(branch, value):
                return branch
        for branch in objects:
            if set(branch.get("required", [])) <= set(value):
                return branch
        return objects[0] if objects else None

    def fits(self, node: Schema, value: object) -> bool:
        return _validator({**node, "$defs": self.defs}).is_valid(value)

    def child(self, node: Schema, container: object, key: str | int) -> Schema:
        """The schema of ``container[key]`` (an empty schema when the node does not say)."""
        if isinstance(container, Mapping) and isinstance(key, str):
            branch = self.object_branch(node, cast("Mapping[str, Any]", container))
            if branch is None:
                return {}
            properties: Mapping[str, Schema] = branch.get("properties", {})
            if key in properties:
                return properties[key]
            extra: object = branch.get("additionalProperties", {})
            return cast("Schema", extra) if isinstance(extra, Mapping) else {}
        for branch in self.branches(node):
            if branch.get("type") == "array":
                items: Schema = branch.get("items", {})
                return items
        return {}

    def example(self, node: Schema) -> Any:
        """A value valid under the node: its default, first enum value or a plain value."""
        node = self.resolve(node)
        if node.get("default") is not None:
            return copy.deepcopy(node["default"])
        branches = [b for b in self.branches(node) if b.get("type") != "null"] or [node]
        branch = branches[0]
        if "enum" in branch:
            return branch["enum"][0]
        if "const" in branch:
            return branch["const"]
        kind = branch.get("type")
        if kind == "object":
            properties: Mapping[str, Schema] = branch.get("properties", {})
            return {name: self.example(properties[name]) for name in branch.get("required", [])}
        if kind == "array":
            return [self.example(branch.get("items", {}))] * int(branch.get("minItems", 1))
        if kind == "string":
            return "example" + "x" * max(0, int(branch.get("minLength", 0)) - 7)
        if kind in ("number", "integer"):
            low, high = self.bounds(branch)
            if low is not None and high is not None:
                middle = (low + high) / 2
                return round(middle) if kind == "integer" else middle
            start = low if low is not None else 1.0
            return int(start) + 1 if kind == "integer" else start + 1.0
        if kind == "boolean":
            return False
        return None


def _validator(schema: Schema) -> Any:
    validator: Any = jsonschema.Draft202012Validator(schema)  # pyright: ignore[reportUnknownMemberType]
    return validator


@dataclass(frozen=True)
class ToolSpec:
    """A tool as ``tools/list`` shows it: its name and its input and output schemas."""

    name: str
    input_schema: Schema
    output_schema: Schema | None
    inputs: SchemaView = field(init=False, repr=False, compare=False)
    outputs: SchemaView | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", SchemaView(self.input_schema))
        outputs = None if self.output_schema is None else SchemaView(self.output_schema)
        object.__setattr__(self, "outputs", outputs)

    @classmethod
    def from_listing(cls, tool: ListedTool) -> ToolSpec:
        return cls(tool.name, tool.input_schema, tool.output_schema)


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def spell(path: Path) -> str:
    """A path as the core spells a field: ``arms[1].conversions``, ``weighting.engagement``.

    Keys are shown as :func:`kpi_core.errors.field_name` shows a key a caller sent: as they are
    when plain, else quoted with escapes (``metrics.''``, ``arms[1].'gmv\\u200b'``).
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{field_name(part)}" if text else field_name(part)
    return text


def spellings(path: Path) -> set[str]:
    """Every spelling of a path that an error may use (see the module docstring)."""
    dotted = ".".join(str(part) if isinstance(part, int) else field_name(part) for part in path)
    names = {spell(path), dotted}
    if path and isinstance(path[-1], str) and len(path) > 1:
        # the experiment store quotes a key that is not short plain ASCII, capped at 40
        names.add(f"{spell(path[:-1])}.{truncate(path[-1], 40)}")
    if path and path[0] in RECORD_ARGUMENTS:
        inner = path[RECORD_ARGUMENTS[str(path[0])] :]
        if inner:
            names.add(spell(inner))
    names.discard("")
    return names


def _get(container: Any, path: Path) -> Any:
    for part in path:
        container = container[part]
    return container


def _with(arguments: dict[str, Any], path: Path, value: object) -> dict[str, Any]:
    changed = copy.deepcopy(arguments)
    if not path:
        return cast("dict[str, Any]", value)
    parent = _get(changed, path[:-1])
    parent[path[-1]] = value
    return changed


def _without(arguments: dict[str, Any], path: Path) -> dict[str, Any]:
    changed = copy.deepcopy(arguments)
    parent = _get(changed, path[:-1])
    del parent[path[-1]]
    return changed


def json_depth(value: object) -> int:
    """Levels of objects and lists in a decoded value (a scalar has none)."""
    if isinstance(value, Mapping):
        items: list[object] = list(cast("Mapping[str, object]", value).values())
    elif isinstance(value, list):
        items = list(cast("list[object]", value))
    else:
        return 0
    return 1 + max((json_depth(item) for item in items), default=0)


def wire_form(value: Any) -> Any:
    """A value as it reaches the server: NaN and infinities become null, as the client sends."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: wire_form(item) for key, item in cast("Mapping[str, Any]", value).items()}
    if isinstance(value, list):
        return [wire_form(item) for item in cast("list[Any]", value)]
    return value


# --------------------------------------------------------------------------------------------
# Choosing
# --------------------------------------------------------------------------------------------


class Chooser(Protocol):
    """Where a case's choices come from: hypothesis in the tests, a seeded RNG in the bench."""

    def index(self, count: int) -> int:
        """An integer in ``[0, count)``."""
        ...


class RandomChooser:
    """Choices from a seeded :class:`random.Random` (for the benchmark's many cases)."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def index(self, count: int) -> int:
        return self._random.randrange(count)


def pick(chooser: Chooser, options: Sequence[T]) -> T:
    return options[chooser.index(len(options))]


# --------------------------------------------------------------------------------------------
# Targets: the fields of a base argument object, present or absent
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """One field a corruption can hit: its path, schema, and current value when present."""

    path: Path
    schema: Schema
    present: bool
    value: Any = None
    required: bool = False


def targets(view: SchemaView, arguments: dict[str, Any]) -> list[Target]:
    """Every present field of ``arguments`` and every absent property its objects may hold."""
    found: list[Target] = []

    def walk(value: Any, node: Schema, path: Path, required: bool) -> None:
        found.append(Target(path, node, True, value, required))
        if isinstance(value, Mapping):
            record = cast("Mapping[str, Any]", value)
            branch = view.object_branch(node, record) or {}
            needed = set(branch.get("required", []))
            for key, item in record.items():
                walk(item, view.child(node, record, key), (*path, key), key in needed)
            properties: Mapping[str, Schema] = branch.get("properties", {})
            for key, schema in properties.items():
                if key not in record:
                    found.append(Target((*path, key), schema, False, None, key in needed))
        elif isinstance(value, list):
            items = cast("list[Any]", value)
            for index, item in enumerate(items):
                walk(item, view.child(node, items, index), (*path, index), True)

    walk(arguments, view.root, (), True)
    return found


# --------------------------------------------------------------------------------------------
# Corruptions
# --------------------------------------------------------------------------------------------

#: Values of each JSON type, for "wrong_type" (booleans for numbers are a lenient near-valid).
WRONG_TYPE_VALUES: tuple[object, ...] = (
    "twelve",
    "",
    12,
    0.5,
    [1, 2],
    [],
    {"value": 1},
    {},
    True,
)
NON_FINITE = (math.nan, math.inf, -math.inf)
NEGATIVES: tuple[float | int, ...] = (-1, -0.001, -1e9, -(2**63), -1e308, -5e-324)
HUGE: tuple[float | int, ...] = (
    1e308,
    1.7976931348623157e308,
    2**53 + 1,
    2**63,
    2**64 + 1,
    10**30,
    10**400,
    10**5000,  # more digits than Python reads from JSON text
    5e-324,
)
#: Odd unicode: bidi controls, zero-width characters, a BOM, NUL, combining marks, emoji
#: sequences (no lone surrogates: JSON text in UTF-8 cannot carry them), full-width digits,
#: a line separator, mathematical letters.
ODD_PIECES: tuple[str, ...] = (
    "\u202e",
    "\u200f",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\x00",
    "e\u0301",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "\U0001f3f3\ufe0f\u200d\U0001f308",
    "\uff11\uff12\uff13",
    "\u6f22\u5b57",
    "\u2028",
    "\t",
    "\U0001d518\U0001d52b\U0001d526",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
)
EXTRA_KEYS: tuple[str, ...] = (
    "favourite_colour",
    "__proto__",
    "constructor",
    "",
    " ",
    "\u202eetad",
    "\U0001f4b8",
    "gmv\u200b",
    "\uff47\uff4d\uff56",
    "a.b",
    "arms[0]",
    "x" * 40,
    "null",
    "\x00",
)


@dataclass(frozen=True, slots=True)
class Case:
    """One corrupted call, and what the server's answer must say about it."""

    tool: str
    kind: str
    path: Path
    arguments: dict[str, Any]
    detail: str
    must_refuse: bool
    fields: tuple[str, ...]
    prefixes: tuple[str, ...] = ()
    #: The cohort row the corruption hit (rows are rejected, not calls), and whether the row
    #: breaks the input schema, so that an accepted call must list it in ``rejected``.
    row: int | None = None
    must_reject_row: bool = False

    @property
    def field(self) -> str:
        return spell(self.path) or "(the arguments)"

    def describe(self) -> str:
        sent = json.dumps(_printable(wire_form(self.arguments)), ensure_ascii=True)
        if len(sent) > 1500:
            sent = sent[:1500] + "..."
        return f"{self.tool} {self.kind} at {self.field}: {self.detail}\n  arguments: {sent}"


def _printable(value: Any) -> Any:
    """A value json.dumps can print: integers too long for str() are shown by their size."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return truncate(value)
    if isinstance(value, Mapping):
        return {key: _printable(item) for key, item in cast("Mapping[str, Any]", value).items()}
    if isinstance(value, list):
        return [_printable(item) for item in cast("list[Any]", value)]
    return value


@dataclass(frozen=True, slots=True)
class _Corruption:
    path: Path
    arguments: dict[str, Any]
    detail: str
    must_refuse: bool | None = None  # None: decided by the input schema
    subtree: bool = True  # an error may name a field below the path


def _short(value: object) -> str:
    return truncate(value)


def _is_number(view: SchemaView, target: Target) -> bool:
    return bool(view.types(target.schema) & {"number", "integer", "any"})


def _present_number(target: Target) -> bool:
    return (
        target.present
        and isinstance(target.value, int | float)
        and not isinstance(target.value, bool)
    )


def _replace(target: Target, arguments: dict[str, Any], value: object, what: str) -> _Corruption:
    return _Corruption(target.path, _with(arguments, target.path, value), what)


def _wrong_type(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    if not target.path:
        return None
    numeric = _is_number(view, target)
    options = [
        value
        for value in WRONG_TYPE_VALUES
        if not view.allows(target.schema, value) and not (numeric and isinstance(value, bool))
    ]
    if not options:
        return None
    value = pick(chooser, options)
    return _replace(target, arguments, value, f"set to {_short(value)}")


def _null(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    del chooser, view
    if not target.path:
        return None
    return _replace(target, arguments, None, "set to null")


def _non_finite(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    if not target.path or not _is_number(view, target):
        return None
    value = pick(chooser, NON_FINITE)
    return _replace(target, arguments, value, f"set to {value!r} (the client sends null)")


def _negative(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    if not target.path or not _is_number(view, target):
        return None
    value = pick(chooser, NEGATIVES)
    return _replace(target, arguments, value, f"set to {value!r}")


def _huge(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    if not target.path or not _is_number(view, target):
        return None
    value = pick(chooser, HUGE)
    return _replace(target, arguments, value, f"set to {_short(value)}")


def _deep_nesting(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    if not target.path:
        return None
    types = view.types(target.schema)
    if "any" in types:
        return None
    shapes = [shape for shape in ("array", "object") if shape not in types]
    if not shapes:
        return None
    shape = pick(chooser, shapes)
    room = MAX_ARGUMENT_DEPTH - len(target.path)
    depth = 2 + chooser.index(room - 1)
    nested: object = 1
    for _ in range(depth):
        nested = [nested] if shape == "array" else {"level": nested}
    changed = _with(arguments, target.path, nested)
    assert json_depth(changed) <= MAX_ARGUMENT_DEPTH
    return _Corruption(target.path, changed, f"set to {shape}s nested {depth} deep", True)


def _odd_text(chooser: Chooser, view: SchemaView, target: Target) -> str:
    base = target.value if isinstance(target.value, str) else "text"
    piece = pick(chooser, ODD_PIECES)
    mode = chooser.index(5)
    if mode == 0:
        return piece + base
    if mode == 1:
        return base + piece
    if mode == 2:
        return base[: len(base) // 2] + piece + base[len(base) // 2 :]
    if mode == 3:
        return piece * (1 + chooser.index(8))
    limit = view.max_length(target.schema)
    length = limit + 1 if limit is not None else 2_000
    return (piece * length)[:length]


def _odd_unicode(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    if not target.path or "string" not in view.types(target.schema):
        return None
    text = _odd_text(chooser, view, target)
    shown = text.encode("unicode_escape").decode("ascii")
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return _replace(target, arguments, text, f"set to '{shown}' ({len(text)} characters)")


def _typo(chooser: Chooser, word: str) -> str:
    if len(word) < 3:
        return word + "_"
    at = 1 + chooser.index(len(word) - 2)
    if chooser.index(2) == 0:
        return word[:at] + word[at + 1 :]
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def _extra_key(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    value: object = target.value
    if not target.present or not isinstance(value, Mapping):
        return None
    record = cast("Mapping[str, Any]", value)
    branch = view.object_branch(target.schema, record) or {}
    known = set(record) | set(branch.get("properties", {}))
    if chooser.index(2) == 0 and record:
        key = _typo(chooser, str(pick(chooser, sorted(record))))
    else:
        key = pick(chooser, EXTRA_KEYS)
    if key in known:
        return None
    value = pick(chooser, (1, 0.5, "x", None))
    changed = _with(arguments, (*target.path, key), value)
    shown = key.encode("unicode_escape").decode("ascii")
    return _Corruption(
        (*target.path, key),
        changed,
        f"added the key '{shown}': {value!r}",
        True if not target.path else None,  # the edge refuses unknown arguments
    )


def _empty(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    del chooser, view
    if not target.present:
        return None
    if isinstance(target.value, Mapping):
        return _replace(target, arguments, {}, "emptied to {}")
    if isinstance(target.value, list):
        return _replace(target, arguments, [], "emptied to []")
    if isinstance(target.value, str):
        return _replace(target, arguments, "", 'emptied to ""')
    return None


def _missing(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    del chooser, view
    if not target.present or not target.path or not isinstance(target.path[-1], str):
        return None
    state = "required" if target.required else "optional"
    return _Corruption(target.path, _without(arguments, target.path), f"removed ({state})")


def _percent(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    del chooser, view
    if not _present_number(target) or not 0 < target.value <= 1:
        return None
    value = round(target.value * 100, 10)
    return _replace(target, arguments, value, f"{target.value!r} given as a percent: {value!r}")


def _fractional_count(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    if not _present_number(target) or not float(target.value).is_integer():
        return None
    value = target.value + pick(chooser, (0.5, 0.25, 1e-9))
    return _replace(target, arguments, value, f"the count {target.value!r} given as {value!r}")


def _enum_neighbour(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    values = view.enum(target.schema)
    if not target.path or not values:
        return None
    start = target.value if target.value in values else pick(chooser, values)
    if isinstance(start, str):
        neighbours = [
            start.capitalize(),
            start.upper(),
            start + "s",
            start[:-1],
            start + " ",
            start.replace("_", "-"),
            start.replace("_", " "),
        ]
    elif isinstance(start, int) and not isinstance(start, bool):
        ints = [value for value in values if isinstance(value, int)]
        neighbours = [min(ints) - 1, max(ints) + 1]
    else:
        return None
    options = [value for value in neighbours if value not in values]
    if not options:
        return None
    value = pick(chooser, options)
    return _replace(target, arguments, value, f"{start!r} one off: {value!r}")


def _int_step(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    if not _present_number(target) or not float(target.value).is_integer():
        return None
    step = pick(chooser, (-1, 1))
    value = int(target.value) + step
    return _replace(target, arguments, value, f"{target.value!r} stepped to {value!r}")


def _bound_step(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    if not target.path or not _is_number(view, target):
        return None
    low, high = view.bounds(target.schema)
    options: list[float] = []
    if low is not None:
        options.append(low - max(abs(low) * 1e-6, 1e-9))
    if high is not None:
        options.append(high + max(abs(high) * 1e-6, 1e-9))
    if not options:
        return None
    value = pick(chooser, options)
    return _replace(target, arguments, value, f"just outside [{low}, {high}]: {value!r}")


def _sign_flip(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    del chooser, view
    if not _present_number(target) or target.value == 0:
        return None
    return _replace(target, arguments, -target.value, f"{target.value!r} negated")


def _list_length(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    del view
    value: object = target.value
    if not target.present or not isinstance(value, list):
        return None
    items = cast("list[Any]", value)
    if not items:
        return None
    if chooser.index(2) == 0:
        return _replace(target, arguments, items[:-1], f"dropped the last of {len(items)} items")
    longer = [*items, copy.deepcopy(items[-1])]
    return _replace(target, arguments, longer, f"repeated the last of {len(items)} items")


def _numeric_string(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    del chooser, view
    if not _present_number(target):
        return None
    return _replace(target, arguments, str(target.value), f"{target.value!r} sent as a string")


def _bool_number(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    if not target.path or not _is_number(view, target):
        return None
    value = pick(chooser, (True, False))
    return _replace(target, arguments, value, f"set to {value!r}")


def _json_string(
    chooser: Chooser, view: SchemaView, arguments: dict[str, Any], target: Target
) -> _Corruption | None:
    del chooser, view
    value: object = target.value
    if not target.path or not isinstance(value, Mapping | list):
        return None
    text = json.dumps(value)
    return _replace(target, arguments, text, "sent as a JSON string")


_CORRUPTORS = {
    "wrong_type": _wrong_type,
    "null": _null,
    "non_finite": _non_finite,
    "negative": _negative,
    "huge": _huge,
    "deep_nesting": _deep_nesting,
    "odd_unicode": _odd_unicode,
    "extra_key": _extra_key,
    "empty": _empty,
    "missing": _missing,
    "near_valid.percent": _percent,
    "near_valid.fractional_count": _fractional_count,
    "near_valid.enum_neighbour": _enum_neighbour,
    "near_valid.int_step": _int_step,
    "near_valid.bound_step": _bound_step,
    "near_valid.sign_flip": _sign_flip,
    "near_valid.list_length": _list_length,
    "near_valid.numeric_string": _numeric_string,
    "near_valid.bool_number": _bool_number,
    "near_valid.json_string": _json_string,
}
assert tuple(_CORRUPTORS) == KINDS


def _related(spec: ToolSpec, path: Path, base: Mapping[str, Any]) -> set[str]:
    """Fields a near-valid corruption of ``path`` may be refused under (module docstring)."""
    names: set[str] = set()
    for length in range(1, len(path)):  # containers below the top level
        names |= spellings(path[:length])
    if len(path) >= 2:  # siblings in the same object or list
        parent: object = _get(base, path[:-1])
        if isinstance(parent, Mapping):
            siblings: list[str | int] = list(cast("Mapping[str, Any]", parent))
        elif isinstance(parent, list):
            siblings = list(range(len(cast("list[Any]", parent)) + 1))
        else:
            siblings = []
        for sibling in siblings:
            names |= spellings((*path[:-1], sibling))
    if path:
        for group in RELATED_ARGUMENTS.get(spec.name, ()):
            if path[0] in group or spell(path) in group:
                names |= set(group)
    return names


class Fuzzer:
    """Draws corrupted calls of one tool (its known-good calls and their fields found once)."""

    def __init__(self, spec: ToolSpec) -> None:
        self.spec = spec
        self.bases = base_arguments(spec)
        self.fields = [targets(spec.inputs, base) for base in self.bases]

    def draw(self, chooser: Chooser) -> Case:
        """One corrupted call: a known-good call, a kind, a field, a corruption."""
        which = chooser.index(len(self.bases))
        return _draw(chooser, self.spec, self.bases[which], self.fields[which])


def _draw(chooser: Chooser, spec: ToolSpec, base: dict[str, Any], fields: list[Target]) -> Case:
    first = chooser.index(len(KINDS))
    for offset in range(len(KINDS)):
        kind = KINDS[(first + offset) % len(KINDS)]
        corruptor = _CORRUPTORS[kind]
        start = chooser.index(len(fields))
        for step in range(len(fields)):
            target = fields[(start + step) % len(fields)]
            corruption = corruptor(chooser, spec.inputs, base, target)
            if corruption is not None:
                return _case(spec, kind, base, corruption)
    raise AssertionError(f"no corruption applies to any field of {spec.name}")


def _case(spec: ToolSpec, kind: str, base: Mapping[str, Any], corruption: _Corruption) -> Case:
    sent = wire_form(corruption.arguments)
    schema_valid = spec.inputs.is_valid(sent)
    must_refuse = corruption.must_refuse
    if must_refuse is None:
        must_refuse = not schema_valid and kind not in LENIENT_KINDS
    path = corruption.path
    fields = spellings(path)
    if not path:
        required: list[str] = list(spec.input_schema.get("required", []))
        fields = set(required) or {"arguments", *spec.input_schema.get("properties", {})}
    if schema_valid or kind in LENIENT_KINDS:
        fields |= _related(spec, path, base)
    exclusive = EXCLUSIVE_ARGUMENTS.get(spec.name, frozenset[str]())
    if len(path) == 1 and path[0] in exclusive:
        # "exactly one of": giving a second, or taking away the only one, may be refused under
        # the name of any of them
        given = {name for name in exclusive if sent.get(name) is not None}
        if (path[0] not in base and len(given) > 1) or not given:
            fields |= exclusive
    row = None
    if len(path) >= 2 and path[0] in ROW_ARGUMENTS and isinstance(path[1], int):
        row = path[1]
    must_reject_row = row is not None and must_refuse
    if row is not None:
        must_refuse = False
    prefixes = spellings(path) if corruption.subtree else set[str]()
    return Case(
        tool=spec.name,
        kind=kind,
        path=path,
        arguments=corruption.arguments,
        detail=corruption.detail,
        must_refuse=must_refuse,
        fields=tuple(sorted(fields)),
        prefixes=tuple(sorted(prefixes)),
        row=row,
        must_reject_row=must_reject_row,
    )


# --------------------------------------------------------------------------------------------
# Judging an answer
# --------------------------------------------------------------------------------------------

Outcome = Literal["named", "accepted", "refused", "failed"]

#: JSON-RPC codes of a whole message refused before any tool runs (by the server's transport
#: guard: transport/http.py), with the rule each states.
INVALID_REQUEST = -32600
PARSE_ERROR = -32700
_TOO_DEEP = re.compile(r"nested deeper than (\d+) levels")
#: Levels the JSON-RPC envelope adds above the arguments: {"params": {"arguments": ...}}.
ENVELOPE_DEPTH = 2
#: Python refuses to read an integer of more digits than this from JSON text.
MAX_INT_DIGITS = 4300


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an answer to a case was: an error naming the field, an accepted call, or a failure."""

    outcome: Outcome
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


def result_text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def names_field(case: Case, text: str) -> bool:
    """Whether the error text has a problem whose FIELD is one the case accepts."""
    for name in case.fields:
        if re.search(r"(?:: |; )" + re.escape(name) + " ", text):
            return True
    for prefix in case.prefixes:
        if re.search(r"(?:: |; )" + re.escape(prefix) + r"[.\[]\S* ", text):
            return True
    return False


def judge(spec: ToolSpec, case: Case, answer: CallToolResult | BaseException) -> Verdict:
    """Whether the server's answer to ``case`` is right (see the module docstring)."""
    if isinstance(answer, MCPError):
        return _judge_protocol_error(case, answer)
    if isinstance(answer, BaseException):
        return Verdict("failed", f"the call raised {type(answer).__name__}: {answer}"[:500])
    text = result_text(answer)
    if answer.is_error and case.kind == "valid":
        return Verdict("failed", f"the uncorrupted call was refused: {text[:400]}")
    if answer.is_error:
        if "failed with an internal error" in text:
            return Verdict("failed", f"internal error: {text[:300]}")
        if not text.startswith(f"{spec.name} was not run: "):
            return Verdict("failed", f"an error not in the edge's words: {text[:300]}")
        if not names_field(case, text):
            wanted = ", ".join(case.fields[:6])
            return Verdict("failed", f"the error names none of {wanted}: {text[:400]}")
        return Verdict("named")
    if case.must_refuse:
        return Verdict("failed", f"accepted arguments its input schema forbids: {text[:200]}")
    verdict = _judge_accepted(spec, answer, text)
    if verdict.ok and case.row is not None:
        return _judge_row(case, answer.structured_content or {})
    return verdict


def _judge_protocol_error(case: Case, error: MCPError) -> Verdict:
    """A JSON-RPC error is right only for a message the transport must refuse as a whole: one
    nested deeper than the limit the error states, or one holding an integer too long to read
    (over stdio and HTTP; the in-memory transport hands arguments over without a message)."""
    limit = _TOO_DEEP.search(error.message)
    depth = json_depth(wire_form(case.arguments)) + ENVELOPE_DEPTH
    if error.code == INVALID_REQUEST and limit and depth > int(limit.group(1)):
        return Verdict("refused")
    if error.code == PARSE_ERROR and _longest_int_digits(case.arguments) > MAX_INT_DIGITS:
        return Verdict("refused")
    return Verdict("failed", f"JSON-RPC error {error.code}: {error.message}"[:500])


def _longest_int_digits(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return int(abs(value).bit_length() * math.log10(2)) + 1
    if isinstance(value, Mapping):
        items: list[object] = list(cast("Mapping[str, object]", value).values())
    elif isinstance(value, list):
        items = list(cast("list[object]", value))
    else:
        return 0
    return max((_longest_int_digits(item) for item in items), default=0)


def rejected_rows(structured: Mapping[str, Any]) -> dict[int, list[str]]:
    """The rows a cohort result rejected, with their reasons (``rejected`` at the top level or
    one level down; each entry gives its input position as ``index`` or ``row``)."""
    lists: list[object] = [structured.get("rejected")]
    lists += [
        cast("Mapping[str, Any]", value).get("rejected")
        for value in structured.values()
        if isinstance(value, Mapping)
    ]
    rows: dict[int, list[str]] = {}
    for entries in lists:
        if not isinstance(entries, list):
            continue
        for entry in cast("list[Mapping[str, Any]]", entries):
            position = entry.get("index", entry.get("row"))
            if isinstance(position, int):
                reasons = [str(reason) for reason in entry.get("reasons", [])]
                rows.setdefault(position, []).extend(reasons)
    return rows


def _judge_row(case: Case, structured: Mapping[str, Any]) -> Verdict:
    assert case.row is not None
    reasons = rejected_rows(structured).get(case.row)
    if reasons is None:
        if case.must_reject_row:
            return Verdict("failed", f"row {case.row} breaks the input schema but was accepted")
        return Verdict("accepted")
    if len(case.path) <= 2:  # the whole row was corrupted: any reason names it
        return Verdict("accepted")
    if not any(names_field(case, "; " + reason) for reason in reasons):
        shown = "; ".join(reasons)[:300]
        return Verdict(
            "failed", f"row {case.row} was rejected without naming {case.field}: {shown}"
        )
    return Verdict("accepted")


def _judge_accepted(spec: ToolSpec, answer: CallToolResult, text: str) -> Verdict:
    if not text.strip():
        return Verdict("failed", "an accepted call with no text summary")
    if text.lstrip().startswith(("{", "[")):
        return Verdict("failed", f"the text is a JSON dump, not a summary: {text[:200]}")
    if spec.outputs is not None:
        if answer.structured_content is None:
            return Verdict("failed", "an accepted call without structured content")
        if not spec.outputs.is_valid_once(answer.structured_content):
            return Verdict("failed", "the structured content breaks the output schema")
    return Verdict("accepted")


def point_case(spec: ToolSpec, base: dict[str, Any], path: Path, value: object) -> Case:
    """The case that sets one field to one value (a regression case, or a pinned behaviour)."""
    corruption = _Corruption(path, _with(base, path, value), f"set to {_short(value)}")
    return _case(spec, "point", base, corruption)


def valid_case(spec: ToolSpec, arguments: dict[str, Any]) -> Case:
    """The uncorrupted call, judged like a case that must be accepted."""
    return Case(spec.name, "valid", (), arguments, "uncorrupted", False, ())
