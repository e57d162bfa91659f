"""File access for cohorts: which files a caller may read, and reading them into a DataFrame.

File access is **off until configured**. The caller (the server, from an environment variable, a
command-line option or the client's MCP roots) passes the allowed directories explicitly; nothing
here reads the environment or defaults to the working directory (desktop clients often start
servers with the working directory at ``/`` or the home directory).

The rules :meth:`FileAccess.resolve` applies, in order (each refusal is an
:class:`~kpi_core.errors.InvalidValueError` on the field ``path`` naming the rule):

1. **not configured**: the list of allowed directories is empty;
2. **not a path**: the path is not a non-empty string without NUL bytes, or is over 4096 characters;
3. **``..`` escape**: the path, with ``..`` applied lexically, leaves every allowed directory;
4. **outside**: an absolute path that is not inside any allowed directory;
5. **missing**: the file does not exist (only said for paths inside an allowed directory, so a
   refusal never reveals whether a file exists elsewhere);
6. **symlink escape**: the path, with every symlink resolved (``Path.resolve(strict=True)``), lies
   outside every allowed directory (itself resolved the same way);
7. **not a regular file**: a directory, FIFO, socket or device;
8. **too large**: over the size cap (200 MB by default, configurable);
9. **unsupported format**: a name not ending in ``.csv``, ``.parquet`` or ``.pq``.

A relative path is looked up in each allowed directory in turn; the first directory where it
exists is used. Reading opens the resolved path once with ``O_NOFOLLOW`` and checks the opened
file again (regular, under the cap) before parsing it, so the file read is the file checked.

CSV is read with pyarrow (UTF-8, a byte-order mark is skipped, empty cells and the usual null
markers such as ``NA`` become missing); malformed lines (a wrong number of fields) are skipped and
listed in :attr:`LoadedTable.skipped_lines` rather than failing the whole file. Parquet is read
with pyarrow.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, cast

from kpi_core.errors import InvalidValueError, truncate

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SUPPORTED_SUFFIXES",
    "FileAccess",
    "LoadedTable",
    "SkippedLine",
    "file_format",
    "load_table",
    "read_table_file",
]

#: Default cap on the size of a file read for a cohort.
DEFAULT_MAX_BYTES = 200 * 1024 * 1024

#: File name endings read, and the format each means.
SUPPORTED_SUFFIXES: dict[str, Literal["csv", "parquet"]] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}

#: Longest path accepted (as text).
MAX_PATH_CHARS = 4096

#: Malformed CSV lines listed individually (the count is always complete).
MAX_SKIPPED_LISTED = 50

_DEFAULT_HOW_TO_CONFIGURE = "give the allowed directories to FileAccess(allowed_dirs=[...])"

FileFormat = Literal["csv", "parquet"]


def _megabytes(size: int) -> str:
    """A size for a reader: '200.0 MB', '1.5 KB' or '512 bytes'."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} bytes"


