"""Creator references: a short handle for a validated record, so a conversation need not re-send
45 fields at every step (issue 18).

A ref is ``"cr-"`` and 16 hex digits of the SHA-256 of the record's canonical JSON (keys sorted,
no spaces): the record as :meth:`kpi_core.validation.ValidatedMetrics.record` gives it (canonical
names, aliases resolved, money in the catalogue's currency), which validates again to the same
numbers. The same record therefore gets the same ref in any process, whatever
``PYTHONHASHSEED``. :class:`CreatorRefs` keeps the records behind recent refs, bounded: the
caller owns an instance (the server keeps one per process), so this module holds no state.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping

from kpi_core.errors import InvalidValueError

__all__ = ["DEFAULT_CAPACITY", "REF_PATTERN", "CreatorRefs", "creator_ref"]

#: Records a server keeps (a record is about 2 KB: 1024 of them take a few MB).
DEFAULT_CAPACITY = 1024
REF_PATTERN = re.compile(r"^cr-[0-9a-f]{16}$")

Record = Mapping[str, float | str]


def creator_ref(record: Record) -> str:
    """The ref of a validated record (see the module docstring)."""
    text = json.dumps(dict(record), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "cr-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class CreatorRefs:
    """The records behind the most recently used refs, at most ``capacity`` (least recently
    used first out); safe to share between threads."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._records: OrderedDict[str, dict[str, float | str]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def remember(self, record: Record) -> str:
        """Keep ``record`` and return its ref."""
        ref = creator_ref(record)
        with self._lock:
            self._records[ref] = dict(record)
            self._records.move_to_end(ref)
            while len(self._records) > self.capacity:
                self._records.popitem(last=False)
        return ref

    def recall(self, ref: object) -> dict[str, float | str]:
        """The record behind ``ref``; an unknown or malformed ref raises an error that asks for
        the metrics again."""
        if not isinstance(ref, str) or not REF_PATTERN.match(ref):
            raise InvalidValueError(
                "creator_ref",
                "must be a ref from score_creator ('cr-' and 16 hex digits)",
                ref,
                "send the creator's metrics instead",
            )
        with self._lock:
            record = self._records.get(ref)
            if record is not None:
                self._records.move_to_end(ref)
        if record is None:
            raise InvalidValueError(
                "creator_ref",
                f"is not known to this server (it keeps the last {self.capacity} creators "
                "scored, and none after a restart)",
                ref,
                "send the creator's metrics again; score_creator returns a fresh creator_ref",
            )
        return dict(record)
