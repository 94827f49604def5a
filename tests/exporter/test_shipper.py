"""The shipper against a stub collector on a thread: headers, retries, final answers."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone

import pytest
from freezegun import freeze_time

from thinkt.exporter.ship import payload
from thinkt.exporter.ship.endpoint import Endpoint
from thinkt.exporter.ship.shipper import Result, Shipper, backoff, registration, retry_after_seconds
from tests.conftest import free_port


def body(uuids=("u1",)) -> bytes:
    return payload.encode({"source": "fake", "session_id": "s", "instance_id": "i",
                           "entries": [{"uuid": u, "role": "user"} for u in uuids]})


def shipper_for(url: str, **kwargs) -> Shipper:
    kwargs.setdefault("rng", lambda: 0.0)  # no jitter: retries happen at once
    return Shipper(Endpoint(url + "/v1/traces", kwargs.pop("api_key", None), "flag"),
                   timeout=5, **kwargs)


def test_post_sends_gzip_json_with_the_bearer_token(stub):
    answer = shipper_for(stub.url, api_key="sekrit").post(body(["a", "b"]))
    assert answer.result is Result.SHIPPED and answer.accepted == 2 and answer.status == 200
    headers = stub.requests[-1]["headers"]
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Bearer sekrit"
    assert headers["User-Agent"].startswith("thinkt-exporter/")
    assert [e["uuid"] for e in stub.payloads[0]["entries"]] == ["a", "b"]


def test_no_authorization_header_without_a_key(stub):
    shipper_for(stub.url).post(body())
    assert "Authorization" not in stub.requests[-1]["headers"]


def test_transient_statuses_are_retried_until_they_pass(stub):
    answers = iter([(503, {"error": "unavailable"}, {"Retry-After": "0"}),
                    (429, {"error": "slow_down"}), (502, {}), None])
    stub.responder = lambda payload: next(answers)
    answer = shipper_for(stub.url, attempts=5).post(body())
    assert answer.result is Result.SHIPPED and answer.attempts == 4
    assert len(stub.payloads) == 1


def test_a_single_try_reports_how_long_retry_after_asked_to_wait(stub):
    stub.responder = lambda payload: (503, {"error": "unavailable"}, {"Retry-After": "7"})
    answer = shipper_for(stub.url).post(body(), attempts=1)
    assert answer.result is Result.RETRY and answer.retry_after == 7.0
    stub.responder = lambda payload: (503, {"error": "unavailable"})
    assert shipper_for(stub.url).post(body(), attempts=1).retry_after is None


def test_transient_failures_give_retry_after_the_last_attempt(stub):
    stub.responder = lambda payload: (504, {"error": "timeout"})
    answer = shipper_for(stub.url, attempts=3).post(body())
    assert answer.result is Result.RETRY and answer.attempts == 3 and answer.status == 504
    assert len([r for r in stub.requests if r["path"] == "/v1/traces"]) == 3


def test_connection_refused_is_retry():
    answer = shipper_for(f"http://127.0.0.1:{free_port()}", attempts=2).post(body())
    assert answer.result is Result.RETRY and answer.status is None
    assert answer.describe() == "connection failed"


def test_a_bad_payload_is_rejected_at_once(stub):
    stub.responder = lambda payload: (400, {"error": "validation_error", "errors": {}})
    answer = shipper_for(stub.url, attempts=5).post(body())
    assert answer.result is Result.REJECTED and answer.attempts == 1
    assert answer.describe() == "HTTP 400 validation_error"


def test_wrong_key_or_url_is_refused_not_rejected(stub):
    stub.responder = lambda payload: (401, {"error": "unauthorized"})
    assert shipper_for(stub.url).post(body()).result is Result.REFUSED
    stub.responder = lambda payload: (404, {"error": "not_found"})
    assert shipper_for(stub.url).post(body()).result is Result.REFUSED


def test_too_large_is_its_own_answer(stub):
    stub.responder = lambda payload: (413, {"error": "payload_too_large"})
    assert shipper_for(stub.url, attempts=5).post(body()).result is Result.TOO_LARGE


def test_partial_rejections_are_counted(stub):
    stub.responder = lambda payload: (200, {"accepted": 1, "duplicates": 0, "rejected": 1,
                                            "errors": {"entries": {"1": {"role": ["bad"]}}}})
    answer = shipper_for(stub.url).post(body(["a", "b"]))
    assert answer.result is Result.SHIPPED and answer.rejected_entries == 1


def test_register_and_health(stub):
    shipper = shipper_for(stub.url)
    started = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert shipper.register(registration("inst", "mach", started)).result is Result.SHIPPED
    info = stub.registrations[0]
    assert info["instance_id"] == "inst" and info["machine_id"] == "mach"
    assert info["started_at"] == "2025-01-01T00:00:00Z"
    assert {"platform", "hostname", "version"} <= set(info)
    assert "user" not in info  # none resolved: none sent
    assert shipper.register(registration("inst", None, started, "bob")).result is Result.SHIPPED
    assert stub.registrations[1]["user"] == "bob"
    assert shipper.healthy()
    assert not shipper_for(f"http://127.0.0.1:{free_port()}").healthy()


def test_backoff_grows_is_capped_and_honours_retry_after():
    top = lambda: 1.0  # noqa: E731 - the largest jitter draw
    assert [backoff(n, rng=top, base=0.5, cap=30) for n in range(8)] == \
        [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff(3, rng=lambda: 0.5, base=0.5, cap=30) == 2.0  # jitter scales the wait
    assert backoff(0, retry_after=7, rng=lambda: 0.0) == 7  # at least what the server asks
    assert backoff(0, retry_after=3600, rng=lambda: 0.0, cap=30) == 30  # but bounded


def test_retry_after_parses_seconds_and_dates():
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    with freeze_time("2025-01-01T00:00:00Z"):
        assert retry_after_seconds("Wed, 01 Jan 2025 00:00:30 GMT") == 30.0
        assert retry_after_seconds("Tue, 31 Dec 2024 00:00:00 GMT") == 0.0


class FixedAnswer:
    """An HTTP server on a thread that answers every request with one fixed response.

    It decodes nothing: ``received`` holds each request's path, headers and body bytes
    exactly as they came over the wire.
    """

    def __init__(self, status: int, content_type: str, data: bytes):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        answer = (status, content_type, data)
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((self.path, dict(self.headers), raw))
                status, kind, payload = answer
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("status, kind, data", [
    (200, "text/html", b"<html><body>Welcome to nginx!</body></html>"),
    (200, "application/json", b'{"status": "ok"}'),
    (200, "application/json", b'{"accepted": true}'),
    (204, "text/plain", b""),
], ids=["html page", "json without accepted", "accepted not a count", "no content"])
def test_only_a_collector_shaped_answer_acknowledges(status, kind, data):
    server = FixedAnswer(status, kind, data)
    try:
        answer = shipper_for(server.url).post(body())
    finally:
        server.close()
    assert answer.result is Result.REFUSED, answer
    assert answer.accepted == 0
    assert "not a thinkt collector's" in answer.describe()
    assert answer.describe().startswith(f"HTTP {status}")


def test_the_body_on_the_wire_is_the_gzip_payload_as_given():
    """What the shipper puts on the wire, read by a server that decodes nothing."""
    sent = {"source": "fake", "session_id": "s", "instance_id": "i",
            "entries": [{"uuid": f"w{n}", "role": "user", "text": "caf\u00e9 " * 200}
                        for n in range(3)]}
    raw = payload.encode(sent)
    server = FixedAnswer(200, "application/json", b'{"accepted": 3, "duplicates": 0}')
    try:
        answer = shipper_for(server.url).post(raw)
    finally:
        server.close()
    assert answer.result is Result.SHIPPED and answer.accepted == 3
    [(path, headers, wire)] = server.received
    assert path == "/v1/traces"
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"] == "application/json"
    assert "Transfer-Encoding" not in headers and int(headers["Content-Length"]) == len(wire)
    assert wire[:2] == b"\x1f\x8b", "not a gzip stream"
    assert json.loads(gzip.decompress(wire)) == sent
    assert wire == raw  # the buffered bytes as they are: neither decoded nor packed again


def test_a_registration_answered_by_a_web_page_is_not_a_collector():
    server = FixedAnswer(200, "text/html", b"<html>Welcome to nginx!</html>")
    try:
        answer = shipper_for(server.url).register({"instance_id": "i", "platform": "linux"})
    finally:
        server.close()
    assert answer.result is Result.REFUSED and "not a thinkt collector's" in answer.describe()
