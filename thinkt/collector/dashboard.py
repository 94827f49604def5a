"""The read side of the web pages: what they show that the API does not answer.

Each function takes a query thread's cursor (as queries.py does) and returns plain
values. Figures come from the rollup tables (``usage_hourly``, ``collected_sessions``,
``collected_usage``), never from a scan of every entry, and every list is bounded, so
a page costs about the same at a million entries as at a thousand. Grouping keys are
the API's (queries.py ``USAGE_KEYS``), so a page's tokens, entries and sessions equal
``GET /v1/usage``'s for the keys both have.

Cost is not priced here: as for the API (cost.py), usage comes with its ``parts``, the
tokens of each key split by source, model and UTC day, and the HTTP worker prices them;
the writer only reads the store.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Sequence

from thinkt.collector import agents, longtext, search as search_module
from thinkt.collector.database import naive_utc, rfc3339, transaction
from thinkt.collector.ingest import RESPONSE_KEY
from thinkt.collector.queries import (SESSION_JOIN, SESSION_SUMMARY, USAGE_KEYS,
                                      session_summary)
from thinkt.collector.rollup import TOKEN_FIELDS
from thinkt.collector.schemas import ENTRY_FIELDS

log = logging.getLogger(__name__)

# Keys of an hourly cell ``t``, its session ``s`` and the branch ``b`` its session was on
# in that hour. The API's expressions for the keys it has (machine is its ``agent``), so
# the figures agree; '' in a cell stands for "none".
KEYS = {
    **{page: USAGE_KEYS[api].format(time="hour") for page, api in (
        ("user", "user"), ("machine", "agent"), ("project", "project"), ("model", "model"),
        ("source", "source"), ("day", "day"), ("session", "session"))},
    "branch": "b.branch",
}
#: What a usage page may group by, in the order its form offers them.
GROUPS = ("user", "machine", "project", "model", "source", "day", "branch")
#: The filters every usage query takes (None: not filtered).
FILTERS = ("source", "user", "project", "model")
#: Most rows a usage query returns (a key per session over years would be more).
MAX_ROWS = 100_000
#: Most sessions a filtered search looks at (see :func:`search`): a common term's search
#: costs about what its sessions hold (search.py), 130 ms for 100 at a million entries.
SEARCH_POOL = 100

_TOKEN_SUMS = ", ".join(f"sum(t.{t}) AS {t}" for t in TOKEN_FIELDS)  # 128-bit: never overflow
_ANY_TOKENS = " OR ".join(f"sum(t.{t}) <> 0" for t in TOKEN_FIELDS)
# The branch a (session, hour) was on: the latest one its entries name there. Entries
# carry git_branch, the rollup does not: a grouping by branch reads that column of the
# range's entries, the one scan of entries a page makes.
_BRANCH_JOIN = """LEFT JOIN (
    SELECT session_id, date_trunc('hour', "timestamp") AS hour, arg_max(git_branch, seq) AS branch
    FROM collected_entries
    WHERE coalesce(git_branch, '') <> ''
      AND ($since IS NULL OR "timestamp" >= $since) AND ($until IS NULL OR "timestamp" < $until)
    GROUP BY ALL
) b ON b.session_id = t.session_id AND b.hour = t.hour"""


class Scope:
    """Which hourly cells a query reads: a time range, filters, and maybe some sessions."""

    def __init__(self, since: datetime | None = None, until: datetime | None = None,
                 sessions: Sequence[str] | None = None, **filters: Any) -> None:
        self.since, self.until = naive_utc(since), naive_utc(until)
        self.sessions = list(sessions) if sessions is not None else None
        self.filters = {k: v for k, v in filters.items() if k in FILTERS and v is not None}

    def select(self, keys: Sequence[str], columns: str, having: str = "") -> tuple[str, dict]:
        """Return SQL selecting ``keys`` (as k0, k1, ...) and ``columns`` from the cells in
        scope, grouped by the keys, and its parameters."""
        expressions = [KEYS[k] for k in keys]
        conditions = ["($since IS NULL OR t.hour >= $since)",
                      "($until IS NULL OR t.hour < $until)"]
        params: dict[str, Any] = {"since": self.since, "until": self.until}
        for name, value in self.filters.items():
            conditions.append(f"{KEYS[name]} = ${name}")
            params[name] = value
        if self.sessions is not None:
            conditions.append("t.session_id = ANY($sessions::VARCHAR[])")
            params["sessions"] = self.sessions
        used = " ".join(expressions + conditions)
        joins = (SESSION_JOIN if "s." in used else "") + (_BRANCH_JOIN if "b." in used else "")
        picked = [f"{e} AS k{i}" for i, e in enumerate(expressions)]
        group = "GROUP BY ALL" if keys else ""
        return (f"SELECT {', '.join(picked + [columns])} FROM usage_hourly t {joins} "
                f"WHERE {' AND '.join(conditions)} {group} {having}", params)


def _grouped(cur: Any, scope: Scope, keys: Sequence[str]) -> dict:
    """Return usage per ``keys`` in scope, most tokens first as the API orders it.

    ``rows``: ``key`` (a value; a tuple for several keys), the token sums, ``entries``
    and ``sessions``, as ``/v1/usage`` counts them. ``parts``: each key's tokens by
    source, model and day (``key``, ``source``, ``model``, ``day`` and the token sums),
    for cost.py to price.
    """
    total = " + ".join(f"sum(t.{t})" for t in TOKEN_FIELDS)
    query, params = scope.select(keys, f"{_TOKEN_SUMS}, sum(t.entries) AS entries, "
                                       f"count(DISTINCT t.session_id) AS sessions, {total} AS total")
    order = "".join(f", k{i} NULLS LAST" for i in range(len(keys)))
    rows = cur.execute(f"SELECT * FROM ({query}) ORDER BY total DESC, entries DESC{order} "
                       f"LIMIT {MAX_ROWS}", params).fetchall()
    width = len(keys)
    names = TOKEN_FIELDS + ("entries", "sessions")
    found = [{"key": _key(row[:width]), **dict(zip(names, (int(v or 0) for v in row[width:])))}
             for row in rows]
    wanted = [*keys, "source", "model", "day"]
    query, params = scope.select(wanted, _TOKEN_SUMS, having=f"HAVING {_ANY_TOKENS}")
    parts = [{"key": _key(row[:width]), "source": row[width], "model": row[width + 1],
              "day": row[width + 2], **dict(zip(TOKEN_FIELDS, map(int, row[width + 3:])))}
             for row in cur.execute(f"{query} LIMIT {MAX_ROWS * 4}", params).fetchall()]
    return {"rows": found, "parts": parts}


def _key(values: Sequence[Any]) -> Any:
    """A group's key: its one value, or a tuple of its values (none for the whole scope)."""
    return values[0] if len(values) == 1 else tuple(values)


