"""Jinja2 templates for every sentence the product says, and the renderer that fills them.

Python code assembles facts; templates say them. Creator-supplied strings only ever arrive as
template *variables* (never as template source), so a caption such as ``{{ 7*7 }}`` stays inert
text, and every one is shown through :func:`inert` (the ``inert`` filter) or :func:`quoted`
(the ``quoted`` filter, for text marked as data inside a sentence). Text templates
(``*.txt.j2``) are not HTML-escaped; HTML templates (``*.html.j2``) are.
"""

from __future__ import annotations

import contextlib
import json
import math
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["TEMPLATE_DIR", "environment", "inert", "quoted", "render", "use_bytecode_cache"]

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


def _pvalue(value: float) -> str:
    """A p-value for reading, never in exponent notation: 0.0309 -> '0.031', 2.97e-05 ->
    '0.00003', below one in a million '< 0.000001'."""
    if value >= 0.001:
        return f"{value:.2g}" if value < 0.01 else f"{value:.3g}".rstrip("0").rstrip(".")
    if value < 1e-6:
        return "< 0.000001"
    digits = -math.floor(math.log10(value))
    return f"{value:.{digits}f}"


#: Integers longer than this many bits are shown by their size (str() refuses over 4300 digits).
_LONG_INT_BITS = 256
#: Unicode categories removed from untrusted text: controls (NUL, ESC ...), format characters
#: (bidi overrides and isolates, zero-width spaces and joiners, the BOM), surrogates, private use
#: and unassigned code points. Whitespace of any kind (newlines included) becomes one space.
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def inert(value: object, limit: int = 60) -> str:
    """Untrusted text (a creator id, a category, an arm name, a file's cell) as one short inert
    line: control, bidi, zero-width, BOM and other invisible characters removed, every run of
    whitespace (newlines included) one space, capped at ``limit`` characters with "...".

    The one sanitiser of the product: the templates' ``inert`` and ``quoted`` filters and every
    summary and view that echoes caller-supplied text use it.
    """
    if isinstance(value, int) and value.bit_length() > _LONG_INT_BITS:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = value if isinstance(value, str) else str(value)
    kept: list[str] = []
    for char in text:
        if char.isspace():
            kept.append(" ")
        elif char.isprintable() or unicodedata.category(char) not in _REMOVED_CATEGORIES:
            kept.append(char)
    flat = " ".join("".join(kept).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def quoted(value: object, limit: int = 40) -> str:
    """Untrusted text marked as data in a sentence: :func:`inert`, then in double quotes with
    any quote or backslash inside escaped (a JSON string), so it cannot close its quotes."""
    return json.dumps(inert(value, limit), ensure_ascii=False)


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
    env.filters["pvalue"] = _pvalue
    env.filters["inert"] = inert
    env.filters["quoted"] = quoted
    return env


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's cache of compiled templates (keyed by each template's name and source, written
    atomically), except that a write it cannot make is skipped instead of failing the render."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        # The template is compiled and used anyway; the next process compiles it again.
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def use_bytecode_cache(directory: Path) -> bool:
    """Keep the compiled templates in ``directory`` (created if need be), so that a new process
    loads them instead of compiling each one again (several ms a template); whether it is used
    (not when the directory cannot be made). A server calls it before serving."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    environment().bytecode_cache = _BytecodeCache(str(directory))
    return True


def render(template: str, **facts: Any) -> str:
    """Render ``templates/<template>`` with ``facts``; an undefined variable is an error."""
    return environment().get_template(template).render(**facts).strip()
