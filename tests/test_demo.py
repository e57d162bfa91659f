"""The demo cohort: the shipped file is the generator's output, every record is valid and
internally consistent, and the generative story in the docstring holds."""

from __future__ import annotations

import json
import math
import re
import statistics
import subprocess
import sys
from collections import Counter
from importlib import resources
from typing import cast

import pytest

from kpi_core import InvalidValueError, parse_metrics, score
from kpi_core.demo import (
    CATEGORIES,
    DEMO_FILE,
    DEMO_SEED,
    MOMENTUM_MEAN,
    MOMENTUM_SD,
    NEXT_GMV_SIGMA,
    PERSISTENCE,
    STEP_SIGMA,
    DemoCreator,
    demo_cohort_rows,
    demo_creator_ids,
    demo_metrics,
    generate_demo_cohort,
    load_demo_cohort,
    main,
    render_demo_file,
)

#: Warnings a demo record may carry: missing KPIs are part of the design, and creators who report
#: rates report them without counts (so they are used as given); nothing else is.
EXPECTED_WARNINGS = {"kpis_imputed", "revenue_uncovered", "rates_as_given"}


def _periods(creators: list[DemoCreator]) -> list[dict[str, int | float | str]]:
    return [creator[period] for creator in creators for period in ("period_1", "period_2")]


def _number(metrics: dict[str, int | float | str], name: str) -> float:
    value = metrics[name]
    assert not isinstance(value, str)
    return float(value)


def test_the_generator_reproduces_the_shipped_file_byte_for_byte() -> None:
    shipped = resources.files("kpi_core").joinpath(DEMO_FILE).read_bytes()
    document = json.loads(shipped)
    regenerated = render_demo_file(document["seed"], len(document["creators"]))
    assert regenerated.encode("utf-8") == shipped
    assert main(["--check"]) == 0


def test_the_shipped_file_says_it_is_synthetic_and_names_its_generator() -> None:
    document = json.loads(resources.files("kpi_core").joinpath(DEMO_FILE).read_text("utf-8"))
    assert set(document) == {"generator", "seed", "synthetic", "description", "creators"}
    assert document["generator"] == "kpi_core.demo.generate_demo_cohort"
    assert document["seed"] == DEMO_SEED
    assert document["synthetic"] is True
    assert "Synthetic" in document["description"]
    assert "not real" in document["description"]


def size_band(follower_count: float) -> str:
    """DESIGN.md's follower tiers: nano < 10K, micro < 100K, mid < 500K, macro < 1M, mega."""
    for band, upper in (("nano", 1e4), ("micro", 1e5), ("mid", 5e5), ("macro", 1e6)):
        if follower_count < upper:
            return band
    return "mega"


def test_the_cohort_spans_forty_or_more_creators_all_five_size_bands_and_six_categories() -> None:
    cohort = load_demo_cohort()
    assert len(cohort) >= 40
    bands = Counter(size_band(creator["follower_count"]) for creator in cohort)
    assert set(bands) == {"nano", "micro", "mid", "macro", "mega"}
    assert min(bands.values()) >= 3
    categories = Counter(creator["category"] for creator in cohort)
    assert set(categories) == set(CATEGORIES)
    assert len(set(categories.values())) == 1


def test_creator_ids_are_readable_and_numbered_within_a_category_from_the_smallest_up() -> None:
    cohort = load_demo_cohort()
    ids = [creator["creator_id"] for creator in cohort]
    assert ids == sorted(ids) == demo_creator_ids()
    assert len(set(ids)) == len(ids)
    for creator in cohort:
        match = re.fullmatch(r"demo_([a-z]+)_(\d\d)", creator["creator_id"])
        assert match is not None
        assert match.group(1) == creator["category"]
        for period in ("period_1", "period_2"):
            assert creator[period]["creator_id"] == creator["creator_id"]
            assert creator[period]["category"] == creator["category"]
        assert creator["period_1"]["follower_count"] == creator["follower_count"]
    for category in CATEGORIES:
        sizes = [c["follower_count"] for c in cohort if c["category"] == category]
        assert sizes == sorted(sizes)


def test_every_period_of_every_creator_passes_validation_with_whole_counts() -> None:
    for metrics in _periods(load_demo_cohort()):
        parsed = parse_metrics(metrics)
        assert parsed.creator_id == metrics["creator_id"]
        for name in ("views", "orders", "follower_count", "likes", "product_clicks"):
            if name in metrics:
                assert type(metrics[name]) is int


