"""A cohort ranked under several weighting schemes and, given an outcome, measured against it.

The steps of :func:`compare_cohort`: check the options and the outcome's name; load the cohort
(validate, score the KPIs once, reject bad rows); score it under each fixed scheme; keep the
creators with a score under every scheme and an outcome; check the outcome's data against the
same period's inputs; fit the ``fitted`` scheme out of fold; rank; measure rank shifts and (with
an outcome) rank quality and differences under the bootstrap; list the creators, notes and
summary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from kpi_core.catalogue import KPI_IDS, load_catalogue
from kpi_core.compare.baseline import (
    BASELINE,
    Baseline,
    baseline_field,
    baseline_values,
    raw_field,
)
from kpi_core.compare.bootstrap import CI_LEVEL, measure_quality, optional
from kpi_core.compare.fit import FIT_METHOD, FIT_TARGET, Fit, cross_validate
from kpi_core.compare.guard import (
    Tracking,
    check_outcome_data,
    check_outcome_name,
    check_outcome_size,
)
from kpi_core.compare.load import Cohort, load_cohort
from kpi_core.compare.models import (
    CreatorScores,
    Difference,
    FittedWeights,
    RankMove,
    RankQuality,
    RankShift,
    RejectedRow,
    SchemeWeights,
    WeightingComparison,
)
from kpi_core.compare.ranks import FloatArray, IntArray, descending, spearman
from kpi_core.compare.schemes import (
    NAMED_FIXED,
    KpiMatrix,
    Scheme,
    SchemeArg,
    as_dict,
    resolve_schemes,
)
from kpi_core.errors import InvalidValueError
from kpi_core.kernel import Missing
from kpi_core.weights import resolve_weighting
from prompts import render

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

__all__ = [
    "MAX_BOOT",
    "MAX_FOLDS",
    "MAX_K",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "MAX_SEED",
    "MIN_BOOT",
    "MIN_CREATORS",
    "MIN_FOLDS",
    "CohortOptions",
    "check_cohort_options",
    "compare_cohort",
]

#: Fewest creators a cohort comparison needs after rejections.
MIN_CREATORS = 3
MAX_K = 100_000
MIN_BOOT = 20
MAX_BOOT = 100_000
MAX_SEED = 2**63 - 1
MIN_FOLDS = 2
MAX_FOLDS = 20
MAX_LIMIT = 1000
MAX_OFFSET = 2**63 - 1
#: Rejected rows and ignored field names listed in a result (the counts are always complete).
MAX_LISTED = 50
#: Creators listed as the largest rank moves per scheme.
MAX_MOVES = 5
NDCG_GAIN = "outcome percentile in the cohort: average rank / number of creators, in (0, 1]"
_FITTED_NEEDS_AN_OUTCOME = (
    "needs an outcome to fit to; name the field holding the next period's outcome"
)


def _whole(field: str, value: object, low: int, high: int, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidValueError(field, f"must be a whole number in [{low}, {high}]", value, hint)
    return value


class CohortOptions(NamedTuple):
    """The options of a cohort comparison, checked."""

    k: int
    n_boot: int
    seed: int
    folds: int
    limit: int
    offset: int


def check_cohort_options(
    k: object, n_boot: object, seed: object, folds: object, limit: object, offset: object
) -> CohortOptions:
    """The cohort options of :func:`compare_cohort`, checked, in that order."""
    return CohortOptions(
        _whole("k", k, 1, MAX_K),
        _whole("n_boot", n_boot, MIN_BOOT, MAX_BOOT, "200 to 2000 resamples is usual"),
        _whole("seed", seed, 0, MAX_SEED),
        _whole("folds", folds, MIN_FOLDS, MAX_FOLDS),
        _whole("limit", limit, 0, MAX_LIMIT),
        _whole("offset", offset, 0, MAX_OFFSET),
    )


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidValueError(field, "must be true or false", value)
    return value


def _note(code: str, **facts: object) -> str:
    return render("compare_note.txt.j2", code=code, **facts)


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


def _fixed_scores(cohort: Cohort, resolved: list[Scheme]) -> dict[str, FloatArray]:
    """Overall scores under each fixed scheme; a row with none under one is rejected."""
    matrix = KpiMatrix.of(cohort.kpi_scores)
    scores: dict[str, FloatArray] = {}
    for scheme in resolved:
        if scheme.vector is None:
            continue
        overall = matrix.overall(scheme.vector)
        scores[scheme.name] = overall
        for row in np.flatnonzero(np.isnan(overall)):
            if int(row) not in cohort.rejected:
                cohort.rejected[int(row)] = [
                    f"has no data on any KPI that scheme {scheme.name} weights"
                ]
    return scores


def _kept_rows(cohort: Cohort, outcome: str | None) -> IntArray:
    """The rows compared; too few fails the call, naming the first reasons for rejection."""
    size = len(cohort.kpi_scores)
    keep = np.ones(size, dtype=bool)
    keep[list(cohort.rejected)] = False
    rows = np.flatnonzero(keep).astype(np.intp)
    first = [f"row {row}: {'; '.join(why)}" for row, why in sorted(cohort.rejected.items())]
    reasons = "; ".join(first[:3])[:300]
    if len(rows) < MIN_CREATORS:
        raise InvalidValueError(
            "creators",
            f"must contain at least {MIN_CREATORS} valid creators",
            f"{len(rows)} valid of {size}",
            reasons or "give more creators",
        )
    if outcome is not None:
        check_outcome_size(len(rows), size, reasons)
    return rows


@dataclass(frozen=True, slots=True)
class _Ranked:
    """The kept creators' scores, weights and ranks under each scheme."""

    names: list[str]
    rows: IntArray
    scores: list[FloatArray]
    weights: list[FloatArray]
    ranks: list[IntArray]
    outcome: FloatArray | None
    fit: Fit | None
    baseline: Baseline | None

    @property
    def count(self) -> int:
        return len(self.rows)


