"""Reading append-only JSONL session files from a byte offset, complete lines only.

A line is ours once its trailing newline is on disk: the assistant may be in the
middle of writing it. A last line without its newline is ours too when the read is
``final`` (a one-shot run, or a file that has been quiet for a while: the tool was
killed, or the file was copied) and it parses as one JSON object: a complete object
cannot be the start of a longer valid line, so a newline written later adds an empty
line and nothing else. Reads are bounded, so a large history is taken in slices, but a
single long line (tool outputs can be megabytes) is still read whole up to
``MAX_LINE``; longer lines are skipped and counted, never held in memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Protocol

from thinkt.exporter.sources import ReadResult

#: Bytes read per call before stopping at the last complete line. The exporter's peak
#: memory follows it (one-shot export of 40 MB files, bench/export.py: 70 MB at 8 MiB,
#: 53 MB at 4 MiB, 46 MB at 2 MiB) while parsing speed does not.
SLICE = 2 * 1024 * 1024
#: Lines longer than this are skipped (and counted) rather than parsed.
MAX_LINE = 64 * 1024 * 1024
_BLOCK = 1024 * 1024


class Lines:
    """The complete lines of one slice of a file, with their byte offsets."""

    __slots__ = ("lines", "offset", "too_long", "tail")

    def __init__(self) -> None:
        #: ``(start_offset, line)`` for each complete line, newline stripped (bytes, or a
        #: bytearray for a line longer than a slice).
        self.lines: list[tuple[int, bytes]] = []
        #: Where the next read starts: just past the last complete line consumed.
        self.offset = 0
        #: Lines skipped because they were longer than ``MAX_LINE``.
        self.too_long = 0
        #: Bytes after ``offset`` left unread because they end without a newline and
        #: were not taken as a final record (0 when the read reached the end).
        self.tail = 0


def read_lines(path: Path | str, offset: int, slice_bytes: int = SLICE,
               max_line: int = MAX_LINE, final: bool = False) -> Lines:
    """Return the complete lines of ``path`` from ``offset``, at most about ``slice_bytes``.

    A last line without its newline is left for a later read, unless ``final`` and it
    is one whole JSON object (see the module docstring). Blank lines are dropped
    (their bytes are consumed).
    """
    result = Lines()
    result.offset = offset
    with open(path, "rb") as fh:
        fh.seek(offset)
        buf = fh.read(slice_bytes)
        if not buf:
            return result
        end = buf.rfind(b"\n")
        if end == -1:
            # No newline in a whole slice: one long line. Keep reading until it ends.
            return _read_long_line(fh, offset, buf, result, max_line, final)
        pos = offset
        # The buffer itself is split, not a copy of it up to the last newline: one
        # slice-sized allocation less per read (bench/parse.py: up to a fifth faster).
        parts = buf.split(b"\n")
        rest = parts.pop()  # the bytes after the last newline: a line not complete yet
        for raw in parts:
            if raw.strip():
                result.lines.append((pos, raw))
            pos += len(raw) + 1
        if rest and fh.read(1) == b"":  # the file ends without a newline
            if final and not rest.strip():
                pos += len(rest)  # blanks: no record will ever be there
            elif final and is_record(rest):
                result.lines.append((pos, rest))
                pos += len(rest)
            else:
                result.tail = len(rest)
        result.offset = pos
    return result


def is_record(raw: bytes) -> bool:
    """Return True when ``raw`` (a line without its newline) is one whole JSON object."""
    return isinstance(loads(raw), dict)


def _read_long_line(fh, offset: int, head: bytes, result: Lines, max_line: int,
                    final: bool) -> Lines:
    # One growing buffer, not a list of blocks joined at the end: a 12 MB line costs
    # 12 MB here, not 24.
    line = bytearray(head)
    size = len(head)
    while True:
        block = fh.read(_BLOCK)
        if not block:
            # Still no newline: a partial line, not ours yet, unless it is a whole final
            # record (kept in memory only when it is short enough to parse).
            if final and size <= max_line and is_record(line):
                result.lines.append((offset, line))  # a bytearray: no copy
                result.offset = offset + size
            else:
                result.tail = size
            return result
        nl = block.find(b"\n")
        if nl != -1:
            size += nl
            if size <= max_line:
                line += block[:nl]
                result.lines.append((offset, line))  # a bytearray: no copy
            else:
                result.too_long += 1
            result.offset = offset + size + 1
            return result
        size += len(block)
        if size <= max_line:
            line += block
        elif line:
            line = bytearray()  # too long to keep: stream past it and count it


#: The C scanner behind json.loads, called directly: a session line is one JSON value
#: with nothing around it, and skipping loads()' encoding sniffing and whitespace
#: handling makes parsing about a third faster.
_scan_once = json.JSONDecoder().scan_once


def loads(raw: bytes) -> Any:
    """Parse one JSON line; return None when it is not JSON.

    Bytes that are not UTF-8 are replaced (U+FFFD) rather than costing the record.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
    try:
        value, end = _scan_once(text, 0)
        if end == len(text) or text[end:].isspace():  # a document's final newline
            return value
    except (StopIteration, ValueError, RecursionError):
        pass
    # Blanks around the value, a byte-order mark, or trailing garbage: json.loads decides.
    try:
        return json.loads(text.lstrip("\ufeff"))
    except (ValueError, RecursionError):
        return None


class RecordReader(Protocol):
    """Turns the records of one read into entries (what :func:`read_records` drives)."""

    def record(self, record: dict, line_offset: int) -> None:
        """Handle one JSON object found at ``line_offset``."""

    def save(self) -> None:
        """Write what the next read needs into the state, after the last record."""


def read_records(path: Path | str, offset: int, state: dict | None,
                 reader: Callable[[Path, dict, ReadResult], RecordReader],
                 final: bool = False) -> ReadResult:
    """Read the complete new lines of ``path`` as JSON objects through ``reader``.

    ``reader(path, state, result)`` is built once per read with a copy of ``state``
    (the dict that becomes ``result.state``). Lines that are not JSON objects are
    counted as "malformed", over-long lines as "too_long"; ``final`` takes a last line
    without newline that is one whole record (:func:`read_lines`). Raises OSError only
    when the file cannot be opened or read.
    """
    path = Path(path)
    lines = read_lines(path, offset, final=final)
    result = ReadResult(entries=[], offset=lines.offset, state=dict(state) if state else {},
                        tail=lines.tail)
    if lines.too_long:
        result.skip("too_long", lines.too_long)
    handler = reader(path, result.state, result)
    for line_offset, raw in lines.lines:
        record = loads(raw)
        if isinstance(record, dict):
            handler.record(record, line_offset)
        else:
            result.skip("malformed")
    handler.save()
    return result
