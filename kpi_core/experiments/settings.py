"""The figures of ``data/experiments.toml``: guardrail margins, plausible lifts, standard-error
floors. Read once, on first use (nothing at import), and checked here."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, cast

from kpi_core.errors import ConfigurationError
from kpi_core.experiments.args import LIFT_TYPES, LiftType

__all__ = ["ExperimentSettings", "load_settings", "parse_settings"]


@dataclass(frozen=True, slots=True)
class ExperimentSettings:
    """The checked settings (see the data file for each figure's source)."""

    #: metric name -> non-inferiority margin (a fraction of the control's value); "default" too.
    guardrail_margins: Mapping[str, float]
    #: lift type -> (low, high) plausible lift of one recorded outcome.
    plausible_lifts: Mapping[LiftType, tuple[float, float]]
    min_unit_cv: float
    min_points_sd: float

    def margin(self, metric: str) -> float:
        """The default non-inferiority margin of a guardrail metric."""
        return self.guardrail_margins.get(metric, self.guardrail_margins["default"])


def _fail(where: str, rule: str, value: object) -> ConfigurationError:
    return ConfigurationError(f"experiments.toml {where}", rule, value)


def _table(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise _fail(key, "must be a table", value)
    return cast("dict[str, Any]", value)


def _fraction(where: str, value: object, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(where, "must be a finite number", value)
    if not low < value < high:
        raise _fail(where, f"must be in ({low:g}, {high:g})", value)
    return float(value)


def parse_settings(text: str) -> ExperimentSettings:
    """Parse and check the text of an experiments settings file."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _fail("", "must be valid TOML", str(error)) from None
    margins = {
        str(name): _fraction(f"guardrail_margins.{name}", value, low=0.0, high=1.0)
        for name, value in _table(raw, "guardrail_margins").items()
    }
    if "default" not in margins:
        raise _fail("guardrail_margins", "must give a default", sorted(margins))
    ranges = _table(raw, "plausible_lifts")
    plausible: dict[LiftType, tuple[float, float]] = {}
    for lift_type in LIFT_TYPES:
        entry = _table(ranges, lift_type)
        low = _fraction(f"plausible_lifts.{lift_type}.low", entry.get("low"), low=-1.0, high=0.0)
        high = _fraction(f"plausible_lifts.{lift_type}.high", entry.get("high"), low=0.0, high=1e6)
        plausible[lift_type] = (low, high)
    floors = _table(raw, "standard_error_floor")
    return ExperimentSettings(
        guardrail_margins=margins,
        plausible_lifts=plausible,
        min_unit_cv=_fraction(
            "standard_error_floor.min_unit_cv", floors.get("min_unit_cv"), low=0.0, high=1.0
        ),
        min_points_sd=_fraction(
            "standard_error_floor.min_points_sd", floors.get("min_points_sd"), low=0.0, high=1.0
        ),
    )


@cache
def load_settings() -> ExperimentSettings:
    """Read and check ``data/experiments.toml`` (once per process)."""
    text = resources.files("kpi_core").joinpath("data/experiments.toml").read_text("utf-8")
    return parse_settings(text)