def test_every_period_scores_without_a_derivation_disagreeing_with_a_given_value() -> None:
    """Given rates agree with the rates the core derives from given counts (tolerance 10%)."""
    for metrics in _periods(load_demo_cohort()):
        result = score(metrics)
        codes = {warning.code for warning in result.warnings}
        assert "derived_disagrees" not in codes
        assert codes <= EXPECTED_WARNINGS, (metrics["creator_id"], codes)


def test_a_large_generated_cohort_with_zero_sale_creators_is_valid_too() -> None:
    """Another seed and a bigger cohort reach corners the shipped one may miss (no orders)."""
    cohort = generate_demo_cohort(seed=7, count=96)
    assert any(metrics["orders"] == 0 for metrics in _periods(cohort))
    for metrics in _periods(cohort):
        codes = {warning.code for warning in score(metrics).warnings}
        assert codes <= EXPECTED_WARNINGS, (metrics["creator_id"], codes)


def test_some_creators_lack_whole_kpis_so_their_coverage_is_below_one() -> None:
    coverage = [score(creator["period_1"]).coverage for creator in load_demo_cohort()]
    lacking = [value for value in coverage if value < 1.0]
    assert len(lacking) >= 3
    assert len(lacking) <= len(coverage) / 2


def test_some_creators_report_engagement_as_counts_and_others_as_rates() -> None:
    first_periods = [creator["period_1"] for creator in load_demo_cohort()]
    counts_only = [m for m in first_periods if "likes" in m and "engagement_rate" not in m]
    rates_only = [m for m in first_periods if "engagement_rate" in m and "likes" not in m]
    both = [m for m in first_periods if "engagement_rate" in m and "likes" in m]
    assert counts_only
    assert rates_only
    assert both


def test_inside_every_period_gmv_is_views_times_ctr_times_conversion_times_order_value() -> None:
    """The funnel identity of DESIGN.md, with product impressions = views; exact up to the
    6-significant-digit rounding of the rates and the cents of the money (1e-4 relative)."""
    checked = 0
    for metrics in _periods(load_demo_cohort()):
        value = {
            name: _number(metrics, name)
            for name in metrics
            if name not in ("creator_id", "category")
        }
        assert value["gpm"] == pytest.approx(value["gmv"] / value["views"] * 1000, rel=1e-4)
        if "avg_order_value" in value:
            assert value["gmv"] == pytest.approx(
                value["orders"] * value["avg_order_value"], rel=1e-4
            )
        if "product_impressions" in value:
            assert value["product_impressions"] == value["views"]
            assert value["product_clicks"] == pytest.approx(
                value["product_impressions"] * value["product_ctr"], rel=1e-4
            )
            assert value["orders"] == pytest.approx(
                value["product_clicks"] * value["conversion_rate"], rel=1e-4, abs=1e-6
            )
        funnel = ("product_ctr", "conversion_rate", "avg_order_value")
        if all(name in value for name in funnel):
            product = value["views"] * math.prod(value[name] for name in funnel)
            assert value["gmv"] == pytest.approx(product, rel=1e-4)
            checked += 1
    assert checked >= 60


def test_next_period_gmv_is_the_funnel_times_momentum_and_the_stated_lognormal_noise() -> None:
    """The docstring's claim: log(next GMV / this period's funnel product) ~ N(0.02, 0.502),
    momentum N(MOMENTUM_MEAN, MOMENTUM_SD) plus the step noise N(0, NEXT_GMV_SIGMA).

    Checked on a generated cohort of 1200 with a fresh seed, keeping creators with at least 200
    period-1 orders so rounding orders to whole numbers adds under 0.3%. With n of about 450,
    the standard error of the sample sd is about sd / sqrt(2n) = 3.4% and of the mean about 0.024,
    so the bounds below (10% and 0.1) are about three standard errors.
    """
    cohort = generate_demo_cohort(seed=1, count=1200)
    log_ratios: list[float] = []
    for creator in cohort:
        now, later = creator["period_1"], creator["period_2"]
        if "product_ctr" not in now or _number(now, "orders") < 200:
            continue
        funnel = _number(now, "views") * math.prod(
            _number(now, name) for name in ("product_ctr", "conversion_rate", "avg_order_value")
        )
        log_ratios.append(math.log(_number(later, "gmv") / funnel))
    assert len(log_ratios) >= 300
    expected_sd = math.hypot(NEXT_GMV_SIGMA, MOMENTUM_SD)
    assert statistics.stdev(log_ratios) == pytest.approx(expected_sd, rel=0.10)
    assert statistics.fmean(log_ratios) == pytest.approx(MOMENTUM_MEAN, abs=0.10)


