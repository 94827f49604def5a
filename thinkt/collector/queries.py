"""The read side: stats, usage, sessions and a session's entries, on a query thread's cursor.

Each function takes a cursor of its own (``con.cursor()`` in the writer process) and
returns plain JSON-ready values.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any, Callable, Sequence

import duckdb
import numpy as np

from thinkt.collector import longtext, registry
from thinkt.collector.database import naive_utc, rfc3339, transaction
from thinkt.collector.rollup import TOKEN_FIELDS
from thinkt.collector.schemas import ENTRY_FIELDS

log = logging.getLogger(__name__)

GROUP_BY = ("source", "model", "project", "day", "agent", "session", "user")
# Sums are 128-bit: DuckDB sums BIGINT as HUGEINT, which 2**63 rows of 2**63 - 1 cannot
# overflow. A plain cast back to BIGINT made one large count answer 503 to every stats
# and usage query (issue 14); usage casts only to fetch faster, and falls back to text
# when a sum does not fit (_fetch).
_TOKEN_SUM = ", ".join(f"sum({t}) AS {t}" for t in TOKEN_FIELDS)

SESSION_SUMMARY = ("session_id", "source", "project_path", "instance_id", "model",
                    "entry_count", "first_seen", "last_updated", "person")


def session_summary(row: Sequence) -> dict:
    """Return the JSON summary of a session row that starts with :data:`SESSION_SUMMARY`."""
    session_id, source, project_path, instance_id, model, count, first, last, person = row[:9]
    return {"id": session_id, "source": source, "project_path": project_path,
            "instance_id": instance_id, "model": model, "entry_count": int(count),
            "first_seen": rfc3339(first), "last_updated": rfc3339(last), "user": person}


def stats(cur: Any, now: datetime, db_path: str) -> dict:
    """Return the totals of ``GET /v1/traces/stats`` (tokens: each API response once)."""
    entries, sessions = cur.execute(
        "SELECT (SELECT count(*) FROM collected_entries), "
        "(SELECT count(*) FROM collected_sessions)").fetchone()
    tokens = cur.execute(f"SELECT {_TOKEN_SUM} FROM usage_hourly").fetchone()
    told, requests, points = cur.execute(
        "SELECT (SELECT count(*) FROM telemetry_sessions), "
        "(SELECT count(*) FROM telemetry_requests), (SELECT count(*) FROM metric_points)"
    ).fetchone()
    heartbeats = [row[0] for row in cur.execute(
        "SELECT last_heartbeat FROM collected_agents").fetchall()]
    now = naive_utc(now)
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
        # What the assistants' own OpenTelemetry brought (POST /v1/logs, /v1/metrics).
        "telemetry": {"sessions": int(told), "api_requests": int(requests),
                      "metric_points": int(points)},
    }


# Grouping keys of a row ``t`` (a cell of usage_hourly, an API response of collected_usage,
# or an entry) and its session ``s``. A model, project, agent or person that was never
# reported is NULL ('' in the hourly cells). Entries sent by an exporter that named no
# person (older than the ``user`` setting) belong to their session's person, if any.
#: Shared with the pages (dashboard.py), so that their figures are the API's by construction.
USAGE_KEYS = {
    "source": "t.source",
    "model": "nullif(nullif(t.model, ''), '<synthetic>')",
    "project": "coalesce(nullif(t.project_path, ''), s.project_path)",
    "day": "strftime(t.{time}, '%Y-%m-%d')",
    "agent": "coalesce(nullif(t.instance_id, ''), s.instance_id)",
    "session": "t.session_id",
    "user": "coalesce(nullif(t.person, ''), s.person)",
}
# An entry's project is its session's (the first one its session was sent with).
_ENTRY_KEYS = dict(USAGE_KEYS, project="nullif(s.project_path, '')")
_USAGE_COLUMNS = ("key",) + TOKEN_FIELDS + ("entries", "sessions")
SESSION_JOIN = "LEFT JOIN collected_sessions s USING (session_id)"


def usage(cur: Any, group_by: str, since: datetime | None, until: datetime | None,
          source: str | None, user: str | None = None) -> list[dict]:
    """Return token usage per group, largest total first, each API response counted once.

    Every group that has entries is listed, with or without token figures (a Copilot
    session reports none: its tokens are 0). Tokens are summed over API responses
    (rollup.py), each filtered on its timestamp (its first copy's entry time) and
    attributed to its first copy's session; ``entries`` counts every stored entry of
    the group, ``sessions`` the distinct sessions of those entries and responses.
    ``since`` is inclusive, ``until`` exclusive; both, ``source`` and ``user`` (the
    person as ``group_by="user"`` keys it), filter entries and responses alike.

    Bounds on whole hours (dates included) sum the hourly rollup; other bounds read the
    entries and responses themselves, with the same result. Sums are 128-bit; they come
    to Python as 64-bit columns (:func:`_fetch`), as text only if one is larger.
    """
    if group_by not in USAGE_KEYS:
        raise ValueError(f"cannot group usage by {group_by!r}")
    since, until = naive_utc(since), naive_utc(until)
    params = {"since": since, "until": until, "source": source}
    if user is not None:
        params["user"] = user  # bound only when used: DuckDB refuses unused parameters
    if _on_the_hour(since) and _on_the_hour(until):
        total = " + ".join(f"sum(t.{t})" for t in TOKEN_FIELDS)
        key = USAGE_KEYS[group_by].format(time="hour")
        join = SESSION_JOIN if "s." in key or user is not None else ""
        # A key is one session's: its count of sessions is 1, without a DISTINCT to hash.
        sessions = "1" if group_by == "session" else "count(DISTINCT t.session_id)"
        return _fetch(cur, lambda kind: f"""
            SELECT {key} AS key, {", ".join(f"sum(t.{t})::{kind}" for t in TOKEN_FIELDS)},
                   sum(t.entries)::{kind}, ({sessions})::{kind}
            FROM usage_hourly t {join}
            WHERE ($since IS NULL OR t.hour >= $since) AND ($until IS NULL OR t.hour < $until)
              AND ($source IS NULL OR t.source = $source) {_person_filter(user is not None)}
            GROUP BY key
            ORDER BY {total} DESC, sum(t.entries) DESC, key NULLS LAST
        """, params)
    return _fetch(cur, lambda kind: _usage_by_time(group_by, kind, user is not None), params)


def priced_usage(cur: Any, group_by: str, since: datetime | None, until: datetime | None,
                 source: str | None, user: str | None = None) -> dict:
    """Return :func:`usage`'s rows and :func:`usage_parts` of one snapshot, for cost.py
    to price in the HTTP worker: ``{"rows": [...], "parts": [...]}``."""
    with transaction(cur):
        return {"rows": usage(cur, group_by, since, until, source, user),
                "parts": usage_parts(cur, group_by, since, until, source, user)}


def usage_parts(cur: Any, group_by: str, since: datetime | None, until: datetime | None,
                source: str | None, user: str | None = None) -> dict[str, Any]:
    """Return each usage key's tokens split by source, model and UTC day, parts with tokens
    only, as columns: ``key``, ``source``, ``model``, ``day`` (``YYYY-MM-DD``) as lists,
    the token sums as int64 arrays (Python ints when a sum exceeds 64 bits): what
    :func:`thinkt.collector.cost.add_costs` prices.

    The same keys, filters and bounds as :func:`usage`: the hourly rollup on whole hours,
    the API responses themselves otherwise. Sums are 128-bit and come as Python ints.
    """
    if group_by not in USAGE_KEYS:
        raise ValueError(f"cannot group usage by {group_by!r}")
    since, until = naive_utc(since), naive_utc(until)
    params = {"since": since, "until": until, "source": source}
    if user is not None:
        params["user"] = user
    hourly = _on_the_hour(since) and _on_the_hour(until)
    time = "hour" if hourly else '"timestamp"'
    key = USAGE_KEYS[group_by].format(time=time)
    join = SESSION_JOIN if "s." in key or user is not None else ""
    table = "usage_hourly" if hourly else "collected_usage"

    def query(kind: str) -> str:
        return f"""
            SELECT {key} AS key, t.source, {USAGE_KEYS["model"]} AS model,
                   strftime(t.{time}, '%Y-%m-%d') AS day,
                   {", ".join(f"sum(t.{t})::{kind} AS {t}" for t in TOKEN_FIELDS)}
            FROM {table} t {join}
            WHERE ($since IS NULL OR t.{time} >= $since) AND ($until IS NULL OR t.{time} < $until)
              AND ($source IS NULL OR t.source = $source) {_person_filter(user is not None)}
            GROUP BY ALL
            HAVING {" OR ".join(f"sum(t.{t}) <> 0" for t in TOKEN_FIELDS)}"""

    return _fetch_columns(cur, query, params, ("key", "source", "model", "day"), TOKEN_FIELDS)


def _person_filter(wanted: bool) -> str:
    """The condition that keeps ``$user``'s rows (the session ``s`` joined), if ``wanted``."""
    return f"AND {USAGE_KEYS['user']} = $user" if wanted else ""


def _fetch(cur: Any, query: Callable[[str], str], params: dict) -> list[dict]:
    """Return the rows of a usage query (``_USAGE_COLUMNS``) as dicts of Python ints;
    ``query(kind)`` casts its counts to ``kind``."""
    columns = _fetch_columns(cur, query, params, _USAGE_COLUMNS[:1], _USAGE_COLUMNS[1:])
    values = [c.tolist() if isinstance(c, np.ndarray) else c for c in columns.values()]
    return [dict(zip(_USAGE_COLUMNS, row)) for row in zip(*values)]


def _fetch_columns(cur: Any, query: Callable[[str], str], params: dict,
                   names: Sequence[str], counts: Sequence[str]) -> dict[str, Any]:
    """Return a query's columns ``names`` then ``counts`` by name: ``names`` as lists, the
    counts as int64 arrays, or as lists of Python ints when one exceeds 64 bits;
    ``query(kind)`` casts its counts to ``kind``.

    DuckDB hands 64-bit columns to Python as numpy arrays in one piece, 128-bit ones or
    text value by value (by session at 10M entries: 27k keys in ~15 ms against 100; 14k
    usage parts by project in ~200 ms). A sum beyond 64 bits fails the cast, and then
    the counts come as text.
    """
    try:
        arrays = cur.execute(query("BIGINT"), params).fetchnumpy()
    except duckdb.ConversionException:
        rows = cur.execute(query("VARCHAR"), params).fetchall()
        columns = list(zip(*rows)) if rows else [()] * (len(names) + len(counts))
        found = dict(zip((*names, *counts), map(list, columns)))
        for name in counts:
            found[name] = [int(v) for v in found[name]]
        return found
    # By position: the queries name their count columns as they like.
    arrays = list(arrays.values())
    found = {name: array.tolist() for name, array in zip(names, arrays)}
    found.update((name, np.asarray(array)) for name, array in zip(counts, arrays[len(names):]))
    return found


def _on_the_hour(moment: datetime | None) -> bool:
    return moment is None or (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)


def _usage_by_time(group_by: str, kind: str, by_user: bool = False) -> str:
    """Usage over entries and responses filtered on their own times (bounds within an hour),
    as a query of ``_USAGE_COLUMNS`` with ``$since``, ``$until``, ``$source`` (and
    ``$user`` when ``by_user``)."""
    total = " + ".join(f"sum({t})" for t in TOKEN_FIELDS)
    where = f"""($since IS NULL OR t."timestamp" >= $since)
               AND ($until IS NULL OR t."timestamp" < $until)
               AND ($source IS NULL OR t.source = $source)
               {_person_filter(by_user)}"""

    def rows_of(table: str, key: str, tokens: str, is_entry: str) -> str:
        key = key.format(time='"timestamp"')
        join = SESSION_JOIN if "s." in key or by_user else ""
        return (f"SELECT {key} AS key, t.session_id, {is_entry} AS is_entry, {tokens} "
                f"FROM {table} t {join} WHERE {where}")

    return f"""
        SELECT key, {", ".join(f"sum({t})::{kind}" for t in TOKEN_FIELDS)},
               (count(*) FILTER (WHERE is_entry))::{kind} AS entries,
               count(DISTINCT session_id)::{kind}
        FROM (
            {rows_of("collected_entries", _ENTRY_KEYS[group_by],
                     ", ".join(f"0 AS {t}" for t in TOKEN_FIELDS), "true")}
            UNION ALL
            {rows_of("collected_usage", USAGE_KEYS[group_by],
                     ", ".join(f"t.{t}" for t in TOKEN_FIELDS), "false")}
        )
        GROUP BY key
        ORDER BY {total} DESC, entries DESC, key NULLS LAST
    """


#: How /v1/sessions may order sessions: by their entries' own latest time, or by when
#: they last received entries (a backfill of old history is "recent" only by arrival).
SESSION_ORDERS = {"updated": "last_updated", "received": "last_received_at"}


def list_sessions(cur: Any, limit: int, source: str | None, project: str | None,
                  sort: str = "updated", user: str | None = None) -> list[dict]:
    """Return the most recently active (or arrived) sessions, optionally of one source,
    project path or person (``user``)."""
    column = SESSION_ORDERS[sort]
    rows = cur.execute(f"""
        SELECT {", ".join(SESSION_SUMMARY)}, {", ".join(TOKEN_FIELDS)},
               machine_id, first_received_at, last_received_at
        FROM collected_sessions
        WHERE ($source IS NULL OR source = $source)
          AND ($project IS NULL OR project_path = $project)
          AND ($user IS NULL OR person = $user)
        ORDER BY {column} DESC NULLS LAST, session_id
        LIMIT $limit
    """, {"source": source, "project": project, "user": user,
          "limit": int(limit)}).fetchall()
    sessions = []
    rest = len(SESSION_SUMMARY)
    for row in rows:
        summary = session_summary(row)
        tokens, (machine_id, first_received, last_received) = (
            row[rest:rest + len(TOKEN_FIELDS)], row[rest + len(TOKEN_FIELDS):])
        summary.update(zip(TOKEN_FIELDS, map(int, tokens)))
        summary["machine_id"] = machine_id
        summary["first_received_at"] = rfc3339(first_received)
        summary["last_received_at"] = rfc3339(last_received)
        sessions.append(summary)
    return sessions


_ENTRY_OUT = ENTRY_FIELDS + ("timestamp_estimated", "received_at")


def session_entries(cur: Any, session_id: str, limit: int, offset: int) -> dict | None:
    """Return a page of one session's entries (by timestamp, then arrival) and their number.

    ``{"entries": [...], "total": N}``, both read from one snapshot, so a page and the
    total agree while entries arrive; None if there is no such session.
    """
    with transaction(cur):
        total = cur.execute("SELECT count(*) FROM collected_entries WHERE session_id = ?",
                            [session_id]).fetchone()[0]
        if not total:
            return None
        rows = cur.execute(f"""
            SELECT {", ".join(f'"{c}"' for c in _ENTRY_OUT)}, long_text
            FROM collected_entries WHERE session_id = ?
            ORDER BY "timestamp", seq
            LIMIT ? OFFSET ?
        """, [session_id, int(limit), int(offset)]).fetchall()
    entries = []
    for *row, long_text in rows:
        entry = dict(zip(_ENTRY_OUT, row))
        if long_text is not None:
            entry["text"] = longtext.unpack(long_text)
        entry["timestamp"] = rfc3339(entry["timestamp"])
        entry["received_at"] = rfc3339(entry["received_at"])
        entries.append(entry)
    return {"entries": entries, "total": int(total)}


#: How ``GET /v1/telemetry/metrics`` may group a series' points.
METRIC_GROUPS = {
    "series": "NULL",
    "source": "source",
    "user": "person",
    "session": "session_id",
    "model": "model",
    "day": "strftime(\"time\", '%Y-%m-%d')",
}


def metric_totals(cur: Any, group_by: str, since: datetime | None, until: datetime | None,
                  source: str | None, user: str | None, series: str | None) -> list[dict]:
    """Return what the assistants' metrics add up to per series (and per ``group_by`` key).

    Points are stored as what they added over their interval (telemetry.py), so a
    counter's total over a period is the sum of the points that end in it (``since``
    inclusive, ``until`` exclusive). A series is our name for it (``tokens.input``,
    ``lines.added``, ``commits``, ...; see each tool's table) or, for a metric the table
    does not name, the tool's own metric name. Gauges are not totals and are left out.
    """
    key = METRIC_GROUPS[group_by]
    rows = cur.execute(f"""
        SELECT coalesce(series, name) AS series, {key} AS key, any_value(unit) AS unit,
               sum(value) AS value, sum(count) AS count, count(*) AS points
        FROM metric_points
        WHERE kind <> 'gauge'
          AND ($since IS NULL OR "time" >= $since) AND ($until IS NULL OR "time" < $until)
          AND ($source IS NULL OR source = $source) AND ($user IS NULL OR person = $user)
          AND ($series IS NULL OR coalesce(series, name) = $series)
        GROUP BY ALL
        ORDER BY series, value DESC NULLS LAST, key NULLS LAST
    """, {"since": naive_utc(since), "until": naive_utc(until), "source": source,
          "user": user, "series": series}).fetchall()
    answer = []
    for name, value_key, unit, value, count, points in rows:
        row: dict[str, Any] = {"series": name}
        if group_by != "series":
            row["key"] = value_key
        row.update(unit=unit, value=value, count=None if count is None else int(count),
                   points=int(points))
        answer.append(row)
    return answer
