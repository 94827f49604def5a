"""The store's functions as one module, for tests that drive the database without processes.

``ingest`` does what the writer does for one group commit, then refreshes the rollup, so
a test's next query sees the entries (as the writer's queries do, see rollup.py).
"""

from __future__ import annotations

from typing import Any, Sequence

import duckdb  # noqa: F401  (tests reach DuckDB's exceptions through this module)

from thinkt.collector import ingest as _ingest
from thinkt.collector import rollup as _rollup
from thinkt.collector.agents import list_agents, register_agent, sweep_agents  # noqa: F401
from thinkt.collector.channel import IngestRequest  # noqa: F401
from thinkt.collector.database import (SCHEMA_VERSION, StoreError, migrate,  # noqa: F401
                                       open_database, rfc3339)
from thinkt.collector.queries import list_sessions, session_entries, stats, usage  # noqa: F401
from thinkt.collector.rollup import BIGINT_MAX, TOKEN_FIELDS  # noqa: F401
from thinkt.collector.schemas import ENTRY_FIELDS  # noqa: F401
from thinkt.collector.search import SNIPPET_CHARS, search  # noqa: F401


def ingest(con: Any, requests: Sequence[IngestRequest]) -> list[tuple[int, int]]:
    """Commit ``requests`` as one group and refresh the rollup; return ``(stored, duplicates)``
    per request, ``stored`` counting new entries and changed copies that replaced one."""
    log = _ingest.EntryLog(con)
    results, replaced = log.ingest(con, requests)
    rollup = _rollup.Rollup(con, lambda: log.last_seq)
    rollup.committed(requests, replaced)
    rollup.refresh(con)
    return [(result.new + result.replaced, result.duplicates) for result in results]
