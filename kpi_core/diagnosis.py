"""Why a creator scores as they do: bottlenecks, the shop funnel, what-ifs, strengths, data gaps.

:func:`diagnose` is pure: metrics in, a :class:`Diagnosis` out, every sentence rendered from a
``prompts/templates/diagnose_*.txt.j2`` template.

* **Impact** of a KPI = its effective weight (its weight renormalised over the KPIs with data, as
  in ``score``) x its gap, in overall-score points: ``100 x effective_weight x gap``, where
  ``gap = max(0, benchmark_score - score)``. It is the number of points the overall score gains
  when that KPI alone reaches its benchmark score; with full coverage it is the nominal weight
  x gap x 100, and the ranking is the same either way (one creator has one coverage). Ties are
  broken by KPI id.
* **Funnel**: views -> product clicks (``product_ctr``) -> orders (``conversion_rate``) -> orders
  net of refunds (``1 - refund_rate``); each rate is compared with its benchmark as a ratio, and
  the step with the lowest ratio below 1 is the one that leaks most (ties: the earlier step).
* **What-if**: the overall score if every metric of a bottleneck KPI that the creator has below
  its benchmark reached it (the others stay, or follow the funnel), moved through the funnel rule
  of :mod:`kpi_core.funnel`, for each bottleneck shown and for all of them together; all
  scenarios are scored in one kernel call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kpi_core.catalogue import KPI_IDS, Catalogue, Direction, load_catalogue
from kpi_core.errors import InvalidValueError
from kpi_core.funnel import Scenario, score_scenarios
from kpi_core.metrics import CreatorMetrics
from kpi_core.score_models import DetailLevel
from kpi_core.scoring import Band, KpiResult, ScoredCreator, assess, check_detail, significant
from kpi_core.standing import points, strengths, weaknesses
from kpi_core.weights import Weighting, WeightingArg
from prompts import render

__all__ = [
    "MAX_BOTTLENECKS",
    "MAX_STRENGTHS",
    "Bottleneck",
    "DataGap",
    "DerivableMetric",
    "Diagnosis",
    "Funnel",
    "FunnelStep",
    "MetricGap",
    "Strength",
    "WhatIf",
    "WhatIfScenario",
    "benchmark_changes",
    "diagnose",
    "metric_sentence",
]

MAX_BOTTLENECKS = len(KPI_IDS)
MAX_STRENGTHS = 5
#: Gaps and margins below this are float noise, not a shortfall or a strength.
EPSILON = 1e-9

_RESULT_CONFIG = ConfigDict(frozen=True)

FunnelStepId = Literal["views_to_clicks", "clicks_to_orders", "orders_to_net"]


class MetricGap(BaseModel):
    """One metric behind a KPI: the creator's value against the benchmark for their size."""

    model_config = _RESULT_CONFIG

    metric: str
    value: float = Field(description="The creator's value (after derivation).")
    benchmark: float = Field(description="What a typical creator of this size achieves.")
    below_benchmark: bool = Field(description="True when the value is worse than the benchmark.")
    text: str
    direction: Direction | None = None
    normalised: float | None = Field(default=None, description="0..1 score of the value.")
    benchmark_normalised: float | None = Field(
        default=None, description="0..1 score of the benchmark value."
    )
    derived: bool | None = Field(
        default=None, description="True when the value was computed from other metrics."
    )


class Bottleneck(BaseModel):
    """A KPI below its benchmark score, with the points it costs."""

    model_config = _RESULT_CONFIG

    kpi: str
    label: str
    impact: float = Field(
        description="100 x effective_weight x gap: overall points gained at the benchmark score."
    )
    gap: float = Field(description="benchmark_score - score (0..1), floored at 0.")
    score: float
    benchmark_score: float
    metrics: list[MetricGap] = Field(description="The KPI's metrics, largest shortfall first.")
    tier: int | None = None
    weight: float | None = Field(default=None, description="Nominal weight under the scheme.")
    effective_weight: float | None = Field(default=None, description="Weight in the overall score.")


class FunnelStep(BaseModel):
    """One step of the shop funnel and its rate against the benchmark."""

    model_config = _RESULT_CONFIG

    step: FunnelStepId
    metric: str = Field(
        description="The metric the rate is (orders kept after refunds: '1 - refund_rate')."
    )
    rate: float | None = Field(description="Share passing the step; null when unknown.")
    benchmark: float
    ratio_to_benchmark: float | None = Field(description="rate / benchmark; below 1 leaks.")
    from_count: float | None
    to_count: float | None


class Funnel(BaseModel):
    """Views -> product clicks -> orders -> orders net of refunds."""

    model_config = _RESULT_CONFIG

    views: float | None
    product_clicks: float | None
    orders: float | None
    net_orders: float | None
    steps: list[FunnelStep]
    leak: FunnelStepId | None = Field(description="The step furthest below its benchmark.")
    text: str


