"""Gemini CLI sessions (``~/.gemini/tmp/<project>/chats/session-*.json[l]``) as entries.

Two containers exist. A ``.json`` session is one object (``sessionId``, ``messages[]``)
rewritten in place, so it is read whole every time and each entry is shipped once per
version (:mod:`rewritten`). A ``.jsonl`` session is appended: a header line, message
lines and ``{"$set": ...}`` bookkeeping lines, and a message is re-appended under the same
``id`` whenever it grows (thoughts, tool calls, results added). Within one read the last
copy of a message wins; across reads the state remembers the fingerprints of the entries
of the most recent messages, so a re-appended message ships only what is new or changed
(typically its tool calls and results, which have their own uuids). Holding the last
message back until a later line proves it complete was rejected: a finished session
never gets that later line.

Each message gives entries: ``user``; ``gemini`` -> one ``assistant`` entry (text,
thought summaries counted in ``thinking_len``, the message's tokens, ``message_id`` =
message id), plus ``tool_use`` and ``tool_result`` entries per tool call (uuids
``<message id>:<call id>`` and ``...:result``); ``info``/``error``/``warning`` ->
``system``. Tokens: ``cached`` is part of ``input`` and ``total = input + output +
thoughts + tool`` in every sample, so ``input_tokens = input - cached + tool``,
``cache_read_tokens = cached``, ``output_tokens = output + thoughts`` (output includes
reasoning) and ``reasoning_tokens = thoughts``.

Project path: not in the session; newer Gemini CLI versions write the absolute project
root to ``.project_root`` beside ``chats/``, which is used when present.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, Mapping

from thinkt.exporter.entry import Entry, iso_utc, utf8_len
from thinkt.exporter.sources import ReadResult, env_dir, fields, find
from thinkt.exporter.sources.jsonl import read_records
from thinkt.exporter.sources.rewritten import Shipped, stream_document
from thinkt.exporter.sources.tooltext import input_text, set_tool_input, set_tool_output

log = logging.getLogger(__name__)

#: How many recent messages of a JSONL session keep their fingerprints in the state
#: (Gemini CLI re-appends the message it is building, i.e. the latest ones).
RECENT_MESSAGES = 16
#: Tool call statuses after which the call has its final result.
_DONE = {"success": False, "error": True, "cancelled": True}
_SYSTEM_TYPES = ("info", "error", "warning")


class GeminiSource:
    """Gemini CLI chat sessions."""

    name = "gemini"
    #: The single-object ``.json`` sessions are rewritten in place; ``.jsonl`` ones are
    #: appended: :meth:`is_whole_file` answers per file.
    whole_file = True

    def roots(self, home: Path, env: Mapping[str, str]) -> list[Path]:
        """Return ``~/.gemini/tmp``, the home being ``$GEMINI_CLI_HOME`` when set.

        Gemini CLI's ``homedir()`` answers ``GEMINI_CLI_HOME`` before the user's home
        (profiles, CI), and keeps everything under ``<that>/.gemini``.
        """
        return [env_dir(env, "GEMINI_CLI_HOME", home) / ".gemini" / "tmp"]

    def matches(self, path: Path) -> bool:
        """Return True for ``.../chats/session-*.json`` and ``.jsonl``."""
        return (path.parent.name == "chats" and path.name.startswith("session-")
                and path.suffix in (".json", ".jsonl"))

    def discover(self, root: Path) -> Iterator[Path]:
        """Yield every chat session file under ``root``."""
        return find(root, "session-*.json*", self.matches)

    def is_whole_file(self, path: Path) -> bool:
        """Return True for the rewritten single-object ``.json`` sessions."""
        return Path(path).suffix == ".json"

    def read(self, path: Path, offset: int, state: dict | None, final: bool = False,
             ) -> ReadResult:
        """Read new messages of a session file (OSError propagates if it vanished)."""
        path = Path(path)
        if not self.is_whole_file(path):
            return read_records(path, offset, state, _AppendedReader, final)
        return self.stream(path, offset, state).drain()

    def stream(self, path: Path, offset: int, state: dict | None) -> ReadResult:
        """Read a rewritten ``.json`` session message by message (entries in batches)."""
        path = Path(path)
        state = dict(state or {})
        if not state.get("project"):
            state["project"] = _project_root(path)
        shipped = Shipped(state.get("shipped"))

        def session(header: dict) -> str:
            return fields.text(header.get("sessionId")) or state.get("session") or path.stem

        def entries_of(message: Any, index: int, header: dict) -> list[Entry] | None:
            if not isinstance(message, dict):
                return None
            entries = message_entries(message, index, session(header), state["project"])
            return None if entries is None else shipped.select(entries[0].uuid, entries)

        def finish(header: dict) -> None:
            state["session"] = session(header)
            state["shipped"] = shipped.to_state()

        return stream_document(path, offset, state, items="messages", header=("sessionId",),
                               entries_of=entries_of, finish=finish)


class _AppendedReader:
    """The lines of one read of a JSONL session (see ``jsonl.read_records``).

    A message's entries are built as soon as a line brings a copy of it, and the parsed
    line is dropped: holding every parsed line of a slice until the end of the read (to
    build only the last copies) cost more than building the entries of the earlier,
    smaller copies that a later line replaces.
    """

    def __init__(self, path: Path, state: dict, result: ReadResult) -> None:
        self.path = path
        self.state = state
        self.result = result
        if not state.get("project"):
            state["project"] = _project_root(path)
        #: message id -> ``(position, session, entries)`` of its last copy in this read, at
        #: the position of its first copy; entries None for an unknown message type
        self.latest: dict[str, tuple[int, str, list[Entry] | None]] = {}

    def record(self, record: dict, line_offset: int) -> None:
        """Build a message's latest copy; note the header; count bookkeeping lines."""
        if "type" in record:
            key = record.get("id")
            self._keep(key if isinstance(key, str) and key else f"@{line_offset}", record)
        elif "$set" in record or "$rewindTo" in record:
            update = record.get("$set")
            messages = update.get("messages") if isinstance(update, dict) else None
            for message in messages if isinstance(messages, list) else ():
                if isinstance(message, dict) and isinstance(message.get("id"), str):
                    self._keep(message["id"], message)
            self.result.skip("bookkeeping")
        elif "sessionId" in record:  # the header line
            self.state["session"] = fields.text(record.get("sessionId"))
            self.result.skip("bookkeeping")
        else:
            self.result.skip("unknown_type")

    def _keep(self, key: str, message: dict) -> None:
        """Build the entries of ``message``, replacing those of an earlier copy."""
        kept = self.latest.get(key)
        index = len(self.latest) if kept is None else kept[0]
        session = self.state.get("session") or self.path.stem
        self.latest[key] = (index, session, message_entries(
            message, index, session, self.state["project"]))

    def save(self) -> None:
        """Ship the messages of this read, once per version."""
        session = self.state["session"] = self.state.get("session") or self.path.stem
        shipped = Shipped(self.state.get("shipped"), keep=RECENT_MESSAGES)
        first_kept = len(self.latest) - RECENT_MESSAGES
        for index, built_for, entries in self.latest.values():
            if entries is None:
                self.result.skip("unknown_type")
                continue
            if built_for != session:  # built before a header line named the session
                for entry in entries:
                    entry.session_id = session
            self.result.entries.extend(
                shipped.select(entries[0].uuid, entries, index >= first_kept))
        self.state["shipped"] = shipped.to_state()


