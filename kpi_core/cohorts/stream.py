"""Streaming Parquet scoring: files larger than memory, scored batch by batch.

:func:`score_parquet` reads a creator table (one creator per row, canonical metric names as
columns) from Parquet in record batches of ``batch_rows`` rows
(``pyarrow.parquet.ParquetFile.iter_batches``, reading only the columns the scoring reads), scores
each batch exactly as the batch command does (:func:`.cohort.score_rows`: validation and
one pass of the kernel; a bad row is kept with its reasons), and appends it to the output with a
``pyarrow.parquet.ParquetWriter``. Memory is bounded by a few batches (and the compressed size of
one row group), whatever the size of the file. The output has the columns and metadata of
:mod:`kpi_core.cohorts.batch` (the library contract), one row group per batch, and is written to a
temporary file in the output's directory that is renamed over the output only when complete.

The summary (:class:`EngineSummary`, shared with :mod:`kpi_core.cohorts.dask_engine`) is combined
chunk by chunk (:class:`SummaryPart`): the counts, the leaderboard (the top ``top_n`` by overall
score with the cohort's tie-break: overall score descending, then ``creator_id`` ascending with
missing ids last, then row), and the distribution of the overall score and each KPI over the scored
rows with the cohort's fixed bins and exact moments (``mean`` and population ``std`` merged with
Chan et al.'s parallel algorithm, which agrees with a whole-column computation to about 1e-12).
Quantiles need a sort of the whole column, so an engine summary leaves ``quantiles`` empty; read the
output file's score column for them.

A per-video export needs grouping across the whole file, so it is refused here: aggregate it with
the in-memory batch command (:func:`kpi_core.cohorts.batch.score_file`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from kpi_core.catalogue import KPI_IDS, load_catalogue
from kpi_core.cohorts.batch import (
    check_output_path,
    output_metadata,
    output_table,
    replacing_file,
    write_options,
)
from kpi_core.cohorts.cohort import (
    BINS,
    COVERAGE_TOLERANCE,
    MAX_REJECTED_LISTED,
    MAX_TOP_N,
    THIN_COVERAGE,
    Distribution,
    HistogramBin,
    LeaderboardEntry,
    Progress,
    ScoreSummary,
    _echo_id,
    score_rows,
)
from kpi_core.cohorts.ingest import is_per_video_export
from kpi_core.errors import InvalidValueError
from kpi_core.kernel import Missing, check_missing
from kpi_core.scoring import Band
from kpi_core.weights import Weighting, WeightingArg, resolve_weighting

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "Engine",
    "EngineSummary",
    "RejectedExample",
    "SummaryPart",
    "arrow_errors",
    "check_rows",
    "check_top_n",
    "one_line",
    "output_schema",
    "read_columns",
    "score_parquet",
]

FloatArray = npt.NDArray[np.float64]

#: The chunked engines (the batch command's ``--engine`` adds ``memory``).
Engine = Literal["stream", "dask"]

#: Rows per record batch: about 10 MB of input for 20 metrics, big enough to amortise the
#: per-batch overhead and small enough that a few batches are a rounding error in memory.
DEFAULT_BATCH_ROWS = 65_536

#: Bytes read from the file at a time (a buffered stream instead of whole column chunks).
_READ_BUFFER = 1 << 20

#: Longest error text from a reader echoed in an error.
_ECHO_ERROR = 200


class RejectedExample(BaseModel):
    """A rejected row, as the output file records it."""

    index: int = Field(description="0-based position of the row in the input.")
    creator_id: str | None = Field(description="The row's creator id, capped.")
    reasons: str = Field(description="Why, '; '-separated, as in the output's rejected column.")


class EngineSummary(BaseModel):
    """What a streaming or Dask run wrote, with the distribution combined over every chunk."""

    output_path: str = Field(description="The file (stream) or directory of parts (dask).")
    engine: Engine
    rows: int = Field(description="Rows read.")
    count: int = Field(description="Creators scored (valid rows).")
    rejected: int = Field(description="Rows rejected; their reasons are in the output.")
    rejected_examples: list[RejectedExample] = Field(
        description=f"The first {MAX_REJECTED_LISTED} rejected rows by index."
    )
    leaderboard: list[LeaderboardEntry] = Field(
        description="The top creators by overall score (cohort tie-break), with intervals."
    )
    thin_data: int = Field(
        default=0, description="Scored creators with under half the weight measured."
    )
    no_revenue_data: int = Field(
        default=0, description="Scored creators with no data on any revenue (tier 1) KPI."
    )
    missing: Missing = Field(
        default="benchmark", description="How missing metrics counted: benchmark or renormalise."
    )
    distribution: Distribution = Field(
        description="Fixed bins and exact moments over the scored rows; quantiles are not "
        "computed (they need a whole-column sort) and are left empty."
    )
    parts: int = Field(description="Record batches (stream) or partitions (dask) scored.")
    weighting: str
    currency: str
    model_version: str


# --------------------------------------------------------------------------------------------
# combinable summaries


def _edges(scale: float) -> list[float]:
    """The fixed bin edges, exactly as :mod:`kpi_core.cohorts.cohort` computes them."""
    return [scale * i / BINS for i in range(BINS + 1)]


@dataclass(slots=True)
class _Moments:
    """Count, mean, sum of squared deviations, extremes and fixed-bin counts of one score."""

    scale: float
    scored: int = 0
    mean: float = 0.0
    squares: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    bins: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(BINS, dtype=np.int64))

    def add(self, values: FloatArray) -> None:
        present = values[~np.isnan(values)]
        if len(present) == 0:
            return
        mean = float(np.mean(present))
        deviations = present - mean
        deviations *= deviations
        chunk = _Moments(
            self.scale,
            scored=len(present),
            mean=mean,
            squares=float(np.sum(deviations)),
            low=float(present.min()),
            high=float(present.max()),
        )
        # bin i holds [edge i, edge i+1), the first bin also what lies below and the last bin is
        # closed, as the cohort's searchsorted on the sorted column counts them
        at_or_above = [np.count_nonzero(present >= edge) for edge in _edges(self.scale)[1:-1]]
        upper = [len(present), *at_or_above, 0]
        chunk.bins = np.array([upper[i] - upper[i + 1] for i in range(BINS)], dtype=np.int64)
        self.merge(chunk)

    def merge(self, other: _Moments) -> None:
        """Chan, Golub and LeVeque's pairwise update of the mean and the squared deviations."""
        if other.scored == 0:
            return
        if self.scored == 0:
            self.scored, self.mean, self.squares = other.scored, other.mean, other.squares
        else:
            total = self.scored + other.scored
            delta = other.mean - self.mean
            self.mean += delta * other.scored / total
            self.squares += other.squares + delta * delta * self.scored * other.scored / total
            self.scored = total
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)
        self.bins = self.bins + other.bins

    def summary(self, population: int) -> ScoreSummary:
        edges = _edges(self.scale)
        bins = [
            HistogramBin(low=edges[i], high=edges[i + 1], count=int(self.bins[i]))
            for i in range(BINS)
        ]
        if self.scored == 0:
            return ScoreSummary(
                scored=0,
                not_scored=population,
                mean=None,
                std=None,
                min=None,
                max=None,
                quantiles={},
                bins=bins,
            )
        return ScoreSummary(
            scored=self.scored,
            not_scored=population - self.scored,
            mean=self.mean,
            std=math.sqrt(max(self.squares, 0.0) / self.scored),
            min=self.low,
            max=self.high,
            quantiles={},
            bins=bins,
        )


