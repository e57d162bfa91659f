"""Experiment maths: every figure against an independent oracle and the issue's literal numbers.

The oracles are statsmodels and scipy, called here and nowhere in the product, or a hand
computation written out in the test's docstring. Neither library ships type stubs, so they are
fetched by name through :func:`oracle` (one typed boundary instead of a warning per call).
"""

from __future__ import annotations

import importlib
import math
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_core.errors import ExperimentError
from kpi_core.experiments.analysis import AbTestAnalysis, adjust_p_values, analyze_ab_test
from kpi_core.experiments.args import Method, ProportionArm
from kpi_core.experiments.design import AbTestDesign, design_ab_test, safe_ceil

FAST = settings(max_examples=100, derandomize=True, deadline=None, database=None)
METHODS: tuple[Method, ...] = ("pooled", "cohens_h", "evan_miller", "relative_lift")


def oracle(module: str, name: str) -> Callable[..., Any]:
    """``module.name`` from statsmodels or scipy, imported on use."""
    return cast("Callable[..., Any]", getattr(importlib.import_module(module), name))


def distribution(name: str) -> Any:
    """A ``scipy.stats`` distribution object, such as ``t`` or ``norm``."""
    return getattr(importlib.import_module("scipy.stats"), name)


def norm_ppf(probability: float) -> float:
    """scipy's normal quantile: an oracle independent of the product's ``NormalDist``."""
    return float(distribution("norm").ppf(probability))


def statsmodels_pooled_n(
    diff: float, control_rate: float, power: float, ratio: float = 1.0, **options: Any
) -> float:
    """statsmodels' per-arm n for the first (treated) sample; ``ratio`` = n_control / n_treated."""
    samplesize = oracle("statsmodels.stats.proportion", "samplesize_proportions_2indep_onetail")
    return float(samplesize(diff, control_rate, power, ratio=ratio, **options))


def cohens_h_n(treated: float, control: float, power: float, ratio: float = 1.0) -> float:
    """statsmodels ``NormalIndPower().solve_power`` on Cohen's h, for the first sample."""
    effect = oracle("statsmodels.stats.proportion", "proportion_effectsize")(treated, control)
    solver = oracle("statsmodels.stats.power", "NormalIndPower")()
    return float(solver.solve_power(effect_size=effect, alpha=0.05, power=power, ratio=ratio))


def proportion_arms(*counts: tuple[int, int]) -> list[dict[str, object]]:
    names = ["control", *(f"variant_{index}" for index in range(1, len(counts)))]
    return [
        {"name": name, "conversions": conversions, "units": units}
        for name, (conversions, units) in zip(names, counts, strict=True)
    ]


def mean_arms(*stats: tuple[float, float, int]) -> list[dict[str, object]]:
    names = ["control", *(f"variant_{index}" for index in range(1, len(stats)))]
    return [
        {"name": name, "mean": mean, "sd": sd, "n": n}
        for name, (mean, sd, n) in zip(names, stats, strict=True)
    ]


# ------------------------------------------------------------------------------------------
# design_ab_test: the oracle table
# ------------------------------------------------------------------------------------------


def test_pooled_plan_for_2_to_2_4_percent_needs_21109_per_arm_as_statsmodels_says() -> None:
    """statsmodels samplesize_proportions_2indep_onetail(0.004, 0.02, 0.8) = 21108.38 -> 21109."""
    design = design_ab_test("proportion", 0.02, mde=0.2)
    assert design.n_per_arm == [21109, 21109]
    assert design.n_per_arm[0] == math.ceil(statsmodels_pooled_n(0.004, 0.02, 0.8))
    assert design.n_total == 42218
    assert design.expected_treatment_value == pytest.approx(0.024)


def test_cohens_h_plan_for_2_to_2_4_percent_needs_21067_per_arm_as_normal_ind_power() -> None:
    """NormalIndPower().solve_power(h(0.024, 0.02), alpha=0.05, power=0.8) = 21066.44 -> 21067."""
    design = design_ab_test("proportion", 0.02, mde=0.2, method="cohens_h")
    assert design.n_per_arm == [21067, 21067]
    assert design.n_per_arm[0] == math.ceil(cohens_h_n(0.024, 0.02, 0.8))


def test_evan_miller_plan_for_2_to_2_4_percent_needs_19785_per_arm() -> None:
    """Hand computation: n = (1.959964 sqrt(2 * 0.02 * 0.98) + 0.841621 sqrt(0.02 * 0.98 +
    0.024 * 0.976))^2 / 0.004^2 = (0.388049 + 0.174572)^2 / 1.6e-5 = 19784.0 -> 19785."""
    z_alpha, z_beta = norm_ppf(0.975), norm_ppf(0.8)
    by_hand = (
        z_alpha * math.sqrt(2 * 0.02 * 0.98) + z_beta * math.sqrt(0.02 * 0.98 + 0.024 * 0.976)
    ) ** 2 / 0.004**2
    design = design_ab_test("proportion", 0.02, mde=0.2, method="evan_miller")
    assert design.n_per_arm == [19785, 19785]
    assert design.n_per_arm[0] == math.ceil(by_hand)


def test_pooled_plan_for_10_to_11_percent_needs_14751_per_arm_as_statsmodels_says() -> None:
    """statsmodels samplesize_proportions_2indep_onetail(0.01, 0.10, 0.8) = 14750.79 -> 14751."""
    design = design_ab_test("proportion", 0.10, mde=0.01, mde_type="absolute")
    assert design.n_per_arm == [14751, 14751]
    assert design.n_per_arm[0] == math.ceil(statsmodels_pooled_n(0.01, 0.10, 0.8))


def test_pooled_plan_for_50_to_55_percent_at_power_90_needs_2095_per_arm() -> None:
    """statsmodels samplesize_proportions_2indep_onetail(0.05, 0.5, 0.9) = 2094.15 -> 2095."""
    design = design_ab_test("proportion", 0.5, mde=0.05, mde_type="absolute", power=0.9)
    assert design.n_per_arm == [2095, 2095]
    assert design.n_per_arm[0] == math.ceil(statsmodels_pooled_n(0.05, 0.5, 0.9))


