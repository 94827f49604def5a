"""Governance against a real collector: roles on every admin route, erasure through the
CLI checked on every endpoint and page, the audit log, and retention at start."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from tests.harness import Collector, child_env, thinkt_command, wait_for

pytestmark = pytest.mark.slow

ADMIN = "gov-admin-token-0123456789abcdef"
READ = "gov-read-token-0123456789abcdef"
INGEST = "gov-ingest-token-0123456789abcdef"
TOKEN_FILE = (f"{ADMIN} admin read ingest name=ops\n{READ} read name=lead\n"
              f"{INGEST} ingest name=laptops\n")
NOW = datetime.now(timezone.utc).replace(microsecond=0)

#: Every admin route, as (method, path, json body).
ADMIN_ROUTES = [
    ("DELETE", "/v1/sessions/s-1", None), ("DELETE", "/v1/agents/laptop-1", None),
    ("DELETE", "/v1/users/ana@example.com", None), ("DELETE", "/v1/projects?path=/p", None),
    ("DELETE", "/v1/entries?before=2026-01-01", None), ("GET", "/v1/admin/audit", None),
    ("GET", "/v1/admin/retention", None), ("GET", "/v1/admin/jobs/1", None),
    ("POST", "/v1/admin/archive", {"directory": "/tmp", "since": "2026-01-01",
                                   "until": "2026-01-02"}),
    ("POST", "/v1/admin/backup", {"directory": "/tmp"}),
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start(base: Path, *args: str) -> Collector:
    """A collector with the token file's three roles; its state under ``base``."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "tokens").write_text(TOKEN_FILE)
    os.chmod(base / "tokens", 0o600)
    (base / "home").mkdir(exist_ok=True)
    running = Collector(base / "collector.duckdb", base / "collector.log", "--token-file",
                        str(base / "tokens"), *args)
    running.token = ADMIN  # for the harness's own health checks and headers
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(base / "home"))
        running.start()
    return running


def send(running: Collector, session: str, user: str, when: datetime, text: str,
         project: str = "/srv/app", instance: str = "laptop-1", source: str = "claude"):
    entries = [{"uuid": f"{session}-q", "role": "user", "text": text,
                "timestamp": when.isoformat()},
               {"uuid": f"{session}-a", "role": "assistant", "model": "claude-sonnet-4-5",
                "message_id": f"msg-{session}", "input_tokens": 100, "output_tokens": 10,
                "timestamp": (when + timedelta(seconds=5)).isoformat()}]
    response = requests.post(f"{running.url}/v1/traces", headers=bearer(INGEST), timeout=30,
                             json={"source": source, "session_id": session, "user": user,
                                   "project_path": project, "instance_id": instance,
                                   "entries": entries})
    assert response.status_code == 200, response.text


def admin_cli(running: Collector, *args: str, token: str = ADMIN, home: Path | None = None,
              ) -> subprocess.CompletedProcess:
    return subprocess.run(
        thinkt_command("admin", *args, "--collector-url", running.url, "--api-key", token),
        capture_output=True, text=True, timeout=120, env=child_env(home), stdin=subprocess.DEVNULL)


def get(running: Collector, path: str, **params):
    response = requests.get(f"{running.url}{path}", params=params, headers=bearer(ADMIN),
                            timeout=30)
    assert response.status_code == 200, (path, response.text)
    return response.json()


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    running = start(tmp_path_factory.mktemp("governance"))
    yield running
    running.stop()


def test_every_admin_route_refuses_read_and_ingest_tokens(collector):
    for token in (READ, INGEST):
        for method, path, body in ADMIN_ROUTES:
            response = requests.request(method, f"{collector.url}{path}", json=body,
                                        headers=bearer(token), timeout=30)
            assert response.status_code == 403, (token, method, path, response.text)
            assert response.json()["required_role"] == "admin"


