"""HTTP fuzzing against a REAL collector (gunicorn workers, writer process): raw sockets
for what a test client cannot send (slow, stalled and truncated bodies, lying
Content-Length, broken chunking), gzip at the real 10 MiB limit, and a burst of
hypothesis requests over real connections. Every answer is a JSON 4xx, a 200 or a 503
with Retry-After, even for HTTP that gunicorn refuses before the app runs; the collector
keeps serving."""

from __future__ import annotations

import gzip
import json
import socket
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import check_answer, fuzz_examples
from tests.fuzz.test_http import agents, encode_json, envelopes, raw_bodies

pytestmark = pytest.mark.slow

#: Seconds a worker may spend on one request before gunicorn replaces it (kept short
#: here so the stalled-body test is quick; the default is 60).
REQUEST_TIMEOUT = 4


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    from tests.harness import Collector

    directory = tmp_path_factory.mktemp("real-fuzz")
    live = Collector(directory / "collector.duckdb", directory / "collector.log",
                     "--request-timeout", str(REQUEST_TIMEOUT), workers=3)
    try:
        yield live.start()
    finally:
        live.stop()


def exchange(live, raw: bytes, *, trickle: float = 0.0, stall_after: int | None = None,
             wait: float = 15.0) -> tuple[int | None, dict, bytes]:
    """Send ``raw`` over a new connection; return (status, headers, body) or (None, {}, b"")
    when the server closed without an answer."""
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=wait)
    try:
        if trickle:
            for at in range(0, len(raw), 8):
                sock.sendall(raw[at:at + 8])
                time.sleep(trickle)
        else:
            sock.sendall(raw if stall_after is None else raw[:stall_after])
        if stall_after is None:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    if not data:
        return None, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().title()] = value.strip()
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = dechunk(body)
    return status, headers, body


def dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2:]
    return out