def test_mean_plan_for_5_percent_on_1_50_with_sd_4_needs_44652_per_arm() -> None:
    """Hand computation: n = 2 (1.959964 + 0.841621)^2 4.0^2 / 0.075^2 = 44651.3 -> 44652; also
    NormalIndPower().solve_power(0.075 / 4.0, alpha=0.05, power=0.8) = 44651.3."""
    by_hand = 2 * (norm_ppf(0.975) + norm_ppf(0.8)) ** 2 * 4.0**2 / 0.075**2
    solver = oracle("statsmodels.stats.power", "NormalIndPower")()
    by_statsmodels = float(solver.solve_power(effect_size=0.075 / 4.0, alpha=0.05, power=0.8))
    design = design_ab_test("mean", 1.50, baseline_sd=4.0, mde=0.05)
    assert design.n_per_arm == [44652, 44652]
    assert design.n_per_arm[0] == math.ceil(by_hand) == math.ceil(by_statsmodels)
    assert design.absolute_mde == pytest.approx(0.075)


def test_relative_lift_plan_uses_the_delta_method_on_the_log_ratio() -> None:
    """Hand computation: n = (z_.975 + z_.8)^2 (0.98 / 0.02 + 0.976 / 0.024) / ln(1.2)^2
    = 7.848866 * 89.66667 / 0.0332414 = 21171.6 -> 21172 (the log-ratio Wald test)."""
    by_hand = (norm_ppf(0.975) + norm_ppf(0.8)) ** 2 * (0.98 / 0.02 + 0.976 / 0.024)
    by_hand /= math.log(1.2) ** 2
    design = design_ab_test("proportion", 0.02, mde=0.2, method="relative_lift")
    assert design.n_per_arm[0] == math.ceil(by_hand)
    assert "log ratio" in design.method_label


def test_relative_lift_on_a_mean_uses_the_log_ratio_of_means() -> None:
    """Hand computation: n = (z_.975 + z_.8)^2 (4^2 / 1.5^2 + 4^2 / 1.575^2) / ln(1.05)^2."""
    variance = 4.0**2 / 1.5**2 + 4.0**2 / 1.575**2
    by_hand = (norm_ppf(0.975) + norm_ppf(0.8)) ** 2 * variance / math.log(1.05) ** 2
    design = design_ab_test("mean", 1.5, baseline_sd=4.0, mde=0.05, method="relative_lift")
    assert design.n_per_arm[0] == math.ceil(by_hand)


def test_every_method_is_labelled_in_the_plan() -> None:
    labels = {
        method: design_ab_test("proportion", 0.02, mde=0.2, method=method).method_label
        for method in METHODS
    }
    assert [label.split(":")[0] for label in labels.values()] == list(METHODS)


# ------------------------------------------------------------------------------------------
# design_ab_test: allocation, arms, sides, CUPED, ceilings
# ------------------------------------------------------------------------------------------


def test_a_ceiling_ignores_floating_point_dust_so_14400_stays_14400() -> None:
    """16 * 0.1 * 0.9 / 0.01**2 is 14400.000000000002 in binary floating point (Lehr's rule for
    p = 0.1, delta = 0.01); a plain math.ceil would ask for 14401 units."""
    figure = 16 * 0.1 * 0.9 / 0.01**2
    assert math.ceil(figure) == 14401  # the trap is real
    assert safe_ceil(figure) == 14400
    assert safe_ceil(14400.5) == 14401
    assert safe_ceil(14400.0001) == 14401
    assert safe_ceil(7.0) == 7


def test_unequal_allocation_weights_the_variance_as_statsmodels_ratio_does() -> None:
    """With 1/3 control and 2/3 treatment, statsmodels' treated n (ratio = n0 / n1 = 0.5) is the
    treatment arm's n, and the control gets half of it."""
    design = design_ab_test("proportion", 0.02, mde=0.2, allocation=[1 / 3, 2 / 3])
    treated = statsmodels_pooled_n(0.004, 0.02, 0.8, ratio=0.5)
    assert design.n_per_arm == [math.ceil(treated / 2), math.ceil(treated)]
    assert design.allocation == [1 / 3, 2 / 3]


def test_unequal_allocation_for_cohens_h_matches_normal_ind_power_with_a_ratio() -> None:
    """NormalIndPower's nobs1 with ratio = n1 / n0 = 2 is the control arm's n."""
    design = design_ab_test(
        "proportion", 0.02, mde=0.2, method="cohens_h", allocation=[1 / 3, 2 / 3]
    )
    control = cohens_h_n(0.024, 0.02, 0.8, ratio=2.0)
    assert design.n_per_arm[0] == math.ceil(control)
    assert design.n_per_arm[1] == math.ceil(2 * control)


def test_more_than_two_arms_split_alpha_by_bonferroni_across_comparisons_with_control() -> None:
    """Three arms: two comparisons with control at alpha 0.025 each (statsmodels at 0.025)."""
    design = design_ab_test("proportion", 0.02, mde=0.2, arms=3)
    assert design.effective_alpha == pytest.approx(0.025)
    assert design.comparisons == 2
    expected = math.ceil(statsmodels_pooled_n(0.004, 0.02, 0.8, alpha=0.025))
    assert design.n_per_arm == [expected] * 3
    assert design.arm_names == ["control", "treatment_1", "treatment_2"]
    assert design.n_total == 3 * expected


def test_extra_arms_with_unequal_allocation_are_sized_by_the_smallest_treatment_arm() -> None:
    """Half the traffic to control and a quarter to each treatment, alpha 0.025 per comparison:
    statsmodels' treated n with ratio = n0 / n1 = 2 is each treatment arm's n."""
    design = design_ab_test("proportion", 0.02, mde=0.2, arms=3, allocation=[0.5, 0.25, 0.25])
    treated = statsmodels_pooled_n(0.004, 0.02, 0.8, ratio=2.0, alpha=0.025)
    assert design.n_per_arm == [math.ceil(2 * treated), math.ceil(treated), math.ceil(treated)]


def test_a_one_sided_plan_matches_statsmodels_larger_alternative() -> None:
    design = design_ab_test("proportion", 0.02, mde=0.2, sides=1)
    expected = statsmodels_pooled_n(0.004, 0.02, 0.8, alternative="larger")
    assert design.n_per_arm[0] == math.ceil(expected)
    assert "one-sided" in design.hypothesis


def test_cuped_multiplies_the_variance_by_one_minus_rho_squared() -> None:
    """rho = 0.5 removes 25% of the variance: 44651.3 * 0.75 = 33488.5 -> 33489."""
    plain = design_ab_test("mean", 1.5, baseline_sd=4.0, mde=0.05)
    design = design_ab_test("mean", 1.5, baseline_sd=4.0, mde=0.05, cuped_correlation=0.5)
    by_hand = 2 * (norm_ppf(0.975) + norm_ppf(0.8)) ** 2 * 16.0 / 0.075**2 * 0.75
    assert design.n_per_arm == [math.ceil(by_hand)] * 2 == [33489, 33489]
    assert design.n_per_arm_without_cuped == plain.n_per_arm
    assert design.variance_reduction == pytest.approx(0.25)
    assert any("CUPED" in line for line in design.assumptions)


