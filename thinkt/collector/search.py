"""Search: sessions whose entries contain a literal term, with a snippet of the first match.

Runs on a query thread's cursor; see :func:`search` for how the sketch of sketch.py
keeps it from reading every entry's text.
"""

from __future__ import annotations

import logging
from typing import Any

from thinkt.collector import sketch
from thinkt.collector.queries import SESSION_SUMMARY, session_summary

log = logging.getLogger(__name__)

#: Characters of entry text around the first match that search returns.
SNIPPET_CHARS = 160

# DuckDB's lower() is Python's str.lower() on every code point but two (test_search.py
# checks the whole of Unicode): 'İ' is 'i' in DuckDB and 'i̇' (i, U+0307) in Python, and
# Python writes a word-final 'Σ' as 'ς' where DuckDB writes 'σ'. SQL replaces the first;
# entries with the second are checked in Python when the needle holds a sigma.
_DOTTED_I, _DOTTED_I_LOWER = "\u0130", "i\u0307"
_SIGMA, _SIGMAS = "\u03a3", ("\u03c3", "\u03c2")


def search(cur: Any, q: str, limit: int) -> list[dict]:
    """Return sessions with an entry text, tool name or project path containing ``q``.

    Matching is a literal substring test of ``q.lower()`` in ``str.lower()`` of the
    text, tool name and project path: ``%``, ``_`` and ``\\`` are ordinary characters.
    Most recently active sessions come first. ``match_count`` is the number of
    matching entries (at least 1 when only the project path matches); ``snippet`` is
    text around the first match (by arrival), else the matching tool name or project path.

    The sketch (sketch.py) rules out most entries before their text is read: its test
    reads one column and cannot fail, so DuckDB pushes it into the scan and fetches
    text only for the rows it lets through. The exact test covers two columns, so it
    stays above the scan and runs on those rows only. bench/search.py measures it.
    """
    needle = q.lower()
    if not needle or limit <= 0:
        return []
    prefilter = sketch.condition(needle) or "true"
    columns = ("text", "tool_name", "s.project_path")
    # A text holding the needle as it is matches without lower-casing it (the needle is
    # lower case already, and lower() maps it to itself): long texts mostly stop there.
    exact = {c: f"(contains({c}, $needle) OR contains({_lower(c, needle)}, $needle))"
             for c in columns}
    found: list[tuple[str, int]] = []
    paths: list[str] = []
    in_sql = "true"
    if any(sigma in needle for sigma in _SIGMAS):
        # Entries and paths with a capital sigma: str.lower() decides, in Python.
        in_python = (f"coalesce(contains(text, '{_SIGMA}') OR contains(tool_name, '{_SIGMA}'), "
                     "false)")
        in_sql = f"NOT {in_python}"
        path = "s.project_path"
        exact[path] = f"(NOT coalesce(contains({path}, '{_SIGMA}'), false) AND {exact[path]})"
        found = [(session_id, seq) for session_id, seq, text, tool in cur.execute(
            f"SELECT session_id, seq, text, tool_name FROM collected_entries "
            f"WHERE {prefilter} AND {in_python}").fetchall()
            if needle in (text or "").lower() or needle in (tool or "").lower()]
        paths = [session_id for session_id, path in cur.execute(
            "SELECT session_id, project_path FROM collected_sessions "
            f"WHERE contains(project_path, '{_SIGMA}')").fetchall() if needle in path.lower()]
    rows = cur.execute(f"""
        WITH hits AS (
            SELECT session_id, count(*) AS match_count, min(seq) AS first_seq
            FROM (
                SELECT session_id, seq FROM collected_entries
                WHERE {prefilter} AND {in_sql} AND ({exact["text"]} OR {exact["tool_name"]})
                UNION ALL
                SELECT unnest($sessions::VARCHAR[]), unnest($seqs::BIGINT[])
            )
            GROUP BY session_id
        )
        SELECT {", ".join(f"s.{c}" for c in SESSION_SUMMARY)}, h.match_count, h.first_seq
        FROM collected_sessions s LEFT JOIN hits h USING (session_id)
        WHERE h.session_id IS NOT NULL OR {exact["s.project_path"]}
           OR list_contains($paths::VARCHAR[], s.session_id)
        ORDER BY s.last_updated DESC NULLS LAST, s.session_id
        LIMIT $limit
    """, {"needle": needle, "limit": int(limit), "sessions": [f[0] for f in found],
          "seqs": [f[1] for f in found], "paths": paths}).fetchall()
    texts = _first_matches(cur, [int(row[9]) for row in rows if row[9] is not None])
    results = []
    for row in rows:
        summary = session_summary(row)
        text, tool = texts.get(row[9], (None, None)) if row[9] is not None else (None, None)
        summary["match_count"] = max(int(row[8] or 0), 1)
        summary["snippet"] = _snippet(needle, text, tool, summary["project_path"])
        results.append(summary)
    return results


def _lower(column: str, needle: str) -> str:
    """Return SQL for ``str.lower()`` of ``column`` as far as a match of ``needle`` can tell.

    'İ' matters only to a needle with an 'i' or U+0307; the sigma is left to the caller.
    """
    if "i" in needle or "\u0307" in needle:
        return f"lower(replace({column}, '{_DOTTED_I}', '{_DOTTED_I_LOWER}'))"
    return f"lower({column})"


def _first_matches(cur: Any, seqs: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """Return ``seq -> (text, tool_name)`` of the given entries."""
    if not seqs:
        return {}
    # A join on a list parameter lets DuckDB push the wanted seqs into the scan and read
    # only their text (4 ms for 50 at 1M entries); a literal IN list reads every text.
    rows = cur.execute("SELECT seq, text, tool_name FROM collected_entries "
                       "WHERE seq IN (SELECT unnest(?::BIGINT[]))", [seqs]).fetchall()
    return {seq: (text, tool) for seq, text, tool in rows}


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

