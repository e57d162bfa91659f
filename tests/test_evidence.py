"""The evidence blend: a random-effects summary of recorded lifts updating an asymmetric prior.

Oracles: statsmodels' ``combine_effects`` (DerSimonian-Laird) for the summary, and a numerical
posterior computed here on a fine grid with numpy (prior density times likelihood, normalised by
the trapezoid rule) for the blended range.
"""

from __future__ import annotations

import importlib
import math
import random
from typing import Any

import numpy as np
import pytest

from kpi_core.experiments.blend import SplitNormal, posterior, random_effects
from kpi_core.experiments.evidence import LiftRecord, blend_evidence
from kpi_core.interventions import load_interventions

PIN = "sc_pin_product_link"  # product_ctr up 5% / 10% / 20%: an asymmetric range
Z = 1.959963984540054


def combine_effects(effects: list[float], ses: list[float]) -> Any:
    meta = importlib.import_module("statsmodels.stats.meta_analysis")
    return meta.combine_effects(np.array(effects), np.array(ses) ** 2, method_re="dl")


def grid_quantiles(
    low: float, mid: float, high: float, mean: float, se: float, probabilities: list[float]
) -> list[float]:
    """The posterior's quantiles by brute force: the split-normal prior (2.5/50/97.5% at
    low/mid/high: each half a half-normal with half the mass) times N(mean, se^2) on 400,001
    points, integrated by the trapezoid rule and inverted by interpolation."""
    sd_low, sd_high = (mid - low) / Z, (high - mid) / Z
    reach = 12 * max(sd_low, sd_high, se)
    x = np.linspace(min(mid, mean) - reach, max(mid, mean) + reach, 400_001)
    sd = np.where(x < mid, sd_low, sd_high)
    prior = np.exp(-0.5 * ((x - mid) / sd) ** 2) / sd
    density = prior * np.exp(-0.5 * ((x - mean) / se) ** 2)
    cumulative = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(x))])
    cumulative /= cumulative[-1]
    return [float(np.interp(p, cumulative, x)) for p in probabilities]


def test_the_random_effects_summary_is_dersimonian_laird_as_statsmodels() -> None:
    """Three lifts that disagree: statsmodels combine_effects(method_re='dl') gives tau^2,
    I^2, Q and the random-effects mean and se; the random-effects se is about twice the
    fixed-effect one (0.0396 against 0.0168), as the issue's example (0.0351 against 0.0175)."""
    effects, ses = [0.05, 0.12, 0.20], [0.03, 0.025, 0.035]
    ours = random_effects(list(zip(effects, ses, strict=True)))
    theirs = combine_effects(effects, ses)
    assert (ours.mean, ours.se, ours.tau2, ours.i_squared, ours.q) == pytest.approx(
        (
            float(theirs.mean_effect_re),
            float(theirs.sd_eff_w_re),
            float(theirs.tau2),
            float(theirs.i2),
            float(theirs.q),
        ),
        rel=1e-10,
    )
    assert ours.se > 2 * float(theirs.sd_eff_w_fe)


def test_lifts_that_agree_within_chance_have_no_heterogeneity() -> None:
    agreeing = random_effects([(0.10, 0.05), (0.11, 0.05), (0.09, 0.05)])
    assert (agreeing.tau2, agreeing.i_squared) == (0.0, 0.0)


def test_an_asymmetric_prior_is_left_as_it_is_by_an_uninformative_outcome() -> None:
    """The issue's case: a range 0.5 / 1.0 / 2.0 read as N(mid, (high - low) / 3.92) became
    0.25 / 1.0 / 1.75 after one uninformative experiment. On the log-ratio scale with the split
    normal, an experiment with se 1000 leaves it at 0.5 / 1.0 / 2.0 (to 1e-4)."""
    prior = SplitNormal.from_quantiles(math.log1p(0.5), math.log1p(1.0), math.log1p(2.0))
    updated = posterior(prior, 0.0, 1000.0)
    blended = [math.expm1(updated.quantile(q)) for q in (0.025, 0.5, 0.975)]
    assert blended == pytest.approx([0.5, 1.0, 2.0], abs=1e-4)


@pytest.mark.parametrize(
    ("mean", "se"),
    [(0.30, 0.05), (-0.2, 0.1), (0.1, 0.5), (0.095, 0.001), (3.0, 0.2)],
)
def test_the_blended_range_is_the_posteriors_quantiles_as_a_numerical_integration(
    mean: float, se: float
) -> None:
    """The closed form (two truncated normals) against the brute-force grid of this file."""
    low, mid, high = math.log(1.05), math.log(1.10), math.log(1.20)
    updated = posterior(SplitNormal.from_quantiles(low, mid, high), mean, se)
    probabilities = [0.025, 0.5, 0.975]
    expected = grid_quantiles(low, mid, high, mean, se, probabilities)
    got = [updated.quantile(p) for p in probabilities]
    assert got == pytest.approx(expected, abs=2e-5)


