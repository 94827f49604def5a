"""Kimi sessions as entries: Kimi Code ``wire.jsonl`` journals (and, via :mod:`kimiclassic`,
the classic kimi-cli files).

Kimi Code keeps ``~/.kimi-code/sessions/wd_<name>_<hash>/session_<uuid>/`` with
``state.json`` (``workDir``: the project path) and one appended journal per agent,
``agents/<agent>/wire.jsonl`` (``main``, and subagents such as ``agent-0`` that share the
session). Records carry ``type`` and ``time`` (epoch milliseconds). What becomes entries:

- ``context.append_message``: ``user`` when ``origin.kind`` is ``user`` (or absent), else
  ``system`` (injected reminders, a subagent's task from its parent). No id: uuid
  ``<agent>@<byte offset>``. ``turn.prompt``/``turn.steer`` repeat these and are bookkeeping.
- One ``assistant`` entry per step (uuid = step uuid), assembled from the step's
  ``content.part`` events (text joined; ``think`` parts counted in ``thinking_len``) and
  closed by ``step.end`` with its usage. The open step waits in the state between reads,
  so a step split across two reads still gives one entry; a step that never ends
  (cancelled turn) is shipped without usage when the next turn starts.
- ``tool.call`` -> ``tool_use`` (uuid = call id), ``tool.result`` -> ``tool_result`` (uuid
  ``<call id>:result``, ``is_error`` from ``result.isError``).
- ``context.apply_compaction`` -> ``system`` (the summary).

Tokens: ``step.end.usage`` (``inputOther`` = input without cache reads, ``output``,
``inputCacheRead``, ``inputCacheCreation``); the ``usage.record`` of scope ``turn``
repeats it and is bookkeeping. A ``usage.record`` of another scope (the compaction
call, which has no step) is the only record of that call's usage and becomes a
``system`` entry. ``message_id`` is the step uuid, the one id every event of the step
knows (the provider's ``chatcmpl`` id only arrives with ``step.end``). Entries of a
subagent carry ``agent_id`` and uuids prefixed ``<agent>/``: tool call ids such as
``Bash_1`` restart in each agent's journal.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any, Iterator, Mapping

from thinkt.exporter.entry import (
    TOOL_OUTPUT_LIMIT, Entry, clip, iso_utc, tool_input_text, utf8_len)
from thinkt.exporter.sources import ReadResult, env_dir, fields, find
from thinkt.exporter.sources.jsonl import read_records

log = logging.getLogger(__name__)

#: Tool call names remembered until their results arrive (a bound on the state size).
PENDING_TOOLS = 256
#: Integer epoch milliseconds from 1973 to 2103 take the fast path of :meth:`Steps.time`.
_MS_FROM, _MS_UNTIL = 100_000_000_000, 4_200_000_000_000
#: An open step holding more text than this (characters) ships what it has as its own
#: entry, so the state carried between reads stays small.
STEP_TEXT_MAX = 256 * 1024

_BOOKKEEPING = frozenset((
    "metadata", "tools.set_active_tools", "permission.set_mode", "turn.steer",
    "llm.tools_snapshot", "permission.record_approval_result", "plan_mode.enter",
    "plan_mode.exit", "full_compaction.begin", "full_compaction.complete", "config.update",
    "llm.request", "turn.prompt", "turn.cancel", "usage.record",
))


class KimiSource:
    """Kimi Code and classic kimi-cli sessions."""

    name = "kimi"
    whole_file = False

    def roots(self, home: Path, env: Mapping[str, str]) -> list[Path]:
        """Return ``$KIMI_CODE_HOME/sessions`` (default ``~/.kimi-code``) and the classic
        ``$KIMI_SHARE_DIR/sessions`` (default ``~/.kimi``)."""
        return [env_dir(env, "KIMI_CODE_HOME", home / ".kimi-code") / "sessions",
                env_dir(env, "KIMI_SHARE_DIR", home / ".kimi") / "sessions"]

    def matches(self, path: Path) -> bool:
        """Return True for a Kimi Code agent journal or a classic session file."""
        from thinkt.exporter.sources import kimiclassic
        if path.name == "wire.jsonl":
            return (is_code_journal(path) or path.parent.parent.parent.name == "sessions"
                    or path.parent.parent.name == "subagents")
        if path.name == "context.jsonl":
            return kimiclassic.is_context_only(path)
        return kimiclassic.is_flat_context(path)

    def discover(self, root: Path) -> Iterator[Path]:
        """Yield every session file under ``root``."""
        return find(root, "*.jsonl", self.matches)

    def read(self, path: Path, offset: int, state: dict | None, final: bool = False,
             ) -> ReadResult:
        """Read new records of a session file (OSError propagates if it vanished)."""
        path = Path(path)
        if is_code_journal(path):
            return read_records(path, offset, state, _CodeReader, final)
        from thinkt.exporter.sources import kimiclassic
        return kimiclassic.read(path, offset, state, final)


def is_code_journal(path: Path) -> bool:
    """Return True for ``.../session_<uuid>/agents/<agent>/wire.jsonl`` (Kimi Code)."""
    return (path.name == "wire.jsonl" and path.parent.parent.name == "agents"
            and path.parent.parent.parent.name.startswith("session_"))


class Steps:
    """The assistant step being assembled from its parts, kept in the state between reads.

    Both Kimi formats stream a step as separate text, think and tool events and report
    its usage at the end; this turns them into one ``assistant`` entry per step.
    """

    def __init__(self, state: dict, agent: str, out: list[Entry]) -> None:
        self.state = state
        #: Where closed steps' entries go (the read's result list).
        self.out = out
        self.agent_id = None if agent == "main" else agent
        self.prefix = "" if agent == "main" else f"{agent}/"
        self._second, self._prefix = -1, ""
        step = state.get("step")
        # A copy: the caller's state must stay as it was (a failed shipment re-reads from it).
        self.open: dict | None = (copy.deepcopy(step) if isinstance(step, dict) and step.get("id")
                                  else None)

    def begin(self, step_id: str, when: Any, message_id: str | None = None) -> dict:
        """Open step ``step_id`` at time ``when`` (closing another open step first); return it.

        ``message_id`` (default: the step id) is what the step's entries share until the
        provider's id for the response is known; it must be unique beyond this file.
        """
        if self.open is not None and self.open["id"] == step_id:
            return self.open
        self.close()
        self.open = {"id": step_id, "ts": self.time(when), "text": [], "size": 0, "think": 0,
                     "thought": False, "cut": 0, "calls": [], "mid": message_id or step_id}
        return self.open

    def add_part(self, step: dict, part: Any) -> None:
        """Add a content part (``{type: text, text}`` or ``{type: think, think}``)."""
        if not isinstance(part, dict):
            return
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            step["text"].append(part["text"])
            step["size"] += len(part["text"])
            if step["size"] > STEP_TEXT_MAX:
                self._ship_text(step)
        elif kind == "think":
            step["thought"] = True
            if isinstance(part.get("think"), str):
                step["think"] += utf8_len(part["think"])

    def set_usage(self, step: dict, usage: dict, message_id: str | None) -> None:
        """Record the step's usage (largest value per field when reported twice)."""
        seen = step.get("usage") or {}
        step["usage"] = {k: max(v, seen.get(k, 0)) for k, v in usage.items()}
        if message_id:
            step["mid"] = message_id

    def close(self) -> None:
        """Ship the open step (if it said or cost anything) and forget it."""
        step, self.open = self.open, None
        if step is None:
            return
        usage = step.get("usage")
        if step["text"] or step["thought"] or usage:  # a step that only called tools: no entry
            entry = self.entry(self.uid(step["id"]), "assistant", step["ts"],
                               text="\n".join(step["text"]) or None,
                               has_thinking=step["thought"], thinking_len=step["think"],
                               message_id=step["mid"])
            if usage:
                set_usage(entry, usage)
            self.out.append(entry)
        for call in step["calls"]:
            self.out.append(self.entry(
                self.uid(call["id"]), "tool_use", call["ts"], tool_name=call["name"],
                has_tool_use=True, text=tool_input_text(call["args"]), message_id=step["mid"],
                parent_uuid=self.uid(step["id"])))

    def _ship_text(self, step: dict) -> None:
        step["cut"] += 1
        self.out.append(self.entry(self.uid(f"{step['id']}#{step['cut']}"), "assistant",
                                   step["ts"], text="\n".join(step["text"]),
                                   message_id=step["mid"]))
        step["text"], step["size"] = [], 0

    def uid(self, raw: str) -> str:
        """Return the entry uuid for a record id of this agent (prefixed for subagents)."""
        return self.prefix + raw

    def at(self, pos: int) -> str:
        """Return the entry uuid for a record without an id: agent and byte offset."""
        return f"{self.agent_id or 'main'}@{pos}"

    def entry(self, uuid: str, role: str, when: Any, **values: Any) -> Entry:
        """Return an entry of this agent at time ``when`` (a record's raw time, converted
        only here: most records never become entries) with the session's model unless
        ``model`` is given."""
        values.setdefault("model", self.state.get("model"))
        return Entry(self.state["session"], uuid, role, self.time(when),
                     self.state.get("project"), agent_id=self.agent_id, **values)

    def time(self, when: Any) -> str | None:
        """Return a record's time as RFC 3339 UTC (what ``iso_utc`` gives).

        Kimi Code stamps records with integer epoch milliseconds, many within the same
        second: the formatted second is reused and only the milliseconds change.
        """
        if type(when) is int and _MS_FROM <= when < _MS_UNTIL:
            second, millis = divmod(when, 1000)
            if second != self._second:
                self._second, self._prefix = second, iso_utc(second * 1000)[:-4]
            return "%s%03dZ" % (self._prefix, millis)
        return iso_utc(when)

    def save(self) -> None:
        """Put the open step back into the state."""
        self.state["step"] = self.open


