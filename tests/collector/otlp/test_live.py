"""OTLP/HTTP against a real ``thinkt collect``, with the real OpenTelemetry SDK as the client.

The SDK's exporters (``OTLPLogExporter``, ``OTLPMetricExporter``, ``OTLPSpanExporter``)
post to the collector's ``/v1/logs``, ``/v1/metrics`` and ``/v1/traces`` with a bearer
token, through a ``requests`` session that keeps every response, so a test reads what the
collector answered (the SDK itself only says success or failure). OTLP/JSON bodies are
the SDK's own requests rendered by ``to_otlp_json`` (the SDK only sends protobuf).

What is shown:

- the assistants' events (Claude Code, Codex, Gemini CLI) land in usage, sessions and
  entries with our token semantics;
- protobuf, OTLP/JSON and gzip store the same figures, and a resent export adds nothing;
- cumulative and delta counters are stored as deltas (read from the DuckDB file once the
  collector stopped: no endpoint reads metric points);
- ``partial_success`` counts the events of no assistant and keeps the others;
- tokens and roles, size limits and malformed bodies answer with a ``google.rpc.Status``
  and store nothing;
- trace exports are answered with every span rejected and stored nowhere;
- a session that arrives both as its transcript (the real ``thinkt export``) and as its
  telemetry counts each API response once, whichever comes first.

Most tests share one collector (distinct sessions and users keep them apart); the two that
read the database after stopping theirs start their own.
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

pytest.importorskip("opentelemetry.sdk")
duckdb = pytest.importorskip("duckdb")

from google.protobuf import json_format  # noqa: E402
from google.protobuf.message import DecodeError  # noqa: E402
from google.rpc import status_pb2  # noqa: E402
from opentelemetry._logs import LogRecord  # noqa: E402
from opentelemetry.exporter.otlp.proto.http import Compression  # noqa: E402
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: E402
    OTLPMetricExporter)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: E402
    OTLPSpanExporter)
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (  # noqa: E402
    ExportLogsServiceRequest, ExportLogsServiceResponse)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (  # noqa: E402
    ExportMetricsServiceRequest, ExportMetricsServiceResponse)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest, ExportTraceServiceResponse)
from opentelemetry.sdk._logs import LoggerProvider  # noqa: E402
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor  # noqa: E402
from opentelemetry.sdk.metrics import Counter, MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import (  # noqa: E402
    AggregationTemporality, PeriodicExportingMetricReader)
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: E402

from tests.exporter.running import Exporter  # noqa: E402
from tests.harness import Collector  # noqa: E402

from .conftest import (CLAUDE, CODEX, GEMINI, MetricsClient, export_logs,  # noqa: E402
                       to_otlp_json)

pytestmark = pytest.mark.slow

#: The shared collector's tokens: every role (``--token``), and a token file's read-only
#: and ingest-only lines.
FULL = "live-full-token-0123456789abcdef"
READ = "live-read-token-0123456789abcdef"
INGEST = "live-ingest-token-0123456789abcdef"
TOKEN_FILE = f"{READ} read name=dashboards\n{INGEST} ingest name=laptops\n"

LIMIT = 10 * 1024 * 1024  # the collector's body limit (settings.MAX_BODY); no flag sets it
PROTOBUF = "application/x-protobuf"
#: google.rpc.Code values the errors carry.
INVALID_ARGUMENT, PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNAUTHENTICATED = 3, 7, 8, 16

T0 = datetime(2026, 1, 5, 10, 0, 0, tzinfo=timezone.utc)
TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
              "reasoning_tokens")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the collectors ------------------------------------------------------------------------


def start_collector(base: Path) -> Collector:
    """A collector with :data:`FULL` (every role) and the token file's roles, its state
    (the web secret) under ``base`` rather than the developer's home."""
    (base / "tokens").write_text(TOKEN_FILE)
    os.chmod(base / "tokens", 0o600)
    (base / "home").mkdir(exist_ok=True)
    running = Collector(base / "collector.duckdb", base / "collector.log", "--token-file",
                        str(base / "tokens"), token=FULL)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(base / "home"))  # child_env copies it at the start
        running.start()
    return running


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    running = start_collector(tmp_path_factory.mktemp("live"))
    yield running
    running.stop()


@pytest.fixture
def own_collector(tmp_path):
    """A collector of the test's own, whose database the test reads once it stopped."""
    running = start_collector(tmp_path)
    yield running
    running.stop()


