"""The collector's resolved settings, as one immutable object passed to every part."""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime

from thinkt import paths

#: Largest request body, after gzip decompression (CONTRACT.md §1).
MAX_BODY = 10 * 1024 * 1024


def default_workers() -> int:
    """Return the default number of sync workers: 4 per core, at least 4.

    A worker spends most of a request waiting for the writer's commit, not on the CPU;
    more requests waiting means larger group commits (measured in bench/ingest.py: on
    2 cores, 8 workers doubled the entries per commit and the throughput of 4).
    """
    return max(4, 4 * (os.cpu_count() or 1))


@dataclasses.dataclass(frozen=True)
class CollectorSettings:
    """Everything the collector's processes need to know, resolved once at start."""

    host: str = "localhost"
    port: int = 4318
    storage: str = ""
    tokens: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    workers: int = 2
    queue_size: int = 256
    commit_timeout: float = 30.0
    request_timeout: float = 60.0
    agent_retention: float = 7 * 86400.0
    memory_limit: int = 1024**3
    quiet: bool = False
    log: str | None = None
    max_body: int = MAX_BODY
    started_at: datetime | None = None

    @property
    def auth_required(self) -> bool:
        """True when clients must present a bearer token."""
        return bool(self.tokens)


def default_storage() -> str:
    """Return the default database path: collector.duckdb in the state directory."""
    return str(paths.state_dir() / "collector.duckdb")