# ------------------------------------------------------------------------------------------
# design_ab_test: duration, feasibility, units
# ------------------------------------------------------------------------------------------


def test_viewer_duration_is_whole_weeks_from_daily_units_across_arms() -> None:
    """42218 viewers at 5000 a day is 8.4 days, so two whole weeks."""
    design = design_ab_test("proportion", 0.02, mde=0.2, daily_units=5000)
    assert design.duration_days == 14
    assert design.feasible
    assert design.reasons == []


def test_a_duration_is_never_under_a_week() -> None:
    design = design_ab_test("proportion", 0.02, mde=0.2, daily_units=1_000_000)
    assert design.duration_days == 7


def test_an_unknown_rate_of_viewers_leaves_duration_and_the_4_week_mde_unknown() -> None:
    design = design_ab_test("proportion", 0.02, mde=0.2)
    assert design.duration_days is None
    assert design.detectable_mde_in_4_weeks is None
    assert any(note.startswith("duration_days is unknown") for note in design.notes)
    assert any(note.startswith("detectable_mde_in_4_weeks") for note in design.notes)


def test_a_plan_that_needs_more_than_90_days_is_infeasible() -> None:
    """42218 viewers at 500 a day is 84.4 days, rounded to 13 weeks = 91 days > 90; at 503 a
    day it is 83.9 days, 12 weeks = 84 days."""
    too_slow = design_ab_test("proportion", 0.02, mde=0.2, daily_units=500)
    assert too_slow.duration_days == 91
    assert not too_slow.feasible
    assert "90-day limit" in too_slow.reasons[0]
    just_fits = design_ab_test("proportion", 0.02, mde=0.2, daily_units=503)
    assert just_fits.duration_days == 84
    assert just_fits.feasible


def test_a_plan_that_needs_more_units_than_available_is_infeasible() -> None:
    design = design_ab_test("proportion", 0.02, mde=0.2, daily_units=5000, available_units=40000)
    assert not design.feasible
    assert "42218 viewers but only 40000" in design.reasons[0]


def test_the_4_week_mde_is_the_effect_that_28_days_of_viewers_can_just_detect() -> None:
    """Plugging the detectable MDE back in needs at most 28 days of units; 0.1% less needs more."""
    daily = 1000.0
    design = design_ab_test("proportion", 0.02, mde=0.2, daily_units=daily)
    detectable = design.detectable_mde_in_4_weeks
    assert detectable is not None
    assert 0.2 < detectable < 1.0
    at_mde = design_ab_test("proportion", 0.02, mde=detectable * (1 + 1e-9))
    assert at_mde.n_per_arm[0] <= 28 * daily / 2
    below = design_ab_test("proportion", 0.02, mde=detectable * 0.999)
    assert below.n_per_arm[0] > 28 * daily / 2


def test_the_4_week_mde_of_a_mean_has_the_closed_form_of_the_z_formula() -> None:
    """delta = (z_.975 + z_.8) * sqrt(2 * 16 / n) with n = 28 * 3000 / 2 = 42000 per arm."""
    design = design_ab_test("mean", 1.5, baseline_sd=4.0, mde=0.05, daily_units=3000)
    delta = (norm_ppf(0.975) + norm_ppf(0.8)) * math.sqrt(2 * 16.0 / 42000)
    assert design.detectable_mde_in_4_weeks == pytest.approx(delta / 1.5, rel=1e-9)
    absolute = design_ab_test(
        "mean", 1.5, baseline_sd=4.0, mde=0.075, mde_type="absolute", daily_units=3000
    )
    assert absolute.detectable_mde_in_4_weeks == pytest.approx(delta, rel=1e-9)


def test_the_4_week_mde_is_unknown_when_28_days_cannot_fill_the_arms_or_reach_any_effect() -> None:
    """28 days of 20-day blocks is one block; 5.6 viewers cannot detect even 50% -> 100%."""
    blocks = design_ab_test(
        "mean", 10.0, baseline_sd=2.0, mde=0.2, unit="time_block", block_days=20
    )
    assert blocks.detectable_mde_in_4_weeks is None
    assert any("too few blocks (1)" in note for note in blocks.notes)
    viewers = design_ab_test("proportion", 0.5, mde=0.05, mde_type="absolute", daily_units=0.2)
    assert viewers.detectable_mde_in_4_weeks is None
    assert any("no effect that keeps the rate within [0, 1]" in note for note in viewers.notes)


def test_a_creator_experiment_runs_for_its_observation_window_and_checks_the_cohort() -> None:
    """Per-creator means with sd 0.02 between creators, 3% -> 3.6%: n = 2 (2.801585)^2 0.02^2 /
    0.006^2 = 174.4 -> 175 creators per arm; 350 > 100 creators available."""
    design = design_ab_test(
        "proportion", 0.03, baseline_sd=0.02, mde=0.2, unit="creator", available_units=100
    )
    by_hand = 2 * (norm_ppf(0.975) + norm_ppf(0.8)) ** 2 * 0.02**2 / 0.006**2
    assert design.n_per_arm == [math.ceil(by_hand)] * 2 == [175, 175]
    assert design.duration_days == 28
    assert design.observation_days == 28
    assert not design.feasible
    assert "350 creators but only 100" in design.reasons[0]
    assert design.detectable_mde_in_4_weeks is not None
    assert design.detectable_mde_in_4_weeks > 0.2
    longer = design_ab_test(
        "mean", 10.0, baseline_sd=5.0, mde=0.1, unit="creator", observation_days=30
    )
    assert longer.duration_days == 35
    assert any("available_units" in note for note in longer.notes)


def test_a_switchback_needs_blocks_per_arm_and_lasts_blocks_times_block_days() -> None:
    """Block means 10 with sd 2 between blocks, +20%: z gives n = 2 (2.801585)^2 4 / 4 = 15.7,
    under 30, so t quantiles: statsmodels TTestIndPower().solve_power(effect_size=1, alpha=0.05,
    power=0.8) = 16.71 -> 17 blocks per arm, 34 blocks of 2 days = 68 days (70 in weeks)."""
    design = design_ab_test("mean", 10.0, baseline_sd=2.0, mde=0.2, unit="time_block", block_days=2)
    solver = oracle("statsmodels.stats.power", "TTestIndPower")()
    by_t = float(solver.solve_power(effect_size=1.0, alpha=0.05, power=0.8))
    assert design.n_per_arm == [math.ceil(by_t)] * 2 == [17, 17]
    assert design.n_per_arm_fixed_horizon == [17, 17]
    assert design.t_quantiles
    assert design.duration_days == 70
    assert design.feasible
    assert any("carry-over" in line for line in design.assumptions)
    assert any("Student's t quantiles" in note for note in design.notes)
    longer_blocks = design_ab_test(
        "mean", 10.0, baseline_sd=2.0, mde=0.2, unit="time_block", block_days=3
    )
    assert longer_blocks.duration_days == 105  # 34 blocks of 3 days: 102, in weeks 105
    assert not longer_blocks.feasible


