"""The experiment store and the evidence it feeds: ids, immutability, idempotent outcomes,
paging, the blend, failure modes built for real, and durability under concurrent writer
processes, one of them killed inside an open transaction."""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import signal
import sqlite3
from contextlib import closing
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import pytest

from kpi_core.errors import InvalidValueError, KpiError
from kpi_core.experiments import store as store_module
from kpi_core.experiments.analysis import analyze_ab_test
from kpi_core.experiments.design import design_ab_test
from kpi_core.experiments.evidence import ArmSummary, read_lift
from kpi_core.experiments.plans import RegisteredPlan
from kpi_core.experiments.store import (
    SCHEMA_VERSION,
    ExperimentStore,
    StoreError,
    default_path,
)
from kpi_core.interventions import load_interventions

PIN = "sc_pin_product_link"
#: A viewer-level conversion test: 2.0% -> 2.4% needs 21109 viewers per arm (test_abtest.py).
VIEWER_PLAN = design_ab_test("proportion", 0.02, mde=0.2, daily_units=5000)
N = VIEWER_PLAN.n_per_arm[0]


def arms(control: int = 420, treatment: int = 480, units: int = N) -> list[dict[str, Any]]:
    return [
        {"name": "control", "conversions": control, "units": units},
        {"name": "pinned", "conversions": treatment, "units": units},
    ]


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with ExperimentStore(tmp_path / "experiments.sqlite3", timeout=5.0) as opened:
        yield opened


def intervention(ident: str) -> Any:
    item = load_interventions().get(ident)
    assert item is not None
    return item


# --------------------------------------------------------------------------------------------
# Evidence: one outcome -> one lift, many lifts -> one blended range
# --------------------------------------------------------------------------------------------


def test_a_relative_lift_and_its_standard_error_follow_the_delta_method() -> None:
    """420 / 21109 -> 480 / 21109: r = 480 / 420 - 1 = 0.142857. The delta-method se of the
    ratio equals the ratio times the log-ratio se that analyze_ab_test's interval uses:
    1.142857 x sqrt(q_t / (n p_t) + q_c / (n p_c)) = 1.142857 x 0.0661025 = 0.0755457."""
    p_c, p_t = 420 / N, 480 / N
    control = ArmSummary(p_c, p_c * (1 - p_c), N)
    treatment = ArmSummary(p_t, p_t * (1 - p_t), N)
    reading = read_lift(
        intervention(PIN),
        [control, treatment],
        complement=False,
        primary_metric="product_ctr",
        srm_alarm=False,
    )
    log_ratio_se = math.sqrt((1 - p_t) / (N * p_t) + (1 - p_c) / (N * p_c))
    assert reading.lift == pytest.approx(480 / 420 - 1, rel=1e-12)
    assert reading.se == pytest.approx(480 / 420 * log_ratio_se, rel=1e-12)
    assert reading.se == pytest.approx(0.0755457, abs=1e-7)


def test_a_lower_is_better_rate_measured_as_its_complement_counts_its_reduction() -> None:
    """refund_rate 8% -> 6% measured as 1 - refund_rate (92% -> 94%): the lift in the
    catalogue's terms is the relative reduction 1 - 0.06 / 0.08 = 0.25."""
    control = ArmSummary(0.92, 0.92 * 0.08, 5000)
    treatment = ArmSummary(0.94, 0.94 * 0.06, 5000)
    reading = read_lift(
        intervention("sc_honest_sizing"),
        [control, treatment],
        complement=True,
        primary_metric="refund_rate",
        srm_alarm=False,
    )
    assert reading.lift == pytest.approx(0.25, rel=1e-9)
    assert reading.excluded is None


def test_a_growth_rate_lift_is_the_difference_in_points() -> None:
    control = ArmSummary(0.02, 0.01**2, 40)
    treatment = ArmSummary(0.05, 0.02**2, 40)
    reading = read_lift(
        intervention("eg_video_replies"),
        [control, treatment],
        complement=False,
        primary_metric="engagement_rate_change",
        srm_alarm=False,
    )
    assert reading.lift == pytest.approx(0.03, rel=1e-12)
    assert reading.se == pytest.approx(math.sqrt(0.01**2 / 40 + 0.02**2 / 40), rel=1e-12)


