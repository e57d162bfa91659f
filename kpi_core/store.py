"""The experiment store: registered plans and their recorded outcomes, in one SQLite file.

:class:`ExperimentStore` is the feedback loop's memory. ``register_experiment`` keeps a plan from
``design_ab_test`` under a ``plan_id``; ``record_outcome`` reads the experiment with
:func:`kpi_core.abtest.analyze_ab_test` (the plan's allocation and sample size) and keeps the
analysis and the lift it measured; ``evidence`` blends the recorded lifts per intervention
(:mod:`kpi_core.evidence`) for ``recommend(evidence=...)``.

**File.** The standard library's ``sqlite3`` in WAL mode with ``synchronous=FULL`` (a committed
write survives a crash of the process and of the machine), a busy timeout (a writer waits this
long for another writer's lock, then fails with a :class:`StoreError`; readers are not blocked),
one kept connection per store object and ``BEGIN IMMEDIATE`` for every write. The path comes
from the caller (the server passes ``CREATOR_KPI_DB``); the default is ``experiments.sqlite3``
in the user's data directory (:func:`default_path`). Nothing is read or created at import, or
when a store object is made: the file and its directory are created by the first write, and
reading a store that does not exist yet gives empty results without creating it. SQLite's locks
are those of one machine: the store serves one server process (or several on one host, one
shared volume), not replicas writing over a network filesystem.

**Schema** (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`; :data:`MIGRATIONS` step ``i`` takes
version ``i`` to ``i + 1``, applied in one transaction on first use)::

    plans     seq INTEGER PRIMARY KEY        registration order (newest first in listings)
              plan_id TEXT UNIQUE            see "Ids" below
              intervention_id, creator_id, category TEXT (the filters; category normalised)
              plan_json TEXT                 the registered plan (RegisteredPlan, canonical JSON)
              registered_at TEXT             UTC, ISO 8601
    outcomes  plan_id TEXT PRIMARY KEY -> plans (one outcome per plan)
              arms_json TEXT, arms_hash TEXT the arms as recorded (canonical JSON) and its hash
              analysis_json TEXT             analyze_ab_test's result
              verdict TEXT
              lift REAL, lift_se REAL        in the intervention's lift type; NULL if not counted
              excluded TEXT                  why it does not count (kpi_core.evidence.Exclusion)
              recorded_at TEXT

A file whose ``user_version`` is above :data:`SCHEMA_VERSION` (written by a newer release) is
refused and left untouched.

**Ids.** ``plan_id`` is ``"exp-"`` and the first 16 hex digits of the SHA-256 of the registered
plan's canonical JSON (sorted keys, no spaces; the intervention, creator, category and the plan's
figures), so registering the same plan again returns the same id in any process. A caller may
name the plan instead (``plan_id="spring-pin-test"``): the same id with the same content is the
same registration; with a different primary metric, MDE or sample size (or any other difference)
it is refused, because a registered plan is immutable. **Outcomes** are idempotent by content: the
same arms recorded again change nothing; different arms for a plan that has its outcome are
refused (a fixed-horizon test is read once, at the end; arms short of the planned sample are
refused for the same reason: ``analyze_ab_test`` is the tool for an interim look).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import sqlite3
import threading
import weakref
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Self, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kpi_core.abtest import (
    MAX_MAGNITUDE,
    AbTestAnalysis,
    AbTestDesign,
    MdeType,
    MeanArm,
    MetricKind,
    ProportionArm,
    Unit,
    analyze_ab_test,
)
from kpi_core.errors import InvalidValueError, Problem, StoreError, truncate
from kpi_core.evidence import (
    MAX_CATEGORY_CHARS,
    ArmSummary,
    BlendedEvidence,
    Exclusion,
    LiftRecord,
    blend_evidence,
    measures_complement,
    normalise_category,
    read_lift,
)
from kpi_core.interventions import LiftType, load_interventions
from kpi_core.recommendations import InterventionEvidence

__all__ = [
    "DB_FILENAME",
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Experiment",
    "ExperimentPage",
    "ExperimentPlan",
    "ExperimentStore",
    "OutcomeSummary",
    "RecordedOutcome",
    "RegisteredPlan",
    "Registration",
    "Status",
    "StoreError",
    "default_path",
]

APP_NAME = "creator-kpi-mcp"
DB_FILENAME = "experiments.sqlite3"
#: Seconds a write waits for another connection's lock before it fails.
DEFAULT_BUSY_TIMEOUT = 5.0
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 50
MAX_ID_CHARS = 64
MAX_CREATOR_ID_CHARS = 128

Status = Literal["registered", "completed"]
STATUSES: tuple[str, ...] = ("registered", "completed")

#: Schema steps: MIGRATIONS[i] takes user_version i to i + 1 (statements run in one transaction).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE plans (
            seq INTEGER PRIMARY KEY,
            plan_id TEXT NOT NULL UNIQUE,
            intervention_id TEXT NOT NULL,
            creator_id TEXT,
            category TEXT,
            plan_json TEXT NOT NULL,
            registered_at TEXT NOT NULL
        ) STRICT""",
        "CREATE INDEX plans_by_intervention ON plans (intervention_id, category)",
        "CREATE INDEX plans_by_creator ON plans (creator_id)",
        "CREATE INDEX plans_by_category ON plans (category)",
        """CREATE TABLE outcomes (
            plan_id TEXT PRIMARY KEY REFERENCES plans (plan_id),
            arms_json TEXT NOT NULL,
            arms_hash TEXT NOT NULL,
            analysis_json TEXT NOT NULL,
            verdict TEXT NOT NULL,
            lift REAL,
            lift_se REAL,
            excluded TEXT,
            recorded_at TEXT NOT NULL,
            CHECK ((excluded IS NULL) = (lift IS NOT NULL AND lift_se IS NOT NULL))
        ) STRICT""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_IMMUTABLE = ("primary_metric", "mde", "mde_type", "n_per_arm")


def default_path() -> Path:
    """``experiments.sqlite3`` in the user's data directory (platformdirs; nothing is created)."""
    import platformdirs

    return platformdirs.user_data_path(APP_NAME, appauthor=False) / DB_FILENAME


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class ExperimentPlan(BaseModel):
    """The parts of a ``design_ab_test`` plan the store keeps.

    The whole ``design_ab_test`` result can be passed as it is: its other fields (hypothesis,
    SRM check, ...) are ignored. Only ``metric_kind``, ``baseline``, ``mde``, ``allocation`` and
    ``n_per_arm`` are required.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    metric_kind: MetricKind
    unit: Unit = "viewer"
    baseline: float = Field(allow_inf_nan=False)
    baseline_sd: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    mde: float = Field(gt=0.0, allow_inf_nan=False)
    mde_type: MdeType = "relative"
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    power: float = Field(default=0.8, gt=0.0, lt=1.0)
    sides: Literal[1, 2] = 2
    arm_names: list[str] | None = Field(default=None, min_length=2, max_length=20)
    allocation: list[float] = Field(min_length=2, max_length=20)
    # bounded like every number of the experiment maths (and so that no JSON integer too long
    # to print is stored)
    n_per_arm: list[Annotated[int, Field(le=MAX_MAGNITUDE)]] = Field(min_length=2, max_length=20)
    duration_days: int | None = Field(default=None, ge=1, le=MAX_MAGNITUDE)
    primary_metric: str | None = Field(default=None, max_length=64)
    guardrails: list[str] = Field(default_factory=list[str], max_length=20)


class RegisteredPlan(BaseModel):
    """A plan as registered: the experiment plan resolved, with its intervention and scope."""

    model_config = ConfigDict(frozen=True)

    intervention_id: str
    creator_id: str | None
    category: str | None = Field(description="Normalised: whitespace collapsed, lower case.")
    primary_metric: str
    measured_as: str = Field(description="The primary metric, or '1 - metric' (its complement).")
    metric_kind: MetricKind
    unit: Unit
    baseline: float
    baseline_sd: float | None
    mde: float
    mde_type: MdeType
    alpha: float
    power: float
    sides: Literal[1, 2]
    arm_names: list[str]
    allocation: list[float]
    n_per_arm: list[int]
    duration_days: int | None
    guardrails: list[str]

    @property
    def arm_kind(self) -> MetricKind:
        """How arms are recorded: counts for a viewer-level proportion, else per-unit means."""
        return (
            "proportion" if self.metric_kind == "proportion" and self.unit == "viewer" else "mean"
        )


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

    plan_id: str
    created: bool = Field(description="False when this plan was already registered.")
    experiment: Experiment


class RecordedOutcome(BaseModel):
    """What ``record_outcome`` did, with the evidence the intervention now has."""

    model_config = ConfigDict(frozen=True)

    plan_id: str
    created: bool = Field(description="False when this outcome was already recorded.")
    experiment: Experiment
    analysis: AbTestAnalysis
    evidence: BlendedEvidence | None = Field(
        description="The intervention's evidence in the plan's scope after this outcome."
    )


class ExperimentPage(BaseModel):
    """One page of experiments, newest first."""

    model_config = ConfigDict(frozen=True)

    experiments: list[Experiment]
    total: int = Field(description="Experiments matching the filters, on every page.")
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; None at the end."
    )


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _first_problem(error: ValidationError, prefix: str) -> InvalidValueError:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    field = f"{prefix}.{where}" if where else prefix
    if first["type"] == "missing":
        return InvalidValueError.from_problems([Problem(field, "is required", "")])
    message = first["msg"]
    for theirs, ours in (("Input should be ", "must be "), ("Value should be ", "must be ")):
        if message.startswith(theirs):
            message = ours + message[len(theirs) :]
    return InvalidValueError(field, message[:1].lower() + message[1:], first.get("input"))


def _optional_text(field: str, value: object, limit: int) -> str | None:
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


def _plan_id(value: object) -> str:
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


def _check_plan(raw: object) -> ExperimentPlan:
    if isinstance(raw, ExperimentPlan):
        return raw
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
    try:
        plan = ExperimentPlan.model_validate(mapping)
    except ValidationError as error:
        raise _first_problem(error, "plan") from None
    arms = len(plan.allocation)
    if len(plan.n_per_arm) != arms:
        raise InvalidValueError(
            "plan.n_per_arm", f"must have one count per arm ({arms})", plan.n_per_arm
        )
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
    return plan


def _resolve(
    plan: ExperimentPlan,
    intervention_id: object,
    creator_id: object,
    category: object,
    measured_as: object,
) -> RegisteredPlan:
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
    group = _optional_text("category", category, MAX_CATEGORY_CHARS)
    arms = len(plan.allocation)
    return RegisteredPlan(
        intervention_id=item.id,
        creator_id=_optional_text("creator_id", creator_id, MAX_CREATOR_ID_CHARS),
        category=normalise_category(group),
        primary_metric=primary,
        measured_as=str(chosen),
        metric_kind=plan.metric_kind,
        unit=plan.unit,
        baseline=plan.baseline,
        baseline_sd=plan.baseline_sd,
        mde=plan.mde,
        mde_type=plan.mde_type,
        alpha=plan.alpha,
        power=plan.power,
        sides=plan.sides,
        arm_names=[name.strip() for name in plan.arm_names]
        if plan.arm_names is not None
        else ["control", *(f"treatment_{i}" for i in range(1, arms))],
        allocation=plan.allocation,
        n_per_arm=plan.n_per_arm,
        duration_days=plan.duration_days,
        guardrails=plan.guardrails,
    )


def _conflict(plan_id: str, stored: RegisteredPlan, new: RegisteredPlan) -> InvalidValueError:
    old_values = stored.model_dump()
    new_values = new.model_dump()
    changed = [name for name in RegisteredPlan.model_fields if old_values[name] != new_values[name]]
    name = next((n for n in _IMMUTABLE if n in changed), changed[0])
    top_level = name in ("intervention_id", "creator_id", "category", "measured_as")
    where = name if top_level else f"plan.{name}"
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


def _page_size(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidValueError("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}", limit)
    return limit


def _cursor(cursor: object) -> int | None:
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


def _check_arm_count(arms: object, plan: RegisteredPlan, plan_id: str) -> None:
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


def _unknown_plan(plan_id: str) -> InvalidValueError:
    return InvalidValueError(
        "plan_id",
        "is not a registered plan in this store",
        plan_id,
        "call register_experiment first, or list_experiments to find the id",
    )


def _arm_records(kind: MetricKind, arms: object) -> list[dict[str, object]]:
    """The arms as plain dicts (analyze_ab_test has validated them already)."""
    records: list[dict[str, object]] = []
    for raw in cast("Sequence[object]", arms):
        item = raw.model_dump() if isinstance(raw, BaseModel) else raw
        record = cast("Mapping[str, Any]", item)
        name = str(record["name"]).strip()
        if kind == "proportion":
            records.append(
                {
                    "name": name,
                    "conversions": int(record["conversions"]),
                    "units": int(record["units"]),
                }
            )
        else:
            records.append(
                {
                    "name": name,
                    "mean": float(record["mean"]),
                    "sd": float(record["sd"]),
                    "n": int(record["n"]),
                }
            )
    return records


def _summaries(kind: MetricKind, records: Sequence[Mapping[str, Any]]) -> list[ArmSummary]:
    summaries: list[ArmSummary] = []
    for record in records:
        if kind == "proportion":
            units = int(record["units"])
            rate = int(record["conversions"]) / units
            summaries.append(ArmSummary(rate, rate * (1.0 - rate), units))
        else:
            sd = float(record["sd"])
            summaries.append(ArmSummary(float(record["mean"]), sd * sd, int(record["n"])))
    return summaries


@dataclass(frozen=True, slots=True)
class _Row:
    plan_id: str
    plan_json: str
    registered_at: str
    analysis_json: str | None
    lift: float | None
    lift_se: float | None
    excluded: str | None
    recorded_at: str | None


_COLUMNS = (
    "p.plan_id, p.plan_json, p.registered_at, o.analysis_json, o.lift, o.lift_se, o.excluded, "
    "o.recorded_at"
)
_FROM = " FROM plans AS p LEFT JOIN outcomes AS o ON o.plan_id = p.plan_id"
_SELECT = f"SELECT {_COLUMNS}{_FROM}"


def _experiment(row: _Row) -> Experiment:
    plan = RegisteredPlan.model_validate_json(row.plan_json)
    outcome: OutcomeSummary | None = None
    if row.analysis_json is not None and row.recorded_at is not None:
        analysis = AbTestAnalysis.model_validate_json(row.analysis_json)
        first = analysis.comparisons[0]
        item = load_interventions().get(plan.intervention_id)
        outcome = OutcomeSummary(
            verdict=analysis.verdict,
            rel_lift=first.rel_lift,
            p_value=first.p_adjusted,
            lift_type=item.lift_type if item is not None else "relative",
            lift=row.lift,
            lift_se=row.lift_se,
            in_evidence=row.excluded is None,
            excluded=cast("Exclusion | None", row.excluded),
            recorded_at=row.recorded_at,
        )
    return Experiment(
        plan_id=row.plan_id,
        status="completed" if outcome is not None else "registered",
        plan=plan,
        registered_at=row.registered_at,
        outcome=outcome,
    )


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


class ExperimentStore:
    """Plans and outcomes in one SQLite file (see the module docstring).

    Making the object does no I/O. The first operation opens one connection, which the object
    keeps (a lock lets threads share it; :meth:`close` or garbage collection closes it); every
    operation first checks the schema version again, so a file upgraded by a newer release
    meanwhile is refused. A connection that met an unreadable file is dropped, and the next
    operation opens the file afresh. ``timeout`` is the busy timeout in seconds.
    """

    def __init__(self, path: Path | str | None = None, *, timeout: float = DEFAULT_BUSY_TIMEOUT):
        if not timeout > 0.0:
            raise InvalidValueError("timeout", "must be a number of seconds above 0", timeout)
        self._path = Path(path) if path is not None else None
        self.timeout = timeout
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def close(self) -> None:
        """Close the connection (the next operation opens a new one)."""
        with self._lock:
            self._drop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @property
    def path(self) -> Path:
        """The database file (the default is resolved on first use)."""
        if self._path is None:
            self._path = default_path()
        return self._path

    # ---- connections ------------------------------------------------------------------------

    def _error(self, rule: str, hint: str) -> StoreError:
        return StoreError.from_problems([Problem(f"experiment store {self.path}", rule, "", hint)])

    def _translate(self, error: sqlite3.Error) -> StoreError:
        name = error.sqlite_errorname
        detail = str(error)
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return self._error(
                f"stayed locked by another connection for {self.timeout:g} s ({detail})",
                "another process is writing to it: retry shortly. The store serves one server "
                "process (or one host); replicas must not share it over a network filesystem",
            )
        if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
            return self._error(
                f"is not a readable SQLite database ({detail})",
                "move the file aside (or restore a backup) or set CREATOR_KPI_DB to another "
                "path; the scoring tools keep working",
            )
        if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")):
            return self._error(
                f"cannot be opened for writing ({detail})",
                "check that the path is a file in a writable directory, or set CREATOR_KPI_DB",
            )
        return self._error(
            f"failed: {detail} ({name})",
            "check the disk and the file; the scoring tools keep working",
        )

    def _version(self, connection: sqlite3.Connection) -> int:
        """The file's schema version; a newer one than this code's is refused."""
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise self._error(
                f"has schema version {version}, newer than this release's {SCHEMA_VERSION}",
                "upgrade creator-kpi-mcp, or set CREATOR_KPI_DB to another path; the file is "
                "left untouched",
            )
        return version

    def _migrate(self, connection: sqlite3.Connection) -> None:
        if self._version(connection) == SCHEMA_VERSION:
            return
        with self._transaction(connection):
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
            for step in MIGRATIONS[version:]:
                for statement in step:
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise self._error(
                f"cannot be created: its directory is not writable ({error.strerror})",
                "set CREATOR_KPI_DB to a path in a writable directory",
            ) from None
        try:
            connection = sqlite3.connect(
                path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise self._translate(error) from None
        try:
            self._version(connection)  # before anything writes: garbage or newer is left as is
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            self._migrate(connection)
        except sqlite3.Error as error:
            connection.close()
            raise self._translate(error) from None
        except BaseException:
            connection.close()
            raise
        return connection

    @contextmanager
    def _session(self) -> Generator[sqlite3.Connection]:
        """The store's connection, held by this thread alone, with the schema checked."""
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = self._connect()
                    weakref.finalize(self, self._connection.close)
                else:
                    self._migrate(self._connection)
                yield self._connection
            except sqlite3.Error as error:
                failure = self._translate(error)
                if not error.sqlite_errorname.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                    self._drop()
                raise failure from None

    @contextmanager
    def _transaction(
        self, connection: sqlite3.Connection, *, write: bool = True
    ) -> Generator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` (writes: the lock is taken up front) or a read snapshot.

        Whatever fails inside, or at ``COMMIT``, the transaction is rolled back, so the kept
        connection never carries an open transaction into the next operation.
        """
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield connection
            connection.execute("COMMIT")
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")

    # ---- reads ------------------------------------------------------------------------------

    def _rows(
        self, connection: sqlite3.Connection, sql: str, params: Sequence[object]
    ) -> list[_Row]:
        return [_Row(*row) for row in connection.execute(sql, params).fetchall()]

    def get(self, plan_id: str) -> Experiment | None:
        """One experiment by id (None when it is not registered)."""
        if not self.path.exists():
            return None
        with self._session() as connection:
            return self._get(connection, plan_id)

    def _get(self, connection: sqlite3.Connection, plan_id: str) -> Experiment | None:
        rows = self._rows(connection, f"{_SELECT} WHERE p.plan_id = ?", (plan_id,))
        return _experiment(rows[0]) if rows else None

    def list_experiments(
        self,
        *,
        intervention_id: str | None = None,
        status: Status | None = None,
        category: str | None = None,
        creator_id: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> ExperimentPage:
        """Registered experiments matching every given filter, newest first, a page at a time."""
        size = _page_size(limit)
        after = _cursor(cursor)
        if status is not None and status not in STATUSES:
            raise InvalidValueError("status", "must be 'registered' or 'completed'", status)
        clauses: list[str] = []
        params: list[object] = []
        filters = (
            ("p.intervention_id", _optional_text("intervention_id", intervention_id, MAX_ID_CHARS)),
            ("p.creator_id", _optional_text("creator_id", creator_id, MAX_CREATOR_ID_CHARS)),
            ("p.category", normalise_category(_optional_text("category", category, 64))),
        )
        for column, value in filters:
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if status is not None:
            clauses.append(f"o.plan_id IS {'NOT ' if status == 'completed' else ''}NULL")
        if not self.path.exists():
            return ExperimentPage(experiments=[], total=0, next_cursor=None)
        joined = f"{_FROM}{' WHERE ' + ' AND '.join(clauses) if clauses else ''}"
        if after is not None:
            clauses.append("p.seq < ?")
        paged = f"{_FROM}{' WHERE ' + ' AND '.join(clauses) if clauses else ''}"
        with self._session() as connection, self._transaction(connection, write=False):
            total = int(connection.execute(f"SELECT COUNT(*){joined}", params).fetchone()[0])
            rows = connection.execute(
                f"SELECT p.seq, {_COLUMNS}{paged} ORDER BY p.seq DESC LIMIT ?",
                [*params, *([] if after is None else [after]), size + 1],
            ).fetchall()
        shown = rows[:size]
        return ExperimentPage(
            experiments=[_experiment(_Row(*row[1:])) for row in shown],
            total=total,
            next_cursor=str(shown[-1][0]) if len(rows) > size else None,
        )

    def lift_records(self) -> list[LiftRecord]:
        """Every counted outcome's lift, in the order recorded (empty if the store is new)."""
        if not self.path.exists():
            return []
        with self._session() as connection:
            return self._lift_records(connection)

    def _lift_records(self, connection: sqlite3.Connection) -> list[LiftRecord]:
        rows = connection.execute(
            "SELECT p.plan_id, p.intervention_id, p.category, o.lift, o.lift_se "
            "FROM outcomes AS o JOIN plans AS p ON p.plan_id = o.plan_id "
            "WHERE o.excluded IS NULL ORDER BY p.seq"
        ).fetchall()
        return [LiftRecord(row[0], row[1], row[2], float(row[3]), float(row[4])) for row in rows]

    def evidence_details(self, category: str | None = None) -> dict[str, BlendedEvidence]:
        """Blended evidence per intervention for a creator in ``category`` (see evidence.py)."""
        return blend_evidence(self.lift_records(), category=category)

    def evidence(self, category: str | None = None) -> dict[str, InterventionEvidence]:
        """What ``recommend(evidence=...)`` takes, for a creator in ``category``."""
        return {
            ident: item.as_intervention_evidence()
            for ident, item in self.evidence_details(category).items()
        }

    # ---- writes -----------------------------------------------------------------------------

    def register_experiment(
        self,
        plan: ExperimentPlan | AbTestDesign | Mapping[str, object],
        intervention_id: str,
        *,
        creator_id: str | None = None,
        category: str | None = None,
        plan_id: str | None = None,
        measured_as: str | None = None,
    ) -> Registration:
        """Keep a plan (idempotent: the same plan gives the same id and is stored once)."""
        resolved = _resolve(_check_plan(plan), intervention_id, creator_id, category, measured_as)
        content = _canonical(resolved.model_dump(mode="json"))
        ident = _plan_id(plan_id) if plan_id is not None else f"exp-{_digest(content)[:16]}"
        with self._session() as connection:
            with self._transaction(connection):
                row = connection.execute(
                    "SELECT plan_json FROM plans WHERE plan_id = ?", (ident,)
                ).fetchone()
                if row is not None:
                    stored = RegisteredPlan.model_validate_json(row[0])
                    if stored != resolved:
                        raise _conflict(ident, stored, resolved)
                    created = False
                else:
                    self._insert_plan(connection, ident, resolved, content)
                    created = True
            experiment = self._get(connection, ident)
        assert experiment is not None  # registered above
        return Registration(plan_id=ident, created=created, experiment=experiment)

    @staticmethod
    def _insert_plan(
        connection: sqlite3.Connection, plan_id: str, plan: RegisteredPlan, content: str
    ) -> None:
        connection.execute(
            "INSERT INTO plans (plan_id, intervention_id, creator_id, category, plan_json, "
            "registered_at) VALUES (?, ?, ?, ?, ?, ?)",
            (plan_id, plan.intervention_id, plan.creator_id, plan.category, content, _now()),
        )

    def record_outcome(
        self,
        plan_id: str,
        arms: Sequence[Mapping[str, object] | ProportionArm | MeanArm],
        *,
        correction: Literal["holm", "bonferroni", "none"] = "holm",
    ) -> RecordedOutcome:
        """Analyse and keep a plan's outcome (idempotent by content; see the module docstring)."""
        ident = _plan_id(plan_id)
        if not self.path.exists():  # an unknown plan must not create the store
            raise _unknown_plan(ident)
        with self._session() as connection:
            existing = self._get(connection, ident)
            if existing is None:
                raise _unknown_plan(ident)
            plan = existing.plan
            kind = plan.arm_kind
            _check_arm_count(arms, plan, ident)
            analysis = analyze_ab_test(
                kind,
                arms,
                correction=correction,
                planned_allocation=plan.allocation,
                planned_n_per_arm=plan.n_per_arm,
                alpha=plan.alpha,
            )
            if analysis.peeking_warning is not None:
                raise InvalidValueError(
                    "arms",
                    "must reach the plan's sample in every arm "
                    f"({' / '.join(str(n) for n in plan.n_per_arm)}; got "
                    f"{' / '.join(str(n) for n in analysis.units_per_arm)})",
                    None,
                    "record_outcome keeps the final read of a fixed-horizon test; use "
                    "analyze_ab_test for an interim look",
                )
            records = _arm_records(kind, arms)
            arms_json = _canonical(records)
            item = load_interventions().get(plan.intervention_id)
            reading = (
                read_lift(
                    item,
                    _summaries(kind, records),
                    complement=plan.measured_as != plan.primary_metric,
                    primary_metric=plan.primary_metric,
                    srm_alarm=analysis.srm_alarm,
                )
                if item is not None
                else None
            )
            with self._transaction(connection):
                row = connection.execute(
                    "SELECT arms_hash FROM outcomes WHERE plan_id = ?", (ident,)
                ).fetchone()
                if row is not None:
                    if row[0] != _digest(arms_json):
                        raise InvalidValueError(
                            "arms",
                            f"differ from the outcome already recorded for plan {ident}",
                            None,
                            "a plan is read once, at its fixed horizon: register a new plan "
                            "to run the test again",
                        )
                    created = False
                else:
                    connection.execute(
                        "INSERT INTO outcomes (plan_id, arms_json, arms_hash, analysis_json, "
                        "verdict, lift, lift_se, excluded, recorded_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            ident,
                            arms_json,
                            _digest(arms_json),
                            analysis.model_dump_json(),
                            analysis.verdict,
                            None if reading is None else reading.lift,
                            None if reading is None else reading.se,
                            "unknown_intervention" if reading is None else reading.excluded,
                            _now(),
                        ),
                    )
                    created = True
            experiment = self._get(connection, ident)
            records_now = self._lift_records(connection)
        assert experiment is not None  # registered, checked above
        evidence = blend_evidence(records_now, category=plan.category).get(plan.intervention_id)
        return RecordedOutcome(
            plan_id=ident,
            created=created,
            experiment=experiment,
            analysis=analysis,
            evidence=evidence,
        )
