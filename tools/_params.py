"""Shared argument coercion for tools whose arguments skip the SDK's validation.

Some clients send an object argument as a JSON string; these helpers accept both and otherwise
leave every rule to the core, which names field, rule and value in its errors.
"""

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from kpi_core.errors import InvalidValueError
from kpi_core.weights import WeightingArg, check_weighting_arg


def as_object(value: object, field: str) -> Mapping[str, object]:
    """An object argument as a mapping (a JSON string of an object is decoded)."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_none=True)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InvalidValueError(field, "must be an object", value) from None
    if not isinstance(value, Mapping):
        raise InvalidValueError(field, "must be an object", value)
    mapping: Mapping[str, Any] = value
    return mapping


def as_weighting(value: object) -> WeightingArg:
    """The `weighting` argument: a scheme name or an object of KPI weights."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        return check_weighting_arg(as_object(value, "weighting"))
    return check_weighting_arg(value)