@pytest.mark.parametrize(
    ("ident", "arm_values", "primary", "srm", "reason"),
    [
        (PIN, [0.02, 0.03], "product_ctr", True, "sample_ratio_mismatch"),
        (PIN, [0.02, 0.03, 0.04], "product_ctr", False, "several_treatments"),
        ("sc_cart_reminder", [0.02, 0.03], "conversion_rate", False, "primary_not_target"),
        (PIN, [0.0, 0.03], "product_ctr", False, "control_not_positive"),
    ],
)
def test_outcomes_that_cannot_be_read_as_a_lift_do_not_count(
    ident: str, arm_values: list[float], primary: str, srm: bool, reason: str
) -> None:
    summaries = [ArmSummary(value, value * (1 - value), 1000) for value in arm_values]
    reading = read_lift(
        intervention(ident), summaries, complement=False, primary_metric=primary, srm_alarm=srm
    )
    assert (reading.lift, reading.se, reading.excluded) == (None, None, reason)


def test_an_outcome_without_spread_gets_the_floor_and_not_certainty() -> None:
    """Means 0.5 and 0.6 over 10 units each, sd 0: the floor (1% of each mean) gives sd 0.005 and
    0.006, so se = sqrt(0.006^2 / (10 x 0.5^2) + 0.6^2 x 0.005^2 / (10 x 0.5^4)) = 0.0053666."""
    summaries = [ArmSummary(0.5, 0.0, 10), ArmSummary(0.6, 0.0, 10)]
    reading = read_lift(
        intervention(PIN),
        summaries,
        complement=False,
        primary_metric="product_ctr",
        srm_alarm=False,
    )
    by_hand = math.sqrt(0.006**2 / (10 * 0.5**2) + 0.6**2 * 0.005**2 / (10 * 0.5**4))
    assert (reading.lift, reading.se, reading.excluded, reading.flag) == (
        pytest.approx(0.2),
        pytest.approx(by_hand, rel=1e-12),
        None,
        None,
    )


# --------------------------------------------------------------------------------------------
# Plans: ids, idempotence, immutability
# --------------------------------------------------------------------------------------------


def test_a_plan_id_is_a_hash_of_the_plan_and_stable_across_processes(store: Any) -> None:
    """The id is "exp-" + sha256(canonical JSON)[:16]: pinned here, so a change of PYTHONHASHSEED,
    process or platform cannot change it."""
    first = store.register_experiment(
        VIEWER_PLAN, PIN, creator_id="techtalk_dan", category="Gadgets"
    )
    again = store.register_experiment(
        VIEWER_PLAN.model_dump(mode="json"), PIN, creator_id="techtalk_dan", category="gadgets "
    )
    assert first.plan_id == "exp-ab4ab3c6b6bfd44f"
    assert (first.created, again.created) == (True, False)
    assert again.plan_id == first.plan_id
    assert again.experiment == first.experiment
    assert store.list_experiments().total == 1


def test_another_scope_is_another_plan(store: Any) -> None:
    one = store.register_experiment(VIEWER_PLAN, PIN, creator_id="a")
    other = store.register_experiment(VIEWER_PLAN, PIN, creator_id="b")
    assert one.plan_id != other.plan_id
    assert store.list_experiments().total == 2


def test_the_registered_plan_keeps_what_the_outcome_needs(store: Any) -> None:
    result = store.register_experiment(VIEWER_PLAN, PIN, category="Home  Decor")
    assert result.experiment.status == "registered"
    assert result.experiment.outcome is None
    assert result.experiment.plan == RegisteredPlan(
        intervention_id=PIN,
        creator_id=None,
        category="home decor",
        primary_metric="product_ctr",
        measured_as="product_ctr",
        metric_kind="proportion",
        unit="viewer",
        method="pooled",
        baseline=0.02,
        baseline_sd=None,
        mde=0.2,
        mde_type="relative",
        alpha=0.05,
        power=0.8,
        sides=2,
        arms=2,
        correction="holm",
        sequential=False,
        sequential_tuning=5000.0,
        guardrail_margins={},
        arm_names=VIEWER_PLAN.arm_names,
        allocation=[0.5, 0.5],
        n_per_arm=[N, N],
        duration_days=14,
        guardrails=[],
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"mde": 0.25}, "plan.mde"),
        ({"n_per_arm": [30000, 30000]}, "plan.n_per_arm"),
        ({"mde_type": "absolute"}, "plan.mde_type"),
        ({"baseline": 0.03}, "plan.baseline"),
    ],
)
def test_a_named_plan_cannot_change_under_its_id(
    store: Any, change: dict[str, Any], field: str
) -> None:
    store.register_experiment(VIEWER_PLAN, PIN, plan_id="spring-pin-test")
    changed = {**VIEWER_PLAN.model_dump(), **change}
    with pytest.raises(InvalidValueError) as caught:
        store.register_experiment(changed, PIN, plan_id="spring-pin-test")
    assert caught.value.field == field
    if field in ("plan.mde", "plan.n_per_arm", "plan.mde_type"):
        assert "is immutable once registered: plan spring-pin-test has" in str(caught.value)
    assert store.get("spring-pin-test").plan.mde == 0.2


