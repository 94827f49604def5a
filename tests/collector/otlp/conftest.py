"""The real OpenTelemetry Python SDK as the client: what its OTLP/HTTP exporters POST.

``otlp_server`` is a thread-hosted ``http.server`` on 127.0.0.1 that keeps every request
it gets (and inflates gzip with the collector's own ``read_body``); ``export_logs``,
``MetricsClient`` and ``export_spans`` drive the SDK's exporters at it. The SDK only
encodes protobuf (``opentelemetry-exporter-otlp-proto-http`` has no JSON exporter), so
the JSON bodies are ``json_format`` renderings of the SDK's own requests in OTLP/JSON
form: ``to_otlp_json``.
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import os
import threading
from typing import Any, NamedTuple

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from google.protobuf import json_format  # noqa: E402
from opentelemetry._logs import LogRecord  # noqa: E402
from opentelemetry.exporter.otlp.proto.http import Compression  # noqa: E402
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: E402
    OTLPMetricExporter)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: E402
    OTLPSpanExporter)
from opentelemetry.sdk._logs import LoggerProvider  # noqa: E402
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor  # noqa: E402
from opentelemetry.sdk.metrics import (  # noqa: E402
    Counter, Histogram, MeterProvider, ObservableCounter, ObservableGauge,
    ObservableUpDownCounter, UpDownCounter)
from opentelemetry.sdk.metrics.export import (  # noqa: E402
    AggregationTemporality, PeriodicExportingMetricReader)
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402

from thinkt.collector.body import read_body  # noqa: E402

LIMIT = 10 * 1024 * 1024

#: Resources as each tool sends them.
CLAUDE = {"service.name": "claude-code", "service.version": "2.1.220", "os.type": "linux"}
CODEX = {"service.name": "codex-cli", "service.version": "0.137.0"}
GEMINI = {"service.name": "gemini-cli", "service.version": "0.34.0"}


@pytest.fixture(autouse=True)
def _no_otel_environment(monkeypatch):
    """Keep the developer's OTEL_* settings (endpoints, headers, temporality) out of the SDK."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


class Posted(NamedTuple):
    """One request the stub received, its body inflated."""

    path: str
    content_type: str
    content_encoding: str | None
    body: bytes


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        encoding = self.headers.get("Content-Encoding")
        body = read_body(io.BytesIO(raw), encoding, LIMIT)
        self.server.posted.append(Posted(self.path, self.headers.get("Content-Type", ""),
                                         encoding, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):  # keep the test output quiet
        pass


class OTLPServer:
    """A thread-hosted OTLP/HTTP receiver stub that keeps what it is sent."""

    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.posted = []
        # A short poll: shutdown() waits for one, and every test closes a server.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    @property
    def posted(self) -> list[Posted]:
        return self.httpd.posted

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def take(self, path: str) -> list[Posted]:
        """Return and forget the requests received on ``path``."""
        taken = [p for p in self.posted if p.path == path]
        self.posted[:] = [p for p in self.posted if p.path != path]
        return taken

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def otlp_server():
    server = OTLPServer()
    yield server
    server.close()


def export_logs(server: OTLPServer, resource: dict, records: list[dict],
                scope: str = "com.anthropic.claude_code.events", gzip: bool = False) -> Posted:
    """Emit log records with the SDK, export them at once and return the one POST made.

    Each record is the keyword arguments of a ``LogRecord`` (``body``, ``attributes``,
    ``timestamp`` in ns, ...).
    """
    exporter = OTLPLogExporter(endpoint=server.url("/v1/logs"),
                               compression=Compression.Gzip if gzip else Compression.NoCompression)
    provider = LoggerProvider(resource=Resource.create(resource))
    # A long delay: the records go out together, in one request, on force_flush().
    provider.add_log_record_processor(BatchLogRecordProcessor(
        exporter, schedule_delay_millis=3_600_000))
    logger = provider.get_logger(scope)
    for record in records:
        logger.emit(LogRecord(**record))
    assert provider.force_flush(10_000)
    provider.shutdown()
    posted = server.take("/v1/logs")
    assert len(posted) == 1, posted
    return posted[0]


class MetricsClient:
    """A MeterProvider exporting with the SDK's OTLP/HTTP exporter only when told to."""

    def __init__(self, server: OTLPServer, resource: dict, temporality: str = "cumulative",
                 scope: str = "com.anthropic.claude_code"):
        chosen = {"delta": AggregationTemporality.DELTA,
                  "cumulative": AggregationTemporality.CUMULATIVE}[temporality]
        kinds = (Counter, UpDownCounter, Histogram, ObservableCounter,
                 ObservableUpDownCounter, ObservableGauge)
        self.server = server
        exporter = OTLPMetricExporter(endpoint=server.url("/v1/metrics"),
                                      preferred_temporality={kind: chosen for kind in kinds})
        # A long interval: points go out on flush() only.
        self.reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
        self.provider = MeterProvider(resource=Resource.create(resource),
                                      metric_readers=[self.reader])
        self.meter = self.provider.get_meter(scope)

    def flush(self) -> Posted:
        """Export what was recorded since the last flush; return the request."""
        assert self.provider.force_flush(10_000)
        posted = self.server.take("/v1/metrics")
        assert len(posted) == 1, posted
        return posted[0]

    def close(self):
        self.provider.shutdown()
        self.server.take("/v1/metrics")


def export_spans(server: OTLPServer, resource: dict) -> Posted:
    """Export one span with the SDK; return the request."""
    provider = TracerProvider(resource=Resource.create(resource))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=server.url("/v1/traces"))))
    with provider.get_tracer("claude_code").start_as_current_span("claude_code.interaction"):
        pass
    provider.shutdown()
    posted = server.take("/v1/traces")
    assert len(posted) == 1, posted
    return posted[0]


def to_otlp_json(body: bytes, message_type: type) -> bytes:
    """Return a protobuf OTLP request as OTLP/JSON: camelCase, integer enums, hex ids."""
    message = message_type()
    message.ParseFromString(body)
    document = json_format.MessageToDict(message, use_integers_for_enums=True)
    return json.dumps(_base64_ids_to_hex(document)).encode()


def _base64_ids_to_hex(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: base64.b64decode(value).hex()
                if key in ("traceId", "spanId", "parentSpanId") else _base64_ids_to_hex(value)
                for key, value in node.items()}
    if isinstance(node, list):
        return [_base64_ids_to_hex(value) for value in node]
    return node
