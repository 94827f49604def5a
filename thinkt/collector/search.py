"""Search: sessions whose entries contain a literal term, with a snippet of the first match.

Runs on a query thread's cursor; see :func:`search` for how the sketch columns of
sketch.py keep it from reading every entry's text.
"""

from __future__ import annotations

import logging
from typing import Any

from thinkt.collector import sketch
from thinkt.collector.queries import SESSION_SUMMARY, session_summary

log = logging.getLogger(__name__)

#: Characters of entry text around the first match that search returns.
SNIPPET_CHARS = 160

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
        SELECT {", ".join(f"s.{c}" for c in SESSION_SUMMARY)}, h.match_count, h.first_seq
        FROM collected_sessions s LEFT JOIN hits h USING (session_id)
        WHERE h.session_id IS NOT NULL OR contains(lower(s.project_path), $needle)
        ORDER BY s.last_updated DESC NULLS LAST, s.session_id
        LIMIT $limit
    """, {"needle": needle, "limit": int(limit)}).fetchall()
    texts = _first_matches(cur, [int(row[9]) for row in rows if row[9] is not None])
    results = []
    for row in rows:
        summary = session_summary(row)
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