def test_a_unit_the_intervention_cannot_use_is_refused_with_the_reason() -> None:
    with pytest.raises(ExperimentError) as raised:
        design_ab_test(
            "mean",
            10.0,
            baseline_sd=2.0,
            mde=0.1,
            unit="viewer",
            allowed_units=["creator", "time_block"],
        )
    assert raised.value.field == "unit"
    assert "creator, time_block" in raised.value.rule
    assert "unit='creator'" in str(raised.value)


def test_inputs_that_do_not_apply_to_the_unit_are_noted_not_silently_used() -> None:
    design = design_ab_test(
        "proportion",
        0.02,
        baseline_sd=0.1,
        mde=0.2,
        block_days=7,
        observation_days=14,
        daily_units=5000,
    )
    assert design.block_days is None
    assert design.observation_days is None
    assert design.baseline_sd is None
    assert [note.split(" ")[0] for note in design.notes] == [
        "baseline_sd",
        "block_days",
        "observation_days",
    ]


def test_a_design_names_its_hypothesis_metric_guardrails_srm_check_and_stopping_rule() -> None:
    design = design_ab_test(
        "proportion",
        0.02,
        mde=0.2,
        daily_units=5000,
        primary_metric="conversion_rate",
        guardrails=["refund_rate", "cart_abandonment_rate"],
    )
    assert design.hypothesis == (
        "H0: conversion_rate (a rate over viewers) is the same in treatment as in control, "
        "at 2.00%.\nH1: the treatment changes it by at least +0.40 pp (20.0% relative), "
        "to 2.40%.\nTested two-sided at alpha 0.05 with power 0.8."
    )
    assert design.primary_metric == "conversion_rate"
    assert design.guardrails == ["refund_rate", "cart_abandonment_rate"]
    assert design.srm_check.model_dump(exclude={"instruction"}) == {
        "test": "chi-square goodness of fit",
        "alarm_p_value": 0.001,
        "expected_allocation": [0.5, 0.5],
        "expected_units": [21109, 21109],
    }
    assert design.stopping_rule.startswith("Fixed horizon")
    assert "pooled two-proportion z-test" in design.analysis_method.lower()


def test_creator_supplied_names_stay_inert_text_in_the_hypothesis() -> None:
    design = design_ab_test("proportion", 0.02, mde=0.2, primary_metric="{{ 7*7 }}")
    assert design.hypothesis.startswith("H0: {{ 7*7 }} (")


def test_the_same_arguments_give_the_same_bytes() -> None:
    def plan() -> str:
        return design_ab_test(
            "proportion", 0.02, mde=0.2, arms=3, daily_units=900, cuped_correlation=0.3
        ).model_dump_json()

    assert plan() == plan()