@dataclass(frozen=True, slots=True)
class FileAccess:
    """The file-access policy: the allowed directories and the size cap.

    ``allowed_dirs`` are resolved (symlinks included) when the policy is built; each must be an
    existing directory. ``how_to_configure`` is the text the error messages give as the fix (the
    server says which environment variable, option or MCP roots set the directories).
    """

    allowed_dirs: tuple[Path, ...]
    max_bytes: int = DEFAULT_MAX_BYTES
    how_to_configure: str = _DEFAULT_HOW_TO_CONFIGURE

    @classmethod
    def from_dirs(
        cls,
        allowed_dirs: Iterable[str | os.PathLike[str]],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        how_to_configure: str = _DEFAULT_HOW_TO_CONFIGURE,
    ) -> FileAccess:
        """A policy over ``allowed_dirs`` (an empty list means file access is off)."""
        if isinstance(allowed_dirs, str | bytes | os.PathLike):
            # A lone string would be iterated character by character ("/" first): refuse it.
            raise InvalidValueError(
                "allowed_dirs",
                "must be a list of directories, not a single path",
                allowed_dirs,
                "wrap it in a list: [path]",
            )
        if isinstance(max_bytes, bool) or max_bytes < 1:
            raise InvalidValueError(
                "max_bytes", "must be a positive whole number of bytes", max_bytes
            )
        resolved: list[Path] = []
        for entry in allowed_dirs:
            text = os.fspath(entry)
            if not text or "\x00" in text:
                raise InvalidValueError(
                    "allowed_dirs", "must name existing directories", text, how_to_configure
                )
            try:
                directory = Path(text).expanduser().resolve(strict=True)
            except (OSError, RuntimeError):
                raise InvalidValueError(
                    "allowed_dirs", "must name existing directories", text, how_to_configure
                ) from None
            if not directory.is_dir():
                raise InvalidValueError(
                    "allowed_dirs", "must name directories, not files", text, how_to_configure
                )
            if directory not in resolved:
                resolved.append(directory)
        return cls(tuple(resolved), max_bytes, how_to_configure)

    def _refuse(self, path: object, rule: str, hint: str = "") -> InvalidValueError:
        return InvalidValueError("path", rule, path, hint)

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """The real path of ``path`` if the policy allows reading it; else InvalidValueError."""
        if not self.allowed_dirs:
            raise self._refuse(
                path,
                "cannot be read: file access is not configured",
                f"{self.how_to_configure}, or pass the creators inline",
            )
        text = _path_text(path)
        if text is None:
            raise self._refuse(path, "must be a non-empty file path")
        if len(text) > MAX_PATH_CHARS:
            raise self._refuse(path, f"must be at most {MAX_PATH_CHARS} characters")

        candidate = self._lexical_candidate(text)
        try:
            real = candidate.resolve(strict=True)
        except FileNotFoundError:
            raise self._refuse(
                text, "does not exist", "check the file name; paths are case-sensitive"
            ) from None
        except (OSError, RuntimeError):
            raise self._refuse(text, "cannot be resolved (a broken or looping symlink?)") from None
        if not self._inside(real):
            raise self._refuse(
                text,
                "resolves (through a symlink) outside the allowed directories",
                "copy the file into an allowed directory instead of linking to it",
            )
        try:
            info = real.stat()
        except OSError:
            raise self._refuse(text, "cannot be read") from None
        self._check_stat(text, info)
        file_format(real, text)
        return real

    def _lexical_candidate(self, text: str) -> Path:
        """The path with ``..`` applied lexically, checked against the allowed directories."""
        raw = Path(text).expanduser() if text.startswith("~") else Path(text)
        dirs = ", ".join(str(directory) for directory in self.allowed_dirs)
        escapes = ".." in raw.parts
        if raw.is_absolute():
            normal = Path(os.path.normpath(raw))
            if self._inside(normal) or self._inside_unresolved(normal):
                return normal
            if escapes:
                raise self._refuse(
                    text,
                    "must not use '..' to leave the allowed directories",
                    f"allowed: {truncate(dirs, 200)}",
                )
            raise self._refuse(
                text,
                "must be inside an allowed directory",
                f"allowed: {truncate(dirs, 200)}; {self.how_to_configure} to allow another",
            )
        first_inside: Path | None = None
        for directory in self.allowed_dirs:
            normal = Path(os.path.normpath(directory / raw))
            if not self._inside_of(normal, directory):
                continue
            if first_inside is None:
                first_inside = normal
            if os.path.lexists(normal):
                return normal
        if first_inside is None:
            raise self._refuse(
                text,
                "must not use '..' to leave the allowed directories",
                f"give a path inside {truncate(dirs, 200)}",
            )
        return first_inside

    def _inside(self, path: Path) -> bool:
        return any(self._inside_of(path, directory) for directory in self.allowed_dirs)

    def _inside_unresolved(self, path: Path) -> bool:
        # An allowed directory given through a symlink (such as /tmp on macOS) is stored
        # resolved; an absolute path spelled through the same link is judged by its real parent.
        try:
            parent = path.parent.resolve(strict=True)
        except (OSError, RuntimeError):
            return False
        return self._inside(parent / path.name)

    @staticmethod
    def _inside_of(path: Path, directory: Path) -> bool:
        return path == directory or path.is_relative_to(directory)

    def _check_stat(self, text: str, info: os.stat_result) -> None:
        if not stat.S_ISREG(info.st_mode):
            raise self._refuse(
                text, "must be a regular file (not a directory, device, FIFO or socket)"
            )
        if info.st_size > self.max_bytes:
            raise self._refuse(
                text,
                f"must be at most {_megabytes(self.max_bytes)} "
                f"(the file is {_megabytes(info.st_size)})",
                "split the file, or raise the size cap in the server's configuration",
            )


def _path_text(path: object) -> str | None:
    """The path as text, or None when it is not a usable path (callers may pass anything)."""
    if isinstance(path, os.PathLike):
        path = os.fspath(cast("os.PathLike[str]", path))
    if not isinstance(path, str) or not path or "\x00" in path:
        return None
    return path


