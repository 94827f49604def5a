"""Claude Code's own telemetry: which of its events and metrics we keep, and as what.

Source: the "Monitoring" page, https://code.claude.com/docs/en/monitoring-usage (read as
of Claude Code v2.1.22x, August 2026). Claude Code sends each event as a log record whose
body is the full event name (``claude_code.api_request``) and whose ``event.name``
attribute is the short one (``api_request``); ``session.id``, ``user.email`` (OAuth
sign-in only), ``user.account_uuid``, ``organization.id`` and ``prompt.id`` ride on every
record, ``event.sequence`` orders a session's events, and numbers may arrive as strings.
Resource ``service.name`` is ``claude-code`` (``claude-code-desktop`` for the desktop
app). Metrics default to delta temporality (``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE``).

Tokens: ``input_tokens`` is the Anthropic API's, which already excludes cache reads and
writes, so our fields take the counts as they are; the telemetry does not say how much of
the output was thinking, so ``reasoning_tokens`` is 0 (as in our transcript entries).

Identifiers, and matching the transcript files (``~/.claude/projects/*/*.jsonl``):

- ``api_request`` / ``api_error``: ``request_id``, the API's ``request-id`` header
  (``req_011...``), is the request key. The docs say it is persisted as ``requestId`` on
  the transcript's assistant entries, and every assistant record of our sample
  transcripts has one. Our exporter's entries carry ``message_id`` = ``message.id``
  (``msg_...``), not ``requestId``: the same response, another id. Matching the two needs
  the exporter to send ``requestId`` too. Without ``request_id`` (third-party backends):
  ``client_request_id`` (a UUID of the client, v2.1.214+), else session + ``event.sequence``.
- ``user_prompt``: ``message.uuid`` (v2.1.214+) is the ``uuid`` of the prompt's
  transcript entry, which our exporter uses as the entry's ``uuid``; else ``prompt.id``.
- ``tool_result``: ``tool_use_id`` matches the transcript's ``tool_use_id``.

The docs call these joins version-specific ("the transcript entry format is internal to
Claude Code"): use them to skip a response already counted, never as a contract.
"""

from __future__ import annotations

import logging
from typing import Mapping

from thinkt.collector.otlp.rules import EventRule, MetricRule, Telemetry, parts
from thinkt.collector.pricing import Tokens

log = logging.getLogger(__name__)

#: When a record carries no id of its own: its session and place in the session.
_SEQUENCE = ("session.id", "event.sequence")


def tokens(counts: Mapping[str, int]) -> Tokens:
    """Return Claude Code's counts as ours: the same numbers (see the module docstring)."""
    return Tokens(input=counts["input"], output=counts["output"],
                  cache_read=counts["cache_read"], cache_write=counts["cache_write"])


TELEMETRY = Telemetry(
    source="claude",
    prefix="claude_code.",
    services=("claude-code", "claude-code-desktop"),
    session=("session.id",),
    # user.email only comes with an OAuth sign-in; API-key users have an account uuid.
    user=("user.email", "user.account_uuid", "user.account_id"),
    events={
        "claude_code.api_request": (EventRule(
            "api_request",
            fields={"model": "model", "cost_usd": "cost_usd", "duration_ms": "duration_ms",
                    "input": "input_tokens", "output": "output_tokens",
                    "cache_read": "cache_read_tokens", "cache_write": "cache_creation_tokens"},
            keys=(("request_id",), ("client_request_id",), _SEQUENCE),
            transcript_id="request_id"),),
        "claude_code.user_prompt": (EventRule(
            "prompt",
            fields={"text": "prompt", "length": "prompt_length", "prompt_id": "prompt.id"},
            keys=(("message.uuid",), ("prompt.id",), _SEQUENCE),
            transcript_id="message.uuid"),),
        "claude_code.tool_result": (EventRule(
            "tool_result",
            fields={"tool_name": "tool_name", "call_id": "tool_use_id", "success": "success",
                    "duration_ms": "duration_ms",
                    # error needs OTEL_LOG_TOOL_DETAILS=1; error_type is always there.
                    "error": ("error", "error_type"),
                    "arguments": ("tool_input", "tool_parameters")},
            keys=(("tool_use_id",), _SEQUENCE),
            transcript_id="tool_use_id"),),
        "claude_code.api_error": (EventRule(
            "api_error",
            fields={"model": "model", "error": "error", "status_code": "status_code",
                    "duration_ms": "duration_ms", "attempt": "attempt"},
            keys=(("request_id",), ("client_request_id",), _SEQUENCE),
            transcript_id="request_id"),),
    },
    metrics={
        "claude_code.token.usage": MetricRule("tokens", split="type", parts=parts(
            input="input", output="output", cacheRead="cache_read",
            cacheCreation="cache_write")),
        "claude_code.cost.usage": MetricRule("cost_usd"),
        "claude_code.lines_of_code.count": MetricRule("lines", split="type", parts=parts(
            added="added", removed="removed")),
        "claude_code.commit.count": MetricRule("commits"),
        "claude_code.pull_request.count": MetricRule("pull_requests"),
        "claude_code.session.count": MetricRule("sessions"),
        "claude_code.active_time.total": MetricRule("active_seconds", split="type",
                                                    parts=parts(user="user", cli="cli")),
        "claude_code.code_edit_tool.decision": MetricRule("edit_decisions", split="decision",
                                                          parts=parts(accept="accept",
                                                                      reject="reject")),
    },
    tokens=tokens,
)
