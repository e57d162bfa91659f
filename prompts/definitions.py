"""The MCP prompts (`creator_review`, `compare_creators`) and argument completion.

A prompt is a ready-made request a user can pick in their client; its text comes from a template
here, and any creator data it carries is embedded as JSON data, never as instructions.
"""

import json
from collections.abc import Callable
from typing import Any

from mcp import MCPError
from mcp.server import MCPServer
from mcp.types import INVALID_PARAMS, Completion, PromptReference, ResourceTemplateReference

from kpi_core.errors import InvalidValueError, KpiError
from kpi_core.weights import NAMED_SCHEMES
from prompts import render

__all__ = ["OBJECTIVES", "register_prompts"]

OBJECTIVES = ("balanced", "grow_gmv", "improve_conversion", "build_audience")

#: Most demo creators a compare_creators prompt embeds; more would flood the context.
MAX_COMPARED = 12


def _metrics_for(creator: str) -> dict[str, Any]:
    """A demo creator's metrics by id, or a metrics object given as JSON text."""
    from kpi_core.demo import demo_metrics

    text = creator.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidValueError(
                "creator", "must be a demo creator id or a JSON object", text
            ) from None
        if not isinstance(value, dict):
            raise InvalidValueError("creator", "must be a demo creator id or a JSON object", text)
        return {str(key): item for key, item in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return dict(demo_metrics(text))


def _objective(objective: str) -> str:
    if objective not in OBJECTIVES:
        raise InvalidValueError("objective", f"must be one of {', '.join(OBJECTIVES)}", objective)
    return objective


def creator_review_text(creator: str, objective: str = "balanced") -> str:
    metrics = _metrics_for(creator)
    return render(
        "prompt_creator_review.txt.j2",
        metrics_json=json.dumps(metrics, sort_keys=True),
        objective=_objective(objective),
    )


def compare_creators_text(creators: str, objective: str = "balanced") -> str:
    from kpi_core.demo import demo_creator_ids

    ids = [item.strip() for item in creators.split(",") if item.strip()]
    if ids == ["all"]:
        ids = demo_creator_ids()[:MAX_COMPARED]
    if not 2 <= len(ids) <= MAX_COMPARED:
        raise InvalidValueError(
            "creators",
            f"must list 2 to {MAX_COMPARED} demo creator ids, separated by commas (or 'all')",
            creators,
        )
    cohort = [_metrics_for(creator_id) for creator_id in ids]
    return render(
        "prompt_compare_creators.txt.j2",
        cohort_json=json.dumps(cohort, sort_keys=True),
        count=len(cohort),
        objective=_objective(objective),
    )


def _as_invalid_params(build: Callable[[], str]) -> str:
    """Prompt text, or an invalid-params protocol error naming field, rule and value."""
    try:
        return build()
    except KpiError as error:
        raise MCPError(code=INVALID_PARAMS, message=str(error)) from None


def _complete_ids(prefix: str) -> Completion:
    from kpi_core.demo import demo_creator_ids

    last = prefix.rsplit(",", 1)[-1].strip()
    head = prefix[: len(prefix) - len(prefix.rsplit(",", 1)[-1])]
    matches = [head + item for item in demo_creator_ids() if item.startswith(last)]
    return Completion(values=matches[:100], total=len(matches), has_more=len(matches) > 100)


def register_prompts(server: MCPServer) -> None:
    @server.prompt(
        name="creator_review",
        title="Review a creator",
        description=(
            "Score a creator, find the bottlenecks, recommend changes and plan the first A/B "
            "test. `creator` is a demo creator id (see kpi://demo/creators) or a JSON object of "
            "metrics; `objective` is balanced, grow_gmv, improve_conversion or build_audience."
        ),
    )
    def creator_review(creator: str, objective: str = "balanced") -> str:
        return _as_invalid_params(lambda: creator_review_text(creator, objective))

    @server.prompt(
        name="compare_creators",
        title="Compare creators",
        description=(
            "Score several demo creators, rank them and say what each should fix first. "
            "`creators` is a comma-separated list of demo creator ids, or 'all'."
        ),
    )
    def compare_creators(creators: str, objective: str = "balanced") -> str:
        return _as_invalid_params(lambda: compare_creators_text(creators, objective))

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        del context
        name: str = argument.name
        value: str = argument.value
        if isinstance(ref, PromptReference) and name in ("creator", "creators"):
            return _complete_ids(value)
        if isinstance(ref, PromptReference) and name == "objective":
            return Completion(values=[item for item in OBJECTIVES if item.startswith(value)])
        if isinstance(ref, ResourceTemplateReference) and name == "scheme":
            return Completion(values=[item for item in NAMED_SCHEMES if item.startswith(value)])
        return None