def test_a_named_plan_for_another_intervention_is_refused_on_its_primary_metric(
    store: Any,
) -> None:
    store.register_experiment(VIEWER_PLAN, PIN, plan_id="q3-test")
    with pytest.raises(InvalidValueError) as caught:
        store.register_experiment(VIEWER_PLAN, "sc_limited_code", plan_id="q3-test")
    assert caught.value.field == "plan.primary_metric"


@pytest.mark.parametrize(
    ("plan", "intervention_id", "extra", "field"),
    [
        ("not a plan", PIN, {}, "plan"),
        ({"metric_kind": "proportion", "mde": 0.1}, PIN, {}, "plan.baseline"),
        ({**VIEWER_PLAN.model_dump(), "n_per_arms": [1, 1]}, PIN, {}, "plan.n_per_arms"),
        ({**VIEWER_PLAN.model_dump(), "mde": -0.1}, PIN, {}, "plan.mde"),
        ({**VIEWER_PLAN.model_dump(), "n_per_arm": [5]}, PIN, {}, "plan.n_per_arm"),
        ({**VIEWER_PLAN.model_dump(), "allocation": [0.7, 0.7]}, PIN, {}, "plan.allocation"),
        ({**VIEWER_PLAN.model_dump(), "primary_metric": "gmv"}, PIN, {}, "plan.primary_metric"),
        (VIEWER_PLAN, "sc_pin_prodct_link", {}, "intervention_id"),
        (VIEWER_PLAN, PIN, {"category": "x" * 65}, "category"),
        (VIEWER_PLAN, PIN, {"creator_id": "a\x00b"}, "creator_id"),
        (VIEWER_PLAN, PIN, {"plan_id": "has space"}, "plan_id"),
        (VIEWER_PLAN, PIN, {"measured_as": "1 - gmv"}, "measured_as"),
    ],
)
def test_a_bad_registration_names_the_field(
    store: Any, plan: Any, intervention_id: str, extra: dict[str, Any], field: str
) -> None:
    with pytest.raises(KpiError) as caught:
        store.register_experiment(plan, intervention_id, **extra)
    assert caught.value.field == field
    assert store.list_experiments().total == 0


def test_an_unknown_intervention_gets_the_nearest_id_as_a_hint(store: Any) -> None:
    with pytest.raises(InvalidValueError) as caught:
        store.register_experiment(VIEWER_PLAN, "sc_pin_prodct_link")
    assert caught.value.problems[0].hint == "did you mean sc_pin_product_link?"


# --------------------------------------------------------------------------------------------
# Outcomes: analysed with the plan, stored once
# --------------------------------------------------------------------------------------------


def test_an_outcome_is_analysed_with_the_plans_allocation_and_sample(store: Any) -> None:
    plan_id = store.register_experiment(VIEWER_PLAN, PIN, category="gadgets").plan_id
    result = store.record_outcome(plan_id, arms())
    expected = analyze_ab_test(
        "proportion", arms(), planned_allocation=[0.5, 0.5], planned_n_per_arm=[N, N]
    )
    assert result.analysis == expected
    assert result.created
    outcome = result.experiment.outcome
    assert outcome is not None
    assert result.experiment.status == "completed"
    assert outcome.lift == pytest.approx(480 / 420 - 1, rel=1e-12)
    assert (outcome.in_evidence, outcome.excluded, outcome.verdict) == (True, None, "significant")
    assert result.evidence is not None
    assert result.evidence.count == 1
    assert result.evidence.scope == "same category: gadgets"
    assert store.evidence("gadgets") == {PIN: result.evidence.figures()}


def test_the_same_outcome_recorded_twice_is_stored_once(store: Any) -> None:
    plan_id = store.register_experiment(VIEWER_PLAN, PIN).plan_id
    first = store.record_outcome(plan_id, arms())
    before = store.evidence()
    again = store.record_outcome(plan_id, [{**arm, "units": float(N)} for arm in arms()])
    assert not again.created
    assert again.model_dump(exclude={"created", "summary"}) == first.model_dump(
        exclude={"created", "summary"}
    )
    assert again.summary.splitlines()[3] == (
        f"This outcome was already recorded for plan {plan_id}; nothing changed."
    )
    assert store.evidence() == before
    with closing(sqlite3.connect(store.path)) as raw:
        assert raw.execute("SELECT COUNT(*) FROM outcomes").fetchone() == (1,)


