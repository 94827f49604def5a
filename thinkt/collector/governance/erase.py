"""Erasure: removing entries (and everything made from them) from every table, audited.

One function serves the admin API's deletions and the retention sweep: :func:`erase`
removes the entries a :class:`Selector` names, in the writer, in one transaction:

- the entries and their long texts' chunk sketches;
- the rollup rows made from them: the sessions, API responses and hourly cells of every
  session that lost an entry are recomputed from what remains (rollup.recompute), so a
  session that lost all its entries is gone and one that lost some answers with the
  rest; agents' trace counts are counted again;
- what telemetry stored of the same sessions or person (API request events, metric
  points, the series' last points, the sessions telemetry tells);
- for an agent, its registration; for a person, the agents that send for them;
- and an ``audit_log`` row: who (the token's name, never the token), what, when, and
  how many rows each table lost.

Deleted means gone from every answer: search, usage, stats, sessions, agents and the
pages all read these tables. ``dry_run`` does the same work and rolls it back, so the
counts it answers are exactly what a real run would remove.

The caller folds pending entries into the rollup first (writer.py does), so no entry
about to be removed is still waiting to be counted.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime
from typing import Any

from thinkt.collector import longtext, rollup
from thinkt.collector.database import naive_utc, transaction

log = logging.getLogger(__name__)

#: What can be erased, and the entries each selects (``e``: an entry, ``s``: its session).
KINDS = {
    "session": "e.session_id = $value",
    "agent": "e.instance_id = $value",
    # An entry sent without a person is its session's (as /v1/usage counts it).
    "user": "coalesce(nullif(e.person, ''), s.person) = $value",
    # Every entry of a session whose project it is, and any entry sent with that project.
    "project": "(s.project_path = $value OR e.project_path = $value)",
    "before": 'e."timestamp" < $value',
}

#: The tables whose row counts an erasure reports, by the name it reports them under.
COUNTED = {
    "entries": "collected_entries",
    "sessions": "collected_sessions",
    "api_responses": "collected_usage",
    "telemetry_requests": "telemetry_requests",
    "metric_points": "metric_points",
    "agents": "collected_agents",
}


class AuditedAction(Exception):
    """Raised inside a dry run's transaction to roll it back with its counts."""

    def __init__(self, removed: dict):
        super().__init__("dry run")
        self.removed = removed


@dataclasses.dataclass(frozen=True)
class Selector:
    """Which entries to erase: ``kind`` (one of :data:`KINDS`) with its ``value``, and
    optionally only those of one ``source``."""

    kind: str
    value: str | datetime
    source: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"cannot erase by {self.kind!r}: one of {', '.join(KINDS)}")
        if (self.kind == "before") != isinstance(self.value, datetime):
            raise ValueError("'before' takes a time, the other kinds a text")

    def describe(self) -> str:
        """The target as the audit log records it (JSON)."""
        value = self.value.isoformat() + "Z" if isinstance(self.value, datetime) else self.value
        target = {self.kind: value}
        if self.source:
            target["source"] = self.source
        return json.dumps(target, ensure_ascii=False)


def erase(con: Any, selector: Selector, *, actor: str, now: datetime, dry_run: bool = False,
          limit: int | None = None, action: str = "delete") -> dict[str, int]:
    """Remove what ``selector`` names from every table; return the rows removed per table.

    ``limit`` removes at most that many entries (the oldest first, by arrival), for a
    sweep that works in small steps. A real run that removed something writes an
    ``audit_log`` row with ``actor``, ``action`` and the target.
    """
    try:
        with transaction(con):
            removed = _erase(con, selector, limit)
            if dry_run:
                raise AuditedAction(removed)
            if any(removed.values()):
                con.execute("INSERT INTO audit_log (happened_at, actor, action, target, removed) "
                            "VALUES (?, ?, ?, ?, ?)",
                            [naive_utc(now), actor, action, selector.describe(),
                             json.dumps(removed)])
    except AuditedAction as rolled_back:
        return rolled_back.removed
    if any(removed.values()):
        log.info("%s %s by %s: %s", action, selector.describe(), actor,
                 ", ".join(f"{count} {name}" for name, count in removed.items() if count))
    return removed


