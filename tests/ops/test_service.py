"""The real ``thinkt collect`` as systemd runs it: READY/STOPPING, and metrics across processes."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

pytest.importorskip("gunicorn")
pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from tests import harness  # noqa: E402

pytestmark = pytest.mark.slow

TOKEN = "service-token"


@pytest.fixture
def notify_socket(tmp_path):
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""
    path = tmp_path / "notify.sock"
    if len(str(path)) > 100:
        pytest.skip("tmp_path too long for an AF_UNIX socket address")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(60)
    yield sock
    sock.close()


def receive(sock) -> list[str]:
    """Return the assignments of the next notification (waits at most the socket timeout)."""
    return sock.recv(4096).decode().split("\n")


@pytest.fixture
def collector(tmp_path, notify_socket, monkeypatch):
    """A collector whose children see NOTIFY_SOCKET and a RUNTIME_DIRECTORY, as under systemd."""
    extra = {"NOTIFY_SOCKET": notify_socket.getsockname(),
             "RUNTIME_DIRECTORY": str(tmp_path / "run")}
    plain = harness.child_env
    monkeypatch.setattr(harness, "child_env", lambda home=None: plain(home, **extra))
    running = harness.Collector(tmp_path / "state" / "collector.duckdb",
                                tmp_path / "collector.log", token=TOKEN, workers=3)
    yield running
    running.stop()


def counted(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_ready_after_the_database_is_open_and_stopping_on_term(collector, notify_socket):
    collector.start(wait=False)
    assert "READY=1" in receive(notify_socket)
    # READY means the writer has the database open and the socket is bound.
    assert collector.storage.exists()
    collector.wait_healthy(timeout=30)
    assert collector.terminate() == 0
    assert "STOPPING=1" in receive(notify_socket)


def test_metrics_count_what_a_test_sent_across_workers_and_the_writer(collector, tmp_path):
    collector.start()
    body = {"source": "claude", "session_id": "s-metrics",
            "entries": [{"uuid": f"m{i}", "role": "user", "text": f"entry {i}",
                         "timestamp": "2026-02-01T10:00:00Z"} for i in range(5)]}
    for _ in range(4):  # the same five entries four times: 5 accepted, 15 duplicates
        assert collector.post("/v1/traces", json=body).status_code == 200
    assert collector.post("/v1/traces", json={"source": "claude"}).status_code == 400
    assert harness.requests.get(collector.url + "/metrics", timeout=10).status_code == 401

    response = collector.get("/metrics")
    assert response.status_code == 200
    shown = counted(response.text)
    assert shown[("thinkt_http_requests_total",
                  (("endpoint", "api.ingest"), ("status", "200")))] == 4
    assert shown[("thinkt_http_requests_total",
                  (("endpoint", "api.ingest"), ("status", "400")))] == 1
    assert shown[("thinkt_http_requests_total",
                  (("endpoint", "metrics_text"), ("status", "401")))] == 1
    assert shown[("thinkt_entries_total", (("result", "accepted"),))] == 5
    assert shown[("thinkt_entries_total", (("result", "duplicate"),))] == 15
    assert 1 <= shown[("thinkt_commit_entries_count", ())] <= 4
    assert shown[("thinkt_commit_entries_sum", ())] == 20
    assert shown[("thinkt_writer_up", ())] == 1
    assert shown[("thinkt_entries_stored", ())] == 5
    assert shown[("thinkt_database_size_bytes", ())] > 0
    # the files live in the runtime directory systemd would wipe
    assert any(name.endswith(".db") for name in os.listdir(tmp_path / "run" / "metrics"))


def test_a_private_metrics_dir_outlives_worker_restarts_and_goes_with_the_collector(
        tmp_path, monkeypatch):
    # Without RUNTIME_DIRECTORY the arbiter makes its own directory (under TMPDIR here).
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    plain = harness.child_env
    monkeypatch.setattr(harness, "child_env",
                        lambda home=None: plain(home, TMPDIR=str(private_tmp)))
    running = harness.Collector(tmp_path / "collector.duckdb", tmp_path / "collector.log",
                                workers=2)
    try:
        running.start()
        [made] = list(private_tmp.glob("thinkt-metrics-*"))
        running.proc.send_signal(signal.SIGHUP)  # every worker is replaced
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "Hang up" not in running.log():
            time.sleep(0.1)
        running.wait_healthy(timeout=30)
        assert running.get("/metrics").status_code == 200
        assert made.is_dir()
        assert running.terminate() == 0
        assert not made.exists()
    finally:
        running.stop()
