"""OTLP bodies as the SDK's exporters send them decode to plain values; bad ones are refused."""

import base64
import datetime
import json

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as PbLogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import NumberDataPoint

from thinkt.collector.otlp import (LogEvent, MetricPoint, OTLPDecodeError, UnsupportedContentType,
                                   decode_logs, decode_metrics, is_otlp_traces_json,
                                   looks_like_otlp_traces)
from thinkt.collector.otlp.decode import encoding_of

from .conftest import (CLAUDE, GEMINI, MetricsClient, export_logs, export_spans,
                       to_otlp_json)

PB = "application/x-protobuf"
JSON = "application/json"
T0_NS = 1_767_225_600_123_456_789  # 2026-01-01T00:00:00.123456789Z
T0 = datetime.datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=datetime.timezone.utc)


def claude_api_request(**attributes):
    return {"timestamp": T0_NS, "body": "claude_code.api_request", "attributes": {
        "event.name": "api_request", "session.id": "s-1", "user.email": "ann@example.com",
        "model": "claude-sonnet-4-5", "input_tokens": "12", "cost_usd": 0.25, **attributes}}


# --- logs ------------------------------------------------------------------------------


def test_sdk_protobuf_logs_decode_to_log_events(otlp_server):
    # GIVEN one record exported by the SDK's OTLP/HTTP (protobuf) log exporter
    posted = export_logs(otlp_server, CLAUDE, [claude_api_request()])
    assert posted.content_type == PB

    # WHEN it is decoded
    [event] = decode_logs(posted.body, posted.content_type)

    # THEN it is a named value with plain Python types
    assert isinstance(event, LogEvent)
    assert event.time == T0 and event.time_unix_nano == T0_NS
    assert event.observed_time is not None  # the SDK stamps it
    assert event.resource_attrs["service.name"] == "claude-code"
    assert event.scope_name == "com.anthropic.claude_code.events"
    assert event.body_text == "claude_code.api_request"
    assert event.attrs["input_tokens"] == "12" and event.attrs["cost_usd"] == 0.25
    assert event.attrs["event.name"] == "api_request"


def test_otlp_json_logs_decode_like_protobuf(otlp_server):
    posted = export_logs(otlp_server, CLAUDE, [claude_api_request(), claude_api_request(
        **{"request_id": "req_2"})])
    body = to_otlp_json(posted.body, ExportLogsServiceRequest)
    assert decode_logs(body, "application/json; charset=utf-8") == decode_logs(posted.body, PB)


def test_gzip_export_is_inflated_by_the_collectors_reader(otlp_server):
    posted = export_logs(otlp_server, CLAUDE, [claude_api_request()], gzip=True)
    assert posted.content_encoding == "gzip"  # the stub inflated it with body.read_body
    [event] = decode_logs(posted.body, posted.content_type)
    assert event.attrs["model"] == "claude-sonnet-4-5"


def test_sdk_body_of_a_map_and_array_attributes(otlp_server):
    posted = export_logs(otlp_server, GEMINI, [{
        "timestamp": T0_NS, "body": {"kind": "map", "n": 2},
        "attributes": {"finish_reasons": ["STOP", "MAX_TOKENS"], "success": True,
                       "ratio": 0.5, "count": 7}}])
    for body, content_type in ((posted.body, PB),
                               (to_otlp_json(posted.body, ExportLogsServiceRequest), JSON)):
        [event] = decode_logs(body, content_type)
        assert json.loads(event.body_text) == {"kind": "map", "n": 2}
        assert event.attrs == {"finish_reasons": ["STOP", "MAX_TOKENS"], "success": True,
                               "ratio": 0.5, "count": 7}


def _kv(key, **value):
    return KeyValue(key=key, value=AnyValue(**value))


def every_kind_request():
    """A logs request with every AnyValue kind, as attributes and nested."""
    nested = AnyValue()
    nested.kvlist_value.values.extend([_kv("inner", int_value=-3), _kv("deep", bool_value=False)])
    array = AnyValue()
    array.array_value.values.extend([AnyValue(string_value="a"), AnyValue(double_value=1.5),
                                     nested, AnyValue()])
    record = PbLogRecord(time_unix_nano=0, observed_time_unix_nano=T0_NS,
                         severity_number=9, severity_text="INFO",
                         body=AnyValue(bytes_value=b"\x00\xffraw"),
                         trace_id=bytes(range(16)), span_id=bytes(range(8)))
    record.attributes.extend([
        _kv("s", string_value="text"), _kv("b", bool_value=True),
        _kv("i", int_value=2**62), _kv("d", double_value=-0.25),
        _kv("bytes", bytes_value=b"\x01\x02"), KeyValue(key="empty"),
        KeyValue(key="array", value=array), KeyValue(key="map", value=nested)])
    request = ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.append(record)
    return request


