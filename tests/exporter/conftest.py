"""Fixtures for exporter tests: a tiny fake source, a stub collector, a built runtime.

The stub collector is a real HTTP server on a thread (no mocks of ``requests``): it
decompresses and records every payload, keeps entries unique per (session, uuid) the
way the real collector does, and answers what a test scripts (statuses, delays,
Retry-After), or refuses connections while it is stopped.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import pytest

from thinkt.exporter.ship.endpoint import Endpoint
from thinkt.exporter.entry import Entry
from thinkt.exporter.watch.roots import WatchRoot
from thinkt.exporter.runtime import Options
from thinkt.exporter.sources import ReadResult
from thinkt.exporter.sources.jsonl import loads, read_lines


class FakeSource:
    """JSONL lines ``{"id", "session", "text"}`` under ``~/.fake/sessions/**.jsonl``."""

    name = "fake"
    whole_file = False

    def roots(self, home: Path, env) -> list[Path]:
        return [home / ".fake" / "sessions"]

    def matches(self, path: Path) -> bool:
        return path.suffix == ".jsonl" and "sessions" in path.parts

    def discover(self, root: Path):
        yield from sorted(p for p in root.rglob("*.jsonl") if p.is_file())

    def read(self, path: Path, offset: int, state: dict | None, final: bool = False,
             ) -> ReadResult:
        state = dict(state or {"lines": 0})
        lines = read_lines(path, offset, final=final)
        result = ReadResult([], lines.offset, state, tail=lines.tail)
        for _start, raw in lines.lines:
            record = loads(raw)
            state["lines"] += 1
            if not isinstance(record, dict) or "id" not in record:
                result.skip("malformed")
                continue
            result.entries.append(Entry(session_id=record.get("session", "s1"),
                                        uuid=record["id"], role="user",
                                        timestamp="2025-01-01T00:00:00.000Z",
                                        project_path=record.get("project"),
                                        text=record.get("text", "")))
        return result


def fake_line(uuid: str, session: str = "s1", text: str = "hello", **extra) -> bytes:
    """One line of the fake format, newline included."""
    return (json.dumps({"id": uuid, "session": session, "text": text, **extra}) + "\n").encode()


def write_lines(path: Path, uuids, session: str = "s1", mode: str = "ab", text: str = "x"):
    """Append (or write) fake lines with these ids."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as fh:
        for uuid in uuids:
            fh.write(fake_line(uuid, session, text))


class StubCollector:
    """A thread-hosted HTTP collector stand-in that records what it is sent."""

    def __init__(self, port: int = 0):
        self.lock = threading.Lock()
        self.payloads: list[dict] = []  # every decoded payload, in arrival order
        self.requests: list[dict] = []  # method, path, headers of every request
        self.registrations: list[dict] = []
        self.stored: dict[tuple, dict] = {}  # (session, uuid) -> first copy
        self.received: dict[tuple, int] = {}  # (session, uuid) -> times received
        #: A function (payload dict) -> (status, body dict, headers) or None for 200.
        self.responder: Callable[[dict], tuple | None] | None = None
        self.well_known: dict | None = None
        self.port = port
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "StubCollector":
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, status: int, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                stub._note(self, None)
                if self.path == "/v1/collector/health":
                    self._send(200, {"status": "ok"})
                elif self.path == "/.well-known/thinkt.json" and stub.well_known is not None:
                    self._send(200, stub.well_known)
                else:
                    self._send(404, {"error": "not_found", "message": "no"})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                body = json.loads(raw) if raw else {}
                stub._note(self, body)
                if self.path == "/v1/agents/register":
                    with stub.lock:
                        stub.registrations.append(body)
                    self._send(200, body)
                    return
                if self.path != "/v1/traces":
                    self._send(404, {"error": "not_found", "message": "no"})
                    return
                scripted = stub.responder(body) if stub.responder else None
                if scripted is not None:
                    status, answer, *headers = scripted
                    self._send(status, answer, headers[0] if headers else None)
                    return
                self._send(200, stub._store(body))

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.05})
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop answering: connections are refused until :meth:`start` again."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def _note(self, handler, body) -> None:
        with self.lock:
            self.requests.append({"method": handler.command, "path": handler.path,
                                  "headers": dict(handler.headers)})

    def _store(self, body: dict) -> dict:
        accepted = duplicates = 0
        with self.lock:
            self.payloads.append(body)
            for entry in body["entries"]:
                key = (body["session_id"], entry["uuid"])
                self.received[key] = self.received.get(key, 0) + 1
                if key in self.stored:
                    duplicates += 1
                else:
                    self.stored[key] = entry
                accepted += 1
        return {"accepted": accepted, "duplicates": duplicates}

    def uuids(self, session: str | None = None) -> set[str]:
        """The distinct uuids stored (of one session, or all)."""
        with self.lock:
            return {u for (s, u) in self.stored if session is None or s == session}

    def resent(self) -> dict:
        """Entries received more than once, with their counts."""
        with self.lock:
            return {k: n for k, n in self.received.items() if n > 1}


@pytest.fixture(autouse=True)
def _restore_logging():
    """Undo what an in-process CLI run did to the ``thinkt`` logger (handlers on capsys)."""
    logger = logging.getLogger("thinkt")
    saved = logger.handlers[:], logger.propagate, logger.level
    yield
    logger.handlers[:], logger.propagate, logger.level = saved


@pytest.fixture
def stub():
    collector = StubCollector().start()
    yield collector
    collector.stop()


@pytest.fixture
def fake_source():
    return FakeSource()


@pytest.fixture
def fake_root(home, fake_source) -> WatchRoot:
    root = home / ".fake" / "sessions"
    root.mkdir(parents=True)
    return WatchRoot(fake_source, root)


@pytest.fixture
def make_options(tmp_path, fake_root):
    """Build exporter Options for the fake source; keyword overrides win."""

    def make(url: str | None = None, **overrides) -> Options:
        state = tmp_path / "state"
        values = dict(endpoint=Endpoint(url + "/v1/traces" if url else None, None,
                                        "flag" if url else "none"),
                      roots=[fake_root], state_dir=state, buffer_dir=state / "export-buffer",
                      timeout=5.0, attempts=2, concurrency=2, shutdown_timeout=2.0)
        values.update(overrides)
        return Options(**values)

    return make
