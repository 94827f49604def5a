"""All SQL of the collector: opening and migrating ``collector.duckdb``, ingest, and queries.

Only the writer process opens the database. Its main thread calls :func:`ingest`,
:func:`register_agent` and :func:`sweep_agents` on the connection; query threads
call the read functions on their own ``con.cursor()``. Times are naive UTC
``datetime`` values inside, RFC 3339 strings ending in ``Z`` in query results.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, NamedTuple, Sequence

import duckdb
import numpy as np

from thinkt.collector import registry, sketch
from thinkt.collector.migrations import LATEST, MIGRATIONS
from thinkt.collector.schemas import ENTRY_COUNTS, ENTRY_FIELDS, ENTRY_FLAGS
from thinkt.status import ExitStatus, ThinktError

log = logging.getLogger(__name__)

#: The schema version this code reads and writes.
SCHEMA_VERSION: int = LATEST

# DuckDB checkpoints when the WAL reaches this; the default (16 MB) checkpoints every
# few thousand entries, which cost a third of ingest throughput (ARCHITECTURE.md).
CHECKPOINT_THRESHOLD = "256MB"

TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                "reasoning_tokens")
# Columns written by ingest besides the entry fields.
_ENTRY_COLUMNS = ENTRY_FIELDS + ("session_id", "seq", "source", "instance_id", "received_at",
                                 "timestamp_estimated", "text_lower") + sketch.COLUMNS
# Models that say nothing about which model a session used.
_NOT_A_MODEL = ("", "<synthetic>")
#: Characters of entry text around the first match that search returns.
SNIPPET_CHARS = 160
GROUP_BY = ("source", "model", "project", "day", "agent", "session")


class StoreError(ThinktError):
    """The database cannot be used; the message is a sentence for the operator."""

    status = ExitStatus.CANTCREAT


class IngestRequest(NamedTuple):
    """One validated ``POST /v1/traces`` body, as the writer receives it."""

    source: str  # already trimmed + lower-cased
    session_id: str
    project_path: str | None
    instance_id: str | None
    machine_id: str | None
    metadata: str | None  # JSON text or None
    received_at: datetime  # naive UTC, taken by the HTTP worker
    entries: list[tuple]  # tuples in ENTRY_FIELDS order, already validated


# -- opening and migrating ------------------------------------------------------------

def open_database(path: str, *, threads: int = 1,
                  memory_limit: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating it if needed) and migrate the database at ``path``.

    ``memory_limit`` (bytes) caps DuckDB's buffer cache; without it DuckDB takes up to
    80% of the machine's memory as the database grows.

    :raises StoreError: the file is locked by another process, cannot be created or
        written, is not a DuckDB database, or has a newer schema than this code.
    """
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"Cannot create the directory {parent} for the database {path}: "
                         f"{exc.strerror}.") from None
    try:
        con = duckdb.connect(path)
    except duckdb.Error as exc:
        raise _open_error(path, exc) from None
    try:
        con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute(f"SET memory_limit = '{int(memory_limit) // (1024 * 1024)}MiB'")
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        migrate(con)
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"Cannot prepare the database {path}: {_first_line(exc)}.") from None
    except BaseException:
        con.close()
        raise
    log.info("opened %s (schema version %d)", path, SCHEMA_VERSION)
    return con


def _open_error(path: str, exc: duckdb.Error) -> StoreError:
    """Turn DuckDB's error on connect into a sentence that says what to do."""
    message = str(exc)
    # DuckDB's wording ("Could not set lock on file ...: Conflicting lock is held in ...");
    # not any "lock" anywhere: the path itself may hold the word (a file named blocker).
    if "Could not set lock on file" in message or "Conflicting lock" in message:
        holder = re.search(r"held in (.+?) \(PID (\d+)\)", message)
        who = f" (pid {holder.group(2)}, {holder.group(1)})" if holder else ""
        return StoreError(f"The database {path} is locked: another process{who} holds it. "
                          "Stop that process or choose another storage file.",
                          status=ExitStatus.TEMPFAIL)
    if "not a valid DuckDB database" in message:
        return StoreError(f"The file {path} is not a DuckDB database. Move it aside or choose "
                          "another storage file.", status=ExitStatus.CONFIG)
    if "Permission denied" in message or "Read-only file system" in message:
        return StoreError(f"Cannot open the database {path} for writing: permission denied.")
    return StoreError(f"Cannot open the database {path}: {_first_line(exc)}.")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__