def read_database(running: Collector, sql: str, params=()) -> list[tuple]:
    """Stop the collector (idempotent) and run a query on its file, read-only."""
    running.stop()
    con = duckdb.connect(str(running.storage), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


# -- the SDK as the client -----------------------------------------------------------------


class Recorder(requests.Session):
    """A ``requests`` session for the SDK's exporters that keeps every response."""

    def __init__(self) -> None:
        super().__init__()
        self.responses: list[requests.Response] = []
        self.hooks["response"].append(self._keep)

    def _keep(self, response, *args, **kwargs):
        self.responses.append(response)

    def only(self) -> requests.Response:
        """The one response the exporter got (an export the SDK retried would show more)."""
        assert len(self.responses) == 1, [r.status_code for r in self.responses]
        return self.responses[0]


def emit_logs(running: Collector, resource: dict, records: list[dict], *,
              token: str | None = FULL, gzip_body: bool = False,
              scope: str = "com.anthropic.claude_code.events") -> requests.Response:
    """Emit ``records`` (``LogRecord`` keyword arguments) with the SDK, export them at
    once to the collector's ``/v1/logs`` in one request, and return its response."""
    session = Recorder()
    exporter = OTLPLogExporter(
        endpoint=running.url + "/v1/logs", headers=bearer(token) if token else None,
        compression=Compression.Gzip if gzip_body else Compression.NoCompression,
        session=session)
    provider = LoggerProvider(resource=Resource.create(resource))
    provider.add_log_record_processor(BatchLogRecordProcessor(
        exporter, schedule_delay_millis=3_600_000))  # out together, on force_flush()
    logger = provider.get_logger(scope)
    for record in records:
        logger.emit(LogRecord(**record))
    assert provider.force_flush(30_000)
    provider.shutdown()
    return session.only()


def logs_response(response: requests.Response) -> ExportLogsServiceResponse:
    """The ``ExportLogsServiceResponse`` of a 200, in the encoding of the request."""
    assert response.status_code == 200, (response.status_code, response.content[:500])
    if response.headers["Content-Type"].startswith(PROTOBUF):
        return ExportLogsServiceResponse.FromString(response.content)
    return json_format.Parse(response.text, ExportLogsServiceResponse())


def status_of(response: requests.Response) -> status_pb2.Status:
    """The ``google.rpc.Status`` of an error answered to a protobuf request."""
    assert response.headers["Content-Type"].startswith(PROTOBUF), response.headers
    return status_pb2.Status.FromString(response.content)


def post(running: Collector, path: str, body: bytes, content_type: str, *,
         token: str | None = FULL, **headers: str) -> requests.Response:
    """POST a body as it is (an SDK request replayed, or one made by hand)."""
    sent = {"Content-Type": content_type, **headers, **(bearer(token) if token else {})}
    return requests.post(running.url + path, data=body, headers=sent, timeout=60)


# -- the assistants' events, as each sends them ------------------------------------------


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def claude_event(name: str, seq: int, session: str, user: str, at: datetime, **attributes):
    """A Claude Code event: the full name as body, the short one as ``event.name``, numbers
    as strings (as in tests/collector/otlp/test_mapping.py)."""
    return {"timestamp": ns(at), "body": f"claude_code.{name}", "attributes": {
        "event.name": name, "event.timestamp": iso(at), "event.sequence": seq,
        "session.id": session, "user.email": user, "user.account_uuid": f"acc-{user}",
        "organization.id": "org-1", "prompt.id": f"{session}-prompt-1", **attributes}}


def claude_api_request(seq, session, user, at, request_id, model, input_tokens, output_tokens,
                       cache_read, cache_write, cost="0.0123"):
    return claude_event("api_request", seq, session, user, at, model=model,
                        input_tokens=str(input_tokens), output_tokens=str(output_tokens),
                        cache_read_tokens=str(cache_read),
                        cache_creation_tokens=str(cache_write), cost_usd=cost,
                        duration_ms="2150", request_id=request_id, speed="normal")


def codex_event(name: str, session: str, user: str, at: datetime, **attributes):
    """A Codex event as its tracing bridge sends one: attributes only, no body."""
    return {"timestamp": ns(at), "attributes": {
        "event.name": name, "event.timestamp": iso(at), "conversation.id": session,
        "app.version": "0.137.0", "model": "gpt-5.5", "slug": "gpt-5.5",
        "originator": "codex_cli_rs", "user.email": user, "user.account_id": f"acct-{user}",
        **attributes}}


def gemini_event(name: str, session: str, user: str, at: datetime, body: str = "",
                 **attributes):
    """A Gemini CLI event: the full name in ``event.name``, a sentence as body."""
    return {"timestamp": ns(at), "body": body, "attributes": {
        "event.name": name, "event.timestamp": iso(at), "session.id": session,
        "installation.id": "inst-1", "interactive": True, "user.email": user,
        "prompt_id": f"{session}########1", **attributes}}


def claude_session(session: str, user: str, at: datetime = T0) -> list[dict]:
    """A Claude Code session's events: a prompt, two API requests of two models, a failed
    tool call and a failed API request."""
    return [
        claude_event("user_prompt", 1, session, user, at, prompt="fix the failing test",
                     prompt_length="21", **{"message.uuid": f"{session}-prompt-uuid"}),
        claude_api_request(2, session, user, at + timedelta(seconds=1), f"req_{session}_1",
                           "claude-sonnet-4-5", 12, 345, 20000, 1500),
        claude_event("tool_result", 3, session, user, at + timedelta(seconds=2),
                     tool_name="Bash", tool_use_id=f"toolu_{session}_1", success="false",
                     duration_ms="40", error_type="ShellError",
                     tool_parameters='{"bash_command": "make test"}'),
        claude_api_request(4, session, user, at + timedelta(seconds=3), f"req_{session}_2",
                           "claude-haiku-4-5", 7, 80, 0, 0, cost="0.0004"),
        claude_event("api_error", 5, session, user, at + timedelta(seconds=4),
                     model="claude-sonnet-4-5", error="Overloaded", status_code="529",
                     duration_ms="1200", attempt="3", request_id=f"req_{session}_3"),
    ]


#: What :func:`claude_session` adds up to, per model and in all.
CLAUDE_BY_MODEL = {"claude-sonnet-4-5": (12, 345, 20000, 1500, 0),
                   "claude-haiku-4-5": (7, 80, 0, 0, 0)}
CLAUDE_TOTAL = (19, 425, 20000, 1500, 0)


def tokens(row: dict) -> tuple[int, ...]:
    return tuple(row[key] for key in TOKEN_KEYS)


def usage(running: Collector, group_by: str, **params) -> dict:
    """``/v1/usage`` rows by key: (tokens, entries, sessions)."""
    response = running.get("/v1/usage", params={"group_by": group_by, **params})
    assert response.status_code == 200, response.text
    return {row["key"]: (tokens(row), row["entries"], row["sessions"])
            for row in response.json()}


def session_usage(running: Collector, session: str) -> tuple[int, ...] | None:
    """The tokens ``/v1/usage?group_by=session`` gives ``session`` (None if absent)."""
    found = usage(running, "session").get(session)
    return None if found is None else found[0]


def entries(running: Collector, session: str) -> list[dict]:
    """Every stored entry of ``session`` (empty for an unknown session)."""
    response = running.get(f"/v1/sessions/{session}/entries", params={"limit": 1000})
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    return response.json()


def stored(running: Collector) -> dict:
    """What the store holds, from ``/v1/traces/stats`` (not its counters of requests)."""
    stats = running.get("/v1/traces/stats").json()
    return {key: stats[key] for key in ("total_traces", "total_sessions", "tokens")}


# -- 1. each assistant's events land where they should ------------------------------------


def test_claude_code_events_land_in_usage_sessions_and_entries(collector):
    session, user = "live-claude-1", "ann-live@example.com"
    # WHEN Claude Code's events are exported by the SDK
    response = emit_logs(collector, CLAUDE, claude_session(session, user))
    # THEN all are kept: no partial success
    assert not logs_response(response).HasField("partial_success")

    # AND usage has exactly those tokens whatever the grouping
    assert usage(collector, "user")[user] == (CLAUDE_TOTAL, 5, 1)
    assert usage(collector, "session")[session] == (CLAUDE_TOTAL, 5, 1)
    # (the API error names the sonnet model: an entry without tokens)
    assert usage(collector, "model", user=user) == {
        "claude-sonnet-4-5": (CLAUDE_BY_MODEL["claude-sonnet-4-5"], 2, 1),
        "claude-haiku-4-5": (CLAUDE_BY_MODEL["claude-haiku-4-5"], 1, 1),
        None: ((0, 0, 0, 0, 0), 2, 1)}
    assert usage(collector, "day", user=user) == {"2026-01-05": (CLAUDE_TOTAL, 5, 1)}
    assert usage(collector, "source", user=user) == {"claude": (CLAUDE_TOTAL, 5, 1)}

    # AND the session is listed as Claude's, with its user and tokens
    [listed] = collector.get("/v1/sessions", params={"user": user}).json()
    assert (listed["id"], listed["source"], listed["user"], listed["entry_count"]) == (
        session, "claude", user, 5)
    assert tokens(listed) == CLAUDE_TOTAL

    # AND its entries are the prompt's text, the requests, the tool result and the error
    shown = [(e["uuid"], e["role"], e["text"], e["tool_name"], e["is_error"], e["model"],
              tokens(e)) for e in entries(collector, session)]
    assert shown == [
        (f"otel:{session}-prompt-uuid", "user", "fix the failing test", None, False, None,
         (0, 0, 0, 0, 0)),
        (f"otel:req_{session}_1", "assistant", None, None, False, "claude-sonnet-4-5",
         CLAUDE_BY_MODEL["claude-sonnet-4-5"]),
        (f"otel:toolu_{session}_1", "tool_result", "ShellError", "Bash", True, None,
         (0, 0, 0, 0, 0)),
        (f"otel:req_{session}_2", "assistant", None, None, False, "claude-haiku-4-5",
         CLAUDE_BY_MODEL["claude-haiku-4-5"]),
        (f"otel:req_{session}_3", "system", "HTTP 529: Overloaded", None, True,
         "claude-sonnet-4-5", (0, 0, 0, 0, 0)),
    ]


def test_codex_and_gemini_events_land_with_their_sources_and_our_token_semantics(collector):
    codex_session, gemini_session = "019c8a4c-ed82-79a1-aa28-live0000c0de", "live-gemini-1"
    codex_user, gemini_user = "bob-live@example.com", "cy-live@example.com"
    at = T0 + timedelta(days=1)
    # WHEN Codex's events (input including cached input and cache writes) are exported
    codex = emit_logs(collector, CODEX, [
        codex_event("codex.user_prompt", codex_session, codex_user, at,
                    prompt="add a test", prompt_length="10"),
        codex_event("codex.sse_event", codex_session, codex_user, at + timedelta(seconds=1),
                    **{"event.kind": "response.completed"}, input_token_count="10000",
                    output_token_count="700", cached_token_count="6000",
                    cache_write_token_count="500", reasoning_token_count="250",
                    tool_token_count="10700", duration_ms="900"),
        codex_event("codex.tool_result", codex_session, codex_user, at + timedelta(seconds=2),
                    tool_name="exec_command", call_id=f"call_{codex_session}",
                    arguments='{"cmd": "ls"}', duration_ms="15", success="true",
                    output="README.md\n"),
    ], scope="codex_otel")
    # AND Gemini CLI's (input including cached input, output without thoughts)
    gemini = emit_logs(collector, GEMINI, [
        gemini_event("gemini_cli.user_prompt", gemini_session, gemini_user, at,
                     "User prompt. Length: 9.", prompt_length=9, prompt="add tests"),
        gemini_event("gemini_cli.api_response", gemini_session, gemini_user,
                     at + timedelta(seconds=1), "API response from gemini-2.5-pro.",
                     model="gemini-2.5-pro", status_code=200, duration_ms=3100,
                     input_token_count=1000, output_token_count=200,
                     cached_content_token_count=400, thoughts_token_count=50,
                     tool_token_count=20, total_token_count=1270),
        gemini_event("gemini_cli.tool_call", gemini_session, gemini_user,
                     at + timedelta(seconds=2), function_name="read_file",
                     function_args='{"path": "a.py"}', duration_ms=5, success=False,
                     error="no such file"),
    ], scope="gemini-cli")
    assert not logs_response(codex).HasField("partial_success")
    assert not logs_response(gemini).HasField("partial_success")

    # THEN the tokens are ours: input without cache reads and writes, output with reasoning
    codex_tokens, gemini_tokens = (3500, 700, 6000, 500, 250), (620, 250, 400, 0, 50)
    assert usage(collector, "source", user=codex_user) == {"codex": (codex_tokens, 3, 1)}
    assert usage(collector, "source", user=gemini_user) == {"gemini": (gemini_tokens, 3, 1)}
    assert usage(collector, "model", user=codex_user)["gpt-5.5"][0] == codex_tokens
    assert usage(collector, "model", user=gemini_user)["gemini-2.5-pro"][0] == gemini_tokens
    assert usage(collector, "session")[codex_session] == (codex_tokens, 3, 1)
    assert usage(collector, "session")[gemini_session] == (gemini_tokens, 3, 1)
    assert usage(collector, "user")[codex_user] == (codex_tokens, 3, 1)
    assert usage(collector, "day", user=gemini_user) == {"2026-01-06": (gemini_tokens, 3, 1)}

    # AND the sessions are listed with their sources
    for user, session, source in ((codex_user, codex_session, "codex"),
                                  (gemini_user, gemini_session, "gemini")):
        [listed] = collector.get("/v1/sessions", params={"user": user}).json()
        assert (listed["id"], listed["source"], listed["entry_count"]) == (session, source, 3)
    # AND the entries hold the prompts and the tool results
    assert [(e["role"], e["text"], e["tool_name"], e["is_error"])
            for e in entries(collector, codex_session)] == [
        ("user", "add a test", None, False), ("assistant", None, None, False),
        ("tool_result", "README.md\n", "exec_command", False)]
    assert [(e["role"], e["text"], e["tool_name"], e["is_error"])
            for e in entries(collector, gemini_session)] == [
        ("user", "add tests", None, False), ("assistant", None, None, False),
        ("tool_result", "no such file", "read_file", True)]


# -- 2. encodings, gzip, and a resent export ---------------------------------------------


def comparable(running: Collector, session: str) -> list[tuple]:
    """A session's entries without what names the session or the moment it arrived."""
    return [(e["uuid"].replace(session, "S"), e["role"], e["text"], e["tool_name"],
             e["is_error"], e["model"], e["timestamp"], tokens(e))
            for e in entries(running, session)]


def test_protobuf_json_and_gzip_store_the_same_and_a_resent_export_changes_nothing(
        collector, otlp_server):
    user = "dee-live@example.com"
    by_proto, by_json, by_gzip = "live-enc-proto", "live-enc-json", "live-enc-gzip"
    # WHEN the same events (each encoding in its own session) go as protobuf from the SDK,
    proto = emit_logs(collector, CLAUDE, claude_session(by_proto, user))
    # as gzip-compressed protobuf from the SDK,
    zipped = emit_logs(collector, CLAUDE, claude_session(by_gzip, user), gzip_body=True)
    assert zipped.request.headers["Content-Encoding"] == "gzip"
    assert ExportLogsServiceRequest.FromString(gzip.decompress(zipped.request.body))
    # and as OTLP/JSON (the SDK's own request, rendered as JSON)
    made = export_logs(otlp_server, CLAUDE, claude_session(by_json, user))
    json_body = to_otlp_json(made.body, ExportLogsServiceRequest)
    assert json.loads(json_body)["resourceLogs"]
    as_json = post(collector, "/v1/logs", json_body, "application/json")
    assert as_json.headers["Content-Type"].startswith("application/json")
    for response in (proto, zipped, as_json):
        assert not logs_response(response).HasField("partial_success")

    # THEN each session holds the same figures and the same entries
    by_session = usage(collector, "session")
    for session in (by_proto, by_json, by_gzip):
        assert by_session[session] == (CLAUDE_TOTAL, 5, 1), session
    assert comparable(collector, by_proto) == comparable(collector, by_json) \
        == comparable(collector, by_gzip)
    assert len(comparable(collector, by_proto)) == 5

    # WHEN each export is sent again as it was
    before_store, before_usage = stored(collector), usage(collector, "user")
    duplicates = collector.get("/v1/traces/stats").json()["duplicates_suppressed"]
    again = [post(collector, "/v1/logs", proto.request.body, PROTOBUF),
             post(collector, "/v1/logs", zipped.request.body, PROTOBUF,
                  **{"Content-Encoding": "gzip"}),
             post(collector, "/v1/logs", json_body, "application/json")]
    # THEN each is answered as the first (the writer saw all 15 events again: duplicates)
    for response in again:
        assert not logs_response(response).HasField("partial_success")
    assert collector.get("/v1/traces/stats").json()["duplicates_suppressed"] \
        == duplicates + 15
    # AND nothing changed
    assert stored(collector) == before_store
    assert usage(collector, "user") == before_usage
    assert usage(collector, "user")[user] == (tuple(3 * n for n in CLAUDE_TOTAL), 15, 3)


# -- 3. metrics: cumulative and delta counters both stored as deltas ----------------------


class Meter:
    """A MeterProvider exporting with the SDK's OTLP/HTTP exporter on flush() only."""

    def __init__(self, running: Collector, temporality: AggregationTemporality | None):
        self.session = Recorder()
        # None: the SDK's default temporality (cumulative, as OTEL_* are unset here)
        chosen = {} if temporality is None else {"preferred_temporality": {
            Counter: temporality}}
        exporter = OTLPMetricExporter(endpoint=running.url + "/v1/metrics",
                                      headers=bearer(FULL), session=self.session, **chosen)
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
        self.provider = MeterProvider(resource=Resource.create(CLAUDE), metric_readers=[reader])
        self.tokens = self.provider.get_meter("com.anthropic.claude_code").create_counter(
            "claude_code.token.usage", unit="tokens")

    def flush(self) -> ExportMetricsServiceRequest:
        """Export what was recorded; return the request the collector answered 200."""
        sent = len(self.session.responses)
        assert self.provider.force_flush(30_000)
        [response] = self.session.responses[sent:]
        return self._answered(response)

    def shutdown(self) -> ExportMetricsServiceRequest | None:
        """Shut the provider down; return the last export it made then (None: none)."""
        sent = len(self.session.responses)
        self.provider.shutdown()
        made = self.session.responses[sent:]
        assert len(made) <= 1, made
        return self._answered(made[0]) if made else None

    @staticmethod
    def _answered(response: requests.Response) -> ExportMetricsServiceRequest:
        assert response.status_code == 200, response.content
        answer = ExportMetricsServiceResponse.FromString(response.content)
        assert not answer.HasField("partial_success")
        return ExportMetricsServiceRequest.FromString(response.request.body)


def sent_points(request: ExportMetricsServiceRequest) -> list[tuple[int, int]]:
    """(temporality, value) of each sum point of a metrics request."""
    return [(metric.sum.aggregation_temporality, point.as_int)
            for resource in request.resource_metrics for scope in resource.scope_metrics
            for metric in scope.metrics for point in metric.sum.data_points]


def test_cumulative_and_delta_counters_are_stored_as_deltas(own_collector, otlp_server):
    cumulative, delta = Meter(own_collector, None), Meter(own_collector,
                                                          AggregationTemporality.DELTA)
    attrs = {"user.email": "eve-live@example.com", "model": "claude-sonnet-4-5",
             "type": "input"}
    # WHEN a counter is exported twice by each: cumulative totals and deltas
    cumulative.tokens.add(100, {**attrs, "session.id": "live-metric-cumulative"})
    delta.tokens.add(7, {**attrs, "session.id": "live-metric-delta"})
    assert sent_points(cumulative.flush()) == [(AggregationTemporality.CUMULATIVE, 100)]
    assert sent_points(delta.flush()) == [(AggregationTemporality.DELTA, 7)]
    cumulative.tokens.add(50, {**attrs, "session.id": "live-metric-cumulative"})
    delta.tokens.add(5, {**attrs, "session.id": "live-metric-delta"})
    second = cumulative.flush()
    assert sent_points(second) == [(AggregationTemporality.CUMULATIVE, 150)]  # the total
    assert sent_points(delta.flush()) == [(AggregationTemporality.DELTA, 5)]
    # AND the second cumulative export is sent again as it was
    again = post(own_collector, "/v1/metrics", second.SerializeToString(), PROTOBUF)
    assert again.status_code == 200, again.content
    # AND a cumulative counter goes twice as OTLP/JSON (the SDK's requests, rendered)
    as_json = MetricsClient(otlp_server, CLAUDE, temporality="cumulative")
    counter = as_json.meter.create_counter("claude_code.token.usage", unit="tokens")
    for value in (100, 50):
        counter.add(value, {**attrs, "session.id": "live-metric-json"})
        body = as_json.flush().body
        sent = post(own_collector, "/v1/metrics",
                    to_otlp_json(body, ExportMetricsServiceRequest), "application/json")
        assert sent.status_code == 200, sent.text
        assert json.loads(sent.text) == {}  # no partial success
    assert sent_points(ExportMetricsServiceRequest.FromString(body)) == [
        (AggregationTemporality.CUMULATIVE, 150)]
    as_json.close()
    # AND the SDK's shutdown exports once more: the unchanged total, and no delta
    last = cumulative.shutdown()
    assert sent_points(last) == [(AggregationTemporality.CUMULATIVE, 150)]
    assert delta.shutdown() is None

    # THEN each stored point is what its interval added: 100, 50, then 0; 7 then 5
    rows = read_database(own_collector, """
        SELECT session_id, series, value, start_time, "time" FROM metric_points
        WHERE name = 'claude_code.token.usage' ORDER BY session_id, "time" """)
    assert [(session, series, value) for session, series, value, _, _ in rows] == [
        ("live-metric-cumulative", "tokens.input", 100.0),
        ("live-metric-cumulative", "tokens.input", 50.0),
        ("live-metric-cumulative", "tokens.input", 0.0),
        ("live-metric-delta", "tokens.input", 7.0),
        ("live-metric-delta", "tokens.input", 5.0),
        ("live-metric-json", "tokens.input", 100.0),
        ("live-metric-json", "tokens.input", 50.0)]
    # AND each increase runs from the previous point, each delta over its own interval
    starts, ends = [row[3] for row in rows], [row[4] for row in rows]
    assert starts[1:3] == ends[0:2] and starts[4] == ends[3] and starts[6] == ends[5]


# -- 4. partial success ---------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_events_of_an_unknown_service_are_rejected_and_the_others_kept(collector,
                                                                       otlp_server, encoding):
    session, user = f"live-partial-{encoding}", f"fay-{encoding}@example.com"
    # GIVEN one export (as an OpenTelemetry Collector forwards several services) with
    # Claude Code's events and three events of a service thinkt does not read
    known = export_logs(otlp_server, CLAUDE, claude_session(session, user)).body
    other = export_logs(otlp_server, {"service.name": "checkout-service"}, [
        {"timestamp": ns(T0), "body": "order placed",
         "attributes": {"event.name": "order.placed", "session.id": session}},
        {"timestamp": ns(T0), "body": "payment failed",
         "attributes": {"event.name": "payment.failed", "session.id": session}},
        {"timestamp": ns(T0), "body": "order shipped",
         "attributes": {"event.name": "order.shipped", "session.id": session}},
    ], scope="checkout").body
    mixed = ExportLogsServiceRequest.FromString(known)
    mixed.MergeFrom(ExportLogsServiceRequest.FromString(other))
    assert [len(r.scope_logs[0].log_records) for r in mixed.resource_logs] == [5, 3]
    body = mixed.SerializeToString()
    # WHEN it is posted
    response = post(collector, "/v1/logs", *(
        (body, PROTOBUF) if encoding == "protobuf"
        else (to_otlp_json(body, ExportLogsServiceRequest), "application/json")))
    # THEN it is a success that rejects the three unknown events, saying why
    answer = logs_response(response)
    assert answer.partial_success.rejected_log_records == 3
    assert "no assistant thinkt reads" in answer.partial_success.error_message
    assert "order.placed" in answer.partial_success.error_message
    # AND Claude Code's events are stored
    assert usage(collector, "session")[session] == (CLAUDE_TOTAL, 5, 1)
    assert len(entries(collector, session)) == 5