def test_every_anyvalue_kind_becomes_a_python_value():
    request = every_kind_request()
    expected = {"s": "text", "b": True, "i": 2**62, "d": -0.25, "bytes": b"\x01\x02",
                "empty": None, "array": ["a", 1.5, {"inner": -3, "deep": False}, None],
                "map": {"inner": -3, "deep": False}}
    pb = request.SerializeToString()
    json_body = to_otlp_json(pb, ExportLogsServiceRequest)
    for body, content_type in ((pb, PB), (json_body, JSON)):
        [event] = decode_logs(body, content_type)
        assert event.attrs == expected
        # A record without a time takes its observed time; the ids come back as hex.
        assert event.time == event.observed_time == T0 and event.time_unix_nano == 0
        assert event.trace_id == bytes(range(16)).hex() and event.span_id == "0001020304050607"
        assert event.body_text == json.dumps(base64.b64encode(b"\x00\xffraw").decode())
        assert event.severity_text == "INFO"


def test_otlp_json_specifics_are_understood():
    # Hex ids, integer enums, 64-bit integers as strings or numbers, snake_case keys and
    # unknown fields (which receivers must ignore).
    body = json.dumps({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "gemini-cli"}}]},
        "futureField": {"x": 1},
        "scopeLogs": [{"scope": {"name": "gemini-cli"}, "log_records": [{
            "timeUnixNano": str(T0_NS), "observedTimeUnixNano": T0_NS,
            "severityNumber": 9, "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "eee19b7ec3c1b174", "unknownToUs": True,
            "body": {"stringValue": "API response from gemini-2.5-pro."},
            "attributes": [{"key": "n", "value": {"intValue": "123"}},
                           {"key": "m", "value": {"intValue": 456}}]}]}]}]}).encode()
    [event] = decode_logs(body, JSON)
    assert event.trace_id == "5b8efff798038103d269b633813fc60c"
    assert event.span_id == "eee19b7ec3c1b174"
    assert event.attrs == {"n": 123, "m": 456}
    assert event.time_unix_nano == T0_NS and event.scope_name == "gemini-cli"


def test_an_empty_request_has_no_events():
    assert decode_logs(b"", PB) == []
    assert decode_logs(b"{}", JSON) == []


@pytest.mark.parametrize("body", [
    b"\xff\xff\xff\xff",                                   # not protobuf wire data
    ExportLogsServiceRequest().SerializeToString() + b"\x0a\x05ab",  # cut short
    b'{"resourceLogs": []}',                               # JSON sent as protobuf
])
def test_malformed_protobuf_is_refused(body):
    with pytest.raises(OTLPDecodeError, match="protobuf OTLP logs"):
        decode_logs(body, PB)


@pytest.mark.parametrize("body, says", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "JSON object, not list"),
    (b'{"resourceLogs": "many"}', "not an OTLP/JSON logs request"),
    (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "soon"}]}]}]}',
     "not an OTLP/JSON logs request"),
    (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz"}]}]}]}',
     "traceId 'zz' is not hex"),
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "not valid JSON"),
])
def test_malformed_json_is_refused(body, says):
    with pytest.raises(OTLPDecodeError, match=says):
        decode_logs(body, JSON)


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/grpc"])
def test_other_content_types_are_refused(content_type):
    with pytest.raises(UnsupportedContentType, match="not an OTLP encoding"):
        decode_logs(b"{}", content_type)
    assert issubclass(UnsupportedContentType, OTLPDecodeError)


def test_content_type_parameters_and_case_are_ignored():
    assert encoding_of("Application/X-Protobuf") == "protobuf"
    assert encoding_of("application/json; charset=utf-8") == "json"


# --- metrics ---------------------------------------------------------------------------


