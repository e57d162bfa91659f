"""Server configuration, read once from the environment (or given by the caller)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from kpi_core.errors import InvalidValueError

#: Extra currencies and their rate into USD, such as "EUR=1.08,GBP=1.27".
ENV_FX = "CREATOR_KPI_FX"
#: Seconds a single tool call may run before it is stopped with an error.
ENV_TIME_LIMIT = "CREATOR_KPI_TIME_LIMIT"
DEFAULT_TIME_LIMIT = 120.0


def parse_time_limit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidValueError(ENV_TIME_LIMIT, "must be a number of seconds", text) from None
    if not 0 < value <= 86_400:
        raise InvalidValueError(ENV_TIME_LIMIT, "must be in (0, 86400] seconds", text)
    return value


def parse_fx(text: str) -> dict[str, float]:
    """'EUR=1.08,GBP=1.27' -> {'EUR': 1.08, 'GBP': 1.27}; a malformed entry is an error."""
    rates: dict[str, float] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        code, _, rate = entry.partition("=")
        try:
            value = float(rate)
        except ValueError:
            raise InvalidValueError(ENV_FX, "entries must look like EUR=1.08", entry) from None
        if not code.isalpha() or not 0 < value < 1e6:
            raise InvalidValueError(ENV_FX, "entries must look like EUR=1.08", entry)
        rates[code.upper()] = value
    return rates


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What an operator can configure; `from_env` reads the environment variables."""

    fx_to_default: Mapping[str, float] = field(default_factory=dict[str, float])
    time_limit: float = DEFAULT_TIME_LIMIT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ServerConfig":
        env = os.environ if environ is None else environ
        return cls(
            fx_to_default=parse_fx(env.get(ENV_FX, "")),
            time_limit=parse_time_limit(env.get(ENV_TIME_LIMIT, str(DEFAULT_TIME_LIMIT))),
        )
