"""Telemetry records as the entries of their sessions, validated as ``/v1/traces`` batches.

Each record of a log export becomes one entry of its ``session.id`` (the tool's own
session id, which its transcript also carries):

- :class:`ApiRequest`: an ``assistant`` entry with the model and our token counts: its
  usage row, once the rollup folds it in;
- :class:`Prompt`: a ``user`` entry with the prompt's text (none when the tool withheld
  it, its default);
- :class:`ToolResult`: a ``tool_result`` entry with the tool's name, whether it failed,
  and its output or error where the tool logs one;
- :class:`ApiError`: a ``system`` entry flagged as an error, with the error's text.

Entry uuids are ``otel:`` and the record's key, which a resent export repeats (so it is
stored once) and no transcript line has (so telemetry never overwrites one). The
entries of one session go in one batch, built and validated like an exporter's, so the
limits and rules of ``/v1/traces`` apply unchanged; what fails them is rejected and
counted, never stored half. Which of a session's two paths counts is
:mod:`thinkt.collector.precedence`'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from datetime import datetime
from typing import Any, Callable, Iterable

from marshmallow import ValidationError

from thinkt.collector import longtext
from thinkt.collector.channel import IngestRequest
from thinkt.collector.otlp.records import ApiError, ApiRequest, Prompt, Record, ToolResult
from thinkt.collector.precedence import TELEMETRY
from thinkt.collector.schemas import ENTRY_FIELDS, MAX_ENTRIES, ingest_schema, load_entries

log = logging.getLogger(__name__)

#: The prefix of every entry uuid made from telemetry.
UUID_PREFIX = "otel:"
_MAX_ID = 512
_TEXT, _TOOL_NAME = ENTRY_FIELDS.index("text"), ENTRY_FIELDS.index("tool_name")


@dataclasses.dataclass
class Sessions:
    """The records of one export as batches per session, and what could not become one."""

    batches: list[IngestRequest]
    #: Records refused, with the reason of the first few (for ``partial_success``).
    rejected: int = 0
    reasons: list[str] = dataclasses.field(default_factory=list)

    def reject(self, count: int, reason: str) -> None:
        self.rejected += count
        if reason not in self.reasons and len(self.reasons) < 5:
            self.reasons.append(reason)


def entry_uuid(key: str) -> str:
    """Return the uuid of the entry a record with ``key`` becomes (at most 512 characters)."""
    uuid = UUID_PREFIX + key
    if len(uuid) > _MAX_ID:
        uuid = UUID_PREFIX + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return uuid


def to_entry(record: Record) -> dict[str, Any]:
    """Return the entry (as an exporter would send it) that ``record`` becomes."""
    entry: dict[str, Any] = {"timestamp": _rfc3339(record.time)}
    if isinstance(record, ApiRequest):
        entry.update(uuid=entry_uuid(record.request_key), role="assistant", model=record.model,
                     input_tokens=record.input_tokens, output_tokens=record.output_tokens,
                     cache_read_tokens=record.cache_read_tokens,
                     cache_write_tokens=record.cache_write_tokens,
                     reasoning_tokens=record.reasoning_tokens)
    elif isinstance(record, Prompt):
        entry.update(uuid=entry_uuid(record.key), role="user", text=record.text)
    elif isinstance(record, ToolResult):
        entry.update(uuid=entry_uuid(record.key), role="tool_result", tool_name=record.tool_name,
                     is_error=record.success is False,
                     text=record.output if record.output is not None else record.error)
    elif isinstance(record, ApiError):
        text = record.error
        if record.status_code is not None:
            text = f"HTTP {record.status_code}" + (f": {text}" if text else "")
        entry.update(uuid=entry_uuid(record.request_key), role="system", model=record.model,
                     is_error=True, text=text)
    else:
        raise TypeError(f"not a telemetry record: {type(record).__name__}")
    return entry


def to_batches(records: Iterable[Record], received_at: datetime,
               mask: Callable[[str], str] | None = None) -> Sessions:
    """Group records by (tool, session) into batches validated as ``/v1/traces`` ones.

    ``mask`` replaces the secrets in an entry's text: telemetry reaches the collector
    straight from the tool, so the exporter's masking never saw it. A record without a
    session id, or one whose entry fails validation, is rejected; a session id the
    batch schema refuses rejects its records.
    """
    grouped: dict[tuple[str, str], list[Record]] = {}
    out = Sessions([])
    for record in records:
        if not record.session_id:
            out.reject(1, f"{_kind(record)} events without a session id")
            continue
        grouped.setdefault((record.source, record.session_id), []).append(record)
    for (source, session_id), records_of in grouped.items():
        for start in range(0, len(records_of), MAX_ENTRIES):
            _add_batch(out, source, session_id, records_of[start:start + MAX_ENTRIES],
                       received_at, mask)
    return out


def _add_batch(out: Sessions, source: str, session_id: str, group: list[Record],
               received_at: datetime, mask: Callable[[str], str] | None) -> None:
    """Validate one session's records as a batch and add it to ``out``."""
    person = next((r.user for r in group if r.user), None)
    raw = [to_entry(record) for record in group]
    if mask is not None:
        for entry in raw:
            if entry.get("text"):
                entry["text"] = mask(entry["text"])
    try:
        envelope = ingest_schema.load({"source": source, "session_id": session_id,
                                       "entries": raw, "user": person})
    except ValidationError as exc:  # the envelope's own fields
        messages = exc.messages if isinstance(exc.messages, dict) else {}
        if set(messages) == {"user"}:  # a person we cannot keep: the events still count
            envelope = ingest_schema.load({"source": source, "session_id": session_id,
                                           "entries": raw})
        else:
            out.reject(len(group), f"session id {session_id[:80]!r} cannot be stored "
                       f"({', '.join(sorted(messages)) or 'invalid'})")
            return
    rows, errors = load_entries(envelope["entries"])
    if errors:
        fields = sorted({name for error in errors.values() for name in error})
        out.reject(len(errors), f"{len(errors)} events of session {session_id[:80]!r} "
                   f"have fields that cannot be stored ({', '.join(fields)})")
    if not rows:
        return
    out.batches.append(IngestRequest(
        source=envelope["source"], session_id=envelope["session_id"], project_path=None,
        instance_id=None, machine_id=None, metadata=None, received_at=received_at,
        entries=rows,
        prepared=longtext.prepare([row[_TEXT] for row in rows],
                                  [row[_TOOL_NAME] for row in rows]),
        person=envelope.get("user"), origin=TELEMETRY))


def _kind(record: Record) -> str:
    return {ApiRequest: "API request", Prompt: "prompt", ToolResult: "tool result",
            ApiError: "API error"}.get(type(record), "telemetry")


def _rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.isoformat() + "Z"
    return moment.isoformat()