# -- 5. tokens and roles --------------------------------------------------------------------


def test_tokens_and_roles_on_the_otlp_endpoints(collector):
    user = "gus-live@example.com"
    before = stored(collector)
    # WHEN the SDK exports without a token: 401, a google.rpc.Status in protobuf
    anonymous = emit_logs(collector, CLAUDE, claude_session("live-auth-none", user), token=None)
    assert "Authorization" not in anonymous.request.headers
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    refused = status_of(anonymous)
    assert refused.code == UNAUTHENTICATED and "bearer token" in refused.message

    # WHEN it exports with a token that may only read: 403, the role it needs named
    assert requests.get(collector.url + "/v1/traces/stats", headers=bearer(READ),
                        timeout=30).status_code == 200  # a valid token, for reading
    reader = emit_logs(collector, CLAUDE, claude_session("live-auth-read", user), token=READ)
    assert reader.status_code == 403
    forbidden = status_of(reader)
    assert forbidden.code == PERMISSION_DENIED and "ingest" in forbidden.message
    # (as JSON: the contract's envelope with the Status fields)
    as_json = post(collector, "/v1/logs", b'{"resourceLogs": []}', "application/json",
                   token=READ)
    assert as_json.status_code == 403
    assert as_json.json() == {"error": "forbidden", "message": forbidden.message,
                              "code": PERMISSION_DENIED, "required_role": "ingest"}
    # (and the metrics endpoint the same)
    metrics = post(collector, "/v1/metrics", ExportMetricsServiceRequest().SerializeToString(),
                   PROTOBUF, token=READ)
    assert metrics.status_code == 403 and status_of(metrics).code == PERMISSION_DENIED
    # AND nothing of the refused exports is stored
    assert stored(collector) == before
    assert entries(collector, "live-auth-none") == entries(collector, "live-auth-read") == []

    # WHEN it exports with an ingest-only token (a laptop's): stored
    laptop = emit_logs(collector, CLAUDE, claude_session("live-auth-ingest", user),
                       token=INGEST)
    assert not logs_response(laptop).HasField("partial_success")
    assert usage(collector, "session")["live-auth-ingest"] == (CLAUDE_TOTAL, 5, 1)
    # (and that token still cannot read)
    assert requests.get(collector.url + "/v1/traces/stats", headers=bearer(INGEST),
                        timeout=30).status_code == 403