def _database_path(con: Any) -> str:
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = "
                       "current_database()").fetchall()
    return rows[0][0] if rows and rows[0][0] else "(in memory)"


def migrate(con: Any) -> None:
    """Bring the schema up to :data:`SCHEMA_VERSION`, one transaction per migration.

    Running it again does nothing. A database from newer code is refused, never
    touched; tables are never dropped and recreated.
    """
    current = 0
    if _has_table(con, "schema_version"):
        current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"The database {_database_path(con)} has schema version {current}, newer than "
            f"this thinkt understands ({SCHEMA_VERSION}). Upgrade thinkt.",
            status=ExitStatus.CONFIG)
    if current == 0 and _has_table(con, "collected_entries"):
        raise StoreError(
            f"The database {_database_path(con)} has thinkt tables but no schema version, so "
            "it cannot be upgraded safely. Move it aside.", status=ExitStatus.CONFIG)
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    for version, migration in MIGRATIONS:
        if version <= current:
            continue
        log.info("migrating the database to schema version %d: %s", version,
                 migration.DESCRIPTION)
        with _transaction(con):
            migration.apply(con)
            con.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                        [version, migration.DESCRIPTION, _utcnow()])


def _has_table(con: Any, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND "
                            "database_name = current_database()", [name]).fetchone()[0])


