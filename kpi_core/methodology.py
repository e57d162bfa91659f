"""The scoring model's method, generated from the live catalogue, priors and weights.

``python -m kpi_core.methodology`` writes ``docs/methodology.md`` (``--check`` only compares and
exits 1 when the committed file is stale), so the document never drifts from the code: every
figure in it is read here from :func:`~kpi_core.catalogue.load_catalogue`,
:func:`~kpi_core.priors.load_priors`, :func:`~kpi_core.priors.prior_model` and the weighting
schemes. :func:`model_section` is the same facts in short, for the ``model`` section of the
``kpi://metrics`` resource. The prose is the template ``prompts/templates/methodology.md.j2``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kpi_core.catalogue import KPI_IDS, Metric, load_catalogue, source_kind
from kpi_core.estimation import INFLUENCE_SDS, rows_matmul, saturate
from kpi_core.priors import RIDGE, load_priors, prior_model
from kpi_core.weights import resolve_weighting

__all__ = ["DOCUMENT", "FORMULAS", "main", "model_section", "render_methodology"]

#: The generated document, relative to the project root.
DOCUMENT = Path("docs") / "methodology.md"

#: The model's formulas, in the order a creator's data flows through them (README "The scoring
#: model" quotes them; ``kpi_core.kernel``'s docstring says where each is computed).
FORMULAS: tuple[tuple[str, str], ...] = (
    (
        "position",
        "u = (t(x) - t(floor)) / (t(target) - t(floor)); t = log1p for log-scaled "
        "metrics, the identity otherwise",
    ),
    ("saturation", "s(u) = c + knee * d / (abs(d) + knee), c = clip(u, knee, 1 - knee), d = u - c"),
    (
        "benchmark",
        "b(x) = the anchors interpolated linearly on x = log10(follower_count) (in "
        "log1p of the value for log-scaled metrics), flat beyond the end anchors",
    ),
    (
        "prior",
        "u = b(x) + r, r ~ multivariate t(nu) with scale R (residual covariance fitted on "
        "the reference population plus the reporting spread)",
    ),
    (
        "imputation",
        "u_m = b_m(x) + W (u_o - b_o(x)), W = R_mo (R_oo + (noise + ridge) "
        "diag(R_oo))^-1 clipped at 0; an upward shift counts upward_evidence of itself",
    ),
    ("imputed score", "S_m = (s(u_m + sd_m) + s(u_m - sd_m)) / 2 (two-point Gauss-Hermite)"),
    (
        "shrinkage",
        "rate = (k * n + kappa * b) / (n + kappa), variance = rate (1 - rate) / "
        "(n + kappa + 1); k the raw rate, n the trials, b the benchmark, kappa the prior strength",
    ),
    ("kpi score", "S_k = sum over the KPI's metrics of w_m * S_m (observed or imputed)"),
    ("overall score", "overall = 100 * sum_k w_k S_k over all 13 KPIs (the nominal weights)"),
    (
        "renormalise",
        "overall = 100 * sum_k w_k S_k / coverage over the KPIs with data; S_k the "
        "weighted mean of the observed metrics (the optimistic option)",
    ),
    (
        "coverage",
        "coverage = sum of w_k over the KPIs with data; revenue_coverage the same share of tier 1",
    ),
    (
        "interval",
        "overall +- z * sqrt(g' C g * (nu + d2) / (nu + n) + sum_j (slope_j^2 var_j)), "
        "z the normal quantile of the level, clipped to [0, 100]",
    ),
)

#: Sizes (followers) at which the document tabulates the benchmark score.
_SIZES = (1_000, 10_000, 50_000, 300_000, 2_000_000)


def _benchmark_text(metric: Metric) -> str:
    if not metric.size_dependent:
        return f"{metric.benchmark[0][1]:g}"
    return ", ".join(f"{10**x:,.0f}: {y:g}" for x, y in metric.benchmark)


def _benchmark_scores() -> list[tuple[int, float]]:
    """The overall score (tiered) of a creator whose every metric sits at its benchmark."""
    catalogue = load_catalogue()
    model = prior_model()
    tiered = resolve_weighting("tiered").vector
    membership = np.zeros((model.size, len(KPI_IDS)))
    for j, name in enumerate(model.metrics):
        metric = catalogue.metrics[name]
        membership[j, KPI_IDS.index(str(metric.kpi))] = metric.weight
    sizes = np.log10(np.array(_SIZES, dtype=np.float64))
    scores = saturate(model.prior_positions(sizes), catalogue.model.saturation_knee)
    overall = rows_matmul(scores, membership) @ (100.0 * tiered)
    return [(size, float(value)) for size, value in zip(_SIZES, overall, strict=True)]


def _facts() -> dict[str, Any]:
    """Everything the document says, read from the live model."""
    catalogue = load_catalogue()
    priors = load_priors()
    tiered = resolve_weighting("tiered").as_dict()
    equal = resolve_weighting("equal").as_dict()
    figure = dict(zip(priors.metrics, zip(priors.sd, priors.offset, strict=True), strict=True))
    scored = [
        {
            "metric": metric,
            "sd": figure[metric.name][0],
            "offset": figure[metric.name][1],
            "benchmark": _benchmark_text(metric),
            "kinds": [source_kind(source) for source in metric.figure_sources],
        }
        for metric in catalogue.scored_metrics
    ]
    return {
        "catalogue": catalogue,
        "priors": priors,
        "formulas": FORMULAS,
        "kpis": [(catalogue.kpis[kpi], tiered[kpi], equal[kpi]) for kpi in KPI_IDS],
        "scored": scored,
        "unscored": [m for m in catalogue.metrics.values() if not m.scored and m.moves],
        "benchmark_scores": _benchmark_scores(),
        "ridge": RIDGE,
        "influence_sds": INFLUENCE_SDS,
        "counts": catalogue.figure_counts(),
    }


def render_methodology() -> str:
    """The exact text of ``docs/methodology.md``."""
    from prompts import render

    return render("methodology.md.j2", **_facts()).rstrip("\n") + "\n"


def model_section() -> dict[str, Any]:
    """The ``model`` section of ``kpi://metrics``: formulas, interval level, settings, the priors'
    source and the prior strength of each shrunk rate."""
    catalogue = load_catalogue()
    priors = load_priors()
    settings = catalogue.model
    return {
        "formulas": dict(FORMULAS),
        "interval_level": settings.interval_level,
        "missing_default": "benchmark",
        "settings": {
            "saturation_knee": settings.saturation_knee,
            "size_prior_log10_followers": list(settings.size_prior),
            "observation_noise": settings.observation_noise,
            "reporting_spread_log": settings.reporting_spread_log,
            "reporting_spread_linear": settings.reporting_spread_linear,
            "prior_degrees_of_freedom": settings.prior_degrees_of_freedom,
            "upward_evidence": settings.upward_evidence,
            "ridge": RIDGE,
            "influence_sds": INFLUENCE_SDS,
        },
        "priors": {
            "source": priors.source,
            "command": priors.command,
            "seed": priors.seed,
            "count": priors.count,
        },
        "shrinkage": {
            name: {"trials": list(trials), "prior_strength": priors.strength[name]}
            for name, trials in catalogue.shrinkage.items()
        },
        "document": str(DOCUMENT),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kpi_core.methodology``: rewrite the document; ``--check``: only compare."""
    parser = argparse.ArgumentParser(
        prog="python -m kpi_core.methodology",
        description="Generate docs/methodology.md from the live catalogue, priors and weights.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the committed document is not what the code generates (write nothing)",
    )
    parser.add_argument(
        "--root", default=str(Path(__file__).resolve().parent.parent), help="the project root"
    )
    args = parser.parse_args(argv)
    path = Path(args.root) / DOCUMENT
    text = render_methodology()
    if args.check:
        current = path.read_text("utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run python -m kpi_core.methodology", file=sys.stderr)
            return 1
        print(f"{path} is up to date", file=sys.stderr)
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    print(f"wrote {path} ({len(text.encode())} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
