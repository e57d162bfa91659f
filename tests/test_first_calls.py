"""First answers: what a call loads before it can answer, and the closed forms that spare it.

Timing is measured by `bench/bench_startup.py`, never here; these tests pin what makes it fast
(which modules a first call imports) and that nothing changed in the numbers on the way.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats

from kpi_core.experiments.statistics import chi2_sf, t_cdf, t_quantile, t_sf
from tests.conftest import ROOT

#: The README's analyze_ab_test example: two arms of counts.
README_ANALYSIS = {
    "metric_kind": "proportion",
    "arms": [
        {"name": "control", "conversions": 200, "units": 10000},
        {"name": "new hook", "conversions": 245, "units": 10000},
    ],
}


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 8, 11, 19, 30])
def test_the_closed_form_chi_square_tail_matches_scipy(df: int) -> None:
    """Oracle: scipy.stats.chi2.sf (cephes' incomplete gamma). The SRM check's p-value is
    pinned at rel 1e-9 elsewhere; the closed form agrees to 1e-12 from the body to 1e-300."""
    for statistic in np.concatenate([np.logspace(-6, 3, 120), [0.5, 1.0, 3.841458820694124]]):
        expected = float(scipy.stats.chi2.sf(statistic, df))
        if expected > 1e-300:
            assert chi2_sf(float(statistic), df) == pytest.approx(expected, rel=1e-12, abs=0)
    assert chi2_sf(0.0, df) == 1.0


@pytest.mark.parametrize("df", [1.0, 2.5, 7.0, 29.3, 400.0])
def test_students_t_from_scipy_special_gives_scipy_stats_numbers_exactly(df: float) -> None:
    """Oracle: scipy.stats.t, whose cdf, sf and ppf call the same scipy.special functions."""
    for statistic in np.linspace(-30.0, 30.0, 121):
        assert t_cdf(float(statistic), df) == float(scipy.stats.t.cdf(statistic, df))
        assert t_sf(float(statistic), df) == float(scipy.stats.t.sf(statistic, df))
    for probability in np.linspace(0.001, 0.999, 37):
        assert t_quantile(float(probability), df) == float(scipy.stats.t.ppf(probability, df))


def run_fresh(code: str) -> list[str]:
    """The modules a fresh interpreter has loaded after ``code`` (pandas, scipy, pyarrow)."""
    done = subprocess.run(
        [sys.executable, "-c", code + HEAVY_MODULES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


HEAVY_MODULES = (
    "\nimport json, sys\n"
    "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
    "{'pandas', 'scipy', 'pyarrow'})))\n"
)


def test_the_readme_analysis_answers_without_importing_scipy_pandas_or_pyarrow() -> None:
    code = (
        "import anyio\n"
        "from mcp import Client\n"
        "from server import build_server\n"
        "async def main():\n"
        "    async with Client(build_server()) as client:\n"
        f"        result = await client.call_tool('analyze_ab_test', {README_ANALYSIS!r})\n"
        "        assert not result.is_error, result.content\n"
        "anyio.run(main)\n"
    )
    assert run_fresh(code) == []