# -- usage and overview -------------------------------------------------------------------

def usage(cur: Any, group_by: str, since: datetime | None, until: datetime | None,
          **filters: Any) -> dict:
    """Return usage per ``group_by`` key in ``[since, until)`` (whole hours) and its parts.

    As :func:`_grouped`; a machine's rows also carry the agent's ``hostname``.
    """
    if group_by not in GROUPS:
        raise ValueError(f"cannot group usage by {group_by!r}")
    with transaction(cur):
        found = _grouped(cur, Scope(since, until, **filters), [group_by])
        if group_by == "machine":
            names = dict(cur.execute("SELECT instance_id, hostname FROM collected_agents "
                                     "WHERE instance_id = ANY(?::VARCHAR[])",
                                     [[r["key"] for r in found["rows"] if r["key"]]]).fetchall())
            for row in found["rows"]:
                row["hostname"] = names.get(row["key"])
    return found


def overview(cur: Any, since: datetime | None, until: datetime | None, now: datetime,
             **filters: Any) -> dict:
    """Return what the overview page shows for ``[since, until)``.

    ``daily``: usage per (day, model); ``users``, ``projects``: usage per key, the 10
    with most tokens; ``totals``: the whole range's; each as :func:`_grouped` makes it
    (the parts of the top lists are their keys' only). ``agents``: every agent, as
    ``/v1/agents`` lists them.
    """
    scope = Scope(since, until, **filters)
    with transaction(cur):
        daily = _grouped(cur, scope, ["day", "model"])
        tops = {}
        for name in ("user", "project"):
            found = _grouped(cur, scope, [name])
            kept = found["rows"][:10]
            keys = {row["key"] for row in kept}
            tops[name] = {"rows": kept, "parts": [p for p in found["parts"] if p["key"] in keys]}
        totals = _grouped(cur, scope, [])
        listed = agents.list_agents(cur, now)
    return {"daily": daily, "users": tops["user"], "projects": tops["project"],
            "totals": totals, "agents": listed}