# -- 6. size limit and malformed bodies -----------------------------------------------------


def test_a_body_over_the_limit_is_413_and_a_malformed_one_400_and_nothing_is_stored(
        collector, otlp_server):
    user = "hal-live@example.com"
    before = stored(collector)
    # WHEN the SDK exports, gzip-compressed, an event whose body inflates past the limit
    # (the collector has no option to lower its 10 MiB limit)
    huge = claude_session("live-too-large", user)
    huge[0]["attributes"]["prompt"] = "x" * (LIMIT + 1024)
    too_large = emit_logs(collector, CLAUDE, huge, gzip_body=True)
    assert len(too_large.request.body) < LIMIT // 100
    assert len(gzip.decompress(too_large.request.body)) > LIMIT
    # THEN 413, with a Status that says the limit
    assert too_large.status_code == 413
    status = status_of(too_large)
    assert status.code == RESOURCE_EXHAUSTED and "10485760 bytes" in status.message
    # AND a body over the limit as sent is refused the same
    raw = post(collector, "/v1/logs", b"\0" * (LIMIT + 1), PROTOBUF)
    assert raw.status_code == 413 and status_of(raw).code == RESOURCE_EXHAUSTED

    # WHEN a valid export is followed by a truncated field (malformed protobuf)
    valid = export_logs(otlp_server, CLAUDE, claude_session("live-malformed", user)).body
    malformed = valid + b"\x0a\xff\xff\x03" + b"\x00" * 10
    with pytest.raises(DecodeError):
        ExportLogsServiceRequest.FromString(malformed)
    broken = post(collector, "/v1/logs", malformed, PROTOBUF)
    # THEN 400 with a Status, and none of its events stored
    assert broken.status_code == 400
    assert status_of(broken).code == INVALID_ARGUMENT
    # (and a body that is not JSON at all, as JSON)
    not_json = post(collector, "/v1/logs", valid[:40], "application/json")
    assert not_json.status_code == 400
    assert (not_json.json()["error"], not_json.json()["code"]) == ("bad_request",
                                                                   INVALID_ARGUMENT)
    assert stored(collector) == before
    assert entries(collector, "live-malformed") == entries(collector, "live-too-large") == []
    # (the valid part alone is a good export: the refusal was for the malformed bytes)
    assert ExportLogsServiceRequest.FromString(valid).resource_logs