@contextlib.contextmanager
def _transaction(con: Any) -> Iterator[None]:
    """BEGIN; COMMIT on success; ROLLBACK and re-raise on any error, a failed COMMIT included."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:  # the failure already ended the transaction
            log.debug("no transaction left to roll back")
        raise


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


# -- ingest ------------------------------------------------------------------------------

class _Group:
    """The rows of one group commit as column arrays, first copy of each (session, uuid) only."""

    def __init__(self, requests: Sequence[IngestRequest]) -> None:
        rows: list[tuple] = []
        owner: list[int] = []
        seen: set[tuple[str, str]] = set()
        for index, request in enumerate(requests):
            session_id = request.session_id
            for entry in request.entries:
                key = (session_id, entry[0])
                if key not in seen:  # an earlier copy in this group wins
                    seen.add(key)
                    rows.append(entry)
                    owner.append(index)
        self.size = len(rows)
        self.owner = np.array(owner, dtype=np.int64)
        received = np.array([np.datetime64(_naive_utc(r.received_at), "us") for r in requests],
                            dtype="datetime64[us]")
        self.requests = {
            "req": np.arange(len(requests), dtype=np.int64),
            "session_id": _strings(r.session_id for r in requests),
            "source": _strings(r.source for r in requests),
            "project_path": _strings(r.project_path or None for r in requests),
            "instance_id": _strings(r.instance_id or None for r in requests),
            "machine_id": _strings(r.machine_id or None for r in requests),
            "metadata": _strings(r.metadata for r in requests),
            "received_at": received,
        }
        columns = list(zip(*rows)) if rows else [()] * len(ENTRY_FIELDS)
        entries: dict[str, np.ndarray] = {}
        for name, values in zip(ENTRY_FIELDS, columns):
            if name in ENTRY_COUNTS:
                entries[name] = _counts(name, values)
            elif name in ENTRY_FLAGS:
                entries[name] = np.array(values, dtype=bool)
            elif name != "timestamp":
                entries[name] = _strings(values)
        for name in ("session_id", "source", "instance_id", "received_at"):
            entries[name] = self.requests[name][self.owner]
        timestamps = _timestamps(columns[ENTRY_FIELDS.index("timestamp")])
        estimated = np.isnat(timestamps)
        timestamps[estimated] = entries["received_at"][estimated]
        entries["timestamp"] = timestamps
        entries["timestamp_estimated"] = estimated
        lowered, sketches = sketch.searchable(entries["text"], entries["tool_name"])
        entries["text_lower"] = _strings(lowered)
        entries.update(zip(sketch.COLUMNS, sketches))
        self.entries = entries


def _strings(values: Any) -> np.ndarray:
    values = list(values)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _counts(name: str, values: Sequence[int]) -> np.ndarray:
    try:
        array = np.array(values, dtype=np.int64)
    except (OverflowError, TypeError, ValueError):
        raise StoreError(f"An entry's {name} is not a whole number in the 64-bit range.") from None
    if array.size and array.min() < 0:
        raise StoreError(f"An entry's {name} is negative.")
    return array


def _timestamps(values: Sequence[datetime | None]) -> np.ndarray:
    if any(value is not None and value.tzinfo is not None for value in values):
        values = [_naive_utc(value) for value in values]
    return np.array(values, dtype="datetime64[us]")


def ingest(con: Any, requests: Sequence[IngestRequest]) -> list[tuple[int, int]]:
    """Store every request's entries in one transaction; return ``(new, duplicates)`` per request.

    An entry whose ``(session_id, uuid)`` is already stored, or appears earlier in
    ``requests``, is a duplicate and changes nothing. Only new entries count towards
    sessions, usage and agents' ``trace_count``; every request with an ``instance_id``
    is that agent's heartbeat. Any error rolls the whole group back and is re-raised.
    """
    if not requests:
        return []
    group = _Group(requests)
    with _transaction(con):
        new = _write(con, group)
    return [(int(count), len(request.entries) - int(count))
            for request, count in zip(requests, new)]


def _write(con: Any, group: _Group) -> np.ndarray:
    """Run the statements of one group commit; return the new entries per request."""
    entry_rows = group.entries
    base = con.execute("SELECT coalesce(max(seq), 0) + 1 FROM collected_entries").fetchone()[0]
    entry_rows["seq"] = np.arange(base, base + group.size, dtype=np.int64)
    columns = ", ".join(f'"{c}"' for c in _ENTRY_COLUMNS)
    inserted = con.execute(f"INSERT INTO collected_entries ({columns}) SELECT {columns} "
                           "FROM entry_rows ON CONFLICT DO NOTHING RETURNING seq").fetchnumpy()
    is_new = np.zeros(group.size, dtype=bool)
    is_new[np.asarray(inserted["seq"], dtype=np.int64) - base] = True
    request_rows = dict(group.requests)
    request_rows["new_count"] = np.bincount(group.owner[is_new],
                                            minlength=len(request_rows["req"])).astype(np.int64)
    if is_new.any():
        new_rows = {name: entry_rows[name][is_new] for name in (
            "session_id", "uuid", "seq", "source", "instance_id", "timestamp", "model",
            "message_id", *TOKEN_FIELDS)}
        new_rows["req"] = group.owner[is_new]
        _upsert_sessions(con, new_rows, request_rows)
        if any(new_rows[token].any() for token in TOKEN_FIELDS):
            _upsert_usage(con, new_rows, request_rows)
    _heartbeat_agents(con, request_rows)
    return request_rows["new_count"]


def _upsert_sessions(con: Any, new_rows: dict, request_rows: dict) -> None:
    """Add the new entries to their sessions' counts, times, model and request fields."""
    con.execute("""
        INSERT INTO collected_sessions AS s (session_id, source, project_path, instance_id,
            machine_id, metadata, model, model_at, entry_count, first_seen, last_updated,
            first_received_at, last_received_at)
        SELECT e.session_id, r.source, r.project_path, r.instance_id, r.machine_id, r.metadata,
               e.model, e.model_at, e.entry_count, e.first_seen, e.last_updated,
               r.first_received_at, r.last_received_at
        FROM (
            SELECT session_id,
                   arg_max(model::VARCHAR, ("timestamp", seq)) FILTER (WHERE is_model) AS model,
                   max("timestamp") FILTER (WHERE is_model) AS model_at,
                   count(*) AS entry_count,
                   min("timestamp") AS first_seen,
                   max("timestamp") AS last_updated
            FROM (SELECT *, coalesce(model::VARCHAR NOT IN ('', '<synthetic>'), false) AS is_model
                  FROM new_rows)
            GROUP BY session_id
        ) e JOIN (
            SELECT session_id,
                   arg_min(source, req) AS source,
                   arg_min(project_path::VARCHAR, req) FILTER (WHERE project_path IS NOT NULL)
                       AS project_path,
                   arg_max(instance_id::VARCHAR, req) FILTER (WHERE instance_id IS NOT NULL)
                       AS instance_id,
                   arg_max(machine_id::VARCHAR, req) FILTER (WHERE machine_id IS NOT NULL)
                       AS machine_id,
                   arg_max(metadata::VARCHAR, req) FILTER (WHERE metadata IS NOT NULL) AS metadata,
                   min(received_at) AS first_received_at,
                   max(received_at) AS last_received_at
            FROM request_rows WHERE new_count > 0
            GROUP BY session_id
        ) r USING (session_id)
        ON CONFLICT (session_id) DO UPDATE SET
            project_path = coalesce(nullif(s.project_path, ''), excluded.project_path),
            instance_id = coalesce(excluded.instance_id, s.instance_id),
            machine_id = coalesce(excluded.machine_id, s.machine_id),
            metadata = coalesce(excluded.metadata, s.metadata),
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


_TOKEN_COLUMNS = ", ".join(f"n.{t}" for t in TOKEN_FIELDS)
_TOKEN_ANY = " OR ".join(f"{t} > 0" for t in TOKEN_FIELDS)
_TOKEN_MAX = ", ".join(f"max({t}) AS {t}" for t in TOKEN_FIELDS)
_TOKEN_SET = ",\n".join(
    f"prev_{t} = u.{t}, {t} = greatest(u.{t}, excluded.{t})" for t in TOKEN_FIELDS)
_TOKEN_ADDED = ", ".join(f"{t} - prev_{t} AS {t}" for t in TOKEN_FIELDS)
# Sums are never cast back to BIGINT: DuckDB sums BIGINT as HUGEINT (128 bits), which
# 2**63 rows of 2**63 - 1 cannot overflow. A cast made one large count answer 503 to
# every stats and usage query (issue 14).
_TOKEN_SUM = ", ".join(f"sum({t}) AS {t}" for t in TOKEN_FIELDS)
#: The largest value of a BIGINT column; a session's token totals stop there.
BIGINT_MAX = 2**63 - 1
# A session's totals are BIGINT columns: they add in 128 bits and saturate at BIGINT_MAX
# instead of failing the commit (and every later one of that session) on overflow. With
# counts bounded at the API (schemas.MAX_COUNT) that takes 9 million maximal responses.
_TOKEN_ADD = ", ".join(f"{t} = least(s.{t}::HUGEINT + g.{t}, {BIGINT_MAX})::BIGINT"
                       for t in TOKEN_FIELDS)


def _upsert_usage(con: Any, new_rows: dict, request_rows: dict) -> None:
    """Count each API response once (largest count per field) and add the growth to sessions.

    A response is ``(source, message_id)`` when the entry has a message id (global:
    resumed sessions replay old responses), else the entry itself. The upsert
    returns, per touched response, how much each count grew; those deltas go to the
    session the response is attributed to (its first copy's).
    """
    added = con.execute(f"""
        INSERT INTO collected_usage AS u (source, response_key, message_id, session_id,
            project_path, model, "timestamp", instance_id, entries, {", ".join(TOKEN_FIELDS)})
        SELECT source, response_key,
               arg_min(message_id, seq), arg_min(session_id, seq), arg_min(project_path, seq),
               arg_min(model, seq) FILTER (WHERE coalesce(model NOT IN ('', '<synthetic>'), false)),
               arg_min("timestamp", seq), arg_min(instance_id, seq), count(*), {_TOKEN_MAX}
        FROM (
            SELECT n.source, n.session_id, n.seq, n."timestamp", {_TOKEN_COLUMNS},
                   n.message_id::VARCHAR AS message_id, n.model::VARCHAR AS model,
                   n.instance_id::VARCHAR AS instance_id, r.project_path::VARCHAR AS project_path,
                   CASE WHEN coalesce(n.message_id::VARCHAR, '') <> ''
                        THEN 'm:' || n.message_id
                        ELSE 'e:' || length(n.session_id) || ':' || n.session_id || n.uuid
                   END AS response_key
            FROM new_rows n JOIN request_rows r USING (req)
            WHERE {_TOKEN_ANY}
        )
        GROUP BY source, response_key
        ON CONFLICT (source, response_key) DO UPDATE SET
            entries = u.entries + excluded.entries,
            model = coalesce(u.model, excluded.model),
            {_TOKEN_SET}
        RETURNING session_id, {_TOKEN_ADDED}
    """).fetchnumpy()
    if not any(added[token].any() for token in TOKEN_FIELDS):
        return  # only copies that were no larger than what is stored
    token_growth = added
    con.execute(f"""
        UPDATE collected_sessions AS s SET {_TOKEN_ADD}
        FROM (SELECT session_id, {_TOKEN_SUM} FROM token_growth GROUP BY session_id) g
        WHERE s.session_id = g.session_id
    """)


def _heartbeat_agents(con: Any, request_rows: dict) -> None:
    """Every request with an instance_id is that agent's heartbeat; new entries add to its count."""
    if not any(instance is not None for instance in request_rows["instance_id"]):
        return
    con.execute("""
        INSERT INTO collected_agents AS a (instance_id, platform, registered_at, last_heartbeat,
            trace_count, status)
        SELECT instance_id::VARCHAR, '', min(received_at), max(received_at), sum(new_count),
               'active'
        FROM request_rows WHERE instance_id IS NOT NULL
        GROUP BY instance_id
        ON CONFLICT (instance_id) DO UPDATE SET
            last_heartbeat = greatest(a.last_heartbeat, excluded.last_heartbeat),
            trace_count = a.trace_count + excluded.trace_count,
            status = 'active'
    """)


# -- agents ------------------------------------------------------------------------------

_AGENT_FIELDS = ("hostname", "version", "started_at", "machine_id", "project", "region",
                 "metadata")


def register_agent(con: Any, agent: dict, now: datetime) -> dict:
    """Create or update an agent from its registration; it counts as a heartbeat at ``now``.

    Fields left out of a re-registration keep their stored values; ``trace_count``
    is kept. Returns the agent as :func:`list_agents` shows it.
    """
    values = {name: agent.get(name) for name in _AGENT_FIELDS}
    if isinstance(values["metadata"], (dict, list)):
        values["metadata"] = json.dumps(values["metadata"], sort_keys=True)
    values["started_at"] = _naive_utc(values["started_at"])
    now = _naive_utc(now)
    keep = ",\n".join(f"{name} = coalesce(excluded.{name}, a.{name})" for name in _AGENT_FIELDS)
    con.execute(f"""
        INSERT INTO collected_agents AS a (instance_id, platform, {", ".join(_AGENT_FIELDS)},
            registered_at, last_heartbeat, trace_count, status)
        VALUES (?, ?, {", ".join("?" for _ in _AGENT_FIELDS)}, ?, ?, 0, 'active')
        ON CONFLICT (instance_id) DO UPDATE SET
            platform = excluded.platform,
            {keep},
            last_heartbeat = greatest(a.last_heartbeat, excluded.last_heartbeat),
            status = 'active'
    """, [agent["instance_id"], agent["platform"], *values.values(), now, now])
    return _agents(con, now, "WHERE instance_id = ?", [agent["instance_id"]])[0]


def sweep_agents(con: Any, now: datetime, retention: timedelta) -> tuple[int, int]:
    """Remove agents stale for longer than ``retention``, mark the others; return both counts."""
    now = _naive_utc(now)
    with _transaction(con):
        removed = con.execute("DELETE FROM collected_agents WHERE last_heartbeat < ?",
                              [registry.expiry_cutoff(now, retention)]).fetchone()[0]
        marked = con.execute("UPDATE collected_agents SET status = 'stale' "
                             "WHERE status <> 'stale' AND last_heartbeat < ?",
                             [registry.stale_cutoff(now)]).fetchone()[0]
    if marked or removed:
        log.info("agents sweep: %d marked stale, %d removed", marked, removed)
    return int(marked), int(removed)


def list_agents(cur: Any, now: datetime) -> list[dict]:
    """Return every agent, most recent heartbeat first, with its status at ``now``."""
    return _agents(cur, _naive_utc(now), "", [])


def _agents(cur: Any, now: datetime, where: str, params: list) -> list[dict]:
    rows = cur.execute(f"""
        SELECT instance_id, platform, hostname, version, started_at, last_heartbeat, trace_count
        FROM collected_agents {where}
        ORDER BY last_heartbeat DESC, instance_id
    """, params).fetchall()
    return [{"instance_id": instance_id, "platform": platform, "hostname": hostname,
             "version": version, "started_at": rfc3339(started_at),
             "last_heartbeat": rfc3339(heartbeat), "trace_count": int(traces),
             "status": registry.status(heartbeat, now)}
            for instance_id, platform, hostname, version, started_at, heartbeat, traces in rows]


# -- queries -----------------------------------------------------------------------------

def rfc3339(value: datetime | None) -> str | None:
    """Format a naive UTC time as RFC 3339 with ``Z`` (milliseconds when it has them)."""
    if value is None:
        return None
    if not value.microsecond:
        return value.isoformat(timespec="seconds") + "Z"
    if value.microsecond % 1000 == 0:
        return value.isoformat(timespec="milliseconds") + "Z"
    return value.isoformat(timespec="microseconds") + "Z"


_SESSION_SUMMARY = ("session_id", "source", "project_path", "instance_id", "model",
                    "entry_count", "first_seen", "last_updated")


def _summary(row: Sequence) -> dict:
    session_id, source, project_path, instance_id, model, count, first, last = row[:8]
    return {"id": session_id, "source": source, "project_path": project_path,
            "instance_id": instance_id, "model": model, "entry_count": int(count),
            "first_seen": rfc3339(first), "last_updated": rfc3339(last)}


# Sketch bits tested per search: each one passes ~a quarter of non-matching entries.
_SKETCH_CONDITIONS = 16


def search(cur: Any, q: str, limit: int) -> list[dict]:
    """Return sessions with an entry text, tool name or project path containing ``q``.

    Matching is a literal substring test on ``q.lower()`` against the lower-cased
    text (``str.lower``, stored at ingest), tool name and project path: ``%``, ``_``
    and ``\\`` are ordinary characters. Most recently active sessions come first.
    ``match_count`` is the number of matching entries (at least 1 when only the
    project path matches); ``snippet`` is text around the first match (by arrival),
    else the matching tool name or project path.

    The trigram sketch (sketch.py) rules out most entries before their text is
    read: DuckDB reads a column only for rows that pass the filters it pushed into
    the scan. With several filters it pushes only those that cannot raise an error,
    and it counts the bitwise ``&`` among those that can, while float division,
    ``floor`` and ``even`` cannot: so "bit b of word w is set" is written as
    "floor(w / 2**b) is odd" (exact, words hold 52 bits). The exact test covers two
    columns, so it stays above the scan and runs on the survivors only.
    bench/store.py measures the difference (about 25x for a rare term at 1M entries).
    """
    needle = q.lower()
    if not needle or limit <= 0:
        return []
    prefilter = " AND ".join(bit_is_set(column, bit)
                             for column, bit in sketch.required_bits(needle, _SKETCH_CONDITIONS))
    rows = cur.execute(f"""
        WITH hits AS (
            SELECT session_id, count(*) AS match_count, min(seq) AS first_seq
            FROM collected_entries
            WHERE {prefilter or "true"}
              AND (contains(text_lower, $needle) OR contains(lower(tool_name), $needle))
            GROUP BY session_id
        )
        SELECT {", ".join(f"s.{c}" for c in _SESSION_SUMMARY)}, h.match_count, h.first_seq
        FROM collected_sessions s LEFT JOIN hits h USING (session_id)
        WHERE h.session_id IS NOT NULL OR contains(lower(s.project_path), $needle)
        ORDER BY s.last_updated DESC NULLS LAST, s.session_id
        LIMIT $limit
    """, {"needle": needle, "limit": int(limit)}).fetchall()
    texts = _first_matches(cur, [int(row[9]) for row in rows if row[9] is not None])
    results = []
    for row in rows:
        summary = _summary(row)
        text, tool = texts.get(row[9], (None, None)) if row[9] is not None else (None, None)
        summary["match_count"] = max(int(row[8] or 0), 1)
        summary["snippet"] = _snippet(needle, text, tool, summary["project_path"])
        results.append(summary)
    return results


def _first_matches(cur: Any, seqs: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """Return ``seq -> (text, tool_name)`` of the given entries."""
    if not seqs:
        return {}
    # A join on a list parameter lets DuckDB push the wanted seqs into the scan and read
    # only their text (4 ms for 50 at 1M entries); a literal IN list reads every text.
    rows = cur.execute("SELECT seq, text, tool_name FROM collected_entries "
                       "WHERE seq IN (SELECT unnest(?::BIGINT[]))", [seqs]).fetchall()
    return {seq: (text, tool) for seq, text, tool in rows}


def bit_is_set(column: str, bit: int) -> str:
    """Return SQL that is true when ``bit`` of the 52-bit sketch word ``column`` is set."""
    return f"even(fdiv({column}, {1 << bit}.0)) <> fdiv({column}, {1 << bit}.0)"


def _snippet(needle: str, text: str | None, tool: str | None, project: str | None) -> str | None:
    """Return about SNIPPET_CHARS of ``text`` around ``needle``, else the tool or project."""
    found = _find(text, needle) if text else None
    if found is not None:
        start, end = found
        context = max(0, (SNIPPET_CHARS - (end - start)) // 2)
        left = max(0, start - context)
        right = min(len(text), max(end, left + SNIPPET_CHARS))
        left = max(0, min(left, right - SNIPPET_CHARS))
        window = " ".join(text[left:right].split())
        return ("…" if left else "") + window + ("…" if right < len(text) else "")
    for candidate in (tool, project):
        if candidate and needle in candidate.lower():
            return candidate
    return None


def _find(text: str, needle: str) -> tuple[int, int] | None:
    """Return where ``needle`` (lower-cased) occurs in ``text`` as character offsets, or None."""
    lowered = text.lower()
    index = lowered.find(needle)
    if index < 0:
        return None
    if len(lowered) == len(text):
        return index, index + len(needle)
    # Some characters lower-case to several (e.g. 'İ'): map offsets back to ``text``.
    position, start = 0, None
    for offset, char in enumerate(text):
        step = len(char.lower())
        if start is None and position + step > index:
            start = offset
        position += step
        if start is not None and position >= index + len(needle):
            return start, offset + 1
    return start or 0, len(text)


def stats(cur: Any, now: datetime, db_path: str) -> dict:
    """Return the totals of ``GET /v1/traces/stats`` (tokens: each API response once)."""
    entries, sessions = cur.execute(
        "SELECT (SELECT count(*) FROM collected_entries), "
        "(SELECT count(*) FROM collected_sessions)").fetchone()
    tokens = cur.execute(f"SELECT {_TOKEN_SUM} FROM collected_usage").fetchone()
    heartbeats = [row[0] for row in cur.execute(
        "SELECT last_heartbeat FROM collected_agents").fetchall()]
    now = _naive_utc(now)
    size = 0
    for name in (db_path, db_path + ".wal"):
        try:
            size += os.path.getsize(name)
        except OSError:
            pass
    return {
        "total_traces": int(entries),
        "total_sessions": int(sessions),
        "total_agents": len(heartbeats),
        "active_agents": sum(registry.status(h, now) == registry.ACTIVE for h in heartbeats),
        "db_size_bytes": size,
        "tokens": {"input": int(tokens[0] or 0), "output": int(tokens[1] or 0),
                   "cache_read": int(tokens[2] or 0), "cache_write": int(tokens[3] or 0),
                   "reasoning": int(tokens[4] or 0)},
    }


# Grouping keys of a row ``t`` (an API response of collected_usage, or an entry) and its
# session ``s``. A model, project or agent that was never reported is NULL.
_USAGE_KEYS = {
    "source": "t.source",
    "model": "nullif(nullif(t.model, ''), '<synthetic>')",
    "project": "coalesce(nullif(t.project_path, ''), s.project_path)",
    "day": "strftime(t.\"timestamp\", '%Y-%m-%d')",
    "agent": "coalesce(t.instance_id, s.instance_id)",
    "session": "t.session_id",
}
# An entry has no project path of its own: its session's is the one it was sent with.
_ENTRY_KEYS = dict(_USAGE_KEYS, project="nullif(s.project_path, '')")


def usage(cur: Any, group_by: str, since: datetime | None, until: datetime | None,
          source: str | None) -> list[dict]:
    """Return token usage per group, largest total first, each API response counted once.

    Every group that has entries is listed, with or without token figures (a Copilot
    session reports none: its tokens are 0). Tokens are summed over API responses
    (see :func:`ingest`), each filtered on its timestamp (its first copy's entry time)
    and attributed to its first copy's session; ``entries`` counts every stored entry
    of the group, ``sessions`` the distinct sessions of those entries and responses.
    ``since`` is inclusive, ``until`` exclusive; both, and ``source``, filter entries
    and responses alike.
    """
    if group_by not in _USAGE_KEYS:
        raise ValueError(f"cannot group usage by {group_by!r}")
    where = """($since IS NULL OR t."timestamp" >= $since)
               AND ($until IS NULL OR t."timestamp" < $until)
               AND ($source IS NULL OR t.source = $source)"""

    def rows_of(table: str, key: str, tokens: str, is_entry: str) -> str:
        join = "LEFT JOIN collected_sessions s USING (session_id)" if "s." in key else ""
        return (f"SELECT {key} AS key, t.session_id, {is_entry} AS is_entry, {tokens} "
                f"FROM {table} t {join} WHERE {where}")

    total = " + ".join(f"sum({t})" for t in TOKEN_FIELDS)
    rows = cur.execute(f"""
        SELECT key, {", ".join(f"sum({t})" for t in TOKEN_FIELDS)},
               count(*) FILTER (WHERE is_entry) AS entries, count(DISTINCT session_id)
        FROM (
            {rows_of("collected_entries", _ENTRY_KEYS[group_by],
                     ", ".join(f"0 AS {t}" for t in TOKEN_FIELDS), "true")}
            UNION ALL
            {rows_of("collected_usage", _USAGE_KEYS[group_by],
                     ", ".join(f"t.{t}" for t in TOKEN_FIELDS), "false")}
        )
        GROUP BY key
        ORDER BY {total} DESC, entries DESC, key NULLS LAST
    """, {"since": _naive_utc(since), "until": _naive_utc(until), "source": source}).fetchall()
    return [dict(zip(("key",) + TOKEN_FIELDS + ("entries", "sessions"),
                     (row[0], *map(int, row[1:])))) for row in rows]


#: How /v1/sessions may order sessions: by their entries' own latest time, or by when
#: they last received entries (a backfill of old history is "recent" only by arrival).
SESSION_ORDERS = {"updated": "last_updated", "received": "last_received_at"}


def list_sessions(cur: Any, limit: int, source: str | None, project: str | None,
                  sort: str = "updated") -> list[dict]:
    """Return the most recently active (or arrived) sessions, optionally of one source or
    project path."""
    column = SESSION_ORDERS[sort]
    rows = cur.execute(f"""
        SELECT {", ".join(_SESSION_SUMMARY)}, {", ".join(TOKEN_FIELDS)},
               machine_id, first_received_at, last_received_at
        FROM collected_sessions
        WHERE ($source IS NULL OR source = $source)
          AND ($project IS NULL OR project_path = $project)
        ORDER BY {column} DESC NULLS LAST, session_id
        LIMIT $limit
    """, {"source": source, "project": project, "limit": int(limit)}).fetchall()
    sessions = []
    for row in rows:
        summary = _summary(row)
        summary.update(zip(TOKEN_FIELDS, map(int, row[8:13])))
        summary["machine_id"] = row[13]
        summary["first_received_at"] = rfc3339(row[14])
        summary["last_received_at"] = rfc3339(row[15])
        sessions.append(summary)
    return sessions


_ENTRY_OUT = ENTRY_FIELDS + ("timestamp_estimated", "received_at")


def session_entries(cur: Any, session_id: str, limit: int, offset: int) -> dict | None:
    """Return a page of one session's entries (by timestamp, then arrival) and their number.

    ``{"entries": [...], "total": N}``, both read from one snapshot, so a page and the
    total agree while entries arrive; None if there is no such session.
    """
    with _transaction(cur):
        total = cur.execute("SELECT count(*) FROM collected_entries WHERE session_id = ?",
                            [session_id]).fetchone()[0]
        if not total:
            return None
        rows = cur.execute(f"""
            SELECT {", ".join(f'"{c}"' for c in _ENTRY_OUT)}
            FROM collected_entries WHERE session_id = ?
            ORDER BY "timestamp", seq
            LIMIT ? OFFSET ?
        """, [session_id, int(limit), int(offset)]).fetchall()
    entries = []
    for row in rows:
        entry = dict(zip(_ENTRY_OUT, row))
        entry["timestamp"] = rfc3339(entry["timestamp"])
        entry["received_at"] = rfc3339(entry["received_at"])
        entries.append(entry)
    return {"entries": entries, "total": int(total)}