def test_importing_the_module_loads_neither_scipy_nor_statsmodels() -> None:
    code = (
        "import sys, kpi_core.experiments.design as m; "
        "m.design_ab_test('proportion', 0.02, mde=0.2, daily_units=900); "
        "print(sorted(k for k in ('scipy', 'statsmodels') if k in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------
# design_ab_test: properties
# ------------------------------------------------------------------------------------------


@FAST
@given(
    method=st.sampled_from(METHODS),
    baseline=st.floats(min_value=0.005, max_value=0.9),
    shares=st.tuples(
        st.floats(min_value=0.01, max_value=1.0), st.floats(min_value=0.01, max_value=1.0)
    ),
    power=st.floats(min_value=0.5, max_value=0.99),
)
def test_a_larger_mde_never_needs_more_units(
    method: Method, baseline: float, shares: tuple[float, float], power: float
) -> None:
    small, large = sorted(share * (1.0 - baseline) for share in shares)
    needed = [
        design_ab_test(
            "proportion", baseline, mde=mde, mde_type="absolute", power=power, method=method
        ).n_total
        for mde in (small, large)
    ]
    assert needed[0] >= needed[1]


@FAST
@given(
    sd=st.floats(min_value=0.1, max_value=100.0),
    mdes=st.tuples(
        st.floats(min_value=0.01, max_value=2.0), st.floats(min_value=0.01, max_value=2.0)
    ),
    control_share=st.floats(min_value=0.1, max_value=0.9),
)
def test_a_larger_mde_on_a_mean_never_needs_more_units(
    sd: float, mdes: tuple[float, float], control_share: float
) -> None:
    small, large = sorted(mdes)
    allocation = [control_share, 1.0 - control_share]
    needed = [
        design_ab_test("mean", 5.0, baseline_sd=sd, mde=mde, allocation=allocation).n_total
        for mde in (small, large)
    ]
    assert needed[0] >= needed[1]


@FAST
@given(
    method=st.sampled_from(METHODS),
    baseline=st.floats(min_value=0.01, max_value=0.8),
    powers=st.tuples(st.floats(min_value=0.5, max_value=0.99), st.floats(0.5, 0.99)),
    arms=st.integers(min_value=2, max_value=5),
)
def test_more_power_never_needs_fewer_units(
    method: Method, baseline: float, powers: tuple[float, float], arms: int
) -> None:
    low, high = sorted(powers)
    needed = [
        design_ab_test(
            "proportion", baseline, mde=0.1, power=power, method=method, arms=arms
        ).n_total
        for power in (low, high)
    ]
    assert needed[0] <= needed[1]


# ------------------------------------------------------------------------------------------
# design_ab_test: bad inputs
# ------------------------------------------------------------------------------------------

PROPORTION: dict[str, Any] = {"metric_kind": "proportion", "baseline": 0.02, "mde": 0.2}
MEAN: dict[str, Any] = {"metric_kind": "mean", "baseline": 1.5, "baseline_sd": 4.0, "mde": 0.05}
NAN = float("nan")
INF = float("inf")

BAD_DESIGNS: list[tuple[str, dict[str, Any], str]] = [
    ("proportion above 1", {**PROPORTION, "baseline": 1.5}, "baseline"),
    ("proportion below 0", {**PROPORTION, "baseline": -0.1}, "baseline"),
    ("proportion of 0", {**PROPORTION, "baseline": 0.0}, "baseline"),
    ("baseline NaN", {**PROPORTION, "baseline": NAN}, "baseline"),
    ("baseline infinite", {**MEAN, "baseline": INF}, "baseline"),
    ("baseline as text", {**PROPORTION, "baseline": "0.02"}, "baseline"),
    ("relative mde on a mean of 0", {**MEAN, "baseline": 0.0}, "baseline"),
    (
        "relative_lift on a negative mean",
        {**MEAN, "baseline": -1.0, "method": "relative_lift"},
        "baseline",
    ),
    ("mde pushes the rate above 1", {**PROPORTION, "baseline": 0.9, "mde": 0.2}, "mde"),
    ("absolute mde above 1", {**PROPORTION, "mde": 0.99, "mde_type": "absolute"}, "mde"),
    ("mde of 0", {**PROPORTION, "mde": 0.0}, "mde"),
    ("negative mde", {**PROPORTION, "mde": -0.1}, "mde"),
    ("mde missing", {**PROPORTION, "mde": None}, "mde"),
    ("mde NaN", {**PROPORTION, "mde": NAN}, "mde"),
    ("alpha of 0", {**PROPORTION, "alpha": 0.0}, "alpha"),
    ("alpha of 1", {**PROPORTION, "alpha": 1.0}, "alpha"),
    ("power of 1", {**PROPORTION, "power": 1.0}, "power"),
    ("power of 0", {**PROPORTION, "power": 0.0}, "power"),
    ("power below alpha", {**PROPORTION, "power": 0.01}, "power"),
    ("three sides", {**PROPORTION, "sides": 3}, "sides"),
    ("sides as True", {**PROPORTION, "sides": True}, "sides"),
    ("one arm", {**PROPORTION, "arms": 1}, "arms"),
    ("fractional arms", {**PROPORTION, "arms": 2.5}, "arms"),
    ("allocation not summing to 1", {**PROPORTION, "allocation": [0.5, 0.4]}, "allocation"),
    ("allocation of the wrong length", {**PROPORTION, "allocation": [1.0]}, "allocation"),
    (
        "allocation with a negative share",
        {**PROPORTION, "allocation": [1.2, -0.2]},
        "allocation[1]",
    ),
    ("allocation with a zero share", {**PROPORTION, "allocation": [1.0, 0.0]}, "allocation[1]"),
    ("allocation with NaN", {**PROPORTION, "allocation": [0.5, NAN]}, "allocation[1]"),
    ("cuped correlation of 1", {**PROPORTION, "cuped_correlation": 1.0}, "cuped_correlation"),
    ("negative cuped correlation", {**PROPORTION, "cuped_correlation": -0.2}, "cuped_correlation"),
    ("mean without baseline_sd", {**MEAN, "baseline_sd": None}, "baseline_sd"),
    ("mean with baseline_sd 0", {**MEAN, "baseline_sd": 0.0}, "baseline_sd"),
    ("mean with negative baseline_sd", {**MEAN, "baseline_sd": -1.0}, "baseline_sd"),
    ("creator rate without baseline_sd", {**PROPORTION, "unit": "creator"}, "baseline_sd"),
    ("cohens_h on a mean", {**MEAN, "method": "cohens_h"}, "method"),
    (
        "evan_miller on per-creator rates",
        {**PROPORTION, "baseline_sd": 0.01, "unit": "creator", "method": "evan_miller"},
        "method",
    ),
    ("unknown method", {**PROPORTION, "method": "bayesian"}, "method"),
    ("unknown metric kind", {**PROPORTION, "metric_kind": "rate"}, "metric_kind"),
    ("cohens_h on a ratio", {**MEAN, "metric_kind": "ratio", "method": "cohens_h"}, "method"),
    (
        "negative sequential tuning",
        {**PROPORTION, "sequential": True, "sequential_tuning": -1},
        "sequential_tuning",
    ),
    ("sequential as text", {**PROPORTION, "sequential": "yes"}, "sequential"),
    ("unknown correction", {**PROPORTION, "correction": "fdr"}, "correction"),
    (
        "a margin for no guardrail",
        {**PROPORTION, "guardrail_margins": {"gmv": 0.1}},
        "guardrail_margins.gmv",
    ),
    (
        "a margin of 1",
        {**PROPORTION, "guardrails": ["gmv"], "guardrail_margins": {"gmv": 1.0}},
        "guardrail_margins.gmv",
    ),
    ("a guardrail twice", {**PROPORTION, "guardrails": ["gmv", "gmv"]}, "guardrails"),
    ("unknown mde type", {**PROPORTION, "mde_type": "percent"}, "mde_type"),
    ("unknown unit", {**PROPORTION, "unit": "household"}, "unit"),
    ("switchback without block_days", {**MEAN, "unit": "time_block"}, "block_days"),
    ("block_days of 0", {**MEAN, "unit": "time_block", "block_days": 0}, "block_days"),
    ("daily_units of 0", {**PROPORTION, "daily_units": 0}, "daily_units"),
    ("daily_units infinite", {**PROPORTION, "daily_units": INF}, "daily_units"),
    ("negative available_units", {**PROPORTION, "available_units": -5}, "available_units"),
    ("fractional available_units", {**PROPORTION, "available_units": 10.5}, "available_units"),
    ("unit outside the allowed ones", {**PROPORTION, "allowed_units": ["creator"]}, "unit"),
    ("unknown allowed unit", {**PROPORTION, "allowed_units": ["shop"]}, "allowed_units[0]"),
    ("guardrails as one string", {**PROPORTION, "guardrails": "refund_rate"}, "guardrails"),
    ("empty guardrail", {**PROPORTION, "guardrails": [""]}, "guardrails[0]"),
    ("empty primary metric", {**PROPORTION, "primary_metric": " "}, "primary_metric"),
]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [pytest.param(arguments, field, id=case) for case, arguments, field in BAD_DESIGNS],
)
def test_a_bad_design_argument_raises_an_experiment_error_naming_the_field(
    arguments: Mapping[str, Any], field: str
) -> None:
    with pytest.raises(ExperimentError) as raised:
        design_ab_test(**arguments)
    assert raised.value.field == field
    assert str(raised.value).startswith(field)


def test_a_design_error_says_the_field_the_rule_the_value_and_what_to_do() -> None:
    with pytest.raises(ExperimentError) as raised:
        design_ab_test("proportion", 2.5, mde=0.1)
    assert str(raised.value) == (
        "baseline must be a rate strictly between 0 and 1 for a proportion; got 2.5 "
        "- did you mean 0.025?"
    )


# ------------------------------------------------------------------------------------------
# analyze_ab_test
# ------------------------------------------------------------------------------------------