class WhatIfScenario(BaseModel):
    """The overall score if the metrics of these KPIs reached their benchmarks."""

    model_config = _RESULT_CONFIG

    kpis: list[str]
    changed_metrics: list[str] = Field(description="Metrics moved to their benchmark.")
    overall_score: float
    uplift: float = Field(description="Points above the current overall score.")


class WhatIf(BaseModel):
    model_config = _RESULT_CONFIG

    baseline_score: float
    each: list[WhatIfScenario] = Field(description="One scenario per bottleneck shown.")
    together: WhatIfScenario | None = Field(description="All bottlenecks shown at once.")


class Strength(BaseModel):
    """A KPI above its benchmark score."""

    model_config = _RESULT_CONFIG

    kpi: str
    label: str
    score: float
    benchmark_score: float
    margin: float = Field(description="100 x effective_weight x (score - benchmark_score).")


class DerivableMetric(BaseModel):
    model_config = _RESULT_CONFIG

    metric: str
    inputs: list[str] = Field(description="Give all of these instead and it is computed.")


class DataGap(BaseModel):
    """A KPI with no data, and the metrics that would score it."""

    model_config = _RESULT_CONFIG

    kpi: str
    label: str
    weight: float = Field(description="Nominal weight the overall score is missing.")
    metrics: list[str]
    derivable: list[DerivableMetric] | None = None


class Diagnosis(BaseModel):
    """Where a creator loses points, where the shop funnel leaks, and what reaching the
    benchmarks would be worth."""

    model_config = _RESULT_CONFIG

    summary: str = Field(description="What to say first (the same text as the text content).")
    creator_id: str | None
    overall_score: float
    band: Band
    coverage: float
    weighting: str
    size_assumed: bool = Field(description="True when follower_count was missing.")
    bottlenecks: list[Bottleneck] = Field(description="The top_n bottlenecks, largest first.")
    bottlenecks_total: int
    funnel: Funnel
    what_if: WhatIf
    strengths: list[Strength]
    strengths_total: int
    data_gaps: list[DataGap]
    model_version: str


def _check_top_n(top_n: object) -> int:
    if isinstance(top_n, bool) or not isinstance(top_n, int) or not 1 <= top_n <= MAX_BOTTLENECKS:
        raise InvalidValueError(
            "top_n",
            f"must be a whole number in [1, {MAX_BOTTLENECKS}]",
            top_n,
            "3 shows the biggest bottlenecks",
        )
    return top_n


def metric_sentence(
    metric: str, value: float, benchmark: float, *, size_assumed: bool, currency: str
) -> str:
    """ "cart abandonment rate 78.0% against 60.0% for creators of this size"."""
    entry = load_catalogue().metrics[metric]
    return render(
        "diagnose_metric.txt.j2",
        metric=metric,
        kind=entry.kind,
        value=value,
        benchmark=benchmark,
        size_dependent=entry.size_dependent,
        size_assumed=size_assumed,
        currency=currency,
    )


def _metric_gaps(scored: ScoredCreator, item: KpiResult) -> list[MetricGap]:
    rows: list[tuple[float, MetricGap]] = []
    for component in item.components:
        if component.value is None:
            continue
        shortfall = component.weight * (component.benchmark_normalised - component.normalised)
        rows.append(
            (
                shortfall,
                MetricGap(
                    metric=component.metric,
                    value=component.value,
                    benchmark=component.benchmark,
                    direction=component.direction,
                    normalised=component.normalised,
                    benchmark_normalised=component.benchmark_normalised,
                    below_benchmark=scored.worse_than_benchmark(component.metric),
                    derived=component.derived,
                    text=metric_sentence(
                        component.metric,
                        component.value,
                        component.benchmark,
                        size_assumed=scored.size_assumed,
                        currency=scored.result.currency,
                    ),
                ),
            )
        )
    rows.sort(key=lambda row: (-row[0], row[1].metric))
    return [gap for _, gap in rows]


