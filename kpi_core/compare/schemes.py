"""The ``schemes`` argument resolved to weight vectors, and overall scores under each.

KPI scores do not depend on the weighting, so they are computed once through the kernel and
combined per scheme exactly as the kernel does: ``100 * sum_k w_k S_k / sum_k w_k`` over the KPIs
scored for that creator (a creator with no data on any KPI a scheme weights has no score under
it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast, get_args

import numpy as np

from kpi_core.catalogue import KPI_IDS
from kpi_core.compare.models import SchemeKind
from kpi_core.compare.ranks import FloatArray
from kpi_core.errors import Problem, WeightingError
from kpi_core.weights import Weighting, resolve_weighting

__all__ = [
    "MAX_SCHEMES",
    "NAMED",
    "NAMED_FIXED",
    "RESERVED_NAME",
    "KpiMatrix",
    "Scheme",
    "SchemeArg",
    "SchemeName",
    "as_dict",
    "resolve_schemes",
]

#: The schemes known by name; ``fitted`` is fitted to a cohort's outcome.
SchemeName = Literal["tiered", "equal", "fitted"]
NAMED: tuple[str, ...] = get_args(SchemeName)
#: The named schemes whose weights are fixed in advance.
NAMED_FIXED = ("tiered", "equal")
#: A scheme: a name, a mapping of all 13 KPI ids to weights summing to 1, or a resolved
#: :class:`~kpi_core.weights.Weighting` (its name is kept).
SchemeArg = str | Mapping[str, float] | Weighting
MAX_SCHEMES = 8
#: The name of the naive baseline ranking reported beside the schemes (no scheme may take it).
RESERVED_NAME = "baseline"


@dataclass(frozen=True, slots=True)
class Scheme:
    name: str
    kind: SchemeKind
    #: None for ``fitted`` (known only after fitting).
    vector: FloatArray | None


def _schemes_field(index: int, problem: Problem) -> Problem:
    field = problem.field.replace("weighting", f"schemes[{index}]", 1)
    return Problem(field, problem.rule, problem.value, problem.hint)


def _scheme_list(schemes: object) -> list[object]:
    received: object = schemes  # echoed as given, before isinstance narrows it
    if isinstance(schemes, str | Mapping | Weighting) or not isinstance(schemes, Sequence):
        raise WeightingError(
            "schemes",
            "must be a list of schemes (names or objects of KPI weights)",
            received,
            "pass a list such as ['tiered', 'equal']",
        )
    items = list(cast("Sequence[object]", schemes))
    if not 1 <= len(items) <= MAX_SCHEMES:
        raise WeightingError(
            "schemes",
            f"must list 1 to {MAX_SCHEMES} schemes",
            len(items),
            "the first is the reference",
        )
    return items


def _weighting(index: int, item: object) -> Weighting:
    if isinstance(item, str) and item not in NAMED:
        raise WeightingError(
            f"schemes[{index}]",
            f"must be one of {', '.join(NAMED)} or an object of KPI weights",
            item,
        )
    if not isinstance(item, str | Mapping | Weighting):
        raise WeightingError(
            f"schemes[{index}]", "must be a scheme name or an object of KPI weights", item
        )
    try:
        return resolve_weighting(cast("str | Mapping[str, float] | Weighting", item))
    except WeightingError as error:
        problems = [_schemes_field(index, problem) for problem in error.problems]
        raise WeightingError.from_problems(problems) from None


def resolve_schemes(schemes: object, *, fitted_hint: str | None) -> list[Scheme]:
    """Resolve the ``schemes`` argument; ``fitted_hint`` is the reason ``fitted`` is refused."""
    items = _scheme_list(schemes)
    customs = sum(1 for item in items if isinstance(item, Mapping))
    resolved: list[Scheme] = []
    custom_number = 0
    for index, item in enumerate(items):
        if isinstance(item, str) and item == "fitted":
            if fitted_hint is not None:
                raise WeightingError(f"schemes[{index}]", fitted_hint, item)
            resolved.append(Scheme("fitted", "fitted", None))
            continue
        weighting = _weighting(index, item)
        if isinstance(item, Mapping):
            custom_number += 1
            name = "custom" if customs == 1 else f"custom_{custom_number}"
            resolved.append(Scheme(name, "custom", weighting.vector))
        else:
            kind: SchemeKind = "named" if weighting.name in NAMED_FIXED else "custom"
            resolved.append(Scheme(weighting.name, kind, weighting.vector))
    names = [scheme.name for scheme in resolved]
    for index, name in enumerate(names):
        if name == RESERVED_NAME:
            raise WeightingError(
                f"schemes[{index}]",
                f"must not be named {RESERVED_NAME}",
                name,
                "the name is kept for the ranking by the outcome's current value",
            )
        if name in names[:index]:
            raise WeightingError(f"schemes[{index}]", "must name each scheme at most once", name)
    return resolved


def as_dict(vector: FloatArray) -> dict[str, float]:
    """A weight vector as an object of KPI ids to weights."""
    return {kpi: float(weight) for kpi, weight in zip(KPI_IDS, vector, strict=True)}


@dataclass(frozen=True, slots=True)
class KpiMatrix:
    """KPI scores (creators x 13) split for fast weighted means: zeros where not scored."""

    filled: FloatArray
    present: FloatArray

    @classmethod
    def of(cls, kpi_scores: FloatArray) -> KpiMatrix:
        present = ~np.isnan(kpi_scores)
        return cls(filled=np.where(present, kpi_scores, 0.0), present=present.astype(np.float64))

    def coverage(self, weights: FloatArray) -> FloatArray:
        return self.present @ weights

    def overall(self, weights: FloatArray) -> FloatArray:
        """``100 * sum_k w_k S_k / sum_k w_k`` over each creator's scored KPIs (NaN if none)."""
        coverage = self.coverage(weights)
        out = np.full(len(coverage), np.nan)
        np.divide(self.filled @ weights, coverage, out=out, where=coverage > 0)
        out *= 100.0
        return out