def _ordinal_ranks(scores: FloatArray) -> IntArray:
    """Rank 1 = highest score; ties go to the earlier row."""
    ranks = np.empty(len(scores), dtype=np.intp)
    ranks[descending(scores)] = np.arange(1, len(scores) + 1)
    return ranks


def _rank(
    cohort: Cohort,
    resolved: list[Scheme],
    fixed: Mapping[str, FloatArray],
    rows: IntArray,
    fit: Fit | None,
    baseline: Baseline | None,
) -> _Ranked:
    scores: list[FloatArray] = []
    weights: list[FloatArray] = []
    for scheme in resolved:
        if scheme.vector is None:
            assert fit is not None
            scores.append(fit.out_of_fold)
            weights.append(fit.all_rows)
        else:
            scores.append(fixed[scheme.name][rows])
            weights.append(scheme.vector)
    return _Ranked(
        names=[scheme.name for scheme in resolved],
        rows=rows,
        scores=scores,
        weights=weights,
        ranks=[_ordinal_ranks(column) for column in scores],
        outcome=None if cohort.outcome is None else cohort.outcome[rows],
        fit=fit,
        baseline=baseline,
    )


def _rank_shift(ranked: _Ranked, scheme: int, k: int, creator_ids: list[str | None]) -> RankShift:
    """How scheme ``scheme``'s ranking differs from the reference's (column 0)."""
    scores, reference_scores = ranked.scores[scheme], ranked.scores[0]
    ranks, reference_ranks = ranked.ranks[scheme], ranked.ranks[0]
    shift = reference_ranks - ranks
    moved = np.abs(shift)
    shared = len(
        set(descending(scores)[:k].tolist()) & set(descending(reference_scores)[:k].tolist())
    )
    biggest = np.argsort(-moved, kind="stable")[:MAX_MOVES]
    moves = [
        RankMove(
            row=int(ranked.rows[i]),
            creator_id=creator_ids[int(ranked.rows[i])],
            reference_rank=int(reference_ranks[i]),
            rank=int(ranks[i]),
            shift=int(shift[i]),
        )
        for i in biggest
        if moved[i] > 0
    ]
    return RankShift(
        scheme=ranked.names[scheme],
        versus=ranked.names[0],
        rank_correlation=optional(spearman(scores, reference_scores)),
        mean_abs_shift=float(moved.mean()),
        median_abs_shift=float(np.median(moved)),
        max_abs_shift=int(moved.max()),
        share_moved=float((moved > 0).mean()),
        top_k_shared=shared,
        top_k_overlap=shared / k,
        largest_moves=moves,
    )


