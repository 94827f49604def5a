"""Search: sessions whose entries contain a literal term, with a snippet of the first match.

Runs on a query thread's cursor, in one snapshot. The sketches pick candidates without
reading text: each short entry's own (sketch.py), pushed into the scan of
``collected_entries`` so that DuckDB reads text only for the rows it lets through, and
each long text's chunks' (longtext.py). Python then decides on every candidate with
``str.lower``, the one definition of "contains" here.

A term in many entries is not verified everywhere: when the scan turns up
:data:`COMMON` candidates, only the most recently active sessions are searched, a
window at a time, until ``limit`` of them match. bench/store.py measures both ways.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from thinkt.collector import longtext, sketch
from thinkt.collector.database import transaction
from thinkt.collector.queries import SESSION_SUMMARY, session_summary

log = logging.getLogger(__name__)

#: Characters of entry text around the first match that search returns.
SNIPPET_CHARS = 160
#: Candidates of a short text or tool name that make a term common: search then turns
#: to windows of recent sessions instead of verifying every candidate (10,000 short
#: texts are ~10 MB to read and lower-case; a window is a scan of recent entries).
COMMON = 10_000
#: Candidate long texts that make a term common (each is unpacked to be tested: ~0.1 ms
#: for 25 KB).
COMMON_LONG = 500
#: Recent sessions searched in a window, at least. The first window holds a quarter
#: more sessions than asked for; the next ones as many as the matches seen so far
#: promise, with half again to spare (each window is a scan of the entries).
MIN_WINDOW = 16
#: How long search waits for the query it runs beside its own (see _Beside).
QUERY_TIMEOUT = 120.0


class _Hits:
    """Matching entries per session: how many, and the first one (by arrival) with its text."""

    def __init__(self, needle: str) -> None:
        self.needle = needle
        self.count: dict[str, int] = {}
        self.first: dict[str, tuple[int, str | None, str | None]] = {}
        self.counted: set[int] = set()

    def test(self, session_id: str, seq: int, text: str | None, tool: str | None) -> None:
        """Count the entry (once) if its text or tool name contains the needle."""
        if seq in self.counted:
            return  # a long entry whose tool name matched already
        if self.needle in (text or "").lower() or self.needle in (tool or "").lower():
            self.counted.add(seq)
            self.count[session_id] = self.count.get(session_id, 0) + 1
            if seq < self.first.get(session_id, (seq + 1,))[0]:
                self.first[session_id] = (seq, text, tool)


def search(cur: Any, q: str, limit: int) -> list[dict]:
    """Return sessions with an entry text, tool name or project path containing ``q``.

    Matching is a literal substring test of ``q.lower()`` in ``str.lower()`` of the
    text, tool name and project path: ``%``, ``_`` and ``\\`` are ordinary characters.
    Most recently active sessions come first. ``match_count`` is the number of
    matching entries (at least 1 when only the project path matches); ``snippet`` is
    text around the first match (by arrival), else the matching tool name or project path.
    """
    needle = q.lower()
    if not needle or limit <= 0:
        return []
    hits = _Hits(needle)
    with transaction(cur), _Beside(cur, _long_candidates, needle, None, COMMON_LONG) as beside:
        paths = _path_matches(cur, needle)
        short = _short_candidates(cur, needle, None, COMMON)
        long = beside.result() if len(short) < COMMON else []
        if len(short) < COMMON and len(long) < COMMON_LONG:
            for row in short:
                hits.test(*row)
            _test_long(cur, long, hits)
            rows = _summaries(cur, set(hits.count) | paths, limit)
        else:
            rows = _recent_matches(cur, needle, paths, hits, limit)
    results = []
    for row in rows:
        summary = session_summary(row)
        _, text, tool = hits.first.get(summary["id"], (None, None, None))
        summary["match_count"] = max(hits.count.get(summary["id"], 0), 1)
        summary["snippet"] = _snippet(needle, text, tool, summary["project_path"])
        results.append(summary)
    return results


def first_in_session(cur: Any, q: str, session_id: str, since: Any = None) -> int | None:
    """Return the ``seq`` of the session's first entry (by arrival) whose text or tool name
    holds ``q``, as :func:`search` counts it (``str.lower`` on both sides); None if none.

    ``since``: no entry of the session is older (its ``first_seen``), which lets DuckDB
    skip the row groups of older entries.
    """
    needle = q.lower()
    if not needle:
        return None
    hits = _Hits(needle)
    for row in _short_candidates(cur, needle, [session_id], None, since):
        hits.test(*row)
    _test_long(cur, _long_candidates(cur, needle, [session_id], None, since), hits)
    first = hits.first.get(session_id)
    return first[0] if first is not None else None


class _Beside:
    """One candidate query run on a cursor of its own, in a thread, beside the caller's.

    The collector's DuckDB runs a query on the thread that asked (one thread each) and
    lets go of the GIL meanwhile, so the scans of the short texts' sketches and of the
    long texts' chunk sketches, each ~half of a rare term's search, overlap. The second
    cursor reads the newest snapshot, not the caller's: the long candidates it finds are
    then read on the caller's cursor, so an entry committed in between is not counted,
    as in the caller's snapshot.
    """

    def __init__(self, cur: Any, query: Callable[..., Any], *args: Any) -> None:
        self._cursor = cur.cursor()
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(query, args),
                                        name="thinkt-search", daemon=True)
        self._thread.start()

    def _run(self, query: Callable[..., Any], args: tuple) -> None:
        try:
            self._result = query(self._cursor, *args)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> Any:
        """Wait (at most QUERY_TIMEOUT) for the query's answer; raise what it raised."""
        self._thread.join(QUERY_TIMEOUT)
        if self._thread.is_alive():
            raise TimeoutError(f"a search query ran longer than {QUERY_TIMEOUT:g} s")
        if self._error is not None:
            raise self._error
        return self._result

    def __enter__(self) -> "_Beside":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._thread.is_alive():  # not needed after all (a common term), or failed
            self._cursor.interrupt()
            self._thread.join(QUERY_TIMEOUT)
        self._cursor.close()


