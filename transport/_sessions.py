"""The HTTP transport's view of its open sessions, so a flood cannot lock other clients out.

The SDK's session manager refuses a new session with 503 once its table is full, and keeps an
idle one for its idle timeout: 10,050 `initialize` requests that never came back locked every
other client out for 30 minutes (issue 19.3). The guard in `transport.http` keeps this table
beside the SDK's, from what it sees on the wire (the `Mcp-Session-Id` of each request and of
each `initialize` answer), and before a new session is admitted it closes, with an ordinary
``DELETE``, the sessions that sat idle past the limit and, while the table is still full, the
session whose last POST is oldest among those with no call in flight. A session counts as idle
only when nothing is in flight, an open GET stream included, which is the SDK's own rule; so
this table forgets a session the SDK expired at the same moment the SDK does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SessionTable"]


@dataclass(slots=True)
class _Session:
    last_post: float
    idle_since: float
    posts: int = 0  # POST requests in flight (calls, notifications)
    requests: int = 0  # any request in flight, an open GET stream included


class SessionTable:
    """Open sessions by id: when each last sent a POST and what it has in flight."""

    def __init__(
        self, limit: int, idle_after: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.idle_after = idle_after
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._opening = 0  # admitted sessions whose opening request is not answered yet

    def __len__(self) -> int:
        return len(self._sessions)

    def admit(self) -> tuple[bool, list[str]]:
        """Make room for one new session: whether it may open, and the sessions to close first
        (expired ones, then the least recently used idle ones while the table is full)."""
        now = self._clock()
        closing = [
            session_id
            for session_id, session in self._sessions.items()
            if session.requests == 0 and now - session.idle_since >= self.idle_after
        ]
        for session_id in closing:
            del self._sessions[session_id]
        while len(self._sessions) + self._opening >= self.limit:
            idle = [item for item in self._sessions.items() if item[1].posts == 0]
            if not idle:
                return False, closing
            oldest, _ = min(idle, key=lambda item: item[1].last_post)
            del self._sessions[oldest]
            closing.append(oldest)
        self._opening += 1
        return True, closing

    def opened(self, session_id: str | None) -> None:
        """The admitted session's opening request was answered (with its id, or refused)."""
        self._opening -= 1
        if session_id is not None:
            now = self._clock()
            self._sessions[session_id] = _Session(now, now, posts=1, requests=1)

    def begin(self, session_id: str, *, post: bool) -> None:
        session = self._sessions.get(session_id)
        if session is None:
            return
        session.requests += 1
        if post:
            session.posts += 1
            session.last_post = self._clock()

    def end(self, session_id: str, *, post: bool) -> None:
        session = self._sessions.get(session_id)
        if session is None:
            return
        session.requests -= 1
        session.posts -= int(post)
        if session.requests == 0:
            session.idle_since = self._clock()

    def forget(self, session_id: str) -> None:
        """The session ended (the client deleted it, or the SDK no longer knows it)."""
        self._sessions.pop(session_id, None)
