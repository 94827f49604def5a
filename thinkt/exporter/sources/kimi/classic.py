"""Classic kimi-cli sessions (``~/.kimi/sessions/<md5(work dir)>/<session uuid>/``) as entries.

No real file of this format was found; the shapes come from kimi-cli's source
(``wire/file.py``, ``wire/types.py``, ``kosong/message.py``, ``metadata.py``) and are
tested with synthetic fixtures. ``$KIMI_SHARE_DIR`` replaces ``~/.kimi``.

``wire.jsonl`` (appended) starts with ``{"type": "metadata", "protocol_version"}``, then
``{"timestamp": <unix seconds>, "message": {"type", "payload"}}``: ``TurnBegin`` /
``SteerInput`` -> ``user``; ``StepBegin`` opens a step whose ``ContentPart`` events
(``text``/``think``), ``ToolCall`` (+ streamed ``ToolCallPart`` arguments) and
``StatusUpdate.token_usage`` (``input_other``, ``output``, ``input_cache_read``,
``input_cache_creation``; ``message_id``) become one ``assistant`` entry plus its
``tool_use`` entries when the step ends (next step, ``TurnEnd``, ``StepInterrupted``);
``ToolResult`` -> ``tool_result`` (``return_value.is_error``). No id is written, so
uuids are ``<agent>@<byte offset>`` of the record that starts each thing (``TurnBegin``,
``StepBegin``), and tool call ids for tools. ``SubagentEvent`` records (a subagent's
events relayed to its parent) are bookkeeping: they are not split out as a subagent's
own entries. Subagents' own journals are assumed at ``<session>/subagents/<agent>/``.

Early kimi-cli versions kept the context file flat, as ``sessions/<md5>/<session>.jsonl``
(later versions move it to ``<session>/context.jsonl`` when they open the session): such
a file is read like a ``context.jsonl``, and its content-chained uuids stay the same
after the move.

``context.jsonl`` (the model context: ``{role, content, tool_calls, tool_call_id}`` and
``_system_prompt``/``_checkpoint``/``_usage`` markers, no times, no per-response usage)
is read only for sessions that have no ``wire.jsonl``. kimi-cli rotates it on
compaction, so byte offsets are not stable ids: each record's uuid chains a hash of the
previous uuid and the line.

The project path is looked up in ``<share dir>/kimi.json`` (``work_dirs[].path`` whose
MD5 names the session's directory).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from thinkt.exporter.sources import ReadResult, fields
from thinkt.exporter.sources.jsonl import read_records
from thinkt.exporter.sources.kimi.steps import Steps, parts_text, set_usage
from thinkt.exporter.sources.tooltext import set_tool_output

log = logging.getLogger(__name__)

#: A work directory's sessions directory is named by the MD5 of its path.
_MD5 = re.compile(r"[0-9a-f]{32}")

_BOOKKEEPING = frozenset((
    "CompactionBegin", "CompactionEnd", "MCPLoadingBegin", "MCPLoadingEnd", "HookTriggered",
    "HookResolved", "Notification", "PlanDisplay", "ApprovalRequest", "ApprovalResponse",
    "ApprovalRequestResolved", "QuestionRequest", "QuestionResponse", "ToolCallRequest",
    "SubagentEvent",
))


def is_wire(path: Path) -> bool:
    """Return True for a classic ``wire.jsonl``: ``sessions/<md5>/<session>/wire.jsonl`` or a
    subagent's ``<session>/subagents/<agent>/wire.jsonl``."""
    return (path.name == "wire.jsonl" and (path.parent.parent.parent.name == "sessions"
                                           or path.parent.parent.name == "subagents"))


def is_flat_context(path: Path) -> bool:
    """Return True for an early kimi-cli context file, ``sessions/<md5>/<session>.jsonl``."""
    return (path.suffix == ".jsonl" and path.parent.parent.name == "sessions"
            and _MD5.fullmatch(path.parent.name) is not None)


def is_context_only(path: Path) -> bool:
    """Return True for a classic ``context.jsonl`` whose session keeps no ``wire.jsonl``."""
    return (path.name == "context.jsonl" and path.parent.parent.parent.name == "sessions"
            and not (path.parent / "wire.jsonl").exists())