def restricted_rates(x1: int, n1: int, x0: int, n0: int, difference: float) -> tuple[float, float]:
    """The binomial maximum-likelihood rates under p1 - p0 = difference, found numerically
    (scipy's bounded minimiser on the log-likelihood): independent of the product's closed form."""
    minimise = oracle("scipy.optimize", "minimize_scalar")

    def minus_log_likelihood(p0: float) -> float:
        p1 = p0 + difference
        return -(
            x1 * math.log(p1)
            + (n1 - x1) * math.log(1 - p1)
            + x0 * math.log(p0)
            + (n0 - x0) * math.log(1 - p0)
        )

    low, high = max(0.0, -difference) + 1e-12, min(1.0, 1.0 - difference) - 1e-12
    found = minimise(
        minus_log_likelihood, bounds=(low, high), method="bounded", options={"xatol": 1e-15}
    )
    return float(found.x) + difference, float(found.x)


def score_statistic(x1: int, n1: int, x0: int, n0: int, difference: float) -> float:
    """Farrington-Manning: (p1^ - p0^ - d) / sqrt(p1~ q1~ / n1 + p0~ q0~ / n0) at the restricted
    rates; at d = 0 they are the pooled rate, so this is the pooled z."""
    p1, p0 = restricted_rates(x1, n1, x0, n0, difference)
    return (x1 / n1 - x0 / n0 - difference) / math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)


def score_interval(x1: int, n1: int, x0: int, n0: int, level: float) -> tuple[float, float]:
    """The differences whose score statistic is -/+ z_(1 - (1 - level) / 2), by scipy's brentq."""
    brentq = oracle("scipy.optimize", "brentq")
    z = norm_ppf(1 - (1 - level) / 2)
    estimate = x1 / n1 - x0 / n0

    def above(d: float) -> float:
        return score_statistic(x1, n1, x0, n0, d) - z

    def below(d: float) -> float:
        return score_statistic(x1, n1, x0, n0, d) + z

    low = brentq(above, -x0 / n0 + 1e-9, estimate)
    high = brentq(below, estimate, 1 - x0 / n0 - 1e-9)
    return float(low), float(high)


def test_proportions_use_the_pooled_z_test_with_the_score_interval_that_inverts_it() -> None:
    """statsmodels proportions_ztest([245, 200], [10000, 10000]) = (2.15734, 0.0309792). The
    interval is the Farrington-Manning score interval: recomputed here from a numerically
    maximised restricted likelihood and brentq (statsmodels' own score interval uses another
    restricted estimate, off in the 4th digit); the relative interval is statsmodels'
    confint_proportions_2indep(method='log', compare='ratio') (Katz) minus 1."""
    analysis = analyze_ab_test("proportion", proportion_arms((200, 10000), (245, 10000)))
    (comparison,) = analysis.comparisons
    z, p = oracle("statsmodels.stats.proportion", "proportions_ztest")([245, 200], [10000, 10000])
    confint = oracle("statsmodels.stats.proportion", "confint_proportions_2indep")
    ratio_low, ratio_high = confint(245, 10000, 200, 10000, method="log", compare="ratio")
    assert comparison.statistic == pytest.approx(2.15734, rel=1e-6)
    assert comparison.statistic == pytest.approx(float(z), rel=1e-12)
    assert comparison.p_value == pytest.approx(0.0309792, rel=1e-6)
    assert comparison.p_value == pytest.approx(float(p), rel=1e-9)
    assert comparison.abs_lift == pytest.approx(0.0045, rel=1e-12)
    assert comparison.rel_lift == pytest.approx(0.225, rel=1e-12)
    assert (comparison.ci_low, comparison.ci_high) == pytest.approx(
        score_interval(245, 10000, 200, 10000, 0.95), rel=1e-7
    )
    assert (comparison.rel_ci_low, comparison.rel_ci_high) == pytest.approx(
        (float(ratio_low) - 1, float(ratio_high) - 1), rel=1e-9
    )
    assert (comparison.test, comparison.scale, comparison.significant) == (
        "pooled_z",
        "absolute",
        True,
    )
    assert comparison.p_adjusted == comparison.p_value
    assert analysis.verdict == "significant"
    assert "excludes 0 exactly when the comparison is significant" in analysis.analysis_method


def test_means_use_welch_t_with_satterthwaite_degrees_of_freedom_as_scipy() -> None:
    """scipy ttest_ind_from_stats(1.65, 4.3, 5000, 1.5, 4.0, 5000, equal_var=False) gives
    t = 1.80605, p = 0.0709408; df = (v1 + v0)^2 / (v1^2 / 4999 + v0^2 / 4999) with v = sd^2/n,
    and the interval is 0.15 -/+ t_.975(df) sqrt(v1 + v0)."""
    analysis = analyze_ab_test("mean", mean_arms((1.50, 4.0, 5000), (1.65, 4.3, 5000)))
    (comparison,) = analysis.comparisons
    welch = oracle("scipy.stats", "ttest_ind_from_stats")(
        1.65, 4.3, 5000, 1.50, 4.0, 5000, equal_var=False
    )
    v1, v0 = 4.3**2 / 5000, 4.0**2 / 5000
    df = (v1 + v0) ** 2 / (v1**2 / 4999 + v0**2 / 4999)
    half_width = float(distribution("t").ppf(0.975, df)) * math.sqrt(v1 + v0)
    assert comparison.statistic == pytest.approx(1.80605, rel=1e-5)
    assert comparison.p_value == pytest.approx(0.0709408, rel=1e-6)
    assert comparison.statistic == pytest.approx(float(welch.statistic), rel=1e-12)
    assert comparison.p_value == pytest.approx(float(welch.pvalue), rel=1e-9)
    assert comparison.df == pytest.approx(df, rel=1e-12)
    assert (comparison.ci_low, comparison.ci_high) == pytest.approx(
        (0.15 - half_width, 0.15 + half_width), rel=1e-9
    )
    assert not comparison.significant
    assert analysis.verdict == "not_significant"


def test_the_relative_interval_of_means_is_the_delta_method_on_the_log_ratio() -> None:
    """ln(1.65 / 1.5) -/+ t_.975(df) sqrt(a + b), a = 4.3^2 / (5000 * 1.65^2),
    b = 4^2 / (5000 * 1.5^2), with the Welch-Satterthwaite df of the log-scale parts,
    (a + b)^2 / (a^2 / 4999 + b^2 / 4999)."""
    analysis = analyze_ab_test("mean", mean_arms((1.50, 4.0, 5000), (1.65, 4.3, 5000)))
    (comparison,) = analysis.comparisons
    a, b = 4.3**2 / (5000 * 1.65**2), 4.0**2 / (5000 * 1.5**2)
    error = math.sqrt(a + b)
    critical = float(distribution("t").ppf(0.975, (a + b) ** 2 / (a**2 / 4999 + b**2 / 4999)))
    centre = math.log(1.65 / 1.5)
    assert (comparison.rel_ci_low, comparison.rel_ci_high) == pytest.approx(
        (math.expm1(centre - critical * error), math.expm1(centre + critical * error)), rel=1e-9
    )