def test_sdk_metrics_decode_to_points_of_every_kind(otlp_server):
    # GIVEN a counter, an up-down counter, a histogram and a gauge, exported cumulatively
    client = MetricsClient(otlp_server, CLAUDE)
    meter = client.meter
    meter.create_counter("claude_code.token.usage", unit="tokens").add(
        40, {"type": "input", "model": "claude-sonnet-4-5"})
    meter.create_up_down_counter("queue.depth").add(-2)
    meter.create_histogram("codex.turn.token_usage").record(300, {"token_type": "input"})
    meter.create_observable_gauge(
        "gemini_cli.memory.usage",
        callbacks=[lambda options: [_observation(1.5e6, {"memory_type": "rss"})]])
    posted = client.flush()
    client.close()

    # WHEN decoded
    points = {p.name: p for p in decode_metrics(posted.body, posted.content_type)}

    # THEN each is a named point with its kind, temporality and numbers
    tokens = points["claude_code.token.usage"]
    assert isinstance(tokens, MetricPoint)
    assert (tokens.kind, tokens.temporality, tokens.monotonic) == ("sum", "cumulative", True)
    assert tokens.value == 40 and tokens.count is None and tokens.unit == "tokens"
    assert tokens.attrs == {"type": "input", "model": "claude-sonnet-4-5"}
    assert tokens.resource_attrs["service.name"] == "claude-code"
    assert tokens.scope_name == "com.anthropic.claude_code"
    assert tokens.start_time is not None and tokens.start_time <= tokens.time
    depth = points["queue.depth"]
    assert (depth.kind, depth.monotonic, depth.value) == ("sum", False, -2)
    histogram = points["codex.turn.token_usage"]
    assert (histogram.kind, histogram.temporality) == ("histogram", "cumulative")
    assert (histogram.value, histogram.count) == (300, 1)
    gauge = points["gemini_cli.memory.usage"]
    assert (gauge.kind, gauge.temporality, gauge.value) == ("gauge", None, 1.5e6)

    # AND the OTLP/JSON form of the same request decodes to the same points
    json_body = to_otlp_json(posted.body, ExportMetricsServiceRequest)
    assert decode_metrics(json_body, JSON) == decode_metrics(posted.body, PB)


def _observation(value, attributes):
    from opentelemetry.metrics import Observation
    return Observation(value, attributes)


def test_sdk_delta_temporality_is_reported(otlp_server):
    client = MetricsClient(otlp_server, CLAUDE, temporality="delta")
    client.meter.create_counter("claude_code.cost.usage", unit="USD").add(0.5)
    posted = client.flush()
    client.close()
    [point] = decode_metrics(posted.body, posted.content_type)
    assert (point.temporality, point.value, point.unit) == ("delta", 0.5, "USD")


def test_points_without_a_recorded_value_are_left_out():
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="c")
    metric.sum.aggregation_temporality = 2
    metric.sum.is_monotonic = True
    metric.sum.data_points.extend([
        NumberDataPoint(as_int=5, time_unix_nano=T0_NS),
        NumberDataPoint(time_unix_nano=T0_NS + 1, flags=1)])  # FLAG_NO_RECORDED_VALUE
    [point] = decode_metrics(request.SerializeToString(), PB)
    assert point.value == 5


@pytest.mark.parametrize("body, content_type", [
    (b"\x0a\xff", PB), (b'{"resourceMetrics": {}}', JSON), (b"nope", JSON)])
def test_malformed_metrics_are_refused(body, content_type):
    with pytest.raises(OTLPDecodeError, match="metrics|JSON"):
        decode_metrics(body, content_type)


# --- traces ----------------------------------------------------------------------------


def test_an_otlp_trace_export_is_told_from_our_batches(otlp_server):
    posted = export_spans(otlp_server, CLAUDE)
    assert looks_like_otlp_traces(posted.body, posted.content_type)
    json_body = to_otlp_json(posted.body, ExportTraceServiceRequest)
    assert json.loads(json_body)["resourceSpans"]
    assert looks_like_otlp_traces(json_body, JSON)
    batch = {"source": "claude", "session_id": "s-1", "entries": [
        {"uuid": "e-1", "role": "user", "timestamp": "2026-02-01T10:00:00Z"}]}
    assert not looks_like_otlp_traces(json.dumps(batch).encode(), JSON)


@pytest.mark.parametrize("document, otlp", [
    ({"resourceSpans": []}, True),
    ({"resource_spans": []}, True),
    ({}, False),                                   # empty: for the batch schema to refuse
    ([{"resourceSpans": []}], False),
    ({"resourceSpans": [], "entries": []}, False),  # a batch with a stray key
    ({"source": "codex", "session_id": "s", "entries": [], "resourceSpans": []}, False),
])
def test_json_documents_are_sorted_by_their_keys(document, otlp):
    assert is_otlp_traces_json(document) is otlp
    assert looks_like_otlp_traces(json.dumps(document).encode(), JSON) is otlp


def test_a_body_that_is_not_json_is_not_otlp_traces():
    assert not looks_like_otlp_traces(b"{broken", JSON)
    assert looks_like_otlp_traces(b"anything", "application/x-protobuf")
