"""Session files rewritten in place: streaming them whole, and shipping each entry once per version.

Gemini CLI rewrites its JSON sessions (and re-appends a JSONL message each time it grows);
Copilot's legacy history files are rewritten too. Such a file is read again whole after
every change, so the parser's state remembers a fingerprint of every entry it shipped,
grouped by message: an entry goes out again only when it is new or its content changed
(under the same uuid; the collector keeps the first copy it stored).

A document is read item by item of its array (:func:`stream_document`): entries leave
in batches, and a document larger than ``WHOLE_MAX`` is streamed with ijson (one item
held at a time), so a session of tens of megabytes costs the exporter no more memory
than a small one. Bytes that are not UTF-8 are replaced (U+FFFD) rather than costing
the document.
"""

from __future__ import annotations

import codecs
import logging
import os
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

from thinkt.exporter.entry import Entry
from thinkt.exporter.sources import ReadResult
from thinkt.exporter.sources.jsonl import loads

log = logging.getLogger(__name__)

#: A document up to this size is parsed in one go (faster); a larger one is streamed.
WHOLE_MAX = 4 * 1024 * 1024
#: Entries per batch of a streamed document, and the text they may hold together.
BATCH_ENTRIES = 500
BATCH_TEXT = 4 * 1024 * 1024
_CONTAINERS = ("start_map", "start_array")


def stream_document(path: Path | str, offset: int, state: dict, *, items: str,
                    header: tuple[str, ...],
                    entries_of: Callable[[Any, int, dict[str, Any]], list[Entry] | str | None],
                    finish: Callable[[dict[str, Any]], None]) -> ReadResult:
    """Read a JSON document one item of its top-level ``items`` array at a time.

    ``entries_of(item, index, header)`` turns an item into the entries to ship (or the
    reason it has none, counted; None: "unknown_type" for an object, else "malformed"),
    given the document's top-level scalars named in
    ``header`` (read before the items, wherever they stand). The entries come in
    ``ReadResult.batches``; ``finish(header)`` runs after the last item to save what the
    state needs. The result's offset is the size read; an empty file reads as nothing written
    yet; a file that does not parse (often one caught in the middle of a rewrite) is
    counted "malformed" and keeps the previous offset, so the rewrite that completes it
    is noticed and read again (what it had before the break has gone out already).
    """
    result = ReadResult([], offset, state)
    result.batches = _stream(Path(path), result, items, header, entries_of, finish)
    return result


def _stream(path: Path, result: ReadResult, items: str, header: tuple[str, ...],
            entries_of, finish) -> Iterator[list[Entry]]:
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        batch: list[Entry] = []
        held = 0
        values: dict[str, Any] = {}
        try:
            if size <= WHOLE_MAX:
                values, found, sequence = _whole(raw, header, items)
            else:
                values, found, sequence = _streamed(raw, header, items)
            for index, item in enumerate(sequence):
                entries = entries_of(item, index, values)
                if entries is None:
                    entries = "unknown_type" if isinstance(item, dict) else "malformed"
                if isinstance(entries, str):
                    result.skip(entries)
                    continue
                batch.extend(entries)
                held += sum(len(e.text or "") for e in entries)
                if len(batch) >= BATCH_ENTRIES or held >= BATCH_TEXT:
                    yield batch
                    batch, held = [], 0
        except _Blank:
            result.offset = size  # nothing written yet
            return
        except _Malformed as exc:
            log.debug("%s does not parse (%s): read again once rewritten", path, exc)
            result.skip("malformed")
            if batch:
                yield batch
            finish(values)
            return
        if not found:
            result.skip("malformed")  # JSON, but not the document this source writes
        if batch:
            yield batch
        finish(values)
        result.offset = size


class _Blank(Exception):
    """The file is empty (or blanks only): a session not written yet."""


class _Malformed(ValueError):
    """The file is not one JSON value (often: caught in the middle of a rewrite)."""


def _whole(raw, header: tuple[str, ...], items: str) -> tuple[dict[str, Any], bool, list]:
    """Parse a small document in one go: faster than streaming it, and small in memory."""
    data = raw.read()
    if not data or data.isspace():
        raise _Blank()
    document = loads(data)
    if document is None:
        raise _Malformed("not JSON")
    if not isinstance(document, dict) or not isinstance(document.get(items), list):
        return {}, False, []
    values = {name: document[name] for name in header
              if name in document and not isinstance(document[name], (dict, list))}
    return values, True, document[items]


def _streamed(raw, header: tuple[str, ...], items: str) -> tuple[dict[str, Any], bool, Iterator]:
    """Parse a large document item by item: only one item is held at a time."""
    import ijson  # the exporter extra's; only large whole-file sessions need it

    head = raw.read(65536)
    if not head.strip() and not raw.read(1):
        raise _Blank()
    raw.seek(0)
    text = _Utf8(raw)
    try:
        values, found = _scalars(ijson.parse(text), header, items)
    except ijson.JSONError as exc:
        raise _Malformed(str(exc)) from None
    text.seek(0)

    def sequence() -> Iterator:
        # items() builds each item in C, so streaming costs about what json.loads does.
        try:
            yield from ijson.items(text, items + ".item", use_float=True)
        except ijson.JSONError as exc:  # not a ValueError: said as one
            raise _Malformed(str(exc)) from None

    return values, found, sequence()


class _Utf8:
    """A file's bytes made valid UTF-8 for the parser (which refuses anything else).

    Decoded with replacement and encoded again: a stray byte that is not UTF-8 costs one
    character (U+FFFD), not the document, as for JSONL lines; a byte-order mark goes.
    """

    def __init__(self, raw) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")("replace")

    def read(self, size: int = -1) -> bytes:
        while True:
            data = self._raw.read(size)
            text = self._decoder.decode(data, final=not data)
            if text or not data:  # (a block may end inside a character: read on)
                return text.encode("utf-8")

    def seek(self, position: int) -> None:
        self._raw.seek(position)
        self._decoder.reset()


def _scalars(events, names: tuple[str, ...], items: str) -> tuple[dict[str, Any], bool]:
    """Return the top-level scalars ``names`` of a document from its parse ``events``, and
    whether it has the ``items`` array.

    Stops at the start of that array when all were found before it (as assistants
    write them); scans the rest of the document only when some were not.
    """
    values: dict[str, Any] = {}
    found = False
    for prefix, event, value in events:
        if prefix in names and event not in _CONTAINERS and event not in ("end_map",
                                                                          "end_array"):
            values.setdefault(prefix, value)
        elif prefix == items and event == "start_array":
            found = True
            if len(values) == len(names):
                break
    return values, found


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
