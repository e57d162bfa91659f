"""What the experiment store keeps and answers: plans, outcomes, pages, and their checks.

The models here are the store's vocabulary; :mod:`kpi_core.experiments.store` holds the SQL.
A plan is built on :class:`~kpi_core.experiments.args.DesignArgs`, the one definition of the
design arguments, so a ``design_ab_test`` result registers as it is.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kpi_core.catalogue import load_catalogue
from kpi_core.errors import ExperimentError, InvalidValueError, Problem, field_name, truncate
from kpi_core.experiments.analysis import AbTestAnalysis
from kpi_core.experiments.args import (
    MAX_ARMS,
    MAX_GUARDRAILS,
    MAX_MAGNITUDE,
    MAX_METRIC_CHARS,
    MAX_NAME_CHARS,
    DesignArgs,
    DesignRequest,
    Direction,
    LiftType,
    MetricKind,
    PlanOptions,
)
from kpi_core.experiments.design import AbTestDesign
from kpi_core.experiments.design_checks import check_plan_settings
from kpi_core.experiments.evidence import (
    MAX_CATEGORY_CHARS,
    BlendedEvidence,
    Exclusion,
    Flag,
    measures_complement,
    normalise_category,
)
from kpi_core.interventions import load_interventions

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_CREATOR_ID_CHARS",
    "MAX_ID_CHARS",
    "MAX_PAGE_SIZE",
    "STATUSES",
    "Experiment",
    "ExperimentPage",
    "ExperimentPlan",
    "OutcomeReview",
    "OutcomeSummary",
    "RecordedOutcome",
    "RegisteredPlan",
    "Registration",
    "ReviewAction",
    "Status",
]

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 50
MAX_ID_CHARS = 64
MAX_CREATOR_ID_CHARS = 128
#: A registered plan's canonical JSON is at most this many bytes (a full 20-arm plan with 20
#: guardrails of 64 characters takes about 4 KB), so a listing's size is bounded.
MAX_PLAN_BYTES = 8192
#: Plan ids that start so are derived from the plan's content; a caller may not choose one.
DERIVED_PREFIX = "exp-"
#: Longest reason of a retraction or confirmation.
MAX_REASON_CHARS = 500

Status = Literal["registered", "completed"]
#: An operator's review of a recorded outcome.
ReviewAction = Literal["retract", "confirm"]
STATUSES: tuple[str, ...] = ("registered", "completed")

_IMMUTABLE = ("primary_metric", "mde", "mde_type", "n_per_arm")
_SCOPE_FIELDS = ("intervention_id", "creator_id", "category", "measured_as")


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


_MetricName = Annotated[str, Field(min_length=1, max_length=MAX_METRIC_CHARS)]


class ExperimentPlan(PlanOptions, DesignArgs):
    """The parts of a ``design_ab_test`` plan the store keeps: its design arguments and sample.

    The whole ``design_ab_test`` result can be passed as it is: its other fields (hypothesis,
    SRM check, ...) are ignored. Only ``metric_kind``, ``baseline``, ``mde``, ``allocation`` and
    ``n_per_arm`` are required; ``arms`` follows from the allocation.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    arms: int | None = Field(default=None, ge=2, le=MAX_ARMS)  # pyright: ignore[reportIncompatibleVariableOverride]
    allocation: list[float] = Field(min_length=2, max_length=MAX_ARMS)  # pyright: ignore[reportIncompatibleVariableOverride]
    arm_names: list[Annotated[str, Field(max_length=MAX_NAME_CHARS)]] | None = Field(
        default=None, min_length=2, max_length=MAX_ARMS
    )
    # bounded like every number of the experiment maths (and so that no JSON integer too long
    # to print is stored)
    n_per_arm: list[Annotated[int, Field(le=MAX_MAGNITUDE)]] = Field(
        min_length=2, max_length=MAX_ARMS
    )
    duration_days: int | None = Field(default=None, ge=1, le=MAX_MAGNITUDE)
    primary_metric: str | None = Field(default=None, max_length=MAX_METRIC_CHARS)
    guardrails: list[_MetricName] = Field(default_factory=list[str], max_length=MAX_GUARDRAILS)
    guardrail_margins: dict[_MetricName, float] | None = Field(  # pyright: ignore[reportIncompatibleVariableOverride]
        default=None, max_length=MAX_GUARDRAILS
    )