def choices(cur: Any) -> dict[str, list[str]]:
    """Return the values the filters offer: sources, users, projects and models (at most
    500 each, the most used first)."""
    found = {}
    with transaction(cur):
        for name, query in (
                ("source", "SELECT source, sum(entries) FROM usage_hourly GROUP BY 1"),
                ("model", "SELECT model, sum(entries) FROM usage_hourly "
                          "WHERE model NOT IN ('', '<synthetic>') GROUP BY 1"),
                ("user", "SELECT person, count(*) FROM collected_sessions "
                         "WHERE person IS NOT NULL GROUP BY 1"),
                ("project", "SELECT project_path, count(*) FROM collected_sessions "
                            "WHERE project_path IS NOT NULL GROUP BY 1")):
            rows = cur.execute(f"{query} ORDER BY 2 DESC, 1 LIMIT 500").fetchall()
            found[name] = [value for value, _ in rows]
    return found


# -- sessions and transcripts -------------------------------------------------------------

_SESSION_COLUMNS = f"{', '.join(SESSION_SUMMARY)}, {', '.join(TOKEN_FIELDS)}, machine_id"


def _summary(row: Sequence) -> dict:
    """A session summary (queries.py's) with its token totals and machine id."""
    summary = session_summary(row)
    rest = len(SESSION_SUMMARY)
    summary.update(zip(TOKEN_FIELDS, map(int, row[rest:rest + len(TOKEN_FIELDS)])))
    summary["machine_id"] = row[rest + len(TOKEN_FIELDS)]
    return summary


def sessions(cur: Any, since: datetime | None, until: datetime | None, limit: int,
             offset: int, **filters: Any) -> dict:
    """Return a page of sessions, most recently active first, and how many match.

    A session matches when it was active in ``[since, until)`` (its first and latest
    entries' times overlap the range) and its source, user, project and latest model
    equal the filters given. ``parts``: the page's sessions' tokens by source, model and
    day (``key`` is the session id), for pricing.
    """
    conditions = ["($since IS NULL OR last_updated >= $since)",
                  "($until IS NULL OR first_seen < $until)"]
    params: dict[str, Any] = {"since": naive_utc(since), "until": naive_utc(until)}
    for name, column in (("source", "source"), ("user", "person"),
                         ("project", "project_path"), ("model", "model")):
        if filters.get(name) is not None:
            conditions.append(f"{column} = ${name}")
            params[name] = filters[name]
    where = " AND ".join(conditions)
    with transaction(cur):
        total = cur.execute(f"SELECT count(*) FROM collected_sessions WHERE {where}",
                            params).fetchone()[0]
        rows = cur.execute(f"""
            SELECT {_SESSION_COLUMNS} FROM collected_sessions WHERE {where}
            ORDER BY last_updated DESC NULLS LAST, session_id
            LIMIT {int(limit)} OFFSET {int(offset)}""", params).fetchall()
        found = [_summary(row) for row in rows]
        parts = _grouped(cur, Scope(sessions=[s["id"] for s in found]), ["session"])["parts"] \
            if found else []
    return {"sessions": found, "total": int(total), "parts": parts}


_ENTRY_COLUMNS = tuple(f for f in ENTRY_FIELDS if f != "text") + ("timestamp_estimated", "source")


