"""The rollup: sessions, per-response usage, hourly usage and agents' counts, kept off the
commit path.

The commit path only appends entries (ingest.py). Every figure that sums entries is a
function of ``collected_entries`` alone, and this module keeps it materialised:

- ``collected_sessions``: one row per session (counts, times, latest model, first
  project, latest agent/machine/metadata/person, token totals);
- ``collected_usage``: one row per API response, ``(source, message_id)`` or the entry
  itself without a message id; each token count is the largest any of its entries
  reports, and it is attributed to its first entry (by ``seq``): session, project,
  model (its first entry that names one), time, agent, person;
- ``usage_hourly``: entries and response tokens per hour, source, session, model, agent,
  project and person, which ``/v1/usage`` sums;
- ``collected_agents.trace_count``, heartbeats, and the person an agent's batches name.

:meth:`Rollup.refresh` folds the entries past the watermark (``rollup_state``) in, in
one transaction with the new watermark, so a crash between a commit and its refresh
loses nothing: the next refresh starts from the same watermark. Entries replaced by a
changed copy (``rollup_dirty``) and responses whose attribution moved are recomputed
from the entries of their sessions (:func:`recompute`), which is also how the tables
are built from scratch. Tests check the incremental path against it.

The writer refreshes when it is idle and at least every :data:`REFRESH_INTERVAL` while
batches keep arriving; a query first brings the rollup up to date
(:meth:`Rollup.ensure_fresh`), so an answer includes every acknowledged entry.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from thinkt.collector.database import transaction
from thinkt.collector.ingest import RESPONSE_KEY

log = logging.getLogger(__name__)

#: Longest time acknowledged entries wait for the rollup while batches keep arriving.
REFRESH_INTERVAL = 1.0

TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                "reasoning_tokens")
#: The largest value of a BIGINT column; a session's token totals stop there.
BIGINT_MAX = 2**63 - 1

_IS_MODEL = "coalesce(model NOT IN ('', '<synthetic>'), false)"
_TOKEN_ANY = " OR ".join(f"{t} > 0" for t in TOKEN_FIELDS)
_RESPONSE_KEY = RESPONSE_KEY.format(table="")
# A session's totals are BIGINT columns: they add in 128 bits and saturate at BIGINT_MAX
# instead of failing the refresh on overflow (counts are bounded at the API, so that
# takes 9 million maximal responses).
_SATURATE = "least({}, " + str(BIGINT_MAX) + ")::BIGINT"


def _entries_between(low: int, high: int) -> str:
    return f"(SELECT * FROM collected_entries WHERE seq > {int(low)} AND seq <= {int(high)})"


def _session_rows(entries: str) -> str:
    """SQL of the session rows (without tokens) that ``entries`` make, one per session."""
    return f"""
        SELECT session_id,
               arg_min(source, seq) AS source,
               arg_min(project_path, seq) FILTER (WHERE coalesce(project_path, '') <> '')
                   AS project_path,
               arg_max(instance_id, seq) FILTER (WHERE instance_id IS NOT NULL) AS instance_id,
               arg_max(machine_id, seq) FILTER (WHERE machine_id IS NOT NULL) AS machine_id,
               arg_max(metadata, seq) FILTER (WHERE metadata IS NOT NULL) AS metadata,
               arg_max(person, seq) FILTER (WHERE person IS NOT NULL) AS person,
               arg_max(model, ("timestamp", seq)) FILTER (WHERE {_IS_MODEL}) AS model,
               max("timestamp") FILTER (WHERE {_IS_MODEL}) AS model_at,
               count(*) AS entry_count,
               min("timestamp") AS first_seen,
               max("timestamp") AS last_updated,
               min(received_at) AS first_received_at,
               max(received_at) AS last_received_at
        FROM {entries}
        GROUP BY session_id"""


_SESSION_COLUMNS = ("session_id, source, project_path, instance_id, machine_id, metadata, "
                    "person, model, model_at, entry_count, first_seen, last_updated, "
                    "first_received_at, last_received_at")


def _response_rows(entries: str) -> str:
    """SQL of the usage rows (one per API response) that ``entries`` make.

    The attribution is the first entry's (lowest ``seq``), its NULLs included
    (``arg_min_null``): a later copy sent by another agent or for another project does
    not take the response over. Only the model is the first one named.
    """
    return f"""
        SELECT source, {_RESPONSE_KEY} AS response_key,
               arg_min(message_id, seq) AS message_id, arg_min(session_id, seq) AS session_id,
               arg_min_null(project_path, seq) AS project_path,
               arg_min(model, seq) FILTER (WHERE {_IS_MODEL}) AS model,
               arg_min("timestamp", seq) AS "timestamp",
               arg_min_null(instance_id, seq) AS instance_id,
               arg_min_null(person, seq) AS person,
               count(*) AS entries, {", ".join(f"max({t}) AS {t}" for t in TOKEN_FIELDS)}
        FROM {entries}
        WHERE {_TOKEN_ANY}
        GROUP BY ALL"""


_USAGE_COLUMNS = ("source, response_key, message_id, session_id, project_path, model, "
                  f'"timestamp", instance_id, person, entries, {", ".join(TOKEN_FIELDS)}')

# Hourly cells. Entries count in their own cell, with project '' (their session's
# project, looked up at query time, as /v1/usage has always grouped entries); a
# response's tokens count in its first entry's cell, with that entry's project.
_CELL_KEY = ("date_trunc('hour', \"timestamp\") AS hour, source, session_id, "
             "coalesce(CASE WHEN {model} THEN model END, '') AS model, "
             "coalesce(instance_id, '') AS instance_id, {project} AS project_path, "
             "coalesce(person, '') AS person")


def _entry_cells(entries: str) -> str:
    key = _CELL_KEY.format(model=_IS_MODEL, project="''")
    zeros = ", ".join(f"0 AS {t}" for t in TOKEN_FIELDS)
    return f"SELECT {key}, 1 AS entries, {zeros} FROM {entries}"


def _token_cells(usage: str) -> str:
    key = _CELL_KEY.format(model=_IS_MODEL, project="coalesce(project_path, '')")
    return f"SELECT {key}, 0 AS entries, {', '.join(TOKEN_FIELDS)} FROM {usage}"


def _upsert_cells(con: Any, parts: Iterable[str]) -> None:
    sums = ", ".join(f"sum({t}) AS {t}" for t in ("entries",) + TOKEN_FIELDS)
    adds = ", ".join(f"{t} = c.{t} + excluded.{t}" for t in ("entries",) + TOKEN_FIELDS)
    con.execute(f"""
        INSERT INTO usage_hourly AS c (hour, source, session_id, model, instance_id,
            project_path, person, entries, {", ".join(TOKEN_FIELDS)})
        SELECT hour, source, session_id, model, instance_id, project_path, person, {sums}
        FROM ({" UNION ALL ".join(parts)})
        GROUP BY ALL
        HAVING sum(entries) <> 0 OR {" OR ".join(f"sum({t}) <> 0" for t in TOKEN_FIELDS)}
        ON CONFLICT DO UPDATE SET {adds}
    """)


# -- from scratch ----------------------------------------------------------------------

def recompute(con: Any, sessions: str | None = None) -> None:
    """Rebuild the rows of the rollup for ``sessions`` (SQL selecting session ids; every
    session when None) from the entries, within the caller's transaction.

    Responses are recomputed whole: those of the sessions' entries, those attributed to
    the sessions and those in ``rollup_dirty_responses`` (what replaced entries carried
    before), from every entry that carries them (a resumed session repeats another's
    responses); every session such a response is or was attributed to is recomputed
    with them.
    """
    if sessions is None:
        for table in ("collected_usage", "usage_hourly"):
            con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO collected_usage ({_USAGE_COLUMNS}) "
                    f"{_response_rows('collected_entries')}")
        _rebuild_sessions(con, "SELECT session_id FROM collected_entries")
        rebuild_hourly(con)
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE rollup_sessions AS {sessions}")
    in_sessions = "session_id IN (SELECT session_id FROM rollup_sessions)"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE rollup_responses AS
        SELECT source, {_RESPONSE_KEY} AS response_key FROM collected_entries
        WHERE {in_sessions} AND ({_TOKEN_ANY})
        UNION
        SELECT source, response_key FROM collected_usage WHERE {in_sessions}
        UNION
        SELECT source, response_key FROM rollup_dirty_responses
    """)
    # Every session the responses were attributed to, before and after.
    attributed = ("INSERT INTO rollup_sessions SELECT session_id FROM collected_usage "
                  "SEMI JOIN rollup_responses USING (source, response_key)")
    con.execute(attributed)
    con.execute("DELETE FROM collected_usage u USING rollup_responses r "
                "WHERE u.source = r.source AND u.response_key = r.response_key")
    # The entries that carry those responses: by message id (global), or in the sessions.
    carriers = f"""(SELECT * FROM collected_entries
        WHERE ({in_sessions} OR message_id IN (SELECT substr(response_key, 3)
                                               FROM rollup_responses
                                               WHERE starts_with(response_key, 'm:')))
          AND ({_TOKEN_ANY}))"""
    con.execute(f"""
        INSERT INTO collected_usage ({_USAGE_COLUMNS})
        SELECT * FROM ({_response_rows(carriers)}) SEMI JOIN rollup_responses
            USING (source, response_key)
    """)
    con.execute(attributed)
    affected = "SELECT DISTINCT session_id FROM rollup_sessions"
    _rebuild_sessions(con, affected)
    con.execute(f"DELETE FROM usage_hourly WHERE session_id IN ({affected})")
    _upsert_cells(con, [
        _entry_cells(f"(SELECT * FROM collected_entries WHERE session_id IN ({affected}))"),
        _token_cells(f"(SELECT * FROM collected_usage WHERE session_id IN ({affected}))"),
    ])
    con.execute("DROP TABLE rollup_sessions")
    con.execute("DROP TABLE rollup_responses")


