"""The vocabulary of the per-tool tables: which events and metrics we keep, and as what.

Each assistant has one module (``claude``, ``codex``, ``gemini``) holding one
:class:`Telemetry` table built from these pieces; :mod:`thinkt.collector.otlp.mapping`
applies them. A table names attributes, never code paths, so reading it says what a
tool's telemetry becomes.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Mapping

from thinkt.collector.pricing import Tokens

log = logging.getLogger(__name__)

#: The kinds of record an event can become (see :mod:`thinkt.collector.otlp.records`) and
#: the fields each takes from attributes. ``api_request`` token fields are the tool's own
#: counts, handed to its :attr:`Telemetry.tokens` to become ours.
FIELDS = {
    "api_request": ("model", "cost_usd", "duration_ms", "input", "output", "cache_read",
                    "cache_write", "reasoning", "tool"),
    "prompt": ("text", "length", "prompt_id"),
    "tool_result": ("tool_name", "call_id", "success", "duration_ms", "error", "output",
                    "arguments"),
    "api_error": ("model", "error", "status_code", "duration_ms", "attempt"),
}


@dataclasses.dataclass(frozen=True)
class EventRule:
    """How one event becomes one record: its kind and which attribute fills which field."""

    kind: str
    #: Our field -> the attribute it comes from, or a tuple of them tried in order.
    fields: Mapping[str, str | tuple[str, ...]]
    #: Candidate keys, most stable first: the first whose attributes are all present
    #: makes the record's key. When none is, the key is the session, event name and the
    #: record's own time (fixed at emission, so a resent export keeps it).
    keys: tuple[tuple[str, ...], ...] = ()
    #: The attribute holding the id this record has in the tool's session files.
    transcript_id: str | None = None
    #: Only events whose attributes pass this test take this rule (several rules of one
    #: event are tried in order); None takes every event.
    when: Callable[[Mapping[str, Any]], bool] | None = None

    def __post_init__(self) -> None:
        if self.kind not in FIELDS:
            raise ValueError(f"unknown record kind {self.kind!r}")
        unknown = set(self.fields) - set(FIELDS[self.kind])
        if unknown:
            raise ValueError(f"{self.kind} has no fields {sorted(unknown)}")


@dataclasses.dataclass(frozen=True)
class MetricRule:
    """How one metric feeds our series.

    Without ``split`` every point feeds ``series``. With it, the point's ``split``
    attribute picks entries of ``parts``: each is ``(suffix, factor)``, feeding
    ``series.suffix`` with ``factor`` times the point's value; a value not in ``parts``
    feeds no series (the point is still kept under its own name).
    """

    series: str
    split: str | None = None
    parts: Mapping[str, tuple[tuple[str, int], ...]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Telemetry:
    """One assistant's table: how its logs and metrics are told and what they become."""

    source: str
    #: The prefix of its event and metric names (``claude_code.``).
    prefix: str
    #: Its ``service.name`` resource values, which name unprefixed events.
    services: tuple[str, ...]
    #: The attribute(s) naming the session (the tool's own session id).
    session: tuple[str, ...]
    #: The attribute(s) naming the person, best first.
    user: tuple[str, ...]
    #: Event name -> the rules tried in order; an event with no rule that applies is
    #: ignored (and counted).
    events: Mapping[str, tuple[EventRule, ...]]
    metrics: Mapping[str, MetricRule]
    #: The tool's token counts (``input``, ``output``, ``cache_read``, ``cache_write``,
    #: ``reasoning``, ``tool``, as its ``api_request`` rule names them) -> ours.
    tokens: Callable[[Mapping[str, int]], Tokens]


def parts(**named: str | tuple[tuple[str, int], ...]) -> dict[str, tuple[tuple[str, int], ...]]:
    """Return a ``MetricRule.parts`` dict: ``value="suffix"`` is ``value=(("suffix", 1),)``."""
    return {value: ((spec, 1),) if isinstance(spec, str) else spec
            for value, spec in named.items()}