@dataclass(frozen=True, slots=True)
class _Quality:
    """Rank quality of each scheme (and the baseline), with the paired differences."""

    models: list[RankQuality]
    differences: list[Difference]
    """Each scheme after the reference minus the reference."""
    baseline_differences: list[Difference]
    """Each scheme minus the baseline."""


def _quality(
    ranked: _Ranked,
    resolved: list[Scheme],
    k: int,
    n_boot: int,
    rng: np.random.Generator,
    progress: Callable[[float, float], None] | None,
) -> _Quality:
    """Each scheme's and the baseline's rank quality, and the paired differences (the same
    resamples for all); empty without an outcome."""
    if ranked.outcome is None:
        return _Quality([], [], [])
    rankings = list(ranked.scores)
    names = list(ranked.names)
    if ranked.baseline is not None:
        rankings.append(ranked.baseline.values)
        names.append(BASELINE)
    quality = measure_quality(rankings, ranked.outcome, k, n_boot, rng, progress)
    models = [
        quality.rank_quality(
            s, name, out_of_sample=s < len(resolved) and resolved[s].kind == "fitted"
        )
        for s, name in enumerate(names)
    ]
    differences = [quality.difference(s, 0, names) for s in range(1, len(resolved))]
    versus_baseline: list[Difference] = []
    if ranked.baseline is not None:
        versus_baseline = [
            quality.difference(s, len(resolved), names) for s in range(len(resolved))
        ]
    return _Quality(models, differences, versus_baseline)


def _listed(
    ranked: _Ranked, creator_ids: list[str | None], limit: int, offset: int
) -> list[CreatorScores]:
    """``limit`` creators from ``offset`` in reference-rank order."""
    listed = np.argsort(ranked.ranks[0], kind="stable")[offset : offset + limit]
    return [
        CreatorScores(
            row=int(ranked.rows[i]),
            creator_id=creator_ids[int(ranked.rows[i])],
            scores={name: float(ranked.scores[s][i]) for s, name in enumerate(ranked.names)},
            ranks={name: int(ranked.ranks[s][i]) for s, name in enumerate(ranked.names)},
            outcome=None if ranked.outcome is None else float(ranked.outcome[i]),
        )
        for i in listed
    ]


def _fitted(fit: Fit | None, folds: int) -> FittedWeights | None:
    if fit is None:
        return None
    return FittedWeights(
        method=FIT_METHOD,
        target=FIT_TARGET,
        folds=folds,
        weights=as_dict(fit.all_rows),
        fold_weights=[as_dict(weights) for weights in fit.fold_weights],
        fallback_folds=fit.fallback_folds,
        unweighted_creators=fit.unweighted,
    )


@dataclass(frozen=True, slots=True)
class _Measures:
    """What was measured on the kept creators, ready to report."""

    k: int
    shifts: list[RankShift]
    quality: _Quality
    tracked: list[Tracking]
    """Same-period fields the outcome tracks past CIRCULAR_RANK (allowed by the caller)."""


def _notes(
    cohort: Cohort, ranked: _Ranked, options: CohortOptions, measures: _Measures
) -> list[str]:
    notes: list[str] = []
    if measures.k < options.k:
        notes.append(_note("k_clipped", k=options.k, count=ranked.count))
    if ranked.fit is not None:
        notes.append(_note("fitted_out_of_fold", folds=options.folds))
        if ranked.fit.fallback_folds:
            notes.append(_note("fitted_fallback", folds=ranked.fit.fallback_folds))
        if ranked.fit.unweighted:
            notes.append(_note("fitted_unweighted", count=ranked.fit.unweighted))
    if any(item.rel_ci_low is None for item in measures.quality.differences):
        notes.append(_note("relative_undefined", reference=ranked.names[0]))
    if ranked.baseline is not None and ranked.baseline.missing:
        notes.append(
            _note("baseline_missing", field=ranked.baseline.field, count=ranked.baseline.missing)
        )
    ignored = sorted(cohort.ignored)
    if ignored:
        notes.append(_note("ignored_fields", fields=ignored[:10], count=len(ignored)))
    if cohort.rejected:
        notes.append(_note("rejected", count=len(cohort.rejected), total=len(cohort.kpi_scores)))
    return notes


