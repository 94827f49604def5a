"""The collector's gunicorn worker: sync, but requests gunicorn cannot parse get the JSON envelope.

gunicorn answers what it refuses before the app runs (a bad request line, a header it
cannot read or that is too large, a request line over the limit, an unknown HTTP
version, broken chunk framing) with its own small HTML page, written by
``gunicorn.util.write_error``. CONTRACT.md §1 promises the JSON error envelope for every
error, so this worker lets gunicorn's ``handle_error`` decide everything as before (the
status, the log line, the access log) while it writes to a recorder instead of the
client, then sends the same status with a JSON body instead. Messages are fixed per
kind of error: the request's own bytes may hold a token and are never echoed, and the
warning gunicorn logs with them is replaced by one that names only the kind.
"""

from __future__ import annotations

import json
import logging
import ssl
from typing import Any

from gunicorn import util
from gunicorn.http import errors
from gunicorn.workers.sync import SyncWorker

log = logging.getLogger(__name__)

#: What the client is told, per kind of refusal; the first class that matches wins.
MESSAGES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (errors.LimitRequestLine, "The request line is too long."),
    (errors.LimitRequestHeaders, "The request headers are too large or too many."),
    (errors.InvalidRequestMethod, "The request method is not valid."),
    (errors.InvalidHTTPVersion, "The HTTP version is not supported; use HTTP/1.0 or HTTP/1.1."),
    (errors.InvalidRequestLine, "The request line is not valid HTTP."),
    (errors.UnsupportedTransferCoding, "The transfer coding is not supported."),
    (errors.ObsoleteFolding, "A request header is folded over several lines."),
    ((errors.InvalidHeader, errors.InvalidHeaderName, errors.InvalidSchemeHeaders),
     "A request header is not valid."),
    ((errors.InvalidChunkSize, errors.ChunkMissingTerminator, errors.InvalidChunkExtension),
     "The chunked body is not framed correctly."),
    (errors.ExpectationFailed, "The Expect header cannot be met."),
    ((errors.InvalidProxyLine, errors.ForbiddenProxyRequest), "The PROXY line is not accepted."),
    (errors.InvalidH2CPreface, "HTTP/2 is not supported; use HTTP/1.1."),
    (errors.ParseException, "The request is not valid HTTP."),
    # gunicorn answers 403 when the TLS handshake fails, e.g. plain http:// to a TLS port.
    (ssl.SSLError, "The TLS handshake failed: this collector serves https://."),
)
#: The answer when gunicorn itself failed (its generic 500 path), as app.py words it.
INTERNAL = ("internal_error", "The collector failed on this request.")
#: The start of the warning gunicorn logs with the raw request text (see handle_error).
GUNICORN_REFUSAL = "Invalid request from ip="


class EnvelopeSyncWorker(SyncWorker):
    """gunicorn's sync worker, answering its own refusals with the JSON error envelope."""

    # gunicorn swaps a worker_class named "...SyncWorker" for its gthread worker when
    # threads > 1, dropping this class: the collector leaves threads at 1 (sync design).

    def init_process(self) -> None:
        # After the fork, before serving: only this worker's logging changes.
        logging.getLogger("gunicorn.error").addFilter(drop_refusal_detail)
        super().init_process()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        recorder = Recorder()
        super().handle_error(req, recorder, addr, exc)
        status, reason = recorder.status()
        if status is None:
            return
        code, message = describe(exc, status)
        if status != 500:
            self.log.warning("Refused a request from %s: %s (%d)",
                             (addr or ("unix socket",))[0], message, status)
        try:
            util.write_nonblock(client, envelope(status, reason, code, message))
        except Exception:
            self.log.debug("Failed to send error message.")


class Recorder:
    """Stands in for the client socket while gunicorn writes its HTML answer."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        """Say the socket is non-blocking, so gunicorn does not try to change that."""
        return 0.0

    def sendall(self, data: bytes) -> None:
        """Keep what gunicorn would have sent."""
        self.data += data

    def status(self) -> tuple[int | None, str]:
        """Return the status and reason gunicorn chose, or (None, "") if it wrote nothing."""
        line = self.data.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            return None, ""
        return int(parts[1]), parts[2] if len(parts) > 2 else ""


def describe(exc: BaseException, status: int) -> tuple[str, str]:
    """Return the envelope's error code and fixed message for gunicorn's refusal ``exc``."""
    if status >= 500 and status != 501:
        return INTERNAL
    for kinds, message in MESSAGES:
        if isinstance(exc, kinds):
            return "bad_request", message
    return "bad_request", "The request could not be read."


def envelope(status: int, reason: str, code: str, message: str) -> bytes:
    """Return a whole HTTP/1.1 answer carrying the contract's JSON error envelope."""
    body = json.dumps({"error": code, "message": message}).encode("utf-8") + b"\n"
    head = (f"HTTP/1.1 {status} {reason}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def drop_refusal_detail(record: logging.LogRecord) -> bool:
    """Drop gunicorn's refusal warning: it quotes request text (a header line may hold a
    token). The worker logs its own, naming only the kind of error."""
    return not (isinstance(record.msg, str) and record.msg.startswith(GUNICORN_REFUSAL))
