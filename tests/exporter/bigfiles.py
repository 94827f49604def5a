"""Claude Code session files at real sizes, written fast: a template line per role, the
counter substituted, and the lines written in a few large writes.

The lines are the ones ``corpus.claude_line`` writes (same keys, same shape); only
their text is padded so that a line has the size asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tests.exporter.corpus import claude_line, session_file

#: Stands for the line's counter in a template (in its uuid and its text).
_MARK = "@@N@@"
#: Lines joined per write.
_WRITE_LINES = 2048


@dataclass
class Written:
    """What a builder wrote to one file."""

    path: Path
    session: str
    #: The ids of the file's records, in file order: the ``uuid`` field, or for a record
    #: written without one the id the Claude parser gives it, ``<file stem>:<byte offset>``.
    uuids: list[str] = field(default_factory=list)


def _template(session: str, role: str, line_bytes: int, *, with_uuid: bool = True) -> bytes:
    """A line of ``role`` about ``line_bytes`` long (newline included) with ``_MARK`` in it."""
    def build(text: str) -> bytes:
        line = claude_line(f"{session}-{_MARK}", session, text, role=role,
                           message_id=f"msg_{session}_{_MARK}")
        if with_uuid:
            return line
        record = json.loads(line)
        del record["uuid"]
        return (json.dumps(record, separators=(",", ":")) + "\n").encode()

    head = f"entry {_MARK} of {session}: "
    overhead = len(build(head))
    filler = "lorem ipsum dolor sit amet " * (line_bytes // 27 + 1)
    return build(head + filler[: max(0, line_bytes - overhead)])


def write_claude_session(path: Path, session: str, count: int, *, line_bytes: int = 1600,
                         start: int = 0, anonymous_every: int = 0,
                         final_newline: bool = True) -> Written:
    """Append ``count`` alternating user/assistant records of about ``line_bytes`` each.

    With ``anonymous_every=k``, every k-th record has no ``uuid`` field (the Claude parser
    then ids it ``<file stem>:<byte offset>``). Without ``final_newline`` the last record
    ends without its newline, as when the tool was killed mid-write or the file copied.
    """
    templates = {(role, anon): _template(session, role, line_bytes, with_uuid=not anon)
                 for role in ("user", "assistant") for anon in (False, True)}
    mark = _MARK.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    written = Written(path, session)
    with open(path, "ab") as fh:
        offset = fh.tell()
        chunk: list[bytes] = []
        for n in range(start, start + count):
            anon = anonymous_every > 0 and n % anonymous_every == anonymous_every - 1
            line = templates["user" if n % 2 == 0 else "assistant", anon].replace(
                mark, b"%06d" % n)
            written.uuids.append(f"{path.stem}:{offset}" if anon else f"{session}-{n:06d}")
            if n == start + count - 1 and not final_newline:
                line = line[:-1]
            chunk.append(line)
            offset += len(line)
            if len(chunk) >= _WRITE_LINES:
                fh.write(b"".join(chunk))
                chunk.clear()
        fh.write(b"".join(chunk))
    return written


def big_user_line(uuid: str, session: str, text_bytes: int) -> tuple[bytes, str]:
    """A user record whose text is ``text_bytes`` of UTF-8 (some of it not ASCII).

    Returns the line (newline included) and the text itself.
    """
    block = "tool output line with a few non-ASCII characters: é, ü, → \n"
    text = block * (text_bytes // len(block.encode()) + 1)
    raw = text.encode()[:text_bytes]
    text = raw.decode("utf-8", "ignore")
    return claude_line(uuid, session, text, role="user"), text


def write_many_sessions(home: Path, files: int, file_bytes: int, *, projects: int = 4,
                        line_bytes: int = 16 * 1024) -> list[Written]:
    """``files`` session files of about ``file_bytes`` each, spread over ``projects``."""
    count = max(1, file_bytes // line_bytes)
    out = []
    for n in range(files):
        session = f"many-{n:03d}"
        path = session_file(home, session, project=f"-work-project-{n % projects}")
        out.append(write_claude_session(path, session, count, line_bytes=line_bytes))
    return out