def _funnel(scored: ScoredCreator) -> Funnel:
    values = scored.values
    benchmarks = scored.benchmarks
    views = values.get("views")
    clicks = values.get("product_clicks")
    orders = values.get("orders")
    refund = values.get("refund_rate")
    net_orders = orders * (1.0 - refund) if orders is not None and refund is not None else None
    specs: list[tuple[FunnelStepId, str, float | None, float, float | None, float | None]] = [
        (
            "views_to_clicks",
            "product_ctr",
            values.get("product_ctr"),
            benchmarks["product_ctr"],
            views,
            clicks,
        ),
        (
            "clicks_to_orders",
            "conversion_rate",
            values.get("conversion_rate"),
            benchmarks["conversion_rate"],
            clicks,
            orders,
        ),
        (
            "orders_to_net",
            "1 - refund_rate",
            None if refund is None else 1.0 - refund,
            1.0 - benchmarks["refund_rate"],
            orders,
            net_orders,
        ),
    ]
    steps = [
        FunnelStep(
            step=step,
            metric=metric,
            rate=rate,
            benchmark=bench,
            ratio_to_benchmark=None if rate is None else rate / bench,
            from_count=source,
            to_count=target,
        )
        for step, metric, rate, bench, source, target in specs
    ]
    leaking = [s for s in steps if s.ratio_to_benchmark is not None and s.ratio_to_benchmark < 1.0]
    leak = min(leaking, key=lambda s: s.ratio_to_benchmark or 0.0) if leaking else None
    text = render(
        "diagnose_funnel.txt.j2",
        leak=None if leak is None else leak.step,
        rate=None if leak is None else leak.rate,
        benchmark=None if leak is None else leak.benchmark,
        ratio=None if leak is None else leak.ratio_to_benchmark,
        known=sum(s.rate is not None for s in steps),
        size_assumed=scored.size_assumed,
    )
    return Funnel(
        views=views,
        product_clicks=clicks,
        orders=orders,
        net_orders=net_orders,
        steps=steps,
        leak=None if leak is None else leak.step,
        text=text,
    )


def benchmark_changes(scored: ScoredCreator, kpi_ids: list[str]) -> dict[str, float]:
    """Each metric of these KPIs that the creator has below its benchmark, mapped to the
    benchmark value (metrics already better are left to move with the funnel)."""
    catalogue = load_catalogue()
    return {
        name: scored.benchmarks[name]
        for kpi_id in kpi_ids
        for name in catalogue.kpis[kpi_id].metrics
        if scored.worse_than_benchmark(name)
    }


def _what_if(scored: ScoredCreator, shown: list[Bottleneck]) -> WhatIf:
    groups = [[item.kpi] for item in shown]
    if shown:
        groups.append([item.kpi for item in shown])
    changes = [benchmark_changes(scored, group) for group in groups]
    scores = score_scenarios(
        scored.values,
        [Scenario(changes=change, mode="reach") for change in changes],
        scored.scheme,
    )
    scenarios = [
        WhatIfScenario(
            kpis=group,
            changed_metrics=sorted(change),
            overall_score=float(scores.overall[i]),
            uplift=scores.uplift(i),
        )
        for i, (group, change) in enumerate(zip(groups, changes, strict=True))
    ]
    return WhatIf(
        baseline_score=scores.baseline,
        each=scenarios[: len(shown)],
        together=scenarios[-1] if shown else None,
    )


def _data_gaps(scored: ScoredCreator, catalogue: Catalogue) -> list[DataGap]:
    gaps: list[DataGap] = []
    for item in scored.result.kpis:
        if not item.imputed:
            continue
        metrics = list(catalogue.kpis[item.kpi].metrics)
        gaps.append(
            DataGap(
                kpi=item.kpi,
                label=item.label,
                weight=item.weight,
                metrics=metrics,
                derivable=[
                    DerivableMetric(metric=name, inputs=list(catalogue.derivations[name].inputs))
                    for name in metrics
                    if name in catalogue.derivations
                ],
            )
        )
    gaps.sort(key=lambda gap: (-gap.weight, gap.kpi))
    return gaps


def diagnose(
    metrics: Mapping[str, object] | CreatorMetrics | ScoredCreator,
    weighting: WeightingArg | Weighting | None = None,
    top_n: int = 3,
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    detail: DetailLevel = "full",
) -> Diagnosis:
    """Rank a creator's bottlenecks and show what reaching the benchmarks would be worth.

    ``metrics`` and ``weighting`` are those of :func:`kpi_core.score` (``"tiered"`` by default),
    or ``metrics`` is a creator :func:`kpi_core.scoring.assess` already validated and scored,
    which is reused as it is. ``top_n`` (1-13) bounds the bottlenecks shown (and the what-ifs). A
    bad argument raises a :class:`~kpi_core.errors.KpiError` naming the field. ``detail``
    "summary" gives the compact answer of the ``diagnose`` tool (:func:`brief`).
    """
    shown_count = _check_top_n(top_n)
    compact = check_detail(detail) == "summary"
    scored = assess(metrics, weighting, currency=currency, fx_to_default=fx_to_default)
    result = scored.result
    bottlenecks = _bottlenecks(scored)
    shown = bottlenecks[:shown_count]
    strengths = _strengths(scored)
    funnel = _funnel(scored)
    what_if = _what_if(scored, shown)
    data_gaps = _data_gaps(scored, load_catalogue())
    top = shown[0] if shown else None
    summary = render(
        "diagnose_summary.txt.j2",
        creator_id=result.creator_id,
        overall_score=result.overall_score,
        band=result.band,
        top_label=None if top is None else top.label,
        top_impact=None if top is None else top.impact,
        top_metric_text=None if top is None or not top.metrics else top.metrics[0].text,
        bottleneck_count=len(bottlenecks),
        shown_count=len(shown),
        leak=funnel.leak,
        together=None if what_if.together is None else what_if.together.overall_score,
        together_uplift=None if what_if.together is None else what_if.together.uplift,
        strength_labels=[s.label for s in strengths[:2]],
        gap_count=len(data_gaps),
        coverage=result.coverage,
    )
    diagnosis = Diagnosis(
        summary=summary,
        creator_id=result.creator_id,
        overall_score=result.overall_score,
        band=result.band,
        coverage=result.coverage,
        weighting=result.weighting,
        size_assumed=scored.size_assumed,
        bottlenecks=shown,
        bottlenecks_total=len(bottlenecks),
        funnel=funnel,
        what_if=what_if,
        strengths=strengths[:MAX_STRENGTHS],
        strengths_total=len(strengths),
        data_gaps=data_gaps,
        model_version=result.model_version,
    )
    return brief(diagnosis) if compact else diagnosis


