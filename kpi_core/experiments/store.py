"""The experiment store: registered plans and their recorded outcomes, in one SQLite file.

:class:`ExperimentStore` is the feedback loop's memory. ``register_experiment`` keeps a plan from
``design_ab_test`` under a ``plan_id``; ``record_outcome`` reads the experiment with
:func:`~kpi_core.experiments.analysis.analyze_ab_test` (the plan's allocation and sample size)
and keeps the analysis and the lift it measured; ``evidence`` blends the recorded lifts per
intervention (:mod:`kpi_core.experiments.evidence`) for ``recommend(evidence=...)``.

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
              excluded TEXT                  why it does not count (evidence.Exclusion)
              recorded_at TEXT
              flag TEXT                      (version 2) a lift that waits for confirmation
    reviews   seq INTEGER PRIMARY KEY        (version 2) an operator's retractions and
              plan_id -> outcomes            confirmations, appended and never deleted; the
              action, reason, reviewed_at    latest decides whether the outcome counts

A file whose ``user_version`` is above :data:`SCHEMA_VERSION` (written by a newer release) is
refused and left untouched.

**Ids.** ``plan_id`` is ``"exp-"`` and the first 16 hex digits of the SHA-256 of the registered
plan's canonical JSON (sorted keys, no spaces; the intervention, creator, category and the plan's
figures), so registering the same plan again returns the same id in any process. A caller may
name the plan instead (``plan_id="spring-pin-test"``): the same id with the same content is the
same registration; with a different primary metric, MDE or sample size (or any other difference)
it is refused, because a registered plan is immutable. **Outcomes** are idempotent by content: the
same arms recorded again change nothing; different arms for a plan that has its outcome are
refused (a test is read once, at its end: a fixed-horizon plan's arms must reach the planned
sample, a sequential plan's must have decided; ``analyze_ab_test`` is the tool for an interim
look). A caller's own ``plan_id`` may not start with ``exp-``, a plan is at most
``MAX_PLAN_BYTES`` as stored, and a store holds at most ``max_plans`` plans.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import weakref
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, cast

from kpi_core.errors import InvalidValueError, Problem, StoreError
from kpi_core.experiments.analysis import AbTestAnalysis, analyze_ab_test
from kpi_core.experiments.args import AnalysisRequest, Arm
from kpi_core.experiments.design import AbTestDesign
from kpi_core.experiments.evidence import (
    BlendedEvidence,
    Exclusion,
    Flag,
    LiftReading,
    LiftRecord,
    blend_evidence,
    normalise_category,
)
from kpi_core.experiments.outcomes import analyze_planned, check_settings, read_outcome
from kpi_core.experiments.plans import (
    DEFAULT_PAGE_SIZE,
    DERIVED_PREFIX,
    MAX_CREATOR_ID_CHARS,
    MAX_ID_CHARS,
    STATUSES,
    Experiment,
    ExperimentPage,
    ExperimentPlan,
    OutcomeReview,
    OutcomeSummary,
    RecordedOutcome,
    RegisteredPlan,
    Registration,
    ReviewAction,
    Status,
    canonical,
    check_cursor,
    check_new_plan_id,
    check_page_size,
    check_plan,
    check_plan_id,
    check_plan_size,
    check_reason,
    digest,
    now,
    optional_text,
    plan_conflict,
    resolve_plan,
    target_metric,
    unknown_plan,
)
from kpi_core.interventions import load_interventions
from prompts import render

__all__ = [
    "DB_FILENAME",
    "DEFAULT_BUSY_TIMEOUT",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "EvidenceRead",
    "ExperimentStore",
    "StoreError",
    "default_path",
    "read_experiment",
]

APP_NAME = "creator-kpi-mcp"
DB_FILENAME = "experiments.sqlite3"
#: Seconds a write waits for another connection's lock before it fails.
DEFAULT_BUSY_TIMEOUT = 5.0
#: Plans one store holds at most (each at most MAX_PLAN_BYTES: about 80 MB of plans at worst).
DEFAULT_MAX_PLANS = 10_000

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
    (
        # a lift outside its plausible range waits for an operator's confirmation
        "ALTER TABLE outcomes ADD COLUMN flag TEXT",
        # operators' retractions and confirmations: appended, never deleted
        """CREATE TABLE reviews (
            seq INTEGER PRIMARY KEY,
            plan_id TEXT NOT NULL REFERENCES outcomes (plan_id),
            action TEXT NOT NULL CHECK (action IN ('retract', 'confirm')),
            reason TEXT NOT NULL,
            reviewed_at TEXT NOT NULL
        ) STRICT""",
        "CREATE INDEX reviews_by_plan ON reviews (plan_id, seq)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def default_path() -> Path:
    """``experiments.sqlite3`` in the user's data directory (platformdirs; nothing is created)."""
    import platformdirs

    return platformdirs.user_data_path(APP_NAME, appauthor=False) / DB_FILENAME