def transcript(cur: Any, session_id: str, limit: int, offset: int,
               entry: str | None = None, clip: int | None = None) -> dict | None:
    """Return a page of one session's entries (oldest first, as the API pages them), the
    session's summary and its usage parts; None if there is no such session.

    With ``entry`` (a uuid of the session), the page is the one that holds it and
    ``offset`` is ignored: search links to an entry without knowing where it is. The
    first entry on the page of each API response carries ``response``: its tokens
    counted once (rollup.py), its model, source and UTC day, for pricing.

    ``clip``: a text longer than this many characters comes as its first and last
    halves of it (``text`` and ``text_tail``) and its length (``text_chars``), so a page
    of long tool outputs stays light; :func:`entry_text` gives a text whole.
    """
    with transaction(cur):
        row = cur.execute(f"SELECT {_SESSION_COLUMNS} FROM collected_sessions "
                          "WHERE session_id = ?", [session_id]).fetchone()
        if row is None:
            return None
        summary = _summary(row)
        if entry is not None:
            position = _position(cur, session_id, entry)
            if position is not None:
                offset = position - position % limit
        parts = _grouped(cur, Scope(sessions=[session_id]), [])["parts"]
        key = RESPONSE_KEY.format(table="e.")
        rows = cur.execute(f"""
            SELECT {", ".join(f'e."{c}"' for c in _ENTRY_COLUMNS)}, e.text, e.long_text,
                   {key} AS response_key
            FROM collected_entries e WHERE e.session_id = ?
            ORDER BY e."timestamp", e.seq LIMIT ? OFFSET ?""",
                           [session_id, int(limit), int(offset)]).fetchall()
        width, at_source = len(_ENTRY_COLUMNS), _ENTRY_COLUMNS.index("source")
        # The page's responses, wherever they are attributed (a resumed session repeats
        # its parent's): shown where they appear, counted where they are attributed.
        responses = _responses(cur, {(r[at_source], r[width + 2]) for r in rows})
    entries, seen = [], set()
    for values in rows:
        item = dict(zip(_ENTRY_COLUMNS, values[:width]))
        text, packed, response_key = values[width:width + 3]
        item["text"] = longtext.unpack(packed) if packed is not None else text
        if clip is not None and item["text"] and len(item["text"]) > clip:
            whole, half = item["text"], clip // 2
            item.update(text=whole[:half], text_tail=whole[-half:], text_chars=len(whole))
        item["timestamp"] = rfc3339(item["timestamp"])
        key = (item["source"], response_key)
        if key in responses and key not in seen:
            seen.add(key)
            item["response"] = responses[key]
        entries.append(item)
    return {"session": summary, "entries": entries, "total": summary["entry_count"],
            "offset": int(offset), "parts": parts}


def entry_text(cur: Any, session_id: str, uuid: str) -> str | None:
    """Return one entry's whole text ('' when it has none); None if there is no such entry."""
    found = cur.execute("SELECT text, long_text FROM collected_entries "
                        "WHERE session_id = ? AND uuid = ?", [session_id, uuid]).fetchone()
    if found is None:
        return None
    text, packed = found
    return (longtext.unpack(packed) if packed is not None else text) or ""


