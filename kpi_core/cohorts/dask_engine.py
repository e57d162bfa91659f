"""The Dask engine: score creator tables across the cores of a machine or the workers of a cluster.

An optional extra (``pip install '.[dask]'``): this module imports without Dask, and imports
``dask`` and ``distributed`` only inside the functions that use them.

* :func:`score_dataframe` is the lazy building block: it maps every partition of a Dask DataFrame
  (one creator per row, canonical metric names as columns) through
  :func:`.cohort.score_rows` (the validation and the one kernel the batch command uses)
  with ``map_partitions`` and the output columns declared as ``meta``
  (:data:`kpi_core.cohorts.batch.OUTPUT_COLUMNS`, a bad row kept with its reasons).
* :func:`score_dask` runs it: on a Dask DataFrame, or on a Parquet file, directory or glob (each
  file split into partitions of whole row groups of about ``partition_rows`` rows, read by the
  workers themselves). Each worker writes its partitions as ``part.NNNNN.parquet`` files (the
  output columns and metadata of the batch command, in input order) into a temporary directory
  next to ``dst``, which is renamed to ``dst`` only when every partition is written; it returns
  the same :class:`~kpi_core.cohorts.stream.EngineSummary` as the streaming engine, combined
  from one small summary per partition.

Where it runs: the scheduler at ``scheduler`` (an argument, else the environment variable
``CREATOR_KPI_DASK_SCHEDULER``, such as ``tcp://10.0.0.5:8786``), or else a local cluster sized to
the machine (one single-threaded worker process per core, no dashboard), started for the call and
closed after it. On a remote cluster the input paths and ``dst``'s directory must be visible to
the workers and to the caller at the same path (a shared file system). The MCP tools never start a
cluster; a server configured with a scheduler address may pass it on.

Failures raise :class:`~kpi_core.errors.KpiError` with the culprit named: a scheduler that does
not answer within ``connect_timeout`` seconds, or an address where something else answers (the
address; :func:`check_scheduler` reads the scheduler's handshake first), a corrupt or unreadable
input (the file, and the partition's index and row groups), a worker lost while scoring (the
partition). On any failure ``dst`` is left as it was and the temporary directory is removed.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import itertools
import os
import shutil
import socket
import struct
import tempfile
import time
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from kpi_core import errors
from kpi_core.cohorts.batch import check_output_path, output_metadata, output_table, write_options
from kpi_core.cohorts.cohort import Progress, score_rows
from kpi_core.cohorts.ingest import is_per_video_export
from kpi_core.cohorts.stream import (
    EngineSummary,
    SummaryPart,
    arrow_errors,
    check_rows,
    check_top_n,
    one_line,
    output_schema,
    read_columns,
)
from kpi_core.errors import InvalidValueError, KpiError, Problem
from kpi_core.kernel import Missing, check_missing
from kpi_core.weights import Weighting, WeightingArg, resolve_weighting

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, Future, LocalCluster

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_PARTITION_ROWS",
    "SCHEDULER_ENV",
    "PartitionFailure",
    "check_scheduler",
    "local_cluster",
    "score_dask",
    "score_dataframe",
]

_Result = TypeVar("_Result")

#: The environment variable holding the scheduler address used when none is passed.
SCHEDULER_ENV = "CREATOR_KPI_DASK_SCHEDULER"
#: Rows per partition read from Parquet (whole row groups are grouped up to this).
DEFAULT_PARTITION_ROWS = 250_000
#: Seconds to wait for a scheduler before giving up.
DEFAULT_CONNECT_TIMEOUT = 5.0
#: The largest first message a scheduler is believed to send (its handshake is about 60 bytes).
_MAX_HANDSHAKE_BYTES = 64 * 1024
#: The scheduler's port when an address gives none (Dask's default).
_DEFAULT_SCHEDULER_PORT = 8786
#: glibc's mmap threshold in the local cluster's worker processes (see local_cluster).
_MMAP = 64 * 2**20
#: Seconds to wait, after a failure, for running partitions to finish writing.
_STOP_TIMEOUT = 120.0


class PartitionFailure(Exception):  # noqa: N818 - a failure report carried from a worker
    """Raised inside a task when a partition cannot be read, scored or written.

    Picklable (its arguments are its state), so it crosses from a worker process to the caller,
    where :func:`score_dask` turns it into a :class:`~kpi_core.errors.KpiError` naming the
    partition. ``problems`` and ``kind`` carry a ``KpiError`` raised by the scoring.
    """

    def __init__(
        self,
        partition: int,
        label: str,
        message: str,
        problems: tuple[Problem, ...] = (),
        kind: str = "",
    ) -> None:
        super().__init__(partition, label, message, problems, kind)
        self.partition = partition
        self.label = label
        self.message = message
        self.problems = problems
        self.kind = kind

    def __str__(self) -> str:
        return f"partition {self.partition} ({self.label}): {self.message}"


def _describe(error: BaseException) -> str:
    return one_line(f"{type(error).__name__}: {error}")


def _failure(partition: int, label: str, error: Exception) -> PartitionFailure:
    if isinstance(error, KpiError):
        return PartitionFailure(partition, label, str(error), error.problems, type(error).__name__)
    return PartitionFailure(partition, label, _describe(error))


# --------------------------------------------------------------------------------------------
# planning the partitions of Parquet input (on the caller, from the files' footers)


@dataclass(frozen=True, slots=True)
class _Piece:
    """One partition of Parquet input: some consecutive row groups of one file."""

    index: int
    path: str
    row_groups: tuple[int, ...]
    first_row: int
    rows: int

    @property
    def label(self) -> str:
        if not self.row_groups:
            return self.path
        first, last = self.row_groups[0], self.row_groups[-1]
        groups = f"row group {first}" if first == last else f"row groups {first}-{last}"
        return f"{self.path}, {groups}"


def _expand(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """The Parquet files of a path, a directory (its .parquet/.pq files), a glob or a list."""
    if isinstance(source, str | os.PathLike):
        text = str(Path(source).expanduser())
        if os.path.isdir(text):
            found = [
                str(path)
                for path in sorted(Path(text).iterdir())
                if path.suffix.lower() in (".parquet", ".pq") and not path.name.startswith(".")
            ]
        elif glob.has_magic(text):
            found = sorted(glob.glob(text))
        else:
            found = [text]
        if not found:
            raise InvalidValueError(
                "source",
                "matches no Parquet file",
                text,
                "give a .parquet file, a directory of them or a glob such as data/*.parquet",
            )
        return found
    files = [str(Path(item).expanduser()) for item in source]
    if not files:
        raise InvalidValueError("source", "must name at least one Parquet file", "[]")
    return files


def _plan(files: list[str], partition_rows: int) -> tuple[list[_Piece], list[str], Any]:
    """Partitions of whole row groups, the columns to read, and the input's pyarrow schema."""
    import pyarrow.parquet as pq

    pieces: list[_Piece] = []
    columns: list[str] | None = None
    schema: Any = None
    first_row = 0
    for path in files:
        try:
            metadata: Any = pq.ParquetFile(path).metadata
            file_schema: Any = metadata.schema.to_arrow_schema()
        except arrow_errors() as error:
            raise InvalidValueError(
                "source",
                "has a file that could not be read as Parquet",
                os.path.basename(path),
                f"{one_line(path, 400)}: {_describe(error)}",
            ) from error
        names = [str(name) for name in file_schema.names]
        if columns is None:
            if is_per_video_export(names):
                raise InvalidValueError(
                    "source",
                    "is a per-video export, which needs the whole input to aggregate per creator",
                    os.path.basename(path),
                    "score it with the in-memory engine (creator-kpi-mcp score --engine memory)",
                )
            columns = read_columns(names)
            schema = file_schema
        elif read_columns(names) != columns:
            raise InvalidValueError(
                "source",
                "has files with different metric columns",
                os.path.basename(path),
                one_line(
                    f"{path} differs from {files[0]}, whose columns are: "
                    f"{', '.join(columns) or 'none'}",
                    800,
                ),
            )
        group: list[int] = []
        group_rows = 0
        row_groups = int(metadata.num_row_groups)
        for number in range(row_groups):
            rows = int(metadata.row_group(number).num_rows)
            if group and group_rows + rows > partition_rows:
                pieces.append(_Piece(len(pieces), path, tuple(group), first_row, group_rows))
                first_row += group_rows
                group, group_rows = [], 0
            group.append(number)
            group_rows += rows
        if group or row_groups == 0:
            pieces.append(_Piece(len(pieces), path, tuple(group), first_row, group_rows))
            first_row += group_rows
    assert columns is not None
    return pieces, columns, schema


