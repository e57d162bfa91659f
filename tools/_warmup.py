"""Warming a server in the background once it is quiet, so that first calls answer warm.

A fresh server builds only what its first call needs (see :mod:`tools._registry`). The rest (the
other tools, the templates, pandas and scipy) is loaded by :class:`Warmup`, one step at a time in
a daemon thread, and only while the server is quiet: each step waits until no request is in
flight and none has come for ``quiet`` seconds since the server's first answer (or, before any
answer, until the server has been up for ``idle`` seconds). A step never starts while a call
runs, so the warm-up does not compete with the first call; a call that arrives during a step
waits at most for that one step. Python threads share one interpreter lock, so this is about
when the work happens, not about running it in parallel.

:meth:`Warmup.middleware` is the server middleware that tells it about requests. The thread is a
daemon that never writes to stdout (the stdio transport): a step's failure is logged to stderr
and the next step runs; :meth:`Warmup.stop` (on shutdown) ends it before its next step, and
shutdown never waits for it.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.context import CallNext, HandlerResult

__all__ = ["Step", "Warmup"]

logger = logging.getLogger("creator_kpi.server")

#: One unit of warm-up work: a name for the log and the function that does it.
Step = tuple[str, Callable[[], object]]

#: Seconds without requests, after the first answer, before a warm-up step starts.
DEFAULT_QUIET = 0.05
#: Seconds after start before the warm-up begins when no request has been answered.
DEFAULT_IDLE = 1.0
#: Seconds without requests before a late step starts.
DEFAULT_LATE_QUIET = 5.0
#: The interpreter's thread switch interval while the warm-up runs (seconds; Python's is 0.005).
SWITCH_INTERVAL = 0.0005


class Warmup:
    """Runs ``steps`` in a background thread whenever the server is quiet (see the module)."""

    def __init__(
        self,
        steps: Sequence[Step],
        *,
        quiet: float = DEFAULT_QUIET,
        idle: float = DEFAULT_IDLE,
        late: Sequence[Step] = (),
        late_quiet: float = DEFAULT_LATE_QUIET,
    ) -> None:
        self.steps = list(steps)
        self.quiet = quiet
        self.idle = idle
        #: Steps for libraries few calls need, run after the others once the server has been
        #: quiet for `late_quiet` seconds (so they do not compete with a session's next calls).
        self.late = list(late)
        self.late_quiet = late_quiet
        self._changed = threading.Condition()
        self._in_flight = 0
        self._answered = False
        self._last_activity = time.monotonic()
        self._started_at = self._last_activity
        self._stopped = False
        self.done = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- what the server tells it ---------------------------------------------------------------

    def middleware(self) -> Callable[..., Any]:
        """Server middleware that counts requests in flight and notes when each ends."""

        async def observe(
            ctx: ServerRequestContext[Any, Any], call_next: CallNext
        ) -> HandlerResult:
            with self._changed:
                self._in_flight += 1
            try:
                return await call_next(ctx)
            finally:
                with self._changed:
                    self._in_flight -= 1
                    self._answered = True
                    self._last_activity = time.monotonic()
                    self._changed.notify_all()

        return observe

    def start(self) -> None:
        """Start the thread (once); its steps wait for the server to be quiet."""
        if self._thread is None:
            self._started_at = self._last_activity = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="warm-up", daemon=True)
            self._thread.start()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the thread to end; whether it has (or never ran)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def stop(self) -> None:
        """No further step starts (the one running, if any, finishes in the daemon thread)."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    # ---- the thread -----------------------------------------------------------------------------

    def quiet_at(self, quiet: float | None = None) -> float | None:
        """When (``time.monotonic()``) the server counts as quiet, as things stand: the last
        request's end plus ``quiet`` (default ``self.quiet``) once anything was answered, else
        the start plus ``idle``; None while a request is in flight."""
        with self._changed:
            if self._in_flight:
                return None
            if self._answered:
                return self._last_activity + (self.quiet if quiet is None else quiet)
            return self._started_at + max(self.idle, quiet or 0.0)

    def _wait_for_quiet(self, quiet: float | None = None) -> bool:
        """Block until the server is quiet; False once stopped."""
        with self._changed:
            while not self._stopped:
                ready_at = self.quiet_at(quiet)
                now = time.monotonic()
                if ready_at is not None and now >= ready_at:
                    return True
                self._changed.wait(None if ready_at is None else ready_at - now)
            return False

    def _run(self) -> None:
        started: float | None = None
        busy = 0.0
        planned = [(step, None) for step in self.steps] + [(s, self.late_quiet) for s in self.late]
        for index, ((name, step), quiet) in enumerate(planned):
            if index == len(self.steps):
                logger.info(
                    "warm-up: the first %d steps are done (%.0f ms of work)", index, 1000 * busy
                )
            if not self._wait_for_quiet(quiet):
                logger.info("warm-up stopped before: %s", name)
                return
            if started is None:
                started = time.perf_counter()
                logger.info("warm-up started: %d steps", len(planned))
            busy += _run_step(name, step)
        elapsed = 0.0 if started is None else time.perf_counter() - started
        logger.info(
            "warm-up finished: %d steps, %.0f ms of work in %.0f ms",
            len(planned),
            1000 * busy,
            1000 * elapsed,
        )
        self.done.set()


def _run_step(name: str, step: Callable[[], object]) -> float:
    """Run one step (a failure is logged, never raised); the seconds it took.

    While it runs, a call that needs the interpreter lock gets it within a tenth of the usual
    5 ms each time it asks, instead of queueing behind the step.
    """
    usual = sys.getswitchinterval()
    sys.setswitchinterval(min(usual, SWITCH_INTERVAL))
    began = time.perf_counter()
    try:
        step()
    except Exception:  # a warm-up step must never take the server down
        logger.exception("warm-up step failed (its first call will retry): %s", name)
    finally:
        sys.setswitchinterval(usual)
    return time.perf_counter() - began
