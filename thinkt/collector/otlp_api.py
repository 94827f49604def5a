"""OTLP/HTTP on the collector's port: ``POST /v1/logs`` and ``POST /v1/metrics``.

The assistants export their own telemetry here (README: "Zero-install collection"). The
endpoints answer as the OTLP specification says, not as the rest of the API does:

- 200 with an ``Export{Logs,Metrics}ServiceResponse`` in the request's encoding, only
  after the writer committed what it stores (the promise of ``/v1/traces``);
  ``partial_success`` counts the records it did not keep and says why (events of no
  tool we read, events without a session id, fields beyond our limits); a fully kept
  export leaves it unset, or carries a warning with 0 rejected (events of a tool we
  read but do not keep, such as Claude Code's ``tool_decision``);
- errors carry a ``google.rpc.Status``: protobuf for a protobuf request, and for JSON
  the Status fields inside the contract's JSON envelope (``error``, ``message`` and
  ``code``), which reads as either; 400 for a malformed body (nothing is stored), 413
  past the size limit, 415 for neither encoding, 503 with ``Retry-After`` when the
  writer cannot take it now (OTLP clients retry 503 and honour the header).

Decoding and mapping run here, in the HTTP worker (otlp/), and so does masking: the
texts of telemetry (prompts, tool output, errors) come straight from the tool, so the
exporter's secret masking never saw them, and the same rules mask them here before
anything is stored. The writer stores the result in one transaction (writer.py,
telemetry.py, precedence.py).
"""

from __future__ import annotations

import collections
import functools
import json
import logging
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, current_app, request
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse)
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from thinkt.collector.body import read_body, too_large
from thinkt.collector.channel import Rejected, TelemetryBatch, Unavailable
from thinkt.collector.otlp import decode, mapping
from thinkt.collector.otlp.entries import to_batches
from thinkt.collector.otlp.records import ApiRequest

log = logging.getLogger(__name__)

blueprint = Blueprint("otlp", __name__)

#: google.rpc.Code of each HTTP status we answer with.
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 411: 3, 413: 8, 415: 3, 429: 8,
               500: 13, 503: 14}
_ERROR_NAMES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 411: "length_required", 413: "payload_too_large",
                415: "unsupported_media_type", 429: "too_many_requests",
                500: "internal_error", 503: "unavailable"}
#: What an operator sets so the assistants stop sending traces here (README).
TRACES_HINT = ("thinkt keeps the assistants' logs and metrics, not their traces: set "
               "OTEL_TRACES_EXPORTER=none (keep OTEL_LOGS_EXPORTER=otlp for usage), or "
               "point OTEL_EXPORTER_OTLP_TRACES_ENDPOINT at a tracing backend.")


@functools.lru_cache(maxsize=1)
def _redactor() -> Any:
    """The exporter's secret-masking rules (built-ins), built once per process."""
    from thinkt.exporter.ship.redact import Redactor

    return Redactor()


def preload() -> None:
    """Build the masking rules now (the arbiter, before it forks the workers)."""
    _redactor()


def mask(text: str) -> str:
    """Return ``text`` with its secrets masked as the exporter masks a transcript's."""
    return _redactor().redact(text)[0]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _is_protobuf() -> bool:
    try:
        return decode.encoding_of(request.headers.get("Content-Type")) == "protobuf"
    except decode.UnsupportedContentType:
        return False


def error(status: int, message: str, *, retry_after: int | None = None,
          required_role: str | None = None) -> Response:
    """Return an OTLP error: a ``google.rpc.Status`` in the request's encoding."""
    code = _GRPC_CODES.get(status, 2)
    if _is_protobuf():
        body = status_pb2.Status(code=code, message=message).SerializeToString()
        response = Response(body, status=status, content_type="application/x-protobuf")
    else:
        document: dict[str, Any] = {"error": _ERROR_NAMES.get(status, "error"),
                                    "message": message, "code": code}
        if required_role:
            document["required_role"] = required_role
        response = Response(json.dumps(document), status=status,
                            content_type="application/json")
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _success(message: Any) -> Response:
    """Return 200 with the ``Export*ServiceResponse`` in the request's encoding."""
    if _is_protobuf():
        return Response(message.SerializeToString(), status=200,
                        content_type="application/x-protobuf")
    return Response(json_format.MessageToJson(message, indent=None), status=200,
                    content_type="application/json")


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    status = exc.code or 500
    if isinstance(exc, RequestEntityTooLarge) \
            and exc.description == RequestEntityTooLarge.description:
        exc = too_large(current_app.extensions["thinkt.settings"].max_body)
    return error(status, exc.description or exc.name)


