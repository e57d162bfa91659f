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
import gc
import logging
import sys
from collections.abc import Callable, Sequence
from functools import partial
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from mcp.server.mcpserver.tools import Tool

from prompts import use_bytecode_cache
from tools._config import TEMPLATES_DIR, ServerConfig
from tools._edge import argument_guard, fair_share, redact_paths
from tools._registry import DefinitionsCache, RegistryServer, ToolRegistry, source_key
from tools._schema import lean
from tools._scorecard_view import apps
from tools._warmup import Step, Warmup
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
Start with score_creator (13 KPIs, revenue-tiered weights) and pass its creator_ref to
diagnose, recommend and show_scorecard. All rates are fractions in 0..1.
Every number comes from a deterministic rule-based core; quote them, do not invent others."""


def server_version() -> str:
    try:
        return version("creator-kpi-mcp")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


#: Every tool of the server, in the order tools/list shows them: (tool name, adapter module in
#: tools/, the adapter's builder). An adapter is imported when its tool is first built.
TOOLS: tuple[tuple[str, str, str], ...] = (
    ("score_creator", "score_creator", "build"),
    ("diagnose", "diagnose", "build"),
    ("recommend", "recommend", "build"),
    ("score_cohort", "score_cohort", "build"),
    ("compare_weighting", "compare_weighting", "build"),
    ("design_ab_test", "ab_test", "build_design"),
    ("analyze_ab_test", "ab_test", "build_analyze"),
    ("register_experiment", "experiments", "build_register"),
    ("record_outcome", "experiments", "build_record"),
    ("list_experiments", "experiments", "build_list"),
    ("show_scorecard", "scorecard", "build"),
)
#: The directories and files the tool definitions come from (the definitions cache's key).
SOURCES = tuple(
    Path(__file__).resolve().parent / name for name in ("kpi_core", "tools", "server.py")
)


def _builder(module: str, name: str, config: ServerConfig) -> Callable[[], Tool]:
    def build() -> Tool:
        built: Tool = getattr(import_module(f"tools.{module}"), name)(config)
        return lean(built)

    return build


def tool_registry(config: ServerConfig, cache: DefinitionsCache | None = None) -> ToolRegistry:
    """The server's tools, each built by its adapter in `tools/` when first needed; with a
    `cache` of their definitions for this source tree, none is built now (else all are)."""
    builders = {tool: _builder(module, name, config) for tool, module, name in TOOLS}
    cached = cache.load() if cache is not None else None
    registry = ToolRegistry(builders, cached)
    if cached is None or set(cached) != set(builders):
        registry.build_all()
        if cache is not None:
            cache.save(registry.definitions())
    return registry


def definitions_cache(config: ServerConfig) -> DefinitionsCache | None:
    """The tool definitions cache for this source tree and configuration (None when off)."""
    path = config.definitions_cache_file()
    return None if path is None else DefinitionsCache(path, source_key(SOURCES, repr(config)))


def warmup_steps(registry: ToolRegistry, cache: DefinitionsCache | None) -> list[Step]:
    """What the background warm-up loads, most likely needed first: every tool not yet built
    (then the definitions cache is checked against them), every template compiled, then the
    heavy libraries of the cohort, comparison and experiment tools."""
    steps: list[Step] = [
        (f"build {name}", partial(registry.tool, name))
        for name in registry.names
        if not registry.is_built(name)
    ]
    steps.append(("check the tool definitions cache", partial(registry.refresh, cache)))
    steps.extend((f"compile {name}", partial(_compile, name)) for name in _template_names())
    steps.extend((f"import {module}", partial(import_module, module)) for module in HEAVY_MODULES)
    steps.append(("freeze what was loaded", _freeze))
    return steps


def late_warmup_steps() -> list[Step]:
    """Libraries only some calls need (the fitted weighting, exact tests on small counts),
    loaded once the server has been quiet a while."""
    late: list[Step] = [(f"import {module}", partial(import_module, module)) for module in LATE]
    late.append(("freeze what was loaded late", _freeze))
    return late


def _freeze() -> None:
    """Collect once, then leave everything loaded so far out of later collections: otherwise a
    call would now and then pay for a full collection over the libraries' objects (about 180,000
    of them once pandas and scipy are in; 60-140 ms here)."""
    gc.collect()
    gc.freeze()


#: Libraries tools import on first use, warmed after the tools and templates (0.1-0.4 s each):
#: Student's t (scipy.special) and the cohort and comparison tools' tables.
HEAVY_MODULES = ("scipy.special", "pandas", "pyarrow")
#: Libraries of rarer paths, warmed late: the fitted weighting's solver and the exact tests.
LATE = ("scipy.optimize", "scipy.stats")


def _template_names() -> list[str]:
    from prompts import environment

    return [name for name in environment().list_templates() if name.endswith(".j2")]


def _compile(name: str) -> None:
    from prompts import environment

    environment().get_template(name)


def build_server(
    config: ServerConfig | None = None,
    *,
    cache: DefinitionsCache | None = None,
    warm_up: bool = False,
) -> RegistryServer:
    """A fully configured server (tools, resources, prompts), ready to run on any transport.

    Without `cache` every tool is built now; with one (what `serve` passes), tools are built
    on first use and listed from the cache. With `warm_up`, the server's `warmup` loads the
    rest in the background once the server is quiet (`tools/_warmup.py`); `serve` starts it.
    """
    settings = config or ServerConfig.from_env()
    registry = tool_registry(settings, cache)
    warmup = Warmup(warmup_steps(registry, cache), late=late_warmup_steps()) if warm_up else None
    server = RegistryServer(
        "creator-kpi",
        title="Creator KPI scoring",
        instructions=INSTRUCTIONS,
        version=server_version(),
        registry=registry,
        warmup=warmup,
        middleware=[
            *([warmup.middleware()] if warmup is not None else []),
            fair_share(settings.calls_per_client),
            # Over HTTP the client is not the operator: it never sees the server's paths.
            *([redact_paths(settings.allowed_dirs)] if settings.transport == "http" else []),
            argument_guard(registry.tool),
        ],
        extensions=[apps()],
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
        # Over HTTP the tools read no files unless the operator allows it (tools/_config.py).
        config = dataclasses.replace(config, transport="http")
    cache_path = config.cache_path()
    if cache_path is not None:
        use_bytecode_cache(cache_path / TEMPLATES_DIR)
    server = build_server(config, cache=definitions_cache(config), warm_up=True)
    warmup = server.warmup
    if warmup is not None:
        warmup.start()
    try:
        if http is not None:
            from transport.http import serve_http

            serve_http(server, http)
        else:
            from transport.stdio import serve_stdio

            serve_stdio(server)
    finally:
        if warmup is not None:
            warmup.stop()
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
