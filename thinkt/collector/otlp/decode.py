"""Decoding OTLP/HTTP request bodies (logs, metrics) into plain named values.

The assistants export their own telemetry with the OpenTelemetry protocol: Claude Code
and Codex can send protobuf or JSON, Gemini CLI's ``http`` protocol sends JSON. Bodies
are parsed with the OpenTelemetry project's own protobuf definitions (the
``opentelemetry-proto`` package) and ``google.protobuf.json_format``, never a parser of
ours; this module only turns the parsed messages into :class:`LogEvent` and
:class:`MetricPoint` values that the rest of the collector can use without protobuf.

The body arrives already inflated and within the size limit (``thinkt.collector.body``
does that for every endpoint). What OTLP/JSON changes from the protobuf JSON mapping
(https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding), and how we follow it:

- trace and span ids are hex strings, not base64: converted before parsing;
- enums may be integers, 64-bit integers may be strings or numbers, keys are lowerCamelCase
  (the original snake_case names are accepted too): ``json_format`` reads all of these;
- unknown fields must be ignored by receivers: ``ignore_unknown_fields=True``.

Anything that is not a well-formed request of the expected type raises
:class:`OTLPDecodeError` (the endpoint answers 400; :class:`UnsupportedContentType` is
the subclass for a content type that is neither, for a 415).

Also here: :func:`looks_like_otlp_traces`, which tells an OTLP trace export sent to
``/v1/traces`` from one of our own JSON batches (``source``, ``session_id``, ``entries``).
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
from typing import Any, Iterable, Iterator, NamedTuple

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

log = logging.getLogger(__name__)

#: Content types of the OTLP/HTTP binary encoding (the spec names the first; proxies and
#: older SDKs use the others).
PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf",
                            "application/vnd.google.protobuf"})
JSON_TYPES = frozenset({"application/json"})

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
#: AggregationTemporality values of metrics.proto.
_TEMPORALITY = {1: "delta", 2: "cumulative"}
#: DataPointFlags.FLAG_NO_RECORDED_VALUE: the point marks a gap (a series went stale).
_NO_RECORDED_VALUE = 1
#: OTLP/JSON keys holding hex ids, in both spellings json_format accepts.
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id",
                      "parent_span_id"})


class OTLPDecodeError(ValueError):
    """The body is not a well-formed OTLP request; ``str()`` says why, for the 400 body."""


class UnsupportedContentType(OTLPDecodeError):
    """The content type is neither OTLP encoding (protobuf or JSON)."""


class LogEvent(NamedTuple):
    """One log record of an OTLP logs request, with its resource and scope."""

    #: When the event happened (the record's time, else its observed time), UTC.
    time: datetime.datetime | None
    #: When the sending SDK saw it, UTC; None when unset.
    observed_time: datetime.datetime | None
    #: The record's time in nanoseconds since the epoch exactly as sent (0 when unset):
    #: fixed when the event is emitted, so a resent export carries the same value.
    time_unix_nano: int
    resource_attrs: dict[str, Any]
    scope_name: str
    #: The record's ``event_name`` field (OTLP 1.5+), "" when unset. The assistants name
    #: their events in the ``event.name`` attribute or the body instead (see mapping).
    event_name: str
    #: The body as text: a string body as sent, any other value as JSON; None when unset.
    body_text: str | None
    attrs: dict[str, Any]
    severity_text: str
    #: Hex ids of the span the record belongs to, or None.
    trace_id: str | None
    span_id: str | None


class MetricPoint(NamedTuple):
    """One data point of an OTLP metrics request, with its metric's name and kind."""

    name: str
    unit: str
    #: ``sum``, ``gauge``, ``histogram``, ``exponential_histogram`` or ``summary``.
    kind: str
    #: ``delta`` or ``cumulative`` (summaries are cumulative by definition); None for
    #: gauges and for a sum or histogram that did not say.
    temporality: str | None
    #: True for a monotonic sum (a counter); False for gauges and up-down counters.
    #: Histograms, whose count and sum only grow, are reported as monotonic.
    monotonic: bool
    start_time: datetime.datetime | None
    time: datetime.datetime | None
    #: The number (sum and gauge), or the sum of the observations (histograms, summaries;
    #: None when a histogram did not record its sum).
    value: float | int | None
    #: How many observations (histograms and summaries); None for sums and gauges.
    count: int | None
    attrs: dict[str, Any]
    resource_attrs: dict[str, Any]
    scope_name: str


