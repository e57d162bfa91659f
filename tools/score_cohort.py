"""`score_cohort`: rank many creators at once, from a list or a CSV / Parquet file."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field, SkipValidation

from kpi_core.cohort import CohortResult, score_cohort, score_cohort_file
from kpi_core.errors import InvalidValueError
from prompts import render
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool
from tools._files import RootsArg, file_access
from tools._params import as_object, as_weighting
from tools._shared import UNITS_NOTE, CurrencyArg, WeightingArg

DESCRIPTION = f"""Score and rank a cohort of TikTok creators (dozens to millions).

Give `creators` (a list of metric objects, as score_creator's `metrics`) or `path` (a CSV or
Parquet file inside a directory the operator allowed or the client shared as a root; one creator
per row with canonical metric names as columns, or a per-video export with one row per video,
which is aggregated per creator). A creator that fails validation is listed in `rejected` with
its reasons and the rest are scored. Returns the `leaderboard` (top_n by overall score or by any
KPI id in `sort_by`, ties broken deterministically, coverage per row; `min_coverage` leaves out
creators with thin data), the `distribution` of the overall score and of each KPI (fixed bins and
exact moments), the `count` and `rejected`. Progress is reported on large inputs. {UNITS_NOTE}"""


def summary(result: CohortResult) -> str:
    return render("cohort_summary.txt.j2", result=result)


def build(config: ServerConfig) -> Tool:
    async def score_cohort_tool(
        ctx: Context,
        roots: RootsArg,
        creators: Annotated[
            list[dict[str, Any]] | None,
            SkipValidation,
            Field(description="The creators' metric objects (give this or path)."),
        ] = None,
        path: Annotated[
            str | None,
            Field(description="A CSV or Parquet file in an allowed directory.", max_length=4096),
        ] = None,
        weighting: WeightingArg = "tiered",
        top_n: Annotated[int, SkipValidation, Field(description="Leaderboard size.")] = 20,
        sort_by: Annotated[
            str, SkipValidation, Field(description='"overall_score" or a KPI id.')
        ] = "overall_score",
        min_coverage: Annotated[
            float, SkipValidation, Field(description="Leave out creators below this coverage.")
        ] = 0.0,
        currency: CurrencyArg = None,
    ) -> Annotated[CallToolResult, CohortResult]:
        def body(control: CallControl) -> CallToolResult:
            options: dict[str, Any] = {
                "top_n": top_n,
                "sort_by": sort_by,
                "min_coverage": min_coverage,
                "progress": control.progress,
                "currency": currency,
                "fx_to_default": config.fx_to_default,
            }
            scheme = as_weighting(weighting)
            if (creators is None) == (path is None):
                raise InvalidValueError(
                    "creators",
                    "give exactly one of creators (a list) or path (a file)",
                    "both" if creators is not None else "neither",
                )
            if path is not None:
                result = score_cohort_file(path, file_access(config, roots), scheme, **options)
            else:
                if not isinstance(creators, list):
                    raise InvalidValueError(
                        "creators", "must be a list of metric objects", creators
                    )
                items: list[object] = list(creators)  # pyright: ignore[reportUnknownArgumentType]
                rows = [_row(item) for item in items]
                result = score_cohort(rows, scheme, **options)
            return ok_result(summary(result), result)

        return await run_tool(
            "score_cohort", body, time_limit=config.time_limit, send_progress=ctx.report_progress
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