@blueprint.errorhandler(Unavailable)
def _unavailable(exc: Unavailable):
    return error(503, exc.message, retry_after=exc.retry_after)


@blueprint.errorhandler(Rejected)
def _rejected(exc: Rejected):
    return error(400, f"The export could not be stored as sent: {exc}")


def _body() -> bytes:
    settings = current_app.extensions["thinkt.settings"]
    return read_body(request.stream, request.headers.get("Content-Encoding"), settings.max_body)


@blueprint.errorhandler(decode.OTLPDecodeError)
def _malformed(exc: decode.OTLPDecodeError):
    # Nothing of a malformed export is stored: decoding comes before any write.
    return error(415 if isinstance(exc, decode.UnsupportedContentType) else 400, str(exc))


def _store(telemetry: TelemetryBatch) -> Any:
    settings = current_app.extensions["thinkt.settings"]
    return current_app.extensions["thinkt.client"].export(telemetry,
                                                          timeout=settings.commit_timeout)


@blueprint.post("/v1/logs")
def logs():
    """Store an OTLP logs export: events as entries of their sessions, API requests too."""
    events = decode.decode_logs(_body(), request.headers.get("Content-Type"))
    received_at = _now()
    records = []
    unknown: collections.Counter = collections.Counter()
    unkept: collections.Counter = collections.Counter()
    for event in events:
        record = mapping.map_event(event)
        if record is not None:
            records.append(record)
            continue
        tool, name = mapping.identify(event)
        (unkept if tool is not None else unknown)[name or "?"] += 1
    sessions = to_batches(records, received_at, mask)
    requests = [record for record in records if isinstance(record, ApiRequest)]
    if sessions.batches or requests:
        stored = _store(TelemetryBatch(sessions.batches, requests, [], received_at))
        log.debug("logs export: %d events, %d entries new, %d told by transcripts",
                  len(events), stored.entries_new, stored.entries_superseded)
    rejected = sessions.rejected + sum(unknown.values())
    reasons = list(sessions.reasons)
    if unknown:
        reasons.append(f"{sum(unknown.values())} events are from no assistant thinkt reads "
                       f"(Claude Code, Codex, Gemini CLI): {_names(unknown)}")
    if unkept:
        reasons.append(f"{sum(unkept.values())} events of kinds thinkt does not keep were "
                       f"accepted and dropped: {_names(unkept)}")
    response = ExportLogsServiceResponse()
    if reasons:
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = "; ".join(reasons)
    return _success(response)


@blueprint.post("/v1/metrics")
def metrics():
    """Store an OTLP metrics export: each point as what it added over its interval."""
    points = decode.decode_metrics(_body(), request.headers.get("Content-Type"))
    kept = []
    unknown: collections.Counter = collections.Counter()
    for point in points:
        if mapping.metric_tool(point) is None:
            unknown[point.name] += 1
        else:
            kept.append(point)
    if kept:
        _store(TelemetryBatch([], [], kept, _now()))
    response = ExportMetricsServiceResponse()
    if unknown:
        response.partial_success.rejected_data_points = sum(unknown.values())
        response.partial_success.error_message = (
            f"{sum(unknown.values())} data points are from no assistant thinkt reads "
            f"(Claude Code, Codex, Gemini CLI): {_names(unknown)}")
    return _success(response)


def refuse_traces(body: bytes, content_type: str | None) -> Response:
    """Answer an OTLP trace export sent to ``/v1/traces`` (our batch endpoint) as OTLP
    expects: every span rejected in ``partial_success``, with what to switch off.

    Spans are not stored: the usage they could carry arrives with the logs
    (``api_request`` events), and keeping both would count it twice.
    """
    try:
        spans = decode.count_spans(body, content_type)
    except decode.OTLPDecodeError as exc:  # raised outside this blueprint's views
        return _malformed(exc)
    response = ExportTraceServiceResponse()
    response.partial_success.rejected_spans = spans
    response.partial_success.error_message = TRACES_HINT
    log.info("refused an OTLP trace export of %d spans (see OTEL_TRACES_EXPORTER)", spans)
    return _success(response)


def _names(counts: collections.Counter, most: int = 5) -> str:
    """``a (3), b (1)`` for the commonest names, and how many others."""
    shown = ", ".join(f"{name[:80]} ({count})" for name, count in counts.most_common(most))
    rest = len(counts) - most
    return shown + (f" and {rest} more kinds" if rest > 0 else "")

