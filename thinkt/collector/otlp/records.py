"""What the assistants' telemetry becomes: usage rows, session entries and series points.

These are the values :mod:`thinkt.collector.otlp.mapping` yields and the collector
stores. Token fields mean what they mean everywhere in thinkt (SOURCES.md, and the table
in :mod:`thinkt.collector.pricing`): ``input_tokens`` excludes cache reads and writes,
``output_tokens`` includes reasoning, and ``reasoning_tokens`` says how much of the output
was reasoning. Each tool's table converts its own counts to that.

Two identifiers travel with each record:

- ``request_key`` / ``key``: the most stable identifier of the record that its telemetry
  offers (see each tool's module for what it is). It is the same when an exporter resends
  the same export, so it is what a store deduplicates telemetry on.
- ``transcript_id``: the identifier the same thing has in the tool's own session files,
  when the telemetry carries one (Claude Code only: ``requestId``, ``uuid``,
  ``tool_use_id``); None otherwise. It is what tells a response already counted from a
  transcript (see the tool modules and the package docstring).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from typing import Any, NamedTuple, Union

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Record:
    """What every record has: which tool sent it, in which session, when, for whom."""

    source: str
    #: The tool's own session id (its transcript's session id).
    session_id: str | None
    time: datetime.datetime | None
    #: The person: an e-mail address where the tool sends one, else its account id.
    user: str | None
    transcript_id: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ApiRequest(_Record):
    """One API response with its usage: a usage row."""

    model: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    #: What the client itself says the response cost (Claude Code only), else None.
    cost_usd: float | None
    duration_ms: float | None
    request_key: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Prompt(_Record):
    """A prompt the human submitted: a ``user`` entry of its session."""

    #: The prompt's text; None when the tool was told not to log it (the default).
    text: str | None
    #: Its length in characters as the tool counted it, even when the text is withheld.
    length: int | None
    #: The tool's id of the prompt, shared by the requests and tool calls it led to.
    prompt_id: str | None
    key: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ToolResult(_Record):
    """A tool call that ran: a ``tool_result`` entry of its session."""

    tool_name: str | None
    call_id: str | None
    #: False when the tool failed (our entries' ``is_error``); None when not said.
    success: bool | None
    duration_ms: float | None
    error: str | None
    #: The tool's output text (Codex only), None where the telemetry has none.
    output: str | None
    #: The call's arguments as the tool wrote them (usually JSON), where it logged them.
    arguments: str | None
    key: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ApiError(_Record):
    """An API request that failed (after the tool's retries, where it says so)."""

    model: str | None
    error: str | None
    status_code: int | None
    duration_ms: float | None
    #: How many attempts were made, where the tool says.
    attempt: int | None
    request_key: str


#: Any record a log event maps to.
Record = Union[ApiRequest, Prompt, ToolResult, ApiError]


class SeriesPoint(NamedTuple):
    """What one metric point adds to one of our series over its interval.

    ``value`` is a delta for counters and histograms whatever temporality the client
    used (see :func:`thinkt.collector.otlp.mapping.advance`), and the current value for
    gauges. A point of a token metric can feed several series with a sign (Gemini's
    ``cache`` tokens are part of its ``input``: +cache_read and -input), so summing a
    series over any interval gives our token semantics.
    """

    source: str
    #: Our name for the series (``tokens.input``, ``cost_usd``, ``commits``, ...), or None
    #: for a metric the tool's table does not name (kept under ``name`` as sent).
    series: str | None
    #: The metric's name as the tool sent it.
    name: str
    unit: str
    kind: str
    session_id: str | None
    user: str | None
    model: str | None
    start_time: datetime.datetime | None
    time: datetime.datetime | None
    value: float | int | None
    #: Observations added (histograms and summaries), else None.
    count: int | None
    attrs: dict[str, Any]