def request_bytes(body: bytes, *, path: str = "/v1/traces", length: int | None = None,
                  extra: str = "") -> bytes:
    length = len(body) if length is None else length
    return (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n{extra}\r\n").encode() + body


def answered(live, path: str, status, headers, body) -> None:
    """The promise, also for what gunicorn refuses itself before the app runs (HTTP it
    cannot parse): its answer is the JSON envelope too, never its HTML page."""
    if status is None:  # closing without an answer is allowed for a broken request
        return
    check_answer(path, status, headers, body)


def healthy(live) -> None:
    response = requests.get(live.url + "/v1/collector/health", timeout=10)
    assert response.status_code == 200, live.log()[-2000:]


GOOD = encode_json({"source": "claude", "session_id": "real", "entries": [
    {"uuid": "slow-1", "role": "user", "text": "typed slowly",
     "timestamp": "2026-01-01T00:00:00Z"}]})


def test_a_slow_body_is_still_answered(real):
    status, headers, body = exchange(real, request_bytes(GOOD), trickle=0.02)
    assert status == 200, body
    assert json.loads(body)["accepted"] == 1


def test_truncated_bodies_and_lying_lengths(real):
    cases = [request_bytes(GOOD[:40], length=len(GOOD)),           # body cut short, then EOF
             request_bytes(GOOD, length=10),                        # length shorter than body
             request_bytes(b"", length=0),
             request_bytes(GOOD, length=50 * 1024 * 1024),          # claims 50 MiB
             request_bytes(GOOD, extra="Content-Length: 3\r\n"),    # two lengths
             request_bytes(GOOD, length=-1),
             request_bytes(gzip.compress(GOOD)[:30], extra="Content-Encoding: gzip\r\n")]
    for raw in cases:
        answered(real, "/v1/traces", *exchange(real, raw))
    healthy(real)


def test_broken_chunked_encoding(real):
    head = (b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    for chunks in (b"zz\r\n{}\r\n0\r\n\r\n", b"5\r\n{}\r\n0\r\n\r\n", b"3\r\n{}",
                   b"%x\r\n" % len(GOOD) + GOOD + b"\r\n0\r\n\r\n"):
        answered(real, "/v1/traces", *exchange(real, head + chunks))
    healthy(real)


def test_gzip_bomb_and_truncated_gzip_at_the_real_limit(real):
    bomb = gzip.compress(b"{" + b" " * (64 * 1024 * 1024) + b"}", compresslevel=9)
    status, headers, body = exchange(real, request_bytes(bomb, extra="Content-Encoding: gzip\r\n"))
    assert status == 413 and json.loads(body)["error"] == "payload_too_large"
    status, headers, body = exchange(
        real, request_bytes(gzip.compress(GOOD)[:-9], extra="Content-Encoding: gzip\r\n"))
    assert status == 400, body
    healthy(real)


def test_a_stalled_body_costs_one_worker_for_a_bounded_time(real):
    """A client that sends half its body and goes silent holds one sync worker until the
    request timeout; the other workers keep serving, and the worker is replaced."""
    raw = request_bytes(GOOD)
    sock = socket.create_connection(("127.0.0.1", real.port), timeout=30)
    try:
        sock.sendall(raw[: len(raw) - 10])
        time.sleep(0.5)
        healthy(real)  # another worker answers meanwhile
        sock.settimeout(REQUEST_TIMEOUT * 5)
        leftover = b""
        try:
            while chunk := sock.recv(65536):  # gunicorn gives up on the stalled request
                leftover += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    finally:
        sock.close()
    if leftover:  # the aborted request is answered as the app's own 500 would be
        head, _, body = leftover.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 500 "), leftover[:300]
        assert b"\r\nContent-Type: application/json\r\n" in head + b"\r\n", head
        assert json.loads(body) == {"error": "internal_error",
                                    "message": "The collector failed on this request."}
    healthy(real)
    response = requests.post(real.url + "/v1/traces", data=GOOD, timeout=30,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 200


def test_odd_request_lines_and_headers(real):
    for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                b"GET /v1/traces/stats HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
                b"GET /v1/traces/search?q=%ff%fe%00 HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /v1/sessions/%ed%a0%80/entries HTTP/1.1\r\nHost: x\r\n\r\n",
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):  # a TLS hello on plain HTTP
        answered(real, "/", *exchange(real, raw))
    healthy(real)


#: Requests gunicorn refuses before the app runs, the status it chooses, and a secret the
#: request carries that must appear neither in the answer nor in the log.
UNPARSABLE = [
    ("a garbage request line", b"GARBAGE\r\n\r\n", 400),
    ("a header without a colon",
     b"GET /v1/traces/stats HTTP/1.1\r\nHost: x\r\nAuthorization Bearer tok-6b1e77d\r\n\r\n",
     400),
    ("a 10 KiB header line",
     b"GET /v1/traces/stats HTTP/1.1\r\nHost: x\r\nX-Tok: tok-6b1e77d" + b"a" * 10240
     + b"\r\n\r\n", 431),
    ("a request line over gunicorn's limit",
     b"GET /v1/traces/search?q=tok-6b1e77d" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
     414),
    ("HTTP/9.9", b"GET /v1/traces/stats HTTP/9.9\r\nHost: x\r\n\r\n", 400),
]


@pytest.mark.parametrize("raw, status", [case[1:] for case in UNPARSABLE],
                         ids=[case[0] for case in UNPARSABLE])
def test_http_gunicorn_cannot_parse_gets_the_json_envelope(real, raw, status):
    got, headers, body = exchange(real, raw)
    assert got == status, body[:300]
    assert headers["Content-Type"] == "application/json"
    assert headers["Connection"] == "close"
    answer = json.loads(body)
    assert answer["error"] == "bad_request" and set(answer) == {"error", "message"}
    assert b"tok-6b1e77d" not in body and b"<html" not in body.lower()
    healthy(real)
    assert "tok-6b1e77d" not in real.log()


@settings(max_examples=fuzz_examples(60), deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(["envelope", "agent", "raw"]), envelope=envelopes, agent=agents,
       raw=raw_bodies, gzipped=st.booleans())
def test_hypothesis_burst_over_real_connections(real, kind, envelope, agent, raw, gzipped):
    path = "/v1/agents/register" if kind == "agent" else "/v1/traces"
    body = {"envelope": encode_json(envelope), "agent": encode_json(agent), "raw": raw}[kind]
    headers = {"Content-Type": "application/json"}
    if gzipped:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    response = requests.post(real.url + path, data=body, headers=headers, timeout=30)
    check_answer(path, response.status_code, response.headers, response.content)


def test_still_serving_at_the_end(real):
    healthy(real)
    # the app logs every 500 it answers this way (the stalled-body test's worker timeout
    # leaves a gunicorn traceback, which is expected)
    assert "unhandled error in" not in real.log(), real.log()[-3000:]
