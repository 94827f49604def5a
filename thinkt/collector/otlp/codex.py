"""Codex CLI's own telemetry: which of its events and metrics we keep, and as what.

Sources: the ``[otel]`` section of openai/codex ``docs/config.md`` (events
``codex.conversation_starts``, ``codex.api_request``, ``codex.sse_event``,
``codex.user_prompt``, ``codex.tool_decision``, ``codex.tool_result``), and the code
that emits them, ``codex-rs/otel/src/events/session_telemetry.rs``,
``events/shared/log.rs`` and ``metrics/names.rs`` (read August 2026). Codex logs through
``tracing``: each event's name is its ``event.name`` attribute (``codex.sse_event``),
every record carries ``conversation.id`` (the session id, as in the rollout file's
``session_meta``), ``model``, ``user.email`` and ``user.account_id``, and most numbers
are formatted as strings (``input_token_count = "1234"``). Only the ``log_only`` family
of events reaches the logs exporter; its ``trace_safe`` twins (no e-mail) go out as span
events, which we do not read.

One API response is one ``codex.sse_event`` with ``event.kind = response.completed``
(``codex.websocket_event`` over the WebSocket transport) carrying ``input_token_count``,
``cached_token_count``, ``cache_write_token_count`` (newer versions), ``output_token_count``
and ``reasoning_token_count`` (``tool_token_count`` is, despite its name, the total).
Like the rollout files, ``input`` includes the cached input (and cache writes) and
``output`` includes reasoning: our ``input_tokens`` is input minus both, our
``output_tokens`` the output as sent. No cost is sent.

Identifiers: the completed event carries no response id, so the request key is the
session plus the event's ``event.timestamp`` (milliseconds; one session's responses are
sequential). Rollout files carry no response id either (SOURCES.md: "Codex rollout lines
have no id at all"), so no usage event names a transcript record: a response seen both
ways can only be matched by session, time and equal token counts (the rollout's
``last_token_usage``), which we do not do here. Tool results have ``call_id``, which the
rollout's ``function_call`` and ``function_call_output`` items carry too.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from thinkt.collector.otlp.rules import EventRule, MetricRule, Telemetry, parts
from thinkt.collector.pricing import Tokens

log = logging.getLogger(__name__)

#: One session's events are told apart by their millisecond timestamps.
_WHEN = ("conversation.id", "event.timestamp")


def tokens(counts: Mapping[str, int]) -> Tokens:
    """Return Codex's counts as ours: cached input and cache writes out of ``input``."""
    cache_read = min(counts["cache_read"], counts["input"])
    cache_write = min(counts["cache_write"], counts["input"] - cache_read)
    return Tokens(input=counts["input"] - cache_read - cache_write, output=counts["output"],
                  cache_read=cache_read, cache_write=cache_write,
                  reasoning=min(counts["reasoning"], counts["output"]))


def _completed(attrs: Mapping[str, Any]) -> bool:
    """A response's usage: ``response.completed`` with its token counts."""
    return attrs.get("event.kind") == "response.completed" and "input_token_count" in attrs


def _stream_failed(attrs: Mapping[str, Any]) -> bool:
    """A streamed response that failed (``response.failed``, a broken or stalled stream)."""
    return ("error.message" in attrs or attrs.get("event.kind") == "response.failed"
            or str(attrs.get("success", "")).lower() == "false")


def _request_failed(attrs: Mapping[str, Any]) -> bool:
    """An HTTP request to the model that errored or did not answer 2xx."""
    status = str(attrs.get("http.response.status_code", ""))
    return "error.message" in attrs or (status.isdigit() and not status.startswith("2"))


_USAGE = EventRule(
    "api_request", when=_completed,
    fields={"model": "model", "duration_ms": "duration_ms",
            "input": "input_token_count", "output": "output_token_count",
            "cache_read": "cached_token_count", "cache_write": "cache_write_token_count",
            "reasoning": "reasoning_token_count"},
    keys=(_WHEN,))
_STREAM_ERROR = EventRule(
    "api_error", when=_stream_failed,
    fields={"model": "model", "error": ("error.message", "error.type", "event.kind"),
            "duration_ms": "duration_ms"},
    keys=(_WHEN,))

TELEMETRY = Telemetry(
    source="codex",
    prefix="codex.",
    # codex-cli, codex_exec, codex_tui, codex_cli_rs: the originator names the binary.
    services=("codex-cli", "codex_exec", "codex_tui", "codex_cli_rs", "codex"),
    session=("conversation.id",),
    user=("user.email", "user.account_id"),
    events={
        "codex.sse_event": (_USAGE, _STREAM_ERROR),
        "codex.websocket_event": (_USAGE, _STREAM_ERROR),
        "codex.api_request": (EventRule(
            "api_error", when=_request_failed,
            fields={"model": "model", "error": "error.message",
                    "status_code": "http.response.status_code", "duration_ms": "duration_ms",
                    "attempt": "attempt"},
            keys=(_WHEN,)),),
        "codex.user_prompt": (EventRule(
            "prompt",
            # "[REDACTED]" unless log_user_prompt = true.
            fields={"text": "prompt", "length": "prompt_length"},
            keys=(_WHEN,)),),
        "codex.tool_result": (EventRule(
            "tool_result",
            fields={"tool_name": "tool_name", "call_id": "call_id", "success": "success",
                    "duration_ms": "duration_ms", "output": "output",
                    "arguments": "arguments"},
            keys=(("call_id",), _WHEN),
            transcript_id="call_id"),),
    },
    metrics={
        # A histogram per turn, one point per token type; "total" repeats the others.
        "codex.turn.token_usage": MetricRule("tokens", split="token_type", parts=parts(
            input="input",
            cached_input=(("input", -1), ("cache_read", 1)),
            cache_write_input=(("input", -1), ("cache_write", 1)),
            output="output",
            reasoning_output="reasoning")),
        "codex.api_request": MetricRule("api_requests"),
        "codex.tool.call": MetricRule("tool_calls"),
        "codex.thread.started": MetricRule("sessions"),
        "codex.conversation.turn.count": MetricRule("turns"),
    },
    tokens=tokens,
)