def test_a_recorded_lift_blends_with_the_catalogue_range_on_the_log_ratio_scale() -> None:
    """One lift 0.12 with se 0.02 on the pin's 5% / 10% / 20% prior: the observation on the blend
    scale is ln(1.12) with se 0.02 / 1.12; the blended range is the grid posterior mapped back
    with expm1."""
    records = [LiftRecord("exp-1", PIN, "gadgets", 0.12, 0.02)]
    result = blend_evidence(records, category="gadgets")[PIN]
    expected = grid_quantiles(
        math.log(1.05),
        math.log(1.10),
        math.log(1.20),
        math.log(1.12),
        0.02 / 1.12,
        [0.025, 0.5, 0.975],
    )
    assert (result.blended_low, result.blended_mid, result.blended_high) == pytest.approx(
        [math.expm1(q) for q in expected], abs=2e-5
    )
    assert (result.count, result.scope, result.scale) == (1, "same category: gadgets", "log_ratio")
    assert result.recorded_mean == pytest.approx(0.12, rel=1e-12)
    assert (result.prior_low, result.prior_mid, result.prior_high) == (0.05, 0.10, 0.20)
    assert result.moved.startswith("1 recorded outcome moved the mid lift from +10.0% to")
    assert "narrowed the range from 15.0% to" in result.moved


def test_the_blend_does_not_depend_on_the_order_of_lifts() -> None:
    records = [
        LiftRecord(f"exp-{i}", PIN, None, 0.05 + 0.02 * i, 0.02 + 0.003 * i) for i in range(12)
    ]
    shuffled = list(records)
    random.Random(6).shuffle(shuffled)
    forward = blend_evidence(records)[PIN]
    again = blend_evidence(shuffled)[PIN]
    assert (again.blended_low, again.blended_mid, again.blended_high) == pytest.approx(
        (forward.blended_low, forward.blended_mid, forward.blended_high), rel=1e-12
    )
    assert again.i_squared == pytest.approx(forward.i_squared, rel=1e-12)


def test_precise_experiments_outweigh_the_prior_and_vague_ones_do_not() -> None:
    precise = blend_evidence([LiftRecord("a", PIN, None, 0.30, 0.001)])[PIN]
    vague = blend_evidence([LiftRecord("a", PIN, None, 0.30, 100.0)])[PIN]
    assert precise.blended_mid == pytest.approx(0.30, abs=2e-3)
    assert vague.blended_mid == pytest.approx(0.10, abs=1e-4)
    assert (vague.blended_low, vague.blended_high) == pytest.approx((0.05, 0.20), abs=1e-4)


def test_disagreeing_lifts_report_heterogeneity_and_widen_the_blend() -> None:
    """Two precise lifts far apart (0.02 and 0.30): I^2 near 1, so the random-effects summary's
    se is about half their distance, and the blended range is far wider than a fixed-effect
    blend's (which would be about 0.01 wide)."""
    records = [LiftRecord("a", PIN, None, 0.02, 0.01), LiftRecord("b", PIN, None, 0.30, 0.01)]
    result = blend_evidence(records)[PIN]
    assert result.i_squared > 0.99
    assert result.blended_high - result.blended_low > 0.1
    assert "they differ beyond chance" in result.moved


def test_a_lower_is_better_metric_blends_the_log_of_its_reduction() -> None:
    """For a lower-is-better target the blend scale is -ln(1 - r): a lift r = 0.25 (a quarter
    less) is ln(4/3) there. A huge-se record leaves the catalogue's range as it is."""
    item = next(
        i
        for i in load_interventions().interventions
        if i.lift_type == "relative" and i.metric == "refund_rate"
    )
    records = [LiftRecord("a", item.id, None, 0.25, 1000.0)]
    result = blend_evidence(records)[item.id]
    assert (result.blended_low, result.blended_mid, result.blended_high) == pytest.approx(
        (item.lift.low, item.lift.mid, item.lift.high), abs=1e-4
    )
    assert result.recorded_mean == pytest.approx(0.25, rel=1e-12)


def test_same_category_evidence_is_used_when_it_exists_else_all_creators() -> None:
    records = [
        LiftRecord("a", PIN, "gadgets", 0.30, 0.01),
        LiftRecord("b", PIN, "beauty", 0.02, 0.01),
        LiftRecord("c", "sc_limited_code", "beauty", 0.15, 0.02),
    ]
    gadgets = blend_evidence(records, category="  GADGETS ")
    assert gadgets[PIN].scope == "same category: gadgets"
    assert [lift.plan_id for lift in gadgets[PIN].lifts] == ["a"]
    assert gadgets["sc_limited_code"].scope == "all creators"
    assert gadgets["sc_limited_code"].count == 1
    anyone = blend_evidence(records)
    assert anyone[PIN].scope == "all creators"
    assert anyone[PIN].count == 2
    assert set(blend_evidence(records, category="fitness")) == {PIN, "sc_limited_code"}


def test_evidence_for_interventions_no_longer_in_the_catalogue_is_skipped() -> None:
    records = [LiftRecord("a", "retired_intervention", None, 0.3, 0.01)]
    assert blend_evidence(records) == {}
