"""First answers: what a call loads before it can answer, and the closed forms that spare it.

Timing is measured by `bench/bench_startup.py`, never here; these tests pin what makes it fast
(which modules a first call imports) and that nothing changed in the numbers on the way.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

import anyio
import numpy as np
import pytest
import scipy.stats
from mcp import Client
from mcp.server import MCPServer

from kpi_core.experiments.statistics import chi2_sf, t_cdf, t_quantile, t_sf
from prompts import environment, use_bytecode_cache
from server import SOURCES, TOOLS, build_server, definitions_cache
from tests.cases import REALISTIC
from tests.conftest import ROOT
from tools._config import ServerConfig
from tools._registry import RegistryServer, source_key
from tools._warmup import Warmup

pytestmark = pytest.mark.anyio

#: Bound on every wait for a thread or a process; the machine may be busy.
WAIT_S = 60.0

#: The README's analyze_ab_test example: two arms of counts.
README_ANALYSIS = {
    "metric_kind": "proportion",
    "arms": [
        {"name": "control", "conversions": 200, "units": 10000},
        {"name": "new hook", "conversions": 245, "units": 10000},
    ],
}


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 8, 11, 19, 30])
def test_the_closed_form_chi_square_tail_matches_scipy(df: int) -> None:
    """Oracle: scipy.stats.chi2.sf (cephes' incomplete gamma). The SRM check's p-value is
    pinned at rel 1e-9 elsewhere; the closed form agrees to 1e-12 from the body to 1e-300."""
    for statistic in np.concatenate([np.logspace(-6, 3, 120), [0.5, 1.0, 3.841458820694124]]):
        expected = float(scipy.stats.chi2.sf(statistic, df))
        if expected > 1e-300:
            assert chi2_sf(float(statistic), df) == pytest.approx(expected, rel=1e-12, abs=0)
    assert chi2_sf(0.0, df) == 1.0


@pytest.mark.parametrize("df", [1.0, 2.5, 7.0, 29.3, 400.0])
def test_students_t_from_scipy_special_gives_scipy_stats_numbers_exactly(df: float) -> None:
    """Oracle: scipy.stats.t, whose cdf, sf and ppf call the same scipy.special functions."""
    for statistic in np.linspace(-30.0, 30.0, 121):
        assert t_cdf(float(statistic), df) == float(scipy.stats.t.cdf(statistic, df))
        assert t_sf(float(statistic), df) == float(scipy.stats.t.sf(statistic, df))
    for probability in np.linspace(0.001, 0.999, 37):
        assert t_quantile(float(probability), df) == float(scipy.stats.t.ppf(probability, df))


def run_fresh(code: str) -> dict[str, list[str]]:
    """What a fresh interpreter has loaded after ``code``: the heavy libraries (pandas, scipy,
    pyarrow) and the product's modules beyond the entry's (kpi_core.*, tools.*)."""
    report = (
        "\nimport json, sys\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(json.dumps({'heavy': sorted(loaded & {'pandas', 'scipy', 'pyarrow'}), "
        "'product': sorted(m for m in sys.modules if m.startswith(('kpi_core.', 'tools.')))}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code + report],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_the_readme_analysis_answers_without_importing_scipy_pandas_or_pyarrow() -> None:
    code = (
        "import anyio\n"
        "from mcp import Client\n"
        "from server import build_server\n"
        "async def main():\n"
        "    async with Client(build_server()) as client:\n"
        f"        result = await client.call_tool('analyze_ab_test', {README_ANALYSIS!r})\n"
        "        assert not result.is_error, result.content\n"
        "anyio.run(main)\n"
    )
    assert run_fresh(code)["heavy"] == []


# ---------------------------------------------------------------------------------------------
# tools built on first use, listed from the definitions cache until then


def served_config(tmp_path: Path) -> ServerConfig:
    return ServerConfig(cache_dir=tmp_path / "cache", store_path=tmp_path / "store.sqlite3")


async def listing(server: MCPServer) -> list[Any]:
    async with Client(server) as client:
        return (await client.list_tools()).tools


async def test_a_server_started_from_the_cache_builds_no_tool_until_one_is_called(
    tmp_path: Path,
) -> None:
    """The first server of a source tree builds every tool and writes the cache; the next one
    lists every tool from it and builds a tool when it is first called, with the same answers
    as a server built in memory."""
    config = served_config(tmp_path)
    first = build_server(config, cache=definitions_cache(config))
    assert all(first.registry.is_built(name) for name in first.registry.names)
    second = build_server(config, cache=definitions_cache(config))
    assert not any(second.registry.is_built(name) for name in second.registry.names)
    eager = build_server(config)
    assert await listing(second) == await listing(eager)
    arguments = {"metrics": REALISTIC["beauty_micro"]}
    async with Client(second) as lazy_client, Client(eager) as eager_client:
        lazy = await lazy_client.call_tool("score_creator", arguments)
        expected = await eager_client.call_tool("score_creator", arguments)
    assert lazy == expected
    built = [name for name in second.registry.names if second.registry.is_built(name)]
    assert built == ["score_creator"]


def write_cache(config: ServerConfig, edit: Callable[[dict[str, Any]], object]) -> Path:
    """The cache a first server writes, then changed by ``edit`` (its parsed JSON)."""
    cache = definitions_cache(config)
    assert cache is not None
    build_server(config, cache=cache)
    stored = json.loads(cache.path.read_text(encoding="utf-8"))
    edit(stored)
    cache.path.write_text(json.dumps(stored), encoding="utf-8")
    return cache.path


def run_light_steps(server: RegistryServer) -> None:
    """The warm-up's steps up to the cache check, run here (not the library imports)."""
    assert server.warmup is not None
    for name, step in server.warmup.steps:
        if name.startswith(("build ", "check ")):
            step()


async def test_a_stale_cache_is_corrected_by_the_warm_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache under the right key but with a different definition (a change the key missed)
    is listed until the warm-up builds the tools, which then list their own definitions and
    rewrite the cache, with a warning in the log."""
    config = served_config(tmp_path)

    def tamper(stored: dict[str, Any]) -> None:
        stored["tools"][1]["description"] = "an old description"

    path = write_cache(config, tamper)
    server = build_server(config, cache=definitions_cache(config), warm_up=True)
    before = {tool.name: tool.description for tool in await listing(server)}
    assert before["diagnose"] == "an old description"
    caplog.set_level(logging.INFO, logger="creator_kpi.server")
    run_light_steps(server)
    after = {tool.name: tool for tool in await listing(server)}
    assert after == {tool.name: tool for tool in await listing(build_server(config))}
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["tools"][1]["description"] == after["diagnose"].description
    assert "tool definitions cache was stale for diagnose; rewritten" in caplog.messages


def other_key(stored: dict[str, Any]) -> None:
    stored["key"] = "another source tree"


def invalid_definition(stored: dict[str, Any]) -> None:
    stored["tools"] = [{"name": "score_creator"}]


def emptied(stored: dict[str, Any]) -> None:
    stored.clear()


@pytest.mark.parametrize("edit", [other_key, invalid_definition, emptied])
async def test_a_cache_for_another_tree_or_unreadable_is_ignored_and_rewritten(
    tmp_path: Path, edit: Callable[[dict[str, Any]], object]
) -> None:
    config = served_config(tmp_path)
    path = write_cache(config, edit)
    server = build_server(config, cache=definitions_cache(config))
    assert all(server.registry.is_built(name) for name in server.registry.names)
    assert await listing(server) == await listing(build_server(config))
    assert json.loads(path.read_text(encoding="utf-8"))["key"] == source_key(SOURCES, repr(config))


def test_the_cache_key_follows_every_source_file_and_the_settings(tmp_path: Path) -> None:
    source = tmp_path / "package" / "module.py"
    source.parent.mkdir()
    source.write_text("A = 1\n", encoding="utf-8")
    (tmp_path / "package" / "notes.j2").write_text("not a source", encoding="utf-8")
    key = source_key([tmp_path / "package"], "settings")
    assert source_key([tmp_path / "package"], "settings") == key
    assert source_key([tmp_path / "package"], "other settings") != key
    (tmp_path / "package" / "notes.j2").write_text("a template changes no definition", "utf-8")
    assert source_key([tmp_path / "package"], "settings") == key
    source.write_text("A = 12\n", encoding="utf-8")
    changed = source_key([tmp_path / "package"], "settings")
    assert changed != key
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert source_key([tmp_path / "package"], "settings") not in (key, changed)


def test_the_cache_can_be_turned_off_and_placed() -> None:
    assert ServerConfig.from_env({"CREATOR_KPI_CACHE_DIR": "off"}).definitions_cache_file() is None
    placed = ServerConfig.from_env({"CREATOR_KPI_CACHE_DIR": "/srv/cache"})
    assert placed.definitions_cache_file() == Path("/srv/cache/tool-definitions.json")
    default = ServerConfig.from_env({}).definitions_cache_file()
    assert default is not None
    assert default.name == "tool-definitions.json"
    assert "creator-kpi-mcp" in default.parts


#: What a first score_creator needs besides the entry's own modules (server.py, the edge, the
#: registry, the warm-up, the resources and prompts it registers): the scoring path.
SCORING_PATH = [
    "kpi_core.catalogue",
    "kpi_core.errors",
    "kpi_core.estimation",
    "kpi_core.kernel",
    "kpi_core.metrics",
    "kpi_core.priors",
    "kpi_core.prompt_texts",
    "kpi_core.score_models",
    "kpi_core.scoring",
    "kpi_core.shrinkage",
    "kpi_core.validation",
    "kpi_core.weights",
    "tools._config",
    "tools._edge",
    "tools._params",
    "tools._registry",
    "tools._scorecard_view",
    "tools._shared",
    "tools._warmup",
    "tools.prompts",
    "tools.resources",
    "tools.score_creator",
]


def test_the_first_score_creator_of_a_cached_server_loads_only_the_scoring_path() -> None:
    """No other tool's adapter or core (cohorts, comparison, experiments, diagnosis, advice,
    scorecard) and none of pandas, scipy or pyarrow (this process and the child share the
    environment, so the child reads the cache written here)."""
    config = ServerConfig.from_env()
    build_server(config, cache=definitions_cache(config))
    code = (
        "import anyio\n"
        "from mcp import Client\n"
        "from server import build_server, definitions_cache\n"
        "from tools._config import ServerConfig\n"
        "config = ServerConfig.from_env()\n"
        "async def main():\n"
        "    server = build_server(config, cache=definitions_cache(config))\n"
        "    async with Client(server) as client:\n"
        f"        arguments = {{'metrics': {REALISTIC['beauty_micro']!r}}}\n"
        "        result = await client.call_tool('score_creator', arguments)\n"
        "        assert not result.is_error, result.content\n"
        "anyio.run(main)\n"
    )
    assert run_fresh(code) == {"heavy": [], "product": SCORING_PATH}


# ---------------------------------------------------------------------------------------------
# the background warm-up


async def test_the_warm_up_waits_while_a_request_runs_and_counts_quiet_from_its_end() -> None:
    """Before any answer the server is quiet `idle` after its start; while a request runs it is
    not quiet at all; after it ends, `quiet` after that end."""
    warmup = Warmup([], quiet=0.05, idle=1.0)
    before = warmup.quiet_at()
    assert before is not None
    observe = warmup.middleware()
    entered, release = anyio.Event(), anyio.Event()
    ending = 0.0

    async def call_next(_: object) -> str:
        entered.set()
        await release.wait()
        return "answered"

    async with anyio.create_task_group() as group:
        group.start_soon(observe, cast("Any", None), call_next)
        await entered.wait()
        assert warmup.quiet_at() is None
        ending = time.monotonic()
        release.set()
    after = warmup.quiet_at()
    assert after is not None
    assert ending + warmup.quiet <= after <= time.monotonic() + warmup.quiet
    assert after < before  # an answer makes the short wait apply
    late = warmup.quiet_at(warmup.late_quiet)
    assert late == pytest.approx(after + warmup.late_quiet - warmup.quiet)


def test_a_failing_step_is_logged_and_the_next_ones_still_run_late_ones_last(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("a library that does not import here")

    warmup = Warmup(
        [("broken", broken), ("record", lambda: ran.append("record"))],
        quiet=0.0,
        idle=0.0,
        late=[("late", lambda: ran.append("late"))],
        late_quiet=0.0,
    )
    caplog.set_level(logging.INFO, logger="creator_kpi.server")
    warmup.start()
    assert warmup.done.wait(WAIT_S)
    assert ran == ["record", "late"]
    assert "warm-up step failed (its first call will retry): broken" in caplog.messages


def test_a_stopped_warm_up_starts_no_further_step() -> None:
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def blocking() -> None:
        started.set()
        release.wait(WAIT_S)

    warmup = Warmup(
        [("blocking", blocking), ("next", lambda: ran.append("next"))], quiet=0.0, idle=0.0
    )
    warmup.start()
    assert started.wait(WAIT_S)
    warmup.stop()
    release.set()
    assert warmup.join(WAIT_S)
    assert ran == []
    assert not warmup.done.is_set()


@pytest.mark.parametrize("moment", ["warm-up started", "warm-up finished"])
def test_over_stdio_the_warm_up_writes_nothing_to_stdout_and_shutdown_does_not_wait(
    moment: str,
) -> None:
    """A real server process: initialised and listed, it starts warming up once quiet; the
    client then goes (stdin closes) in the middle of the warm-up, or after it. The process ends
    with status 0, its stdout held nothing but the two answers (pandas and scipy included, the
    warm-up printed nothing), and its log holds no traceback."""
    env = {k: v for k, v in os.environ.items() if k.startswith(("PYTHON", "VIRTUAL", "CREATOR"))}
    with subprocess.Popen(
        [sys.executable, str(ROOT / "server.py")],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        log: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=read_lines, args=(process.stderr, log), daemon=True)
        reader.start()
        answers = [answer_of(process.stdin, process.stdout, *step) for step in HANDSHAKE]
        seen: list[str] = []
        while not any(moment in line for line in seen):
            line = log.get(timeout=WAIT_S)
            assert line is not None, "".join(seen)
            seen.append(line)
        process.stdin.close()
        assert process.wait(timeout=WAIT_S) == 0
        assert process.stdout.read() == b""
        reader.join(WAIT_S)
    while (line := log.get(timeout=WAIT_S)) is not None:
        seen.append(line)
    assert [answer["id"] for answer in answers if answer] == [0, 2]
    assert len(answers[2]["result"]["tools"]) == len(TOOLS)
    assert "Traceback" not in "".join(seen)


#: What a client sends first: (id or None for a notification, method, params).
HANDSHAKE: list[tuple[int | None, str, dict[str, object] | None]] = [
    (
        0,
        "initialize",
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        },
    ),
    (None, "notifications/initialized", None),
    (2, "tools/list", None),
]


def answer_of(
    stdin: IO[bytes],
    stdout: IO[bytes],
    ident: int | None,
    method: str,
    params: dict[str, object] | None,
) -> dict[str, Any]:
    """Send one message as a line; the answer to a request ({} for a notification)."""
    message: dict[str, object] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    if ident is not None:
        message["id"] = ident
    stdin.write(json.dumps(message).encode() + b"\n")
    stdin.flush()
    if ident is None:
        return {}
    answer: dict[str, Any] = json.loads(stdout.readline())
    return answer


def read_lines(stream: IO[bytes], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.decode())
    lines.put(None)


# ---------------------------------------------------------------------------------------------
# compiled templates kept between processes


def compiles_in_a_fresh_process(cache: Path) -> list[str]:
    """The templates a fresh interpreter compiles to load every one, with ``cache`` in use."""
    code = (
        "import json\n"
        "from pathlib import Path\n"
        "from prompts import environment, use_bytecode_cache\n"
        f"assert use_bytecode_cache(Path({str(cache)!r}))\n"
        "env = environment()\n"
        "compiled = []\n"
        "original = env.compile\n"
        "def counting(source, name=None, *args, **kwargs):\n"
        "    compiled.append(name)\n"
        "    return original(source, name, *args, **kwargs)\n"
        "env.compile = counting\n"
        "for name in env.list_templates():\n"
        "    if name.endswith('.j2'):\n"
        "        env.get_template(name)\n"
        "print(json.dumps(compiled))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    found: list[str] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_a_second_process_loads_the_compiled_templates_instead_of_compiling_them(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "templates"
    first = compiles_in_a_fresh_process(cache)
    assert "score_summary.txt.j2" in first
    assert len(list(cache.iterdir())) == len(first)
    assert compiles_in_a_fresh_process(cache) == []


def test_a_template_cache_that_cannot_be_made_is_not_used(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    before = environment().bytecode_cache
    assert use_bytecode_cache(blocker / "templates") is False
    assert environment().bytecode_cache is before


def test_a_call_made_while_the_warm_up_is_half_way_through_importing_pandas_still_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The warm-up imports pandas on another thread; until that import finishes, sys.modules
    holds a pandas module without DataFrame. A cohort scored then (a list of records) must not
    fail on the missing attribute (an audit saw 'internal error' answers this way)."""
    import types

    from kpi_core import score_cohort

    monkeypatch.setitem(sys.modules, "pandas", types.ModuleType("pandas"))
    result = score_cohort([{"creator_id": "a", "gmv": 100.0}, {"creator_id": "b", "gmv": 9e3}])
    assert [entry.creator_id for entry in result.leaderboard] == ["b", "a"]
