"""`compare_weighting`: what the choice of weighting does, for one creator or a cohort."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field, SkipValidation

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
from tools._shared import UNITS_NOTE, CurrencyArg

DESCRIPTION = f"""Show what the weighting choice does: one creator's score under several schemes,
or, for a cohort, how rankings shift and (with `outcome`) how well each ranking predicts it.

Give exactly one of `metrics` (one creator), `creators` (a list of metric objects, 3 or more) or
`path` (a CSV or Parquet file, one creator per row, in an allowed directory; its headers are
recognised as score_cohort recognises them, and `columns` maps others). `schemes` lists
names ("tiered", "equal", "fitted") or objects of all 13 KPI weights; the first is the reference
(default ["tiered", "equal"]). With `outcome`, the name of a field of each creator holding the NEXT
period's outcome (such as "next_gmv"), each scheme's rank quality (Spearman and NDCG@k) comes with
a bootstrap 95% interval, and each difference from the reference with its own interval; "fitted"
fits non-negative weights summing to 1 to the outcome by cross-validation and reports them out of
sample only. Beside the schemes, the naive `baseline` ranking by the outcome's current value (gmv
for next_gmv) is measured too, and the text says when a scheme ranks worse than it. The outcome
must come from a later period: a same-period field, a score of this tool or a near copy of one
(rank correlation past 0.99) is refused, as is a cohort under 10 creators; a stable cohort whose
outcome tracks a same-period field may pass `allow_persistent_outcome` (a warning stays).
Progress is reported during the bootstrap. {UNITS_NOTE}"""


def _int(description: str, low: int, high: int) -> Any:
    """An integer argument whose bounds the input schema states (and the guard checks)."""
    return Field(description=description, ge=low, le=high, strict=True)


_MetricsArg = Annotated[
    dict[str, Any] | None,
    SkipValidation,
    Field(description="One creator's raw metrics (give this, creators or path)."),
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
        limit: Annotated[int, _int("Creators listed in scores.", 0, MAX_LIMIT)] = 20,
        offset: Annotated[int, _int("Skip this many first.", 0, MAX_OFFSET)] = 0,
        currency: CurrencyArg = None,
        columns: Annotated[
            dict[str, str] | None,
            Field(description="Header (or key) -> canonical name; overrides recognition."),
        ] = None,
    ) -> Annotated[CallToolResult, WeightingComparison]:
        def body(control: CallControl) -> CallToolResult:
            result = compare_weighting(
                metrics=None if metrics is None else as_object(metrics, "metrics"),
                creators=None if creators is None else _rows(creators),
                path=path,
                access=None if path is None else file_access(config, roots),
                schemes=schemes,
                outcome=outcome,
                k=k,
                n_boot=n_boot,
                seed=seed,
                folds=folds,
                limit=limit,
                offset=offset,
                currency=currency,
                baseline=baseline,
                allow_persistent_outcome=allow_persistent_outcome,
                columns=columns,
                progress=control.progress,
            )
            return ok_result(result.summary, result)

        return await run_tool(
            "compare_weighting",
            body,
            time_limit=config.time_limit,
            send_progress=ctx.report_progress,
            describe_progress=progress_message,
        )

    return Tool.from_function(
        compare_weighting_tool,
        name="compare_weighting",
        title="Compare weighting schemes",
        description=DESCRIPTION,
        annotations=ToolAnnotations(
            read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
        ),
        structured_output=True,
    )