@dataclass(frozen=True, slots=True)
class EvidenceRead:
    """Evidence for ``recommend`` as figures, or None with the warning to show and its cause."""

    evidence: dict[str, dict[str, float | int | str]] | None
    warning: str | None
    problem: str | None


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
    flag: str | None
    review: str | None


#: The latest review of each outcome (a retraction, or a confirmation that lifts a flag or a
#: retraction); reviews are only ever appended.
_LATEST_REVIEW = (
    "(SELECT r.action FROM reviews AS r WHERE r.plan_id = o.plan_id ORDER BY r.seq DESC LIMIT 1)"
)
_COLUMNS = (
    "p.plan_id, p.plan_json, p.registered_at, o.analysis_json, o.lift, o.lift_se, o.excluded, "
    f"o.recorded_at, o.flag, {_LATEST_REVIEW}"
)
#: An outcome counts as evidence when it has a lift, no retraction as its latest review, and
#: either no flag or a confirmation.
_COUNTED = (
    f"o.excluded IS NULL AND (({_LATEST_REVIEW}) = 'confirm' OR "
    f"(({_LATEST_REVIEW}) IS NULL AND o.flag IS NULL))"
)
_FROM = " FROM plans AS p LEFT JOIN outcomes AS o ON o.plan_id = p.plan_id"
_SELECT = f"SELECT {_COLUMNS}{_FROM}"


def _experiment(row: _Row) -> Experiment:
    plan = RegisteredPlan.model_validate_json(row.plan_json)
    outcome: OutcomeSummary | None = None
    if row.analysis_json is not None and row.recorded_at is not None:
        # read as plain JSON: an analysis stored by an older release lacks newer fields
        analysis = cast("dict[str, Any]", json.loads(row.analysis_json))
        first = cast("dict[str, Any]", analysis["comparisons"][0])
        item = load_interventions().get(plan.intervention_id)
        outcome = OutcomeSummary(
            verdict=str(analysis["verdict"]),
            rel_lift=first["rel_lift"],
            p_value=first["p_adjusted"],
            lift_type=item.lift_type if item is not None else "relative",
            lift=row.lift,
            lift_se=row.lift_se,
            in_evidence=row.excluded is None
            and (row.review == "confirm" or (row.review is None and row.flag is None)),
            excluded=cast("Exclusion | None", row.excluded),
            flag=cast("Flag | None", row.flag),
            review=cast("ReviewAction | None", row.review),
            recorded_at=row.recorded_at,
        )
    return Experiment(
        plan_id=row.plan_id,
        status="completed" if outcome is not None else "registered",
        plan=plan,
        registered_at=row.registered_at,
        outcome=outcome,
    )


