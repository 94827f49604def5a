"""The entry: one meaningful record of a session, in the collector's wire shape."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from typing import Any

ROLES = ("user", "assistant", "tool_use", "tool_result", "system")

# Fields of the wire entry that are sent only when set (the collector defaults them).
_OPTIONAL = (
    "model", "text", "tool_name", "is_error", "has_thinking", "has_tool_use",
    "input_tokens", "output_tokens", "thinking_len", "cache_read_tokens",
    "cache_write_tokens", "reasoning_tokens", "message_id", "agent_id", "parent_uuid",
    "git_branch", "cwd", "text_truncated", "text_bytes",
)


@dataclasses.dataclass(slots=True)
class Entry:
    """One entry; ``session_id`` and ``project_path`` travel at the payload level."""

    session_id: str
    uuid: str
    role: str
    timestamp: str | None  # RFC 3339 UTC ("...Z"), None when the record has no time
    project_path: str | None = None
    model: str | None = None
    text: str | None = None
    tool_name: str | None = None
    is_error: bool = False
    has_thinking: bool = False
    has_tool_use: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_len: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    message_id: str | None = None
    agent_id: str | None = None
    parent_uuid: str | None = None
    git_branch: str | None = None
    cwd: str | None = None
    #: The exporter cut ``text`` (too long for its kind, or for one request); ``text_bytes``
    #: is then the original text's size in UTF-8 bytes.
    text_truncated: bool = False
    text_bytes: int = 0

    def to_wire(self) -> dict[str, Any]:
        """Return the entry as the collector's JSON object, unset fields left out."""
        wire: dict[str, Any] = {"uuid": self.uuid, "role": self.role}
        if self.timestamp:
            wire["timestamp"] = self.timestamp
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value:
                wire[name] = value
        return wire

    def set_clipped_text(self, text: str | None, limit: int) -> None:
        """Set ``text`` cut to ``limit`` UTF-8 bytes (see :func:`clip`), saying so when cut."""
        if text is None:
            self.text = None
            return
        clipped = clip(text, limit)
        self.text = clipped
        if clipped is not text:
            self.text_truncated = True
            self.text_bytes = utf8_len(text)

    @property
    def has_usage(self) -> bool:
        """True when the entry carries any token count."""
        return bool(self.input_tokens or self.output_tokens or self.cache_read_tokens
                    or self.cache_write_tokens or self.reasoning_tokens)


def iso_utc(value: Any) -> str | None:
    """Normalise a timestamp (ISO 8601 string, epoch seconds or milliseconds) to RFC 3339 UTC.

    Returns None for anything that is not a recognisable time, so a bad timestamp
    never costs the record itself.
    """
    if (type(value) is str and len(value) >= 20 and value[-1] == "Z" and value[10] == "T"
            and value[19] in ".Z"):
        return value  # already RFC 3339 UTC, as nearly every record has it: keep it cheap
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            seconds = value / 1000.0 if value > 1e11 else float(value)  # ms vs s since 1973
            moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
        elif isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if text.endswith("Z") and len(text) >= 20 and text[10] == "T" and text[19] in ".Z":
                return text  # already RFC 3339 UTC: the common case, keep it cheap
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: A tool call's input is shipped as compact JSON cut to this many UTF-8 bytes: enough to
#: see what was called and with what, while a whole file pasted into an edit call does
#: not travel in every batch (user and assistant text is never cut).
TOOL_INPUT_LIMIT = 4 * 1024
#: A tool's output (file reads, command output) is cut to this many UTF-8 bytes, so one
#: entry stays far below the collector's 10 MiB request limit.
TOOL_OUTPUT_LIMIT = 64 * 1024
#: How a text the exporter cut ends (the entry also says so: ``text_truncated``).
CUT_MARK = "\u2026[truncated]"
_CUT_MARK_BYTES = len(CUT_MARK.encode("utf-8"))


def utf8_len(text: str) -> int:
    """Return the UTF-8 size of ``text`` in bytes (lone surrogates from JSON escapes count 3)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def clip(text: str, limit: int) -> str:
    """Return ``text`` cut to at most ``limit`` UTF-8 bytes on a character boundary, marked."""
    if len(text) * 4 <= limit:
        return text  # cannot exceed the limit whatever the characters: skip encoding
    if len(text) > limit:  # too long in any encoding: encode only the part that is kept
        head = text[:limit]
        if head.isascii():  # one byte per character: cut the string itself
            return head[: max(limit - _CUT_MARK_BYTES, 0)] + CUT_MARK
        raw = head.encode("utf-8", "surrogatepass")
    else:
        raw = text.encode("utf-8", "surrogatepass")
        if len(raw) <= limit:
            return text
    keep = max(limit - _CUT_MARK_BYTES, 0)
    return raw[:keep].decode("utf-8", "ignore") + CUT_MARK


#: One encoder for every tool input: json.dumps with options builds a new one per call.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def tool_input_text(value: Any, limit: int = TOOL_INPUT_LIMIT) -> str | None:
    """Render a tool call's input as compact JSON (strings as they are), cut to ``limit``."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = _COMPACT.encode(_shortened(value, limit))
    return clip(value, limit)


def _shortened(value: Any, limit: int) -> Any:
    """Return ``value`` with strings longer than ``limit`` cut to ``limit + 1`` characters.

    The JSON of a cut string is still longer than ``limit`` bytes, so the clipped
    rendering is the same; a file pasted into an edit call is not serialised whole.
    """
    if isinstance(value, str):
        return value[: limit + 1] if len(value) > limit else value
    if isinstance(value, dict):
        return {k: _shortened(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_shortened(v, limit) for v in value]
    return value
