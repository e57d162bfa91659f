"""`compare_weighting`: what the choice of weighting does, for one creator or a cohort."""

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field, SkipValidation

from kpi_core.compare import (
    CohortComparison,
    CreatorScores,
    Difference,
    RankQuality,
    SchemeWeights,
    SingleComparison,
    check_cohort_options,
    compare_cohort,
    compare_single,
)
from kpi_core.errors import InvalidValueError
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._params import as_object
from tools._shared import UNITS_NOTE, CurrencyArg

DESCRIPTION = f"""Show what the weighting choice does: one creator's score under several schemes,
or, for a cohort, how rankings shift and (with `outcome`) how well each ranking predicts it.

Give exactly one of `metrics` (one creator) or `creators` (a list of metric objects, 3 or more).
`schemes` lists names ("tiered", "equal", "fitted") or objects of all 13 KPI weights; the first is
the reference (default ["tiered", "equal"]). With `outcome`, the name of a field of each creator
holding the NEXT period's outcome (such as "next_gmv"), each scheme's rank quality (Spearman and
NDCG@k) comes with a bootstrap 95% interval, and each difference from the reference with its own
interval; "fitted" fits non-negative weights summing to 1 to the outcome by cross-validation and
reports them out of sample only. An outcome that is an input of the same period (gmv,
total_revenue, or anything derived from the same period's metrics) is refused as circular.
Progress is reported during the bootstrap. {UNITS_NOTE}"""


class WeightingComparison(BaseModel):
    """The comparison; `single` or `cohort` holds the full detail of its mode."""

    mode: Literal["single", "cohort"]
    reference: str = Field(description="The first scheme; differences are against it.")
    schemes: list[SchemeWeights]
    scores: list[CreatorScores] = Field(description="Per creator, the score under each scheme.")
    rank_quality: list[RankQuality] = Field(description="Cohorts with an outcome only.")
    differences: list[Difference] = Field(description="Cohorts with an outcome only.")
    single: SingleComparison | None
    cohort: CohortComparison | None
    summary: str
    model_version: str


def _from_single(result: SingleComparison) -> WeightingComparison:
    schemes = [
        SchemeWeights(
            name=item.name,
            kind=item.kind,
            weights=item.weights,
            reference=item.name == result.reference,
        )
        for item in result.schemes
    ]
    ranks = dict.fromkeys(result.scores, 1)
    scores = [
        CreatorScores(
            row=0, creator_id=result.creator_id, scores=result.scores, ranks=ranks, outcome=None
        )
    ]
    return WeightingComparison(
        mode="single",
        reference=result.reference,
        schemes=schemes,
        scores=scores,
        rank_quality=[],
        differences=[],
        single=result,
        cohort=None,
        summary=result.summary,
        model_version=result.model_version,
    )


def _from_cohort(result: CohortComparison) -> WeightingComparison:
    return WeightingComparison(
        mode="cohort",
        reference=result.reference,
        schemes=result.schemes,
        scores=result.scores,
        rank_quality=result.rank_quality,
        differences=result.differences,
        single=None,
        cohort=result,
        summary=result.summary,
        model_version=result.model_version,
    )


def _rows(creators: object) -> list[dict[str, Any]]:
    if not isinstance(creators, list):
        raise InvalidValueError("creators", "must be a list of metric objects", creators)
    items: list[object] = list(creators)  # pyright: ignore[reportUnknownArgumentType]
    return [dict(as_object(item, f"creators[{index}]")) for index, item in enumerate(items)]


def _schemes(schemes: object) -> list[Any]:
    if schemes is None:
        return ["tiered", "equal"]
    if not isinstance(schemes, list) or not schemes:
        raise InvalidValueError(
            "schemes", "must be a non-empty list of scheme names or weight objects", schemes
        )
    return list(schemes)  # pyright: ignore[reportUnknownArgumentType]


def build(config: ServerConfig) -> Tool:
    async def compare_weighting(
        ctx: Context,
        metrics: Annotated[
            dict[str, Any] | None,
            SkipValidation,
            Field(description="One creator's raw metrics (give this or creators)."),
        ] = None,
        creators: Annotated[
            list[dict[str, Any]] | None,
            SkipValidation,
            Field(description="A cohort: metric objects, each may carry an outcome field."),
        ] = None,
        schemes: Annotated[
            list[str | dict[str, float]] | None,
            SkipValidation,
            Field(description="Scheme names or weight objects; the first is the reference."),
        ] = None,
        outcome: Annotated[
            str | None,
            Field(
                description="Field holding the next period's outcome, e.g. next_gmv.", max_length=64
            ),
        ] = None,
        k: Annotated[int, SkipValidation, Field(description="Top-k for overlap and NDCG.")] = 10,
        n_boot: Annotated[
            int, SkipValidation, Field(description="Bootstrap resamples for intervals.")
        ] = 200,
        seed: Annotated[int, SkipValidation, Field(description="Bootstrap seed.")] = 0,
        folds: Annotated[int, SkipValidation, Field(description="Folds for fitted.")] = 5,
        limit: Annotated[int, SkipValidation, Field(description="Creators listed in scores.")] = 20,
        offset: Annotated[int, SkipValidation, Field(description="Skip this many first.")] = 0,
        currency: CurrencyArg = None,
    ) -> Annotated[CallToolResult, WeightingComparison]:
        def body(control: CallControl) -> CallToolResult:
            if (metrics is None) == (creators is None):
                raise InvalidValueError(
                    "metrics",
                    "give exactly one of metrics (one creator) or creators (a cohort)",
                    "both" if metrics is not None else "neither",
                )
            chosen = _schemes(schemes)
            if metrics is not None:
                # Unused for one creator, but a bad value is still the caller's error.
                check_cohort_options(k, n_boot, seed, folds, limit, offset)
                result = _from_single(
                    compare_single(as_object(metrics, "metrics"), chosen, currency=currency)
                )
            else:
                result = _from_cohort(
                    compare_cohort(
                        _rows(creators),
                        chosen,
                        outcome,
                        k,
                        n_boot,
                        seed,
                        folds,
                        control.progress,
                        limit=limit,
                        offset=offset,
                        currency=currency,
                    )
                )
            return ok_result(result.summary, result)

        return await run_tool(
            "compare_weighting",
            body,
            time_limit=config.time_limit,
            send_progress=ctx.report_progress,
        )

    return Tool.from_function(
        compare_weighting,
        name="compare_weighting",
        title="Compare weighting schemes",
        description=DESCRIPTION,
        annotations=ToolAnnotations(
            read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
        ),
        structured_output=True,
    )
