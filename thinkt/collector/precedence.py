"""Which path tells a session: its transcript (an exporter's batches) wins over telemetry.

A session can reach the collector twice: as its transcript, which an exporter reads and
sends to ``/v1/traces``, and as the assistant's own OpenTelemetry events (``/v1/logs``),
which become entries of the same session id. Only Claude Code's telemetry names ids its
transcript keeps; Codex and Gemini CLI name none. So the rule is per session, which every
tool allows, and it counts each API response once:

- A session is told by telemetry until any of its transcript arrives. Its telemetry
  entries (prompts, API requests with their tokens, tool results, errors) are its
  entries; its usage is theirs.
- The first transcript batch of such a session removes its telemetry entries, in the
  transaction that stores the batch, and the rollup recomputes the session from what
  remains: the transcript. The API request events themselves stay in
  ``telemetry_requests`` (with the client's cost and duration), outside every count.
- Telemetry of a session that has transcript entries is not made into entries at all.

The transcript is the complete record (texts, tools, projects, every response), so it
is the one kept. The rule can undercount only a session whose transcript stops being
sent part-way while the tool goes on: its later responses are known to telemetry alone.

:class:`Precedence` is the writer's; it keeps the set of telemetry-told sessions in
memory (loaded from ``telemetry_sessions`` at start), so an exporter's commit pays a
set lookup, not a query.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Iterable, Sequence

from thinkt.collector import longtext

log = logging.getLogger(__name__)

#: ``IngestRequest.origin`` of batches made from telemetry; None is an exporter's.
TELEMETRY = "telemetry"


class Precedence:
    """The sessions told by telemetry, and the checks that keep each told once."""

    def __init__(self, con: Any) -> None:
        self.telemetry_told: set[str] = {row[0] for row in con.execute(
            "SELECT session_id FROM telemetry_sessions").fetchall()}

    def superseded(self, requests: Sequence[Any]) -> set[str]:
        """Return the telemetry-told sessions that exporter batches of ``requests`` now tell."""
        if not self.telemetry_told:
            return set()
        return {r.session_id for r in requests if r.origin != TELEMETRY} & self.telemetry_told

    def told_by_transcript(self, con: Any, requests: Sequence[Any], watermark: int) -> set[str]:
        """Return the sessions of the telemetry batches of ``requests`` that a transcript
        tells: it has stored entries and is not telemetry-told, or an exporter batch of
        ``requests`` carries it.

        Stored sessions are those the rollup has folded (``collected_sessions``) and those
        of the entries past its ``watermark``, which it has not folded yet.
        """
        wanted = {r.session_id for r in requests if r.origin == TELEMETRY}
        if not wanted:
            return set()
        told = {r.session_id for r in requests if r.origin != TELEMETRY} & wanted
        unknown = sorted(wanted - told - self.telemetry_told)
        if unknown:
            rows = con.execute("""
                SELECT session_id FROM collected_sessions
                WHERE session_id IN (SELECT unnest($ids))
                UNION
                SELECT session_id FROM collected_entries
                WHERE seq > $watermark AND session_id IN (SELECT unnest($ids))
            """, {"ids": unknown, "watermark": int(watermark)}).fetchall()
            told.update(row[0] for row in rows)
        return told

    def apply(self, con: Any, requests: Sequence[Any], superseded: Iterable[str],
              now: datetime) -> None:
        """Within the commit's transaction: remove the entries of ``superseded`` sessions
        (marking them for the rollup to recompute) and record the new telemetry-told
        sessions of ``requests`` (their telemetry batches, already filtered)."""
        gone = sorted(superseded)
        if gone:
            ids = {"ids": gone}
            con.execute(f"DELETE FROM {longtext.SKETCH_TABLE} WHERE seq IN (SELECT seq FROM "
                        "collected_entries WHERE session_id IN (SELECT unnest($ids)))", ids)
            con.execute("DELETE FROM collected_entries WHERE session_id IN (SELECT unnest($ids))",
                        ids)
            con.execute("DELETE FROM telemetry_sessions WHERE session_id IN (SELECT unnest($ids))",
                        ids)
            con.execute("INSERT OR IGNORE INTO rollup_dirty SELECT unnest($ids)", ids)
        fresh = {r.session_id: r.source for r in requests
                 if r.origin == TELEMETRY and r.session_id not in self.telemetry_told}
        if fresh:
            con.execute("INSERT OR IGNORE INTO telemetry_sessions "
                        "SELECT unnest($ids), unnest($sources), $now",
                        {"ids": list(fresh), "sources": list(fresh.values()), "now": now})

    def committed(self, requests: Sequence[Any], superseded: Iterable[str]) -> None:
        """After the commit: the in-memory set follows what :meth:`apply` stored."""
        gone = set(superseded)
        if gone:
            log.info("%d sessions now told by their transcripts instead of telemetry",
                     len(gone))
        self.telemetry_told -= gone
        self.telemetry_told.update(r.session_id for r in requests if r.origin == TELEMETRY)
