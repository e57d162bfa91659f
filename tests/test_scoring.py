"""The scoring core: golden creators, the single/vectorised agreement, and bad inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kpi_core import KPI_IDS, KpiError, load_catalogue, score, score_cohort, score_frame
from kpi_core.demo import demo_cohort_rows
from kpi_core.kernel import benchmark_values
from kpi_core.priors import load_priors
from kpi_core.scoring import score_answer
from tests.cases import BAD_INPUTS, REALISTIC, SOURCE_PAYLOAD
from tests.model_oracle import oracle_score

#: One metric per KPI, each at its catalogue floor (u = 0), midpoint (u = 0.5) or target (u = 1).
GOLDEN: dict[str, float] = {
    "follower_count": 50_000,
    "gmv_growth_rate": 0.5,
    "conversion_rate": 0.0425,
    "live_gmv_share": 0.0,
    "engagement_rate": 0.128,
    "completion_rate": 0.4,
    "follower_growth_rate": -0.05,
    "fyp_traffic_share": 0.8,
    "audience_match": 0.6,
    "brand_safety_score": 0.95,
    "trending_sound_share": 0.25,
    "profile_completeness": 0.4,
    "avg_views_per_video": 500_000,
    "cost_to_gmv": math.expm1((math.log1p(3.0) + math.log1p(0.2)) / 2),
}


def test_golden_creator_with_every_kpi_at_floor_midpoint_or_target() -> None:
    """With missing="renormalise" each KPI is its one metric's score s(u).

    Positions (catalogue rows, floor -> target): gmv_growth_rate log1p -0.3 -> 0.5 (0.5: u = 1);
    conversion_rate 0.005 -> 0.08 (0.0425: 0.5); live_gmv_share 0 -> 0.4 (0: 0);
    engagement_rate 0 -> 0.128 (0.128: 1); completion_rate 0.2 -> 0.6 (0.4: 0.5);
    follower_growth_rate -0.05 -> 0.15 (-0.05: 0); fyp_traffic_share 0.2 -> 0.8 (0.8: 1);
    audience_match 0.3 -> 0.9 (0.6: 0.5); brand_safety_score 0.5 -> 0.95 (0.95: 1);
    trending_sound_share 0 -> 0.5 (0.25: 0.5); profile_completeness 0.4 -> 1 (0.4: 0);
    avg_views_per_video log 500 -> 500000 (500000: 1); cost_to_gmv log1p 3.0 -> 0.2 (the
    log1p midpoint: 0.5). The saturation (knee 0.2) scores u = 0 as 0.2 - 0.2 x 0.2 / 0.4 = 0.1,
    u = 0.5 as 0.5 and u = 1 as 0.8 + 0.2 x 0.2 / 0.4 = 0.9.

    Tiered overall = 100 x (0.30x.9 + 0.15x.5 + 0.10x.1 + 0.10x.9 + 0.06x.5 + 0.05x.1 + 0.04x.9
    + 0.04x.5 + 0.03x.9 + 0.04x.5 + 0.03x.1 + 0.03x.9 + 0.03x.5)
    = 27 + 7.5 + 1 + 9 + 3 + 0.5 + 3.6 + 2 + 2.7 + 2 + 0.3 + 2.7 + 1.5 = 62.8 -> "strong".
    Tier subtotals: 35.5, 20.8, 6.5. Equal = 100 x (5 x 0.9 + 5 x 0.5 + 3 x 0.1) / 13 = 56.1538.
    """
    expected = [0.9, 0.5, 0.1, 0.9, 0.5, 0.1, 0.9, 0.5, 0.9, 0.5, 0.1, 0.9, 0.5]
    result = score(GOLDEN, missing="renormalise")
    assert [item.score for item in result.kpis] == pytest.approx(expected, abs=1e-12)
    assert result.overall_score == pytest.approx(62.8, abs=1e-9)
    assert result.band == "strong"
    assert result.coverage == pytest.approx(1.0)
    assert result.revenue_coverage == pytest.approx(1.0)
    assert math.fsum(item.contribution for item in result.kpis) == pytest.approx(62.8, abs=1e-9)
    assert [tier.points for tier in result.tiers] == pytest.approx([35.5, 20.8, 6.5], abs=1e-9)
    equal = score(GOLDEN, "equal", missing="renormalise")
    assert equal.overall_score == pytest.approx(730 / 13, abs=1e-9)


def test_the_default_counts_every_missing_metric_at_its_prior_as_the_oracle_does() -> None:
    """The same creator with missing="benchmark": its 30 missing metrics take their priors,
    conditioned on the 13 given; the independent oracle (tests/model_oracle.py) gives the same
    KPI scores and overall score. Every KPI has data, so coverage is 1 and nothing is imputed,
    and every nominal weight counts: effective weights are the nominal ones."""
    result = score(GOLDEN)
    oracle = oracle_score(GOLDEN)
    assert [item.score for item in result.kpis] == pytest.approx(
        [oracle.kpis[kpi] for kpi in KPI_IDS], abs=1e-9
    )
    assert result.overall_score == pytest.approx(oracle.overall, abs=1e-7)
    assert result.coverage == pytest.approx(1.0)
    assert not any(item.imputed for item in result.kpis)
    assert [item.effective_weight for item in result.kpis] == pytest.approx(
        [item.weight for item in result.kpis]
    )
    low, high = result.score_interval.low, result.score_interval.high
    assert low < result.overall_score < high
    assert result.score_interval.level == 0.8


def test_golden_creator_with_missing_kpis_renormalises_over_the_weight_with_data() -> None:
    """Only two tier-1 KPIs have data: gmv_growth_rate at its target 0.5 (score 0.9) and
    conversion_rate at its floor 0.005 (score 0.1).

    With missing="renormalise": coverage = 0.30 + 0.15 = 0.45; overall = 100 x (0.30 x 0.9 +
    0.15 x 0.1) / 0.45 = 63.333...; effective weights 2/3 and 1/3; contributions 60 and 3.333;
    revenue_coverage = (30 + 15) / 55 = 0.81818... (tier 1 weighs 30 + 15 + 10 = 55 points).
    """
    metrics = {"gmv_growth_rate": 0.5, "conversion_rate": 0.005}
    result = score(metrics, missing="renormalise")
    assert result.overall_score == pytest.approx(190 / 3, abs=1e-9)
    assert result.coverage == pytest.approx(0.45, abs=1e-12)
    assert result.revenue_coverage == pytest.approx(45 / 55, abs=1e-12)
    by_kpi = {item.kpi: item for item in result.kpis}
    assert by_kpi["sales_performance"].effective_weight == pytest.approx(2 / 3)
    assert by_kpi["shop_conversion"].effective_weight == pytest.approx(1 / 3)
    assert by_kpi["sales_performance"].contribution == pytest.approx(60.0)
    assert [item.kpi for item in result.kpis if item.score is None] == list(KPI_IDS[2:])
    assert {w.code for w in result.warnings} >= {"kpis_not_scored", "revenue_uncovered"}

    default = score(metrics)
    assert default.coverage == pytest.approx(0.45, abs=1e-12)
    assert [item.kpi for item in default.kpis if item.imputed] == list(KPI_IDS[2:])
    assert all(item.score is not None for item in default.kpis)
    assert math.fsum(item.contribution for item in default.kpis) == pytest.approx(
        default.overall_score, abs=1e-9
    )
    assert {w.code for w in default.warnings} >= {"kpis_imputed", "revenue_uncovered"}
    assert default.overall_score < result.overall_score


def test_golden_creator_with_log_scaled_money_and_a_derived_order_value() -> None:
    """Sales only, missing="renormalise". gmv at its log target 100000 (u = 1, score 0.9),
    orders at its log floor 5 (u = 0, score 0.1), gmv_growth_rate 0.1: u = (log1p 0.1 - log1p
    -0.3) / (log1p 0.5 - log1p -0.3) = 0.593047. avg_order_value is derived: gmv / orders =
    20000, u = (log1p 20000 - log1p 10) / (log1p 80 - log1p 10) = 3.759409, far above its target:
    d = u - 0.8, score 0.8 + 0.2 d / (d + 0.2) = 0.987339.

    Sales = (0.45 x 0.9 + 0.15 x 0.1 + 0.10 x 0.987340 + 0.20 x 0.593030) / 0.90; units_sold is
    missing and does not count.
    """

    def position(value: float, floor: float, target: float) -> float:
        return (math.log1p(value) - math.log1p(floor)) / (math.log1p(target) - math.log1p(floor))

    growth = position(0.1, -0.3, 0.5)
    aov_u = position(20_000, 10, 80)
    aov = 0.8 + 0.2 * (aov_u - 0.8) / (aov_u - 0.8 + 0.2)
    expected = (0.45 * 0.9 + 0.15 * 0.1 + 0.10 * aov + 0.20 * growth) / 0.9
    assert (growth, aov) == pytest.approx((0.593047, 0.987339), abs=1e-6)
    result = score({"gmv": 100_000, "orders": 5, "gmv_growth_rate": 0.1}, missing="renormalise")
    sales = result.kpis[0]
    assert sales.score == pytest.approx(expected, abs=1e-12)
    assert result.overall_score == pytest.approx(100 * expected, abs=1e-9)
    components = {component.metric: component for component in sales.components}
    assert components["avg_order_value"].derived
    assert components["avg_order_value"].value == pytest.approx(20_000)
    assert components["units_sold"].value is None


def test_the_source_documents_payload_scores_with_partial_coverage() -> None:
    result = score(SOURCE_PAYLOAD)
    assert 0 < result.coverage < 1
    assert 0 < result.overall_score <= 100
    sales = next(item for item in result.kpis if item.kpi == "sales_performance")
    gmv = next(c for c in sales.components if c.metric == "gmv")
    assert gmv.value == SOURCE_PAYLOAD["total_revenue"]


@pytest.mark.parametrize("name", sorted(REALISTIC))
def test_realistic_creators_score_with_contributions_that_sum_to_the_overall(name: str) -> None:
    result = score(REALISTIC[name])
    assert math.fsum(item.contribution for item in result.kpis) == pytest.approx(
        result.overall_score, abs=1e-9
    )
    assert math.fsum(item.effective_weight for item in result.kpis) == pytest.approx(1.0)
    assert result.creator_id == f"{REALISTIC[name]['creator_id']}"


def test_a_given_value_that_disagrees_with_its_derivation_is_kept_with_a_warning() -> None:
    """engagement_rate given as 0.10 while (100+10+5+5)/1000 = 0.12 (20% apart > 10%)."""
    metrics = {
        "engagement_rate": 0.10,
        "likes": 100,
        "comments": 10,
        "shares": 5,
        "saves": 5,
        "views": 1000,
    }
    result = score(metrics)
    engagement = result.kpis[3]
    rate = next(c for c in engagement.components if c.metric == "engagement_rate")
    assert rate.value == 0.10
    assert not rate.derived
    assert [w.field for w in result.warnings if w.code == "derived_disagrees"] == [
        "engagement_rate"
    ]


def test_size_dependent_benchmarks_follow_the_cited_engagement_bands() -> None:
    """[bands]: 5.6% under 5K (anchor 10^3), 3.1% at 20-100K (anchor 10^4.65), 1.2% above 1M
    (anchor 10^6.5); midway between 10^4 (4.3%) and 10^4.65 on the log axis the benchmark is
    the mean of the two anchors: (4.3 + 3.1) / 2 = 3.7%."""
    result = score({"follower_count": 1_000, "engagement_rate": 0.05})
    shown = next(c for c in result.kpis[3].components if c.metric == "engagement_rate")
    assert shown.benchmark == pytest.approx(0.056)

    metric = load_catalogue().metrics["engagement_rate"]
    sizes = np.array([3.0, 4.65, 6.5, 4.325, 8.0, 1.0])
    expected = [0.056, 0.031, 0.012, 0.037, 0.012, 0.056]
    assert benchmark_values(metric, sizes) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("case", "metrics", "weighting", "field"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS]
)
def test_bad_input_raises_the_cores_error_naming_the_field(
    case: str, metrics: Any, weighting: Any, field: str
) -> None:
    with pytest.raises(KpiError) as caught:
        score(metrics, weighting)
    assert caught.value.field == field, case
    assert field.split(".", maxsplit=1)[0] in str(caught.value)


def test_a_fraction_given_as_percent_suggests_the_fraction() -> None:
    with pytest.raises(KpiError, match=r"did you mean 0\.05\?"):
        score({"conversion_rate": 5.0})


def test_an_unknown_field_suggests_the_nearest_known_name() -> None:
    with pytest.raises(KpiError, match="did you mean conversion_rate"):
        score({"conversion_rte": 0.03})


def test_every_problem_in_one_record_is_reported_at_once() -> None:
    with pytest.raises(KpiError) as caught:
        score({"conversion_rate": 5.0, "orders": -1, "views": "many"})
    assert caught.value.fields == ("conversion_rate", "orders", "views")


def test_long_values_are_truncated_in_errors() -> None:
    with pytest.raises(KpiError) as caught:
        score({"gmv": 1.0, "creator_id": "y" * 10_000})
    assert len(str(caught.value)) < 200


def test_a_converted_currency_is_reported_as_the_currency_its_numbers_are_in() -> None:
    """100 EUR at 1.1 USD/EUR is 110 USD: the same score as gmv 110 in USD, and the result says
    USD (its gmv component is 110), with a warning naming the currency it was converted from."""
    in_eur = score({"gmv": 100.0}, currency="EUR", fx_to_default={"EUR": 1.1})
    in_usd = score({"gmv": 110.0})
    assert in_eur.overall_score == pytest.approx(in_usd.overall_score, abs=1e-12)
    assert in_eur.currency == "USD"
    gmv = next(c for c in in_eur.kpis[0].components if c.metric == "gmv")
    assert gmv.value == pytest.approx(110.0, abs=1e-12)
    converted = [w for w in in_eur.warnings if w.code == "currency_converted"]
    assert [(w.field, w.message) for w in converted] == [
        (
            "currency",
            "Money fields were converted from EUR to USD at the configured rate before scoring.",
        )
    ]


# ---------------------------------------------------------------------------------------------
# one kernel: the single path and the vectorised path agree


def random_creators(count: int, seed: int, missing: float = 0.35) -> pd.DataFrame:
    """Random valid creators over every numeric metric, each value missing with prob `missing`."""
    rng = np.random.default_rng(seed)
    catalogue = load_catalogue()
    data: dict[str, Any] = {}
    for metric in catalogue.metrics.values():
        if not metric.is_numeric:
            continue
        if metric.kind == "count":
            values = np.floor(np.minimum(rng.lognormal(6, 2.5, count), metric.high))
        elif metric.kind == "money":
            values = rng.lognormal(4, 2.5, count)
        elif metric.kind == "fraction":
            values = rng.uniform(0, 1, count)
        else:
            values = rng.uniform(metric.low, min(metric.high, max(metric.low + 2, 3)), count)
        values[rng.uniform(size=count) < missing] = np.nan
        data[metric.name] = values
    frame = pd.DataFrame(data)
    frame.insert(0, "creator_id", [f"c{i}" for i in range(count)])
    return frame


#: The 10,000 random creators of the agreement test, checked in 4 chunks so xdist can spread them.
AGREEMENT_CREATORS = 10_000
AGREEMENT_CHUNKS = 4


@pytest.fixture(scope="session")
def agreement_cohort() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The 10,000 random creators (seed 11) and score_frame() over all of them, made once per
    session (per xdist worker), whichever chunks that session runs."""
    frame = random_creators(AGREEMENT_CREATORS, seed=11)
    return frame, score_frame(frame, components=True)


