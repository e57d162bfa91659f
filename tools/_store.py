"""The experiment store as the tools open it, and the evidence `recommend` reads from it.

Shared by the store's own tools (`tools/experiments.py`) and by the tools that cite evidence
(`tools/recommend.py`, `tools/scorecard.py`), so that no adapter imports another.
"""

import logging
from collections.abc import Mapping

from kpi_core.experiments.store import ExperimentStore
from tools._config import ServerConfig

__all__ = ["open_store", "recommend_evidence"]

logger = logging.getLogger("creator_kpi.tools")


def open_store(config: ServerConfig) -> ExperimentStore:
    """The store a server with this configuration uses (no I/O until its first operation)."""
    return ExperimentStore(config.store_path)


def recommend_evidence(
    store: ExperimentStore, metrics: Mapping[str, object]
) -> tuple[Mapping[str, Mapping[str, object]] | None, str | None]:
    """Evidence for ``recommend`` for the creator's category, or None and a warning sentence.

    A store that cannot be read must not stop ``recommend``: the catalogue's ranges are used and
    the warning (rendered by the core) says why.
    """
    read = store.read_evidence(metrics.get("category"))
    if read.problem is not None:
        logger.warning("recommend ran without recorded evidence: %s", read.problem)
    return read.evidence, read.warning
