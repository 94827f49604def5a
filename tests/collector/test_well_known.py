"""Issue 14, first run: ``thinkt collect`` then ``thinkt export`` on one machine, no flags.

The exporter's last discovery step asks ``<base>/.well-known/thinkt.json`` (base
``http://localhost:4318`` by default; here the same on a free port) and the collector
must answer it, without a token, naming itself.
"""

from __future__ import annotations

import pytest
import requests

from tests.exporter.corpus import write_session
from tests.exporter.running import Exporter
from tests.harness import Collector

pytestmark = pytest.mark.slow


@pytest.fixture
def collector(tmp_path):
    running = Collector(tmp_path / "collector.duckdb", tmp_path / "collector.log",
                        token="first-run-token").start()
    yield running
    running.stop()


def test_an_export_with_no_collector_named_finds_the_local_collector(collector, home, tmp_path):
    # GIVEN a collector on this machine and a Claude session on disk
    base = f"http://localhost:{collector.port}"
    document = requests.get(base + "/.well-known/thinkt.json", timeout=10)
    assert document.status_code == 200  # no token needed
    assert document.json() == {"collector_url": base}
    uuids = write_session(home, "first-run", 6)
    # WHEN the exporter runs with nothing but the discovery base (the default's port moved)
    exporter = Exporter(home, tmp_path / "export.log", THINKT_DISCOVERY_URL=base,
                        THINKT_API_KEY=collector.token)
    done = exporter.run()
    # THEN it found the collector through the document and shipped everything there
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No collector found" not in done.stdout + done.stderr
    assert f"{base}/.well-known/thinkt.json" in done.stdout + done.stderr
    entries = collector.get("/v1/sessions/first-run/entries").json()
    assert sorted(e["uuid"] for e in entries) == sorted(uuids)
