"""The collector worker answers gunicorn's refusals with the JSON envelope and gunicorn's status."""

from __future__ import annotations

import json
import logging
import socket
import ssl
from unittest import mock

import pytest

pytest.importorskip("gunicorn")

from gunicorn.config import Config  # noqa: E402
from gunicorn.http import errors  # noqa: E402
from gunicorn.workers.sync import SyncWorker  # noqa: E402

from thinkt.collector.worker import EnvelopeSyncWorker, drop_refusal_detail  # noqa: E402

SECRET = "tok-4f2a9c-never-echoed"

#: (what gunicorn raised, the status it answers with, the envelope's error code)
REFUSALS = [
    (errors.InvalidRequestLine(f"GET /?x={SECRET}"), 400, "bad_request"),
    (errors.InvalidRequestMethod(SECRET), 400, "bad_request"),
    (errors.InvalidHTTPVersion("HTTP/9.9"), 400, "bad_request"),
    (errors.InvalidHeader(f"Authorization Bearer {SECRET}"), 400, "bad_request"),
    (errors.InvalidHeaderName(SECRET), 400, "bad_request"),
    (errors.ObsoleteFolding(SECRET), 400, "bad_request"),
    (errors.LimitRequestLine(9000, 4094), 414, "bad_request"),
    (errors.LimitRequestHeaders("limit request headers fields size"), 431, "bad_request"),
    (errors.UnsupportedTransferCoding(SECRET), 501, "bad_request"),
    (errors.InvalidChunkSize(SECRET.encode()), 400, "bad_request"),
    (errors.ChunkMissingTerminator(SECRET.encode()), 400, "bad_request"),
    (errors.ExpectationFailed(SECRET), 417, "bad_request"),
    (ssl.SSLError(1, "[SSL: HTTP_REQUEST] http request"), 403, "bad_request"),
    (errors.ConfigurationProblem(SECRET), 500, "internal_error"),
    (RuntimeError(SECRET), 500, "internal_error"),
    (SystemExit(1), 500, "internal_error"),  # a timed-out worker aborting its request
]


@pytest.fixture
def make_worker(tmp_path):
    made = []

    def make(kind):
        cfg = Config()
        cfg.set("worker_tmp_dir", str(tmp_path))
        worker = kind(0, 0, [], None, 30, cfg, mock.Mock())
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.tmp.close()


def answer_of(worker, exc):
    """Let ``worker`` handle ``exc`` on a real socket; return (status line, headers, body)."""
    ours, theirs = socket.socketpair()
    try:
        worker.handle_error(None, ours, ("192.0.2.1", 4242), exc)
        ours.close()
        theirs.settimeout(5)
        data = b""
        while chunk := theirs.recv(65536):
            data += chunk
    finally:
        theirs.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], headers, body


@pytest.mark.parametrize("exc, status, code", REFUSALS, ids=lambda v: type(v).__name__)
def test_a_refusal_is_the_envelope_with_gunicorns_status(make_worker, exc, status, code):
    line, headers, body = answer_of(make_worker(EnvelopeSyncWorker), exc)
    gunicorn_line, gunicorn_headers, gunicorn_body = answer_of(make_worker(SyncWorker), exc)
    assert line == gunicorn_line  # status and reason are gunicorn's own choice
    assert line.split()[1] == str(status)
    assert gunicorn_headers["Content-Type"] == "text/html"  # what the worker replaces
    assert headers["Content-Type"] == "application/json"
    assert headers["Connection"] == "close"
    assert int(headers["Content-Length"]) == len(body)
    answer = json.loads(body)
    assert answer["error"] == code
    assert isinstance(answer["message"], str) and answer["message"]
    assert set(answer) == {"error", "message"}
    assert SECRET not in body.decode()


def test_messages_name_the_kind_of_error(make_worker):
    worker = make_worker(EnvelopeSyncWorker)
    messages = {type(exc).__name__: json.loads(answer_of(worker, exc)[2])["message"]
                for exc, _, _ in REFUSALS}
    assert "too long" in messages["LimitRequestLine"]
    assert "too large" in messages["LimitRequestHeaders"]
    assert "HTTP version" in messages["InvalidHTTPVersion"]
    assert "header" in messages["InvalidHeader"]
    assert "chunked" in messages["InvalidChunkSize"]
    assert messages["RuntimeError"] == "The collector failed on this request."
    assert "serves https://" in messages["SSLError"]


def test_the_warning_names_the_kind_not_the_request(make_worker):
    worker = make_worker(EnvelopeSyncWorker)
    answer_of(worker, errors.InvalidHeader(f"Authorization Bearer {SECRET}"))
    logged = [call.args for call in worker.log.warning.call_args_list]
    ours = [args for args in logged if args[0].startswith("Refused")]
    assert ours == [("Refused a request from %s: %s (%d)", "192.0.2.1",
                     "A request header is not valid.", 400)]


def test_gunicorns_warning_quoting_the_request_is_dropped():
    def record(msg):
        return logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, msg, (), None)

    gunicorn_line = f"Invalid request from ip=192.0.2.1: Invalid HTTP Header: 'Bearer {SECRET}'"
    assert not drop_refusal_detail(record(gunicorn_line))
    assert drop_refusal_detail(record("Refused a request from 192.0.2.1: A request header ..."))
    assert drop_refusal_detail(record("Booting worker with pid: %s"))


def test_a_client_gone_before_the_answer_is_not_an_error(make_worker):
    worker = make_worker(EnvelopeSyncWorker)
    ours, theirs = socket.socketpair()
    theirs.close()
    ours.close()  # writing to a closed socket raises inside handle_error
    worker.handle_error(None, ours, ("192.0.2.1", 4242), errors.InvalidRequestLine("x"))
    worker.log.debug.assert_called_with("Failed to send error message.")
