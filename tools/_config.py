"""Server configuration, read once from the environment (or given by the caller)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kpi_core.errors import InvalidValueError

#: Extra currencies and their rate into USD, such as "EUR=1.08,GBP=1.27".
ENV_FX = "CREATOR_KPI_FX"
#: Directories whose CSV / Parquet files tools may read, separated by the OS path separator.
ENV_ALLOWED_DIRS = "CREATOR_KPI_ALLOWED_DIRS"
#: "1" lets HTTP clients read files in the allowed directories (off by default over HTTP).
ENV_HTTP_FILES = "CREATOR_KPI_HTTP_FILES"
#: How an operator turns file access on: the text errors give as the fix.
HOW_TO_ALLOW_FILES = (
    f"set {ENV_ALLOWED_DIRS} (or start the server with --allow-dir DIR), or let the client "
    "share its roots"
)
#: The same over HTTP, where client roots never count (they name the client's machine).
HOW_TO_ALLOW_FILES_HTTP = (
    f"have the operator set {ENV_ALLOWED_DIRS} (or --allow-dir DIR; client roots do not count "
    "over HTTP)"
)
#: Seconds a single tool call may run before it is stopped with an error.
ENV_TIME_LIMIT = "CREATOR_KPI_TIME_LIMIT"
DEFAULT_TIME_LIMIT = 120.0
#: The experiment store's SQLite file (default: experiments.sqlite3 in the user's data directory).
ENV_DB = "CREATOR_KPI_DB"
#: The directory of the server's caches: tool definitions (tools/_registry.py) and compiled
#: templates (prompts.use_bytecode_cache); "off" turns them off. Default: the user's cache
#: directory (platformdirs).
ENV_CACHE_DIR = "CREATOR_KPI_CACHE_DIR"
#: Tool calls one client may have running at once (a session; over HTTP without a session, an
#: address); its further calls wait for one to end, so one client cannot take every worker.
ENV_CALLS_PER_CLIENT = "CREATOR_KPI_CALLS_PER_CLIENT"
DEFAULT_CALLS_PER_CLIENT = 8
#: The application's name in the user's directories (as the experiment store's).
APP_NAME = "creator-kpi-mcp"
#: The tool definitions cache's file name, and the compiled templates' directory, in it.
DEFINITIONS_FILE = "tool-definitions.json"
TEMPLATES_DIR = "templates"


def parse_time_limit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidValueError(ENV_TIME_LIMIT, "must be a number of seconds", text) from None
    if not 0 < value <= 86_400:
        raise InvalidValueError(ENV_TIME_LIMIT, "must be in (0, 86400] seconds", text)
    return value


def parse_calls_per_client(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InvalidValueError(
            ENV_CALLS_PER_CLIENT, "must be a whole number of calls", text
        ) from None
    if not 1 <= value <= 1000:
        raise InvalidValueError(ENV_CALLS_PER_CLIENT, "must be in [1, 1000]", text)
    return value


def parse_switch(variable: str, text: str) -> bool:
    """'1' on, '0' or unset off; anything else is refused rather than read as off."""
    value = text.strip()
    if value not in ("", "0", "1"):
        raise InvalidValueError(variable, "must be 1 (on) or 0 (off)", value)
    return value == "1"


def parse_fx(text: str) -> dict[str, float]:
    """'EUR=1.08,GBP=1.27' -> {'EUR': 1.08, 'GBP': 1.27}; a malformed entry is an error."""
    rates: dict[str, float] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        code, _, rate = entry.partition("=")
        try:
            value = float(rate)
        except ValueError:
            raise InvalidValueError(ENV_FX, "entries must look like EUR=1.08", entry) from None
        if not code.isalpha() or not 0 < value < 1e6:
            raise InvalidValueError(ENV_FX, "entries must look like EUR=1.08", entry)
        rates[code.upper()] = value
    return rates


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What an operator can configure; `from_env` reads the environment variables."""

    fx_to_default: Mapping[str, float] = field(default_factory=dict[str, float])
    time_limit: float = DEFAULT_TIME_LIMIT
    #: Directories whose files tools may read (besides the client's MCP roots over stdio).
    allowed_dirs: tuple[str, ...] = ()
    #: "stdio" or "http": over HTTP, file access is off unless `http_files` is set.
    transport: str = "stdio"
    http_files: bool = False
    #: None: the default path of kpi_core.store.default_path().
    store_path: Path | None = None
    calls_per_client: int = DEFAULT_CALLS_PER_CLIENT
    #: Where the tool definitions cache lives (None: the user's cache directory).
    cache_dir: Path | None = None
    #: False when the operator turned the cache off (CREATOR_KPI_CACHE_DIR=off).
    use_cache: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ServerConfig":
        env = os.environ if environ is None else environ
        cache = env.get(ENV_CACHE_DIR, "").strip()
        return cls(
            fx_to_default=parse_fx(env.get(ENV_FX, "")),
            time_limit=parse_time_limit(env.get(ENV_TIME_LIMIT, str(DEFAULT_TIME_LIMIT))),
            store_path=Path(db).expanduser() if (db := env.get(ENV_DB, "").strip()) else None,
            allowed_dirs=tuple(filter(None, env.get(ENV_ALLOWED_DIRS, "").split(os.pathsep))),
            http_files=parse_switch(ENV_HTTP_FILES, env.get(ENV_HTTP_FILES, "")),
            calls_per_client=parse_calls_per_client(
                env.get(ENV_CALLS_PER_CLIENT, "").strip() or str(DEFAULT_CALLS_PER_CLIENT)
            ),
            cache_dir=Path(cache).expanduser() if cache not in ("", "off") else None,
            use_cache=cache != "off",
        )

    def cache_path(self) -> Path | None:
        """The directory of the server's caches (tool definitions, compiled templates), or None
        when the operator turned them off."""
        if not self.use_cache:
            return None
        if self.cache_dir is not None:
            return self.cache_dir
        import platformdirs

        return platformdirs.user_cache_path(APP_NAME, appauthor=False)

    def definitions_cache_file(self) -> Path | None:
        """The tool definitions cache file, or None when the cache is off."""
        folder = self.cache_path()
        return None if folder is None else folder / DEFINITIONS_FILE

    @property
    def files_enabled(self) -> bool:
        """Whether tools may read files at all on this transport."""
        return self.transport != "http" or self.http_files
