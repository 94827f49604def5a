"""Session files rewritten in place: loading them whole, and shipping each entry once per version.

Gemini CLI rewrites its JSON sessions (and re-appends a JSONL message each time it grows);
Copilot's legacy history files are rewritten too. Such a file is read again whole after
every change, so the parser's state remembers a fingerprint of every entry it shipped,
grouped by message: an entry goes out again only when it is new or its content changed
(under the same uuid; the collector keeps the first copy it stored).
"""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path
from typing import Any

from thinkt.exporter.entry import Entry
from thinkt.exporter.sources import ReadResult
from thinkt.exporter.sources.jsonl import loads

log = logging.getLogger(__name__)

#: A rewritten session larger than this is skipped (and counted) rather than loaded.
MAX_DOCUMENT = 256 * 1024 * 1024


def load_document(path: Path | str, max_bytes: int = MAX_DOCUMENT) -> tuple[Any, int, str | None]:
    """Load a whole JSON file; return ``(document or None, bytes read, skip reason or None)``.

    An empty file gives ``(None, 0, None)``: nothing written yet. A file that does not
    parse (often one caught in the middle of a rewrite) gives the reason "malformed".
    Raises OSError when the file cannot be opened or read.
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            return None, size, "too_long"
        raw = fh.read()  # read(n) with a large n would allocate n bytes first
    if not raw or raw.isspace():  # (not raw.strip(): that copies the whole document)
        return None, len(raw), None
    document = loads(raw)
    if document is None:
        return None, len(raw), "malformed"
    return document, len(raw), None


def read_document(path: Path | str, offset: int, state: dict) -> tuple[Any, ReadResult]:
    """Load ``path`` whole for one read; return ``(document or None, the result to fill)``.

    The result's offset is the size read. A file that does not parse keeps the previous
    offset, so the rewrite that completes it is noticed and read again.
    """
    document, size, reason = load_document(path)
    result = ReadResult([], offset if reason == "malformed" else size, state)
    if reason:
        result.skip(reason)
    return document, result


def fingerprint(entry: Entry) -> int:
    """Return a short checksum of what an entry says: its text, error flag and counts.

    Only the length and both ends of the text take part (a message that grows, or gets
    its result, changes there): hashing whole tool outputs on every re-read of a
    rewritten file would cost more than parsing it. The integers are combined with
    ``hash`` of a tuple of integers, which (unlike string hashing) is the same in every
    process, so fingerprints saved in the state stay valid after a restart. A cut text
    also counts its whole size (a cut output that grows keeps the same cut text); it is
    left out otherwise, so the fingerprints of uncut entries stay what they were.
    """
    text = entry.text or ""
    ends = text if len(text) <= 128 else text[:64] + text[-64:]
    facts = (len(text), zlib.crc32(ends.encode("utf-8", "surrogatepass")),
             entry.is_error, entry.has_thinking, entry.thinking_len, entry.input_tokens,
             entry.output_tokens, entry.cache_read_tokens, entry.cache_write_tokens,
             entry.reasoning_tokens)
    if entry.text_truncated:
        facts += (entry.text_bytes,)
    return hash(facts) & 0xFFFFFFFF


class Shipped:
    """Fingerprints of the entries already shipped from one file, grouped by message id.

    ``keep`` bounds how many messages are remembered (most recently touched kept), for
    append-only files where only recent messages are ever re-appended; None keeps all,
    as a file that is re-read whole must.
    """

    def __init__(self, saved: Any = None, keep: int | None = None) -> None:
        self._groups: dict[str, dict[str, int]] = {}
        if isinstance(saved, dict):
            for group, prints in saved.items():
                if isinstance(prints, dict):
                    self._groups[str(group)] = {
                        str(k): v for k, v in prints.items() if isinstance(v, int)}
        self._keep = keep

    def select(self, group: str, entries: list[Entry], remember: bool = True) -> list[Entry]:
        """Return the entries of ``group`` that are new or changed, and remember them.

        ``remember=False`` is for a group that would be forgotten at once (an old message
        of a long append-only read): unless shipped before, it all goes out, unrecorded.
        """
        if not remember and group not in self._groups:
            return entries
        seen = self._groups.pop(group, None) or {}
        fresh = []
        for entry in entries:
            mark = fingerprint(entry)
            # keyed by what the uuid adds to the group id ("", ":call", ...): a small state
            key = entry.uuid[len(group):] if entry.uuid.startswith(group) else entry.uuid
            if seen.get(key) != mark:
                seen[key] = mark
                fresh.append(entry)
        self._groups[group] = seen  # re-inserted last: the most recently touched group
        if self._keep is not None:
            while len(self._groups) > self._keep:
                del self._groups[next(iter(self._groups))]
        return fresh

    def to_state(self) -> dict[str, dict[str, int]]:
        """Return the fingerprints as a JSON-serialisable dict."""
        return self._groups