class RegisteredPlan(ExperimentPlan):
    """A plan as registered: the experiment plan resolved, with its intervention and scope."""

    model_config = ConfigDict(frozen=True)

    arms: int = Field(ge=2, le=MAX_ARMS)  # pyright: ignore[reportIncompatibleVariableOverride]
    arm_names: list[str]  # pyright: ignore[reportIncompatibleVariableOverride, reportGeneralTypeIssues]
    primary_metric: str  # pyright: ignore[reportIncompatibleVariableOverride, reportGeneralTypeIssues]
    intervention_id: str
    creator_id: str | None
    category: str | None = Field(description="Normalised: whitespace collapsed, lower case.")
    measured_as: str = Field(description="The primary metric, or '1 - metric' (its complement).")

    @property
    def arm_kind(self) -> MetricKind:
        """How arms are recorded: a ratio as per-arm sums over its units (viewers, creators or
        blocks), a viewer-level proportion as counts, anything else as per-unit means."""
        if self.metric_kind == "ratio" or self.unit == "viewer":
            return self.metric_kind
        return "mean"

    @property
    def improvement(self) -> Direction:
        """The measured metric's better direction (a complement is measured as an increase)."""
        if self.measured_as != self.primary_metric:
            return "increase"
        metric = load_catalogue().metrics.get(self.primary_metric)
        return "decrease" if metric is not None and metric.direction == "lower" else "increase"


class OutcomeSummary(BaseModel):
    """A recorded outcome in brief (record_outcome returns the whole analysis)."""

    model_config = ConfigDict(frozen=True)

    verdict: str
    rel_lift: float | None = Field(description="Treatment / control - 1 of the primary metric.")
    p_value: float | None
    lift_type: LiftType
    lift: float | None = Field(description="The target metric's lift, as evidence counts it.")
    lift_se: float | None
    in_evidence: bool
    excluded: Exclusion | None
    flag: Flag | None = Field(
        default=None, description="Why it waits for an operator's confirmation to count."
    )
    review: ReviewAction | None = Field(
        default=None, description="The operator's latest review (retractions are kept)."
    )
    recorded_at: str


class Experiment(BaseModel):
    """One registered plan with its status and outcome (if recorded)."""

    model_config = ConfigDict(frozen=True)

    plan_id: str
    status: Status
    plan: RegisteredPlan
    registered_at: str
    outcome: OutcomeSummary | None


class Registration(BaseModel):
    """What ``register_experiment`` did."""

    model_config = ConfigDict(frozen=True)

    summary: str = Field(description="What was registered and what to do next.")
    plan_id: str
    created: bool = Field(description="False when this plan was already registered.")
    experiment: Experiment


class RecordedOutcome(BaseModel):
    """What ``record_outcome`` did, with the evidence the intervention now has."""

    model_config = ConfigDict(frozen=True)

    summary: str = Field(description="The decision, what was stored and the evidence it feeds.")
    plan_id: str
    created: bool = Field(description="False when this outcome was already recorded.")
    experiment: Experiment
    analysis: AbTestAnalysis
    evidence: BlendedEvidence | None = Field(
        description="The intervention's evidence in the plan's scope after this outcome."
    )


class OutcomeReview(BaseModel):
    """An operator's review of a recorded outcome (the CLI's ``outcome`` command)."""

    model_config = ConfigDict(frozen=True)

    summary: str = Field(description="What the review did to the evidence.")
    plan_id: str
    action: ReviewAction
    reason: str
    in_evidence: bool = Field(description="Whether the outcome counts as evidence now.")
    evidence: BlendedEvidence | None = Field(
        description="The intervention's evidence in the plan's scope after the review."
    )


