"""The OTLP endpoints in-process: answers in each encoding, masking, limits.

What needs real processes (the SDK against a running collector, roles from a token
file, both paths carrying one session) is in test_live.py.
"""

from __future__ import annotations

import gzip
import json
import time

import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest, ExportLogsServiceResponse)

from tests.collector.otlp.conftest import CLAUDE, export_logs, to_otlp_json
from tests.fuzz.conftest import InProcessCollector

PROTOBUF = {"Content-Type": "application/x-protobuf"}
TOKEN = "otlp-endpoint-test-token"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    collector = InProcessCollector(str(tmp_path_factory.mktemp("otlp") / "c.duckdb"),
                                   max_body=64 * 1024, tokens=(TOKEN,))
    yield collector
    collector.close()


def authorized(headers: dict) -> dict:
    return {**headers, "Authorization": f"Bearer {TOKEN}"}


def prompt_body(otlp_server, session: str, text: str) -> bytes:
    return export_logs(otlp_server, CLAUDE, [{
        "body": "claude_code.user_prompt", "timestamp": time.time_ns(),
        "attributes": {"event.name": "user_prompt", "session.id": session,
                       "prompt.id": f"{session}-p", "prompt": text,
                       "prompt_length": str(len(text))}}]).body


def texts(live, session: str) -> list:
    response = live.http.get(f"/v1/sessions/{session}/entries",
                             headers=authorized({}))
    assert response.status_code == 200, response.data
    return [entry["text"] for entry in response.get_json()]


def test_secrets_in_telemetry_texts_are_masked_before_they_are_stored(live, otlp_server):
    body = prompt_body(otlp_server, "masked", "deploy with AKIAIOSFODNN7EXAMPLE now")
    response = live.http.post("/v1/logs", data=body, headers=authorized(PROTOBUF))
    assert response.status_code == 200
    assert texts(live, "masked") == ["deploy with [REDACTED:aws_access_key] now"]


def test_json_in_json_out_and_an_empty_success_in_protobuf(live, otlp_server):
    body = prompt_body(otlp_server, "encodings", "hello")
    response = live.http.post("/v1/logs", data=body, headers=authorized(PROTOBUF))
    assert (response.status_code, response.content_type, response.data) == (
        200, "application/x-protobuf", b"")  # an empty ExportLogsServiceResponse
    response = live.http.post(
        "/v1/logs", data=to_otlp_json(body, ExportLogsServiceRequest),
        headers=authorized({"Content-Type": "application/json"}))
    assert (response.status_code, response.content_type) == (200, "application/json")
    assert response.get_json() == {}
    assert texts(live, "encodings") == ["hello"]  # the resend was a duplicate


def test_a_missing_token_is_a_status_in_the_requests_encoding(live, otlp_server):
    body = prompt_body(otlp_server, "no-token", "hello")
    response = live.http.post("/v1/logs", data=body, headers=PROTOBUF)
    assert response.status_code == 401
    status = status_pb2.Status()
    status.ParseFromString(response.data)
    assert status.code == 16 and "bearer token" in status.message  # UNAUTHENTICATED
    response = live.http.post("/v1/metrics", data=b"{}",
                              headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["code"] == 16
    assert response.get_json()["error"] == "unauthorized"


def test_a_body_inflating_past_the_limit_is_413_and_nothing_is_stored(live):
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.body.string_value = "claude_code.user_prompt"
    attribute = record.attributes.add()
    attribute.key, attribute.value.string_value = "prompt", "x" * (200 * 1024)
    response = live.http.post("/v1/logs", data=gzip.compress(request.SerializeToString()),
                              headers=authorized({**PROTOBUF, "Content-Encoding": "gzip"}))
    assert response.status_code == 413
    status = status_pb2.Status()
    status.ParseFromString(response.data)
    assert "65536 bytes (64 KiB)" in status.message


def test_neither_encoding_is_415(live):
    response = live.http.post("/v1/logs", data=b"hello",
                              headers=authorized({"Content-Type": "text/plain"}))
    assert response.status_code == 415
    assert response.get_json()["code"] == 3
    assert "application/x-protobuf" in response.get_json()["message"]


def test_a_malformed_protobuf_is_400_and_stores_nothing(live, otlp_server):
    before = live.http.get("/v1/traces/stats", headers=authorized({})).get_json()
    body = prompt_body(otlp_server, "malformed", "hello")
    response = live.http.post("/v1/logs", data=body[:-3], headers=authorized(PROTOBUF))
    assert response.status_code == 400
    status = status_pb2.Status()
    status.ParseFromString(response.data)
    assert status.code == 3 and "not a protobuf OTLP logs request" in status.message
    after = live.http.get("/v1/traces/stats", headers=authorized({})).get_json()
    assert after["total_traces"] == before["total_traces"]


def test_an_event_of_no_tool_we_read_is_rejected_and_the_rest_kept(live, otlp_server):
    body = export_logs(otlp_server, {"service.name": "some-other-app"}, [
        {"body": "checkout.completed", "timestamp": time.time_ns(),
         "attributes": {"order": "42"}}]).body
    mixed = ExportLogsServiceRequest()
    mixed.ParseFromString(body)
    known = ExportLogsServiceRequest()
    known.ParseFromString(prompt_body(otlp_server, "mixed", "hello"))
    mixed.resource_logs.extend(known.resource_logs)
    response = live.http.post("/v1/logs", data=mixed.SerializeToString(),
                              headers=authorized(PROTOBUF))
    answer = ExportLogsServiceResponse()
    answer.ParseFromString(response.data)
    assert response.status_code == 200
    assert answer.partial_success.rejected_log_records == 1
    assert "checkout.completed (1)" in answer.partial_success.error_message
    assert texts(live, "mixed") == ["hello"]


def test_an_otlp_json_trace_export_is_refused_in_otlps_shape(live):
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
         "name": "claude_code.interaction", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
    ]}]}]}
    response = live.http.post("/v1/traces", data=json.dumps(document),
                              headers=authorized({"Content-Type": "application/json"}))
    assert response.status_code == 200
    partial = response.get_json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "OTEL_TRACES_EXPORTER=none" in partial["errorMessage"]
