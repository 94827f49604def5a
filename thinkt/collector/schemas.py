"""Validation of what clients send: the ingest envelope, its entries, agent registrations.

Envelopes that are wrong are refused whole (400 ``validation_error``); entries are
checked one by one so that a batch with a few bad entries stores the rest (partial
success, CONTRACT.md §1). Unknown keys are ignored everywhere: the Go relay and newer
exporters send more than we know.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

MAX_ENTRIES = 10_000
#: The largest value of any count of an entry (``ENTRY_COUNTS``). Tokens: one API response
#: carries at most its context window, about 10**6 tokens today (2 * 10**6 for the
#: largest), so 10**12 leaves a millionfold margin, enough even for an exporter that
#: reports a session's running total. Bytes (``thinking_len``, ``text_bytes``): the UTF-8
#: size of one record of a session file, which the exporter holds in memory whole; 10**12
#: (a terabyte) is more than any machine that runs an assistant has. A bound this size
#: keeps every count exact in JSON (below 2**53) and lets 9 million maximal entries add
#: up in a 64-bit column; the store's sums do not depend on it (see store.py).
MAX_COUNT = 10**12
ROLES = ("user", "assistant", "tool_use", "tool_result", "system")
_ROLE_ALIASES = {"tool": "tool_result"}

#: Column order of an entry tuple handed to the writer; the store and the OpenAPI
#: document take their entry fields from here. New fields go at the end.
ENTRY_FIELDS = (
    "uuid", "role", "timestamp", "model", "text", "tool_name", "is_error", "has_thinking",
    "has_tool_use", "input_tokens", "output_tokens", "thinking_len", "cache_read_tokens",
    "cache_write_tokens", "reasoning_tokens", "message_id", "agent_id", "parent_uuid",
    "git_branch", "cwd", "text_truncated", "text_bytes",
)
#: Entry fields that are free texts (:class:`Text`), None when absent, null or empty.
ENTRY_TEXTS = ("model", "text", "tool_name", "git_branch", "cwd")
#: Entry fields that are identities (:class:`Id`) besides the required uuid; None when
#: absent, null or empty.
ENTRY_IDS = ("message_id", "agent_id", "parent_uuid")
#: Entry fields that are booleans, false when absent or null.
ENTRY_FLAGS = ("is_error", "has_thinking", "has_tool_use", "text_truncated")
#: Entry fields that are counts (0 to MAX_COUNT), 0 when absent or null. ``text_bytes`` is
#: the UTF-8 size of a text the exporter cut (``text_truncated``) before it was cut.
ENTRY_COUNTS = ("input_tokens", "output_tokens", "thinking_len", "cache_read_tokens",
                "cache_write_tokens", "reasoning_tokens", "text_bytes")
_DEFAULTS = {**dict.fromkeys(ENTRY_FLAGS, False), **dict.fromkeys(ENTRY_COUNTS, 0)}
# Go's zero time.Time: the relay's way of saying "no timestamp".
_ZERO_TIME = re.compile(r"^0001-01-01T00:00:00(\.0+)?(Z|[+-]00:00)$")
_FRACTION = re.compile(r"(\.\d{6})\d+")


class Timestamp(fields.Field):
    """An RFC 3339 time with any offset, stored as naive UTC; unknown (null, Go's zero time) is None."""

    default_error_messages = {"invalid": "Not an RFC 3339 timestamp."}

    def _deserialize(self, value: Any, attr, data, **kwargs) -> datetime | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value) > 64:
            raise self.make_error("invalid")
        try:
            return _utc_time(value)
        except _NoOffset:
            raise ValidationError("Timestamp needs a UTC offset (Z or +hh:mm).") from None
        except ValueError:
            raise self.make_error("invalid") from None


class _NoOffset(ValueError):
    """A time without a UTC offset."""


