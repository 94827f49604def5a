"""Kimi Code ``wire.jsonl`` journals as entries.

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

import json
import logging
from pathlib import Path
from typing import Any

from thinkt.exporter.sources import ReadResult, fields
from thinkt.exporter.sources.jsonl import read_records
from thinkt.exporter.sources.kimi.steps import Steps, parts_text, set_usage
from thinkt.exporter.sources.tooltext import set_tool_input, set_tool_output

log = logging.getLogger(__name__)

#: Tool call names remembered until their results arrive (a bound on the state size).
PENDING_TOOLS = 256

_BOOKKEEPING = frozenset((
    "metadata", "tools.set_active_tools", "permission.set_mode", "turn.steer",
    "llm.tools_snapshot", "permission.record_approval_result", "plan_mode.enter",
    "plan_mode.exit", "full_compaction.begin", "full_compaction.complete", "config.update",
    "llm.request", "turn.prompt", "turn.cancel", "usage.record",
))


def is_journal(path: Path) -> bool:
    """Return True for ``.../session_<uuid>/agents/<agent>/wire.jsonl`` (Kimi Code)."""
    return (path.name == "wire.jsonl" and path.parent.parent.name == "agents"
            and path.parent.parent.parent.name.startswith("session_"))


def read(path: Path, offset: int, state: dict | None, final: bool = False) -> ReadResult:
    """Read new records of a Kimi Code agent journal."""
    return read_records(path, offset, state, _CodeReader, final)


def code_usage(usage: Any) -> dict | None:
    """Normalise a Kimi Code usage object (``inputOther``, ``output``, ``inputCache*``)."""
    if not isinstance(usage, dict):
        return None
    return {"in": fields.count(usage.get("inputOther")), "out": fields.count(usage.get("output")),
            "cache_read": fields.count(usage.get("inputCacheRead")),
            "cache_write": fields.count(usage.get("inputCacheCreation"))}


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
        use = steps.entry(steps.uid(call), "tool_use", when, tool_name=name, has_tool_use=True,
                          message_id=step_id, parent_uuid=steps.uid(step_id) if step_id else None)
        set_tool_input(use, event.get("args"))
        self.result.entries.append(use)
        return True

    def _tool_result(self, event: dict, kind: str, when: Any) -> bool:
        call = fields.text(event.get("toolCallId")) or fields.text(event.get("parentUuid"))
        if call is None:
            return False
        body = event.get("result")
        output = body.get("output") if isinstance(body, dict) else body
        output = output if isinstance(output, str) else parts_text(output)
        steps = self.steps
        done = steps.entry(steps.uid(call + ":result"), "tool_result", when,
                           tool_name=self.tools.pop(call, None),
                           is_error=isinstance(body, dict) and body.get("isError") is True,
                           parent_uuid=steps.uid(call))
        set_tool_output(done, output or None)
        self.result.entries.append(done)
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