@pytest.mark.parametrize("chunk", range(AGREEMENT_CHUNKS))
def test_score_and_score_frame_agree_to_1e12_on_10000_random_creators(
    chunk: int, agreement_cohort: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """Each chunk scores its quarter of the same 10,000 creators one by one with score() and
    compares with score_frame() over all 10,000 at once (the session's agreement_cohort)."""
    frame, table = agreement_cohort
    numeric = [name for name in frame.columns if name != "creator_id"]
    size = AGREEMENT_CREATORS // AGREEMENT_CHUNKS
    rows = range(chunk * size, (chunk + 1) * size)
    values_by_row = frame[numeric].to_numpy()
    column = {name: table[name].to_numpy() for name in table.columns if name != "band"}
    bands = table["band"].astype(str).to_numpy()
    worst = 0.0
    checked = 0
    for row in rows:
        values = values_by_row[row]
        metrics = {
            name: float(v) for name, v in zip(numeric, values, strict=True) if not np.isnan(v)
        }
        try:
            single = score(metrics)
        except KpiError:
            assert np.isnan(column["overall_score"][row])
            continue
        checked += 1
        worst = max(worst, abs(single.overall_score - column["overall_score"][row]))
        for k, item in enumerate(single.kpis):
            vectorised = column[f"{KPI_IDS[k]}_score"][row]
            if item.score is None:
                assert np.isnan(vectorised)
            else:
                worst = max(worst, abs(item.score - vectorised))
            worst = max(worst, abs(item.contribution - column[f"{KPI_IDS[k]}_contribution"][row]))
        assert single.band == bands[row]
        assert single.coverage == pytest.approx(column["coverage"][row], abs=1e-12)
    assert checked > 0.9 * size
    assert worst <= 1e-12


def test_score_frame_raises_naming_the_column_and_row_of_a_bad_value() -> None:
    frame = pd.DataFrame({"gmv": [10.0, 20.0], "conversion_rate": [0.02, 3.0]})
    with pytest.raises(KpiError, match=r"conversion_rate .* in row 1") as caught:
        score_frame(frame)
    assert caught.value.field == "conversion_rate"


def test_score_frame_can_reject_bad_rows_and_score_the_rest() -> None:
    frame = pd.DataFrame({"gmv": [10.0, 20.0, 30.0], "conversion_rate": [0.02, 3.0, -1.0]})
    table = score_frame(frame, on_invalid="reject")
    assert not np.isnan(table["overall_score"].iloc[0])
    assert np.isnan(table["overall_score"].iloc[1:]).all()
    assert pd.isna(table["rejected"].iloc[0])
    assert "conversion_rate must be a fraction" in table["rejected"].iloc[1]
    assert "did you mean 0.03?" in table["rejected"].iloc[1]


def test_score_frame_without_components_has_the_documented_columns() -> None:
    table = score_frame(random_creators(50, seed=3))
    assert list(table.columns) == [
        "creator_id",
        "overall_score",
        "score_low",
        "score_high",
        "band",
        "coverage",
        "revenue_coverage",
        *(f"{kpi}_score" for kpi in KPI_IDS),
    ]
    assert isinstance(table["band"].dtype, pd.CategoricalDtype)


# ---------------------------------------------------------------------------------------------
# thin and noisy data: priors, shrinkage, intervals, ranking power


def _shop(result: Any) -> Any:
    return next(item for item in result.kpis if item.kpi == "shop_conversion")


def test_a_rate_from_few_clicks_is_shrunk_toward_its_benchmark_and_widens_its_interval() -> None:
    """1 order from 10 clicks and 100 from 1,000 have the same raw rate, 0.1. With the prior
    strength k of conversion_rate (priors.json) and its benchmark 0.03 (catalogue.toml), the
    beta-binomial estimate is (orders + 0.03 k) / (clicks + k): the 10-click one sits closer to
    0.03 and its interval is wider; 10,000 from 100,000 clicks keeps 0.100 to 3 decimals."""
    kappa = load_priors().strength["conversion_rate"]
    estimates = {}
    widths = {}
    for orders, clicks in ((1, 10), (100, 1_000), (10_000, 100_000)):
        result = score({"follower_count": 50_000, "orders": orders, "product_clicks": clicks})
        kpi = _shop(result)
        rate = next(c for c in kpi.components if c.metric == "conversion_rate")
        assert rate.value == pytest.approx(0.1)
        assert rate.shrunk
        assert rate.trials == clicks
        assert rate.estimate == pytest.approx((orders + 0.03 * kappa) / (clicks + kappa))
        estimates[clicks] = rate.estimate
        widths[clicks] = kpi.score_high - kpi.score_low
    assert abs(estimates[10] - 0.03) < abs(estimates[1_000] - 0.03)
    assert widths[10] > widths[1_000]
    assert round(estimates[100_000], 3) == 0.1


def test_a_rate_given_without_its_counts_is_used_as_given_and_said_so() -> None:
    result = score({"follower_count": 50_000, "conversion_rate": 0.1})
    rate = next(c for c in _shop(result).components if c.metric == "conversion_rate")
    assert (rate.value, rate.estimate, rate.shrunk, rate.trials) == (0.1, 0.1, False, None)
    warning = next(w for w in result.warnings if w.code == "rates_as_given")
    assert warning.message == (
        "conversion_rate came without its counts, so it is used as given (not shrunk)."
    )


@pytest.mark.parametrize("followers", [None, 50_000, 5_000_000])
def test_more_gmv_always_scores_higher_far_beyond_the_target(followers: int | None) -> None:
    """The target of gmv is 100,000; 2M, 20M and 200M still rank in order (soft saturation),
    with and without follower_count, the other metrics the same."""
    base = {"conversion_rate": 0.03, "engagement_rate": 0.03}
    if followers is not None:
        base["follower_count"] = followers
    scores = [score({**base, "gmv": gmv}).overall_score for gmv in (2e6, 2e7, 2e8)]
    assert scores[0] < scores[1] < scores[2]
    alone = [score({"gmv": gmv}).overall_score for gmv in (2e6, 2e7, 2e8)]
    assert alone[0] < alone[1] < alone[2]


def test_thin_creators_no_longer_outrank_fully_measured_ones_with_twice_their_gmv() -> None:
    """Issue 15's creators: gmv 60,000 alone, and gmv 20,000 with a 6% conversion rate, scored
    in a cohort with the 48 demo creators. Every fully measured demo creator (coverage 1) with
    at least twice their GMV ranks above them."""
    rows: list[dict[str, Any]] = [dict(row) for row in demo_cohort_rows(outcome_fields=False)]
    rows.append({"creator_id": "gmv_only", "gmv": 60_000})
    rows.append({"creator_id": "two_metrics", "gmv": 20_000, "conversion_rate": 0.06})
    ranked = score_cohort(rows, top_n=50).leaderboard
    rank = {entry.creator_id: entry.rank for entry in ranked}
    checked = 0
    for thin, gmv in (("gmv_only", 60_000), ("two_metrics", 20_000)):
        for demo in rows[:-2]:
            full = next(e for e in ranked if e.creator_id == demo["creator_id"])
            if full.coverage > 1 - 1e-9 and float(demo["gmv"]) >= 2 * gmv:
                assert rank[str(demo["creator_id"])] < rank[thin], (thin, demo["creator_id"])
                checked += 1
    assert checked >= 8


def test_the_gmv_only_interval_is_at_least_three_times_a_well_measured_creators() -> None:
    widths = []
    for row in demo_cohort_rows(outcome_fields=False):
        result = score(row)
        if result.coverage >= 0.85:
            widths.append(result.score_interval.high - result.score_interval.low)
    thin = score({"gmv": 60_000}).score_interval
    assert len(widths) >= 30
    assert thin.high - thin.low >= 3 * float(np.median(widths))


def test_the_summary_gives_the_interval_and_says_when_it_spans_bands() -> None:
    result = score({"gmv": 60_000})
    low, high = result.score_interval.low, result.score_interval.high
    first = result.summary.splitlines()[0]
    assert first == (
        f"This creator scores {result.overall_score:.0f} (80% interval {low:.0f}-{high:.0f}) "
        f"out of 100: {result.band}."
    )
    catalogue = load_catalogue()
    assert result.band == catalogue.band(result.overall_score)
    assert catalogue.band(low) != catalogue.band(high)
    assert "the interval spans" in result.summary
    assert "so the band is not settled" in result.summary


def test_missing_renormalise_keeps_the_old_optimistic_score_and_is_named() -> None:
    thin = {"gmv": 60_000}
    assert score(thin, missing="renormalise").overall_score > score(thin).overall_score
    with pytest.raises(KpiError) as caught:
        score(thin, missing="optimistic")  # type: ignore[arg-type]
    assert caught.value.field == "missing"


# ---------------------------------------------------------------------------------------------
# score_creator's compact answer


@pytest.mark.parametrize("name", ["source_payload", *sorted(REALISTIC)])
def test_the_compact_answer_is_small_rounded_and_its_contributions_add_up(name: str) -> None:
    metrics = SOURCE_PAYLOAD if name == "source_payload" else REALISTIC[name]
    answer = score_answer(metrics)
    data = answer.model_dump(mode="json")
    assert len(json.dumps(data, separators=(",", ":")).encode()) <= 3000
    assert set(data["kpis"][0]) == {
        "kpi",
        "score",
        "benchmark_score",
        "weight",
        "contribution",
        "imputed",
    }
    for item in answer.kpis:
        for value in (item.score, item.benchmark_score, item.weight):
            assert value is not None
            assert value == float(f"{value:.4g}")
    total = math.fsum(item.contribution for item in answer.kpis)
    assert abs(total - answer.overall_score) <= 0.01
    exact = score(metrics)
    assert answer.overall_score == pytest.approx(exact.overall_score, rel=1e-3)
    assert answer.score_interval == exact.score_interval


def test_the_full_answer_adds_intervals_labels_and_components_per_kpi() -> None:
    answer = score_answer(SOURCE_PAYLOAD, detail="full")
    first = answer.kpis[0]
    assert (first.tier, first.label) == (1, "Sales performance")
    assert first.score_low is not None
    assert first.score_high is not None
    assert first.components
    assert first.score_low <= (first.score or 0.0) <= first.score_high
    assert {c.metric for c in first.components} == set(load_catalogue().kpis[first.kpi].metrics)


def test_the_readmes_library_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's "As a Python library" block, run as a reader would paste it (in an empty
    directory: it writes the demo creators to creators.parquet itself, then scores them)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## As a Python library") :]
    block = section[section.index("```python\n") + len("```python\n") :]
    block = block[: block.index("```")]
    monkeypatch.chdir(tmp_path)
    names: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), names)  # the README's own example
    table = names["table"]
    assert len(table) == 48
    assert table["creator_id"].is_unique
    # the columns the example's comment promises
    promised = ["creator_id", "overall_score", "band", "coverage", "revenue_coverage"]
    assert set(promised + [f"{kpi}_score" for kpi in KPI_IDS]) <= set(table.columns)
    assert 0.0 <= names["result"].overall_score <= 100.0