def test_a_split_of_10000_to_10300_gives_the_srm_chi_square_of_scipy() -> None:
    """scipy chisquare([10000, 10300]) = (4.4335, 0.0352402): unusual, but above the 0.001 alarm."""
    analysis = analyze_ab_test("proportion", proportion_arms((200, 10000), (245, 10300)))
    expected = oracle("scipy.stats", "chisquare")([10000, 10300])
    assert analysis.srm_chi_square == pytest.approx(4.4335, rel=1e-4)
    assert analysis.srm_p_value == pytest.approx(0.0352402, rel=1e-6)
    assert analysis.srm_chi_square == pytest.approx(float(expected.statistic), rel=1e-12)
    assert analysis.srm_p_value == pytest.approx(float(expected.pvalue), rel=1e-9)
    assert not analysis.srm_alarm


def test_the_srm_check_uses_the_planned_allocation() -> None:
    """scipy chisquare([3000, 7000, 7100], f_exp=[3420, 6840, 6840])."""
    arms = proportion_arms((60, 3000), (150, 7000), (140, 7100))
    analysis = analyze_ab_test("proportion", arms, planned_allocation=[0.2, 0.4, 0.4])
    expected = oracle("scipy.stats", "chisquare")([3000, 7000, 7100], f_exp=[3420, 6840, 6840])
    assert analysis.srm_p_value == pytest.approx(float(expected.pvalue), rel=1e-9)
    assert analysis.expected_allocation == [0.2, 0.4, 0.4]


def test_a_sample_ratio_mismatch_raises_the_alarm_and_blocks_the_decision() -> None:
    analysis = analyze_ab_test("proportion", proportion_arms((200, 10000), (300, 11000)))
    assert analysis.srm_p_value < 0.001
    assert analysis.srm_alarm
    assert analysis.verdict == "sample_ratio_mismatch"
    assert analysis.decision.startswith("Do not read this result")


def test_holm_on_five_p_values_rejects_exactly_one_at_5_percent_as_multipletests() -> None:
    """multipletests([.01, .02, .03, .04, .20], method='holm') adjusts to [.05, .08, .09, .09,
    .20]: only the first is at or below 0.05."""
    p_values = [0.01, 0.02, 0.03, 0.04, 0.20]
    adjusted = adjust_p_values(p_values, "holm")
    reject, corrected, *_ = oracle("statsmodels.stats.multitest", "multipletests")(
        p_values, alpha=0.05, method="holm"
    )
    assert adjusted == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.20])
    assert adjusted == pytest.approx([float(value) for value in corrected], rel=1e-12)
    assert [value <= 0.05 for value in adjusted] == [bool(flag) for flag in reject]
    assert sum(value <= 0.05 for value in adjusted) == 1


def holm_rejections(p_values: list[float], alpha: float) -> list[bool]:
    """Holm's step-down procedure as published (Holm 1979): walk the p-values in ascending order
    and reject while p_(i) <= alpha / (m - i + 1); stop at the first that is not."""
    m = len(p_values)
    rejected = [False] * m
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        if p_values[index] > alpha / (m - rank):
            break
        rejected[index] = True
    return rejected


@FAST
@given(
    p_values=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=8),
    alpha=st.sampled_from([0.001, 0.01, 0.05, 0.1, 0.2]),
)
def test_adjusted_p_values_reject_exactly_what_the_step_down_procedures_reject(
    p_values: list[float], alpha: float
) -> None:
    """Holm's adjusted p-value is at or below alpha exactly when the step-down rejects; a
    Bonferroni one exactly when p <= alpha / m. (multipletests is the oracle of the fixed cases;
    it runs gc.collect() on every call, too slow for 100 examples.)"""
    holm = adjust_p_values(p_values, "holm")
    bonferroni = adjust_p_values(p_values, "bonferroni")
    m = len(p_values)
    assert [value <= alpha for value in holm] == holm_rejections(p_values, alpha)
    assert [value <= alpha for value in bonferroni] == [p <= alpha / m for p in p_values]
    assert all(b >= h >= p for b, h, p in zip(bonferroni, holm, p_values, strict=True))


def test_several_arms_are_corrected_by_holm_with_intervals_at_each_steps_level() -> None:
    arms = proportion_arms((200, 10000), (260, 10000), (215, 10000), (190, 10000))
    analysis = analyze_ab_test("proportion", arms)
    raw = [comparison.p_value for comparison in analysis.comparisons]
    _, corrected, *_ = oracle("statsmodels.stats.multitest", "multipletests")(
        raw, alpha=0.05, method="holm"
    )
    assert [c.p_adjusted for c in analysis.comparisons] == pytest.approx(
        [float(value) for value in corrected], rel=1e-12
    )
    assert [c.significant for c in analysis.comparisons] == [True, False, False]
    # Holm's steps: the arm rejected first at alpha / 3, the rest (not rejected) at alpha / 2
    assert [c.ci_level for c in analysis.comparisons] == pytest.approx(
        [1 - 0.05 / 3, 1 - 0.05 / 2, 1 - 0.05 / 2]
    )
    assert analysis.ci_level is None
    bonferroni = analyze_ab_test("proportion", arms, correction="bonferroni")
    assert [c.p_adjusted for c in bonferroni.comparisons] == pytest.approx(
        [min(1.0, 3 * p) for p in raw]
    )
    assert bonferroni.ci_level == pytest.approx(1 - 0.05 / 3)
    uncorrected = analyze_ab_test("proportion", arms, correction="none")
    assert [c.p_adjusted for c in uncorrected.comparisons] == raw
    assert uncorrected.ci_level == pytest.approx(0.95)


def test_reading_before_the_planned_sample_warns_of_peeking() -> None:
    arms = proportion_arms((200, 10000), (245, 10000))
    early = analyze_ab_test("proportion", arms, planned_n_per_arm=[21109, 21109])
    assert early.peeking_warning is not None
    assert early.peeking_warning.startswith("Peeking: control has 10000 of its planned 21109")
    assert early.verdict == "incomplete"
    assert early.decision.startswith("Interim look only")
    on_time = analyze_ab_test("proportion", arms, planned_n_per_arm=10000)
    assert on_time.peeking_warning is None
    assert on_time.verdict == "significant"


