"""Weighting schemes: ``tiered`` (the product's default), ``equal`` and custom weight objects."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import KPI_IDS, load_catalogue
from kpi_core.errors import InvalidValueError, Problem, WeightingError, field_name

__all__ = [
    "NAMED_SCHEMES",
    "Weighting",
    "WeightingArg",
    "check_weighting_arg",
    "resolve_weighting",
]

#: What a caller may pass as ``weighting``: a scheme name or a mapping of KPI id to weight.
WeightingArg = str | Mapping[str, float]

NAMED_SCHEMES: tuple[str, ...] = ("tiered", "equal")

#: Custom weights must sum to 1 within this tolerance.
SUM_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Weighting:
    """A resolved scheme: its name and one weight per KPI id, in ``KPI_IDS`` order."""

    name: str
    vector: npt.NDArray[np.float64] = field(repr=False)

    def as_dict(self) -> dict[str, float]:
        return {kpi: float(w) for kpi, w in zip(KPI_IDS, self.vector, strict=True)}


def _named(name: str) -> Weighting:
    if name == "equal":
        return Weighting("equal", np.full(len(KPI_IDS), 1.0 / len(KPI_IDS)))
    kpis = load_catalogue().kpis
    return Weighting("tiered", np.array([kpis[kpi].tiered_weight for kpi in KPI_IDS]))


def resolve_weighting(weighting: WeightingArg | Weighting = "tiered") -> Weighting:
    """Turn a scheme name or a weight object into a :class:`Weighting`.

    A custom object must give all 13 KPI ids, each a finite non-negative number, summing to 1
    within 1e-9; otherwise :class:`WeightingError` names the problem.
    """
    if isinstance(weighting, Weighting):
        return weighting
    if isinstance(weighting, str):
        if weighting not in NAMED_SCHEMES:
            raise WeightingError(
                "weighting",
                f"must be one of {', '.join(NAMED_SCHEMES)} or an object of KPI weights",
                weighting,
            )
        return _named(weighting)
    return _custom(weighting)


def _custom(weights: Mapping[str, object]) -> Weighting:
    problems: list[Problem] = []
    unknown = sorted(set(weights) - set(KPI_IDS))
    for kpi in unknown:
        problems.append(
            Problem(
                f"weighting.{field_name(kpi)}",
                "is not a KPI id",
                repr(kpi)[:60],
                f"the ids are {', '.join(KPI_IDS)}",
            )
        )
    missing = [kpi for kpi in KPI_IDS if kpi not in weights]
    if missing:
        problems.append(
            Problem(
                "weighting",
                "must give a weight for all 13 KPI ids",
                f"missing {', '.join(missing)}"[:200],
                "give 0 to switch a KPI off",
            )
        )
    values: list[float] = []
    for kpi in KPI_IDS:
        if kpi not in weights:
            continue
        raw = weights[kpi]
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            problems.append(Problem(f"weighting.{kpi}", "must be a number", repr(raw)[:60]))
            continue
        try:
            value = float(raw)
        except OverflowError:  # a JSON integer beyond the float range
            value = math.inf
        if not math.isfinite(value) or value < 0:
            problems.append(
                Problem(f"weighting.{kpi}", "must be a finite number >= 0", str(value)[:60])
            )
            continue
        values.append(value)
    if not problems:
        total = math.fsum(values)
        if abs(total - 1.0) > SUM_TOLERANCE:
            problems.append(
                Problem(
                    "weighting",
                    "weights must sum to 1 (within 1e-9)",
                    f"sum {total!r}",
                    "divide each weight by their sum",
                )
            )
    if problems:
        raise WeightingError.from_problems(problems)
    return Weighting("custom", np.array(values, dtype=np.float64))


def check_weighting_arg(weighting: object) -> WeightingArg:
    """Type-check an untyped ``weighting`` argument (as decoded from JSON)."""
    if isinstance(weighting, str):
        return weighting
    if isinstance(weighting, Mapping):
        return {str(key): value for key, value in weighting.items()}  # pyright: ignore[reportUnknownVariableType]
    raise InvalidValueError(
        "weighting", "must be 'tiered', 'equal' or an object of KPI weights", weighting
    )
