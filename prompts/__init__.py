"""Jinja2 templates for every sentence the product says, and the renderer that fills them.

Python code assembles facts; templates say them. Creator-supplied strings only ever arrive as
template *variables* (never as template source), so a caption such as ``{{ 7*7 }}`` stays inert
text. Text templates (``*.txt.j2``) are not HTML-escaped; HTML templates (``*.html.j2``) are.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["TEMPLATE_DIR", "environment", "render"]

TEMPLATE_DIR = Path(__file__).parent / "templates"


def _percent(value: float, digits: int = 1) -> str:
    """0.0412 -> '4.1%'."""
    return f"{value * 100:.{digits}f}%"


def _number(value: float, digits: int = 1) -> str:
    """Readable magnitude: 1234567 -> '1.2M', 12345 -> '12.3K', 12.345 -> '12.3'."""
    magnitude = abs(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= threshold:
            return f"{value / threshold:.{digits}f}{suffix}"
    return f"{value:.{digits}f}"


def _inert(value: object, limit: int = 60) -> str:
    """Untrusted text as one short inert line: control characters and newlines become spaces,
    runs of whitespace collapse, and the result is capped at ``limit`` characters."""
    text = "".join(" " if not char.isprintable() else char for char in str(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@cache
def environment() -> jinja2.Environment:
    """The one template environment (built on first use, not at import)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["percent"] = _percent
    env.filters["number"] = _number
    env.filters["inert"] = _inert
    return env


def render(template: str, **facts: Any) -> str:
    """Render ``templates/<template>`` with ``facts``; an undefined variable is an error."""
    return environment().get_template(template).render(**facts).strip()