def set_usage(entry: Entry, usage: dict) -> None:
    """Copy normalised usage (``in``, ``out``, ``cache_read``, ``cache_write``) onto ``entry``."""
    entry.input_tokens = usage.get("in", 0)
    entry.output_tokens = usage.get("out", 0)
    entry.cache_read_tokens = usage.get("cache_read", 0)
    entry.cache_write_tokens = usage.get("cache_write", 0)


def code_usage(usage: Any) -> dict | None:
    """Normalise a Kimi Code usage object (``inputOther``, ``output``, ``inputCache*``)."""
    if not isinstance(usage, dict):
        return None
    return {"in": fields.count(usage.get("inputOther")), "out": fields.count(usage.get("output")),
            "cache_read": fields.count(usage.get("inputCacheRead")),
            "cache_write": fields.count(usage.get("inputCacheCreation"))}


def parts_text(content: Any) -> str | None:
    """Return the text of a message content: a string, or a list of ``{type: text}`` parts."""
    if isinstance(content, str):
        return content or None
    if isinstance(content, list):
        texts = [part["text"] for part in content if isinstance(part, dict)
                 and part.get("type", "text") == "text" and isinstance(part.get("text"), str)]
        return "\n".join(texts) or None
    return None


class _CodeReader:
    """The records of one read of a Kimi Code agent journal (see ``jsonl.read_records``).

    Records go to handlers by type through dicts: most of a journal is bookkeeping, so
    the common path is one lookup and a counter.
    """

    def __init__(self, path: Path, state: dict, result: ReadResult) -> None:
        self.state = state
        self.result = result
        session_dir = path.parent.parent.parent
        state.setdefault("session", session_dir.name.removeprefix("session_"))
        if not state.get("project"):
            state["project"] = _work_dir(session_dir / "state.json")
        tools = state.get("tools")
        self.tools: dict[str, str] = dict(tools) if isinstance(tools, dict) else {}
        self.steps = Steps(state, path.parent.name, result.entries)
        self.bookkeeping = 0
        self.records = dict.fromkeys(_BOOKKEEPING, self._bookkeeping)
        self.records.update({
            "context.append_loop_event": self._loop_event,
            "context.append_message": self._message,
            "context.apply_compaction": self._compaction,
            "llm.request": self._llm_request, "config.update": self._config,
            "turn.prompt": self._turn_boundary, "turn.cancel": self._turn_boundary,
            "usage.record": self._usage_record,
        })
        self.events = {"content.part": self._part, "tool.call": self._tool_call,
                       "tool.result": self._tool_result, "step.begin": self._step,
                       "step.end": self._step}

    def record(self, record: dict, pos: int) -> None:
        """Turn one journal record into entries, or into a step's parts."""
        kind = record.get("type")
        handler = self.records.get(kind) if type(kind) is str else None
        if handler is None:
            self.result.skip("unknown_type" if type(kind) is str else "malformed")
        else:
            handler(record, pos)

    def save(self) -> None:
        """Count the bookkeeping; keep the open step and the tools awaiting results."""
        if self.bookkeeping:
            self.result.skip("bookkeeping", self.bookkeeping)
        self.steps.save()
        while len(self.tools) > PENDING_TOOLS:
            del self.tools[next(iter(self.tools))]
        self.state["tools"] = self.tools

    # records ---------------------------------------------------------------------------

    def _bookkeeping(self, record: dict, pos: int) -> None:
        self.bookkeeping += 1

    def _llm_request(self, record: dict, pos: int) -> None:
        # The model of the latest request ("kimi-k2.7-code"), not the "moonshot-ai/..."
        # alias of config.update / usage.record: one name for the session.
        self.bookkeeping += 1
        model = record.get("model")
        if type(model) is str and model:
            self.state["model"] = model

    def _config(self, record: dict, pos: int) -> None:
        self.bookkeeping += 1
        if not self.state.get("project"):
            self.state["project"] = fields.text(record.get("cwd"))

    def _turn_boundary(self, record: dict, pos: int) -> None:
        self.bookkeeping += 1
        self.steps.close()

    def _usage_record(self, record: dict, pos: int) -> None:
        # A turn's usage.record repeats its step.end; any other scope (the compaction
        # call) is the only record of that call's usage.
        self.bookkeeping += 1
        if record.get("usageScope") == "turn":
            return
        usage = code_usage(record.get("usage"))
        if usage and any(usage.values()):
            entry = self.steps.entry(self.steps.at(pos), "system", record.get("time"))
            set_usage(entry, usage)
            self.result.entries.append(entry)

    def _compaction(self, record: dict, pos: int) -> None:
        self.steps.close()
        self.result.entries.append(self.steps.entry(
            self.steps.at(pos), "system", record.get("time"),
            text=fields.text(record.get("summary"))))

    def _message(self, record: dict, pos: int) -> None:
        message = record.get("message")
        if not isinstance(message, dict):
            self.result.skip("malformed")
            return
        role = message.get("role")
        origin = message.get("origin")
        kind = origin.get("kind") if isinstance(origin, dict) else "user"
        if role == "assistant":
            role = "assistant"
        elif role == "tool":
            role = "tool_result"
        else:
            role = "user" if kind == "user" else "system"
        self.result.entries.append(self.steps.entry(
            self.steps.at(pos), role, record.get("time"),
            text=parts_text(message.get("content"))))

    def _loop_event(self, record: dict, pos: int) -> None:
        event = record.get("event")
        if not isinstance(event, dict):
            self.result.skip("malformed")
            return
        kind = event.get("type")
        handler = self.events.get(kind) if type(kind) is str else None
        if handler is None or not handler(event, kind, record.get("time")):
            self.result.skip("unknown_type" if handler is None else "malformed")

    # loop events: each returns False when the event lacks what it needs ----------------

    def _part(self, event: dict, kind: str, when: Any) -> bool:
        step_id = event.get("stepUuid")
        if type(step_id) is not str or not step_id:
            return False
        steps = self.steps
        step = steps.open
        if step is None or step["id"] != step_id:
            step = steps.begin(step_id, when)
        steps.add_part(step, event.get("part"))
        return True

    def _tool_call(self, event: dict, kind: str, when: Any) -> bool:
        call = fields.text(event.get("toolCallId")) or fields.text(event.get("uuid"))
        if call is None:
            return False
        step_id = fields.text(event.get("stepUuid"))
        name = fields.text(event.get("name"))
        if name:
            self.tools[call] = name
        steps = self.steps
        self.result.entries.append(steps.entry(
            steps.uid(call), "tool_use", when, tool_name=name, has_tool_use=True,
            text=tool_input_text(event.get("args")), message_id=step_id,
            parent_uuid=steps.uid(step_id) if step_id else None))
        return True

    def _tool_result(self, event: dict, kind: str, when: Any) -> bool:
        call = fields.text(event.get("toolCallId")) or fields.text(event.get("parentUuid"))
        if call is None:
            return False
        body = event.get("result")
        output = body.get("output") if isinstance(body, dict) else body
        output = output if isinstance(output, str) else parts_text(output)
        steps = self.steps
        self.result.entries.append(steps.entry(
            steps.uid(call + ":result"), "tool_result", when,
            tool_name=self.tools.pop(call, None),
            is_error=isinstance(body, dict) and body.get("isError") is True,
            text=clip(output, TOOL_OUTPUT_LIMIT) if output else None,
            parent_uuid=steps.uid(call)))
        return True

    def _step(self, event: dict, kind: str, when: Any) -> bool:
        step_id = fields.text(event.get("uuid"))
        if step_id is None:
            return False
        step = self.steps.begin(step_id, when)
        if kind == "step.end":
            usage = code_usage(event.get("usage"))
            if usage:
                self.steps.set_usage(step, usage, None)
            self.steps.close()
        return True


def _work_dir(state_file: Path) -> str | None:
    """Return ``workDir`` from a Kimi Code session's ``state.json``, if readable."""
    try:
        with open(state_file, "rb") as fh:
            data = json.loads(fh.read(1024 * 1024))
    except (OSError, ValueError):
        return None
    return fields.text(data.get("workDir")) if isinstance(data, dict) else None


SOURCE = KimiSource()