def test_erasing_a_person_through_the_cli_removes_them_from_every_answer(collector, tmp_path):
    when = NOW - timedelta(hours=2)
    send(collector, "gone-1", "ana@example.com", when, "the zebra migration plan")
    send(collector, "gone-2", "ana@example.com", when, "zebra again", project="/srv/web")
    send(collector, "kept-1", "bob@example.com", when, "zebra for bob", instance="laptop-2")
    assert len(get(collector, "/v1/traces/search", q="zebra")) == 3
    before = get(collector, "/v1/traces/stats")

    # A read key is refused with the role named, and nothing changes.
    refused = admin_cli(collector, "delete", "user", "ana@example.com", "--yes", token=READ,
                        home=tmp_path)
    assert refused.returncode == 78, refused
    assert "needs the admin role" in refused.stderr
    dry = admin_cli(collector, "delete", "user", "ana@example.com", "--dry-run", home=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "Would remove for user ana@example.com: 4 entries, 2 sessions" in dry.stdout
    assert len(get(collector, "/v1/traces/search", q="zebra")) == 3

    unasked = admin_cli(collector, "delete", "user", "ana@example.com", home=tmp_path)
    assert unasked.returncode == 2 and "Pass --yes" in unasked.stderr, unasked
    assert len(get(collector, "/v1/traces/search", q="zebra")) == 3
    done = admin_cli(collector, "delete", "user", "ana@example.com", "--yes", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Removed: 4 entries, 2 sessions, 2 api responses" in done.stdout

    # Gone from every answer: search, usage, sessions, entries, stats, agents.
    assert [s["id"] for s in get(collector, "/v1/traces/search", q="zebra")] == ["kept-1"]
    assert [row["key"] for row in get(collector, "/v1/usage", group_by="user")
            if row["key"] in ("ana@example.com", "bob@example.com")] == ["bob@example.com"]
    assert get(collector, "/v1/sessions", user="ana@example.com") == []
    for session in ("gone-1", "gone-2"):
        response = requests.get(f"{collector.url}/v1/sessions/{session}/entries",
                                headers=bearer(ADMIN), timeout=30)
        assert response.status_code == 404
    after = get(collector, "/v1/traces/stats")
    assert after["total_traces"] == before["total_traces"] - 4
    assert after["tokens"]["input"] == before["tokens"]["input"] - 200

    # And from the pages, signed in as the reader.
    pages = requests.Session()
    form = pages.get(f"{collector.url}/signin", timeout=30).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    assert pages.post(f"{collector.url}/signin", data={"token": READ, "csrf": csrf,
                                                        "next": "/"}, timeout=30).ok
    for path in ("/sessions", "/usage?group_by=person", "/search?q=zebra", "/"):
        page = pages.get(f"{collector.url}{path}", timeout=30)
        assert page.status_code == 200, path
        assert "ana@example.com" not in page.text and "gone-1" not in page.text, path
    assert "kept-1" in pages.get(f"{collector.url}/search?q=zebra", timeout=30).text

    # The audit log names the token, never shows it.
    audit = admin_cli(collector, "audit", home=tmp_path)
    assert audit.returncode == 0, audit.stderr
    assert re.search(r"ops\s+delete\s+user=ana@example.com\s+-> 4 entries", audit.stdout)
    assert ADMIN not in audit.stdout
    [row] = [r for r in get(collector, "/v1/admin/audit") if r["target"] == {
        "user": "ana@example.com"}]
    assert row["actor"] == "ops" and row["removed"]["sessions"] == 2


def test_one_session_by_the_api_and_a_missing_one(collector):
    send(collector, "one-1", "cy@example.com", NOW - timedelta(hours=1), "a session to drop")
    response = requests.delete(f"{collector.url}/v1/sessions/one-1", headers=bearer(ADMIN),
                               timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["removed"]["entries"] == 2
    again = requests.delete(f"{collector.url}/v1/sessions/one-1", headers=bearer(ADMIN),
                            timeout=30)
    assert again.status_code == 404
    assert again.json() == {"error": "not_found", "message": "No session 'one-1'."}


def test_retention_removes_old_entries_at_start_and_says_so_beforehand(tmp_path):
    running = start(tmp_path, "--retention-days", "30")
    try:
        send(running, "recent", "dee@example.com", NOW - timedelta(days=2), "recent work")
        send(running, "ancient", "dee@example.com", NOW - timedelta(days=45), "old work")
        plan = admin_cli(running, "retention", home=tmp_path)
        assert plan.returncode == 0, plan.stderr
        assert "claude: before" in plan.stdout and "would remove 2 entries, 1 sessions" \
            in plan.stdout
        assert len(get(running, "/v1/sessions")) == 2  # the dry run removed nothing
    finally:
        running.stop()
    running.start()  # the sweep runs at start, beside the first queries
    try:
        wait_for(lambda: [s["id"] for s in get(running, "/v1/sessions")] == ["recent"], 60,
                 "the sweep at start", detail=running.log)
        [row] = [r for r in get(running, "/v1/admin/audit") if r["action"] == "retention"]
        assert row["actor"] == "collector" and row["removed"]["entries"] == 2
    finally:
        running.stop()


def test_a_backup_taken_under_continuous_ingest_opens_as_a_collector(tmp_path):
    running = start(tmp_path / "live")
    stop = threading.Event()
    sent: list[str] = []

    def keep_sending() -> None:
        number = 0
        while not stop.is_set():
            session = f"busy-{number}"
            send(running, session, "eve@example.com", NOW - timedelta(minutes=5),
                 f"busy {number}")
            sent.append(session)
            number += 1

    sender = threading.Thread(target=keep_sending, name="sender")
    sender.start()
    try:
        wait_for(lambda: len(sent) >= 20, 60, "ingest under way")
        backups = tmp_path / "backups"
        backups.mkdir()
        done = admin_cli(running, "backup", str(backups), home=tmp_path)
        assert done.returncode == 0, done.stderr
        during = len(sent)
        wait_for(lambda: len(sent) > during, 60, "ingest going on after the backup")
        acked_after = len(sent)
    finally:
        stop.set()
        sender.join(60)
        running.stop()
    assert acked_after >= 20
    [copy] = list((tmp_path / "backups").glob("thinkt-backup-*.duckdb"))
    assert '"entries":' in done.stdout and str(copy) in done.stdout
    # The copy opens as a collector's storage, as it is, and every session in it is whole.
    restored = Collector(copy, tmp_path / "restored.log", token=ADMIN)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(tmp_path / "live" / "home"))
        restored.start()
    try:
        sessions = get(restored, "/v1/sessions", limit=500)
        assert sessions, "the backup holds the sessions sent before it"
        assert all(s["entry_count"] == 2 for s in sessions)
        assert {s["id"] for s in sessions} <= set(sent)
        stats = get(restored, "/v1/traces/stats")
        assert stats["total_traces"] == 2 * len(sessions)
        assert stats["tokens"]["input"] == 100 * len(sessions)
    finally:
        restored.stop()