def read(path: Path, offset: int, state: dict | None, final: bool = False) -> ReadResult:
    """Read new records of a classic ``wire.jsonl`` or ``context.jsonl``."""
    context = path.name == "context.jsonl" or is_flat_context(path)
    reader = _ContextReader if context else _WireReader
    return read_records(path, offset, state, reader, final)


def _steps(path: Path, state: dict, result: ReadResult) -> Steps:
    """Note the session and project of ``path`` in ``state``; return its agent's steps."""
    if path.parent.parent.name == "subagents":  # <session>/subagents/<agent>/wire.jsonl
        agent, session_dir = path.parent.name, path.parent.parent.parent
        session, hash_dir = session_dir.name, session_dir.parent
    elif is_flat_context(path):  # <md5>/<session>.jsonl
        agent, session, hash_dir = "main", path.stem, path.parent
    else:
        agent, session, hash_dir = "main", path.parent.name, path.parent.parent
    state.setdefault("session", session)
    if "project" not in state:
        state["project"] = _work_dir(hash_dir)
    return Steps(state, agent, result.entries)


class _WireReader:
    """The records of one read of a classic ``wire.jsonl`` (see ``jsonl.read_records``)."""

    def __init__(self, path: Path, state: dict, result: ReadResult) -> None:
        self.steps = _steps(path, state, result)
        self.result = result
        self.handlers = {
            "TurnBegin": self._user, "SteerInput": self._user, "StepBegin": self._step,
            "ContentPart": self._part, "ToolCall": self._call, "ToolCallPart": self._call_part,
            "ToolResult": self._tool_result, "StatusUpdate": self._status,
            "TurnEnd": self._end, "StepInterrupted": self._end,
        }

    def record(self, record: dict, pos: int) -> None:
        """Turn one wire record into entries, or into a step's parts."""
        message = record.get("message")
        if not isinstance(message, dict):
            self.result.skip("bookkeeping" if record.get("type") == "metadata" else "malformed")
            return
        kind = fields.text(message.get("type"))
        payload = message.get("payload")
        handler = self.handlers.get(kind)
        if handler is not None and isinstance(payload, dict):
            handler(pos, record.get("timestamp"), payload)  # converted when an entry is made
        elif kind in _BOOKKEEPING:
            self.result.skip("bookkeeping")
        else:
            self.result.skip("unknown_type" if handler is None else "malformed")

    def save(self) -> None:
        """Keep the open step for the next read."""
        self.steps.save()

    def _user(self, pos: int, ts: Any, payload: dict) -> None:
        self.steps.close()
        self.result.entries.append(self.steps.entry(
            self.steps.at(pos), "user", ts, text=parts_text(payload.get("user_input"))))

    def _step(self, pos: int, ts: Any, payload: dict) -> None:
        self._begin(pos, ts)

    def _current(self, pos: int, ts: Any) -> dict:
        return self.steps.open or self._begin(pos, ts)

    def _begin(self, pos: int, ts: Any) -> dict:
        step_id = self.steps.at(pos)  # only unique in this file: the session makes it global
        return self.steps.begin(step_id, ts, f"{self.steps.state['session']}/{step_id}")

    def _part(self, pos: int, ts: Any, payload: dict) -> None:
        self.steps.add_part(self._current(pos, ts), payload)

    def _call(self, pos: int, ts: Any, payload: dict) -> None:
        function = payload.get("function")
        function = function if isinstance(function, dict) else {}
        arguments = function.get("arguments")
        self._current(pos, ts)["calls"].append({
            "id": fields.text(payload.get("id")) or self.steps.at(pos), "ts": ts,
            "name": fields.text(function.get("name")),
            "args": arguments if isinstance(arguments, str) else None})

    def _call_part(self, pos: int, ts: Any, payload: dict) -> None:
        piece = payload.get("arguments_part")
        calls = self.steps.open["calls"] if self.steps.open else None
        if calls and isinstance(piece, str):
            calls[-1]["args"] = (calls[-1]["args"] or "") + piece

    def _tool_result(self, pos: int, ts: Any, payload: dict) -> None:
        call = fields.text(payload.get("tool_call_id")) or self.steps.at(pos)
        value = payload.get("return_value")
        value = value if isinstance(value, dict) else {}
        output = value.get("output")
        output = output if isinstance(output, str) else parts_text(output)
        output = output or fields.text(value.get("message"))
        names = {c["id"]: c["name"] for c in self.steps.open["calls"]} if self.steps.open else {}
        done = self.steps.entry(self.steps.uid(call + ":result"), "tool_result", ts,
                                tool_name=names.get(call), is_error=value.get("is_error") is True,
                                parent_uuid=self.steps.uid(call))
        set_tool_output(done, output or None)
        self.result.entries.append(done)

    def _status(self, pos: int, ts: Any, payload: dict) -> None:
        usage = payload.get("token_usage")
        if not isinstance(usage, dict):
            return
        usage = {"in": fields.count(usage.get("input_other")),
                 "out": fields.count(usage.get("output")),
                 "cache_read": fields.count(usage.get("input_cache_read")),
                 "cache_write": fields.count(usage.get("input_cache_creation"))}
        if self.steps.open is not None:
            self.steps.set_usage(self.steps.open, usage, fields.text(payload.get("message_id")))
        elif any(usage.values()):  # usage outside any step: its own record
            entry = self.steps.entry(self.steps.at(pos), "system", ts,
                                     message_id=fields.text(payload.get("message_id")))
            set_usage(entry, usage)
            self.result.entries.append(entry)

    def _end(self, pos: int, ts: Any, payload: dict) -> None:
        self.steps.close()


