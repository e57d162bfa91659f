"""The `creator-kpi-mcp` command: serve the MCP server, run the demo, score files in batch.

    creator-kpi-mcp                  serve over stdio (what an MCP client starts)
    creator-kpi-mcp serve --transport http [--host H] [--port P] [--stateless]
                                     serve streamable HTTP at http://127.0.0.1:8000/mcp
    creator-kpi-mcp demo             start the server as a client would and call it on demo creators
    creator-kpi-mcp inspect FILE [--json]
                                     show how a file's headers would be read (nothing is scored)
    creator-kpi-mcp score FILE -o OUT.csv|OUT.parquet [--columns MAP] [--window-days N|all]
                      [--period-days N] [--missing benchmark|renormalise] [--report REPORT.json]
                                     score every creator of a file; the summary goes to stderr

The demo is an MCP *client*: it starts ``server.py`` as a subprocess over stdio, sends real tool
calls through the official SDK client and prints what comes back. Printing is fine here; the
server process itself never writes to stdout.
"""

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO, get_args

__all__ = ["main", "run_demo"]

SERVER_SCRIPT = Path(__file__).resolve().with_name("server.py")


def _cell(value: object, width: int, *, right: bool = False) -> str:
    text = str(value)
    text = text if len(text) <= width else text[: width - 1] + "~"
    return text.rjust(width) if right else text.ljust(width)


def _followers(count: float) -> str:
    for threshold, suffix in ((1e6, "M"), (1e3, "K")):
        if count >= threshold:
            return f"{count / threshold:.1f}{suffix}"
    return f"{count:.0f}"


def _weakest(kpis: list[dict[str, Any]]) -> str:
    scored = [item for item in kpis if item["score"] is not None and not item["imputed"]]
    if not scored:
        return "-"
    weakest = min(scored, key=lambda item: (item["score"], item["kpi"]))
    return f"{weakest['label']} {weakest['score']:.2f}"


def _demo_count(text: str) -> int:
    """``--creators``: a whole number from 1 to the size of the demo cohort, else refused."""
    from kpi_core.demo import DEMO_COUNT

    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= DEMO_COUNT:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to {DEMO_COUNT} (the demo cohort has {DEMO_COUNT} "
            f"creators); got {text!r}"
        )
    return count


def _server_environment() -> dict[str, str]:
    """What the demo's server process inherits: the SDK's safe defaults plus this shell's
    CREATOR_KPI_* settings (the experiment store, currencies, limits), as a client configured
    with them would pass them."""
    from mcp.client.stdio import get_default_environment

    ours = {key: value for key, value in os.environ.items() if key.startswith("CREATOR_KPI_")}
    return {**get_default_environment(), **ours}


def _store_line() -> str:
    """Which experiment store the server reads evidence from (recommend cites it)."""
    from kpi_core.experiments.store import default_path
    from tools._config import ENV_DB, ServerConfig

    configured = ServerConfig.from_env().store_path
    if configured is not None:
        return f"Experiment store: {configured} (from {ENV_DB}).\n"
    return f"Experiment store: {default_path()} (the default; set {ENV_DB} to use another).\n"


