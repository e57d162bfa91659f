"""Which directories a tool call may read: the operator's list plus the client's MCP roots.

Roots are asked of the client only when a call names a `path` and the client declared the roots
capability, so clients without roots keep working. Roots count over stdio only: there the client
runs on the user's machine and its roots name the user's folders. Over HTTP a root describes the
*client's* machine, not the server's, so it never widens access: only the operator's directories
count, and file access is off unless the operator enabled it, whatever the client claims.

Reading is bounded here too: at most :data:`FILE_CALLS_AT_ONCE` file (or pasted CSV) calls read
at the same time in one server process (a further call is refused at once with a clear error,
so a burst cannot stack memory budgets), and each read stays within the memory budget
(``CREATOR_KPI_MEMORY_BUDGET_MB``, default 1024).
"""

import contextlib
import os
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlparse

from mcp.server.mcpserver import Context, ListRoots, Resolve
from mcp.types import ListRootsResult

from kpi_core.cohorts.files import FileAccess
from kpi_core.cohorts.readers import DEFAULT_MEMORY_BUDGET
from kpi_core.errors import InvalidValueError
from tools._config import (
    ENV_HTTP_FILES,
    HOW_TO_ALLOW_FILES,
    HOW_TO_ALLOW_FILES_HTTP,
    ServerConfig,
)

__all__ = ["FILE_CALLS_AT_ONCE", "RootsArg", "file_access", "file_call_slot", "memory_budget"]

#: File calls read at once per process (the machine has 2 cores; memory budgets add up).
FILE_CALLS_AT_ONCE = 2
ENV_MEMORY_BUDGET = "CREATOR_KPI_MEMORY_BUDGET_MB"

# One process-wide cap: memory is a property of the process, not of a session or a server
# object. A semaphore is the only mutable state here, and it is never reassigned.
_SLOTS = threading.BoundedSemaphore(FILE_CALLS_AT_ONCE)


@contextlib.contextmanager
def file_call_slot() -> Generator[None]:
    """Hold one of the file-reading slots for the block, or refuse the call at once."""
    if not _SLOTS.acquire(blocking=False):
        raise InvalidValueError(
            "path",
            f"cannot be read now: {FILE_CALLS_AT_ONCE} files are already being read",
            "",
            "try again when a running cohort call has answered",
        )
    try:
        yield
    finally:
        _SLOTS.release()


def memory_budget() -> int:
    """The memory budget of one file call, in bytes (from the environment, else 1 GiB)."""
    raw = os.environ.get(ENV_MEMORY_BUDGET, "").strip()
    if not raw:
        return DEFAULT_MEMORY_BUDGET
    try:
        megabytes = int(raw)
    except ValueError:
        megabytes = 0
    if megabytes < 16:
        raise InvalidValueError(
            ENV_MEMORY_BUDGET, "must be a whole number of megabytes, at least 16", raw
        )
    return megabytes << 20


def _roots_when_needed(path: str | None, ctx: Context) -> ListRoots | ListRootsResult:
    capabilities = ctx.client_capabilities
    if path is None or capabilities is None or capabilities.roots is None:
        return ListRootsResult(roots=[])
    return ListRoots()


#: A hidden tool parameter the SDK fills with the client's roots (or none).
RootsArg = Annotated[ListRootsResult, Resolve(_roots_when_needed)]


def _root_dirs(roots: ListRootsResult) -> list[str]:
    """Existing local directories among the client's `file://` roots."""
    found: list[str] = []
    for root in roots.roots:
        parsed = urlparse(str(root.uri))
        if parsed.scheme != "file":
            continue
        folder = Path(unquote(parsed.path))
        if folder.is_dir():
            found.append(str(folder))
    return found


def file_access(config: ServerConfig, roots: ListRootsResult) -> FileAccess:
    """The directories this call may read, or an error saying how to allow them."""
    if not config.files_enabled:
        raise InvalidValueError(
            "path",
            "cannot be read over HTTP: file access is off for HTTP clients",
            "",
            f"send the creators inline, or have the operator set {ENV_HTTP_FILES}=1",
        )
    client_dirs = _root_dirs(roots) if config.transport == "stdio" else []
    dirs = [*config.allowed_dirs, *client_dirs]
    advice = HOW_TO_ALLOW_FILES if config.transport == "stdio" else HOW_TO_ALLOW_FILES_HTTP
    return FileAccess.from_dirs(dirs, how_to_configure=advice)
