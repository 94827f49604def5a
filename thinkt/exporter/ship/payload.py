"""Payloads: entries grouped into POST bodies of one session and at most 100 entries, gzipped."""

from __future__ import annotations

import gzip
import json
import logging
from typing import Any, Iterable

from thinkt.exporter.entry import Entry
from thinkt.exporter.ship.redact import Redactor, redact_entries

log = logging.getLogger(__name__)

#: Most entries in one POST (CONTRACT.md §3).
MAX_ENTRIES = 100
#: zlib level 1 compresses session JSON ~5-8x at a fraction of level 6's cost.
GZIP_LEVEL = 1


def build(source: str, entries: Iterable[Entry], *, instance_id: str,
          machine_id: str | None = None, limit: int = MAX_ENTRIES,
          redactor: Redactor | None = None, metadata_only: bool = False,
          ) -> list[dict[str, Any]]:
    """Group ``entries`` by session, in order, into payload dicts of at most ``limit`` entries.

    Each entry's text is masked by ``redactor`` (or dropped, ``metadata_only``) here,
    before the payload can reach the buffer or the network; the counts per rule go in
    the payload's ``metadata``.
    """
    sessions: dict[str, list[Entry]] = {}
    for entry in entries:
        sessions.setdefault(entry.session_id, []).append(entry)
    payloads = []
    for session_id, group in sessions.items():
        project_path = next((e.project_path for e in group if e.project_path), None)
        for start in range(0, len(group), limit):
            wires = [e.to_wire() for e in group[start:start + limit]]
            redactions = redact_entries(wires, redactor, metadata_only)
            payload: dict[str, Any] = {
                "source": source,
                "session_id": session_id,
                "instance_id": instance_id,
                "entries": wires,
            }
            if redactions or metadata_only:
                payload["metadata"] = ({"redactions": redactions} if redactions
                                       else {"metadata_only": True})
            if project_path:
                payload["project_path"] = project_path
            if machine_id:
                payload["machine_id"] = machine_id
            payloads.append(payload)
    return payloads


def encode(payload: dict[str, Any]) -> bytes:
    """Return the gzip-compressed JSON body of ``payload``."""
    # ASCII escapes keep a stray lone surrogate from a session file valid JSON on the wire.
    raw = json.dumps(payload, separators=(",", ":")).encode("ascii")
    return gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)


def decode(body: bytes) -> dict[str, Any]:
    """Return the payload dict of a gzip body (for reports and splitting)."""
    return json.loads(gzip.decompress(body))


def split(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Halve a payload's entries (for a body the collector found too large)."""
    entries = payload["entries"]
    if len(entries) < 2:
        return [payload]
    middle = len(entries) // 2
    return [{**payload, "entries": entries[:middle]}, {**payload, "entries": entries[middle:]}]