async def _demo_calls(out: TextIO, count: int, errlog: TextIO) -> int:
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    from kpi_core.demo import demo_creator_ids, demo_metrics

    params = StdioServerParameters(
        command=sys.executable, args=[str(SERVER_SCRIPT)], env=_server_environment()
    )
    every = demo_creator_ids()
    ids = every[:: max(1, len(every) // count)][:count]  # a spread of sizes and categories
    failures = 0
    async with Client(stdio_client(params, errlog=errlog)) as client:
        info = client.server_info
        name = f"{info.name} {info.version}" if info else "the server"
        tools = [tool.name for tool in (await client.list_tools()).tools]
        out.write(f"Connected to {name} over stdio; tools: {', '.join(tools)}\n")
        out.write(_store_line())
        out.write(f"Synthetic demo creators (generated, not real people): {count} shown.\n\n")
        header = (
            _cell("creator", 22)
            + _cell("category", 10)
            + _cell("followers", 10, right=True)
            + _cell("score", 7, right=True)
            + "  "
            + _cell("band", 10)
            + _cell("coverage", 9, right=True)
            + "  weakest KPI"
        )
        out.write(header + "\n" + "-" * len(header) + "\n")
        for creator_id in ids:
            metrics = demo_metrics(creator_id)
            result = await client.call_tool("score_creator", {"metrics": metrics, "detail": "full"})
            if result.is_error or result.structured_content is None:
                failures += 1
                out.write(f"{_cell(creator_id, 22)}error: {result.content}\n")
                continue
            data = result.structured_content
            out.write(
                _cell(creator_id, 22)
                + _cell(metrics.get("category", "-"), 10)
                + _cell(_followers(float(metrics.get("follower_count", 0))), 10, right=True)
                + _cell(f"{data['overall_score']:.1f}", 7, right=True)
                + "  "
                + _cell(data["band"], 10)
                + _cell(f"{data['coverage']:.0%}", 9, right=True)
                + "  "
                + _weakest(data["kpis"])
                + "\n"
            )
        focus = {"metrics": demo_metrics(ids[0])}
        for tool, extra in (
            ("score_creator", {}),
            ("diagnose", {"top_n": 3}),
            ("recommend", {"max_items": 3}),
        ):
            result = await client.call_tool(tool, {**focus, **extra})
            failures += int(bool(result.is_error))
            out.write(f"\n{tool} on {ids[0]} (the text an assistant reads first):\n")
            for block in result.content:
                out.write("  " + getattr(block, "text", "").replace("\n", "\n  ") + "\n")
            if tool == "recommend" and result.structured_content:
                for item in result.structured_content["recommendations"]:
                    uplift = item["expected_uplift"]
                    out.write(
                        f"    - {item['title']} (priority {item['priority']:.3f}; "
                        f"+{uplift['low']:.2f} to +{uplift['high']:.2f} points)\n"
                    )
    return failures


def run_demo(out: TextIO = sys.stdout, count: int = 8) -> int:
    """Run the demo against a real server subprocess; returns the number of failed calls.

    ``count`` demo creators are scored (1 to the size of the cohort; another count raises
    ``ValueError`` naming the range). The server inherits this process's ``CREATOR_KPI_*``
    settings, so ``CREATOR_KPI_DB`` chooses the experiment store, and the first lines say which.
    """
    import anyio

    try:
        _demo_count(str(count))
    except argparse.ArgumentTypeError as error:
        raise ValueError(f"count {error}") from None
    with tempfile.TemporaryDirectory(prefix="creator-kpi-demo-") as folder:
        log_path = Path(folder) / "server.log"
        with log_path.open("w") as errlog:
            return anyio.run(_demo_calls, out, count, errlog)


def _serve(options: Sequence[str]) -> int:
    """The `serve` subcommand; a refused configuration exits with status 2 and says why."""
    import server

    return server.main(options, prog="creator-kpi-mcp serve")


class ProgressBar:
    """A one-line progress bar on stderr (stdout stays clean for pipes)."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.drawn = False

    def __call__(self, done: float, total: float) -> None:
        share = 0.0 if total <= 0 else min(1.0, done / total)
        filled = round(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {share:4.0%}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """End the bar's line (nothing when no bar was drawn, so an error stays one line)."""
        if self.drawn:
            self.stream.write("\n")


def _run_engine(
    source: str,
    output: str,
    weighting: str,
    currency: str | None,
    engine: str,
    scheduler: str | None,
    batch_rows: int | None,
    missing: str = "benchmark",
) -> int:
    """`creator-kpi-mcp score --engine stream|dask`: the exit status (2 when refused)."""
    from kpi_core.cohorts.stream import EngineSummary
    from kpi_core.errors import KpiError
    from kpi_core.kernel import check_missing
    from tools._config import ServerConfig

    bar = ProgressBar(sys.stderr)
    fx = ServerConfig.from_env().fx_to_default
    summary: EngineSummary
    try:
        if engine == "stream":
            from kpi_core.cohorts.stream import DEFAULT_BATCH_ROWS, score_parquet

            rows = batch_rows or DEFAULT_BATCH_ROWS
            summary = score_parquet(
                source,
                output,
                rows,
                weighting,
                bar,
                currency=currency,
                fx_to_default=fx,
                missing=check_missing(missing),
            )
        else:
            from kpi_core.cohorts.dask_engine import DEFAULT_PARTITION_ROWS, score_dask

            rows = batch_rows or DEFAULT_PARTITION_ROWS
            summary = score_dask(
                source,
                output,
                weighting,
                bar,
                scheduler=scheduler,
                partition_rows=rows,
                currency=currency,
                fx_to_default=fx,
                missing=check_missing(missing),
            )
    except KpiError as error:
        bar.close()
        sys.stderr.write(f"creator-kpi-mcp score: {error}\n")
        return 2
    bar.close()
    parts = "batch" if engine == "stream" else "partition"
    parts += "" if summary.parts == 1 else ("es" if engine == "stream" else "s")
    sys.stdout.write(
        f"Scored {summary.count:,} of {summary.rows:,} creators ({engine} engine, "
        f"{summary.parts:,} {parts}); {summary.rejected:,} rejected with reasons in the "
        f"'rejected' column; wrote {summary.output_path}\n"
    )
    return 0


HOW_TO_MAP_CLI = (
    'give --columns map.json ({"Header in the file": "canonical_name"}); '
    "`creator-kpi-mcp inspect FILE` shows how each header was read and the names it suggests"
)
#: The same advice from inspect itself (which has just shown how each header was read).
HOW_TO_MAP_INSPECT = (
    'give --columns map.json ({"Header in the file": "canonical_name"}); the canonical names '
    "are the fields of the server's kpi://metrics resource"
)


def _read_columns_file(path: str) -> dict[str, str]:
    """A --columns file: JSON or TOML (a table of header = canonical name, or under [columns])."""
    import json
    import tomllib

    from kpi_core.errors import InvalidValueError

    try:
        text = Path(path).read_text("utf-8")
        data: object = tomllib.loads(text) if path.lower().endswith(".toml") else json.loads(text)
    except (OSError, ValueError) as error:
        raise InvalidValueError(
            "--columns", "must be a readable JSON or TOML file", path, str(error)[:120]
        ) from None
    if isinstance(data, dict) and isinstance(data.get("columns"), dict):
        data = data["columns"]
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in data.items()
    ):
        raise InvalidValueError(
            "--columns", "must map header names to canonical names (text to text)", path
        )
    return dict(data)


def _ingest_options(
    columns_file: str | None,
    window_days: str,
    period_days: float | None,
    how_to_map: str = HOW_TO_MAP_CLI,
) -> Any:
    from kpi_core.cohorts.ingest import IngestOptions
    from kpi_core.errors import InvalidValueError

    window: int | None
    if window_days.strip().lower() == "all":
        window = None
    else:
        try:
            window = int(window_days)
        except ValueError:
            raise InvalidValueError(
                "--window-days", "must be a whole number of days or 'all'", window_days
            ) from None
    return IngestOptions(
        columns=_read_columns_file(columns_file) if columns_file else None,
        window_days=window,
        period_days=period_days,
        how_to_map=how_to_map,
    )


def run_inspect(
    source: str,
    *,
    as_json: bool,
    columns_file: str | None,
    window_days: str,
    period_days: float | None,
) -> int:
    """`creator-kpi-mcp inspect FILE`: print how the file would be read (2 when refused)."""
    from kpi_core.cohorts.files import opened_trusted
    from kpi_core.cohorts.inspect import inspect_source
    from kpi_core.cohorts.readers import open_source
    from kpi_core.errors import KpiError

    try:
        options = _ingest_options(columns_file, window_days, period_days, HOW_TO_MAP_INSPECT)
        with opened_trusted(source) as file:
            found = open_source(
                file.handle, file.format, file.size_bytes, options.limits, file.shown
            )
            inspection = inspect_source(found, options)
    except KpiError as error:
        sys.stderr.write(f"creator-kpi-mcp inspect: {error}\n")
        return 2
    if as_json:
        sys.stdout.write(inspection.model_dump_json(indent=2) + "\n")
        return 0
    sys.stdout.write(f"{inspection.summary}\n\n")
    for column in inspection.columns:
        target = column.canonical or "-"
        state = "used" if column.source not in inspection.report.columns_ignored else "ignored"
        examples = ", ".join(column.examples)
        sys.stdout.write(
            f"  {_cell(column.source, 28)} -> {_cell(target, 22)} {column.confidence:4.2f} "
            f"{_cell(state, 8)} {examples}\n"
        )
        if column.note and state == "ignored":
            sys.stdout.write(f"  {'':28}    {column.note}\n")
    return 0


def run_batch(
    source: str,
    output: str,
    weighting: str,
    currency: str | None,
    engine: str = "memory",
    scheduler: str | None = None,
    batch_rows: int | None = None,
    *,
    columns_file: str | None = None,
    window_days: str = "30",
    period_days: float | None = None,
    report_path: str | None = None,
    missing: str = "benchmark",
) -> int:
    """`creator-kpi-mcp score`: the exit status (2 when the input is refused, 1 when nothing
    was scored). The summary goes to stderr; stdout stays clean for pipes."""
    from kpi_core.cohorts.batch import score_file
    from kpi_core.errors import KpiError
    from kpi_core.kernel import check_missing
    from prompts import render
    from tools._config import ServerConfig

    if engine != "memory":
        return _run_engine(
            source, output, weighting, currency, engine, scheduler, batch_rows, missing
        )
    bar = ProgressBar(sys.stderr)
    try:
        options = _ingest_options(columns_file, window_days, period_days)
        summary = score_file(
            source,
            output,
            weighting,
            bar,
            currency=currency,
            fx_to_default=ServerConfig.from_env().fx_to_default,
            options=options,
            missing=check_missing(missing),
        )
    except KpiError as error:
        bar.close()
        sys.stderr.write(f"creator-kpi-mcp score: {error}\n")
        return 2
    bar.close()
    if report_path:
        Path(report_path).write_text(summary.report.model_dump_json(indent=2) + "\n", "utf-8")
    kind = "per-video export, aggregated per creator" if summary.per_video else "creator table"
    sys.stderr.write(render("cohort_ingest.txt.j2", report=summary.report) + "\n")
    sys.stderr.write(
        f"Scored {summary.scored:,} of {summary.rows:,} creators ({kind}); "
        f"{summary.rejected:,} rejected with reasons in the 'rejected' column; "
        f"wrote {summary.output_path}\n"
    )
    return 0 if summary.scored else 1


def _add_file_commands(commands: Any) -> None:
    """The `inspect` and `score` subcommands (an argparse subparsers object)."""
    from kpi_core.cohorts.stream import Engine
    from kpi_core.kernel import MISSING_MODES

    inspect = commands.add_parser("inspect", help="show how a file would be read, score nothing")
    batch = commands.add_parser("score", help="score a file into CSV or Parquet")
    for command in (inspect, batch):
        command.add_argument(
            "input",
            help="CSV, Parquet, .xlsx, JSON or NDJSON: one creator per row, or one video per row",
        )
        command.add_argument(
            "--columns", default=None, metavar="MAP", help="JSON or TOML: header -> canonical name"
        )
        command.add_argument(
            "--window-days",
            default="30",
            metavar="N|all",
            help="days of videos counted per creator (default 30; all: the whole export)",
        )
        command.add_argument(
            "--period-days",
            type=float,
            default=None,
            metavar="N",
            help="days a creator table's totals cover (rescaled to 30 days)",
        )
    inspect.add_argument("--json", action="store_true", help="print the inspection as JSON")
    batch.add_argument("-o", "--output", required=True, help="the .csv or .parquet file to write")
    batch.add_argument(
        "--report", default=None, metavar="FILE", help="write the full ingest report (JSON)"
    )
    batch.add_argument("--weighting", default="tiered", choices=("tiered", "equal"))
    batch.add_argument("--currency", default=None, help="ISO code of the money columns")
    batch.add_argument(
        "--missing",
        default="benchmark",
        choices=MISSING_MODES,
        help="benchmark (default): a missing metric counts at its prior for the creator's size "
        "and widens the interval; renormalise: missing metrics are left out and the weights "
        "renormalised over what has data (optimistic for thin data)",
    )
    batch.add_argument(
        "--engine",
        default="memory",
        choices=("memory", *get_args(Engine)),
        help="memory: the whole file at once (CSV, per-video exports); stream: Parquet in "
        "batches, bounded memory; dask: Parquet files or a glob on a Dask cluster",
    )
    batch.add_argument(
        "--scheduler",
        default=None,
        help="Dask scheduler address for --engine dask (default $CREATOR_KPI_DASK_SCHEDULER, "
        "else a local cluster)",
    )
    batch.add_argument(
        "--batch-rows", type=int, default=None, help="rows per batch (stream) or partition (dask)"
    )


def _run_file_command(args: argparse.Namespace) -> int:
    if args.command == "inspect":
        return run_inspect(
            args.input,
            as_json=args.json,
            columns_file=args.columns,
            window_days=args.window_days,
            period_days=args.period_days,
        )
    return run_batch(
        args.input,
        args.output,
        args.weighting,
        args.currency,
        args.engine,
        args.scheduler,
        args.batch_rows,
        columns_file=args.columns,
        window_days=args.window_days,
        period_days=args.period_days,
        report_path=args.report,
        missing=args.missing,
    )


def _add_outcome_command(commands: Any) -> None:
    outcome = commands.add_parser(
        "outcome",
        help="an operator's review of a recorded experiment outcome: retract it, or confirm one "
        "flagged as implausible (recorded in the store, never deleted)",
    )
    outcome.add_argument("action", choices=("retract", "confirm"))
    outcome.add_argument("plan_id", help="the plan whose outcome to review")
    outcome.add_argument("--reason", required=True, help="why (kept with the review)")
    outcome.add_argument(
        "--db", default=None, help="the experiment store (default $CREATOR_KPI_DB, else the user's)"
    )


def review_outcome(action: str, plan_id: str, reason: str, db: str | None, out: TextIO) -> int:
    """``creator-kpi-mcp outcome retract|confirm PLAN_ID --reason ...``: 0 when recorded."""
    import os

    from kpi_core.errors import KpiError
    from kpi_core.experiments.store import ExperimentStore

    path = db or os.environ.get("CREATOR_KPI_DB", "").strip() or None
    try:
        with ExperimentStore(Path(path).expanduser() if path else None) as store:
            review = store.review_outcome(
                plan_id, "retract" if action == "retract" else "confirm", reason
            )
    except KpiError as error:
        sys.stderr.write(f"creator-kpi-mcp outcome: {error}\n")
        return 2
    out.write(f"{review.summary}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="creator-kpi-mcp",
        description="Score TikTok creators for e-commerce revenue (an MCP server).",
    )
    commands = parser.add_subparsers(dest="command")
    # The serve options are server.py's own (server.add_serve_arguments): they are parsed there,
    # so that the other commands do not import the server.
    commands.add_parser(
        "serve",
        help="serve over stdio (the default) or streamable HTTP (--transport http); "
        "'serve --help' lists the options",
        add_help=False,
    )
    demo = commands.add_parser("demo", help="call the server on built-in demo creators")
    demo.add_argument(
        "--creators",
        type=_demo_count,
        default=8,
        metavar="N",
        help="how many demo creators to score (1 to the size of the demo cohort)",
    )
    _add_file_commands(commands)
    _add_outcome_command(commands)
    args, options = parser.parse_known_args(argv)
    if options and args.command != "serve":
        parser.error(f"unrecognized arguments: {' '.join(options)}")
    if args.command == "outcome":
        return review_outcome(args.action, args.plan_id, args.reason, args.db, sys.stdout)
    if args.command == "score" and args.scheduler and args.engine != "dask":
        parser.error("--scheduler needs --engine dask")
    if args.command in ("inspect", "score"):
        return _run_file_command(args)

    if args.command == "demo":
        return 1 if run_demo(sys.stdout, args.creators) else 0
    if args.command == "serve":
        return _serve(options)
    return _serve([])  # no subcommand: what MCP clients start


if __name__ == "__main__":
    sys.exit(main())
