"""Every raw metric moves the overall score the way the catalogue declares (its ``moves``).

10,000 derandomised cases: a random creator (each metric present with probability 0.6, values
spread over each metric's valid range, so thin, odd and extreme records are all in), one metric
declared "higher" or "lower", set to a value and then raised, every other raw input fixed; both
versions are scored in one vectorised pass each (score_frame). A "higher" metric must never
lower the score, a "lower" one never raise it. A "mixed" metric must earn its label: it moves
the score both ways somewhere in its own sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from kpi_core import load_catalogue, score_frame
from kpi_core.catalogue import Metric

FloatArray = npt.NDArray[np.float64]

CASES = 10_000
#: A score move below this is float noise (points on the 0-100 scale).
NOISE = 1e-9


def _values(metric: Metric, rng: np.random.Generator, size: int) -> FloatArray:
    """Valid values spread over the metric's range: counts and money log-spread, fractions
    uniform, growth rates from -100% to +300%, the rest over a generous typical range."""
    match metric.kind:  # counts and money stay below a quarter of their cap, to have room
        case "count":
            return np.floor(np.minimum(10.0 ** rng.uniform(0, 8, size), metric.high / 4))
        case "money":
            return np.minimum(10.0 ** rng.uniform(-1, 8, size), metric.high / 4)
        case "fraction":
            return rng.uniform(0.0, 1.0, size)
        case "growth":
            return rng.uniform(-1.0, 3.0, size)
        case _:
            return rng.uniform(metric.low, min(metric.high, 200.0), size)


def _raised(metric: Metric, values: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Each value moved up within the metric's range (counts by at least 1)."""
    room = np.minimum(metric.high, np.maximum(values * 3.0, values + 1.0)) - values
    step = room * rng.uniform(0.05, 1.0, len(values))
    raised = values + step
    if metric.kind == "count":
        raised = np.maximum(np.floor(raised), values + 1.0)
    return np.minimum(raised, metric.high)


def _creators(rng: np.random.Generator, size: int) -> pd.DataFrame:
    catalogue = load_catalogue()
    data: dict[str, Any] = {}
    for metric in catalogue.metrics.values():
        if metric.is_numeric:
            values = _values(metric, rng, size)
            values[rng.uniform(size=size) >= 0.6] = np.nan
            data[metric.name] = values
    return pd.DataFrame(data)


def _moves(seed: int, names: list[str], cases: int) -> tuple[list[str], FloatArray]:
    """For ``cases`` random creators: the metric moved in each, and the score change."""
    catalogue = load_catalogue()
    rng = np.random.default_rng(seed)
    base = _creators(rng, cases)
    raised = base.copy()
    chosen = rng.choice(len(names), size=cases)
    for k, name in enumerate(names):
        rows = np.flatnonzero(chosen == k)
        metric = catalogue.metrics[name]
        start = _values(metric, rng, len(rows))
        base.loc[rows, name] = start
        raised.loc[rows, name] = _raised(metric, start, rng)
    before = score_frame(base, intervals=False)["overall_score"].to_numpy()
    after = score_frame(raised, intervals=False)["overall_score"].to_numpy()
    return [names[k] for k in chosen], after - before


def test_the_catalogue_declares_how_every_raw_metric_moves_the_score() -> None:
    catalogue = load_catalogue()
    numeric = [m for m in catalogue.metrics.values() if m.is_numeric]
    assert all(m.moves in ("higher", "lower", "mixed") for m in numeric)
    assert all(m.moves_reason for m in numeric if m.moves == "mixed")
    assert catalogue.metrics["views"].moves == "mixed"
    assert "engagement_rate" in catalogue.metrics["views"].moves_reason
    assert catalogue.metrics["gmv"].moves == "higher"


@pytest.fixture(scope="module")
def declared_moves() -> tuple[list[str], FloatArray, dict[str, str]]:
    catalogue = load_catalogue()
    declared = {
        m.name: str(m.moves)
        for m in catalogue.metrics.values()
        if m.is_numeric and m.moves in ("higher", "lower")
    }
    names, change = _moves(20261205, sorted(declared), CASES)
    return names, change, declared


def test_no_declared_direction_has_a_counterexample_in_10000_random_cases(
    declared_moves: tuple[list[str], FloatArray, dict[str, str]],
) -> None:
    names, change, declared = declared_moves
    assert len(names) == CASES
    scored = ~np.isnan(change)
    assert scored.mean() > 0.95
    counterexamples = [
        (name, float(delta))
        for name, delta, ok in zip(names, change, scored, strict=True)
        if ok
        and (
            (declared[name] == "higher" and delta < -NOISE)
            or (declared[name] == "lower" and delta > NOISE)
        )
    ]
    assert counterexamples == []
    # the check has teeth: most moves are real moves, in the declared direction
    moved = np.abs(change[scored]) > NOISE
    assert moved.mean() > 0.8


def test_gmv_and_the_other_money_and_count_drivers_raise_the_score_strictly(
    declared_moves: tuple[list[str], FloatArray, dict[str, str]],
) -> None:
    names, change, _ = declared_moves
    for name in ("gmv", "units_sold", "shoppable_video_count", "avg_views_per_video", "gpm"):
        mine = np.array([delta for n, delta in zip(names, change, strict=True) if n == name])
        assert len(mine) > 100
        assert (mine > 0).all(), name


def test_every_metric_declared_mixed_moves_the_score_both_ways() -> None:
    catalogue = load_catalogue()
    mixed = sorted(m.name for m in catalogue.metrics.values() if m.moves == "mixed")
    names, change = _moves(20261206, mixed, 3_000)
    for name in mixed:
        mine = np.array([d for n, d in zip(names, change, strict=True) if n == name])
        mine = mine[~np.isnan(mine)]
        assert (mine > NOISE).any(), name
        assert (mine < -NOISE).any(), name
