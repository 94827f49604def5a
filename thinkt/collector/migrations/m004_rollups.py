"""Schema version 4: a wide entries table, and figures rolled up off the commit path.

Before, every commit ran three upserts (sessions, per-response usage, agents), an OLTP
pattern a columnar engine is slow at. Now the commit only appends to
``collected_entries``; the writer's rollup (rollup.py) folds what arrived since its
watermark into ``collected_sessions``, ``collected_usage``, ``usage_hourly`` and the
agents' counts, in larger batches and outside the acknowledgement's path.

- Entries carry their request's ``project_path``, ``machine_id`` and ``metadata``, so a
  session's figures are a function of its entries alone (stored entries get their
  session's values: the request each came with was not kept).
- ``usage_hourly``: entries and tokens per hour, source, session, model, agent and
  project, which ``/v1/usage`` sums instead of reading every entry. '' stands for "none"
  in its key columns (a primary key cannot hold NULL).
- ``collected_usage.prev_model``: the model before an upsert changed it, so the rollup
  can tell when a response's tokens moved to another model.
- ``rollup_state``: the highest ``seq`` folded in; ``rollup_dirty``: sessions with an
  entry replaced by a changed copy, and ``rollup_dirty_responses``: the responses those
  entries carried before, which the rollup recomputes from the entries.
"""

from __future__ import annotations

from typing import Any

DESCRIPTION = "request fields on entries; hourly usage rollup; rollup watermark"

STATEMENTS = (
    "ALTER TABLE collected_entries ADD COLUMN project_path VARCHAR",
    "ALTER TABLE collected_entries ADD COLUMN machine_id VARCHAR",
    "ALTER TABLE collected_entries ADD COLUMN metadata VARCHAR",
    "ALTER TABLE collected_usage ADD COLUMN prev_model VARCHAR",
    """CREATE TABLE usage_hourly (
        hour TIMESTAMP NOT NULL,
        source VARCHAR NOT NULL,
        session_id VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        instance_id VARCHAR NOT NULL,
        project_path VARCHAR NOT NULL,
        entries BIGINT NOT NULL DEFAULT 0,
        input_tokens HUGEINT NOT NULL DEFAULT 0,
        output_tokens HUGEINT NOT NULL DEFAULT 0,
        cache_read_tokens HUGEINT NOT NULL DEFAULT 0,
        cache_write_tokens HUGEINT NOT NULL DEFAULT 0,
        reasoning_tokens HUGEINT NOT NULL DEFAULT 0,
        PRIMARY KEY (hour, source, session_id, model, instance_id, project_path)
    )""",
    "CREATE TABLE rollup_state (name VARCHAR PRIMARY KEY, seq BIGINT NOT NULL)",
    "CREATE TABLE rollup_dirty (session_id VARCHAR PRIMARY KEY)",
    """CREATE TABLE rollup_dirty_responses (
        source VARCHAR NOT NULL,
        response_key VARCHAR NOT NULL,
        PRIMARY KEY (source, response_key)
    )""",
)


def apply(con: Any) -> None:
    """Add the columns and tables, give stored entries their session's request fields,
    and build the hourly rollup from what is stored."""
    from thinkt.collector import rollup  # imports the database module, which imports this

    for statement in STATEMENTS:
        con.execute(statement)
    con.execute("""
        UPDATE collected_entries AS e
        SET project_path = s.project_path, machine_id = s.machine_id, metadata = s.metadata
        FROM collected_sessions s
        WHERE e.session_id = s.session_id
    """)
    rollup.rebuild_hourly(con)
    con.execute("INSERT INTO rollup_state SELECT 'entries', coalesce(max(seq), 0) "
                "FROM collected_entries")