def test_a_different_outcome_for_a_completed_plan_is_refused(store: Any) -> None:
    plan_id = store.register_experiment(VIEWER_PLAN, PIN).plan_id
    store.record_outcome(plan_id, arms())
    with pytest.raises(InvalidValueError) as caught:
        store.record_outcome(plan_id, arms(treatment=500))
    assert caught.value.field == "arms"
    assert "differ from the outcome already recorded" in str(caught.value)


def test_an_outcome_with_another_number_of_arms_is_refused_in_the_plans_terms(
    store: Any,
) -> None:
    plan_id = store.register_experiment(VIEWER_PLAN, PIN).plan_id
    three = [*arms(), {"name": "extra", "conversions": 400, "units": N}]
    with pytest.raises(InvalidValueError) as caught:
        store.record_outcome(plan_id, three)
    assert str(caught.value) == (
        "arms must list the plan's 2 arms, control first; got 3 - plan "
        f"{plan_id} has arms {', '.join(VIEWER_PLAN.arm_names)}"
    )


def test_an_outcome_short_of_the_planned_sample_is_refused(store: Any) -> None:
    plan_id = store.register_experiment(VIEWER_PLAN, PIN).plan_id
    with pytest.raises(InvalidValueError) as caught:
        store.record_outcome(plan_id, arms(units=N - 100))
    assert caught.value.field == "arms"
    assert "use analyze_ab_test for an interim look" in str(caught.value)
    assert store.list_experiments(status="completed").total == 0


def test_a_broken_split_is_stored_but_does_not_count(store: Any) -> None:
    plan_id = store.register_experiment(VIEWER_PLAN, PIN).plan_id
    skewed = [
        {"name": "control", "conversions": 420, "units": N},
        {"name": "pinned", "conversions": 480, "units": N + 2000},
    ]
    result = store.record_outcome(plan_id, skewed)
    outcome = result.experiment.outcome
    assert outcome is not None
    assert (outcome.verdict, outcome.in_evidence) == ("sample_ratio_mismatch", False)
    assert outcome.excluded == "sample_ratio_mismatch"
    assert result.evidence is None
    assert store.evidence() == {}


def test_a_time_block_plan_is_recorded_as_block_means(store: Any) -> None:
    plan = design_ab_test(
        "proportion", 0.008, mde=0.05, unit="time_block", baseline_sd=0.0005, block_days=7
    )
    plan_id = store.register_experiment(plan, PIN).plan_id
    n = plan.n_per_arm[0]
    means = [
        {"name": "control", "mean": 0.008, "sd": 0.0005, "n": n},
        {"name": "pinned", "mean": 0.0092, "sd": 0.0005, "n": n},
    ]
    with pytest.raises(KpiError):  # counts are the wrong kind of arm for this plan
        store.record_outcome(plan_id, arms(units=n))
    result = store.record_outcome(plan_id, means)
    assert result.analysis.metric_kind == "mean"
    assert result.experiment.outcome is not None
    assert result.experiment.outcome.lift == pytest.approx(0.15, rel=1e-9)


def test_an_unknown_plan_is_refused_without_creating_the_store(tmp_path: Path) -> None:
    path = tmp_path / "new" / "experiments.sqlite3"
    with ExperimentStore(path) as empty:
        with pytest.raises(InvalidValueError) as caught:
            empty.record_outcome("exp-0000000000000000", arms())
        assert caught.value.field == "plan_id"
        assert empty.list_experiments().total == 0
        assert empty.evidence() == {}
        assert empty.get("exp-0000000000000000") is None
    assert not path.parent.exists()


# --------------------------------------------------------------------------------------------
# Listing
# --------------------------------------------------------------------------------------------


def test_listing_pages_newest_first_through_every_match(store: Any) -> None:
    ids = [
        store.register_experiment(VIEWER_PLAN, PIN, creator_id=f"c{i}", category="gadgets").plan_id
        for i in range(7)
    ]
    store.register_experiment(VIEWER_PLAN, "sc_limited_code", category="beauty")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.list_experiments(intervention_id=PIN, limit=3, cursor=cursor)
        assert page.total == 7
        seen.extend(item.plan_id for item in page.experiments)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert pages == 3


