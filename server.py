"""The creator-KPI MCP server: `build_server()` builds it, `main()` serves it over stdio.

    python server.py                 # stdio (what Claude Desktop and Claude Code start)
    creator-kpi-mcp serve            # the same, through the console script

Nothing here writes to stdout: over stdio, stdout is the transport. Logs go to stderr.
"""

import logging
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
from tools._edge import argument_guard
from tools.prompts import register_prompts
from tools.resources import register_resources

__all__ = ["build_server", "main", "server_version"]

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
        middleware=[argument_guard({tool.name: tool for tool in tools})],
        extensions=[scorecard.apps()],
    )
    register_resources(server)
    register_prompts(server)
    return server


def main() -> None:
    """Serve over stdio, with the guard that answers over-deep messages (see tools/http.py)."""
    from tools.http import serve_stdio

    serve_stdio()


if __name__ == "__main__":
    main()
