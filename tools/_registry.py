"""Tools built when first needed, and listed from a cache of their definitions until then.

Building a tool (importing its adapter and the core modules behind it, generating its input and
output schemas) is most of what a fresh server spends before its first answer, and a first call
needs one tool. A :class:`ToolRegistry` therefore keeps a builder per tool and builds a tool on
its first call (or in the background warm-up, :meth:`ToolRegistry.build_all`). ``tools/list``
needs every tool's definition: a built tool gives its own, an unbuilt one comes from a
:class:`DefinitionsCache`, a JSON file of the definitions this very source tree produced before.
Its key covers every file the definitions come from (path, size, modification time, as Python's
own bytecode cache does), the versions of Python, the SDK and pydantic, and the server's
configuration; a server that finds no cache for its key builds every tool at start (as without
a cache) and writes one. The warm-up compares the built definitions with the cached ones and
rewrites the cache when they differ, so a key that missed a change costs one stale listing.

:class:`RegistryServer` is the SDK's ``MCPServer`` with its tools served from a registry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, InputRequiredResult
from mcp.types import Tool as MCPTool

from tools._warmup import Warmup

__all__ = [
    "DefinitionsCache",
    "RegistryServer",
    "ToolBuilder",
    "ToolRegistry",
    "definition",
    "source_key",
]

logger = logging.getLogger("creator_kpi.server")

ToolBuilder = Callable[[], Tool]
#: The files whose content can change a tool's definition (code, data, not templates or views).
_SOURCE_SUFFIXES = (".py", ".toml", ".json", ".csv")
#: The cache file's format; a change of layout changes it.
_CACHE_FORMAT = 1


def definition(tool: Tool) -> MCPTool:
    """A built tool as ``tools/list`` shows it (as the SDK's ``MCPServer.list_tools`` maps it)."""
    return MCPTool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=tool.parameters,
        output_schema=tool.output_schema,
        annotations=tool.annotations,
        icons=tool.icons,
        _meta=tool.meta,
    )


def _source_files(roots: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
            continue
        for folder, subfolders, names in os.walk(root):
            subfolders[:] = sorted(set(subfolders) - {"__pycache__", "node_modules"})
            files.extend(Path(folder) / n for n in sorted(names) if n.endswith(_SOURCE_SUFFIXES))
    return files


def source_key(roots: Iterable[Path], settings: str) -> str:
    """The cache key: each source file's path, size and modification time under ``roots``, the
    versions of Python, the SDK and pydantic, and ``settings`` (the configuration's text)."""
    digest = hashlib.sha256()
    for part in (
        str(_CACHE_FORMAT),
        sys.version,
        version("mcp"),
        version("pydantic"),
        version("pydantic-core"),
        settings,
    ):
        digest.update(part.encode() + b"\0")
    for path in _source_files(roots):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


class DefinitionsCache:
    """The file of tool definitions for one key; reading and writing never fail the server."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key

    def load(self) -> dict[str, MCPTool] | None:
        """The cached definitions by tool name, or None when there are none for this key."""
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(stored, dict) or stored.get("key") != self.key:
                return None
            tools = [MCPTool.model_validate(item) for item in stored["tools"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            if not isinstance(error, FileNotFoundError):
                logger.info("tool definitions cache %s not used: %s", self.path, error)
            return None
        return {tool.name: tool for tool in tools}

    def save(self, tools: Sequence[MCPTool]) -> None:
        """Replace the file atomically (another server may be reading it); log a failure."""
        document = {
            "key": self.key,
            "tools": [tool.model_dump(mode="json", by_alias=True) for tool in tools],
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(document, file, separators=(",", ":"))
            os.replace(temporary, self.path)
        except OSError as error:
            logger.info("tool definitions cache %s not written: %s", self.path, error)


class ToolRegistry:
    """Every tool of the server by name: built on first use, listed from a cache until then."""

    def __init__(
        self, builders: Mapping[str, ToolBuilder], cached: Mapping[str, MCPTool] | None = None
    ) -> None:
        self._builders = dict(builders)
        self._cached = dict(cached or {})
        self._built: dict[str, Tool] = {}
        self._lock = threading.RLock()

    @property
    def names(self) -> list[str]:
        return list(self._builders)

    def is_built(self, name: str) -> bool:
        return name in self._built

    def tool(self, name: str) -> Tool | None:
        """The tool called ``name``, built now if it was not yet (None for an unknown name)."""
        found = self._built.get(name)
        if found is not None or name not in self._builders:
            return found
        with self._lock:
            if name not in self._built:
                self._built[name] = self._builders[name]()
                logger.debug("tool %s built", name)
            return self._built[name]

    def build_all(self) -> None:
        for name in self._builders:
            self.tool(name)

    def definitions(self) -> list[MCPTool]:
        """What ``tools/list`` shows, in registration order: built tools' own definitions, the
        cached ones for the others (a tool with neither is built now)."""
        listed: list[MCPTool] = []
        for name in self._builders:
            built = self._built.get(name)
            cached = self._cached.get(name)
            if built is None and cached is None:
                built = self.tool(name)
            listed.append(definition(built) if built is not None else cached)  # type: ignore[arg-type]
        return listed

    def refresh(self, cache: DefinitionsCache | None) -> None:
        """Build every tool; rewrite ``cache`` if a cached definition differs from its tool's
        (a change the key missed), with a warning naming the tools."""
        self.build_all()
        stale = self.stale_definitions()
        if cache is not None and stale:
            logger.warning("tool definitions cache was stale for %s; rewritten", ", ".join(stale))
            cache.save(self.definitions())

    def stale_definitions(self) -> list[str]:
        """The tools whose cached definition differs from the built one (call after
        :meth:`build_all`); empty when there was no cache."""
        return [
            name
            for name, cached in self._cached.items()
            if name in self._built and _dumped(definition(self._built[name])) != _dumped(cached)
        ]


def _dumped(tool: MCPTool) -> dict[str, Any]:
    return tool.model_dump(mode="json", by_alias=True)


class RegistryServer(MCPServer):
    """The SDK's server with its tools in a :class:`ToolRegistry` (tools added with
    ``add_tool`` are served by the SDK as usual, after the registry's), and the warm-up that
    loads the rest in the background when it is served."""

    def __init__(
        self, *args: Any, registry: ToolRegistry, warmup: Warmup | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.registry = registry
        #: The background warm-up of a served server (None in memory).
        self.warmup = warmup

    async def list_tools(self) -> list[MCPTool]:
        return [*self.registry.definitions(), *await super().list_tools()]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        tool = self.registry.tool(name)
        if tool is None:
            return await super().call_tool(name, arguments, context)
        # What the SDK's ToolManager.call_tool does for a tool it holds.
        return await tool.run(arguments, context or Context(mcp_server=self), convert_result=True)