#: A leaderboard candidate: its sort key, then the fields of its entry (the overall score and
#: its interval bounds, band, coverages, KPI scores).
_Candidate = tuple[
    tuple[float, bool, str, int],
    str | None,
    tuple[float, float, float],
    str,
    float,
    float,
    tuple[float, ...],
]


def _column(table: Any, name: str) -> FloatArray:
    """A float column of a pyarrow table as float64 with NaN for nulls."""
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def _texts(table: Any, name: str, rows: npt.NDArray[np.intp]) -> list[str | None]:
    """Some rows of a text column of a pyarrow table (None for nulls)."""
    picked = table.column(name).take(rows).to_pylist()
    return cast("list[str | None]", picked)


@dataclass(slots=True)
class SummaryPart:
    """The combinable summary of some scored rows: build one per chunk and merge them.

    :meth:`from_table` reads a chunk of output (the columns of
    :data:`kpi_core.cohorts.batch.OUTPUT_COLUMNS`); :meth:`merge` folds another part in;
    :meth:`summary` gives the :class:`EngineSummary`. Parts are small (no per-row data beyond
    ``top_n`` candidates and the first rejected rows) and picklable, so a Dask worker returns one
    per partition.
    """

    top_n: int
    rows: int = 0
    count: int = 0
    rejected: int = 0
    thin_data: int = 0
    no_revenue_data: int = 0
    overall: _Moments = field(default_factory=lambda: _Moments(100.0))
    kpis: dict[str, _Moments] = field(
        default_factory=lambda: {kpi_id: _Moments(1.0) for kpi_id in KPI_IDS}
    )
    candidates: list[_Candidate] = field(default_factory=list[_Candidate])
    examples: list[RejectedExample] = field(default_factory=list[RejectedExample])
    parts: int = 0

    @classmethod
    def from_table(cls, table: Any, top_n: int) -> SummaryPart:
        """The summary of one chunk of output (a ``pyarrow.Table`` of the output columns)."""
        part = cls(top_n=top_n, rows=table.num_rows, parts=1)
        rejected_text = table.column("rejected")
        valid = np.asarray(rejected_text.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        part.count = int(valid.sum())
        part.rejected = part.rows - part.count
        overall = _column(table, "overall_score")  # NaN on every rejected row
        part.overall.add(overall)
        with np.errstate(invalid="ignore"):  # NaN on rejected rows compares false
            thin = _column(table, "coverage") < THIN_COVERAGE - COVERAGE_TOLERANCE
            no_revenue = _column(table, "revenue_coverage") <= 0.0
        part.thin_data = int(thin.sum())
        part.no_revenue_data = int(no_revenue.sum())
        for kpi_id in KPI_IDS:
            part.kpis[kpi_id].add(_column(table, f"{kpi_id}_score"))  # NaN when rejected

        row_numbers = np.asarray(table.column("row").to_numpy(), dtype=np.int64)
        if part.rejected:
            listed = np.flatnonzero(~valid)[:MAX_REJECTED_LISTED]
            ids = _texts(table, "creator_id", listed)
            reasons = _texts(table, "rejected", listed)
            part.examples = [
                RejectedExample(
                    index=int(row_numbers[row]),
                    creator_id=_echo_id(ids[i]),
                    reasons=reasons[i] or "",
                )
                for i, row in enumerate(listed)
            ]
        part.candidates = _candidates(table, overall, row_numbers, top_n)
        return part

    def merge(self, other: SummaryPart) -> None:
        self.rows += other.rows
        self.count += other.count
        self.rejected += other.rejected
        self.thin_data += other.thin_data
        self.no_revenue_data += other.no_revenue_data
        self.parts += other.parts
        self.overall.merge(other.overall)
        for kpi_id in KPI_IDS:
            self.kpis[kpi_id].merge(other.kpis[kpi_id])
        self.candidates = sorted([*self.candidates, *other.candidates])[: self.top_n]
        self.examples = sorted([*self.examples, *other.examples], key=lambda item: item.index)[
            :MAX_REJECTED_LISTED
        ]

    def summary(
        self,
        *,
        output_path: Path,
        engine: Engine,
        weighting: Weighting,
        currency: str,
        missing: Missing = "benchmark",
    ) -> EngineSummary:
        leaderboard = [
            LeaderboardEntry(
                rank=rank,
                index=key[3],
                creator_id=creator_id,
                overall_score=overall,
                score_low=low,
                score_high=high,
                band=cast("Band", band),
                coverage=coverage,
                revenue_coverage=revenue_coverage,
                sort_value=overall,
                kpi_scores={
                    kpi_id: None if math.isnan(value) else value
                    for kpi_id, value in zip(KPI_IDS, kpi_scores, strict=True)
                },
            )
            for rank, (
                key,
                creator_id,
                (overall, low, high),
                band,
                coverage,
                revenue_coverage,
                kpi_scores,
            ) in enumerate(self.candidates, start=1)
        ]
        return EngineSummary(
            output_path=str(output_path),
            engine=engine,
            rows=self.rows,
            count=self.count,
            rejected=self.rejected,
            rejected_examples=self.examples,
            leaderboard=leaderboard,
            thin_data=self.thin_data,
            no_revenue_data=self.no_revenue_data,
            missing=missing,
            distribution=Distribution(
                overall_score=self.overall.summary(self.count),
                kpis={kpi_id: self.kpis[kpi_id].summary(self.count) for kpi_id in KPI_IDS},
            ),
            parts=self.parts,
            weighting=weighting.name,
            currency=currency,
            model_version=load_catalogue().model_version,
        )


def _candidates(
    table: Any, overall: FloatArray, row_numbers: npt.NDArray[np.int64], top_n: int
) -> list[_Candidate]:
    """The chunk's best ``top_n`` rows by overall score, with the cohort's tie-break."""
    rows = np.flatnonzero(~np.isnan(overall))
    if len(rows) > top_n:
        values = overall[rows]
        kth = len(rows) - top_n
        threshold = np.partition(values, kth)[kth]
        rows = rows[values >= threshold]  # ties at the threshold all stay; the sort settles them
    ids = [_echo_id(value) for value in _texts(table, "creator_id", rows)]
    bands = _texts(table, "band", rows)
    coverage = _column(table, "coverage")
    revenue_coverage = _column(table, "revenue_coverage")
    low = _column(table, "score_low")
    high = _column(table, "score_high")
    kpi_scores = [_column(table, f"{kpi_id}_score") for kpi_id in KPI_IDS]
    found: list[_Candidate] = []
    for j, row in enumerate(rows):
        score = float(overall[row])
        found.append(
            (
                (-score, ids[j] is None, ids[j] or "", int(row_numbers[row])),
                ids[j],
                (score, float(low[row]), float(high[row])),
                bands[j] or "",
                float(coverage[row]),
                float(revenue_coverage[row]),
                tuple(float(column[row]) for column in kpi_scores),
            )
        )
    found.sort()
    return found[:top_n]


# --------------------------------------------------------------------------------------------
# the output's shape, and what to read


@cache
def output_schema() -> Any:
    """The ``pyarrow.Schema`` of the output columns (without metadata)."""
    import pandas as pd

    empty = pd.DataFrame()
    return output_table(score_rows(empty), empty).schema


def read_columns(names: list[str]) -> list[str]:
    """The columns of an input that scoring reads (metric names, aliases, id, currency), in
    their order; the others are ignored by the scoring anyway, so they need not be read."""
    catalogue = load_catalogue()
    return [name for name in names if catalogue.aliases.get(name, name) in catalogue.metrics]


def check_top_n(top_n: object) -> int:
    """The leaderboard's length: a whole number in [1, MAX_TOP_N]."""
    if isinstance(top_n, bool) or not isinstance(top_n, int) or not 1 <= top_n <= MAX_TOP_N:
        raise InvalidValueError("top_n", f"must be a whole number in [1, {MAX_TOP_N}]", top_n)
    return top_n


def check_rows(field: str, rows: object) -> int:
    """A row count argument (``batch_rows``, ``partition_rows``): a whole number >= 1."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InvalidValueError(field, "must be a whole number >= 1", rows)
    return rows


def one_line(text: str, limit: int = _ECHO_ERROR) -> str:
    """Free text (a path, an exception's message) for an error's hint: one line, capped."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def arrow_errors() -> tuple[type[Exception], ...]:
    """What pyarrow raises for a file it cannot read (``OSError`` and ``ArrowException``)."""
    import pyarrow as pa

    arrow_exception: type[Exception] = pa.ArrowException
    return (OSError, arrow_exception)


def _reader_error(error: BaseException) -> str:
    return one_line(f"{type(error).__name__}: {error}")


# --------------------------------------------------------------------------------------------
# the streaming engine


def score_parquet(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    batch_rows: int = DEFAULT_BATCH_ROWS,
    weighting: WeightingArg | Weighting = "tiered",
    progress: Progress | None = None,
    *,
    top_n: int = 20,
    currency: str | None = None,
    fx_to_default: Mapping[str, float] | None = None,
    missing: Missing = "benchmark",
) -> EngineSummary:
    """Score the creator table in the Parquet file ``src`` into ``dst`` (Parquet), batch by batch.

    ``progress(rows_done, rows_total)`` is called after each batch; ``missing`` is that of
    :func:`kpi_core.score`. Raises
    :class:`~kpi_core.errors.KpiError` for an unreadable or corrupt ``src`` (naming the file and
    the rows being read), a per-video export, an output that is not a ``.parquet`` path in an
    existing directory, or a bad argument; bad rows do not raise. On any failure ``dst`` is left
    as it was.
    """
    import pyarrow.parquet as pq

    target = check_output_path(dst, (".parquet", ".pq"))
    rows_per_batch = check_rows("batch_rows", batch_rows)
    check_top_n(top_n)
    check_missing(missing)
    scheme = resolve_weighting(weighting)
    source = Path(os.fspath(src)).expanduser()
    shown = one_line(str(source), 2 * _ECHO_ERROR)
    parquet = _creator_table(source, shown)
    columns = read_columns([str(name) for name in parquet.schema_arrow.names])
    total = int(parquet.metadata.num_rows)
    totals = SummaryPart(top_n=top_n)
    call_currency = currency or load_catalogue().default_currency
    with replacing_file(target) as handle:
        writer: pq.ParquetWriter | None = None
        try:
            for batch in _batches(parquet, columns, rows_per_batch, source.name, shown):
                frame: pd.DataFrame = batch.to_pandas()
                scores = score_rows(
                    frame, scheme, currency=currency, fx_to_default=fx_to_default, missing=missing
                )
                table = output_table(scores, frame, first_row=totals.rows)
                if writer is None:
                    metadata = output_metadata(
                        scheme, scores.currency, "parquet", per_video=False, missing=missing
                    )
                    writer = pq.ParquetWriter(
                        handle, table.schema.with_metadata(metadata), **write_options()
                    )
                writer.write_table(table)
                totals.merge(SummaryPart.from_table(table, top_n))
                if progress is not None:
                    progress(float(totals.rows), float(total))
            if writer is None:  # no rows: an empty file with the output's columns
                empty = parquet.schema_arrow.empty_table().select(columns).to_pandas()
                scores = score_rows(empty, scheme, currency=currency, fx_to_default=fx_to_default)
                metadata = output_metadata(
                    scheme, scores.currency, "parquet", per_video=False, missing=missing
                )
                writer = pq.ParquetWriter(
                    handle, output_schema().with_metadata(metadata), **write_options()
                )
        finally:
            if writer is not None:
                writer.close()
    return totals.summary(
        output_path=target,
        engine="stream",
        weighting=scheme,
        currency=call_currency,
        missing=missing,
    )


def _creator_table(source: Path, shown: str) -> Any:
    """The Parquet file, opened for batch reading; refused when unreadable or per-video."""
    import pyarrow.parquet as pq

    try:
        # pre_buffer (pyarrow's default) caches every row group it has read until the file is
        # closed, so memory would grow with the file; a buffered stream reads pages as needed.
        parquet: Any = pq.ParquetFile(source, pre_buffer=False, buffer_size=_READ_BUFFER)
    except arrow_errors() as error:
        raise InvalidValueError(
            "src", "could not be read as Parquet", source.name, f"{shown}: {_reader_error(error)}"
        ) from error
    if is_per_video_export([str(name) for name in parquet.schema_arrow.names]):
        raise InvalidValueError(
            "src",
            "is a per-video export, which needs the whole file to aggregate per creator",
            source.name,
            "score it with the in-memory engine (creator-kpi-mcp score --engine memory)",
        )
    return parquet


def _batches(
    parquet: Any, columns: list[str], batch_rows: int, name: str, shown: str
) -> Iterator[Any]:
    """The file's record batches; a read failure names the file and the rows being read."""
    batches = parquet.iter_batches(batch_size=batch_rows, columns=columns)
    done = 0
    while True:
        try:
            batch = next(batches, None)
        except arrow_errors() as error:
            raise InvalidValueError(
                "src",
                "could not be read as Parquet",
                f"{name}, rows from {done}",
                f"{shown}: {_reader_error(error)}",
            ) from error
        if batch is None:
            return
        done += batch.num_rows
        yield batch