def test_listing_filters_combine(store: Any) -> None:
    done = store.register_experiment(VIEWER_PLAN, PIN, creator_id="ann", category="Gadgets")
    store.register_experiment(VIEWER_PLAN, PIN, creator_id="bob", category="gadgets")
    store.register_experiment(VIEWER_PLAN, PIN, creator_id="ann", category="beauty")
    store.record_outcome(done.plan_id, arms())
    assert store.list_experiments(category="GADGETS").total == 2
    assert store.list_experiments(creator_id="ann").total == 2
    assert store.list_experiments(creator_id="ann", category="gadgets").total == 1
    completed = store.list_experiments(status="completed")
    assert [item.plan_id for item in completed.experiments] == [done.plan_id]
    assert store.list_experiments(status="registered").total == 2


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"limit": True}, "limit"),
        ({"cursor": "abc"}, "cursor"),
        ({"status": "running"}, "status"),
        ({"category": "x" * 65}, "category"),
    ],
)
def test_bad_listing_arguments_name_the_field(
    store: Any, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        store.list_experiments(**arguments)
    assert caught.value.field == field


# --------------------------------------------------------------------------------------------
# The file: location, WAL, schema versions, failure modes built for real
# --------------------------------------------------------------------------------------------


def test_nothing_is_created_until_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "experiments.sqlite3"
    with ExperimentStore(path) as lazy:
        assert lazy.list_experiments().total == 0
        assert not path.parent.exists()
        lazy.register_experiment(VIEWER_PLAN, PIN)
    assert path.is_file()
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_the_default_file_is_in_the_users_data_directory() -> None:
    path = default_path()
    assert path.name == "experiments.sqlite3"
    assert path.parent.name == "creator-kpi-mcp"
    assert ExperimentStore().path == path


def test_a_file_of_garbage_bytes_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "experiments.sqlite3"
    garbage = random.Random(6).randbytes(8192)
    path.write_bytes(garbage)
    with ExperimentStore(path) as broken:
        for operation in (
            broken.list_experiments,
            broken.evidence,
            lambda: broken.register_experiment(VIEWER_PLAN, PIN),
        ):
            with pytest.raises(StoreError) as caught:
                operation()
            assert str(caught.value) == (
                f"experiment store {path} is not a readable SQLite database (file is not a "
                "database) - move the file aside (or restore a backup) or set CREATOR_KPI_DB "
                "to another path; the scoring tools keep working"
            )
    assert path.read_bytes() == garbage


def test_a_lock_held_past_the_timeout_is_a_clear_error_and_the_store_recovers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "experiments.sqlite3"
    with ExperimentStore(path, timeout=0.05) as impatient:
        impatient.register_experiment(VIEWER_PLAN, PIN, creator_id="first")
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StoreError) as caught:
                impatient.register_experiment(VIEWER_PLAN, PIN, creator_id="second")
            assert str(caught.value).startswith(
                f"experiment store {path} stayed locked by another connection for 0.05 s "
                "(database is locked) - another process is writing to it: retry shortly."
            )
            assert impatient.list_experiments().total == 1  # WAL: readers are not blocked
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert impatient.register_experiment(VIEWER_PLAN, PIN, creator_id="second").created


def test_a_schema_newer_than_the_code_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "experiments.sqlite3"
    newer = sqlite3.connect(path)
    newer.execute("CREATE TABLE future (x INTEGER)")
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.commit()
    newer.close()
    before = path.read_bytes()
    with ExperimentStore(path) as old_code:
        with pytest.raises(StoreError) as caught:
            old_code.register_experiment(VIEWER_PLAN, PIN)
        assert str(caught.value) == (
            f"experiment store {path} has schema version {SCHEMA_VERSION + 1}, newer than this "
            f"release's {SCHEMA_VERSION} - upgrade creator-kpi-mcp, or set CREATOR_KPI_DB to "
            "another path; the file is left untouched"
        )
        with pytest.raises(StoreError):
            old_code.list_experiments()
    assert path.read_bytes() == before


def test_a_schema_upgraded_by_another_release_meanwhile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "experiments.sqlite3"
    with ExperimentStore(path) as running:
        running.register_experiment(VIEWER_PLAN, PIN)
        upgrader = sqlite3.connect(path)
        upgrader.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        upgrader.commit()
        upgrader.close()
        with pytest.raises(StoreError):
            running.list_experiments()