# --------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    """What the rankings are measured against: the outcome, the baseline's field, and whether
    an outcome that tracks a same-period field is allowed."""

    outcome: str | None
    baseline: str | None
    baseline_given: bool
    allow_persistent: bool


def _own_scores(
    cohort: Cohort, resolved: list[Scheme], fixed: Mapping[str, FloatArray], kept: IntArray
) -> dict[str, FloatArray]:
    """The scores this tool computes for the kept creators, labelled: the overall score under
    each fixed scheme of the call, under tiered and equal, and each KPI score."""
    scores = {f"the {name} overall score": column[kept] for name, column in fixed.items()}
    matrix = KpiMatrix.of(cohort.kpi_scores[kept])
    for name in NAMED_FIXED:
        if name not in fixed:
            scores[f"the {name} overall score"] = matrix.overall(resolve_weighting(name).vector)
    for position, kpi in enumerate(KPI_IDS):
        scores[f"the {kpi} KPI score"] = cohort.kpi_scores[kept, position]
    return scores


def _measured(
    rows: Sequence[Mapping[str, object]] | pd.DataFrame,
    resolved: list[Scheme],
    target: _Target,
    folds: int,
    rng: np.random.Generator,
    currency: str | None,
    missing: Missing = "benchmark",
) -> tuple[Cohort, _Ranked, list[Tracking]]:
    """Load the cohort, keep the creators that can be compared, check the outcome, rank."""
    catalogue = load_catalogue()
    outcome = target.outcome
    extra = raw_field(target.baseline, catalogue)
    cohort = load_cohort(rows, outcome, currency, extra=extra, missing=missing)
    fixed = _fixed_scores(cohort, resolved)
    kept = _kept_rows(cohort, outcome)
    tracked: list[Tracking] = []
    if outcome is not None and cohort.outcome is not None:
        tracked = check_outcome_data(
            outcome,
            cohort.outcome[kept],
            {name: column[kept] for name, column in cohort.columns.items()},
            _own_scores(cohort, resolved, fixed, kept),
            catalogue,
            allow_persistent=target.allow_persistent,
        )
    fitting = any(scheme.kind == "fitted" for scheme in resolved)
    if fitting and folds > len(kept):
        raise InvalidValueError(
            "folds", f"must not exceed the number of valid creators ({len(kept)})", folds
        )
    fit = None
    if fitting and cohort.outcome is not None:
        fit = cross_validate(cohort.kpi_scores[kept], cohort.outcome[kept], folds, rng)
    baseline = baseline_values(target.baseline, target.baseline_given, cohort, kept, catalogue)
    return cohort, _rank(cohort, resolved, fixed, kept, fit, baseline), tracked


def _result(
    cohort: Cohort,
    ranked: _Ranked,
    resolved: list[Scheme],
    measures: _Measures,
    target: _Target,
    options: CohortOptions,
) -> WeightingComparison:
    """The comparison's result model, its summary rendered."""
    quality = measures.quality
    summary = render(
        "compare_cohort_summary.txt.j2",
        count=ranked.count,
        rejected_count=len(cohort.rejected),
        reference=ranked.names[0],
        names=ranked.names,
        shifts=measures.shifts,
        k=measures.k,
        outcome=target.outcome,
        quality=quality.models,
        differences=quality.differences,
        baseline=None if ranked.baseline is None else ranked.baseline.field,
        baseline_tried=target.baseline,
        versus_baseline=quality.baseline_differences,
        tracked=measures.tracked,
        n_boot=options.n_boot,
    )
    schemes = [
        SchemeWeights(
            name=scheme.name, kind=scheme.kind, weights=as_dict(weights), reference=position == 0
        )
        for position, (scheme, weights) in enumerate(zip(resolved, ranked.weights, strict=True))
    ]
    return WeightingComparison(
        summary=summary,
        mode="cohort",
        reference=ranked.names[0],
        schemes=schemes,
        count=ranked.count,
        scores=_listed(ranked, cohort.creator_ids, options.limit, options.offset),
        scores_offset=options.offset,
        breakdown=[],
        rank_shifts=measures.shifts,
        k=measures.k,
        outcome=target.outcome,
        baseline=None if ranked.baseline is None else ranked.baseline.field,
        rank_quality=quality.models,
        differences=quality.differences,
        baseline_differences=quality.baseline_differences,
        ci_level=CI_LEVEL,
        n_boot=options.n_boot,
        seed=options.seed,
        ndcg_gain=NDCG_GAIN,
        fitted=_fitted(ranked.fit, options.folds),
        rejected=[
            RejectedRow(row=row, creator_id=cohort.creator_ids[row], reasons=reasons)
            for row, reasons in sorted(cohort.rejected.items())[:MAX_LISTED]
        ],
        rejected_count=len(cohort.rejected),
        ignored_fields=sorted(cohort.ignored)[:MAX_LISTED],
        notes=_notes(cohort, ranked, options, measures),
        model_version=load_catalogue().model_version,
    )


