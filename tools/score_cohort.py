"""`score_cohort`: rank many creators at once, from a list, a file or a pasted CSV."""

from functools import partial
from typing import Annotated, Any, cast

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ListRootsResult, ToolAnnotations
from pydantic import Field, SkipValidation

from kpi_core.answers import brief_cohort
from kpi_core.cohorts.cohort import (
    MAX_TOP_N,
    CohortResult,
    SortKey,
    progress_message,
    score_cohort,
)
from kpi_core.cohorts.scoring import score_cohort_file, score_cohort_text
from kpi_core.errors import InvalidValueError
from kpi_core.kernel import Missing
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._files import RootsArg, file_access, file_call_slot, memory_budget
from tools._params import as_object, as_weighting
from tools._shared import CurrencyArg, DetailArg, WeightingArg

DESCRIPTION = """Score and rank many creators: exactly one of `creators` (metric objects),
`path` (CSV, Parquet, .xlsx, JSON in an allowed directory) or `csv_text` (<= 1 MB). Headers are
recognised (`columns` maps others). Returns `summary`, the `leaderboard`, the score
`distribution`, `count`, `rejected` rows with reasons and the `ingest` report."""

HOW_TO_MAP = (
    "give columns={'Header in the file': 'canonical_name'}; the canonical names are in "
    "kpi://metrics, and dry_run=true shows how each header was read"
)

CreatorsArg = Annotated[
    list[dict[str, Any]] | None,
    SkipValidation,
    Field(description="The creators' metric objects."),
]
PathArg = Annotated[
    str | None, Field(description="A file in an allowed directory.", max_length=4096)
]
CsvTextArg = Annotated[
    str | None, Field(description="A pasted CSV with a header line.", max_length=1_000_000)
]
ColumnsArg = Annotated[
    dict[str, str] | None,
    Field(description="Header in the file -> canonical name; overrides recognition."),
]
WindowDaysArg = Annotated[
    int | None,
    Field(description="Days of videos counted per creator; null: the whole export.", ge=1, le=3660),
]
PeriodDaysArg = Annotated[
    float | None,
    Field(description="Days a creator table's totals cover (rescaled to 30).", ge=1, le=3660),
]


def _one_source(creators: object, path: object, csv_text: object) -> None:
    given = [creators is not None, path is not None, csv_text is not None]
    if sum(given) != 1:
        raise InvalidValueError(
            "creators",
            "give exactly one of creators (a list), path (a file) or csv_text (a pasted CSV)",
            "none" if not any(given) else "more than one",
        )


def _score(
    config: ServerConfig,
    roots: ListRootsResult,
    sources: tuple[object, str | None, str | None],
    reading: dict[str, Any],
    options: dict[str, Any],
) -> CohortResult:
    """One call: a file, a pasted CSV or a list (exactly one of ``sources``)."""
    creators, path, csv_text = sources
    _one_source(creators, path, csv_text)
    if path is not None:
        access = file_access(config, roots)
        with file_call_slot():
            return score_cohort_file(
                path, access, memory_budget=memory_budget(), **reading, **options
            )
    if csv_text is not None:
        with file_call_slot():
            return score_cohort_text(csv_text, **reading, **options)
    if not isinstance(creators, list):
        raise InvalidValueError("creators", "must be a list of metric objects", creators)
    items: list[object] = list(cast("list[object]", creators))
    columns: dict[str, str] | None = reading["columns"]
    rows = [_renamed(_row(item), columns) for item in items]
    return score_cohort(rows, **options)


def build(config: ServerConfig) -> Tool:
    async def score_cohort_tool(
        ctx: Context,
        roots: RootsArg,
        creators: CreatorsArg = None,
        path: PathArg = None,
        weighting: WeightingArg = "tiered",
        top_n: Annotated[int, Field(description="Leaderboard size.", ge=1, le=MAX_TOP_N)] = 20,
        sort_by: Annotated[SortKey, Field(description="What the leaderboard ranks on.")] = (
            "overall_score"
        ),
        min_coverage: Annotated[
            float, Field(description="Leave out creators below this coverage.", ge=0, le=1)
        ] = 0.0,
        currency: CurrencyArg = None,
        csv_text: CsvTextArg = None,
        columns: ColumnsArg = None,
        window_days: WindowDaysArg = 30,
        period_days: PeriodDaysArg = None,
        dry_run: Annotated[bool, Field(description="Only read and show the mapping.")] = False,
        missing: Annotated[
            Missing,
            Field(description='"benchmark" (default) or the optimistic "renormalise".'),
        ] = "benchmark",
        detail: DetailArg = "summary",
    ) -> Annotated[CallToolResult, CohortResult]:
        def body(control: CallControl) -> CallToolResult:
            options: dict[str, Any] = {
                "weighting": as_weighting(weighting),
                "top_n": top_n,
                "sort_by": sort_by,
                "min_coverage": min_coverage,
                "progress": control.progress,
                "currency": currency,
                "fx_to_default": config.fx_to_default,
                "missing": missing,
            }
            reading: dict[str, Any] = {
                "columns": columns,
                "window_days": window_days,
                "period_days": period_days,
                "dry_run": dry_run,
                "how_to_map": HOW_TO_MAP,
            }
            result = _score(config, roots, (creators, path, csv_text), reading, options)
            if detail != "full":
                result = brief_cohort(result)
            return ok_result(result.summary, result)

        reads_a_file = path is not None or csv_text is not None
        return await run_tool(
            "score_cohort",
            body,
            time_limit=config.time_limit,
            send_progress=ctx.report_progress,
            describe_progress=partial(progress_message, reading=reads_a_file),
        )

    return Tool.from_function(
        score_cohort_tool,
        name="score_cohort",
        title="Score a cohort",
        description=DESCRIPTION,
        annotations=ToolAnnotations(
            read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
        ),
        structured_output=True,
    )


def _row(item: object) -> Any:
    """A row as given when it is an object (the core rejects anything else row by row)."""
    if isinstance(item, str):
        try:
            return as_object(item, "creators")
        except InvalidValueError:  # not a JSON object: rejected as a row, like any non-object
            return item
    return item


def _renamed(row: Any, columns: dict[str, str] | None) -> Any:
    """A row's keys renamed by ``columns`` (header -> canonical name)."""
    if not columns or not isinstance(row, dict):
        return row
    fields: dict[str, Any] = row
    return {columns.get(key, key): value for key, value in fields.items()}