def test_migrations_run_in_order_and_keep_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "experiments.sqlite3"
    with ExperimentStore(path) as version_one:
        plan_id = version_one.register_experiment(VIEWER_PLAN, PIN).plan_id
    step = ("ALTER TABLE plans ADD COLUMN note TEXT",)
    monkeypatch.setattr(store_module, "MIGRATIONS", (*store_module.MIGRATIONS, step))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with ExperimentStore(path) as version_two:
        assert version_two.get(plan_id) is not None
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)
        assert "note" in [row[1] for row in raw.execute("PRAGMA table_info(plans)")]


# --------------------------------------------------------------------------------------------
# Durability: concurrent writer processes, one killed inside an open transaction
# --------------------------------------------------------------------------------------------

WRITERS = 4
WRITES = 100
UNCOMMITTED = "killed-before-commit"


def _acknowledge(log: Path, plan_id: str) -> None:
    descriptor = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(descriptor, f"{plan_id}\n".encode())
    finally:
        os.close(descriptor)


def _writer(path: str, log: str, writer: int, halfway: Event, resume: Event) -> None:
    """100 registrations; each id goes to the side log only after its commit returned."""
    with ExperimentStore(path, timeout=60.0) as store:
        for index in range(WRITES):
            if index == WRITES // 2:
                halfway.set()
                resume.wait(60.0)
            plan_id = store.register_experiment(
                VIEWER_PLAN, PIN, creator_id=f"writer{writer}-{index}"
            ).plan_id
            _acknowledge(Path(log), plan_id)


def _victim(path: str, log: str, go: Event, in_transaction: Event, never: Event) -> None:
    """100 acknowledged registrations, then (on ``go``) one more left open after its insert."""
    with ExperimentStore(path, timeout=60.0) as store:
        last = ""
        for index in range(WRITES):
            last = store.register_experiment(VIEWER_PLAN, PIN, creator_id=f"victim-{index}").plan_id
            _acknowledge(Path(log), last)
        plan = store.get(last)
        assert plan is not None
        assert go.wait(120.0)
        with store._session() as connection, store._transaction(connection):
            store._insert_plan(connection, UNCOMMITTED, plan.plan, "{}")
            in_transaction.set()
            never.wait(120.0)  # the parent kills this process here


def test_every_acknowledged_write_survives_concurrent_writers_and_a_killed_one(
    tmp_path: Path,
) -> None:
    """4 writer processes x 100 registrations on one new file (they race to create it). Three
    pause halfway; the fourth, after its 100 acknowledged writes, begins a 101st transaction,
    inserts, signals, and is killed with SIGKILL while the others resume against its lock."""
    path = tmp_path / "experiments.sqlite3"
    logs = [tmp_path / f"writer{index}.log" for index in range(WRITERS)]
    context = multiprocessing.get_context("spawn")
    halfway = [context.Event() for _ in range(WRITERS - 1)]
    resume, go, in_transaction, never = (context.Event() for _ in range(4))
    writers = [
        context.Process(
            target=_writer, args=(str(path), str(logs[index]), index, halfway[index], resume)
        )
        for index in range(WRITERS - 1)
    ]
    victim = context.Process(
        target=_victim, args=(str(path), str(logs[-1]), go, in_transaction, never)
    )
    for process in [*writers, victim]:
        process.start()
    try:
        assert all(event.wait(120.0) for event in halfway), "a writer never got halfway"
        go.set()
        assert in_transaction.wait(120.0), "the victim never opened its last transaction"
        resume.set()  # the others now queue for the lock the victim holds
        os.kill(victim.pid or 0, signal.SIGKILL)
        victim.join(60.0)
        for process in writers:
            process.join(120.0)
    finally:
        for process in [*writers, victim]:
            if process.is_alive():
                process.kill()
                process.join()
    assert victim.exitcode == -signal.SIGKILL
    assert [process.exitcode for process in writers] == [0] * (WRITERS - 1)

    acknowledged = [line for log in logs for line in log.read_text().splitlines()]
    assert len(acknowledged) == WRITERS * WRITES == len(set(acknowledged))
    with closing(sqlite3.connect(path)) as raw:
        stored = {row[0] for row in raw.execute("SELECT plan_id FROM plans")}
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert stored == set(acknowledged)
    assert UNCOMMITTED not in stored
    with ExperimentStore(path) as reader:
        assert reader.list_experiments().total == WRITERS * WRITES