class ExperimentPage(BaseModel):
    """One page of experiments, newest first."""

    model_config = ConfigDict(frozen=True)

    summary: str = Field(description="The page in brief, with how to ask for the next one.")
    experiments: list[Experiment]
    total: int = Field(description="Experiments matching the filters, on every page.")
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; None at the end."
    )


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def canonical(value: object) -> str:
    """JSON with sorted keys and no spaces: the same content gives the same text and hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def target_metric(intervention_id: str) -> str | None:
    """The metric whose lift range an intervention states (None once it left the catalogue)."""
    item = load_interventions().get(intervention_id)
    return None if item is None else item.metric


#: The rule of a plan's per-arm lists in our words (pydantic says "must be a valid list").
_PER_ARM = f"one per arm (2 to {MAX_ARMS}, control first)"
_PER_ARM_RULES = {
    "n_per_arm": f"must be a list of units, {_PER_ARM}, e.g. [1000, 1000]",
    "allocation": f"must be a list of fractions, {_PER_ARM}, e.g. [0.5, 0.5]",
}
_LIST_ERRORS = ("list_type", "too_short", "too_long")


def _first_problem(error: ValidationError, prefix: str) -> InvalidValueError:
    first = error.errors(include_url=False)[0]
    if first["loc"] and first["loc"][0] in _PER_ARM_RULES and first["type"] in _LIST_ERRORS:
        rule = _PER_ARM_RULES[str(first["loc"][0])]
        return InvalidValueError(f"{prefix}.{first['loc'][0]}", rule, first.get("input"))
    # a dict key's own error is located at (field, key, "[key]"): name the key, quoted if odd
    parts = [part for part in first["loc"] if part != "[key]"]
    where = ".".join(field_name(part) if isinstance(part, str) else str(part) for part in parts)
    field = f"{prefix}.{where}" if where else prefix
    if first["type"] == "missing":
        return InvalidValueError.from_problems([Problem(field, "is required", "")])
    message = first["msg"]
    for theirs, ours in (("Input should be ", "must be "), ("Value should be ", "must be ")):
        if message.startswith(theirs):
            message = ours + message[len(theirs) :]
    return InvalidValueError(field, message[:1].lower() + message[1:], first.get("input"))


def optional_text(field: str, value: object, limit: int) -> str | None:
    """Caller-supplied text kept by the store: a string, capped, printable, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValueError(field, "must be a string or null", value)
    flat = value.strip()
    if len(flat) > limit:
        raise InvalidValueError(field, f"must be at most {limit} characters", value)
    if not flat.isprintable():
        raise InvalidValueError(field, "must not contain control characters", value)
    return flat or None


def check_plan_id(value: object) -> str:
    """A plan id as a caller may give it to look a plan up."""
    if not isinstance(value, str) or not value:
        raise InvalidValueError("plan_id", "must be a non-empty string", value)
    ok = value[0].isalnum() and all(char.isalnum() or char in "-_.:" for char in value)
    if not ok or not value.isascii() or len(value) > MAX_ID_CHARS:
        raise InvalidValueError(
            "plan_id",
            f"must be up to {MAX_ID_CHARS} letters, digits, '-', '_', '.' or ':' "
            "(starting with a letter or digit)",
            value,
        )
    return value


def check_new_plan_id(value: object) -> str:
    """A caller's own name for a plan: a plan id not in the derived ids' ``exp-`` namespace."""
    ident = check_plan_id(value)
    if ident.casefold().startswith(DERIVED_PREFIX):
        raise InvalidValueError(
            "plan_id",
            f"must not start with '{DERIVED_PREFIX}': that prefix is reserved for ids derived from "
            "a plan's content",
            value,
            "omit plan_id to get the derived id, or choose a name such as 'spring-pin-test'",
        )
    return ident


# --------------------------------------------------------------------------------------------
# Registering: the plan checked, resolved against the catalogue, compared with what is stored
# --------------------------------------------------------------------------------------------


