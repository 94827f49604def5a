"""Inputs the fuzzers found crashing the collector (500), kept as regression tests."""

from __future__ import annotations

import io

import pytest

from tests.fuzz.test_http import OUT_OF_RANGE
from thinkt.collector.app import create_app
from thinkt.collector.settings import CollectorSettings

errors = pytest.importorskip("gunicorn.http.errors")


class BrokenStream(io.RawIOBase):
    """A request body whose reading fails the way gunicorn's does on broken framing."""

    def __init__(self, error: Exception, first: bytes = b""):
        self.error = error
        self.first = first

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.first:
            data, self.first = self.first, b""
            return data
        raise self.error

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class NoWriter:
    """Nothing may reach the writer: the request must be refused before."""

    def ingest(self, request, timeout):
        raise AssertionError("a broken body reached the writer")


@pytest.mark.parametrize("error", [
    errors.InvalidChunkSize(b"zz"),            # found: "Transfer-Encoding: chunked", size "zz"
    errors.ChunkMissingTerminator(b"{}"),
    errors.NoMoreData(b""),
    ConnectionResetError(104, "Connection reset by peer"),  # werkzeug already made these 400
], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_an_unreadable_chunked_body_is_a_json_400_not_a_500(error, encoding):
    app = create_app(CollectorSettings(storage="/nonexistent/collector.duckdb"), NoWriter())
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    if encoding:
        headers["Content-Encoding"] = encoding
    # gunicorn marks a chunked body as terminated: the app reads until the stream ends
    environ = {"wsgi.input": BrokenStream(error), "wsgi.input_terminated": True}
    response = app.test_client().post("/v1/traces", headers=headers,
                                      environ_overrides=environ)
    assert response.status_code == 400, response.get_data()
    assert response.get_json()["error"] == "bad_request"


@pytest.fixture
def live(tmp_path):
    from tests.fuzz.conftest import InProcessCollector

    collector = InProcessCollector(str(tmp_path / "collector.duckdb"))
    yield collector
    collector.close()


# found by test_query_strings_on_every_get at 25,000 examples: converting these to UTC
# leaves the years datetime can hold (OverflowError, not ValueError)


@pytest.mark.parametrize("moment", OUT_OF_RANGE)
@pytest.mark.parametrize("name", ["since", "until"])
def test_usage_times_that_overflow_in_utc_are_a_400(live, name, moment):
    response = live.http.get("/v1/usage", query_string={name: moment})
    assert response.status_code == 400, response.get_data()
    assert name in response.get_json()["errors"]


@pytest.mark.parametrize("moment", OUT_OF_RANGE)
def test_entry_and_agent_times_that_overflow_in_utc_are_validation_errors(live, moment):
    response = live.http.post("/v1/traces", json={
        "source": "claude", "session_id": "s",
        "entries": [{"uuid": "bad", "role": "user", "timestamp": moment},
                    {"uuid": "good", "role": "user", "timestamp": "2026-01-01T00:00:00Z"}]})
    assert response.status_code == 200, response.get_data()
    body = response.get_json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert "timestamp" in body["errors"]["entries"]["0"]
    response = live.http.post("/v1/agents/register", json={
        "instance_id": "i", "platform": "linux", "started_at": moment})
    assert response.status_code == 400
    assert "started_at" in response.get_json()["errors"]


def test_a_session_id_with_double_slashes_is_looked_up_not_redirected(live):
    # found by test_query_strings_on_every_get: "/v1/sessions//0/entries" answered a 308
    # redirect with an HTML body to /v1/sessions/0/entries, another session
    live.http.post("/v1/traces", json={"source": "claude", "session_id": "a//b", "entries": [
        {"uuid": "u", "role": "user", "timestamp": "2026-01-01T00:00:00Z"}]})
    response = live.http.get("/v1/sessions/a//b/entries")
    assert response.status_code == 200
    assert [e["uuid"] for e in response.get_json()] == ["u"]
    response = live.http.get("/v1/sessions//0/entries")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