# --------------------------------------------------------------------------------------------
# A plan is analysed as planned (issue 17)
# --------------------------------------------------------------------------------------------


def test_a_one_sided_plan_is_recorded_one_sided(store: Any) -> None:
    plan = design_ab_test("proportion", 0.02, mde=0.2, sides=1, alpha=0.1)
    plan_id = store.register_experiment(plan, PIN).plan_id
    n = plan.n_per_arm[0]
    result = store.record_outcome(plan_id, arms(420, 470, n))
    expected = analyze_ab_test(
        "proportion", arms(420, 470, n), sides=1, alpha=0.1, planned_n_per_arm=n
    )
    assert result.analysis.comparisons == expected.comparisons
    assert (result.analysis.sides, result.analysis.alpha) == (1, 0.1)


def test_a_lower_is_better_rate_measured_as_is_tested_for_a_decrease(store: Any) -> None:
    """A refund-rate plan registered as measured (not its complement): one-sided, the
    improvement the analysis looks for is a decrease."""
    plan = design_ab_test("proportion", 0.08, mde=0.1, sides=1)
    plan_id = store.register_experiment(plan, "sc_honest_sizing", measured_as="refund_rate").plan_id
    n = plan.n_per_arm[0]
    result = store.record_outcome(
        plan_id,
        [
            {"name": "control", "conversions": round(0.08 * n), "units": n},
            {"name": "treatment", "conversions": round(0.07 * n), "units": n},
        ],
    )
    assert result.analysis.improvement == "decrease"
    assert result.analysis.comparisons[0].improved


def test_a_cuped_plan_needs_the_pre_period_sums_and_is_read_as_an_ancova(store: Any) -> None:
    plan = design_ab_test(
        "mean",
        50.0,
        baseline_sd=30.0,
        mde=2.0,
        mde_type="absolute",
        cuped_correlation=0.9,
        unit="creator",
    )
    plan_id = store.register_experiment(plan, "sc_pin_product_link").plan_id
    n = plan.n_per_arm[0]
    plain = [
        {"name": "control", "mean": 50.0, "sd": 30.0, "n": n},
        {"name": "treatment", "mean": 52.0, "sd": 30.0, "n": n},
    ]
    with pytest.raises(InvalidValueError) as caught:
        store.record_outcome(plan_id, plain)
    assert caught.value.field == "arms[0].pre_sum"
    assert "was sized with CUPED" in str(caught.value)
    sums = [
        {
            "name": "control",
            "n": n,
            "sum": 50.0 * n,
            "sum_squares": n * 2500.0 + (n - 1) * 900.0,
            "pre_sum": 50.0 * n,
            "pre_sum_squares": n * 2500.0 + (n - 1) * 900.0,
            "sum_of_products": n * 2500.0 + (n - 1) * 810.0,
        },
        {
            "name": "treatment",
            "n": n,
            "sum": 52.0 * n,
            "sum_squares": n * 2704.0 + (n - 1) * 900.0,
            "pre_sum": 50.0 * n,
            "pre_sum_squares": n * 2500.0 + (n - 1) * 900.0,
            "sum_of_products": n * 2600.0 + (n - 1) * 810.0,
        },
    ]
    result = store.record_outcome(plan_id, sums)
    assert result.analysis.comparisons[0].test == "ancova_t"
    assert result.analysis.comparisons[0].significant


def test_a_sequential_plan_may_be_recorded_once_it_decided_and_not_before(store: Any) -> None:
    plan = design_ab_test("proportion", 0.02, mde=0.2, sequential=True)
    plan_id = store.register_experiment(plan, PIN).plan_id
    undecided = arms(200, 210, 10_000)
    with pytest.raises(InvalidValueError) as caught:
        store.record_outcome(plan_id, undecided)
    assert "unless the sequential test has decided" in str(caught.value)
    decided = arms(200, 320, 10_000)
    result = store.record_outcome(plan_id, decided)
    assert result.analysis.sequential
    assert result.analysis.peeking_warning is None
    assert (result.analysis.verdict, result.analysis.ship) == ("significant", True)


def test_a_relative_lift_plan_is_decided_on_the_log_ratio(store: Any) -> None:
    plan = design_ab_test("proportion", 0.02, mde=0.2, method="relative_lift")
    plan_id = store.register_experiment(plan, PIN).plan_id
    n = plan.n_per_arm[0]
    result = store.record_outcome(plan_id, arms(420, 520, n))
    assert (result.analysis.comparisons[0].test, result.analysis.comparisons[0].scale) == (
        "log_ratio",
        "log_ratio",
    )


