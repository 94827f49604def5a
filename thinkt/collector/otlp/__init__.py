"""The assistants' own OpenTelemetry: decoding OTLP/HTTP bodies and mapping them to ours.

Claude Code, Codex CLI and Gemini CLI can export logs (events) and metrics over OTLP.
This package turns those request bodies into thinkt's values, with no HTTP and no
storage (the endpoints and the store are built on it):

- :mod:`~thinkt.collector.otlp.decode`: body bytes -> :class:`LogEvent` /
  :class:`MetricPoint` (protobuf or JSON, with the OpenTelemetry project's own
  definitions), and :func:`looks_like_otlp_traces` for ``/v1/traces``;
- :mod:`~thinkt.collector.otlp.mapping`: events -> :class:`ApiRequest` (usage rows),
  :class:`Prompt`, :class:`ToolResult`, :class:`ApiError` (entries of the tool's
  ``session.id``); metric points -> :class:`SeriesPoint` deltas;
- ``claude``, ``codex``, ``gemini``: one table per tool (what each event and metric
  becomes, with the tool's token semantics and identifiers documented there);
- :mod:`~thinkt.collector.otlp.records` and :mod:`~thinkt.collector.otlp.rules`: the
  values produced and the tables' vocabulary.

Counting a response once. A response can reach the collector both as telemetry and as a
transcript entry shipped by the exporter. Only Claude Code's telemetry names the
transcript's own ids (``ApiRequest.transcript_id`` = ``request_id``, the transcript's
``requestId``; prompts by ``message.uuid``, tools by ``tool_use_id``); Codex and Gemini
telemetry carry no id found in their session files. Each record's ``request_key`` /
``key`` is stable across resends of the same export, so telemetry alone never counts a
response twice.
"""

from __future__ import annotations

import logging

from thinkt.collector.otlp.decode import (LogEvent, MetricPoint, OTLPDecodeError,
                                          UnsupportedContentType, count_spans, decode_logs,
                                          decode_metrics, is_otlp_traces_json,
                                          looks_like_otlp_traces)
from thinkt.collector.otlp.mapping import (TOOLS, Cumulative, Interval, Mapped, advance,
                                           map_event, map_events, series_key, to_series)
from thinkt.collector.otlp.records import (ApiError, ApiRequest, Prompt, Record, SeriesPoint,
                                           ToolResult)

log = logging.getLogger(__name__)

__all__ = [
    "ApiError", "ApiRequest", "Cumulative", "Interval", "LogEvent", "Mapped", "MetricPoint",
    "OTLPDecodeError", "Prompt", "Record", "SeriesPoint", "TOOLS", "ToolResult",
    "UnsupportedContentType", "advance", "count_spans", "decode_logs", "decode_metrics",
    "is_otlp_traces_json", "looks_like_otlp_traces", "map_event", "map_events",
    "series_key", "to_series",
]
