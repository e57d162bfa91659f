"""The creator-KPI MCP server: `build_server()` builds it, `serve()` runs it on a transport.

    python server.py                 # stdio (what Claude Desktop and Claude Code start)
    python server.py --transport http [--host H] [--port P] [--stateless] [--allow-dir DIR]
    creator-kpi-mcp serve ...        # the same, through the console script

This is the entry: it reads the configuration, builds the server and hands it to a transport
(`transport.stdio` or `transport.http`), which never imports this module back.
Nothing here writes to stdout: over stdio, stdout is the transport. Logs go to stderr.
"""

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from mcp.server import MCPServer
from mcp.server.mcpserver.tools import Tool

from tools import (
    ab_test,
    compare_weighting,
    diagnose,
    experiments,
    recommend,
    score_cohort,
    score_creator,
    scorecard,
)
from tools._config import ServerConfig
from tools._edge import argument_guard, fair_share, redact_paths
from tools.prompts import register_prompts
from tools.resources import register_resources

__all__ = [
    "add_serve_arguments",
    "build_server",
    "main",
    "serve",
    "serve_from_arguments",
    "server_version",
]

logger = logging.getLogger("creator_kpi")

INSTRUCTIONS = """Judge TikTok creators by the e-commerce revenue they can drive.
Start with score_creator (13 KPIs, revenue-tiered weights). All rates are fractions in 0..1.
Every number comes from a deterministic rule-based core; quote them, do not invent others."""


def server_version() -> str:
    try:
        return version("creator-kpi-mcp")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def build_tools(config: ServerConfig) -> list[Tool]:
    """Every tool of the server, each built by its adapter in `tools/`."""
    return [
        score_creator.build(config),
        diagnose.build(config),
        recommend.build(config),
        score_cohort.build(config),
        compare_weighting.build(config),
        ab_test.build_design(config),
        ab_test.build_analyze(config),
        experiments.build_register(config),
        experiments.build_record(config),
        experiments.build_list(config),
        scorecard.build(config),
    ]


def build_server(config: ServerConfig | None = None) -> MCPServer:
    """A fully configured server (tools, resources, prompts), ready to run on any transport."""
    settings = config or ServerConfig.from_env()
    tools = build_tools(settings)
    server = MCPServer(
        "creator-kpi",
        title="Creator KPI scoring",
        instructions=INSTRUCTIONS,
        version=server_version(),
        tools=tools,
        middleware=[
            fair_share(settings.calls_per_client),
            # Over HTTP the client is not the operator: it never sees the server's paths.
            *([redact_paths(settings.allowed_dirs)] if settings.transport == "http" else []),
            argument_guard({tool.name: tool for tool in tools}),
        ],
        extensions=[scorecard.apps()],
    )
    register_resources(server)
    register_prompts(server)
    return server


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def serve(
    transport: str = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    stateless: bool = False,
    allow_dirs: Sequence[str] = (),
) -> int:
    """Serve until the client goes (stdio) or the process is interrupted (HTTP).

    Returns the exit status: 2, with one line on stderr saying why, when the configuration is
    refused (a malformed setting, a non-loopback bind without a token); nothing starts then.
    """
    from kpi_core.errors import KpiError

    _configure_logging()
    try:
        config = ServerConfig.from_env()
        if allow_dirs:
            config = dataclasses.replace(
                config, allowed_dirs=(*config.allowed_dirs, *map(str, allow_dirs))
            )
        http = None
        if transport == "http":
            from transport.http import HttpConfig

            http = HttpConfig.from_env(host, port, stateless=stateless)
    except KpiError as error:
        sys.stderr.write(f"creator-kpi-mcp: not started: {error}\n")
        return 2
    if http is not None:
        from transport.http import serve_http

        # Over HTTP the tools read no files unless the operator allows it (tools/_config.py).
        serve_http(build_server(dataclasses.replace(config, transport="http")), http)
    else:
        from transport.stdio import serve_stdio

        serve_stdio(build_server(config))
    return 0


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `python server.py` and `creator-kpi-mcp serve` (one definition)."""
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default loopback)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (0 picks a free one)")
    parser.add_argument(
        "--stateless", action="store_true", help="HTTP without sessions, for load-balanced replicas"
    )
    parser.add_argument(
        "--allow-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory whose CSV / Parquet files score_cohort may read (repeatable)",
    )


def serve_from_arguments(args: argparse.Namespace) -> int:
    """`serve` with the options `add_serve_arguments` parsed."""
    return serve(
        args.transport, args.host, args.port, stateless=args.stateless, allow_dirs=args.allow_dir
    )


def main(argv: Sequence[str] | None = None, prog: str = "server.py") -> int:
    """`python server.py [options]`: stdio by default, HTTP with ``--transport http``; an
    option it does not know is refused with a one-line error (exit status 2), never ignored."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Serve the creator-KPI MCP server (stdio by default)."
    )
    add_serve_arguments(parser)
    return serve_from_arguments(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