def test_planned_guardrails_are_tested_with_the_plans_margins(store: Any) -> None:
    plan = design_ab_test(
        "proportion",
        0.02,
        mde=0.2,
        guardrails=["refund_rate"],
        guardrail_margins={"refund_rate": 0.2},
    )
    plan_id = store.register_experiment(plan, PIN).plan_id
    n = plan.n_per_arm[0]
    refunds = {"metric": "refund_rate", "arms": arms(1000, 1400, n)}
    with pytest.raises(InvalidValueError) as caught:
        store.record_outcome(plan_id, arms(420, 520, n), guardrails=[{**refunds, "margin": 0.5}])
    assert caught.value.field == "guardrails[0].margin"
    with pytest.raises(InvalidValueError) as unknown:
        store.record_outcome(plan_id, arms(420, 520, n), guardrails=[{**refunds, "metric": "gmv"}])
    assert unknown.value.field == "guardrails[0].metric"
    result = store.record_outcome(plan_id, arms(420, 520, n), guardrails=[refunds])
    (guardrail,) = result.analysis.guardrails
    assert (guardrail.metric, guardrail.margin, guardrail.status) == ("refund_rate", 0.2, "failed")
    assert (result.analysis.verdict, result.analysis.ship) == ("guardrail_failed", False)


def test_a_plan_the_analysis_cannot_honour_is_refused_at_registration(store: Any) -> None:
    plan = {
        **VIEWER_PLAN.model_dump(),
        "unit": "creator",
        "metric_kind": "mean",
        "method": "cohens_h",
    }
    with pytest.raises(InvalidValueError) as caught:
        store.register_experiment(plan, PIN)
    assert caught.value.field == "plan.method"
    proportion = {**VIEWER_PLAN.model_dump(), "method": "relative_lift", "baseline": -0.1}
    with pytest.raises(InvalidValueError) as refused:
        store.register_experiment(proportion, PIN)
    assert refused.value.field == "plan.baseline"


def test_an_interim_look_at_a_registered_plan_uses_its_settings(store: Any) -> None:
    from kpi_core.experiments.store import read_experiment

    plan = design_ab_test("proportion", 0.02, mde=0.2, sides=1)
    plan_id = store.register_experiment(plan, PIN).plan_id
    early = read_experiment({"plan_id": plan_id, "arms": arms(200, 260, 10_000)}, store)
    assert early.sides == 1
    assert early.peeking_warning is not None
    assert store.get(plan_id).outcome is None
    with pytest.raises(InvalidValueError) as caught:
        read_experiment({"plan_id": plan_id, "arms": arms(), "sides": 1, "alpha": 0.1}, store)
    assert caught.value.field == "alpha"


def test_a_version_one_file_is_migrated_and_its_outcomes_still_read(tmp_path: Path) -> None:
    """A file written by the first schema (no flags, no reviews) with one outcome: the next
    release adds the columns and table, and the outcome still counts."""
    path = tmp_path / "old.sqlite3"
    with closing(sqlite3.connect(path)) as raw:
        for statement in store_module.MIGRATIONS[0]:
            raw.execute(statement)
        raw.execute("PRAGMA user_version = 1")
        with ExperimentStore(tmp_path / "scratch.sqlite3") as scratch:
            registered = scratch.register_experiment(VIEWER_PLAN, PIN)
            scratch.record_outcome(registered.plan_id, arms())
        with closing(sqlite3.connect(tmp_path / "scratch.sqlite3")) as source:
            plan_row = source.execute(
                "SELECT plan_id, intervention_id, creator_id, category, plan_json, registered_at "
                "FROM plans"
            ).fetchone()
            outcome_row = source.execute(
                "SELECT plan_id, arms_json, arms_hash, analysis_json, verdict, lift, lift_se, "
                "excluded, recorded_at FROM outcomes"
            ).fetchone()
        raw.execute(
            "INSERT INTO plans (plan_id, intervention_id, creator_id, category, plan_json, "
            "registered_at) VALUES (?, ?, ?, ?, ?, ?)",
            plan_row,
        )
        raw.execute("INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", outcome_row)
        raw.commit()
    with ExperimentStore(path) as upgraded:
        assert upgraded.evidence()[PIN]["count"] == 1
        experiment = upgraded.get(registered.plan_id)
        assert experiment is not None
        assert experiment.outcome is not None
        assert (experiment.outcome.flag, experiment.outcome.review) == (None, None)
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