def _plan_mapping(raw: object) -> Mapping[object, object]:
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    if not isinstance(raw, Mapping):
        raise InvalidValueError(
            "plan", "must be an object (the result of design_ab_test)", raw, "pass the plan"
        )
    mapping = cast("Mapping[object, object]", raw)
    known = set(AbTestDesign.model_fields) | set(ExperimentPlan.model_fields)
    for key in mapping:
        if key not in known:
            text = str(key)
            plain = text.isprintable() and text.isascii() and " " not in text and 0 < len(text) < 40
            raise InvalidValueError(
                f"plan.{text if plain else truncate(text, 40)}",
                "is not a field of a design_ab_test plan",
                mapping[key],
                "pass the result of design_ab_test as it is",
            )
    return mapping


def check_plan(raw: object) -> ExperimentPlan:
    """A plan as given (a design_ab_test result or a mapping), checked field by field."""
    if isinstance(raw, ExperimentPlan):
        return raw
    try:
        plan = ExperimentPlan.model_validate(_plan_mapping(raw))
    except ValidationError as error:
        raise _first_problem(error, "plan") from None
    arms = len(plan.allocation)
    if len(plan.n_per_arm) != arms:
        raise InvalidValueError(
            "plan.n_per_arm", f"must have one count per arm ({arms})", plan.n_per_arm
        )
    if plan.arms is not None and plan.arms != arms:
        raise InvalidValueError("plan.arms", f"must match the allocation's {arms} arms", plan.arms)
    if any(n < 1 for n in plan.n_per_arm):
        raise InvalidValueError("plan.n_per_arm", "must be whole numbers >= 1", plan.n_per_arm)
    if any(share <= 0.0 or not math.isfinite(share) for share in plan.allocation) or (
        abs(math.fsum(plan.allocation) - 1.0) > 1e-9
    ):
        raise InvalidValueError(
            "plan.allocation", "must be fractions above 0 that sum to 1", plan.allocation
        )
    if plan.arm_names is not None and (
        len(plan.arm_names) != arms
        or len(set(plan.arm_names)) != arms
        or any(not name.strip() or len(name) > 80 for name in plan.arm_names)
    ):
        raise InvalidValueError(
            "plan.arm_names", f"must be {arms} distinct non-empty names", plan.arm_names
        )
    try:
        check_plan_settings(DesignRequest.model_construct(**plan.model_dump()))
    except ExperimentError as error:
        first = error.problems[0]
        raise InvalidValueError(
            f"plan.{first.field}", first.rule, first.value, first.hint
        ) from None
    unknown = sorted(set(plan.guardrail_margins or {}) - set(plan.guardrails))
    if unknown:
        raise InvalidValueError(
            f"plan.guardrail_margins.{field_name(unknown[0])}",
            "must name one of the plan's guardrails",
            None,
        )
    return plan


def resolve_plan(
    plan: ExperimentPlan,
    intervention_id: object,
    creator_id: object,
    category: object,
    measured_as: object,
) -> RegisteredPlan:
    """The plan with its intervention, scope and measured metric checked against the catalogue."""
    if not isinstance(intervention_id, str) or not intervention_id:
        raise InvalidValueError("intervention_id", "must be an intervention id", intervention_id)
    catalogue = load_interventions()
    item = catalogue.get(intervention_id)
    if item is None:
        ids = [entry.id for entry in catalogue.interventions]
        close = difflib.get_close_matches(intervention_id, ids, n=1)
        raise InvalidValueError(
            "intervention_id",
            "must be the id of an intervention in the catalogue (a recommendation's id)",
            intervention_id,
            f"did you mean {close[0]}?" if close else "take the id from a recommend result",
        )
    primary = plan.primary_metric or item.primary_metric
    if primary != item.primary_metric:
        raise InvalidValueError(
            "plan.primary_metric",
            f"must be {item.primary_metric}, the primary metric of {item.id}",
            primary,
            "plan the test with the recommendation's ab_test arguments",
        )
    allowed = [f"1 - {primary}", primary] if measures_complement(item) else [primary]
    chosen = allowed[0] if measured_as is None else measured_as
    if chosen not in (primary, f"1 - {primary}"):
        raise InvalidValueError(
            "measured_as", f"must be '{primary}' or '1 - {primary}'", measured_as
        )
    group = optional_text("category", category, MAX_CATEGORY_CHARS)
    arms = len(plan.allocation)
    names = plan.arm_names or ["control", *(f"treatment_{i}" for i in range(1, arms))]
    return RegisteredPlan.model_validate(
        {
            **plan.model_dump(),
            "arms": arms,
            "arm_names": [name.strip() for name in names],
            "primary_metric": primary,
            "intervention_id": item.id,
            "creator_id": optional_text("creator_id", creator_id, MAX_CREATOR_ID_CHARS),
            "category": normalise_category(group),
            "measured_as": str(chosen),
        }
    )