def decode_logs(body: bytes, content_type: str | None) -> list[LogEvent]:
    """Decode an OTLP ``ExportLogsServiceRequest`` body into its log records.

    :raises OTLPDecodeError: the body is not such a request in the given encoding.
    """
    request = _parse(body, content_type, ExportLogsServiceRequest, "logs")
    return list(_log_events(request))


def decode_metrics(body: bytes, content_type: str | None) -> list[MetricPoint]:
    """Decode an OTLP ``ExportMetricsServiceRequest`` body into its data points.

    Points flagged "no recorded value" (a series that went stale) carry no number and
    are left out.

    :raises OTLPDecodeError: the body is not such a request in the given encoding.
    """
    request = _parse(body, content_type, ExportMetricsServiceRequest, "metrics")
    return list(_metric_points(request))


def count_spans(body: bytes, content_type: str | None) -> int:
    """Return how many spans an OTLP ``ExportTraceServiceRequest`` body holds.

    :raises OTLPDecodeError: the body is not such a request in the given encoding.
    """
    request = _parse(body, content_type, ExportTraceServiceRequest, "traces")
    return sum(len(scope.spans) for resource in request.resource_spans
               for scope in resource.scope_spans)


def looks_like_otlp_traces(body: bytes, content_type: str | None) -> bool:
    """Tell whether a ``/v1/traces`` body is an OTLP trace export rather than our batch.

    Our exporter only ever sends JSON, so a protobuf body is OTLP. A JSON body is OTLP
    when :func:`is_otlp_traces_json` says so; a body that is not JSON at all is neither
    (the batch endpoint answers it with its own ``invalid_json``).
    """
    encoding = encoding_of(content_type)
    if encoding == "protobuf":
        return True
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return is_otlp_traces_json(document)


def is_otlp_traces_json(document: Any) -> bool:
    """Tell whether an already parsed JSON body is an OTLP trace export.

    OTLP's ``ExportTraceServiceRequest`` has one field, ``resourceSpans``; our batches
    have ``source``, ``session_id`` and ``entries``. A body with both kinds of keys is
    taken for a batch (a batch may carry extra keys, and the batch schema then reports
    what is wrong with it).
    """
    if not isinstance(document, dict):
        return False
    if not ("resourceSpans" in document or "resource_spans" in document):
        return False
    return not any(key in document for key in ("entries", "session_id", "source"))


def encoding_of(content_type: str | None) -> str:
    """Return ``protobuf`` or ``json`` for a Content-Type header (parameters ignored).

    :raises UnsupportedContentType: it names neither OTLP encoding.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in PROTOBUF_TYPES:
        return "protobuf"
    if media in JSON_TYPES:
        return "json"
    raise UnsupportedContentType(
        f"Content-Type {media or '(none)'!r} is not an OTLP encoding "
        "(use application/x-protobuf or application/json).")


def _parse(body: bytes, content_type: str | None, message_type: type[Message],
           signal: str) -> Any:
    encoding = encoding_of(content_type)
    message = message_type()
    if encoding == "protobuf":
        try:
            message.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            # upb raises DecodeError for bad wire data, invalid UTF-8 in a string field and
            # nesting past its recursion limit alike; its message is generic, so say what.
            raise OTLPDecodeError(f"The body is not a protobuf OTLP {signal} request "
                                  f"({type(exc).__name__}: {exc}).") from None
        return message
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise OTLPDecodeError(f"The body is not valid JSON (OTLP/JSON {signal}).") from None
    if not isinstance(document, dict):
        raise OTLPDecodeError(f"An OTLP/JSON {signal} request is a JSON object, "
                              f"not {type(document).__name__}.")
    try:
        json_format.ParseDict(_hex_ids_to_base64(document), message,
                              ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError,
            RecursionError) as exc:
        # ParseError names the field path ("Failed to parse resourceLogs field: ...").
        raise OTLPDecodeError(f"The body is not an OTLP/JSON {signal} request ({exc}).") \
            from None
    return message


def _hex_ids_to_base64(node: Any) -> Any:
    """Return the JSON document with hex trace/span ids as the base64 protobuf JSON wants."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                out[key] = _hex_to_base64(key, value)
            else:
                out[key] = _hex_ids_to_base64(value)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(value) for value in node]
    return node


