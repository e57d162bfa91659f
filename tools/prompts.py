"""The MCP prompts (`creator_review`, `compare_creators`) and argument completion.

Only the server imports this module (it needs `mcp`); the prompt texts and the completions come
from :mod:`kpi_core.prompt_texts`, so `import prompts` and all of `kpi_core` load no MCP.
"""

from collections.abc import Callable
from typing import Any

from mcp import MCPError
from mcp.server import MCPServer
from mcp.types import INVALID_PARAMS, Completion, PromptReference, ResourceTemplateReference

from kpi_core.errors import KpiError
from kpi_core.prompt_texts import (
    MAX_COMPARED,
    compare_creators_text,
    complete_creator_ids,
    complete_objective,
    creator_review_text,
)
from kpi_core.weights import NAMED_SCHEMES

__all__ = ["register_prompts"]


def _as_invalid_params(build: Callable[[], str]) -> str:
    """Prompt text, or an invalid-params protocol error naming field, rule and value."""
    try:
        return build()
    except KpiError as error:
        raise MCPError(code=INVALID_PARAMS, message=str(error)) from None


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
            f"`creators` is a comma-separated list of 2 to {MAX_COMPARED} demo creator ids, or "
            f"'all' for the first {MAX_COMPARED} (a prompt embeds at most {MAX_COMPARED})."
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
            values, total, more = complete_creator_ids(value)
            return Completion(values=values, total=total, has_more=more)
        if isinstance(ref, PromptReference) and name == "objective":
            return Completion(values=complete_objective(value))
        if isinstance(ref, ResourceTemplateReference) and name == "scheme":
            return Completion(values=[item for item in NAMED_SCHEMES if item.startswith(value)])
        return None
