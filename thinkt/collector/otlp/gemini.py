"""Gemini CLI's own telemetry: which of its events and metrics we keep, and as what.

Sources: google-gemini/gemini-cli ``docs/cli/telemetry.md`` ("Logs, metrics, and
traces") and the code that emits them, ``packages/core/src/telemetry/types.ts``,
``loggers.ts``, ``metrics.ts`` and ``telemetryAttributes.ts`` (read at 5411f113, August
2026). Each event is a log record whose ``event.name`` attribute is the full name
(``gemini_cli.api_response``) and whose body is a sentence; ``session.id``,
``installation.id``, ``interactive`` and ``user.email`` (when signed in with Google)
ride on every record and metric, plus ``event.timestamp`` (ISO, milliseconds) on events.
Resource ``service.name`` is ``gemini-cli``. With ``otlpProtocol: "http"`` it uses the
OpenTelemetry JS ``-otlp-http`` exporters, which send OTLP/JSON.

Tokens: ``gemini_cli.api_response`` copies the Gemini API's ``usageMetadata``:
``input_token_count`` is ``promptTokenCount`` (it includes ``cached_content_token_count``),
``output_token_count`` is ``candidatesTokenCount`` (without ``thoughts_token_count``),
``tool_token_count`` is ``toolUsePromptTokenCount``. As for the session files
(``thinkt.exporter.sources.gemini``): ``input_tokens = input - cached + tool``,
``cache_read_tokens = cached``, ``output_tokens = output + thoughts``,
``reasoning_tokens = thoughts``. No cost is sent.

Identifiers: ``api_response`` carries ``prompt_id`` (``<session>########<n>``, shared by
every request of one prompt) and ``event.timestamp``; the response's own id
(``gen_ai.response.id``) is only on the companion ``gen_ai.client.inference.operation.details``
record, emitted right after with the same ``event.timestamp``. The request key is the
session, prompt id and timestamp. The session files (``~/.gemini/tmp/*/chats``) keep no
response id (message ``id`` is a local UUID), so a response in both cannot be matched by
id, only by session, time and equal token counts, which we do not do here.
"""

from __future__ import annotations

import logging
from typing import Mapping

from thinkt.collector.otlp.rules import EventRule, MetricRule, Telemetry, parts
from thinkt.collector.pricing import Tokens

log = logging.getLogger(__name__)

_WHEN = ("session.id", "prompt_id", "event.timestamp")


def tokens(counts: Mapping[str, int]) -> Tokens:
    """Return Gemini's counts as ours: cached input out of input, thoughts into output."""
    cache_read = min(counts["cache_read"], counts["input"])
    return Tokens(input=counts["input"] - cache_read + counts["tool"],
                  output=counts["output"] + counts["reasoning"], cache_read=cache_read,
                  reasoning=counts["reasoning"])


TELEMETRY = Telemetry(
    source="gemini",
    prefix="gemini_cli.",
    services=("gemini-cli",),
    session=("session.id",),
    # installation.id names a machine, not a person: not a user.
    user=("user.email",),
    events={
        "gemini_cli.api_response": (EventRule(
            "api_request",
            fields={"model": "model", "duration_ms": "duration_ms",
                    "input": "input_token_count", "output": "output_token_count",
                    "cache_read": "cached_content_token_count",
                    "reasoning": "thoughts_token_count", "tool": "tool_token_count"},
            keys=(_WHEN,)),),
        "gemini_cli.user_prompt": (EventRule(
            "prompt",
            # prompt is left out when telemetry.logPrompts is false.
            fields={"text": "prompt", "length": "prompt_length", "prompt_id": "prompt_id"},
            keys=(_WHEN,)),),
        "gemini_cli.tool_call": (EventRule(
            "tool_result",
            fields={"tool_name": "function_name", "success": "success",
                    "duration_ms": "duration_ms", "error": ("error", "error_type"),
                    "arguments": "function_args"},
            keys=(("session.id", "prompt_id", "function_name", "event.timestamp"),)),),
        "gemini_cli.api_error": (EventRule(
            "api_error",
            fields={"model": ("model", "model_name"), "error": ("error.message", "error"),
                    "status_code": "status_code", "duration_ms": ("duration_ms", "duration")},
            keys=(_WHEN,)),),
    },
    metrics={
        # Counters per response and token type; cache is part of input, thought apart
        # from output, tool apart from input (see tokens()).
        "gemini_cli.token.usage": MetricRule("tokens", split="type", parts=parts(
            input="input", output="output", tool="input",
            cache=(("input", -1), ("cache_read", 1)),
            thought=(("output", 1), ("reasoning", 1)))),
        "gemini_cli.lines.changed": MetricRule("lines", split="type", parts=parts(
            added="added", removed="removed")),
        "gemini_cli.session.count": MetricRule("sessions"),
        "gemini_cli.api.request.count": MetricRule("api_requests"),
        "gemini_cli.tool.call.count": MetricRule("tool_calls"),
    },
    tokens=tokens,
)