def _erase(con: Any, selector: Selector, limit: int | None) -> dict[str, int]:
    before = _counts(con)
    params: dict[str, Any] = {"value": naive_utc(selector.value)
                              if isinstance(selector.value, datetime) else selector.value}
    source = ""
    if selector.source:
        source = "AND e.source = $source"
        params["source"] = selector.source
    bound = f"ORDER BY e.seq LIMIT {int(limit)}" if limit else ""
    _run(con, f"""
        CREATE OR REPLACE TEMP TABLE erase_entries AS
        SELECT e.seq, e.session_id, e.instance_id
        FROM collected_entries e LEFT JOIN collected_sessions s USING (session_id)
        WHERE {KINDS[selector.kind]} {source}
        {bound}
    """, params)
    con.execute("CREATE OR REPLACE TEMP TABLE erase_sessions AS "
                "SELECT DISTINCT session_id FROM erase_entries")
    con.execute(f"DELETE FROM {longtext.SKETCH_TABLE} "
                "WHERE seq IN (SELECT seq FROM erase_entries)")
    con.execute("DELETE FROM collected_entries WHERE seq IN (SELECT seq FROM erase_entries)")
    # Every figure of those sessions again, from the entries that remain.
    rollup.recompute(con, "SELECT session_id FROM erase_sessions")
    con.execute("""
        UPDATE collected_agents AS a SET trace_count = (
            SELECT count(*) FROM collected_entries e WHERE e.instance_id = a.instance_id)
        WHERE instance_id IN (SELECT DISTINCT instance_id FROM erase_entries)
    """)
    _erase_telemetry(con, selector, params, source.replace("e.source", "source"))
    if selector.kind == "agent":
        con.execute("DELETE FROM collected_agents WHERE instance_id = $value",
                    {"value": selector.value})
    elif selector.kind == "user" and not selector.source:
        con.execute("DELETE FROM collected_agents WHERE person = $value",
                    {"value": selector.value})
    # A session telemetry told that has no entry left is no session any more.
    con.execute("DELETE FROM telemetry_sessions WHERE session_id IN "
                "(SELECT session_id FROM erase_sessions) AND session_id NOT IN "
                "(SELECT session_id FROM collected_sessions)")
    after = _counts(con)
    removed = {name: before[name] - after[name] for name in COUNTED}
    con.execute("DROP TABLE erase_entries")
    con.execute("DROP TABLE erase_sessions")
    return removed


def _run(con: Any, sql: str, params: dict) -> None:
    """Execute ``sql`` with those of ``params`` it names (DuckDB refuses unused ones)."""
    con.execute(sql, {name: value for name, value in params.items() if f"${name}" in sql})


def _erase_telemetry(con: Any, selector: Selector, params: dict, source: str) -> None:
    """Remove what telemetry stored of the selected sessions, person or days."""
    if selector.kind in ("session", "project"):
        where = "session_id IN (SELECT session_id FROM erase_sessions)"
        if selector.kind == "session":
            where = "session_id = $value"
        for table in ("telemetry_requests", "metric_points"):
            _run(con, f"DELETE FROM {table} WHERE {where} {source}", params)
    elif selector.kind == "user":
        for table in ("telemetry_requests", "metric_points"):
            _run(con, f"DELETE FROM {table} WHERE person = $value {source}", params)
    elif selector.kind == "before":
        _run(con, f'DELETE FROM telemetry_requests WHERE "timestamp" < $value {source}', params)
        _run(con, f'DELETE FROM metric_points WHERE "time" < $value {source}', params)
    if selector.kind in ("session", "user"):
        # A series' identity holds its attributes (session.id, user.email): its last
        # point names them too.
        quoted = json.dumps(selector.value, ensure_ascii=False)
        con.execute("DELETE FROM metric_state WHERE contains(series_key, $quoted)",
                    {"quoted": quoted})


def _counts(con: Any) -> dict[str, int]:
    row = con.execute("SELECT " + ", ".join(f"(SELECT count(*) FROM {table})"
                                            for table in COUNTED.values())).fetchone()
    return dict(zip(COUNTED, map(int, row)))


def audit_log(cur: Any, limit: int = 100) -> list[dict]:
    """The latest ``limit`` audit rows, newest first."""
    rows = cur.execute("SELECT id, happened_at, actor, action, target, removed FROM audit_log "
                       "ORDER BY id DESC LIMIT ?", [int(limit)]).fetchall()
    return [{"id": int(row_id), "at": at.isoformat() + "Z", "actor": actor, "action": action,
             "target": json.loads(target), "removed": json.loads(removed)}
            for row_id, at, actor, action, target, removed in rows]
