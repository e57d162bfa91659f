"""Fit the scoring model's priors on the reference population and write ``data/priors.json``.

``python -m kpi_core.fit_priors`` rewrites the file; ``--check`` only compares (a test runs it).

The reference population is :func:`kpi_core.demo.reference_population` with ``REFERENCE_SEED``
and ``REFERENCE_COUNT`` (seeds no test uses): fully measured synthetic creators from the demo's
generative story, sizes log-uniform from 1K to 10M followers. For each scored metric the fit
computes the position ``u`` of every creator's value (after derivations, as the kernel computes
them) and its residual ``r = u - b(x)`` around the catalogue's benchmark at the creator's size
``x = log10(follower_count)``. Rows with a missing or infinite residual (a rate with a zero
denominator) are left out. The file records, per metric, the residual standard deviation
(``sd``) and mean (``offset``: how far the benchmark sits from the population, in positions),
the residual correlations, and for each shrunk rate the beta-binomial prior strength
``k = mean(b (1 - b)) / mean((p - b)^2) - 1`` (method of moments on the rates ``p`` around their
benchmarks ``b``; the population's rates are exact ratios of its counts, so their spread is the
spread of true rates). Figures are rounded to 6 significant digits so the file is stable.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kpi_core.catalogue import load_catalogue
from kpi_core.demo import reference_population
from kpi_core.kernel import benchmark_values, derive
from kpi_core.priors import PRIORS_FILE, position, position_of_benchmarks

__all__ = ["REFERENCE_COUNT", "REFERENCE_SEED", "fit_priors", "main", "render_priors"]

FloatArray = npt.NDArray[np.float64]

#: The reference population's seed and size. Tests and benchmarks draw other seeds.
REFERENCE_SEED = 5_150_001
REFERENCE_COUNT = 40_000

SOURCE = (
    "Fitted on the reference population: kpi_core.demo.reference_population(seed, count), "
    "fully measured synthetic creators of the demo generator (not real data), sizes "
    "log-uniform from 1K to 10M followers. sd, offset and correlation are of the residual "
    "positions u - b(x) around the catalogue's benchmarks; strength is the beta-binomial prior "
    "strength of each shrunk rate (method of moments). See kpi_core/fit_priors.py."
)


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def fit_priors(seed: int = REFERENCE_SEED, count: int = REFERENCE_COUNT) -> dict[str, object]:
    """The document written to ``data/priors.json`` for this reference population."""
    catalogue = load_catalogue()
    population = reference_population(seed, count)
    values, _ = derive(population, catalogue)
    size = np.log10(population["follower_count"])
    scored = catalogue.scored_metrics
    residuals = np.column_stack(
        [position(m, values[m.name]) - position_of_benchmarks(m, size) for m in scored]
    )
    kept = np.isfinite(residuals).all(axis=1)
    residuals = residuals[kept]
    offset = residuals.mean(axis=0)
    sd = residuals.std(axis=0, ddof=1)
    correlation: FloatArray = np.asarray(np.corrcoef(residuals, rowvar=False), dtype=np.float64)
    strength: dict[str, float] = {}
    for name in catalogue.shrinkage:
        rates = values[name]
        bench = benchmark_values(catalogue.metrics[name], size)
        ok = np.isfinite(rates)
        spread = float(np.mean((rates[ok] - bench[ok]) ** 2))
        strength[name] = _round(float(np.mean(bench[ok] * (1.0 - bench[ok]))) / spread - 1.0)
    return {
        "source": SOURCE,
        "command": "python -m kpi_core.fit_priors",
        "seed": seed,
        "count": count,
        "rows_used": int(kept.sum()),
        "model_version": catalogue.model_version,
        "metrics": [m.name for m in scored],
        "metric": {
            m.name: {
                "sd": _round(float(sd[j])),
                "offset": _round(float(offset[j])),
                "offset_in_sd": _round(float(offset[j] / sd[j])),
            }
            for j, m in enumerate(scored)
        },
        "correlation": [
            [_round(float(correlation[i, j])) for j in range(len(scored))]
            for i in range(len(scored))
        ],
        "strength": strength,
    }


def render_priors(seed: int = REFERENCE_SEED, count: int = REFERENCE_COUNT) -> str:
    """The exact text of ``data/priors.json``."""
    return json.dumps(fit_priors(seed, count), indent=1) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kpi_core.fit_priors``: rewrite the priors; ``--check``: only compare."""
    parser = argparse.ArgumentParser(
        prog="python -m kpi_core.fit_priors",
        description="Fit the scoring model's priors on the reference population.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the shipped priors are not what the fit makes (write nothing)",
    )
    args = parser.parse_args(argv)
    path = Path(__file__).parent / PRIORS_FILE
    text = render_priors()
    if args.check:
        current = path.read_text("utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run python -m kpi_core.fit_priors", file=sys.stderr)
            return 1
        print(f"{path} is up to date", file=sys.stderr)
        return 0
    path.write_text(text, "utf-8")
    print(f"wrote {path} ({len(text.encode())} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