def message_entries(message: dict, index: int, session: str,
                    project: str | None) -> list[Entry] | None:
    """Return the entries of one Gemini message, or None for an unknown message type."""
    kind = fields.text(message.get("type"))
    mid = fields.text(message.get("id")) or f"{kind}@{message.get('timestamp') or index}"
    ts = iso_utc(message.get("timestamp"))
    if kind == "user":
        return [Entry(session, mid, "user", ts, project, text=content_text(message.get("content")))]
    if kind in _SYSTEM_TYPES:
        return [Entry(session, mid, "system", ts, project,
                      text=content_text(message.get("content")))]
    if kind != "gemini":
        return None
    model = fields.text(message.get("model"))
    thoughts = message.get("thoughts")
    assistant = Entry(session, mid, "assistant", ts, project, model=model,
                      text=content_text(message.get("content")), message_id=mid)
    if thoughts:
        assistant.has_thinking = True
        assistant.thinking_len = _thought_len(thoughts)
    tokens = message.get("tokens")
    if isinstance(tokens, dict):
        _set_tokens(assistant, tokens)
    entries = [assistant]
    calls = message.get("toolCalls")
    for number, call in enumerate(calls if isinstance(calls, list) else ()):
        if isinstance(call, dict):
            entries.extend(_call_entries(call, number, assistant))
    return entries


