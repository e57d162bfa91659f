"""The intervals cover what they claim, checked by simulation (derandomised: fixed seeds that
neither the reference population's fit nor any other test uses).

The experiments are those of :mod:`kpi_core.calibration`; ``python -m bench.bench_calibration``
runs them on 10,000 creators and prints every figure.
"""

from __future__ import annotations

import pytest

from kpi_core.calibration import MaskingReport, masking_experiment, rate_calibration
from kpi_core.fit_priors import REFERENCE_SEED

MASKING_SEED = 7_100_001
RATE_SEED = 7_100_002


@pytest.fixture(scope="module")
def masking() -> MaskingReport:
    assert MASKING_SEED != REFERENCE_SEED
    return masking_experiment(MASKING_SEED, 1_500)


def test_masked_creators_intervals_cover_their_full_data_score_at_the_nominal_rate(
    masking: MaskingReport,
) -> None:
    """1,500 fully measured creators, each with a random 10% to 90% of its fields kept: the
    full-data score lies inside the masked version's 80% interval within 5 points of 80%
    overall and within 8 points in each stratum of the kept fraction."""
    assert masking.level == 0.8
    assert masking.count >= 1_000
    assert abs(masking.coverage - masking.level) <= 0.05
    for label, (coverage, count) in masking.strata.items():
        assert count >= 300, label
        assert abs(coverage - masking.level) <= 0.08, label
    # thinner data, wider intervals
    widths = masking.median_width
    assert widths["kept < 0.4"] > widths["kept 0.4-0.7"] > widths["kept > 0.7"]


def test_public_only_and_shop_only_creators_are_covered_at_the_nominal_rate(
    masking: MaskingReport,
) -> None:
    """Keeping only the public fields (followers, views, interactions, posting), or only the
    shop fields (no follower count): coverage within 8 points of 80%."""
    assert abs(masking.public_coverage - masking.level) <= 0.08
    assert abs(masking.shop_coverage - masking.level) <= 0.08


def test_a_shifted_population_is_still_covered_within_eight_points(
    masking: MaskingReport,
) -> None:
    """Counts and money x LogNormal(0, 0.5), fractions x LogNormal(0, 0.25): not the
    population the priors were fitted on; coverage stays within 8 points of 80%."""
    assert abs(masking.shifted_coverage - masking.level) <= 0.08


def test_masked_point_scores_are_closer_to_the_full_data_scores_than_renormalising(
    masking: MaskingReport,
) -> None:
    assert masking.mae_benchmark < masking.mae_renormalise


def test_kpi_intervals_from_binomial_counts_cover_the_true_kpi_at_the_nominal_rate() -> None:
    """True CTR, conversion and refund rates from their priors, binomial counts from them: the
    Shop conversion interval covers the KPI score of the true rates within 3 points of 80%."""
    report = rate_calibration(RATE_SEED, 3_000)
    assert abs(report.coverage - report.level) <= 0.03
