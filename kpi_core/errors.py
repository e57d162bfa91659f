"""The one exception hierarchy of the scoring core.

Every error a caller can cause carries the same three facts, because the reader of the message
(often a language model) cannot see the code: which ``field`` was wrong, which ``rule`` it broke,
and the ``value`` received (truncated, so an error never echoes a large or hostile payload).
``tools/`` maps these to MCP error results at one edge; nothing else catches them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

__all__ = [
    "ConfigurationError",
    "ConflictingValuesError",
    "CurrencyError",
    "ExperimentError",
    "InvalidValueError",
    "KpiError",
    "Problem",
    "StoreError",
    "UnknownFieldError",
    "WeightingError",
    "field_name",
    "truncate",
]

#: Longest echo of a received value inside an error message.
MAX_ECHO = 60
#: Integers longer than this many bits are echoed by their size, not their digits.
_LONG_INT_BITS = 256


def truncate(value: object, limit: int = MAX_ECHO) -> str:
    """Render ``value`` for an error message: ``repr`` for strings, capped at ``limit`` chars."""
    if isinstance(value, int) and value.bit_length() > _LONG_INT_BITS:
        # JSON integers have no size limit, and str() refuses one of over 4300 digits.
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"{'-' if value < 0 else ''}an integer of about {digits} digits"
    try:
        text = repr(value) if isinstance(value, str) else str(value)
    except ValueError:  # a list or object holding such an integer
        text = f"a {type(value).__name__} holding an integer of over 4300 digits"
    text = text.replace("\n", " ").replace("\r", " ")
    if len(text) > limit:
        return text[: limit - 3] + "..."
    return text


def field_name(key: object, limit: int = MAX_ECHO) -> str:
    """A field name a caller sent (such as an unknown key), as an error names it.

    Plain printable text without spaces is shown as it is; anything else (an empty or blank
    key, control, bidi or zero-width characters) is quoted with escapes, so the name stays
    visible and inert. Capped at ``limit`` characters like every echoed value.
    """
    text = str(key)
    if text.isprintable() and text and not any(char.isspace() for char in text):
        return text if len(text) <= limit else text[: limit - 3] + "..."
    return truncate(text, limit)


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: the field, the rule, the (truncated) value and an optional hint."""

    field: str
    rule: str
    value: str
    hint: str = ""

    def message(self) -> str:
        text = f"{self.field} {self.rule}"
        if self.value:
            text += f"; got {self.value}"
        return f"{text} - {self.hint}" if self.hint else text


class KpiError(Exception):
    """Base of every error the core raises on purpose.

    ``field`` names the argument or metric at fault (dotted for nested fields, such as
    ``weighting.engagement``), ``rule`` says what it must be, ``value`` is the truncated value
    received, and ``hint`` says what to do instead.
    """

    def __init__(self, field: str, rule: str, value: object = None, hint: str = "") -> None:
        self.problems: tuple[Problem, ...] = (Problem(field, rule, truncate(value), hint),)
        super().__init__(self.problems[0].message())

    @classmethod
    def from_problems(cls, problems: Sequence[Problem]) -> Self:
        """One error carrying several problems (all found in one input); the first leads."""
        if not problems:
            raise ValueError("an error needs at least one problem")
        error = cls.__new__(cls)
        error.problems = tuple(problems)
        summary = "; ".join(problem.message() for problem in error.problems[:5])
        if len(error.problems) > 5:
            summary += f"; and {len(error.problems) - 5} more"
        Exception.__init__(error, summary)
        return error

    @property
    def field(self) -> str:
        return self.problems[0].field

    @property
    def rule(self) -> str:
        return self.problems[0].rule

    @property
    def value(self) -> str:
        return self.problems[0].value

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field at fault, in the order found."""
        return tuple(problem.field for problem in self.problems)


class InvalidValueError(KpiError):
    """A value outside its valid range, of the wrong kind, NaN or infinite."""


class UnknownFieldError(KpiError):
    """A field name that is not in the metric catalogue (the hint names the nearest known one)."""


class ConflictingValuesError(KpiError):
    """Two fields that must agree do not, such as ``gmv`` and its alias ``total_revenue``."""


class CurrencyError(KpiError):
    """A currency other than the configured ones."""


class WeightingError(KpiError):
    """A weighting scheme that is unknown, incomplete, negative or does not sum to 1."""


class ExperimentError(KpiError):
    """An experiment design or analysis argument that breaks a statistical precondition."""


class StoreError(KpiError):
    """The experiment store cannot be used: its file is unreadable or cannot be opened, another
    connection held its lock past the busy timeout, or its schema is newer than this code.

    The message names the file and what to do; the tools that do not use the store keep working.
    """


class ConfigurationError(KpiError):
    """A data file of the core (catalogue, interventions) that is inconsistent."""