def _recent_matches(cur: Any, needle: str, paths: set[str], hits: _Hits,
                    limit: int) -> list[tuple]:
    """Return the summaries of the ``limit`` most recently active matching sessions,
    searching windows of recent sessions in turn; count their matches in ``hits``."""
    chosen: list[tuple] = []
    offset, size = 0, max(MIN_WINDOW, -(-limit * 5 // 4))
    while len(chosen) < limit:
        window = cur.execute(
            f"SELECT {', '.join(SESSION_SUMMARY)} FROM collected_sessions "
            "ORDER BY last_updated DESC NULLS LAST, session_id LIMIT ? OFFSET ?",
            [size, offset]).fetchall()
        if not window:
            break
        sessions = [row[0] for row in window]
        # No entry of a session is older than its first_seen: DuckDB skips the row groups
        # that hold only older entries (its min/max of each column), which for recent
        # sessions is most of them.
        since = min((row[6] for row in window if row[6] is not None), default=None)
        for row in _short_candidates(cur, needle, sessions, None, since):
            hits.test(*row)
        _test_long(cur, _long_candidates(cur, needle, sessions, None, since), hits)
        chosen.extend(row for row in window if row[0] in hits.count or row[0] in paths)
        offset += len(window)
        wanted = (limit - len(chosen)) * offset / max(len(chosen), 1)
        size = max(MIN_WINDOW, min(2 * offset, int(wanted * 1.5)))
    return chosen[:limit]


def _summaries(cur: Any, sessions: set[str], limit: int) -> list[tuple]:
    """Return the summaries of the ``limit`` most recently active of ``sessions``."""
    if not sessions:
        return []
    return cur.execute(
        f"SELECT {', '.join(SESSION_SUMMARY)} FROM collected_sessions "
        "WHERE session_id = ANY(?::VARCHAR[]) "
        "ORDER BY last_updated DESC NULLS LAST, session_id LIMIT ?",
        [sorted(sessions), int(limit)]).fetchall()


def _path_matches(cur: Any, needle: str) -> set[str]:
    """Return the sessions whose project path contains ``needle``."""
    # A team has few projects: deciding on each distinct path in Python is cheap.
    matching = [path for (path,) in cur.execute(
        "SELECT DISTINCT project_path FROM collected_sessions WHERE project_path IS NOT NULL"
    ).fetchall() if needle in path.lower()]
    if not matching:
        return set()
    return {session_id for (session_id,) in cur.execute(
        "SELECT session_id FROM collected_sessions WHERE project_path = ANY(?::VARCHAR[])",
        [matching]).fetchall()}


def _short_candidates(cur: Any, needle: str, sessions: list[str] | None, cap: int | None,
                      since: Any = None) -> list[tuple]:
    """Return ``(session_id, seq, text, tool_name)`` of the entries whose sketch may hold
    ``needle``: in ``sessions`` only (None: all), at most ``cap`` (None: all), none with a
    timestamp before ``since`` (None: any).

    The sketch's test reads one column and cannot fail, so DuckDB pushes it into the
    scan and reads text only for the rows it lets through (a long entry's text is NULL
    here: its sketch covers its tool name).
    """
    where, params = _scope(needle, sessions)
    if since is not None:
        where.append('"timestamp" >= ?')
        params.append(since)
    return cur.execute(f"SELECT session_id, seq, text, tool_name FROM collected_entries "
                       f"WHERE {' AND '.join(where)} {_bound(cap)}", params).fetchall()


def _long_candidates(cur: Any, needle: str, sessions: list[str] | None, cap: int | None,
                     since: Any = None) -> list[int]:
    """Return the ``seq`` of entries whose long text may hold ``needle`` (in ``sessions``;
    None: all), at most ``cap`` (None: all), none with a timestamp before ``since``
    (None: any): their chunks' sketches are tested for the needle's first characters
    (longtext.prefix)."""
    where, params = _scope(longtext.prefix(needle), sessions)
    if since is not None:
        # Chunks carry no time; every entry from ``since`` on comes after the first of
        # them, and chunks are appended in seq order, so DuckDB skips the older ones.
        first = cur.execute('SELECT min(seq) FROM collected_entries WHERE "timestamp" >= ?',
                            [since]).fetchone()[0]
        if first is None:
            return []
        where.append("seq >= ?")
        params.append(first)
    return [seq for (seq,) in cur.execute(
        f"SELECT DISTINCT seq FROM {longtext.SKETCH_TABLE} "
        f"WHERE {' AND '.join(where)} {_bound(cap)}", params).fetchall()]


def _scope(needle: str, sessions: list[str] | None) -> tuple[list[str], list[Any]]:
    """Return the conditions (and their parameters) every candidate query starts with:
    the sketch may hold ``needle``, and the row is of ``sessions`` (None: of any)."""
    where, params = [sketch.condition(needle) or "true"], []
    if sessions is not None:
        where.append("session_id = ANY(?::VARCHAR[])")
        params.append(sessions)
    return where, params


def _bound(cap: int | None) -> str:
    return f"LIMIT {int(cap)}" if cap is not None else ""


def _test_long(cur: Any, seqs: list[int], hits: _Hits) -> None:
    """Count in ``hits`` the entries of ``seqs`` whose long text holds the needle."""
    if not seqs:
        return
    for session_id, seq, packed in cur.execute(
            "SELECT session_id, seq, long_text FROM collected_entries WHERE seq = ANY(?)",
            [seqs]).fetchall():
        # Its tool name was tested with the short candidates (its own sketch covers it).
        hits.test(session_id, seq, longtext.unpack(packed), None)


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
