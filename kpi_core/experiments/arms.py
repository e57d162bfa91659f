"""An experiment's arms as given (counts, moments or warehouse sums) -> statistics.

The forms of one arm, by metric kind (every arm of one analysis has the same form):

==============  ========================================================================
proportion      ``name``, ``conversions``, ``units``
mean            ``name``, ``mean``, ``sd``, ``n``; or ``name``, ``n``, ``sum``, ``sum_squares``
mean, CUPED     the sums plus ``pre_sum``, ``pre_sum_squares``, ``sum_of_products`` (of the
                metric with its pre-period covariate)
ratio           ``name``, ``n``, ``numerator_sum``, ``numerator_sum_squares``,
                ``denominator_sum``, ``denominator_sum_squares``, ``sum_of_products``
==============  ========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from pydantic import BaseModel

from kpi_core.errors import ExperimentError, field_name
from kpi_core.experiments.args import MAX_ARMS, MIN_UNITS_PER_ARM, MetricKind
from kpi_core.experiments.checks import check_integer, check_items, check_number, check_text
from kpi_core.experiments.statistics import (
    CupedSums,
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    Statistic,
    fit_ancova,
)

__all__ = ["ARM_FORMS", "ArmForm", "ParsedArms", "parse_arms"]

ArmForm = Literal["counts", "moments", "sums", "cuped", "ratio"]

#: The fields of each form of an arm (besides ``name``).
ARM_FORMS: Mapping[ArmForm, tuple[str, ...]] = {
    "counts": ("conversions", "units"),
    "moments": ("mean", "sd", "n"),
    "sums": ("n", "sum", "sum_squares"),
    "cuped": ("n", "sum", "sum_squares", "pre_sum", "pre_sum_squares", "sum_of_products"),
    "ratio": (
        "n",
        "numerator_sum",
        "numerator_sum_squares",
        "denominator_sum",
        "denominator_sum_squares",
        "sum_of_products",
    ),
}
_FORMS_OF_KIND: Mapping[str, tuple[ArmForm, ...]] = {
    "proportion": ("counts",),
    "mean": ("moments", "sums", "cuped"),
    "ratio": ("ratio",),
}
_HINT = (
    "a proportion arm has name, conversions, units; a mean arm has name, mean, sd, n (or n, sum, "
    "sum_squares, with pre_sum, pre_sum_squares, sum_of_products for CUPED); a ratio arm has "
    "name, n, numerator_sum, numerator_sum_squares, denominator_sum, denominator_sum_squares, "
    "sum_of_products"
)


@dataclass(frozen=True, slots=True)
class ParsedArms:
    """The arms, control first: names, statistics, and the arms as plain canonical records."""

    form: ArmForm
    names: list[str]
    statistics: list[Statistic]
    records: list[dict[str, object]]

    @property
    def units(self) -> list[int]:
        return [statistic.n for statistic in self.statistics]


def _record_of(record: object, index: int) -> Mapping[str, object]:
    if isinstance(record, BaseModel):
        return record.model_dump(exclude_none=True)
    if not isinstance(record, Mapping):
        raise ExperimentError(f"arms[{index}]", "must be an object with a name and results", record)
    return cast("Mapping[str, object]", record)


def _form(kind: str, record: Mapping[str, object], where: str) -> ArmForm:
    """The form whose fields the record has, or an error naming the first field that is off."""
    given = {str(key) for key in record} - {"name"}
    forms = _FORMS_OF_KIND[kind]
    for form in forms:
        if given == set(ARM_FORMS[form]):
            return form
    # the nearest form: the most fields in common, then the fewest fields
    nearest = max(
        forms, key=lambda form: (len(given & set(ARM_FORMS[form])), -len(ARM_FORMS[form]))
    )
    expected = {"name", *ARM_FORMS[nearest]}
    unknown = sorted(str(key) for key in record if key not in expected)
    missing = sorted(key for key in expected if key not in record)
    raise ExperimentError(
        f"{where}.{field_name((unknown or missing)[0])}",
        f"{'is not a field' if unknown else 'is required'} of a {kind} arm "
        f"(fields: {', '.join(sorted(expected))})",
        record.get(unknown[0]) if unknown else None,
        _HINT,
    )


def _count(where: str, value: object) -> int:
    return check_integer(where, value, MIN_UNITS_PER_ARM, "a variance needs 2 units")


def _sum_squares(where: str, value: object, total: float, n: int) -> float:
    squares = check_number(where, value)
    if squares < total * total / n * (1.0 - 1e-9) - 1e-12:
        raise ExperimentError(
            where,
            "must be at least sum^2 / n (a sum of squares cannot be smaller)",
            squares,
            "give the sum of the squared per-unit values",
        )
    return squares


def _counts(record: Mapping[str, object], where: str) -> tuple[Statistic, dict[str, object]]:
    units = check_integer(f"{where}.units", record["units"], 1, "count the units assigned")
    conversions = check_integer(
        f"{where}.conversions", record["conversions"], 0, "count the converted units"
    )
    if conversions > units:
        raise ExperimentError(
            f"{where}.conversions",
            f"must not exceed units ({units})",
            conversions,
            "conversions count units that converted at least once",
        )
    return ProportionStatistic(units, conversions), {"conversions": conversions, "units": units}


def _moments(record: Mapping[str, object], where: str) -> tuple[Statistic, dict[str, object]]:
    mean = check_number(f"{where}.mean", record["mean"])
    spread = check_number(f"{where}.sd", record["sd"])
    if spread < 0.0:
        raise ExperimentError(f"{where}.sd", "must be at least 0", spread)
    count = _count(f"{where}.n", record["n"])
    return SampleMeanStatistic(count, mean, spread**2), {"mean": mean, "sd": spread, "n": count}


def _sums(record: Mapping[str, object], where: str, prefix: str = "") -> tuple[float, float]:
    """(sum, sum of squares) of ``<prefix>sum`` / ``<prefix>sum_squares``."""
    n = _count(f"{where}.n", record["n"])
    total = check_number(f"{where}.{prefix}sum", record[f"{prefix}sum"])
    squares = _sum_squares(f"{where}.{prefix}sum_squares", record[f"{prefix}sum_squares"], total, n)
    return total, squares


def _plain_record(record: Mapping[str, object], form: ArmForm, where: str) -> dict[str, object]:
    """The sums as numbers, with ``n`` a whole number (checked)."""
    plain: dict[str, object] = {}
    for key in ARM_FORMS[form]:
        if key == "n":
            plain[key] = _count(f"{where}.n", record[key])
        else:
            plain[key] = check_number(f"{where}.{key}", record[key])
    return plain


def _ratio(record: Mapping[str, object], where: str) -> tuple[Statistic, dict[str, object]]:
    plain = _plain_record(record, "ratio", where)
    n = cast("int", plain["n"])
    numerator = _sums(record, where, "numerator_")
    denominator = _sums(record, where, "denominator_")
    if not denominator[0] > 0.0:
        raise ExperimentError(
            f"{where}.denominator_sum",
            "must be above 0 (a ratio needs a positive denominator)",
            denominator[0],
            "check that the denominator (views, clicks, ...) was counted",
        )
    products = cast("float", plain["sum_of_products"])
    return RatioStatistic.from_sums(n, numerator, denominator, products), plain


def _cuped_sums(record: Mapping[str, object], where: str) -> tuple[CupedSums, dict[str, object]]:
    plain = _plain_record(record, "cuped", where)
    n = cast("int", plain["n"])
    total, squares = _sums(record, where)
    pre_total, pre_squares = _sums(record, where, "pre_")
    products = cast("float", plain["sum_of_products"])
    return CupedSums(n, total, squares, pre_total, pre_squares, products), plain


def _statistic_of(
    form: ArmForm, record: Mapping[str, object], where: str
) -> tuple[Statistic, dict[str, object]]:
    if form == "counts":
        return _counts(record, where)
    if form == "moments":
        return _moments(record, where)
    if form == "ratio":
        return _ratio(record, where)
    plain = _plain_record(record, "sums", where)
    total, squares = _sums(record, where)
    n = cast("int", plain["n"])
    return SampleMeanStatistic.from_sums(n, total, squares), plain


def _records(arms: object) -> Sequence[object]:
    records = check_items("arms", arms)
    if len(records) < 2:
        raise ExperimentError(
            "arms", "must list at least 2 arms (control first)", len(records), "add the control"
        )
    if len(records) > MAX_ARMS:
        raise ExperimentError("arms", f"must list at most {MAX_ARMS} arms", len(records))
    return records


def parse_arms(kind: MetricKind, arms: object, field: str = "arms") -> ParsedArms:
    """Check every arm and build its statistic (CUPED arms share one ANCOVA fit)."""
    names: list[str] = []
    forms: list[ArmForm] = []
    mappings: list[Mapping[str, object]] = []
    for index, raw in enumerate(_records(arms)):
        where = f"{field}[{index}]"
        record = _record_of(raw, index)
        form = _form(kind, record, where)
        if forms and form != forms[0]:
            raise ExperimentError(
                where,
                f"must give the same fields as the control ({', '.join(ARM_FORMS[forms[0]])})",
                sorted(str(key) for key in record),
                "give every arm in one form; CUPED needs the pre-period sums in every arm",
            )
        name = check_text(f"{where}.name", record.get("name"))
        if name in names:
            raise ExperimentError(f"{where}.name", "must be unique across arms", name)
        names.append(name)
        forms.append(form)
        mappings.append(record)
    if forms[0] == "cuped":
        return _cuped(names, mappings, field)
    statistics: list[Statistic] = []
    records: list[dict[str, object]] = []
    for index, (name, record) in enumerate(zip(names, mappings, strict=True)):
        statistic, plain = _statistic_of(forms[0], record, f"{field}[{index}]")
        statistics.append(statistic)
        records.append({"name": name, **plain})
    return ParsedArms(forms[0], names, statistics, records)


def _cuped(names: list[str], mappings: list[Mapping[str, object]], field: str) -> ParsedArms:
    sums: list[CupedSums] = []
    records: list[dict[str, object]] = []
    for index, (name, record) in enumerate(zip(names, mappings, strict=True)):
        arm, plain = _cuped_sums(record, f"{field}[{index}]")
        sums.append(arm)
        records.append({"name": name, **plain})
    fit = fit_ancova(sums)
    if fit.df < 1:
        raise ExperimentError(
            f"{field}[0].n",
            "must leave at least 1 residual degree of freedom for the CUPED regression",
            sums[0].n,
            "collect more units per arm",
        )
    statistics: list[Statistic] = [
        RegressionAdjustedStatistic(arm.n, arm.total / arm.n, arm.pre_sum / arm.n, fit)
        for arm in sums
    ]
    return ParsedArms("cuped", names, statistics, records)
