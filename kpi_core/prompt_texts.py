"""The texts of the MCP prompts ``creator_review`` and ``compare_creators``, and the completions
of their arguments: ready-made requests a user picks in their client.

Pure: the server's ``tools/prompts.py`` registers them with MCP. Any creator data a prompt carries
is embedded as JSON data inside a fenced block, never as instructions, and each text is rendered
from a ``prompts/templates/prompt_*.txt.j2`` template.
"""

from __future__ import annotations

import json
from typing import Any

from kpi_core.errors import InvalidValueError
from prompts import render

# kpi_core.demo and kpi_core.interventions load when a prompt is first asked for, not when the
# server registers the prompts (the server's first answer needs neither).

__all__ = [
    "MAX_COMPARED",
    "MAX_COMPLETION_CHARS",
    "MAX_COMPLETION_VALUES",
    "compare_creators_text",
    "complete_creator_ids",
    "complete_objective",
    "creator_review_text",
]

#: Most demo creators a compare_creators prompt embeds; more would flood the context.
MAX_COMPARED = 12
#: Most suggestions in one completion (the MCP limit), and most characters in all of them: a
#: long typed prefix is not copied into every suggestion.
MAX_COMPLETION_VALUES = 100
MAX_COMPLETION_CHARS = 4096


def _metrics_for(creator: str) -> dict[str, Any]:
    """A demo creator's metrics by id, or a metrics object given as JSON text."""
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
    from kpi_core.demo import demo_metrics

    return dict(demo_metrics(text))


def _objective(objective: str) -> str:
    from kpi_core.interventions import OBJECTIVES

    if objective not in OBJECTIVES:
        raise InvalidValueError("objective", f"must be one of {', '.join(OBJECTIVES)}", objective)
    return objective


def creator_review_text(creator: str, objective: str = "balanced") -> str:
    """The creator_review prompt: score, diagnose, recommend and plan a test for one creator."""
    metrics = _metrics_for(creator)
    return render(
        "prompt_creator_review.txt.j2",
        metrics_json=json.dumps(metrics, sort_keys=True),
        objective=_objective(objective),
    )


def compare_creators_text(creators: str, objective: str = "balanced") -> str:
    """The compare_creators prompt for 2 to 12 demo creator ids (comma-separated), or ``all``:
    the first 12 demo creators, and the text says so."""
    from kpi_core.demo import demo_creator_ids

    every = demo_creator_ids()
    ids = [item.strip() for item in creators.split(",") if item.strip()]
    if ids == ["all"]:
        ids = every[:MAX_COMPARED]
    elif not 2 <= len(ids) <= MAX_COMPARED:
        raise InvalidValueError(
            "creators",
            f"must list 2 to {MAX_COMPARED} demo creator ids, separated by commas (or 'all' for "
            f"the first {MAX_COMPARED})",
            f"{len(ids)} ids",
            f"a prompt embeds at most {MAX_COMPARED} creators; score_cohort ranks more",
        )
    cohort = [_metrics_for(creator_id) for creator_id in ids]
    return render(
        "prompt_compare_creators.txt.j2",
        cohort_json=json.dumps(cohort, sort_keys=True),
        count=len(cohort),
        capped=len(every) if creators.strip() == "all" and len(every) > MAX_COMPARED else None,
        objective=_objective(objective),
    )


def _capped(values: list[str]) -> tuple[list[str], int, bool]:
    """At most MAX_COMPLETION_VALUES values of at most MAX_COMPLETION_CHARS characters in all."""
    kept: list[str] = []
    size = 0
    for value in values[:MAX_COMPLETION_VALUES]:
        size += len(value)
        if size > MAX_COMPLETION_CHARS:
            break
        kept.append(value)
    return kept, len(values), len(kept) < len(values)


def complete_creator_ids(typed: str) -> tuple[list[str], int, bool]:
    """Completions of a (comma-separated) list of demo creator ids: the values, how many match
    in all, and whether there are more than the values given. The last id is completed; a typed
    value longer than a full list of MAX_COMPARED ids gets no suggestion."""
    from kpi_core.demo import demo_creator_ids

    every = demo_creator_ids()
    longest = (max(len(item) for item in every) + 2) * MAX_COMPARED
    if len(typed) > longest or typed.count(",") >= MAX_COMPARED:
        return [], 0, False
    last = typed.rsplit(",", 1)[-1].strip()
    head = typed[: len(typed) - len(typed.rsplit(",", 1)[-1])]
    return _capped([head + item for item in every if item.startswith(last)])


def complete_objective(typed: str) -> list[str]:
    """The objectives that start with what was typed."""
    from kpi_core.interventions import OBJECTIVES

    return [item for item in OBJECTIVES if item.startswith(typed)]