def file_format(real: Path, shown: str) -> FileFormat:
    """The format of a file from its name (the resolved name, else the name as given)."""
    found = SUPPORTED_SUFFIXES.get(real.suffix.lower()) or SUPPORTED_SUFFIXES.get(
        Path(shown).suffix.lower()
    )
    if found is None:
        raise InvalidValueError(
            "path",
            "must be a .csv, .parquet or .pq file",
            shown,
            "export the creators as CSV or Parquet",
        )
    return found


@dataclass(frozen=True, slots=True)
class SkippedLine:
    """A CSV line that could not be parsed (a wrong number of fields); its text is truncated."""

    expected_fields: int
    actual_fields: int
    text: str


@dataclass(frozen=True, slots=True)
class LoadedTable:
    """A file read into a DataFrame, with what the reader had to skip."""

    frame: pd.DataFrame
    path: Path
    format: FileFormat
    size_bytes: int
    skipped_lines: tuple[SkippedLine, ...] = ()
    skipped_total: int = 0


def load_table(
    path: str | os.PathLike[str],
    access: FileAccess | Sequence[str | os.PathLike[str]],
    *,
    max_bytes: int | None = None,
) -> LoadedTable:
    """Read ``path`` as a DataFrame if the policy allows it (see the module docstring).

    ``access`` is a :class:`FileAccess` or the list of allowed directories (an empty list means
    file access is off). ``max_bytes`` overrides the policy's size cap.
    """
    policy = access if isinstance(access, FileAccess) else FileAccess.from_dirs(access)
    if max_bytes is not None:
        policy = FileAccess(policy.allowed_dirs, max_bytes, policy.how_to_configure)
    real = policy.resolve(path)
    shown = path if isinstance(path, str) else os.fspath(path)
    return _read(real, file_format(real, shown), policy.max_bytes, shown)


def read_table_file(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> LoadedTable:
    """Read a CSV or Parquet file the caller trusts (no directory policy), such as the input of
    the batch command, which a data team runs on its own files. The format comes from the suffix.
    """
    text = os.fspath(path)
    real = Path(text).expanduser()
    found = file_format(real, text)
    if not real.exists():
        raise InvalidValueError("path", "does not exist", text)
    return _read(real, found, max_bytes, text)


def _read(real: Path, file_format: FileFormat, max_bytes: int | None, shown: str) -> LoadedTable:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(real, flags)
    except OSError as error:
        raise InvalidValueError("path", "cannot be opened", shown, error.strerror or "") from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InvalidValueError("path", "must be a regular file", shown)
        if max_bytes is not None and info.st_size > max_bytes:
            raise InvalidValueError(
                "path",
                f"must be at most {_megabytes(max_bytes)} (the file is {_megabytes(info.st_size)})",
                shown,
            )
        if file_format == "parquet":
            frame = _read_parquet(handle, shown)
            skipped: list[SkippedLine] = []
            total = 0
        else:
            frame, skipped, total = _read_csv(handle, shown)
    return LoadedTable(
        frame=frame,
        path=real,
        format=file_format,
        size_bytes=info.st_size,
        skipped_lines=tuple(skipped[:MAX_SKIPPED_LISTED]),
        skipped_total=total,
    )


def _read_parquet(handle: BinaryIO, shown: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(handle)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise InvalidValueError(
            "path", "must be a readable Parquet file", shown, truncate(str(error), 120)
        ) from None
    return table.to_pandas()


def _read_csv(handle: BinaryIO, shown: str) -> tuple[pd.DataFrame, list[SkippedLine], int]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    skipped: list[SkippedLine] = []
    counter = [0]

    def on_invalid_row(row: Any) -> str:  # a pyarrow.csv.InvalidRow (pyarrow is untyped)
        counter[0] += 1
        if len(skipped) < MAX_SKIPPED_LISTED:
            skipped.append(
                SkippedLine(
                    expected_fields=int(row.expected_columns),
                    actual_fields=int(row.actual_columns),
                    text=truncate(str(row.text)),
                )
            )
        return "skip"

    try:
        table = pcsv.read_csv(
            handle,
            parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid_row),
            convert_options=pcsv.ConvertOptions(strings_can_be_null=True),
        )
    except (pa.ArrowException, OSError, ValueError) as error:
        raise InvalidValueError(
            "path",
            "must be a readable CSV file (UTF-8, comma-separated, with a header line)",
            shown,
            truncate(str(error), 120),
        ) from None
    return table.to_pandas(), skipped, counter[0]