def _rebuild_sessions(con: Any, sessions: str) -> None:
    """Replace the session rows of ``sessions`` by what their entries and usage make."""
    con.execute(f"DELETE FROM collected_sessions WHERE session_id IN ({sessions})")
    totals = ", ".join(_SATURATE.format(f"coalesce(u.{t}, 0)") for t in TOKEN_FIELDS)
    sums = ", ".join(f"sum({t}) AS {t}" for t in TOKEN_FIELDS)
    con.execute(f"""
        INSERT INTO collected_sessions ({_SESSION_COLUMNS}, {", ".join(TOKEN_FIELDS)})
        SELECT e.*, {totals}
        FROM ({_session_rows(f"(SELECT * FROM collected_entries WHERE session_id IN ({sessions}))")}) e
        LEFT JOIN (SELECT session_id, {sums} FROM collected_usage
                   WHERE session_id IN ({sessions}) GROUP BY session_id) u USING (session_id)
    """)


def rebuild_hourly(con: Any) -> None:
    """Fill ``usage_hourly`` from every entry and usage row (it must be empty)."""
    _upsert_cells(con, [_entry_cells("collected_entries"), _token_cells("collected_usage")])


# -- incremental -------------------------------------------------------------------------

class Rollup:
    """The writer's rollup state: its watermark, pending heartbeats, and when to refresh.

    ``last_seq`` reports the highest committed ``seq`` (the commit path's). Every
    write to the database, commits included, happens under :attr:`lock`, so a query
    thread can refresh on its own cursor between two commits.
    """

    def __init__(self, con: Any, last_seq: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = threading.RLock()
        self.last_seq = last_seq
        self.clock = clock
        self.watermark = con.execute(
            "SELECT coalesce(max(seq), 0) FROM rollup_state WHERE name = 'entries'").fetchone()[0]
        self.dirty = bool(con.execute("SELECT count(*) FROM rollup_dirty").fetchone()[0])
        self.heartbeats: dict[str, tuple[datetime, datetime]] = {}
        self.refreshed_at = clock()

    def committed(self, batches: Sequence[Any], replaced: bool) -> None:
        """Note what a commit did: each batch with an ``instance_id`` is that agent's
        heartbeat (kept until the next refresh); ``replaced``: it replaced entries (their
        sessions are in rollup_dirty)."""
        with self.lock:
            if replaced:
                self.dirty = True
            for batch in batches:
                if batch.instance_id:
                    beat = batch.received_at
                    first, last = self.heartbeats.get(batch.instance_id, (beat, beat))
                    self.heartbeats[batch.instance_id] = (min(first, beat), max(last, beat))

    def pending(self) -> bool:
        """Whether a refresh has anything to do."""
        return self.last_seq() > self.watermark or self.dirty or bool(self.heartbeats)

    def due(self) -> bool:
        """Whether entries have waited REFRESH_INTERVAL for the rollup (checked under load)."""
        return self.pending() and self.clock() - self.refreshed_at >= REFRESH_INTERVAL

    def ensure_fresh(self, con: Any) -> None:
        """Refresh on ``con`` if anything is pending; for queries, before they read."""
        if self.pending():
            with self.lock:
                self.refresh(con)

    def refresh(self, con: Any) -> None:
        """Fold every committed entry past the watermark into the rollup, in one transaction."""
        with self.lock:
            high = self.last_seq()
            if not self.pending():
                self.refreshed_at = self.clock()
                return
            heartbeats = dict(self.heartbeats)
            started = time.monotonic()
            with transaction(con):
                if high > self.watermark:
                    _fold(con, self.watermark, high)
                _heartbeat(con, heartbeats, self.watermark, high)
                dirty = con.execute("SELECT count(*) FROM rollup_dirty").fetchone()[0]
                if dirty:
                    recompute(con, "SELECT session_id FROM rollup_dirty")
                    con.execute("DELETE FROM rollup_dirty")
                    con.execute("DELETE FROM rollup_dirty_responses")
                con.execute("INSERT OR REPLACE INTO rollup_state VALUES ('entries', ?)", [high])
            log.debug("rollup: entries %d..%d, %d sessions recomputed, %.1f ms",
                      self.watermark + 1, high, dirty, (time.monotonic() - started) * 1000)
            self.watermark = high
            self.dirty = False
            for instance_id, beat in heartbeats.items():
                if self.heartbeats.get(instance_id) == beat:
                    del self.heartbeats[instance_id]
            self.refreshed_at = self.clock()


def _fold(con: Any, low: int, high: int) -> None:
    """Add the entries with ``low < seq <= high`` (all new) to every rollup table."""
    delta = _entries_between(low, high)
    con.execute(f"""
        INSERT INTO collected_sessions AS s ({_SESSION_COLUMNS})
        {_session_rows(delta)}
        ON CONFLICT (session_id) DO UPDATE SET
            project_path = coalesce(nullif(s.project_path, ''), excluded.project_path),
            instance_id = coalesce(excluded.instance_id, s.instance_id),
            machine_id = coalesce(excluded.machine_id, s.machine_id),
            metadata = coalesce(excluded.metadata, s.metadata),
            person = coalesce(excluded.person, s.person),
            model = CASE WHEN excluded.model IS NOT NULL
                          AND (s.model_at IS NULL OR excluded.model_at >= s.model_at)
                         THEN excluded.model ELSE s.model END,
            model_at = greatest(s.model_at, excluded.model_at),
            entry_count = s.entry_count + excluded.entry_count,
            first_seen = least(s.first_seen, excluded.first_seen),
            last_updated = greatest(s.last_updated, excluded.last_updated),
            first_received_at = least(s.first_received_at, excluded.first_received_at),
            last_received_at = greatest(s.last_received_at, excluded.last_received_at)
    """)
    token_set = ",\n".join(f"prev_{t} = u.{t}, {t} = greatest(u.{t}, excluded.{t})"
                           for t in TOKEN_FIELDS)
    growth = con.execute(f"""
        INSERT INTO collected_usage AS u ({_USAGE_COLUMNS})
        {_response_rows(delta)}
        ON CONFLICT (source, response_key) DO UPDATE SET
            entries = u.entries + excluded.entries,
            prev_model = u.model,
            model = coalesce(u.model, excluded.model),
            {token_set}
        RETURNING source, session_id, project_path, model, prev_model, "timestamp", instance_id,
                  person,
                  {", ".join(f"{t} - prev_{t} AS {t}" for t in TOKEN_FIELDS)},
                  {" + ".join(f"prev_{t}" for t in TOKEN_FIELDS)} > 0 AS existed
    """).fetchnumpy()
    # A temporary table, as the statements below run in other functions' frames, where
    # DuckDB's scan of Python variables would not find ``growth`` (masked arrays keep NULLs).
    con.execute("CREATE OR REPLACE TEMP TABLE token_growth AS SELECT * FROM growth")
    # A response whose first model arrived late moves its tokens to that model's cell:
    # its session is recomputed rather than patched.
    con.execute("""
        INSERT OR IGNORE INTO rollup_dirty
        SELECT DISTINCT session_id FROM token_growth
        WHERE existed AND model IS DISTINCT FROM prev_model
    """)
    grown = f"(SELECT * FROM token_growth WHERE {_TOKEN_ANY.replace('> 0', '<> 0')})"
    totals = ", ".join(f"{t} = {_SATURATE.format(f's.{t}::HUGEINT + g.{t}')}"
                       for t in TOKEN_FIELDS)
    con.execute(f"""
        UPDATE collected_sessions AS s SET {totals}
        FROM (SELECT session_id, {", ".join(f"sum({t}) AS {t}" for t in TOKEN_FIELDS)}
              FROM {grown} GROUP BY session_id) g
        WHERE s.session_id = g.session_id
    """)
    _upsert_cells(con, [_entry_cells(delta), _token_cells(grown)])
    con.execute("DROP TABLE token_growth")


def _heartbeat(con: Any, heartbeats: dict[str, tuple[datetime, datetime]], low: int,
               high: int) -> None:
    """Record heartbeats, add the new entries to their agents' trace counts, and give
    each agent the person its latest entry names (an exporter that never registered,
    or whose user changed, shows who it sends for).

    A heartbeat lost with a crash comes back with the agent's next batch; the counts
    come from the entries, so they are never lost.
    """
    beats = {"instance_id": list(heartbeats),
             "first_heard": [first for first, _ in heartbeats.values()],
             "last_heard": [last for _, last in heartbeats.values()]}
    if not beats["instance_id"] and high <= low:
        return
    agent_beats = _frame(beats)  # noqa: F841  (scanned by name below)
    con.execute(f"""
        INSERT INTO collected_agents AS a (instance_id, platform, registered_at, last_heartbeat,
            trace_count, status, person)
        SELECT instance_id, '', min(first_heard), max(last_heard), sum(traces), 'active',
               max(person)  -- the entries' row is the only one with a person
        FROM (
            SELECT instance_id, first_heard, last_heard, 0 AS traces, NULL::VARCHAR AS person
            FROM agent_beats
            UNION ALL
            SELECT instance_id, min(received_at), max(received_at), count(*),
                   arg_max(person, seq) FILTER (WHERE person IS NOT NULL)
            FROM {_entries_between(low, high)} WHERE instance_id IS NOT NULL
            GROUP BY instance_id
        )
        GROUP BY instance_id
        ON CONFLICT (instance_id) DO UPDATE SET
            last_heartbeat = greatest(a.last_heartbeat, excluded.last_heartbeat),
            trace_count = a.trace_count + excluded.trace_count,
            status = 'active',
            person = coalesce(excluded.person, a.person)
    """)


def _frame(columns: dict[str, list]) -> Any:
    """A dict of numpy arrays DuckDB can scan by its variable name."""
    return {name: np.array(values, dtype=object if name == "instance_id" else "datetime64[us]")
            for name, values in columns.items()}
