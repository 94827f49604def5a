"""Schema version 7: who a session belongs to (the exporter's ``user``), kept as ``person``.

The wire and the API say ``user``; the column is ``person``, as ``user`` is an SQL keyword.

- ``collected_entries.person``: the request's, as ``instance_id`` is; ``collected_sessions``,
  ``collected_usage`` and ``collected_agents`` get it from the rollup and registrations.
  Added as NULL columns without a default, which DuckDB records without rewriting the
  stored rows (milliseconds at millions of entries): what is stored has no person.
- ``usage_hourly`` gets ``person`` as a key column ('' for none), so ``/v1/usage`` can
  group and filter by it from the rollup. A primary key cannot take a new column, so the
  table is made again: every stored cell has no person, and is copied with ''. It holds
  one row per hour and session (and model, agent, project), far fewer than the entries.
"""

from __future__ import annotations

from typing import Any

DESCRIPTION = "person (the exporter's user) on entries, sessions, usage and agents"

_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
           "reasoning_tokens")
# The key and sums as m004 made them, then person in the key.
_KEY = ("hour", "source", "session_id", "model", "instance_id", "project_path")
_SUMS = ("entries",) + _TOKENS


def apply(con: Any) -> None:
    """Add ``person`` to the four tables and make ``usage_hourly`` again with it in its key."""
    for table in ("collected_entries", "collected_sessions", "collected_usage",
                  "collected_agents"):
        con.execute(f"ALTER TABLE {table} ADD COLUMN person VARCHAR")
    con.execute("ALTER TABLE usage_hourly RENAME TO usage_hourly_6")
    key = _KEY + ("person",)
    columns = [f"{c} {'TIMESTAMP' if c == 'hour' else 'VARCHAR'} NOT NULL" for c in key]
    columns.append("entries BIGINT NOT NULL DEFAULT 0")
    columns += [f"{t} HUGEINT NOT NULL DEFAULT 0" for t in _TOKENS]
    con.execute(f"CREATE TABLE usage_hourly ({', '.join(columns)}, "
                f"PRIMARY KEY ({', '.join(key)}))")
    copied = ", ".join(_KEY + _SUMS)
    con.execute(f"INSERT INTO usage_hourly ({copied}, person) "
                f"SELECT {copied}, '' FROM usage_hourly_6")
    con.execute("DROP TABLE usage_hourly_6")