class _ContextReader:
    """The records of one read of a classic ``context.jsonl`` (see ``jsonl.read_records``)."""

    def __init__(self, path: Path, state: dict, result: ReadResult) -> None:
        self.steps = _steps(path, state, result)
        self.result = result
        self.chain = state.get("chain") or ""

    def record(self, record: dict, pos: int) -> None:
        """Turn one context message into entries; markers are bookkeeping."""
        role = record.get("role")
        if not isinstance(role, str):
            self.result.skip("malformed")
            return
        # The uuid chains the previous one with this record (offsets move on rotation).
        raw = json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8", "replace")
        self.chain = hashlib.blake2b(self.chain.encode() + raw, digest_size=8).hexdigest()
        steps, uuid = self.steps, self.steps.uid(self.chain)
        if role.startswith("_"):
            self.result.skip("bookkeeping")
        elif role == "user":
            self.result.entries.append(
                steps.entry(uuid, "user", None, text=parts_text(record.get("content"))))
        elif role == "assistant":
            self._assistant(record)
        elif role == "tool":
            call = fields.text(record.get("tool_call_id")) or self.chain
            done = steps.entry(steps.uid(call + ":result"), "tool_result", None,
                               parent_uuid=steps.uid(call))
            set_tool_output(done, parts_text(record.get("content")))
            self.result.entries.append(done)
        else:
            self.result.skip("unknown_type")

    def _assistant(self, record: dict) -> None:
        step = self.steps.begin(self.chain, None, f"{self.steps.state['session']}/{self.chain}")
        content = record.get("content")
        for part in content if isinstance(content, list) else [{"type": "text", "text": content}]:
            self.steps.add_part(step, part)
        calls = record.get("tool_calls")
        for number, call in enumerate(calls if isinstance(calls, list) else ()):
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                step["calls"].append({
                    "id": fields.text(call.get("id")) or f"{self.chain}:{number}", "ts": None,
                    "name": fields.text(function.get("name")),
                    "args": function.get("arguments")})
        self.steps.close()

    def save(self) -> None:
        """Keep the last uuid of the chain."""
        self.steps.state["chain"] = self.chain


def _work_dir(hash_dir: Path) -> str | None:
    """Return the work directory whose MD5 names ``hash_dir`` (from the share's ``kimi.json``)."""
    digest = hash_dir.name
    try:
        with open(hash_dir.parent.parent / "kimi.json", "rb") as fh:
            data = json.loads(fh.read(4 * 1024 * 1024))
    except (OSError, ValueError):
        return None
    work_dirs = data.get("work_dirs") if isinstance(data, dict) else None
    for item in work_dirs if isinstance(work_dirs, list) else ():
        path = item.get("path") if isinstance(item, dict) else None
        if isinstance(path, str) and hashlib.md5(path.encode("utf-8")).hexdigest() == digest:
            return path
    return None