def _responses(cur: Any, keys: set[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """Return the tokens, model, source and UTC day of the responses ``keys``
    (``(source, response_key)`` pairs)."""
    if not keys:
        return {}
    sources, response_keys = (sorted({k[i] for k in keys}) for i in (0, 1))
    rows = cur.execute(f"""
        SELECT source, response_key, model, strftime("timestamp", '%Y-%m-%d'),
               {", ".join(TOKEN_FIELDS)}
        FROM collected_usage
        WHERE source = ANY(?::VARCHAR[]) AND response_key = ANY(?::VARCHAR[])""",
                       [sources, response_keys]).fetchall()
    return {(source, response_key): {"source": source, "model": model, "day": day,
                                     **dict(zip(TOKEN_FIELDS, map(int, counts)))}
            for source, response_key, model, day, *counts in rows}


def _position(cur: Any, session_id: str, uuid: str) -> int | None:
    """Return how many of the session's entries come before ``uuid`` in page order."""
    found = cur.execute("""
        SELECT count(*) FROM collected_entries e,
            (SELECT "timestamp", seq FROM collected_entries
             WHERE session_id = $sid AND uuid = $uuid) x
        WHERE e.session_id = $sid
          AND (e."timestamp" < x."timestamp" OR (e."timestamp" = x."timestamp" AND e.seq < x.seq))
        GROUP BY x.seq""", {"sid": session_id, "uuid": uuid}).fetchone()
    if found is None:  # no entry before it, or no such entry
        exists = cur.execute("SELECT 1 FROM collected_entries WHERE session_id = ? AND uuid = ?",
                             [session_id, uuid]).fetchone()
        return 0 if exists else None
    return int(found[0])


# -- search and agents -------------------------------------------------------------------

def search(cur: Any, q: str, limit: int, since: datetime | None = None,
           until: datetime | None = None, **filters: Any) -> dict:
    """Return the sessions that ``GET /v1/traces/search`` finds for ``q``, kept when they
    match the filters.

    Without filters this is the API's answer for ``limit``. With them, the
    :data:`SEARCH_POOL` most recently active matching sessions are filtered (``pooled``
    says so): a common term then costs what the API's search for that many costs.
    Which entry matched is looked up when a result is opened (:func:`first_match`).
    """
    filtered = bool({k: v for k, v in filters.items() if v is not None} or since or until)
    found = search_module.search(cur, q, SEARCH_POOL if filtered else limit)
    if filtered:
        found = _keep(cur, found, naive_utc(since), naive_utc(until), filters)
    return {"results": found[:limit], "pooled": filtered}


def _keep(cur: Any, found: list[dict], since: datetime | None, until: datetime | None,
          filters: dict[str, Any]) -> list[dict]:
    """The sessions of ``found`` active in the range and matching the filters, in order."""
    if not found:
        return []
    facts = {}
    for row in cur.execute("""
            SELECT session_id, source, person, project_path, model, first_seen, last_updated
            FROM collected_sessions WHERE session_id = ANY(?::VARCHAR[])""",
                           [[s["id"] for s in found]]).fetchall():
        facts[row[0]] = dict(zip(("source", "user", "project", "model", "first", "last"),
                                 row[1:]))
    kept = []
    for session in found:
        fact = facts.get(session["id"])
        if fact is None or any(filters.get(n) is not None and fact[n] != filters[n]
                               for n in FILTERS):
            continue
        if since is not None and (fact["last"] is None or fact["last"] < since):
            continue
        if until is not None and (fact["first"] is None or fact["first"] >= until):
            continue
        kept.append(session)
    return kept


def first_match(cur: Any, session_id: str, q: str) -> str | None:
    """Return the uuid of the session's first (by arrival) entry whose text or tool name
    holds ``q``, as search finds it; None if none does.

    search.py's own test (its one definition of "holds"), in one session: the search's
    answer says how many entries match, not which.
    """
    if not q:
        return None
    with transaction(cur):
        since = cur.execute("SELECT first_seen FROM collected_sessions WHERE session_id = ?",
                            [session_id]).fetchone()
        if since is None:
            return None
        first = search_module.first_in_session(cur, q, session_id, since[0])
        if first is None:
            return None
        found = cur.execute("SELECT uuid FROM collected_entries WHERE seq = ?",
                            [first]).fetchone()
    return found[0] if found else None


def agent_list(cur: Any, now: datetime) -> list[dict]:
    """Return every agent as ``GET /v1/agents`` lists it, each with its ``sessions``."""
    with transaction(cur):
        listed = agents.list_agents(cur, now)
        counts = dict(cur.execute("SELECT instance_id, count(*) FROM collected_sessions "
                                  "WHERE instance_id IS NOT NULL GROUP BY 1").fetchall())
    for agent in listed:
        agent["sessions"] = int(counts.get(agent["instance_id"], 0))
    return listed


#: The queries the writer answers for the pages (writer.py ``_QUERIES``).
QUERIES = {
    "web_usage": usage,
    "web_overview": overview,
    "web_choices": choices,
    "web_sessions": sessions,
    "web_transcript": transcript,
    "web_search": search,
    "web_first_match": first_match,
    "web_entry_text": entry_text,
    "web_agents": agent_list,
}