# -- 7. traces are refused, saying what to switch off ---------------------------------------


def test_an_otlp_trace_export_is_answered_with_every_span_rejected(collector):
    before = stored(collector)
    session = Recorder()
    provider = TracerProvider(resource=Resource.create(CLAUDE))
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=collector.url + "/v1/traces", headers=bearer(FULL),
                         session=session), schedule_delay_millis=3_600_000))
    tracer = provider.get_tracer("com.anthropic.claude_code")
    # WHEN the SDK exports three spans in one request
    with tracer.start_as_current_span("claude_code.interaction",
                                      attributes={"session.id": "live-traces"}):
        with tracer.start_as_current_span("claude_code.llm_request"):
            pass
        with tracer.start_as_current_span("claude_code.tool"):
            pass
    assert provider.force_flush(30_000)
    provider.shutdown()
    response = session.only()
    sent = ExportTraceServiceRequest.FromString(response.request.body)
    assert sum(len(s.spans) for r in sent.resource_spans for s in r.scope_spans) == 3
    # THEN 200 with all three rejected and the setting to change named
    assert response.status_code == 200, response.content
    assert response.headers["Content-Type"].startswith(PROTOBUF)
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 3
    assert "OTEL_TRACES_EXPORTER" in answer.partial_success.error_message
    # AND as OTLP/JSON the same, in JSON
    as_json = post(collector, "/v1/traces",
                   to_otlp_json(response.request.body, ExportTraceServiceRequest),
                   "application/json")
    assert as_json.status_code == 200, as_json.text
    parsed = json_format.Parse(as_json.text, ExportTraceServiceResponse())
    assert parsed.partial_success.rejected_spans == 3
    assert "OTEL_TRACES_EXPORTER" in parsed.partial_success.error_message
    # AND nothing is stored
    assert stored(collector) == before
    assert entries(collector, "live-traces") == []


