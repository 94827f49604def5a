"""Applying the per-tool tables: log events to records, metric points to our series.

The tables themselves live in one module per assistant (``claude``, ``codex``,
``gemini``); this module knows no event or metric name.

Logs: :func:`map_event` tells the tool (by the prefix of the event's name, else by the
resource's ``service.name``), looks the event up in that tool's table and builds the
record, or returns None for an event we do not keep; :func:`map_events` does a batch and
counts what it ignored, by name.

Metrics: counters arrive as deltas or as cumulative totals, whichever the client chose
(Claude Code defaults to delta, the OpenTelemetry SDKs to cumulative). :func:`advance`
turns either into what the point adds over its interval, given what the caller stored
for the series last time (:func:`series_key` names the series): it is pure, the storage
of the previous values is the caller's. :func:`to_series` then feeds our series from
the interval through the tool's table.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import hashlib
import json
import logging
import math
import re
from typing import Any, Iterable, Mapping, NamedTuple

from thinkt.collector.otlp import claude, codex, gemini
from thinkt.collector.otlp.decode import LogEvent, MetricPoint
from thinkt.collector.otlp.records import (ApiError, ApiRequest, Prompt, Record, SeriesPoint,
                                           ToolResult)
from thinkt.collector.otlp.rules import EventRule, Telemetry

log = logging.getLogger(__name__)

#: Every assistant whose telemetry we read, one table each.
TOOLS: tuple[Telemetry, ...] = (claude.TELEMETRY, codex.TELEMETRY, gemini.TELEMETRY)

#: Values the tools put where they withhold a text (prompts, responses) by default.
REDACTED = frozenset({"<REDACTED>", "[REDACTED]", "REDACTED"})

#: Fields read as whole numbers, as real numbers, and as yes/no; the rest are texts
#: (a tool result's ``output`` is text, an API request's token ``output`` a number).
_TOKEN_FIELDS = ("input", "output", "cache_read", "cache_write", "reasoning", "tool")
_INT_FIELDS = frozenset({"length", "status_code", "attempt"})
_FLOAT_FIELDS = frozenset({"cost_usd", "duration_ms"})
_BOOL_FIELDS = frozenset({"success"})
#: A body that can be an event name (Claude Code's body is ``claude_code.api_request``).
_NAME_LIKE = re.compile(r"[A-Za-z][\w.:-]{0,127}")


class Mapped(NamedTuple):
    """The records of a batch of log events, and how many events of each name were ignored."""

    records: list[Record]
    ignored: collections.Counter


def map_events(events: Iterable[LogEvent]) -> Mapped:
    """Map a batch of log events; ignored events are counted by name (``?`` if unnamed)."""
    records: list[Record] = []
    ignored: collections.Counter = collections.Counter()
    for event in events:
        record = map_event(event)
        if record is None:
            ignored[event_name(event) or "?"] += 1
        else:
            records.append(record)
    if ignored:
        log.debug("ignored %d telemetry events of %d kinds", sum(ignored.values()), len(ignored))
    return Mapped(records, ignored)


def map_event(event: LogEvent) -> Record | None:
    """Return the record a log event becomes, or None for an event we do not keep."""
    tool, name = identify(event)
    if tool is None:
        return None
    for rule in tool.events.get(name, ()):
        if rule.when is None or rule.when(event.attrs):
            return _build(tool, name, rule, event)
    return None


def identify(event: LogEvent) -> tuple[Telemetry | None, str]:
    """Return the tool that sent an event and the event's full name (None, name if unknown).

    The name is looked for in the ``event.name`` attribute, the record's ``event_name``
    field and a name-like body, in that order; the first with a tool's prefix wins.
    Failing that, a resource ``service.name`` of a tool claims the event, qualifying a
    short name (Claude Code's ``event.name`` is ``api_request``).
    """
    names = _names(event)
    for name in names:
        for tool in TOOLS:
            if name.startswith(tool.prefix):
                return tool, name
    service = event.resource_attrs.get("service.name")
    for tool in TOOLS:
        if service in tool.services and names:
            # A short name (no dot) is the tool's own; a dotted one (Gemini's
            # gen_ai.* records) keeps its name and simply has no rule.
            return tool, names[0] if "." in names[0] else tool.prefix + names[0]
    return None, names[0] if names else ""


def event_name(event: LogEvent) -> str:
    """Return an event's full name as :func:`identify` reads it ("" when it has none)."""
    return identify(event)[1]


def _names(event: LogEvent) -> list[str]:
    names = []
    attr = event.attrs.get("event.name")
    if isinstance(attr, str) and attr:
        names.append(attr)
    if event.event_name:
        names.append(event.event_name)
    if event.body_text and _NAME_LIKE.fullmatch(event.body_text):
        names.append(event.body_text)
    return names


def _build(tool: Telemetry, name: str, rule: EventRule, event: LogEvent) -> Record:
    attrs = event.attrs
    values = {field: _convert(rule.kind, field, _first(attrs, spec))
              for field, spec in rule.fields.items()}
    common = {
        "source": tool.source,
        "session_id": _text(_first(attrs, tool.session)),
        "time": event.time or _iso_time(attrs.get("event.timestamp")) or event.observed_time,
        "user": _text(_first(attrs, tool.user)),
        "transcript_id": _text(attrs.get(rule.transcript_id)) if rule.transcript_id else None,
    }
    key = _key(rule, name, event, common["session_id"])
    if rule.kind == "api_request":
        counts = {field: max(values.get(field) or 0, 0) for field in _TOKEN_FIELDS}
        tokens = tool.tokens(counts)
        return ApiRequest(**common, model=values.get("model"),
                          input_tokens=tokens.input, output_tokens=tokens.output,
                          cache_read_tokens=tokens.cache_read,
                          cache_write_tokens=tokens.cache_write,
                          reasoning_tokens=tokens.reasoning, cost_usd=values.get("cost_usd"),
                          duration_ms=values.get("duration_ms"), request_key=key)
    kind = {"api_error": ApiError, "prompt": Prompt, "tool_result": ToolResult}[rule.kind]
    own = {field.name for field in dataclasses.fields(kind)} - set(common)
    # A field the rule does not fill is None; the key goes by the record's name for it.
    return kind(**common, **{field: values.get(field) for field in own
                             if field not in ("key", "request_key")},
                **{"request_key" if kind is ApiError else "key": key})


def _key(rule: EventRule, name: str, event: LogEvent, session_id: str | None) -> str:
    """Return the record's key: the first candidate whose attributes are all present.

    One attribute is an id of its own (``req_...``, a UUID) and is the key as it is;
    several are joined after the event's name, so keys of different events never meet.
    With no candidate, the event's own time (fixed when it was emitted) stands in, and
    failing that a digest of the record, so a resent export gets the same key.
    """
    for candidate in rule.keys:
        parts = [_text(event.attrs.get(attr)) for attr in candidate]
        if all(parts):
            return parts[0] if len(parts) == 1 else "/".join([name, *parts])
    if event.time_unix_nano:
        return f"{name}/{session_id or '-'}/{event.time_unix_nano}"
    digest = hashlib.sha256(json.dumps([event.attrs, event.body_text], sort_keys=True,
                                       default=repr).encode()).hexdigest()[:32]
    return f"{name}/{session_id or '-'}/{digest}"


def _first(attrs: Mapping[str, Any], spec: str | tuple[str, ...]) -> Any:
    """Return the value of the first attribute of ``spec`` that is present and not empty."""
    for attr in (spec,) if isinstance(spec, str) else spec:
        value = attrs.get(attr)
        if value is not None and value != "":
            return value
    return None


def _convert(kind: str, field: str, value: Any) -> Any:
    if field in _INT_FIELDS or (kind == "api_request" and field in _TOKEN_FIELDS):
        return _int(value)
    if field in _FLOAT_FIELDS:
        return _float(value)
    if field in _BOOL_FIELDS:
        return _bool(value)
    return _text(value)


def _text(value: Any) -> str | None:
    """Return a value as text; None for none, "" and the tools' redaction markers."""
    if value is None or isinstance(value, bytes):
        return None
    if not isinstance(value, str):
        # Lists, maps (tool arguments as an OTLP kvlist) and booleans as JSON, numbers as
        # written.
        value = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
            else json.dumps(value, ensure_ascii=False, default=repr)
    return None if value == "" or value.strip() in REDACTED else value


def _int(value: Any) -> int | None:
    """Return a count sent as a number or a numeric string ("1234"); None otherwise."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)  # exact, where float() would round a long one
    number = _float(value)
    if number is None:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else int(number)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _iso_time(value: Any) -> datetime.datetime | None:
    """Return an ``event.timestamp`` (ISO 8601, often ending in Z) as aware UTC."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)


# --- metrics -------------------------------------------------------------------------


class Cumulative(NamedTuple):
    """What the caller stores per cumulative series between points (see :func:`advance`)."""

    start_time: datetime.datetime | None
    time: datetime.datetime | None
    value: float | int | None
    count: int | None


class Interval(NamedTuple):
    """What a point adds over ``start_time``..``time`` (a gauge: its current value)."""

    start_time: datetime.datetime | None
    time: datetime.datetime | None
    value: float | int | None
    count: int | None


def advance(previous: Cumulative | None,
            point: MetricPoint) -> tuple[Interval | None, Cumulative | None]:
    """Return what a point adds since the series' previous point, and what to store now.

    - Gauges and delta points add what they say; there is nothing to store (None).
    - A cumulative point adds its increase over ``previous``, the stored state of its
      series (:func:`series_key`). With no previous point, all of its value is new: it
      counts from the series' start. A reset starts again from the point's value: the
      start time moved on (the client restarted), or a total that only grows (a
      counter, a histogram's count) went down.
    - A point that is not newer than the stored one (a resent export, a late point of
      a series that has since restarted) adds nothing: ``(None, previous)``.
    - A sum or histogram that does not say its temporality cannot be read either way,
      so it adds nothing (``(None, previous)``); the spec forbids sending one.
    """
    if point.kind == "gauge" or point.temporality == "delta":
        return Interval(point.start_time, point.time, point.value, point.count), None
    if point.temporality != "cumulative":
        log.debug("metric %s: a %s point without temporality, not counted", point.name,
                  point.kind)
        return None, previous
    state = Cumulative(point.start_time, point.time, point.value, point.count)
    fresh = Interval(point.start_time, point.time, point.value, point.count)
    if previous is None:
        return fresh, state
    if _before(point.start_time, previous.start_time):
        return None, previous  # a late point of the series before its restart
    if point.start_time != previous.start_time and point.start_time is not None:
        return fresh, state  # the client restarted the series
    if point.time is not None and previous.time is not None and point.time <= previous.time:
        return None, previous  # the same point again, or an older one
    if _decreased(previous.count, point.count) or (
            point.kind == "sum" and point.monotonic and _decreased(previous.value, point.value)):
        # A counter (or a histogram's count) went down: reset without a new start time.
        # A histogram's sum may go down legitimately (negative observations).
        return fresh, state
    return Interval(previous.time, point.time, _minus(point.value, previous.value),
                    _minus(point.count, previous.count)), state


def _before(a: datetime.datetime | None, b: datetime.datetime | None) -> bool:
    return a is not None and b is not None and a < b


def _decreased(before: float | int | None, after: float | int | None) -> bool:
    return before is not None and after is not None and after < before


def _minus(after: Any, before: Any) -> Any:
    if after is None:
        return None
    return after - (before or 0)


def series_key(point: MetricPoint) -> str:
    """Return the identity of a point's series, as text to store its previous value under.

    A series is one metric (name, kind, unit) of one instrumentation scope of one
    resource (one process of one tool) with one set of attributes, as in the OTLP data
    model; the order of attributes does not matter.
    """
    identity = [point.name, point.kind, point.unit, point.scope_name,
                sorted(point.resource_attrs.items()), sorted(point.attrs.items())]
    return json.dumps(identity, ensure_ascii=False, separators=(",", ":"), default=repr)


def metric_tool(point: MetricPoint) -> Telemetry | None:
    """Return the tool that sent a metric point (by name prefix, else ``service.name``)."""
    for tool in TOOLS:
        if point.name.startswith(tool.prefix):
            return tool
    service = point.resource_attrs.get("service.name")
    for tool in TOOLS:
        if service in tool.services:
            return tool
    return None


def to_series(point: MetricPoint, interval: Interval | None) -> list[SeriesPoint]:
    """Return what a point's interval adds to our series (empty for an unknown tool).

    A metric the tool's table names feeds our series (``tokens.input``, ``cost_usd``,
    ...), a split metric one series per part, each with its factor; any other metric of
    a known tool is kept under its own name with ``series`` None. Nothing comes from an
    interval without a finite value or count, or from a sender that is none of ours.
    """
    tool = metric_tool(point)
    if tool is None or interval is None:
        return []
    if not _finite(interval.value) and interval.count is None:
        return []
    attrs = point.attrs
    base = SeriesPoint(
        source=tool.source, series=None, name=point.name, unit=point.unit, kind=point.kind,
        session_id=_text(_first(attrs, tool.session)), user=_text(_first(attrs, tool.user)),
        model=_text(attrs.get("model")), start_time=interval.start_time, time=interval.time,
        value=interval.value if _finite(interval.value) else None, count=interval.count,
        attrs=attrs)
    rule = tool.metrics.get(point.name)
    if rule is None:
        return [base]
    if rule.split is None:
        return [base._replace(series=rule.series)]
    split = _text(attrs.get(rule.split))
    feeds = rule.parts.get(split or "", ())
    if not feeds:
        return [base]
    return [base._replace(series=f"{rule.series}.{suffix}",
                          value=None if base.value is None else base.value * factor)
            for suffix, factor in feeds]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)