def _page(
    experiments: list[Experiment],
    total: int,
    next_cursor: str | None,
    filters: Mapping[str, object],
) -> ExperimentPage:
    page = ExperimentPage(summary="", experiments=experiments, total=total, next_cursor=next_cursor)
    summary = render(
        "experiments_list.txt.j2",
        page=page,
        filters={name: value for name, value in filters.items() if value is not None},
        targets={
            e.plan.intervention_id: target_metric(e.plan.intervention_id) for e in experiments
        },
    )
    return page.model_copy(update={"summary": summary})


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

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        timeout: float = DEFAULT_BUSY_TIMEOUT,
        max_plans: int = DEFAULT_MAX_PLANS,
    ):
        if not timeout > 0.0:
            raise InvalidValueError("timeout", "must be a number of seconds above 0", timeout)
        if max_plans < 1:
            raise InvalidValueError("max_plans", "must be at least 1", max_plans)
        self.max_plans = max_plans
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
        size = check_page_size(limit)
        after = check_cursor(cursor)
        if status is not None and status not in STATUSES:
            raise InvalidValueError("status", "must be 'registered' or 'completed'", status)
        clauses: list[str] = []
        params: list[object] = []
        filters = (
            ("p.intervention_id", optional_text("intervention_id", intervention_id, MAX_ID_CHARS)),
            ("p.creator_id", optional_text("creator_id", creator_id, MAX_CREATOR_ID_CHARS)),
            ("p.category", normalise_category(optional_text("category", category, 64))),
        )
        for column, value in filters:
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if status is not None:
            clauses.append(f"o.plan_id IS {'NOT ' if status == 'completed' else ''}NULL")
        shown: dict[str, object] = {
            "intervention_id": intervention_id,
            "status": status,
            "category": category,
            "creator_id": creator_id,
        }
        if not self.path.exists():
            return _page([], 0, None, shown)
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
        page = rows[:size]
        return _page(
            [_experiment(_Row(*row[1:])) for row in page],
            total,
            str(page[-1][0]) if len(rows) > size else None,
            shown,
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
            f"WHERE {_COUNTED} ORDER BY p.seq"
        ).fetchall()
        return [LiftRecord(row[0], row[1], row[2], float(row[3]), float(row[4])) for row in rows]

    def evidence_details(self, category: str | None = None) -> dict[str, BlendedEvidence]:
        """Blended evidence per intervention for a creator in ``category`` (see evidence.py)."""
        return blend_evidence(self.lift_records(), category=category)

    def evidence(self, category: str | None = None) -> dict[str, dict[str, float | int | str]]:
        """What ``recommend(evidence=...)`` takes, for a creator in ``category``."""
        return {ident: item.figures() for ident, item in self.evidence_details(category).items()}

    def read_evidence(self, category: object) -> EvidenceRead:
        """Evidence for ``recommend``, or none and a warning sentence when the store fails.

        A store that cannot be read (unreadable, locked, newer schema) must not stop
        ``recommend``: the catalogue's ranges are used and the warning says why.
        """
        try:
            figures = self.evidence(category if isinstance(category, str) else None)
        except StoreError as error:
            warning = render("experiments_store_warning.txt.j2", problem=str(error))
            return EvidenceRead(evidence=None, warning=warning, problem=error.rule)
        return EvidenceRead(evidence=figures, warning=None, problem=None)

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
        resolved = resolve_plan(
            check_plan(plan), intervention_id, creator_id, category, measured_as
        )
        content = canonical(resolved.model_dump(mode="json"))
        check_plan_size(content)
        ident = (
            check_new_plan_id(plan_id)
            if plan_id is not None
            else f"{DERIVED_PREFIX}{digest(content)[:16]}"
        )
        with self._session() as connection:
            with self._transaction(connection):
                row = connection.execute(
                    "SELECT plan_json FROM plans WHERE plan_id = ?", (ident,)
                ).fetchone()
                if row is not None:
                    stored = RegisteredPlan.model_validate_json(row[0])
                    if stored != resolved:
                        raise plan_conflict(ident, stored, resolved)
                    created = False
                else:
                    self._check_quota(connection)
                    self._insert_plan(connection, ident, resolved, content)
                    created = True
            experiment = self._get(connection, ident)
        assert experiment is not None  # registered above
        registration = Registration(
            summary="", plan_id=ident, created=created, experiment=experiment
        )
        summary = render("experiments_registered.txt.j2", result=registration, plan=experiment.plan)
        return registration.model_copy(update={"summary": summary})

    @staticmethod
    def _insert_plan(
        connection: sqlite3.Connection, plan_id: str, plan: RegisteredPlan, content: str
    ) -> None:
        connection.execute(
            "INSERT INTO plans (plan_id, intervention_id, creator_id, category, plan_json, "
            "registered_at) VALUES (?, ?, ?, ?, ?, ?)",
            (plan_id, plan.intervention_id, plan.creator_id, plan.category, content, now()),
        )

    def _check_quota(self, connection: sqlite3.Connection) -> None:
        held = int(connection.execute("SELECT COUNT(*) FROM plans").fetchone()[0])
        if held >= self.max_plans:
            raise self._error(
                f"is full: it holds {held} plans, its quota",
                "ask the operator to archive the file and start a new one (set CREATOR_KPI_DB), "
                "or to raise the quota",
            )

    def plan_of(self, plan_id: object) -> tuple[str, RegisteredPlan]:
        """The registered plan under ``plan_id`` (refused when there is none)."""
        ident = check_plan_id(plan_id)
        if not self.path.exists():  # an unknown plan must not create the store
            raise unknown_plan(ident)
        experiment = self.get(ident)
        if experiment is None:
            raise unknown_plan(ident)
        return ident, experiment.plan

    def analyze(
        self,
        plan_id: str,
        arms: Sequence[Mapping[str, object] | Arm],
        *,
        guardrails: Sequence[object] | None = None,
    ) -> AbTestAnalysis:
        """Read a registered plan's experiment as planned, at any time (nothing is stored)."""
        ident, plan = self.plan_of(plan_id)
        return analyze_planned(plan, ident, arms, guardrails)

    def record_outcome(
        self,
        plan_id: str,
        arms: Sequence[Mapping[str, object] | Arm],
        *,
        guardrails: Sequence[object] | None = None,
        correction: object = None,
    ) -> RecordedOutcome:
        """Analyse a plan's outcome as planned and keep it (idempotent by content; see the
        module docstring and :mod:`~kpi_core.experiments.outcomes`). ``correction`` may only
        repeat the plan's."""
        ident, plan = self.plan_of(plan_id)
        if correction is not None:
            check_settings(plan, ident, {"correction": correction}, {})
        read = read_outcome(plan, ident, arms, guardrails)
        with self._session() as connection:
            created = self._insert_outcome(
                connection, ident, canonical(read.records), read.analysis, read.reading
            )
            experiment = self._get(connection, ident)
            records_now = self._lift_records(connection)
        assert experiment is not None  # registered, checked above
        evidence = blend_evidence(records_now, category=plan.category).get(plan.intervention_id)
        return _recorded(ident, created, experiment, read.analysis, evidence)

    def _insert_outcome(
        self,
        connection: sqlite3.Connection,
        ident: str,
        arms_json: str,
        analysis: AbTestAnalysis,
        reading: LiftReading | None,
    ) -> bool:
        """Insert the outcome unless it is there already (True when inserted)."""
        with self._transaction(connection):
            row = connection.execute(
                "SELECT arms_hash FROM outcomes WHERE plan_id = ?", (ident,)
            ).fetchone()
            if row is not None:
                if row[0] != digest(arms_json):
                    raise InvalidValueError(
                        "arms",
                        f"differ from the outcome already recorded for plan {ident}",
                        None,
                        "a plan is read once, at its end: register a new plan to run the test "
                        "again (an operator can retract this outcome)",
                    )
                return False
            connection.execute(
                "INSERT INTO outcomes (plan_id, arms_json, arms_hash, analysis_json, "
                "verdict, lift, lift_se, excluded, recorded_at, flag) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ident,
                    arms_json,
                    digest(arms_json),
                    analysis.model_dump_json(),
                    analysis.verdict,
                    None if reading is None else reading.lift,
                    None if reading is None else reading.se,
                    "unknown_intervention" if reading is None else reading.excluded,
                    now(),
                    None if reading is None else reading.flag,
                ),
            )
            return True

    def review_outcome(self, plan_id: str, action: ReviewAction, reason: str) -> OutcomeReview:
        """An operator's retraction or confirmation of a recorded outcome (appended, never
        deleted; the latest decides whether the outcome counts as evidence)."""
        ident, plan = self.plan_of(plan_id)
        if action not in ("retract", "confirm"):
            raise InvalidValueError("action", "must be 'retract' or 'confirm'", action)
        because = check_reason(reason)
        with self._session() as connection:
            with self._transaction(connection):
                if (
                    connection.execute(
                        "SELECT 1 FROM outcomes WHERE plan_id = ?", (ident,)
                    ).fetchone()
                    is None
                ):
                    raise InvalidValueError(
                        "plan_id",
                        "has no recorded outcome to review",
                        ident,
                        "record_outcome first",
                    )
                connection.execute(
                    "INSERT INTO reviews (plan_id, action, reason, reviewed_at) "
                    "VALUES (?, ?, ?, ?)",
                    (ident, action, because, now()),
                )
            experiment = self._get(connection, ident)
            records_now = self._lift_records(connection)
        assert experiment is not None
        assert experiment.outcome is not None
        evidence = blend_evidence(records_now, category=plan.category).get(plan.intervention_id)
        review = OutcomeReview(
            summary="",
            plan_id=ident,
            action=action,
            reason=because,
            in_evidence=experiment.outcome.in_evidence,
            evidence=evidence,
        )
        summary = render("experiments_review.txt.j2", review=review, plan=plan)
        return review.model_copy(update={"summary": summary})