# -- 8. one session by both paths counts once -----------------------------------------------

PERSON = "ivy-live@example.com"
#: The responses of every session below: (input, output, cache read, cache write). The
#: first is written as two lines, the first with a streaming partial output count.
RESPONSES = ((3, 120, 2000, 1000), (5, 40, 3000, 50))
SESSION_TOKENS = (8, 160, 5000, 1050, 0)


def transcript_lines(session: str, start: datetime) -> list[dict]:
    """A Claude Code transcript (SOURCES.md section 1) of one prompt, two API responses
    and a failed tool call: the lines as Claude Code writes them."""
    common = {"isSidechain": False, "userType": "external", "cwd": "/work/app",
              "sessionId": session, "version": "2.1.38", "gitBranch": "main"}

    def at(seconds):
        return iso(start + timedelta(seconds=seconds))

    def assistant(uuid, parent, seconds, n, content, output):
        input_tokens, _, cache_read, cache_write = RESPONSES[n - 1]
        return {**common, "parentUuid": parent, "type": "assistant", "uuid": uuid,
                "timestamp": at(seconds), "requestId": f"req_{session}_{n}", "message": {
                    "model": "claude-sonnet-4-5", "id": f"msg_{session}_{n}",
                    "type": "message", "role": "assistant", "content": content,
                    "stop_reason": None, "stop_sequence": None, "usage": {
                        "input_tokens": input_tokens,
                        "cache_creation_input_tokens": cache_write,
                        "cache_read_input_tokens": cache_read,
                        "cache_creation": {"ephemeral_5m_input_tokens": 0,
                                           "ephemeral_1h_input_tokens": cache_write},
                        "output_tokens": output, "service_tier": "standard"}}}

    tool_use = f"toolu_{session}_1"
    return [
        {**common, "parentUuid": None, "type": "user", "uuid": f"{session}-u1",
         "timestamp": at(0), "permissionMode": "default",
         "message": {"role": "user", "content": "why does the build fail?"}},
        assistant(f"{session}-a1", f"{session}-u1", 2, 1,
                  [{"type": "text", "text": "Let me run the build."}], 13),
        assistant(f"{session}-a2", f"{session}-a1", 3, 1,
                  [{"type": "tool_use", "id": tool_use, "name": "Bash",
                    "input": {"command": "make"}}], RESPONSES[0][1]),
        {**common, "parentUuid": f"{session}-a2", "type": "user", "uuid": f"{session}-t1",
         "timestamp": at(5), "toolUseResult": {"stdout": "", "stderr": "Error 1"},
         "message": {"role": "user", "content": [
             {"type": "tool_result", "tool_use_id": tool_use,
              "content": "make: *** [build] Error 1", "is_error": True}]}},
        assistant(f"{session}-a3", f"{session}-t1", 8, 2,
                  [{"type": "text", "text": "The build fails: a missing header."}],
                  RESPONSES[1][1]),
    ]