def _call_entries(call: dict, number: int, assistant: Entry) -> list[Entry]:
    call_uuid = f"{assistant.uuid}:{fields.text(call.get('id')) or number}"
    ts = iso_utc(call.get("timestamp")) or assistant.timestamp
    name = fields.text(call.get("name"))
    use = Entry(assistant.session_id, call_uuid, "tool_use", ts, assistant.project_path,
                model=assistant.model, tool_name=name, has_tool_use=True,
                message_id=assistant.message_id, parent_uuid=assistant.uuid)
    set_tool_input(use, call.get("args"))
    status = fields.text(call.get("status"))
    if status not in _DONE and not (status is None and call.get("result")):
        return [use]  # still running or awaiting approval: its result comes with a rewrite
    output, whole = _result_text(call)
    done = Entry(assistant.session_id, call_uuid + ":result", "tool_result", ts,
                 assistant.project_path, tool_name=name, is_error=_DONE.get(status, False),
                 parent_uuid=call_uuid)
    set_tool_output(done, output or None, whole)
    return [use, done]


def _result_text(call: dict) -> tuple[str | None, str | None]:
    """Return a call's output text and, when a response body in it was cut, the whole text."""
    texts = []
    wholes: dict[int, str] = {}  # position in texts -> the whole rendering of a cut body
    results = call.get("result")
    for item in results if isinstance(results, list) else ():
        response = item.get("functionResponse") if isinstance(item, dict) else None
        body = response.get("response") if isinstance(response, dict) else None
        if isinstance(body, dict):
            value = body.get("output", body.get("error"))
            if not isinstance(value, str):
                value, whole = input_text(body)
                if whole is not None:
                    wholes[len(texts)] = whole
            texts.append(value or "")
    if texts:
        whole = "\n".join(wholes.get(i, t) for i, t in enumerate(texts)) if wholes else None
        return "\n".join(texts), whole
    display = call.get("resultDisplay")
    return (display if isinstance(display, str) and display else None), None


def _set_tokens(entry: Entry, tokens: dict) -> None:
    prompt = fields.count(tokens.get("input"))
    cached = min(fields.count(tokens.get("cached")), prompt)
    thoughts = fields.count(tokens.get("thoughts"))
    entry.input_tokens = prompt - cached + fields.count(tokens.get("tool"))
    entry.cache_read_tokens = cached
    entry.output_tokens = fields.count(tokens.get("output")) + thoughts
    entry.reasoning_tokens = thoughts


def content_text(content: Any) -> str | None:
    """Return the visible text of a Gemini ``content``.

    Gemini CLI records a ``PartListUnion`` as it was given: a string, one part object,
    or a list whose items are part objects or plain strings. Thought parts are left out.
    """
    if isinstance(content, str):
        return content or None
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and not part.get("thought"):
                part = part.get("text")
            if isinstance(part, str):
                texts.append(part)
        return "\n".join(texts) or None
    return None


def _thought_len(thoughts: Any) -> int:
    """Return the UTF-8 size of the thought summaries (subjects and descriptions)."""
    if isinstance(thoughts, str):
        return utf8_len(thoughts)
    parts = []
    for thought in thoughts if isinstance(thoughts, list) else ():
        if isinstance(thought, dict):
            for key in ("subject", "description"):
                value = thought.get(key)
                if isinstance(value, str):
                    parts.append(value)
    return utf8_len("".join(parts))  # one size check for all of them


def _project_root(path: Path) -> str | None:
    """Return the project root Gemini CLI noted beside ``chats/``, if it did."""
    marker = path.parent.parent / ".project_root"
    try:
        text = marker.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return text or None




SOURCE = GeminiSource()
