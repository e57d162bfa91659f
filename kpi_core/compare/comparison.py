"""The one entry of the ``compare_weighting`` tool: one creator, a cohort, or a cohort's file."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kpi_core.cohorts.files import FileAccess
from kpi_core.compare.cohort import check_cohort_options, compare_cohort
from kpi_core.compare.models import WeightingComparison
from kpi_core.compare.schemes import SchemeArg
from kpi_core.compare.single import compare_single
from kpi_core.errors import InvalidValueError, Problem

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["compare_weighting"]

_EXACTLY_ONE = "give exactly one of metrics (one creator), creators (a cohort) or path (a file)"
_PER_VIDEO_HINT = (
    "aggregate the videos per creator first (the batch command's output table carries each "
    "creator's metrics), add the next period's outcome as a column, and compare that file"
)


def _source(metrics: object, creators: object, path: object) -> str:
    """Which of metrics, creators and path was given; exactly one must be."""
    given = [
        name
        for name, value in (("metrics", metrics), ("creators", creators), ("path", path))
        if value is not None
    ]
    if not given:
        problem = Problem("metrics", "or creators or path is required", "", _EXACTLY_ONE)
    elif len(given) > 1:
        problem = Problem(given[1], f"cannot be given with {given[0]}", "", _EXACTLY_ONE)
    else:
        return given[0]
    raise InvalidValueError.from_problems([problem])


def _recognised(
    frame: pd.DataFrame, columns: Mapping[str, str] | None, outcome: str | None
) -> pd.DataFrame:
    """``frame`` with its headers read as ``score_cohort`` reads them: a header recognised with
    confidence (or mapped by ``columns``) takes its canonical name; the outcome column and every
    other header keep theirs (so ``outcome`` names a column as it is in the file)."""
    from kpi_core.cohorts.headers import propose_columns

    renames: dict[str, str] = {}
    for proposal in propose_columns(frame.columns, columns):
        if not proposal.applied or proposal.canonical is None or proposal.source == outcome:
            continue
        if proposal.source in frame.columns and proposal.source != proposal.canonical:
            renames[proposal.source] = proposal.canonical
    clash = sorted(set(renames.values()) & (set(frame.columns) - set(renames)))
    if clash:
        header = next(source for source, name in renames.items() if name == clash[0])
        raise InvalidValueError(
            "columns",
            f"two headers would both be read as {clash[0]}: {header!r} and {clash[0]!r}",
            dict(columns or {}),
            f"map one of them to another name with columns, e.g. {{{header!r}: '...'}}",
        )
    return frame.rename(columns=renames)


def _file_rows(path: str, access: FileAccess | None) -> pd.DataFrame:
    """The creators of a table file in an allowed directory (one creator per row).

    Read by the cohort reader (the same formats, caps and memory budget as ``score_cohort``);
    every column is kept under its own header, as a number where each cell reads as one (with
    the same repairs: ``2.4M``, ``48,000``, ``3.5%``), else as text, so the outcome column and
    the validation see what the file holds.
    """
    import pandas as pd

    from kpi_core.cohorts.files import opened
    from kpi_core.cohorts.ingest import is_per_video_export
    from kpi_core.cohorts.readers import ReadLimits, open_source
    from kpi_core.cohorts.values import parse_column

    policy = access if access is not None else FileAccess.from_dirs([])
    limits = ReadLimits()
    chunks: dict[str, list[Any]] = {}
    held = 0
    with opened(path, policy) as file:
        source = open_source(file.handle, file.format, file.size_bytes, limits, file.shown)
        if is_per_video_export(source.headers):
            raise InvalidValueError(
                "path", "must hold one row per creator, not one per video", path, _PER_VIDEO_HINT
            )
        for batch in source.batches(source.headers):
            for header, array in batch.items():
                chunks.setdefault(header, []).append(array)
                held += array.nbytes
            if held > limits.memory_budget:
                raise InvalidValueError(
                    "path",
                    f"needs more than the memory budget of {limits.memory_budget / 2**20:,.0f} MB",
                    path,
                    "split the file, or compare fewer creators",
                )
    columns: dict[str, Any] = {}
    for header, parts in chunks.items():
        texts = pd.concat([pd.Series(part.to_pandas(), dtype="object") for part in parts])
        numbers = [parse_column(part, "real") for part in parts]
        readable = not any(bool(parsed.invalid.any()) for parsed in numbers)
        columns[header] = (
            np.concatenate([parsed.values for parsed in numbers])
            if readable
            else texts.to_numpy(dtype=object)
        )
    frame = pd.DataFrame(columns)
    if len(frame) == 0:
        raise InvalidValueError("path", "holds no data rows", path)
    return frame


def compare_weighting(
    *,
    metrics: Mapping[str, object] | None = None,
    creators: Sequence[Mapping[str, object]] | None = None,
    path: str | None = None,
    access: FileAccess | None = None,
    schemes: Sequence[SchemeArg] | None = None,
    outcome: str | None = None,
    k: int = 10,
    n_boot: int = 200,
    seed: int = 0,
    folds: int = 5,
    limit: int = 20,
    offset: int = 0,
    currency: str | None = None,
    baseline: str | None = None,
    allow_persistent_outcome: bool = False,
    columns: Mapping[str, str] | None = None,
    progress: Callable[[float, float], None] | None = None,
) -> WeightingComparison:
    """Compare weighting schemes for one creator (``metrics``), a cohort (``creators``) or a
    cohort read from ``path`` under the file-access policy ``access`` (none: file access off).

    ``schemes`` defaults to tiered then equal. One creator: :func:`compare_single` (the cohort
    options are still checked, so a bad value is the caller's error either way, and an outcome or
    a baseline is refused rather than ignored). A cohort:
    :func:`compare_cohort` with every option, ``baseline`` and ``allow_persistent_outcome``
    included. ``columns`` maps a header (a file's, or a key of the creators' objects) to a
    canonical name; a file's headers are also recognised as ``score_cohort`` recognises them.
    """
    source = _source(metrics, creators, path)
    if columns is not None and source == "metrics":
        raise InvalidValueError(
            "columns",
            "applies to creators or path, not to one creator's metrics",
            dict(columns),
            "use the canonical names in metrics (see kpi://metrics)",
        )
    chosen: Sequence[SchemeArg] = ("tiered", "equal") if schemes is None else schemes
    if source == "metrics":
        for name, value in (("outcome", outcome), ("baseline", baseline)):
            if value is not None:
                raise InvalidValueError(
                    name,
                    "needs a cohort: one creator's rank says nothing about an outcome",
                    value,
                    "give creators or path with the outcome, or leave it out",
                )
        check_cohort_options(k, n_boot, seed, folds, limit, offset)
        assert metrics is not None
        return compare_single(metrics, chosen, currency=currency)
    rows: Sequence[Mapping[str, object]] | pd.DataFrame
    if source == "path":
        assert path is not None
        rows = _recognised(_file_rows(path, access), columns, outcome)
    else:
        assert creators is not None
        rows = _renamed(creators, columns)
    return compare_cohort(
        rows,
        chosen,
        outcome,
        k,
        n_boot,
        seed,
        folds,
        progress,
        limit=limit,
        offset=offset,
        currency=currency,
        baseline=baseline,
        allow_persistent_outcome=allow_persistent_outcome,
    )


def _renamed(
    creators: Sequence[Mapping[str, object]], columns: Mapping[str, str] | None
) -> Sequence[Mapping[str, object]]:
    """The creators' objects with their keys renamed by ``columns`` (key -> canonical name)."""
    if not columns:
        return creators
    return [{columns.get(key, key): value for key, value in row.items()} for row in creators]
