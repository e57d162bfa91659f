"""The scoring core: golden creators, the single/vectorised agreement, and bad inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kpi_core import KPI_IDS, KpiError, load_catalogue, score, score_frame
from kpi_core.kernel import benchmark_values
from tests.cases import BAD_INPUTS, REALISTIC, SOURCE_PAYLOAD


def test_golden_creator_with_every_kpi_at_floor_midpoint_or_target() -> None:
    """One metric per KPI, each at its catalogue floor (0), midpoint (0.5) or target (1).

    Catalogue rows (floor -> target): gmv_growth_rate -0.3 -> 0.5 (at 0.5: 1);
    conversion_rate 0.005 -> 0.08 (at 0.0425: 0.5); live_gmv_share 0 -> 0.4 (at 0: 0);
    engagement_rate 0 -> 0.128 (at 0.128: 1); completion_rate 0.2 -> 0.6 (at 0.4: 0.5);
    follower_growth_rate -0.05 -> 0.15 (at -0.05: 0); fyp_traffic_share 0.2 -> 0.8 (at 0.8: 1);
    audience_match 0.3 -> 0.9 (at 0.6: 0.5); brand_safety_score 0.5 -> 0.95 (at 0.95: 1);
    trending_sound_share 0 -> 0.5 (at 0.25: 0.5); profile_completeness 0.4 -> 1 (at 0.4: 0);
    avg_views_per_video log 500 -> 500000 (at 500000: 1); cost_to_gmv 3.0 -> 0.2 (at 1.6: 0.5).

    Tiered overall = 100 x (0.30x1 + 0.15x0.5 + 0.10x0 + 0.10x1 + 0.06x0.5 + 0.05x0 + 0.04x1
    + 0.04x0.5 + 0.03x1 + 0.04x0.5 + 0.03x0 + 0.03x1 + 0.03x0.5)
    = 30 + 7.5 + 0 + 10 + 3 + 0 + 4 + 2 + 3 + 2 + 0 + 3 + 1.5 = 66.0 -> band "strong" (60-75).
    Tier subtotals: tier 1 = 30 + 7.5 + 0 = 37.5; tier 2 = 10 + 3 + 0 + 4 + 2 + 3 = 22;
    tier 3 = 2 + 0 + 3 + 1.5 = 6.5.
    Equal overall = 100 x (1+.5+0+1+.5+0+1+.5+1+.5+0+1+.5) / 13 = 750 / 13 = 57.6923...
    """
    metrics = {
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
        "cost_to_gmv": 1.6,
    }
    expected = [1, 0.5, 0, 1, 0.5, 0, 1, 0.5, 1, 0.5, 0, 1, 0.5]
    result = score(metrics)
    assert [item.score for item in result.kpis] == pytest.approx(expected, abs=1e-12)
    assert result.overall_score == pytest.approx(66.0, abs=1e-9)
    assert result.band == "strong"
    assert result.coverage == pytest.approx(1.0)
    assert result.revenue_coverage == pytest.approx(1.0)
    assert math.fsum(item.contribution for item in result.kpis) == pytest.approx(66.0, abs=1e-9)
    assert [tier.points for tier in result.tiers] == pytest.approx([37.5, 22.0, 6.5], abs=1e-9)
    assert score(metrics, "equal").overall_score == pytest.approx(750 / 13, abs=1e-9)


def test_golden_creator_with_missing_kpis_renormalises_over_the_weight_with_data() -> None:
    """Only two tier-1 KPIs have data: gmv_growth_rate at its target 0.5 (score 1) and
    conversion_rate at its floor 0.005 (score 0).

    coverage = 0.30 + 0.15 = 0.45; overall = 100 x (0.30x1 + 0.15x0) / 0.45 = 66.666...;
    effective weights 0.30/0.45 = 2/3 and 0.15/0.45 = 1/3; contributions 66.67 and 0;
    revenue_coverage = (30 + 15) / 55 = 0.81818... (tier 1 weighs 30 + 15 + 10 = 55 points).
    """
    result = score({"gmv_growth_rate": 0.5, "conversion_rate": 0.005})
    assert result.overall_score == pytest.approx(200 / 3, abs=1e-9)
    assert result.coverage == pytest.approx(0.45, abs=1e-12)
    assert result.revenue_coverage == pytest.approx(45 / 55, abs=1e-12)
    by_kpi = {item.kpi: item for item in result.kpis}
    assert by_kpi["sales_performance"].effective_weight == pytest.approx(2 / 3)
    assert by_kpi["shop_conversion"].effective_weight == pytest.approx(1 / 3)
    assert by_kpi["sales_performance"].contribution == pytest.approx(200 / 3)
    assert [item.kpi for item in result.kpis if item.score is None] == list(KPI_IDS[2:])
    assert {w.code for w in result.warnings} >= {"kpis_not_scored", "revenue_uncovered"}


def test_golden_creator_with_log_scaled_money_and_a_derived_order_value() -> None:
    """Sales only. gmv at its log target 100000 (score 1), orders at its log floor 5 (score 0),
    gmv_growth_rate at its midpoint 0.1 ((0.1 + 0.3) / 0.8 = 0.5). avg_order_value is not given,
    so it is derived: gmv / orders = 20000, above its target 80, so it scores 1.

    Sales = (0.45x1 + 0.15x0 + 0.10x1 + 0.20x0.5) / (0.45 + 0.15 + 0.10 + 0.20)
          = 0.65 / 0.90 = 0.7222...; units_sold is missing and does not count.
    Overall = 72.22... (coverage 0.30, so the single KPI carries all the weight).
    """
    result = score({"gmv": 100_000, "orders": 5, "gmv_growth_rate": 0.1})
    sales = result.kpis[0]
    assert sales.score == pytest.approx(0.65 / 0.9, abs=1e-12)
    assert result.overall_score == pytest.approx(65 / 0.9, abs=1e-9)
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
    assert result.creator_id == REALISTIC[name]["creator_id"]


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
        "band",
        "coverage",
        "revenue_coverage",
        *(f"{kpi}_score" for kpi in KPI_IDS),
    ]
    assert isinstance(table["band"].dtype, pd.CategoricalDtype)
