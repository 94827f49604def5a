"""The chaos generator: appends real-format session lines and remembers every identity written.

Three sources, each in the shape its parser reads from the real tools (SOURCES.md):
Claude Code (one record per line, ``uuid`` of its own; an assistant response sometimes
split over two lines sharing ``message.id`` with a growing ``output_tokens``), Codex
(``{timestamp, type, payload}`` envelopes; entries are ``<session>:<byte offset>``;
cumulative ``token_count`` events, each written twice as recent Codex does) and Qwen
Code (Claude-like records with Gemini ``parts`` and ``usageMetadata``).

Every entry the parsers will produce is recorded as ``(session_id, uuid)`` in
``written``, and every token the collector should count is added to ``tokens`` per
source, so the end of a run can compare identities and totals, not counts.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

SOURCES = ("claude", "codex", "qwen")
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write", "reasoning")
PROJECT = "/work/chaos"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _line(record: dict) -> bytes:
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


@dataclass
class Session:
    """One session file being appended to, and what its next line needs."""

    source: str
    session_id: str
    path: Path
    size: int = 0  # bytes written so far (Codex uuids are byte offsets)
    lines: int = 0
    total: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # Codex cumulative


class Generator:
    """Appends lines to many session files under a fake home at a steady rate."""

    def __init__(self, home: Path, rng: random.Random, sessions_per_source: int = 4,
                 max_sessions: int = 120) -> None:
        self.home = home
        self.rng = rng
        self.max_sessions = max_sessions
        self.sessions: list[Session] = []
        self.written: set[tuple[str, str]] = set()
        self.tokens: dict[str, dict[str, int]] = {s: dict.fromkeys(TOKEN_KINDS, 0)
                                                  for s in SOURCES}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for source in SOURCES:
            for _ in range(sessions_per_source):
                self.new_session(source)

    # -- sessions ---------------------------------------------------------------------
    def new_session(self, source: str) -> Session:
        """Create a new session file of ``source`` (its header line written for Codex)."""
        session_id = self._uuid()
        if source == "claude":
            path = self.home / ".claude" / "projects" / "-work-chaos" / f"{session_id}.jsonl"
        elif source == "codex":
            stamp = datetime.now(timezone.utc)
            path = (self.home / ".codex" / "sessions" / stamp.strftime("%Y/%m/%d")
                    / f"rollout-{stamp.strftime('%Y-%m-%dT%H-%M-%S')}-{session_id}.jsonl")
        else:
            chats = self.home / ".qwen" / "projects" / "-work-chaos" / "chats"
            path = chats / f"{session_id}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        session = Session(source, session_id, path)
        if source == "codex":
            self._append(session, [
                _line({"timestamp": _now(), "type": "session_meta",
                       "payload": {"id": session_id, "timestamp": _now(), "cwd": PROJECT,
                                   "originator": "codex_cli_rs", "cli_version": "0.104.0"}}),
                _line({"timestamp": _now(), "type": "turn_context",
                       "payload": {"cwd": PROJECT, "model": "gpt-5.3-codex"}}),
            ], [])
        self.sessions.append(session)
        return session

    def _uuid(self) -> str:
        return str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))

    # -- lines ------------------------------------------------------------------------
    def step(self) -> None:
        """Append one exchange (a prompt and its answer) to a random session."""
        with self.lock:
            if len(self.sessions) < self.max_sessions and self.rng.random() < 0.02:
                self.new_session(self.rng.choice(SOURCES))
            session = self.rng.choice(self.sessions)
            build = {"claude": self._claude, "codex": self._codex, "qwen": self._qwen}
            build[session.source](session)

    def _append(self, session: Session, lines: list[bytes], uuids: list[int | str]) -> None:
        """Write ``lines`` (sometimes a line in two writes, as a tool flushing mid-line does).

        ``uuids`` holds, per line, the entry uuid it yields (a str), the marker -1 for
        "uuid is the line's byte offset" (Codex), or None for lines with no entry.
        """
        offset = session.size
        data = b"".join(lines)
        with open(session.path, "ab") as fh:
            if self.rng.random() < 0.2 and len(data) > 10:
                cut = self.rng.randrange(1, len(data))
                fh.write(data[:cut])
                fh.flush()
                fh.write(data[cut:])
            else:
                fh.write(data)
        for line, ident in zip(lines, uuids):
            if ident == -1:
                self.written.add((session.session_id, f"{session.session_id}:{offset}"))
            elif ident is not None:
                self.written.add((session.session_id, ident))
            offset += len(line)
        session.size += len(data)
        session.lines += len(lines)

    def _count(self, source: str, **tokens: int) -> None:
        for kind, value in tokens.items():
            self.tokens[source][kind] += value

    def _claude(self, session: Session) -> None:
        base = {"sessionId": session.session_id, "cwd": PROJECT, "version": "2.1.38",
                "userType": "external"}
        prompt = dict(base, type="user", uuid=self._uuid(), timestamp=_now(),
                      message={"role": "user", "content": f"prompt {session.lines}"})
        usage = {"input_tokens": self.rng.randint(1, 500),
                 "cache_read_input_tokens": self.rng.randint(0, 5000),
                 "cache_creation_input_tokens": self.rng.randint(0, 300)}
        message_id = f"msg_{self._uuid().replace('-', '')}"
        # One API response: usually one line; sometimes two lines repeating the usage
        # with a streaming partial output first (counted once, with the largest).
        outputs = [self.rng.randint(1, 900)]
        if self.rng.random() < 0.3:
            outputs.insert(0, self.rng.randint(0, outputs[0]))
        lines, uuids = [_line(prompt)], [prompt["uuid"]]
        for part, output in enumerate(outputs):
            answer = dict(base, type="assistant", uuid=self._uuid(), timestamp=_now(),
                          requestId=f"req_{message_id}",
                          message={"id": message_id, "role": "assistant",
                                   "model": "claude-sonnet-4", "type": "message",
                                   "content": [{"type": "text", "text": f"part {part}"}],
                                   "usage": dict(usage, output_tokens=output)})
            lines.append(_line(answer))
            uuids.append(answer["uuid"])
        self._append(session, lines, uuids)
        self._count("claude", input=usage["input_tokens"], output=max(outputs),
                    cache_read=usage["cache_read_input_tokens"],
                    cache_write=usage["cache_creation_input_tokens"])

    def _codex(self, session: Session) -> None:
        fresh, cached = self.rng.randint(1, 400), self.rng.randint(0, 3000)
        reasoning = self.rng.randint(0, 200)
        output = reasoning + self.rng.randint(1, 600)
        previous = list(session.total)
        session.total = [previous[0] + fresh + cached, previous[1] + cached,
                         previous[2] + output, previous[3] + reasoning]
        total = dict(zip(("input_tokens", "cached_input_tokens", "output_tokens",
                          "reasoning_output_tokens"), session.total))
        last = {"input_tokens": fresh + cached, "cached_input_tokens": cached,
                "output_tokens": output, "reasoning_output_tokens": reasoning}
        count = _line({"timestamp": _now(), "type": "event_msg",
                       "payload": {"type": "token_count",
                                   "info": {"total_token_usage": total,
                                            "last_token_usage": last,
                                            "model_context_window": 272000}}})
        lines = [
            _line({"timestamp": _now(), "type": "event_msg",
                   "payload": {"type": "user_message", "message": f"prompt {session.lines}"}}),
            _line({"timestamp": _now(), "type": "response_item",
                   "payload": {"type": "message", "role": "assistant",
                               "content": [{"type": "output_text", "text": "answer"}]}}),
            _line({"timestamp": _now(), "type": "event_msg",
                   "payload": {"type": "agent_message", "message": "answer"}}),
            count,
            count,  # recent Codex writes every token_count twice: the copy adds nothing
        ]
        self._append(session, lines, [-1, None, -1, -1, None])
        self._count("codex", input=fresh, output=output, cache_read=cached, reasoning=reasoning)

    def _qwen(self, session: Session) -> None:
        base = {"sessionId": session.session_id, "cwd": PROJECT, "version": "0.18.1"}
        prompt = dict(base, uuid=self._uuid(), parentUuid=None, timestamp=_now(),
                      type="user", message={"role": "user",
                                            "parts": [{"text": f"prompt {session.lines}"}]})
        cached = self.rng.randint(0, 2000)
        prompt_tokens = cached + self.rng.randint(1, 400)
        candidates, thoughts = self.rng.randint(1, 500), self.rng.randint(0, 100)
        answer = dict(base, uuid=self._uuid(), parentUuid=prompt["uuid"],
                      timestamp=_now(), type="assistant", model="qwen3-coder-plus",
                      message={"role": "model", "parts": [{"text": "answer"}]},
                      usageMetadata={"promptTokenCount": prompt_tokens,
                                     "candidatesTokenCount": candidates,
                                     "thoughtsTokenCount": thoughts,
                                     "cachedContentTokenCount": cached,
                                     "totalTokenCount": prompt_tokens + candidates + thoughts})
        self._append(session, [_line(prompt), _line(answer)], [prompt["uuid"], answer["uuid"]])
        self._count("qwen", input=prompt_tokens - cached, output=candidates + thoughts,
                    cache_read=cached, reasoning=thoughts)

    # -- steady rate ------------------------------------------------------------------
    def start(self, rate: float) -> None:
        """Append ``rate`` exchanges a second from a background thread until stop()."""
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(1.0 / rate):
                self.step()

        self._thread = threading.Thread(target=loop, name="chaos-generator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop appending (bounded wait for the thread)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def totals(self) -> dict[str, int]:
        """Token totals over all sources, in the shape of ``/v1/traces/stats`` ``tokens``."""
        return {kind: sum(t[kind] for t in self.tokens.values()) for kind in TOKEN_KINDS}