def _hex_to_base64(key: str, value: str) -> str:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise OTLPDecodeError(f"{key} {value[:40]!r} is not hex (OTLP/JSON ids are hex, "
                              "not base64).") from None
    return base64.b64encode(raw).decode("ascii")


def _walk(request: Any, resources: str, scopes: str, items: str) -> Iterator[tuple]:
    """Yield ``(resource attributes, scope name, item)`` for every item of a request."""
    for resource_entry in getattr(request, resources):
        resource_attrs = attributes(resource_entry.resource.attributes)
        for scope_entry in getattr(resource_entry, scopes):
            for item in getattr(scope_entry, items):
                yield resource_attrs, scope_entry.scope.name, item


def _log_events(request: Any) -> Iterator[LogEvent]:
    for resource_attrs, scope_name, record in _walk(request, "resource_logs", "scope_logs",
                                                    "log_records"):
        observed = _time(record.observed_time_unix_nano)
        yield LogEvent(
            time=_time(record.time_unix_nano) or observed,
            observed_time=observed,
            time_unix_nano=record.time_unix_nano,
            resource_attrs=resource_attrs,
            scope_name=scope_name,
            # Older opentelemetry-proto builds have no event_name field.
            event_name=getattr(record, "event_name", ""),
            body_text=_body_text(record.body) if record.HasField("body") else None,
            attrs=attributes(record.attributes),
            severity_text=record.severity_text,
            trace_id=record.trace_id.hex() or None,
            span_id=record.span_id.hex() or None,
        )


def _metric_points(request: Any) -> Iterator[MetricPoint]:
    for resource_attrs, scope_name, metric in _walk(request, "resource_metrics",
                                                    "scope_metrics", "metrics"):
        for point in _points_of(metric):
            yield point._replace(resource_attrs=resource_attrs, scope_name=scope_name)


def _points_of(metric: Any) -> Iterable[MetricPoint]:
    kind = metric.WhichOneof("data")
    if kind is None:  # a metric with no data: nothing to keep
        return
    data = getattr(metric, kind)
    if kind == "gauge":
        temporality, monotonic = None, False
    elif kind == "sum":
        temporality, monotonic = _TEMPORALITY.get(data.aggregation_temporality), data.is_monotonic
    elif kind == "summary":
        temporality, monotonic = "cumulative", True
    else:  # histogram, exponential_histogram
        temporality, monotonic = _TEMPORALITY.get(data.aggregation_temporality), True
    for point in data.data_points:
        if point.flags & _NO_RECORDED_VALUE:
            continue
        if kind in ("gauge", "sum"):
            which = point.WhichOneof("value")
            value = getattr(point, which) if which else None
            count = None
        else:
            # A histogram's sum is optional (absent when observations may be negative).
            has_sum = kind == "summary" or point.HasField("sum")
            value = point.sum if has_sum else None
            count = point.count
        yield MetricPoint(
            name=metric.name, unit=metric.unit, kind=kind, temporality=temporality,
            monotonic=monotonic, start_time=_time(point.start_time_unix_nano),
            time=_time(point.time_unix_nano), value=value, count=count,
            attrs=attributes(point.attributes), resource_attrs={}, scope_name="")


def attributes(key_values: Iterable[Any]) -> dict[str, Any]:
    """Return OTLP ``KeyValue`` attributes as a dict (a repeated key: the last one wins)."""
    return {kv.key: any_value(kv.value) for kv in key_values}


def any_value(value: Any) -> Any:
    """Return an OTLP ``AnyValue`` as a Python value.

    string, bool, int, double and bytes become ``str``, ``bool``, ``int``, ``float`` and
    ``bytes``; an array a ``list``, a key-value list a ``dict``; an empty value ``None``.
    """
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, which)


def _body_text(body: Any) -> str | None:
    value = any_value(body)
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=_json_default, ensure_ascii=False, allow_nan=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _time(unix_nano: int) -> datetime.datetime | None:
    """Return nanoseconds since the epoch as an aware UTC datetime; None for 0 (unset)."""
    if not unix_nano:
        return None
    try:
        return _EPOCH + datetime.timedelta(microseconds=unix_nano // 1000)
    except OverflowError:  # past year 9999: not a time anyone meant
        return None

