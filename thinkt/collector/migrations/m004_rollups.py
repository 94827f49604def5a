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


_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
           "reasoning_tokens")


def apply(con: Any) -> None:
    """Add the columns and tables, give stored entries their session's request fields,
    and build the hourly rollup from what is stored."""
    for statement in STATEMENTS:
        con.execute(statement)
    con.execute("""
        UPDATE collected_entries AS e
        SET project_path = s.project_path, machine_id = s.machine_id, metadata = s.metadata
        FROM collected_sessions s
        WHERE e.session_id = s.session_id
    """)
    _build_hourly(con)
    con.execute("INSERT INTO rollup_state SELECT 'entries', coalesce(max(seq), 0) "
                "FROM collected_entries")


def _build_hourly(con: Any) -> None:
    """Fill ``usage_hourly`` as version 4 keys it, from every entry and usage row.

    The SQL of rollup.py as it was at version 4, kept here: rollup.py follows the
    latest schema (version 7 added ``person`` to the cells), which an older store
    does not have yet when this runs.
    """
    model = ("coalesce(CASE WHEN coalesce(model NOT IN ('', '<synthetic>'), false) "
             "THEN model END, '')")
    key = (f"date_trunc('hour', \"timestamp\") AS hour, source, session_id, {model} AS model, "
           "coalesce(instance_id, '') AS instance_id")
    zeros = ", ".join(f"0 AS {t}" for t in _TOKENS)
    sums = ", ".join(f"sum({t}) AS {t}" for t in ("entries",) + _TOKENS)
    con.execute(f"""
        INSERT INTO usage_hourly
        SELECT hour, source, session_id, model, instance_id, project_path, {sums}
        FROM (SELECT {key}, '' AS project_path, 1 AS entries, {zeros} FROM collected_entries
              UNION ALL
              SELECT {key}, coalesce(project_path, '') AS project_path, 0 AS entries,
                     {", ".join(_TOKENS)} FROM collected_usage)
        GROUP BY ALL
        HAVING sum(entries) <> 0 OR {" OR ".join(f"sum({t}) <> 0" for t in _TOKENS)}
    """)
