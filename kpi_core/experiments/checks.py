"""Argument checks of the experiment maths: each bad value raises ``ExperimentError(field, rule,
value, hint)``, so the reader learns the field, the rule, what was received and what to do."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import LiteralString, TypeVar, cast

from kpi_core.errors import ExperimentError
from kpi_core.experiments.args import MAX_MAGNITUDE, MAX_NAME_CHARS, MIN_ALPHA, Sides

__all__ = [
    "ALLOCATION_TOLERANCE",
    "check_allocation",
    "check_choice",
    "check_integer",
    "check_items",
    "check_number",
    "check_open_fraction",
    "check_sides",
    "check_significance",
    "check_text",
]

ALLOCATION_TOLERANCE = 1e-9

_Option = TypeVar("_Option", bound=LiteralString)


def check_number(field: str, value: object) -> float:
    """A finite plain number no larger than :data:`MAX_MAGNITUDE` in magnitude."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExperimentError(field, "must be a number", value, "pass a plain number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExperimentError(
            field, "must be a finite number (not NaN or infinite)", value, "pass a real value"
        )
    if abs(value) > MAX_MAGNITUDE:  # also keeps float() below from overflowing on a huge int
        raise ExperimentError(
            field, f"must be at most {MAX_MAGNITUDE:g} in magnitude", value, "check the units"
        )
    return float(value)


def check_integer(field: str, value: object, minimum: int, hint: str) -> int:
    number = check_number(field, value)
    if not number.is_integer():
        raise ExperimentError(field, "must be a whole number", value, hint)
    if number < minimum:
        raise ExperimentError(field, f"must be at least {minimum}", value, hint)
    return int(number)


def check_choice(field: str, value: object, options: tuple[_Option, ...]) -> _Option:
    if not isinstance(value, str) or value not in options:
        allowed = ", ".join(repr(option) for option in options)
        raise ExperimentError(field, f"must be one of {allowed}", value, "pick one of those")
    return cast("_Option", value)


def check_sides(value: object) -> Sides:
    if value == 1 and not isinstance(value, bool):
        return 1
    if value == 2 and not isinstance(value, bool):
        return 2
    raise ExperimentError("sides", "must be 1 or 2", value, "2 unless only one direction counts")


def check_items(field: str, value: object) -> Sequence[object]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ExperimentError(field, "must be a list", value, "pass a list, e.g. ['refund_rate']")
    return cast("Sequence[object]", value)


def check_open_fraction(field: str, value: object, hint: str) -> float:
    number = check_number(field, value)
    if not 0.0 < number < 1.0:
        raise ExperimentError(field, "must be strictly between 0 and 1", value, hint)
    return number


def check_significance(value: object) -> float:
    significance = check_open_fraction("alpha", value, "e.g. 0.05")
    if significance < MIN_ALPHA:  # 1 - alpha / 2 would round to 1, where no quantile exists
        raise ExperimentError("alpha", f"must be at least {MIN_ALPHA:g}", value, "e.g. 0.05")
    return significance


def check_text(field: str, value: object, limit: int = MAX_NAME_CHARS) -> str:
    """A name: a non-empty string of at most ``limit`` printable characters, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ExperimentError(field, "must be a non-empty string", value, "name it, e.g. 'gmv'")
    if len(value) > limit:
        raise ExperimentError(
            field, f"must be at most {limit} characters", value, "use a shorter name"
        )
    if not value.isprintable():
        raise ExperimentError(
            field,
            "must not contain control characters (newlines, tabs, escapes)",
            value,
            "give the name on one line",
        )
    return value.strip()


def check_allocation(field: str, value: object, arms: int) -> list[float]:
    """Fractions per arm, each above 0, summing to 1 (equal shares when ``value`` is None)."""
    if value is None:
        return [1.0 / arms] * arms
    items = check_items(field, value)
    if len(items) != arms:
        raise ExperimentError(
            field,
            f"must have one fraction per arm ({arms}), got {len(items)}",
            value,
            f"give {arms} fractions summing to 1, control first",
        )
    shares = [check_number(f"{field}[{index}]", item) for index, item in enumerate(items)]
    for index, share in enumerate(shares):
        if share <= 0.0:
            raise ExperimentError(
                f"{field}[{index}]", "must be greater than 0", share, "every arm needs traffic"
            )
    if abs(math.fsum(shares) - 1.0) > ALLOCATION_TOLERANCE:
        raise ExperimentError(
            field,
            "must sum to 1",
            value,
            f"the fractions sum to {math.fsum(shares):.6g}; rescale them to sum to 1",
        )
    return shares
