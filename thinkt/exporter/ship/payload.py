"""Payloads: entries grouped into POST bodies of one session, bounded in entries and bytes.

A payload holds at most 100 entries (CONTRACT.md §3) and at most ``MAX_BODY`` bytes of
JSON before compression, so every payload fits the collector's request limit (10 MiB
after decompression). Each entry is encoded once, on its own; an entry that alone is
larger than ``MAX_ENTRY`` has its text clipped to fit and says so on the wire
(``text_truncated``, and ``text_bytes``: the original size), so a huge pasted text
travels as a marked excerpt instead of being refused whole. A collector configured
with a smaller limit answers 413: :func:`shrink` halves the payload, or clips its
single entry further, down to ``MIN_ENTRY``.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import zlib
from typing import Any, Iterable

from thinkt.exporter.entry import CUT_MARK, Entry, utf8_len
from thinkt.exporter.ship.redact import Redactor, redact_entries

#: Most entries in one POST (CONTRACT.md §3).
MAX_ENTRIES = 100
#: Most bytes of JSON in one POST before compression: below the collector's 10 MiB
#: request limit with room for the envelope.
MAX_BODY = 9 * 1024 * 1024
#: Largest encoded entry; the text of a larger one is clipped to fit.
MAX_ENTRY = 8 * 1024 * 1024
#: Smallest size :func:`shrink` clips an entry to before the payload is given up on.
MIN_ENTRY = 64 * 1024
#: zlib level 1 compresses session JSON ~5-8x at a fraction of level 6's cost.
GZIP_LEVEL = 1
#: A text of at most this many characters cannot exceed MAX_ENTRY whatever it holds (an
#: astral character escapes to 12 bytes), so it is encoded without measuring first.
_SAFE_CHARS = MAX_ENTRY // 12 - 4096

# ASCII escapes keep a stray lone surrogate from a session file valid JSON on the wire.
_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


@dataclasses.dataclass(frozen=True)
class Payload:
    """One POST body (gzip JSON) of one session, and what it holds."""

    source: str
    session_id: str
    entries: int
    body: bytes
    clipped: int = 0  # entries whose text was cut to fit a request


def build(source: str, entries: Iterable[Entry], *, instance_id: str,
          machine_id: str | None = None, user: str | None = None,
          limit: int = MAX_ENTRIES, max_body: int = MAX_BODY,
          max_entry: int = MAX_ENTRY, redactor: Redactor | None = None,
          metadata_only: bool = False,
          project_paths: dict[str, str | None] | None = None) -> list[Payload]:
    """Group ``entries`` by session, in order, into payloads of at most ``limit`` entries
    and ``max_body`` bytes.

    Each entry's text is masked by ``redactor`` (or dropped, ``metadata_only``) here,
    before the payload can reach the buffer or the network; the counts per rule go in
    the payload's ``metadata``. A session's project path is the first one its entries
    name, or what ``project_paths`` says for it (when part of a session is built apart
    from the entries that name it). ``user`` is who the sessions belong to.
    """
    sessions: dict[str, list[Entry]] = {}
    for entry in entries:
        sessions.setdefault(entry.session_id, []).append(entry)
    built: list[Payload] = []
    for session_id, group in sessions.items():
        envelope: dict[str, Any] = {"source": source, "session_id": session_id,
                                    "instance_id": instance_id}
        project_path = (project_paths[session_id]
                        if project_paths is not None and session_id in project_paths
                        else next((e.project_path for e in group if e.project_path), None))
        if project_path:
            envelope["project_path"] = project_path
        if machine_id:
            envelope["machine_id"] = machine_id
        if user:
            envelope["user"] = user
        batch = _Batch(source, envelope, metadata_only)
        for entry in group:
            wire = entry.to_wire()
            found = redact_entries([wire], redactor, metadata_only)
            raw, cut = encode_entry(wire, max_entry)
            if batch.count and (batch.count >= limit
                                or batch.size + len(raw) > max_body - batch.overhead):
                built.append(batch.close())
                batch = _Batch(source, envelope, metadata_only)
            batch.add(raw, found, cut)
        if batch.count:
            built.append(batch.close())
    return built


class _Batch:
    """Encoded entries of one payload being filled."""

    def __init__(self, source: str, envelope: dict[str, Any], metadata_only: bool):
        self.source = source
        self.envelope = envelope
        self.metadata_only = metadata_only
        self.parts: list[bytes] = []
        self.redactions: dict[str, int] = {}
        self.size = 0
        self.clipped = 0
        #: The envelope's own bytes, with room for the metadata of the redactions.
        self.overhead = len(_ENCODER.encode(envelope)) + 4096

    @property
    def count(self) -> int:
        return len(self.parts)

    def add(self, raw: bytes, redactions: dict[str, int], clipped: bool) -> None:
        self.parts.append(raw)
        self.size += len(raw) + 1
        self.clipped += clipped
        for name, value in redactions.items():
            self.redactions[name] = self.redactions.get(name, 0) + value

    def close(self) -> Payload:
        envelope = dict(self.envelope)
        if self.redactions or self.metadata_only:
            envelope["metadata"] = ({"redactions": self.redactions} if self.redactions
                                    else {"metadata_only": True})
        body = _assemble(envelope, self.parts)
        return Payload(self.source, envelope["session_id"], len(self.parts), body, self.clipped)


def _assemble(envelope: dict[str, Any], parts: list[bytes]) -> bytes:
    """Return the gzip body of ``envelope`` with the encoded entries ``parts``.

    Compressed part by part: the JSON of a payload is never joined in memory (a clipped
    8 MiB entry would be copied once more).
    """
    gzip_stream = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [gzip_stream.compress(_ENCODER.encode(envelope)[:-1].encode("ascii")),
           gzip_stream.compress(b',"entries":[')]
    for number, part in enumerate(parts):
        if number:
            out.append(gzip_stream.compress(b","))
        out.append(gzip_stream.compress(part))
    out.append(gzip_stream.compress(b"]}"))
    out.append(gzip_stream.flush())
    return b"".join(out)


def encode_entry(wire: dict[str, Any], max_entry: int = MAX_ENTRY) -> tuple[bytes, bool]:
    """Return the JSON of one wire entry, its text clipped to fit ``max_entry`` bytes, and
    whether it was clipped (``wire`` is updated to match)."""
    text = wire.get("text")
    if not isinstance(text, str) or len(text) <= _SAFE_CHARS:
        raw = _ENCODER.encode(wire).encode("ascii")
        if len(raw) <= max_entry or not isinstance(text, str):
            return raw, False
    original = wire.get("text_bytes") or utf8_len(text)
    rest = len(_ENCODER.encode({**wire, "text": "", "text_truncated": True,
                                "text_bytes": original}))
    budget = max_entry - rest - len(CUT_MARK) * 6
    # Every character takes at least one byte: start from ``budget`` characters (no
    # copy of the whole text is encoded), then narrow by what the escapes really took.
    keep = min(len(text), max(budget, 0))
    while True:
        wire["text"] = text[:keep] + CUT_MARK
        wire["text_truncated"] = True
        wire["text_bytes"] = original
        raw = _ENCODER.encode(wire).encode("ascii")
        if len(raw) <= max_entry or keep == 0:
            return raw, True
        escaped = len(raw) - rest
        keep = max(0, min(keep - 1, int(keep * budget / escaped * 0.98)))


def encode(payload: dict[str, Any]) -> bytes:
    """Return the gzip-compressed JSON body of a payload dict."""
    return gzip.compress(_ENCODER.encode(payload).encode("ascii"), compresslevel=GZIP_LEVEL,
                         mtime=0)


def decode(body: bytes) -> dict[str, Any]:
    """Return the payload dict of a gzip body (for reports, splitting and tests)."""
    return json.loads(gzip.decompress(body))


def count_entries(body: bytes) -> int:
    """Return how many entries a gzip body holds (0 when it does not decode)."""
    try:
        entries = decode(body).get("entries")
    except (OSError, EOFError, ValueError, AttributeError):
        return 0
    return len(entries) if isinstance(entries, list) else 0


def shrink(body: bytes) -> list[tuple[bytes, int]]:
    """Return smaller bodies for one the collector found too large, with their entry counts.

    Several entries are halved into two payloads; a single entry has its text clipped
    to half its size. Empty when the entry is already at ``MIN_ENTRY`` or has no text to
    cut: the payload cannot be made smaller.
    """
    payload = decode(body)
    entries = payload.pop("entries")
    if len(entries) >= 2:
        middle = len(entries) // 2
        return [(encode({**payload, "entries": part}), len(part))
                for part in (entries[:middle], entries[middle:])]
    if not entries:
        return []
    wire = entries[0]
    size = len(_ENCODER.encode(wire))
    if size <= MIN_ENTRY or not isinstance(wire.get("text"), str) or not wire["text"]:
        return []
    encoded, _ = encode_entry(wire, max(MIN_ENTRY, size // 2))
    return [(_assemble(payload, [encoded]), 1)]
