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
from thinkt.exporter.sources import ReadResult, fields, find
from thinkt.exporter.sources.jsonl import read_records

log = logging.getLogger(__name__)

#: Tool call names remembered until their results arrive (a bound on the state size).
PENDING_TOOLS = 256
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
        """Return ``~/.kimi-code/sessions`` and the classic ``$KIMI_SHARE_DIR/sessions``."""
        share = Path(env["KIMI_SHARE_DIR"]) if env.get("KIMI_SHARE_DIR") else home / ".kimi"
        return [home / ".kimi-code" / "sessions", share / "sessions"]

    def matches(self, path: Path) -> bool:
        """Return True for a Kimi Code agent journal or a classic session file."""
        if path.name == "wire.jsonl":
            return (is_code_journal(path) or path.parent.parent.parent.name == "sessions"
                    or path.parent.parent.name == "subagents")
        if path.name == "context.jsonl":
            from thinkt.exporter.sources import kimiclassic
            return kimiclassic.is_context_only(path)
        return False

    def discover(self, root: Path) -> Iterator[Path]:
        """Yield every session file under ``root``."""
        for pattern in ("wire.jsonl", "context.jsonl"):
            yield from find(root, pattern, self.matches)

    def read(self, path: Path, offset: int, state: dict | None) -> ReadResult:
        """Read new records of a session file (OSError propagates if it vanished)."""
        path = Path(path)
        if is_code_journal(path):
            return read_records(path, offset, state, _CodeReader)
        from thinkt.exporter.sources import kimiclassic
        return kimiclassic.read(path, offset, state)


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
        self.open = {"id": step_id, "ts": iso_utc(when), "text": [], "size": 0, "think": 0,
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
        return Entry(self.state["session"], uuid, role, iso_utc(when), self.state.get("project"),
                     agent_id=self.agent_id, **values)

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
    """The records of one read of a Kimi Code agent journal (see ``jsonl.read_records``)."""

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

    def record(self, record: dict, pos: int) -> None:
        """Turn one journal record into entries, or into a step's parts."""
        kind = fields.text(record.get("type"))
        ts = record.get("time")  # epoch ms, converted when an entry is made
        steps, result = self.steps, self.result
        if kind == "context.append_loop_event":
            event = record.get("event")
            if not isinstance(event, dict) or not self._event(event, ts, steps, result):
                result.skip("malformed" if not isinstance(event, dict) else "unknown_type")
        elif kind == "context.append_message":
            message = record.get("message")
            if isinstance(message, dict):
                result.entries.append(self._message(message, pos, ts, steps))
            else:
                result.skip("malformed")
        elif kind == "context.apply_compaction":
            steps.close()
            result.entries.append(steps.entry(
                steps.at(pos), "system", ts, text=fields.text(record.get("summary"))))
        elif kind in _BOOKKEEPING:
            self._note(kind, record, pos, ts, steps, result)
            result.skip("bookkeeping")
        else:
            result.skip("unknown_type")

    def save(self) -> None:
        """Keep the open step and the tool names still waiting for results."""
        self.steps.save()
        while len(self.tools) > PENDING_TOOLS:
            del self.tools[next(iter(self.tools))]
        self.state["tools"] = self.tools

    def _note(self, kind: str, record: dict, pos: int, ts: Any, steps: Steps,
              result: ReadResult) -> None:
        """Take what a bookkeeping record says: the model, a turn boundary, odd usage.

        The model is the one of the latest ``llm.request`` (``kimi-k2.7-code``), not the
        ``moonshot-ai/...`` alias of ``config.update``/``usage.record``, so one name is used.
        """
        if kind == "llm.request":
            self.state["model"] = fields.text(record.get("model")) or self.state.get("model")
        elif kind == "config.update":
            if not self.state.get("project"):
                self.state["project"] = fields.text(record.get("cwd"))
        elif kind in ("turn.prompt", "turn.cancel"):
            steps.close()
        elif kind == "usage.record" and record.get("usageScope") != "turn":
            usage = code_usage(record.get("usage"))
            if usage and any(usage.values()):
                entry = steps.entry(steps.at(pos), "system", ts)
                set_usage(entry, usage)
                result.entries.append(entry)

    def _message(self, message: dict, pos: int, ts: Any, steps: Steps) -> Entry:
        role = message.get("role")
        origin = message.get("origin")
        kind = origin.get("kind") if isinstance(origin, dict) else "user"
        text = parts_text(message.get("content"))
        if role == "assistant":
            return steps.entry(steps.at(pos), "assistant", ts, text=text)
        if role == "tool":
            return steps.entry(steps.at(pos), "tool_result", ts, text=text)
        return steps.entry(steps.at(pos), "user" if kind == "user" else "system", ts,
                           text=text)

    def _event(self, event: dict, ts: Any, steps: Steps, result: ReadResult) -> bool:
        kind = fields.text(event.get("type"))
        if kind == "content.part":
            step_id = fields.text(event.get("stepUuid"))
            if step_id is None:
                return False
            steps.add_part(steps.begin(step_id, ts), event.get("part"))
        elif kind == "tool.call":
            call = fields.text(event.get("toolCallId")) or fields.text(event.get("uuid"))
            step_id = fields.text(event.get("stepUuid"))
            if call is None:
                return False
            name = fields.text(event.get("name"))
            if name:
                self.tools[call] = name
            result.entries.append(steps.entry(
                steps.uid(call), "tool_use", ts, tool_name=name, has_tool_use=True,
                text=tool_input_text(event.get("args")), message_id=step_id,
                parent_uuid=steps.uid(step_id) if step_id else None))
        elif kind == "tool.result":
            call = fields.text(event.get("toolCallId")) or fields.text(event.get("parentUuid"))
            if call is None:
                return False
            body = event.get("result")
            output = body.get("output") if isinstance(body, dict) else body
            output = output if isinstance(output, str) else parts_text(output)
            result.entries.append(steps.entry(
                steps.uid(call + ":result"), "tool_result", ts,
                tool_name=self.tools.pop(call, None),
                is_error=isinstance(body, dict) and body.get("isError") is True,
                text=clip(output, TOOL_OUTPUT_LIMIT) if output else None,
                parent_uuid=steps.uid(call)))
        elif kind in ("step.begin", "step.end"):
            step_id = fields.text(event.get("uuid"))
            if step_id is None:
                return False
            step = steps.begin(step_id, ts)
            if kind == "step.end":
                usage = code_usage(event.get("usage"))
                if usage:
                    steps.set_usage(step, usage, None)
                steps.close()
        else:
            return False
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