def test_an_analysis_accepts_typed_arm_records_and_reports_the_whole_result() -> None:
    """Hand computation for 50/1000 in both arms: z = 0, p = 1; the score interval is symmetric
    here, [-0.0193933, +0.0193933] (score_interval above); log-ratio error
    sqrt(2 * 0.95 / (1000 * 0.05)) = 0.194936, so the relative interval is
    exp(-/+ 0.382067) - 1 = [-0.317551, +0.465311]."""
    arms = [
        ProportionArm(name="control", conversions=50, units=1000),
        ProportionArm(name="new_hook", conversions=50, units=1000),
    ]
    analysis = analyze_ab_test("proportion", arms)
    assert isinstance(analysis, AbTestAnalysis)
    comparison = analysis.comparisons[0].model_dump()
    assert comparison == {
        "arm": "new_hook",
        "control_value": 0.05,
        "arm_value": 0.05,
        "abs_lift": 0.0,
        "rel_lift": 0.0,
        "ci_low": pytest.approx(score_interval(50, 1000, 50, 1000, 0.95)[0], rel=1e-7),
        "ci_high": pytest.approx(score_interval(50, 1000, 50, 1000, 0.95)[1], rel=1e-7),
        "rel_ci_low": pytest.approx(-0.317551, rel=1e-5),
        "rel_ci_high": pytest.approx(0.465311, rel=1e-5),
        "ci_level": 0.95,
        "test": "pooled_z",
        "scale": "absolute",
        "statistic": 0.0,
        "df": None,
        "p_value": 1.0,
        "p_adjusted": 1.0,
        "significant": False,
        "improved": False,
    }
    assert analysis.comparisons[0].ci_low == pytest.approx(-0.0193933, rel=1e-5)
    assert analysis.units_per_arm == [1000, 1000]


def test_a_zero_control_rate_has_no_relative_lift() -> None:
    analysis = analyze_ab_test("proportion", proportion_arms((0, 1000), (5, 1000)))
    (comparison,) = analysis.comparisons
    assert comparison.rel_lift is None
    assert comparison.rel_ci_low is None
    assert comparison.abs_lift == pytest.approx(0.005)


BAD_ANALYSES: list[tuple[str, str, object, dict[str, Any], str]] = [
    ("one arm", "proportion", proportion_arms((1, 10)), {}, "arms"),
    ("arms as text", "proportion", "control,b", {}, "arms"),
    (
        "conversions above units",
        "proportion",
        proportion_arms((1, 10), (11, 10)),
        {},
        "arms[1].conversions",
    ),
    (
        "negative conversions",
        "proportion",
        proportion_arms((-1, 10), (1, 10)),
        {},
        "arms[0].conversions",
    ),
    ("zero units", "proportion", proportion_arms((0, 0), (1, 10)), {}, "arms[0].units"),
    (
        "fractional units",
        "proportion",
        [
            {"name": "control", "conversions": 1, "units": 10.5},
            {"name": "b", "conversions": 1, "units": 10},
        ],
        {},
        "arms[0].units",
    ),
    (
        "no conversions anywhere",
        "proportion",
        proportion_arms((0, 10), (0, 10)),
        {},
        "arms[1].conversions",
    ),
    ("negative sd", "mean", mean_arms((1.0, 1.0, 10), (1.0, -1.0, 10)), {}, "arms[1].sd"),
    ("one unit", "mean", mean_arms((1.0, 1.0, 10), (1.0, 1.0, 1)), {}, "arms[1].n"),
    ("NaN mean", "mean", mean_arms((NAN, 1.0, 10), (1.0, 1.0, 10)), {}, "arms[0].mean"),
    ("no spread anywhere", "mean", mean_arms((1.0, 0.0, 10), (2.0, 0.0, 10)), {}, "arms[1].sd"),
    (
        "a proportion arm in a mean test",
        "mean",
        proportion_arms((1, 10), (1, 10)),
        {},
        "arms[0].conversions",
    ),
    (
        "a missing field",
        "proportion",
        [{"name": "control", "conversions": 1}, {"name": "b", "conversions": 1, "units": 9}],
        {},
        "arms[0].units",
    ),
    (
        "duplicate names",
        "proportion",
        [
            {"name": "a", "conversions": 1, "units": 10},
            {"name": "a", "conversions": 1, "units": 10},
        ],
        {},
        "arms[1].name",
    ),
    ("unknown metric kind", "rate", proportion_arms((1, 10), (1, 10)), {}, "metric_kind"),
    (
        "unknown correction",
        "proportion",
        proportion_arms((1, 10), (1, 10)),
        {"correction": "fdr"},
        "correction",
    ),
    ("alpha of 0", "proportion", proportion_arms((1, 10), (1, 10)), {"alpha": 0.0}, "alpha"),
    (
        "allocation not summing to 1",
        "proportion",
        proportion_arms((1, 10), (1, 10)),
        {"planned_allocation": [0.6, 0.6]},
        "planned_allocation",
    ),
    (
        "planned n of the wrong length",
        "proportion",
        proportion_arms((1, 10), (1, 10)),
        {"planned_n_per_arm": [10]},
        "planned_n_per_arm",
    ),
    (
        "planned n of 0",
        "proportion",
        proportion_arms((1, 10), (1, 10)),
        {"planned_n_per_arm": 0},
        "planned_n_per_arm",
    ),
]


@pytest.mark.parametrize(
    ("metric_kind", "arms", "options", "field"),
    [
        pytest.param(kind, arms, options, field, id=case)
        for case, kind, arms, options, field in BAD_ANALYSES
    ],
)
def test_a_bad_analysis_argument_raises_an_experiment_error_naming_the_field(
    metric_kind: Any, arms: Any, options: Mapping[str, Any], field: str
) -> None:
    with pytest.raises(ExperimentError) as raised:
        analyze_ab_test(metric_kind, arms, **options)
    assert raised.value.field == field


def test_a_design_feeds_the_analysis_of_its_own_experiment() -> None:
    design: AbTestDesign = design_ab_test("proportion", 0.02, mde=0.2, daily_units=5000)
    arms = proportion_arms((422, 21109), (507, 21109))
    analysis = analyze_ab_test(
        "proportion",
        arms,
        planned_allocation=design.allocation,
        planned_n_per_arm=design.n_per_arm,
    )
    assert analysis.peeking_warning is None
    assert analysis.srm_p_value == pytest.approx(1.0)
    assert analysis.comparisons[0].significant