def telemetry_of(session: str, start: datetime) -> list[dict]:
    """The same session's telemetry: the prompt, the tool call and both API requests,
    with the transcript's ids and token counts."""
    events = [claude_event("user_prompt", 1, session, PERSON, start + timedelta(seconds=1),
                           prompt="why does the build fail?", prompt_length="24",
                           **{"message.uuid": f"{session}-u1"})]
    for n, (input_tokens, output, cache_read, cache_write) in enumerate(RESPONSES, 1):
        events.append(claude_api_request(2 * n, session, PERSON,
                                         start + timedelta(seconds=3 * n),
                                         f"req_{session}_{n}", "claude-sonnet-4-5",
                                         input_tokens, output, cache_read, cache_write))
    events.append(claude_event("tool_result", 3, session, PERSON, start + timedelta(seconds=5),
                               tool_name="Bash", tool_use_id=f"toolu_{session}_1",
                               success="false", error_type="ShellError"))
    return events


def otel_uuids(running: Collector, session: str) -> list[str]:
    return [e["uuid"] for e in entries(running, session) if e["uuid"].startswith("otel:")]


def test_a_session_by_transcript_and_telemetry_counts_each_response_once(own_collector,
                                                                         tmp_path):
    first_telemetry = "5d0c1a6e-0001-4aa1-9c11-70e1e0000001"  # telemetry, then transcript
    first_transcript = "5d0c1a6e-0002-4aa1-9c11-70e1e0000002"  # transcript, then telemetry
    telemetry_only = "5d0c1a6e-0003-4aa1-9c11-70e1e0000003"
    start = datetime(2026, 2, 1, 10, 0, 0, tzinfo=timezone.utc)
    # GIVEN the transcripts of two sessions where Claude Code keeps them
    config = tmp_path / "claude-config"
    project = config / "projects" / "-work-app"
    project.mkdir(parents=True)
    written = {}
    for session in (first_telemetry, first_transcript):
        lines = transcript_lines(session, start)
        (project / f"{session}.jsonl").write_text(
            "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines))
        written[session] = sorted(line["uuid"] for line in lines)
    home = tmp_path / "laptop"
    home.mkdir()

    # WHEN the telemetry of the first session, and of one known only by telemetry, arrives
    for session in (first_telemetry, telemetry_only):
        response = emit_logs(own_collector, CLAUDE, telemetry_of(session, start))
        assert not logs_response(response).HasField("partial_success")
    # THEN they are told by it (so the transcript has something to take over)
    assert session_usage(own_collector, first_telemetry) == SESSION_TOKENS
    assert len(otel_uuids(own_collector, first_telemetry)) == 4

    # WHEN the real exporter ships both transcripts
    done = Exporter(home, tmp_path / "export.log", "--collector-url", own_collector.url,
                    "--api-key", INGEST, "--source", "claude", "--user", PERSON,
                    CLAUDE_CONFIG_DIR=str(config)).run()
    assert done.returncode == 0, done.stdout + done.stderr
    # THEN the second session is told by its transcript alone
    assert session_usage(own_collector, first_transcript) == SESSION_TOKENS
    assert sorted(e["uuid"] for e in entries(own_collector, first_transcript)) \
        == written[first_transcript]

    # WHEN the telemetry of the second session arrives after its transcript
    response = emit_logs(own_collector, CLAUDE, telemetry_of(first_transcript, start))
    assert not logs_response(response).HasField("partial_success")

    # THEN each of the two sessions counts its responses once: the transcript's tokens
    by_session = usage(own_collector, "session")
    assert by_session[first_telemetry][0] == SESSION_TOKENS
    assert by_session[first_transcript][0] == SESSION_TOKENS
    # AND holds its transcript's entries, and no telemetry entry
    for session in (first_telemetry, first_transcript):
        assert otel_uuids(own_collector, session) == [], session
        assert sorted(e["uuid"] for e in entries(own_collector, session)) == written[session]
    # AND the session known only by telemetry still counts its telemetry
    assert by_session[telemetry_only] == (SESSION_TOKENS, 4, 1)
    assert len(otel_uuids(own_collector, telemetry_only)) == 4
    # WHEN the first session's telemetry comes again (the SDK retrying an export)
    again = emit_logs(own_collector, CLAUDE, telemetry_of(first_telemetry, start))
    assert not logs_response(again).HasField("partial_success")
    # THEN it is still told by its transcript alone
    assert session_usage(own_collector, first_telemetry) == SESSION_TOKENS
    assert otel_uuids(own_collector, first_telemetry) == []
    # AND the totals are three sessions' worth, not four or five
    assert by_session[first_telemetry][1:] == by_session[first_transcript][1:] == (5, 1)
    assert usage(own_collector, "source", user=PERSON) == {
        "claude": (tuple(3 * n for n in SESSION_TOKENS), 5 + 5 + 4, 3)}
    sessions = {s["id"]: s for s in own_collector.get("/v1/sessions").json()}
    assert {s: (sessions[s]["source"], tokens(sessions[s])) for s in sessions} == {
        s: ("claude", SESSION_TOKENS) for s in (first_telemetry, first_transcript,
                                                telemetry_only)}

    # AND every API request event was kept outside the counts, and only the third session
    # is still told by telemetry
    requests_kept = read_database(own_collector, """
        SELECT session_id, request_key, input_tokens, output_tokens, cost_usd
        FROM telemetry_requests ORDER BY session_id, request_key""")
    assert [(s, k) for s, k, *_ in requests_kept] == [
        (s, f"req_{s}_{n}") for s in (first_telemetry, first_transcript, telemetry_only)
        for n in (1, 2)]
    assert all(cost == 0.0123 for *_, cost in requests_kept)
    assert read_database(own_collector, "SELECT session_id FROM telemetry_sessions") == [
        (telemetry_only,)]
