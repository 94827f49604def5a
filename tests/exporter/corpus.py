"""Synthetic Claude Code session lines (our own, shaped like SOURCES.md §1) for exporter tests."""

from __future__ import annotations

import json
import os
from pathlib import Path


def claude_line(uuid: str, session: str, text: str = "hello", *, role: str = "user",
                cwd: str = "/work/project", timestamp: str = "2025-01-01T00:00:00.000Z",
                message_id: str | None = None) -> bytes:
    """One Claude Code record (a user prompt or an assistant text reply), newline included."""
    record: dict = {"type": role, "uuid": uuid, "sessionId": session, "timestamp": timestamp,
                    "cwd": cwd, "version": "2.1.38", "userType": "external"}
    if role == "user":
        record["message"] = {"role": "user", "content": text}
    else:
        record["message"] = {"id": message_id or f"msg_{uuid}", "role": "assistant",
                             "model": "claude-sonnet-4", "content": [{"type": "text",
                                                                      "text": text}],
                             "usage": {"input_tokens": 10, "output_tokens": 20,
                                       "cache_read_input_tokens": 100,
                                       "cache_creation_input_tokens": 5}}
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def session_file(home: Path, session: str, project: str = "-work-project") -> Path:
    """Return where Claude Code keeps ``session`` under ``home`` (directories created)."""
    directory = home / ".claude" / "projects" / project
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{session}.jsonl"


def write_session(home: Path, session: str, count: int, *, start: int = 0,
                  project: str = "-work-project", text_bytes: int = 40) -> list[str]:
    """Append ``count`` alternating user/assistant records; return their uuids."""
    path = session_file(home, session, project)
    uuids = []
    with open(path, "ab") as fh:
        for n in range(start, start + count):
            uuid = f"{session}-{n:06d}"
            role = "user" if n % 2 == 0 else "assistant"
            fh.write(claude_line(uuid, session, os.urandom(text_bytes // 2).hex(), role=role))
            uuids.append(uuid)
    return uuids
