"""``GET /metrics`` in one process: auth, what it counts, the store gauges, no extra installed."""

import os
import stat

import pytest

pytest.importorskip("flask")
pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from thinkt.collector import metrics  # noqa: E402
from thinkt.collector.app import create_app  # noqa: E402
from thinkt.collector.channel import Ingested, Unavailable  # noqa: E402
from thinkt.collector.settings import CollectorSettings  # noqa: E402

TOKEN = "metrics-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STATS = {"db_size_bytes": 12345, "queue_depth": 3, "total_agents": 5, "active_agents": 2,
         "total_traces": 42}


class StatsClient:
    """Stands in for the writer: accepts every batch, answers ``stats`` as told."""

    def __init__(self, stats=None):
        self.stats = stats
        self.ingested = 0

    def ingest(self, request, timeout):
        self.ingested += len(request.entries)
        return Ingested(len(request.entries), 0, 0)

    def query(self, name, timeout, **kwargs):
        if self.stats is None:
            raise Unavailable("the writer is not running")
        if name == "ping":
            return True
        assert name == "stats" and kwargs["db_path"] == "/srv/thinkt/collector.duckdb"
        return self.stats


def make_client(writer, **overrides):
    settings = CollectorSettings(storage="/srv/thinkt/collector.duckdb", **overrides)
    return create_app(settings, writer).test_client()


def samples(text):
    """Return {(name, sorted label items): value} for every sample of an exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(client, headers=AUTH):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(response.get_data(as_text=True))


def requests_counted(shown, endpoint, status):
    return shown.get(("thinkt_http_requests_total",
                      (("endpoint", endpoint), ("status", str(status)))), 0)


def batch(n):
    return {"source": "claude", "session_id": "s1",
            "entries": [{"uuid": f"u{i}", "role": "user", "text": "hi",
                         "timestamp": "2026-01-01T00:00:00Z"} for i in range(n)]}


def test_metrics_are_behind_the_token_and_health_is_not():
    client = make_client(StatsClient(STATS), tokens=(TOKEN,))
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "unauthorized"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/v1/collector/health").status_code == 200
    assert client.get("/metrics", headers=AUTH).status_code == 200


def test_metrics_count_the_requests_a_test_sent():
    client = make_client(StatsClient(STATS), tokens=(TOKEN,))
    before = scrape(client)
    for _ in range(3):
        assert client.post("/v1/traces", json=batch(2), headers=AUTH).status_code == 200
    assert client.post("/v1/traces", json={"source": "claude"}, headers=AUTH).status_code == 400
    assert client.post("/v1/traces", json=batch(1)).status_code == 401
    after = scrape(client)
    assert requests_counted(after, "api.ingest", 200) - requests_counted(before, "api.ingest",
                                                                          200) == 3
    assert requests_counted(after, "api.ingest", 400) - requests_counted(before, "api.ingest",
                                                                          400) == 1
    assert requests_counted(after, "api.ingest", 401) - requests_counted(before, "api.ingest",
                                                                          401) == 1
    # the first scrape itself was counted once it had been answered
    assert requests_counted(after, "metrics_text", 200) - requests_counted(
        before, "metrics_text", 200) == 1


def test_store_gauges_come_from_the_writer_stats():
    shown = scrape(make_client(StatsClient(STATS)), headers={})
    assert shown[("thinkt_writer_up", ())] == 1
    assert shown[("thinkt_database_size_bytes", ())] == 12345
    assert shown[("thinkt_queue_depth", ())] == 3
    assert shown[("thinkt_agents", (("status", "active"),))] == 2
    assert shown[("thinkt_agents", (("status", "stale"),))] == 3
    assert shown[("thinkt_entries_stored", ())] == 42


def test_a_silent_writer_still_gets_its_counters_served():
    shown = scrape(make_client(StatsClient(None)), headers={})
    assert shown[("thinkt_writer_up", ())] == 0
    assert ("thinkt_database_size_bytes", ()) not in shown


def test_commits_are_counted_by_result_with_size_and_latency():
    def entries_total(shown, result):
        return shown.get(("thinkt_entries_total", (("result", result),)), 0)

    client = make_client(StatsClient(STATS))
    before = scrape(client, headers={})
    metrics.record_commit({"accepted": 7, "duplicate": 2, "rejected": 1}, 10, 0.02)
    metrics.record_commit({"unavailable": 4}, 0, 0.5)  # failed as a whole
    after = scrape(client, headers={})
    assert entries_total(after, "accepted") - entries_total(before, "accepted") == 7
    assert entries_total(after, "duplicate") - entries_total(before, "duplicate") == 2
    assert entries_total(after, "rejected") - entries_total(before, "rejected") == 1
    assert entries_total(after, "unavailable") - entries_total(before, "unavailable") == 4
    count = ("thinkt_commit_entries_count", ())
    assert after[count] - before.get(count, 0) == 1  # the failed commit has no size
    size_sum = ("thinkt_commit_entries_sum", ())
    assert after[size_sum] - before.get(size_sum, 0) == 10
    small = ("thinkt_commit_seconds_bucket", (("le", "0.025"),))
    assert after[small] - before.get(small, 0) == 1


def test_without_prometheus_client_metrics_answer_404_with_the_extra_named(monkeypatch):
    monkeypatch.setattr(metrics, "available", lambda: False)
    client = make_client(StatsClient(STATS))
    response = client.get("/metrics")
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"] == "not_found"
    assert "thinkt[metrics]" in body["message"]
    assert client.post("/v1/traces", json=batch(1)).status_code == 200


def test_prepare_directory_wipes_old_files_and_keeps_the_operators_dir(tmp_path):
    chosen = tmp_path / "prom"
    chosen.mkdir()
    (chosen / "counter_123.db").write_bytes(b"old")
    (chosen / "README").write_text("not ours")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(chosen)}
    assert metrics.prepare_directory(env) == (str(chosen), False)
    assert sorted(p.name for p in chosen.iterdir()) == ["README"]


def test_prepare_directory_uses_the_runtime_directory(tmp_path):
    env = {"RUNTIME_DIRECTORY": str(tmp_path / "run")}
    path, made_here = metrics.prepare_directory(env)
    assert path == str(tmp_path / "run" / "metrics") and not made_here
    assert env["PROMETHEUS_MULTIPROC_DIR"] == path
    assert (tmp_path / "run" / "metrics").is_dir()


def test_prepare_directory_makes_and_removes_a_private_one():
    env = {}
    path, made_here = metrics.prepare_directory(env)
    try:
        assert made_here and env["PROMETHEUS_MULTIPROC_DIR"] == path
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    finally:
        metrics.remove_directory(path, made_here)
    assert not os.path.exists(path)
