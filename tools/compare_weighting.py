"""`compare_weighting`: what the choice of weighting does, for one creator or a cohort."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field, SkipValidation

from kpi_core.answers import brief_comparison
from kpi_core.compare import (
    MAX_BOOT,
    MAX_FOLDS,
    MAX_K,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_SEED,
    MIN_BOOT,
    MIN_FOLDS,
    SchemeName,
    WeightingComparison,
    compare_weighting,
)
from kpi_core.compare.bootstrap import progress_message
from kpi_core.errors import InvalidValueError
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._files import RootsArg, file_access
from tools._params import as_object
from tools._schema import lean
from tools._shared import REFS, CreatorRefArg, CurrencyArg, DetailArg

DESCRIPTION = """Show what the weighting does: one creator (`creator_ref` or `metrics`) under
several `schemes` (the first is the reference), or a cohort (`creators` or `path`): rank shifts
and, with `outcome` (a NEXT-period field such as next_gmv), each scheme's rank quality against the
naive `baseline`, with bootstrap 95% intervals (same-period outcomes are refused)."""


#: Creators listed in `scores` when the call gives no limit, by (cohort, full answer): a compact
#: cohort answer leads with the rank statistics and lists no creator (ask with limit).
LISTED = {(False, False): 3, (False, True): 20, (True, False): 0, (True, True): 20}
#: What a compact answer leaves to detail="full": the definition of the NDCG gain, and beside
#: each scheme's Spearman difference from the naive baseline its relative and NDCG forms.
FULL_ONLY = (
    "ndcg_gain",
    *(
        f"baseline_differences.*.{name}"
        for name in (
            "relative_improvement",
            "rel_ci_low",
            "rel_ci_high",
            "ndcg_diff",
            "ndcg_ci_low",
            "ndcg_ci_high",
        )
    ),
)


def _int(description: str, low: int, high: int) -> Any:
    """An integer argument whose bounds the input schema states (and the guard checks)."""
    return Field(description=description, ge=low, le=high, strict=True)


_MetricsArg = Annotated[
    dict[str, Any] | None,
    SkipValidation,
    Field(description="One creator's raw metrics (same fields as score_creator.metrics)."),
]
_CreatorsArg = Annotated[
    list[dict[str, Any]] | None,
    SkipValidation,
    Field(description="A cohort: metric objects, each may carry an outcome field."),
]
_PathArg = Annotated[
    str | None,
    Field(description="A CSV or Parquet file in an allowed directory.", max_length=4096),
]
_SchemesArg = Annotated[
    list[SchemeName | dict[str, float]] | None,
    SkipValidation,
    Field(description="Scheme names or weight objects; the first is the reference."),
]
_OutcomeArg = Annotated[
    str | None,
    Field(description="Field holding the next period's outcome, e.g. next_gmv.", max_length=64),
]
_BaselineArg = Annotated[
    str | None,
    Field(
        description="Field of the naive baseline ranking; default: gmv for next_gmv.",
        max_length=64,
    ),
]
_AllowPersistentArg = Annotated[
    bool,
    Field(description="Accept an outcome that tracks a same-period field past 0.99.", strict=True),
]


def _rows(creators: object) -> list[dict[str, Any]]:
    if not isinstance(creators, list):
        raise InvalidValueError("creators", "must be a list of metric objects", creators)
    items: list[object] = list(creators)  # pyright: ignore[reportUnknownArgumentType]
    return [dict(as_object(item, f"creators[{index}]")) for index, item in enumerate(items)]


def build(config: ServerConfig) -> Tool:
    async def compare_weighting_tool(
        ctx: Context,
        roots: RootsArg,
        metrics: _MetricsArg = None,
        creator_ref: CreatorRefArg = None,
        creators: _CreatorsArg = None,
        path: _PathArg = None,
        schemes: _SchemesArg = None,
        outcome: _OutcomeArg = None,
        baseline: _BaselineArg = None,
        allow_persistent_outcome: _AllowPersistentArg = False,
        k: Annotated[int, _int("Top-k for overlap and NDCG.", 1, MAX_K)] = 10,
        n_boot: Annotated[
            int, _int("Bootstrap resamples for intervals.", MIN_BOOT, MAX_BOOT)
        ] = 200,
        seed: Annotated[int, _int("Bootstrap seed.", 0, MAX_SEED)] = 0,
        folds: Annotated[int, _int("Folds for fitted.", MIN_FOLDS, MAX_FOLDS)] = 5,
        limit: Annotated[
            int | None,
            _int("Creators listed (default 3, cohort 0; full 20).", 0, MAX_LIMIT),
        ] = None,
        offset: Annotated[int, _int("Skip this many first.", 0, MAX_OFFSET)] = 0,
        currency: CurrencyArg = None,
        columns: Annotated[
            dict[str, str] | None,
            Field(description="Header (or key) -> canonical name; overrides recognition."),
        ] = None,
        detail: DetailArg = "summary",
    ) -> Annotated[CallToolResult, WeightingComparison]:
        def body(control: CallControl) -> CallToolResult:
            one = None if metrics is None else as_object(metrics, "metrics")
            if creator_ref is not None:
                if metrics is not None:
                    raise InvalidValueError(
                        "creator_ref", "cannot be given together with metrics", creator_ref
                    )
                one = REFS.recall(creator_ref)
            result = compare_weighting(
                metrics=one,
                creators=None if creators is None else _rows(creators),
                path=path,
                access=None if path is None else file_access(config, roots),
                schemes=schemes,
                outcome=outcome,
                k=k,
                n_boot=n_boot,
                seed=seed,
                folds=folds,
                limit=limit if limit is not None else LISTED[one is None, detail == "full"],
                offset=offset,
                currency=currency,
                baseline=baseline,
                allow_persistent_outcome=allow_persistent_outcome,
                columns=columns,
                progress=control.progress,
            )
            if detail == "full":
                return ok_result(result.summary, result)
            return ok_result(result.summary, brief_comparison(result), omit=FULL_ONLY)

        return await run_tool(
            "compare_weighting",
            body,
            time_limit=config.time_limit,
            send_progress=ctx.report_progress,
            describe_progress=progress_message,
        )

    tool = Tool.from_function(
        compare_weighting_tool,
        name="compare_weighting",
        title="Compare weighting schemes",
        description=DESCRIPTION,
        annotations=ToolAnnotations(
            read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
        ),
        structured_output=True,
    )
    return lean(tool, full_only=FULL_ONLY)
