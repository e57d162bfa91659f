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
8. **hard link**: a file with more than one hard link (``st_nlink > 1``): another name of the
   same file may lie outside the allowed directories, and nothing can tell which name is the
   original, so such a file is refused (copy it into the directory instead);
9. **too large**: over the size cap (200 MB by default, configurable);
10. **unsupported format**: a name not ending in ``.csv``, ``.parquet``, ``.pq``, ``.xlsx``,
    ``.json``, ``.ndjson`` or ``.jsonl``.

A relative path is looked up in each allowed directory in turn; the first directory where it
exists is used. Reading opens the resolved path once with ``O_NOFOLLOW`` and checks the opened
file again (regular, under the cap) before parsing it, so the file read is the file checked.

Reading itself (bounded batches, a memory budget, only the mapped columns) is
:mod:`kpi_core.cohorts.readers`; :func:`opened` hands it the checked, open file. The batch
command's :func:`opened_trusted` applies no directory policy but still refuses anything that is
not a regular file (a FIFO would block the command forever) and never blocks while opening.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from kpi_core.cohorts.readers import FORMATS, FileFormat
from kpi_core.errors import InvalidValueError, truncate

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FileAccess",
    "OpenedFile",
    "file_format",
    "opened",
    "opened_trusted",
]

#: Default cap on the size of a file read for a cohort.
DEFAULT_MAX_BYTES = 200 * 1024 * 1024

#: Longest path accepted (as text).
MAX_PATH_CHARS = 4096

_DEFAULT_HOW_TO_CONFIGURE = "give the allowed directories to FileAccess(allowed_dirs=[...])"


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
        if info.st_nlink > 1:
            raise self._refuse(
                text,
                "has more than one hard link, and another name of it may be outside the "
                "allowed directories",
                "copy the file into an allowed directory instead of linking it",
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
    found = FORMATS.get(real.suffix.lower()) or FORMATS.get(Path(shown).suffix.lower())
    if found is None:
        raise InvalidValueError(
            "path",
            "must be a .csv, .parquet, .pq, .xlsx, .json, .ndjson or .jsonl file",
            shown,
            "export the creators as CSV, Parquet, Excel or JSON",
        )
    return found


@dataclass(frozen=True, slots=True)
class OpenedFile:
    """A checked file, open for reading: what the readers get."""

    handle: BinaryIO
    path: Path
    format: FileFormat
    size_bytes: int
    shown: str


@contextlib.contextmanager
def opened(
    path: str | os.PathLike[str], access: FileAccess | Sequence[str | os.PathLike[str]]
) -> Generator[OpenedFile]:
    """Open ``path`` if the policy allows it (see the module docstring), checked again once open."""
    policy = access if isinstance(access, FileAccess) else FileAccess.from_dirs(access)
    real = policy.resolve(path)
    shown = _echo(path)
    with _open_checked(real, shown, policy.max_bytes, follow=False) as (handle, size):
        yield OpenedFile(handle, real, file_format(real, shown), size, shown)


@contextlib.contextmanager
def opened_trusted(
    path: str | os.PathLike[str], *, max_bytes: int | None = None
) -> Generator[OpenedFile]:
    """Open a file the caller trusts (the batch command's input): no directory policy, but only
    a regular file, opened without blocking."""
    text = os.fspath(path)
    real = Path(text).expanduser()
    found = file_format(real, text)
    try:
        info = real.stat()
    except FileNotFoundError:
        raise InvalidValueError("path", "does not exist", text) from None
    except OSError as error:
        raise InvalidValueError("path", "cannot be read", text, error.strerror or "") from None
    if not stat.S_ISREG(info.st_mode):
        raise InvalidValueError(
            "path", "must be a regular file (not a directory, device, FIFO or socket)", text
        )
    with _open_checked(real, text, max_bytes, follow=True) as (handle, size):
        yield OpenedFile(handle, real, found, size, text)


@contextlib.contextmanager
def _open_checked(
    real: Path, shown: str, max_bytes: int | None, *, follow: bool
) -> Generator[tuple[BinaryIO, int]]:
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
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
        if hasattr(os, "set_blocking"):
            os.set_blocking(handle.fileno(), True)
        yield handle, info.st_size


def _echo(path: object) -> str:
    if isinstance(path, os.PathLike):
        path = os.fspath(cast("os.PathLike[str]", path))
    text = str(path).replace("\n", " ").replace("\r", " ")
    return text if len(text) <= 200 else text[:197] + "..."
