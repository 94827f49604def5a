"""The collector client: URL forms, and what a snapshot says about a collector."""

import pytest

from tests.conftest import free_port
from tests.tui.conftest import AGENTS, SESSION_COUNT, TOKEN
from thinkt.status import ConfigError
from thinkt.tui import client
from thinkt.tui.client import CollectorClient, base_url


def test_base_url_accepts_a_base_or_the_traces_url():
    assert base_url("http://c:4318") == "http://c:4318"
    assert base_url("http://c:4318/") == "http://c:4318"
    assert base_url("http://c:4318/v1/traces") == "http://c:4318"
    assert base_url("https://c/prefix/v1/traces/") == "https://c/prefix"
    with pytest.raises(ConfigError):
        base_url("c:4318")


def test_nothing_listening_is_down_not_an_exception():
    snap = CollectorClient(f"http://127.0.0.1:{free_port()}").snapshot()
    assert snap.state == client.DOWN and not snap.up
    assert snap.error and snap.agents == [] and snap.stats == {}


@pytest.mark.slow
def test_snapshot_of_a_collector_with_data(collector):
    snap = CollectorClient(collector.url + "/v1/traces", TOKEN).snapshot()
    assert snap.up, snap.error
    assert snap.stats["total_traces"] == 2 * SESSION_COUNT
    assert snap.stats["total_sessions"] == SESSION_COUNT
    assert {a["instance_id"] for a in snap.agents} == set(AGENTS)
    assert len(snap.sessions) == SESSION_COUNT
    assert snap.sessions[0]["id"] == f"session-{SESSION_COUNT - 1:02d}"


@pytest.mark.slow
def test_wrong_or_missing_token_is_refused(collector):
    wrong = CollectorClient(collector.url, "not-the-token").snapshot()
    assert wrong.state == client.REFUSED and "refused" in wrong.error
    missing = CollectorClient(collector.url).snapshot()
    assert missing.state == client.REFUSED and "--api-key" in missing.error
    assert "not-the-token" not in repr(wrong)
