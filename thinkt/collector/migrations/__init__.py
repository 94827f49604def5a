"""The schema migrations of ``collector.duckdb``, in the order ``store.migrate`` applies them.

Each migration is a module with a ``DESCRIPTION`` and an ``apply(con)`` that runs
inside the transaction that also records its version in ``schema_version``. A
migration is never edited once released: a schema change is a new module here.
"""

from __future__ import annotations

from types import ModuleType

from thinkt.collector.migrations import (m001_tables, m002_search, m003_text_truncation,
                                         m004_rollups)
from thinkt.collector.migrations import m005_search_columns, m006_long_texts, m007_people
from thinkt.collector.migrations import m008_telemetry, m009_audit

#: ``(version, module)`` pairs, oldest first; versions are 1, 2, ... without gaps.
MIGRATIONS: tuple[tuple[int, ModuleType], ...] = (
    (1, m001_tables),
    (2, m002_search),
    (3, m003_text_truncation),
    (4, m004_rollups),
    (5, m005_search_columns),
    (6, m006_long_texts),
    (7, m007_people),
    (8, m008_telemetry),
    (9, m009_audit),
)

#: The schema version a fully migrated database has.
LATEST = MIGRATIONS[-1][0]