def _read_piece(piece: _Piece, names: list[str]) -> pd.DataFrame:
    """Read one partition (runs on a worker); a failure names the file and row groups."""
    import pyarrow.parquet as pq

    try:
        parquet: Any = pq.ParquetFile(piece.path)
        table: Any = parquet.read_row_groups(list(piece.row_groups), columns=names)
    except Exception as error:
        raise _failure(piece.index, piece.label, error) from None
    return cast("pd.DataFrame", table.to_pandas())


# --------------------------------------------------------------------------------------------
# scoring and writing partitions (these run on the workers)


def _score_partition(
    frame: pd.DataFrame,
    weighting: Weighting,
    currency: str | None,
    fx_to_default: Mapping[str, float] | None,
    first_rows: tuple[int, ...],
    labels: tuple[str, ...],
    missing: Missing = "benchmark",
    partition_info: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    number = int(partition_info["number"]) if partition_info is not None else 0
    try:
        scores = score_rows(
            frame, weighting, currency=currency, fx_to_default=fx_to_default, missing=missing
        )
        table = output_table(scores, frame, first_row=first_rows[number])
    except Exception as error:
        raise _failure(number, labels[number], error) from None
    return cast("pd.DataFrame", table.to_pandas())


def _write_part(
    frame: pd.DataFrame,
    number: int,
    label: str,
    directory: str,
    metadata: dict[str, str],
    top_n: int,
) -> SummaryPart:
    """Write one scored partition as ``part.NNNNN.parquet``; its summary for the caller."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        converted: Any = pa.Table.from_pandas(frame, schema=output_schema(), preserve_index=False)
        table: Any = converted.replace_schema_metadata(metadata)
        with open(os.path.join(directory, f"part.{number:05d}.parquet"), "wb") as handle:
            pq.write_table(table, handle, **write_options())
            handle.flush()
            os.fsync(handle.fileno())
        return SummaryPart.from_table(table, top_n)
    except Exception as error:
        raise _failure(number, label, error) from None


def _output_meta() -> pd.DataFrame:
    return cast("pd.DataFrame", output_schema().empty_table().to_pandas())


def score_dataframe(
    frame: dd.DataFrame,
    weighting: WeightingArg | Weighting = "tiered",
    *,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    first_rows: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    missing: Missing = "benchmark",
) -> dd.DataFrame:
    """The scored Dask DataFrame (lazy): the output columns of the batch command per partition.

    ``row`` numbers rows across partitions from ``first_rows`` (each partition's first row);
    without it, the partitions' lengths are computed first (one pass over the input, on the
    current Dask scheduler). ``labels`` name the partitions in errors (default ``partition N``).
    ``missing`` is that of :func:`kpi_core.score`.
    """
    scheme = resolve_weighting(weighting)
    check_missing(missing)
    collection: Any = frame  # dask is only partly typed
    count = int(collection.npartitions)
    if first_rows is None:
        lengths = [int(length) for length in collection.map_partitions(len).compute()]
        first_rows = [0, *itertools.accumulate(lengths)][:-1]
    return collection.map_partitions(
        _score_partition,
        scheme,
        currency,
        dict(fx_to_default) if fx_to_default is not None else None,
        tuple(int(row) for row in first_rows),
        tuple(labels) if labels is not None else tuple(f"partition {i}" for i in range(count)),
        missing,
        meta=_output_meta(),
        align_dataframes=False,
    )


# --------------------------------------------------------------------------------------------
# the caller's side: connecting, running, collecting


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def local_cluster(n_workers: int | None = None, *, processes: bool = True) -> LocalCluster:
    """A local Dask cluster sized to the machine: ``n_workers`` single-threaded workers (default
    one per core), worker processes (or threads of this process), no dashboard.

    Use it as a context manager (it closes its workers). The scheduler's own small HTTP endpoint
    (health and metrics) listens on a free loopback port instead of 8787, so a second cluster on
    the machine neither collides nor warns.

    Worker processes get ``MALLOC_MMAP_THRESHOLD_`` of 64 MiB. Distributed sets
    ``MALLOC_TRIM_THRESHOLD_``, which also freezes glibc's mmap threshold at 128 KiB, so every
    temporary array of a partition (a few MB each) would be mapped and page-faulted afresh: about
    10x the page faults and a fifth more CPU for the kernel's column arithmetic.
    """
    import dask.config
    from distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": _MMAP}):
        return LocalCluster(
            n_workers=n_workers or _cores(),
            threads_per_worker=1,
            processes=processes,
            # typed str, but None is distributed's documented way to turn the dashboard off
            dashboard_address=None,  # pyright: ignore[reportArgumentType]
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        )


def _use_local_cluster() -> str:
    return f"unset {SCHEDULER_ENV} and omit --scheduler to use a local cluster"


def _unreachable(address: str, timeout: float, error: BaseException) -> KpiError:
    return KpiError(
        "scheduler",
        f"could not be reached within {timeout:g} s",
        address,
        f"check that a Dask scheduler listens there ({_describe(error)}), or "
        + _use_local_cluster(),
    )


def _not_a_scheduler(address: str, rule: str) -> KpiError:
    return KpiError(
        "scheduler",
        rule,
        address,
        f"check the host and port (a Dask scheduler listens on {_DEFAULT_SCHEDULER_PORT} unless "
        "told otherwise), or " + _use_local_cluster(),
    )


def _receive(connection: socket.socket, size: int, deadline: float) -> bytes:
    """Exactly ``size`` bytes before ``deadline`` (``socket.timeout`` when they do not come,
    ``ConnectionError`` when the peer closes first)."""
    chunks: list[bytes] = []
    missing = size
    while missing:
        connection.settimeout(max(0.001, deadline - time.monotonic()))
        chunk = connection.recv(min(missing, 65536))
        if not chunk:
            raise ConnectionError("the connection was closed")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _is_handshake(message: bytes) -> bool:
    """Whether ``message`` (after its 8-byte length) is framed as distributed frames a message:
    a frame count, each frame's length, and frames that fill the rest exactly."""
    if len(message) < 16:
        return False
    (count,) = struct.unpack_from("Q", message)
    if not 1 <= count <= (len(message) - 8) // 8:
        return False
    sizes = struct.unpack_from(f"{count}Q", message, 8)
    return 8 * (1 + count) + sum(sizes) == len(message)


def check_scheduler(address: str, timeout: float) -> None:
    """Refuse an address where no Dask scheduler answers, all within ``timeout`` seconds.

    distributed's ``Client`` waits without a limit on a listener that accepts a connection and
    says nothing, and reads the first 8 bytes of any other reply as a message length (an HTTP
    server's reply asks it for 3 EiB). A scheduler speaks first: on each new connection it sends
    its handshake, an 8-byte length and that many bytes framed as distributed frames a message.
    This reads that much, before the deadline, and checks that the framing adds up; it then
    closes the connection. Only ``tcp://`` addresses (and addresses without a scheme) are
    checked; TLS and the other transports are left to distributed. Raises
    :class:`~kpi_core.errors.KpiError` naming the address; ``OSError`` when nothing listens.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme != "tcp":
        return
    host, port = parse_host_port(location, _DEFAULT_SCHEDULER_PORT)
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as connection:
        try:
            (length,) = struct.unpack("Q", _receive(connection, 8, deadline))
            if not 16 <= length <= _MAX_HANDSHAKE_BYTES:
                raise _not_a_scheduler(address, "answered, but not as a Dask scheduler does")
            message = _receive(connection, length, deadline)
        except TimeoutError:
            rule = f"accepted the connection but sent no Dask handshake within {timeout:g} s"
            raise _not_a_scheduler(address, rule) from None
        except ConnectionError:
            rule = "closed the connection without sending a Dask handshake"
            raise _not_a_scheduler(address, rule) from None
    if not _is_handshake(message):
        raise _not_a_scheduler(address, "answered, but not as a Dask scheduler does")


@contextlib.contextmanager
def _connect(
    scheduler: str | None, connect_timeout: float, n_workers: int | None
) -> Generator[tuple[Client, str]]:
    """A client of the given scheduler (or the environment's), else of a new local cluster."""
    from distributed import Client

    address = scheduler if scheduler is not None else os.environ.get(SCHEDULER_ENV, "").strip()
    if not address:
        cluster = local_cluster(n_workers)
        with cluster, Client(cluster, set_as_default=False) as client:
            yield client, "the local cluster"
        return
    try:
        check_scheduler(address, connect_timeout)
        client = Client(address, timeout=connect_timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise _unreachable(address, connect_timeout, error) from error
    with client:
        yield client, address


@contextlib.contextmanager
def _replacing_directory(target: Path) -> Generator[Path]:
    """A new directory beside ``target``, renamed to ``target`` when the block completes."""
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield temporary
        temporary.chmod(0o755)  # mkdtemp makes it private
        if not (target.exists() or target.is_symlink()):
            temporary.rename(target)
            return
        old = target.parent / f"{temporary.name}.old"
        target.rename(old)
        try:
            temporary.rename(target)
        except BaseException:
            old.rename(target)
            raise
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _partition_error(failure: PartitionFailure) -> KpiError:
    if failure.problems:
        kind = getattr(errors, failure.kind, KpiError)
        first, *rest = failure.problems
        where = one_line(failure.label, 400)
        located = Problem(
            first.field,
            first.rule,
            f"{first.value} in partition {failure.partition}",
            f"{first.hint} ({where})" if first.hint else where,
        )
        return cast("type[KpiError]", kind).from_problems([located, *rest])
    return InvalidValueError(
        "source",
        "has a partition that could not be read or scored",
        f"partition {failure.partition}",
        f"{one_line(failure.label, 400)}: {failure.message}",
    )


def _collect(
    client: Client,
    futures: Sequence[Future[_Result]],
    labels: Sequence[str],
    address: str,
    on_done: Callable[[int], None] | None = None,
) -> list[_Result]:
    """Every partition's result, in partition order; a failure names its partition.

    ``on_done(number)`` is called as each partition finishes (in the order they finish).
    """
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    position = {future.key: i for i, future in enumerate(futures)}
    results: dict[int, _Result] = {}
    try:
        for future in as_completed(futures, loop=client.loop):
            number = position[future.key]
            try:
                results[number] = future.result()
            except PartitionFailure as failure:
                raise _partition_error(failure) from None
            except KilledWorker as error:
                raise KpiError(
                    "partition",
                    "lost its worker (a worker died while scoring it, more than once)",
                    f"partition {number}",
                    f"{one_line(labels[number], 400)}: the worker may have run out of memory; "
                    "lower partition_rows, or give the workers more memory",
                ) from error
            except (OSError, TimeoutError) as error:
                raise KpiError(
                    "scheduler",
                    "lost the connection while scoring",
                    address,
                    f"partition {number} ({labels[number]}) was running; {_describe(error)}",
                ) from error
            if on_done is not None:
                on_done(number)
    finally:
        _stop(client, [future for future in futures if not future.done()])
    return [results[number] for number in range(len(futures))]


def _stop(client: Client, pending: Sequence[Future[Any]]) -> None:
    """Cancel what has not started and let what is running finish, so that no worker writes
    into the temporary directory after it is removed (cancelling does not stop a running task)."""
    if not pending:
        return
    # Cleanup after a failure must not hide that failure, whatever state the cluster is in
    # (the scheduler may be gone); each step is therefore allowed to fail on its own.
    running: list[Future[Any]] = []
    with contextlib.suppress(Exception):
        assigned = cast("dict[str, list[object]]", client.processing())
        processing = {key for keys in assigned.values() for key in keys}
        running = [future for future in pending if future.key in processing]
        client.cancel([future for future in pending if future.key not in processing])
    deadline = time.monotonic() + _STOP_TIMEOUT
    for future in running:
        with contextlib.suppress(Exception):  # its own failure, or the deadline
            future.result(timeout=max(0.0, deadline - time.monotonic()))
    with contextlib.suppress(Exception):
        client.cancel(pending)


def _require_dask() -> None:
    try:
        importlib.import_module("dask.dataframe")
        importlib.import_module("distributed")  # used by _connect; checked here, before any work
    except ImportError as error:
        raise KpiError(
            "engine",
            "dask needs the optional Dask extra, which is not installed",
            "dask",
            "pip install 'creator-kpi-mcp[dask]', or use the stream engine",
        ) from error


@dataclass(frozen=True, slots=True)
class _Inputs:
    """What the engine reads: the lazy frame, its empty meta frame, its format and pieces."""

    frame: dd.DataFrame
    meta: pd.DataFrame
    format: str
    pieces: list[_Piece] | None


def _inputs(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | dd.DataFrame,
    partition_rows: int,
) -> _Inputs:
    import dask.dataframe as dd

    if isinstance(source, dd.DataFrame):
        meta = cast("pd.DataFrame", source._meta)  # pyright: ignore[reportPrivateUsage]
        if is_per_video_export([str(name) for name in meta.columns]):
            raise InvalidValueError(
                "source",
                "is a per-video export, which needs the whole input to aggregate per creator",
                "a Dask DataFrame",
                "aggregate it per creator first (kpi_core.cohorts.ingest.aggregate_videos)",
            )
        return _Inputs(source, meta, "dask", None)
    pieces, columns, schema = _plan(_expand(source), partition_rows)
    meta = cast("pd.DataFrame", schema.empty_table().select(columns).to_pandas())
    frame = dd.from_map(
        _read_piece,
        pieces,
        args=[columns],
        meta=meta,
        label="creator-kpi-read",
        enforce_metadata=False,
    )
    return _Inputs(frame, meta, "parquet", pieces)


def _rows_and_labels(client: Client, inputs: _Inputs, address: str) -> tuple[list[int], list[str]]:
    """Rows and a label per partition (counted on the cluster for a Dask DataFrame)."""
    from dask.delayed import delayed

    if inputs.pieces is not None:
        return [piece.rows for piece in inputs.pieces], [piece.label for piece in inputs.pieces]
    labels = [f"partition {i}" for i in range(int(inputs.frame.npartitions))]
    counting = [delayed(len)(part) for part in inputs.frame.to_delayed()]
    counts = cast("list[Future[int]]", client.compute(counting))
    return [int(count) for count in _collect(client, counts, labels, address)], labels


def _write_parts(
    client: Client,
    scored: dd.DataFrame,
    labels: list[str],
    rows: list[int],
    target: Path,
    metadata: dict[str, str],
    top_n: int,
    address: str,
    progress: Progress | None,
) -> list[SummaryPart]:
    """Write each scored partition as a part of ``target``; the summary part of each."""
    from dask.delayed import delayed

    write = cast("Callable[..., Any]", delayed(_write_part, pure=True))
    token = uuid.uuid4().hex
    done = 0
    total = float(sum(rows))

    def report(number: int) -> None:
        nonlocal done
        done += rows[number]
        if progress is not None:
            progress(float(done), total)

    with _replacing_directory(target) as directory:
        tasks = [
            write(
                part,
                number,
                labels[number],
                str(directory),
                metadata,
                top_n,
                dask_key_name=f"creator-kpi-write-{token}-{number}",
            )
            for number, part in enumerate(scored.to_delayed())
        ]
        futures = cast("list[Future[SummaryPart]]", client.compute(tasks))
        return _collect(client, futures, labels, address, report)


def score_dask(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | dd.DataFrame,
    dst: str | os.PathLike[str],
    weighting: WeightingArg | Weighting = "tiered",
    progress: Progress | None = None,
    *,
    scheduler: str | None = None,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    top_n: int = 20,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    n_workers: int | None = None,
    missing: Missing = "benchmark",
) -> EngineSummary:
    """Score ``source`` on a Dask cluster into the directory ``dst`` (Parquet parts).

    ``source`` is a Dask DataFrame, a Parquet file, a directory of them, a glob or a list of
    paths. ``scheduler`` is a scheduler address (default: ``$CREATOR_KPI_DASK_SCHEDULER``; when
    neither is set, a local cluster of ``n_workers`` processes, default one per core, runs the
    call). ``progress(rows_done, rows_total)`` is called as partitions finish. Raises
    :class:`~kpi_core.errors.KpiError` naming the address, file or partition at fault (see the
    module docstring); bad rows do not raise. ``missing`` is that of :func:`kpi_core.score`.
    """
    _require_dask()
    check_missing(missing)
    target = check_output_path(dst, (".parquet", ".pq"))
    check_top_n(top_n)
    check_rows("partition_rows", partition_rows)
    scheme = resolve_weighting(weighting)
    fx = dict(fx_to_default) if fx_to_default is not None else None
    inputs = _inputs(source, partition_rows)
    # Scoring the empty frame checks the call's arguments (currency, columns) before any work.
    probe = score_rows(inputs.meta, scheme, currency=currency, fx_to_default=fx, missing=missing)
    metadata = output_metadata(
        scheme, probe.currency, inputs.format, per_video=False, missing=missing
    )

    with _connect(scheduler, connect_timeout, n_workers) as (client, address):
        rows, labels = _rows_and_labels(client, inputs, address)
        first_rows = [0, *itertools.accumulate(rows)][:-1]
        scored = score_dataframe(
            inputs.frame,
            scheme,
            currency=currency,
            fx_to_default=fx,
            first_rows=first_rows,
            labels=labels,
            missing=missing,
        )
        parts = _write_parts(
            client, scored, labels, rows, target, metadata, top_n, address, progress
        )
    totals = SummaryPart(top_n=top_n)
    for part in parts:
        totals.merge(part)
    return totals.summary(
        output_path=target,
        engine="dask",
        weighting=scheme,
        currency=probe.currency,
        missing=missing,
    )