def _utc_time(text: str) -> datetime | None:
    """The naive UTC time of an RFC 3339 ``text``; None for Go's zero time.

    :raises _NoOffset: ``text`` is a time without an offset.
    :raises ValueError: ``text`` is no time, or none of the years 1 to 9999 in UTC.
    """
    if text.startswith("0001-01-01T00:00:00") and _ZERO_TIME.match(text):
        return None
    dot = text.find(".")
    if dot >= 0 and len(text) - dot > 7:  # Go writes nanoseconds; Python keeps microseconds.
        text = _FRACTION.sub(r"\1", text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise _NoOffset(text)
    try:
        moment = moment.astimezone(timezone.utc)
    except OverflowError:  # year 1 east of UTC, or year 9999 west of it
        raise ValueError(text) from None
    # The naive time; replace(tzinfo=None) costs five times more.
    return datetime.combine(moment.date(), moment.time())


class Role(fields.String):
    """A role, case-insensitive; ``tool`` means ``tool_result``."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        role = super()._deserialize(value, attr, data, **kwargs).strip().lower()
        role = _ROLE_ALIASES.get(role, role)
        if role not in ROLES:
            raise ValidationError(f"Must be one of: {', '.join(ROLES)}.")
        return role


#: A code point with no UTF-8 form: half of a UTF-16 surrogate pair, alone. JSON may carry
#: one (``"\\ud800"``), and tools written in JavaScript produce them when they cut a text
#: between the two halves of an emoji.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_utf8_form(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Text(fields.String):
    """A free text, stored as sent but for lone surrogates, which become U+FFFD.

    A lone surrogate has no UTF-8 form, so storing it would fail the whole group
    commit; U+FFFD (what Go's encoding/json decodes it to) marks where a character was
    lost. NUL characters are kept: DuckDB's VARCHAR stores them.
    """

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        return _storable_text(super()._deserialize(value, attr, data, **kwargs))


def _storable_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (see :class:`Text`)."""
    if text.isascii() or _has_utf8_form(text):
        return text
    return _LONE_SURROGATE.sub("\ufffd", text)


def _storable_id(text: str) -> bool:
    """Whether an id can be stored exactly as sent (see :class:`Id`)."""
    return "\x00" not in text and (text.isascii() or _has_utf8_form(text))


class Id(fields.String):
    """An identity (a uuid, a session or message id): stored exactly as sent, or refused.

    Cleaning an id would make two different ids one (``"x\\ud800"`` and ``"x\\udc00"``)
    and lose an entry as a "duplicate", so what cannot be stored as sent is a
    validation error naming the field: a lone surrogate (no UTF-8 form), or a NUL
    character, which ends a string in C, URLs and file names that ids travel into.
    """

    default_error_messages = {
        "nul": "Contains a NUL character (\\u0000) at position {position}; an id is "
               "stored exactly as sent, so it cannot hold one.",
        "surrogate": "Contains a lone surrogate ({code}) at position {position}, which has "
                     "no UTF-8 form; an id is stored exactly as sent, so it cannot hold one.",
    }

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if _storable_id(text):
            return text
        if "\x00" in text:
            raise self.make_error("nul", position=text.index("\x00"))
        found = _LONE_SURROGATE.search(text)
        raise self.make_error("surrogate", code=f"\\u{ord(found.group()):04x}",
                              position=found.start())


class RawList(fields.List):
    """A list whose items are taken as sent, nulls included, for a later, item by item
    check (load_entries): a null entry is that entry's error, not the whole batch's.

    ``List(Raw())`` would visit every item (about 5 µs an entry) to take it as it is;
    a list is returned at once, and ``List`` itself says what is wrong with anything else.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(fields.Raw(allow_none=True), **kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> list:
        if type(value) is list:
            return value
        return super()._deserialize(value, attr, data, **kwargs)


#: Longest ``user`` (who a session belongs to) an exporter may send, as sent (untrimmed).
MAX_PERSON = 512


class Person(Text):
    """Who the sender runs for (the wire's ``user``): trimmed, and None when empty.

    The length is checked as sent, so the limit is the one the OpenAPI document states.
    """

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > MAX_PERSON:
            raise ValidationError(f"Longer than maximum length {MAX_PERSON}.")
        return text.strip() or None


def _count(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(0, MAX_COUNT), **kwargs)


def _required_id() -> Id:
    return Id(required=True, validate=validate.Length(min=1, max=512))


class EntrySchema(Schema):
    """One entry; loads into a tuple in :data:`ENTRY_FIELDS` order."""

    class Meta:
        unknown = EXCLUDE

    uuid = _required_id()
    role = Role(required=True)
    timestamp = Timestamp(allow_none=True)
    model = Text(allow_none=True)
    text = Text(allow_none=True)
    tool_name = Text(allow_none=True)
    is_error = fields.Boolean(allow_none=True)
    has_thinking = fields.Boolean(allow_none=True)
    has_tool_use = fields.Boolean(allow_none=True)
    input_tokens = _count(allow_none=True)
    output_tokens = _count(allow_none=True)
    thinking_len = _count(allow_none=True)
    cache_read_tokens = _count(allow_none=True)
    cache_write_tokens = _count(allow_none=True)
    reasoning_tokens = _count(allow_none=True)
    message_id = Id(allow_none=True)
    agent_id = Id(allow_none=True)
    parent_uuid = Id(allow_none=True)
    git_branch = Text(allow_none=True)
    cwd = Text(allow_none=True)
    text_truncated = fields.Boolean(allow_none=True)
    text_bytes = _count(allow_none=True)

    @post_load
    def _to_row(self, data: dict, **kwargs) -> tuple:
        row = []
        for name in ENTRY_FIELDS:
            value = data.get(name)
            if value is None:
                value = _DEFAULTS.get(name)
            elif value == "" and name not in ("uuid", "text"):
                value = None  # an empty model or branch is no model or branch
            row.append(value)
        return tuple(row)


class IngestSchema(Schema):
    """The ingest envelope; entries are left raw here and checked one by one."""

    class Meta:
        unknown = EXCLUDE

    source = Id(required=True, validate=validate.Length(min=1, max=64))
    session_id = _required_id()
    entries = RawList(required=True, validate=validate.Length(min=1, max=MAX_ENTRIES))
    instance_id = Id(allow_none=True, validate=validate.Length(max=512))
    project_path = Text(allow_none=True)
    machine_id = Id(allow_none=True, validate=validate.Length(max=512))
    metadata = fields.Dict(allow_none=True)
    user = Person(allow_none=True)

    @pre_load
    def _normalise(self, data: Any, **kwargs) -> Any:
        if isinstance(data, dict) and isinstance(data.get("source"), str):
            data = dict(data, source=data["source"].strip().lower())
        return data


class AgentSchema(Schema):
    """An agent registration (``POST /v1/agents/register``)."""

    class Meta:
        unknown = EXCLUDE

    instance_id = _required_id()
    platform = Text(required=True, validate=validate.Length(min=1, max=128))
    hostname = Text(allow_none=True, validate=validate.Length(max=512))
    version = Text(allow_none=True, validate=validate.Length(max=128))
    started_at = Timestamp(allow_none=True)
    machine_id = Id(allow_none=True, validate=validate.Length(max=512))
    project = Text(allow_none=True)
    region = Text(allow_none=True, validate=validate.Length(max=128))
    metadata = fields.Dict(allow_none=True)
    user = Person(allow_none=True)


ingest_schema = IngestSchema()
entry_schema = EntrySchema()
agent_schema = AgentSchema()


# -- the common entry, without marshmallow ---------------------------------------------
# Kinds of entry field, for :func:`_common_row`.
_UUID, _ROLE, _TIME, _TEXT, _BODY, _ID, _FLAG, _COUNT = range(8)
_KINDS = {**dict.fromkeys(ENTRY_TEXTS, _TEXT), **dict.fromkeys(ENTRY_IDS, _ID),
          **dict.fromkeys(ENTRY_FLAGS, _FLAG), **dict.fromkeys(ENTRY_COUNTS, _COUNT),
          "uuid": _UUID, "role": _ROLE, "timestamp": _TIME, "text": _BODY}
#: Entry field name -> (index in the row, kind).
_SLOTS = {name: (index, _KINDS[name]) for index, name in enumerate(ENTRY_FIELDS)}
_EMPTY_ROW = [_DEFAULTS.get(name) for name in ENTRY_FIELDS]
#: Roles as spelled by every exporter, and their meaning; other spellings are Role's to judge.
_PLAIN_ROLES = {**{role: role for role in ROLES}, **_ROLE_ALIASES}


def _common_row(raw: dict) -> tuple | None:
    """The row of a plainly well-formed entry, or None when :class:`EntrySchema` must judge.

    Nearly every entry an exporter sends has values of the plain JSON type of each field,
    ids that can be stored, counts in range, a role spelled as listed and a valid time;
    for those, this builds the same row as ``entry_schema.load`` (with the same helpers:
    :func:`_utc_time`, :func:`_storable_text`, :func:`_storable_id`) at a tenth of its
    cost. Whatever it is not sure about (a wrong type, a bool for a count, an odd role
    spelling or time, a null uuid, ...) it leaves to the schema, which stays the authority
    on every result and every error message (``tests/collector/test_schemas_fast.py``
    holds them equal).
    """
    row = _EMPTY_ROW.copy()
    for key, value in raw.items():
        slot = _SLOTS.get(key)
        if slot is None:
            continue  # an unknown key, ignored as EntrySchema ignores it
        index, kind = slot
        if value is None:
            continue  # the default stays (or no uuid or role: see below)
        if kind == _TEXT or kind == _BODY:
            if type(value) is not str:
                return None
            if not value.isascii():
                value = _storable_text(value)
            if value or kind == _BODY:  # an empty model or branch is no model or branch
                row[index] = value
        elif kind == _ID or kind == _UUID:
            if type(value) is not str or not _storable_id(value):
                return None
            if kind == _UUID:
                if not 0 < len(value) <= 512:
                    return None
                row[index] = value
            elif value:
                row[index] = value
        elif kind == _TIME:
            if type(value) is not str or len(value) > 64:
                return None
            if value:
                try:
                    row[index] = _utc_time(value)
                except ValueError:  # Timestamp says which way it is wrong
                    return None
        elif kind == _COUNT:
            if type(value) is not int or not 0 <= value <= MAX_COUNT:
                return None
            row[index] = value
        elif kind == _FLAG:
            if value is not True and value is not False:
                return None
            row[index] = value
        else:  # _ROLE
            role = _PLAIN_ROLES.get(value) if type(value) is str else None
            if role is None:
                return None
            row[index] = role
    if row[0] is None or row[1] is None:
        return None  # no uuid or role, or a null one: the schema says which
    return tuple(row)


def load_entries(raw_entries: list) -> tuple[list[tuple], dict[str, Any]]:
    """Validate entries one by one; return the valid rows and errors keyed by index.

    The common entry is recognised and turned into its row directly; every other one
    goes through :data:`entry_schema`, which gives the same row or its errors.
    """
    rows: list[tuple] = []
    errors: dict[str, Any] = {}
    for index, raw in enumerate(raw_entries):
        row = _common_row(raw) if type(raw) is dict else None
        if row is None:
            row = load_entry(raw)
            if type(row) is not tuple:
                errors[str(index)] = row
                continue
        rows.append(row)
    return rows, errors


def load_entry(raw: Any) -> tuple | dict[str, Any]:
    """The row of one entry by :data:`entry_schema`, or its errors (a dict by field)."""
    if not isinstance(raw, dict):
        return {"_schema": ["Entry must be a JSON object."]}
    try:
        return entry_schema.load(raw)
    except ValidationError as err:
        return err.messages