def _brief_metric(item: MetricGap) -> MetricGap:
    return item.model_copy(
        update={
            "value": significant(item.value),
            "benchmark": significant(item.benchmark),
            "direction": None,
            "normalised": None,
            "benchmark_normalised": None,
            "derived": None,
        }
    )


def _brief_scenario(item: WhatIfScenario) -> WhatIfScenario:
    return item.model_copy(
        update={
            "overall_score": significant(item.overall_score),
            "uplift": significant(item.uplift),
        }
    )


def brief(diagnosis: Diagnosis) -> Diagnosis:
    """The compact answer: scores and points to 4 significant digits, each bottleneck's
    metrics as value against benchmark (their normalised scores, weights and the ways to derive
    a missing metric come with detail="full")."""
    bottlenecks = [
        item.model_copy(
            update={
                "impact": significant(item.impact),
                "gap": significant(item.gap),
                "score": significant(item.score),
                "benchmark_score": significant(item.benchmark_score),
                "tier": None,
                "weight": None,
                "effective_weight": None,
                "metrics": [_brief_metric(metric) for metric in item.metrics],
            }
        )
        for item in diagnosis.bottlenecks
    ]
    strengths_shown = [
        item.model_copy(
            update={
                "score": significant(item.score),
                "benchmark_score": significant(item.benchmark_score),
                "margin": significant(item.margin),
            }
        )
        for item in diagnosis.strengths
    ]
    steps = [
        step.model_copy(
            update={
                "ratio_to_benchmark": None
                if step.ratio_to_benchmark is None
                else significant(step.ratio_to_benchmark)
            }
        )
        for step in diagnosis.funnel.steps
    ]
    what_if = diagnosis.what_if
    return diagnosis.model_copy(
        update={
            "overall_score": significant(diagnosis.overall_score),
            "coverage": significant(diagnosis.coverage),
            "bottlenecks": bottlenecks,
            "strengths": strengths_shown,
            "funnel": diagnosis.funnel.model_copy(update={"steps": steps}),
            "what_if": what_if.model_copy(
                update={
                    "baseline_score": significant(what_if.baseline_score),
                    "each": [_brief_scenario(item) for item in what_if.each],
                    "together": None
                    if what_if.together is None
                    else _brief_scenario(what_if.together),
                }
            ),
            "data_gaps": [
                gap.model_copy(update={"derivable": None}) for gap in diagnosis.data_gaps
            ],
        }
    )


def _bottlenecks(scored: ScoredCreator) -> list[Bottleneck]:
    """The creator's weaknesses (kpi_core.standing), largest impact first (ties: KPI id)."""
    return [
        Bottleneck(
            kpi=item.kpi,
            label=item.label,
            tier=item.tier,
            impact=scored.impact(item.kpi),
            gap=scored.gap(item.kpi),
            score=item.score or 0.0,
            benchmark_score=item.benchmark_score,
            weight=item.weight,
            effective_weight=item.effective_weight,
            metrics=_metric_gaps(scored, item),
        )
        for item in weaknesses(scored.result.kpis)
    ]


def _strengths(scored: ScoredCreator) -> list[Strength]:
    """The creator's strengths (kpi_core.standing), largest margin first (ties: KPI id)."""
    return [
        Strength(
            kpi=item.kpi,
            label=item.label,
            score=item.score or 0.0,
            benchmark_score=item.benchmark_score,
            margin=points(item),
        )
        for item in strengths(scored.result.kpis)
    ]
