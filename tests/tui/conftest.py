"""Fixtures for the status pages: a real collector holding known data, an exporter status file."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.harness import Collector

TOKEN = "tui-test-token"
#: Agents the collector fixture registers, by instance id.
AGENTS = {"agent-build": ("build-box", "1.4.0"), "agent-ana": ("laptop-ana", "1.3.2")}
#: Sessions it stores: more than fit on a 30-line page, so scrolling has something to do.
SESSION_COUNT = 20


def seed(collector: Collector) -> None:
    """Register the agents and ingest SESSION_COUNT sessions of two entries each."""
    for instance_id, (hostname, version) in AGENTS.items():
        response = collector.post("/v1/agents/register", json={
            "instance_id": instance_id, "platform": "linux", "hostname": hostname,
            "version": version})
        assert response.status_code == 200, response.text
    for n in range(SESSION_COUNT):
        body = {"source": "claude" if n % 2 else "codex", "session_id": f"session-{n:02d}",
                "instance_id": "agent-build" if n % 2 else "agent-ana",
                "project_path": f"/home/dev/projects/service-{n:02d}",
                "entries": [
                    {"uuid": f"u{n}-1", "role": "user", "timestamp": f"2026-11-20T10:{n:02d}:00Z",
                     "text": "please fix the build"},
                    {"uuid": f"u{n}-2", "role": "assistant", "model": "model-under-test",
                     "timestamp": f"2026-11-20T10:{n:02d}:30Z", "text": "done",
                     "input_tokens": 100, "output_tokens": 10}]}
        response = collector.post("/v1/traces", json=body)
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    """A real ``thinkt collect`` with a token and the seeded data, shared by a module."""
    root = tmp_path_factory.mktemp("collector")
    running = Collector(root / "c.duckdb", root / "collector.log", token=TOKEN)
    try:
        running.start()
        seed(running)
        yield running
    finally:
        running.stop()


#: What a page or report must show for the status file write_status_file writes.
STATUS_FILE_FACTS = (
    "running (forward mode)", "http://collector.example:4318/v1/traces",
    "env THINKT_COLLECTOR_URL", "connected", "7 directories, 42 files (inotify)",
    "3 files, 3.0 MiB of 100.0 MiB", "56 payloads, 1,234 entries", "2 payloads (will retry)",
    "1 payloads, 4 entries", "2.0 KiB", "forward mode, version 0.0.test",
)
#: The watched roots it names.
STATUS_FILE_ROOTS = ("claude=/home/dev/.claude/projects", "codex=/home/dev/.codex/sessions")


def write_status_file(state_dir: Path, redactions: dict | None = None, **overrides) -> dict:
    """Write an exporter status file as a running exporter (this test process) would.

    ``redactions`` is ``counts.redactions`` (secrets masked per rule, none by default);
    ``overrides`` replace top-level keys (``redaction="off"`` for ``--no-redact``).
    """
    now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    status = {
        "pid": os.getpid(), "mode": "forward", "version": "0.0.test", "instance_id": "inst-1",
        "started_at": now, "updated_at": now, "running": True,
        "collector": {"url": "http://collector.example:4318/v1/traces",
                      "found_by": "env THINKT_COLLECTOR_URL", "status": "connected",
                      "last_error": None},
        "watch": {"mode": "inotify", "roots": ["claude=/home/dev/.claude/projects",
                                               "codex=/home/dev/.codex/sessions"],
                  "directories": 7, "files": 42},
        "buffer": {"dir": str(state_dir / "export-buffer"), "files": 3, "bytes": 3 * 1024 * 1024,
                   "max_bytes": 100 * 1024 * 1024, "full": False, "rejected": 1},
        "counts": {"entries_read": 1500, "entries_shipped": 1234, "duplicates": 0,
                   "payloads_shipped": 56, "payloads_buffered": 3, "payloads_failed": 2,
                   "payloads_rejected": 1, "entries_rejected": 4,
                   "redactions": dict(redactions or {})},
        "redaction": "on", "last_ship_at": now, "lag_bytes": 2048, "paused": None,
    }
    status.update(overrides)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "exporter-status.json").write_text(json.dumps(status))
    return status