def compare_cohort(
    rows: Sequence[Mapping[str, object]] | pd.DataFrame,
    schemes: Sequence[SchemeArg] = ("tiered", "equal"),
    outcome: str | None = None,
    k: int = 10,
    n_boot: int = 200,
    seed: int = 0,
    folds: int = 5,
    progress: Callable[[float, float], None] | None = None,
    *,
    limit: int = 20,
    offset: int = 0,
    currency: str | None = None,
    baseline: str | None = None,
    allow_persistent_outcome: bool = False,
    missing: Missing = "benchmark",
) -> WeightingComparison:
    """Rank a cohort under each scheme and, given ``outcome``, measure each ranking against it.

    ``rows`` is a list of metric objects (each may carry ``creator_id``, the outcome field and
    other fields, which are ignored and listed) or a DataFrame with one creator per row. A row
    that fails validation, has no KPI data, has no score under a scheme, or lacks a finite
    outcome is listed in ``rejected`` and left out; the call fails only when fewer than 3
    creators remain. ``schemes`` as in :func:`~kpi_core.compare.compare_single`, plus ``fitted``
    (weights fitted to the outcome by ``folds``-fold cross-validation, reported out of sample
    only).

    Without ``outcome``: scores, ranks, rank shifts and top-``k`` overlap against the reference.
    With it: also ``rank_quality`` (Spearman and NDCG@k) and ``differences`` from the reference,
    each with a bootstrap 95% interval from ``n_boot`` resamples; ``progress(done, total)`` is
    called at least every 5% of the resamples. The same ``seed`` gives the same result. An
    outcome that is an input of the same period is refused (see :mod:`kpi_core.compare.guard`).
    ``scores`` lists ``limit`` creators from ``offset`` in reference-rank order. ``missing`` is
    that of :func:`kpi_core.score`.
    """
    options = check_cohort_options(k, n_boot, seed, folds, limit, offset)
    if outcome is not None:
        outcome = check_outcome_name(outcome, load_catalogue())
    target = _Target(
        outcome,
        baseline_field(outcome, baseline),
        baseline is not None,
        _flag("allow_persistent_outcome", allow_persistent_outcome),
    )
    resolved = resolve_schemes(
        schemes, fitted_hint=None if outcome is not None else _FITTED_NEEDS_AN_OUTCOME
    )
    fold_rng, boot_rng = (
        np.random.default_rng(child) for child in np.random.SeedSequence(options.seed).spawn(2)
    )
    cohort, ranked, tracked = _measured(
        rows, resolved, target, options.folds, fold_rng, currency, missing
    )
    k_used = min(options.k, ranked.count)
    shifts = [_rank_shift(ranked, s, k_used, cohort.creator_ids) for s in range(1, len(resolved))]
    quality = _quality(ranked, resolved, k_used, options.n_boot, boot_rng, progress)
    measures = _Measures(k_used, shifts, quality, tracked)
    return _result(cohort, ranked, resolved, measures, target, options)