def test_the_docstring_states_the_noise_levels_the_generator_uses() -> None:
    story = generate_demo_cohort.__doc__
    assert story is not None
    for sigma in STEP_SIGMA.values():
        assert f"N(0, {sigma:.2f})" in story
    assert math.isclose(NEXT_GMV_SIGMA, 0.5)
    assert "e ~ N(0, 0.5)" in story
    assert f"m ~ N({MOMENTUM_MEAN:g}, {MOMENTUM_SD:g})" in story
    assert f"z_p = {PERSISTENCE:g} z_(p-1)" in story


def test_period_two_growth_rates_and_followers_follow_from_period_one() -> None:
    checked = 0
    for creator in load_demo_cohort():
        now, later = creator["period_1"], creator["period_2"]
        if "gmv_growth_rate" in later:
            expected = _number(later, "gmv") / _number(now, "gmv") - 1
            assert _number(later, "gmv_growth_rate") == pytest.approx(expected, abs=1e-4)
            checked += 1
        if "follower_growth_rate" in later:
            expected = round(
                _number(now, "follower_count") * (1 + _number(later, "follower_growth_rate"))
            )
            assert _number(later, "follower_count") == pytest.approx(expected, abs=1)
        if "engagement_rate_change" in later and "engagement_rate" in later:
            expected = _number(later, "engagement_rate") / _number(now, "engagement_rate") - 1
            assert _number(later, "engagement_rate_change") == pytest.approx(expected, abs=1e-3)
    assert checked >= 30


def test_period_one_scores_rank_next_period_gmv_so_weightings_can_be_compared() -> None:
    """Spearman from scipy.stats.spearmanr; above 0.3 under both schemes, so a comparison of
    weightings against next-period GMV has signal to work with (the outcome is never an input:
    the rows' next_gmv and next_orders are removed before scoring)."""
    from scipy.stats import spearmanr

    rows = demo_cohort_rows()
    next_gmv = [float(row.pop("next_gmv")) for row in rows]
    for row in rows:
        del row["next_orders"]
    for weighting in ("tiered", "equal"):
        scores = [score(row, weighting).overall_score for row in rows]
        correlation, _ = cast("tuple[float, float]", spearmanr(scores, next_gmv))
        assert correlation > 0.3, weighting


def test_the_same_seed_gives_the_same_cohort_and_another_seed_a_different_one() -> None:
    assert generate_demo_cohort(seed=3, count=12) == generate_demo_cohort(seed=3, count=12)
    assert generate_demo_cohort(seed=3, count=12) != generate_demo_cohort(seed=4, count=12)


def test_demo_metrics_gives_a_fresh_metrics_object_for_either_period() -> None:
    first = demo_metrics("demo_beauty_01")
    assert first == load_demo_cohort()[0]["period_1"]
    assert demo_metrics("demo_beauty_01", period=2) == load_demo_cohort()[0]["period_2"]
    first["gmv"] = -1.0
    assert demo_metrics("demo_beauty_01")["gmv"] != -1.0
    assert score(demo_metrics("demo_home_03")).creator_id == "demo_home_03"


def test_an_unknown_demo_id_is_an_invalid_value_naming_the_field_and_the_nearest_id() -> None:
    with pytest.raises(InvalidValueError) as caught:
        demo_metrics("demo_beauty_1")
    assert caught.value.field == "creator_id"
    assert caught.value.rule == "is not a demo creator"
    assert caught.value.value == "'demo_beauty_1'"
    hint = caught.value.problems[0].hint
    assert "did you mean demo_beauty_01?" in hint
    assert "demo_creator_ids()" in hint


def test_a_period_other_than_one_or_two_is_refused() -> None:
    with pytest.raises(InvalidValueError) as caught:
        demo_metrics("demo_beauty_01", period=3)
    assert caught.value.field == "period"


def test_cohort_rows_are_period_one_metrics_plus_next_period_outcomes() -> None:
    cohort = load_demo_cohort()
    rows = demo_cohort_rows()
    plain = demo_cohort_rows(outcome_fields=False)
    assert len(rows) == len(plain) == len(cohort)
    for creator, row, bare in zip(cohort, rows, plain, strict=True):
        assert bare == creator["period_1"]
        assert row == {
            **creator["period_1"],
            "next_gmv": creator["period_2"]["gmv"],
            "next_orders": creator["period_2"]["orders"],
        }


def test_importing_the_module_reads_no_file() -> None:
    probe = (
        "import kpi_core.demo as demo; "
        "assert demo._shipped.cache_info().currsize == 0; "
        "demo.demo_creator_ids(); "
        "assert demo._shipped.cache_info().currsize == 1"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