def read_experiment(arguments: Mapping[str, object], store: ExperimentStore) -> AbTestAnalysis:
    """What the ``analyze_ab_test`` tool does: analyse the arguments as given, or, with a
    ``plan_id``, as the registered plan says (its settings may then be omitted, not changed)."""
    values = dict(arguments)
    plan_id = values.pop("plan_id", None)
    if plan_id is None:
        if values.get("metric_kind") is None:
            raise InvalidValueError(
                "metric_kind", "is required (or give the plan_id of a registered plan)", None
            )
        return analyze_ab_test(**values)  # pyright: ignore[reportArgumentType]
    defaults = {name: field.default for name, field in AnalysisRequest.model_fields.items()}
    ident, plan = store.plan_of(plan_id)
    check_settings(plan, ident, values, defaults)
    return analyze_planned(plan, ident, values.get("arms"), values.get("guardrails"))


def _recorded(
    ident: str,
    created: bool,
    experiment: Experiment,
    analysis: AbTestAnalysis,
    evidence: BlendedEvidence | None,
) -> RecordedOutcome:
    result = RecordedOutcome(
        summary="",
        plan_id=ident,
        created=created,
        experiment=experiment,
        analysis=analysis,
        evidence=evidence,
    )
    plan = experiment.plan
    summary = render(
        "experiments_outcome.txt.j2",
        result=result,
        plan=plan,
        outcome=experiment.outcome,
        target=target_metric(plan.intervention_id),
    )
    return result.model_copy(update={"summary": summary})