def plan_conflict(plan_id: str, stored: RegisteredPlan, new: RegisteredPlan) -> InvalidValueError:
    """The error for a plan id registered again with other content: the first field that differs."""
    old_values = stored.model_dump()
    new_values = new.model_dump()
    changed = [name for name in RegisteredPlan.model_fields if old_values[name] != new_values[name]]
    name = next((n for n in _IMMUTABLE if n in changed), changed[0])
    where = name if name in _SCOPE_FIELDS else f"plan.{name}"
    rule = (
        f"is immutable once registered: plan {plan_id} has {truncate(old_values[name])}"
        if name in _IMMUTABLE
        else f"differs from plan {plan_id} as registered ({truncate(old_values[name])})"
    )
    return InvalidValueError(
        where,
        rule,
        new_values[name],
        "a registered plan's primary metric, MDE and sample size never change: register the "
        "new plan without plan_id (it gets its own id) or under another plan_id",
    )


# --------------------------------------------------------------------------------------------
# Listing and recording
# --------------------------------------------------------------------------------------------


def check_page_size(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidValueError("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}", limit)
    return limit


def check_cursor(cursor: object) -> int | None:
    if cursor is None:
        return None
    if not isinstance(cursor, str) or not cursor.isdigit() or len(cursor) > 18:
        raise InvalidValueError(
            "cursor",
            "must be a next_cursor from list_experiments",
            cursor,
            "omit it for the first page",
        )
    return int(cursor)


def check_plan_size(content: str) -> None:
    """A registered plan's canonical JSON stays within :data:`MAX_PLAN_BYTES`."""
    size = len(content.encode("utf-8"))
    if size > MAX_PLAN_BYTES:
        raise InvalidValueError(
            "plan",
            f"must be at most {MAX_PLAN_BYTES} bytes as registered",
            f"{size} bytes",
            "register the design_ab_test result as it is, with short names",
        )


def check_reason(value: object) -> str:
    """The reason an operator gives for a review: one printable line, capped."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError("reason", "must say why, in a non-empty string", value)
    flat = " ".join(value.split())
    if len(flat) > MAX_REASON_CHARS or not flat.isprintable():
        raise InvalidValueError(
            "reason", f"must be at most {MAX_REASON_CHARS} printable characters", value
        )
    return flat


def check_arm_count(arms: object, plan: RegisteredPlan, plan_id: str) -> None:
    """A list of arms other than the plan's count is refused here, in the plan's terms."""
    if not isinstance(arms, list | tuple):
        return  # analyze_ab_test names what is wrong with it
    count = len(cast("Sequence[object]", arms))
    if count != len(plan.n_per_arm):
        raise InvalidValueError(
            "arms",
            f"must list the plan's {len(plan.n_per_arm)} arms, control first",
            count,
            f"plan {plan_id} has arms {', '.join(plan.arm_names)}",
        )


def unknown_plan(plan_id: str) -> InvalidValueError:
    return InvalidValueError(
        "plan_id",
        "is not a registered plan in this store",
        plan_id,
        "call register_experiment first, or list_experiments to find the id",
    )
