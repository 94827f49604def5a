"""GitHub Copilot CLI sessions as entries: ``events.jsonl`` streams and legacy history files.

Current sessions are ``~/.copilot/session-state/<id>/events.jsonl`` (earlier
``session-state/<id>.jsonl``): one event per line, ``{type, data, id, timestamp,
parentId}``, appended. ``user.message`` -> ``user`` (an empty ``content`` is an
auto-continuation prompt whose text is in ``transformedContent``: shipped as
``system``); ``assistant.message`` -> ``assistant`` (``message_id`` = ``messageId``,
``reasoningText`` counted in ``thinking_len``, ``outputTokens``) plus one ``tool_use``
per ``toolRequests`` item (uuid = ``toolCallId``); ``tool.execution_complete`` ->
``tool_result`` (``is_error`` = not ``success``). ``system.message`` (the injected system
prompt, repeated each turn), turn, mode, model and info events are bookkeeping.

Tokens: messages carry only ``outputTokens``; ``session.shutdown`` carries per-model
totals (``modelMetrics[<model>].usage``). Each model becomes one ``system`` entry (uuid
``<event id>:<model>``) with the input and cache totals and only the output not already
counted on that model's messages since the previous shutdown (in the sample the message
outputs add up to the shutdown figure exactly, so it carries 0). Copilot's
``inputTokens`` includes the cache reads (the sample: 6 requests of a 25-35k-token context
add up to its 186,809 input, of which 151,738 cache reads), so ``input_tokens =
inputTokens - cacheReadTokens``.

Legacy ``~/.copilot/history-session-state/*.json`` files are single objects rewritten in
place: ``timeline[]`` (ids, timestamps, tool results with ``result.type``) is used;
``chatMessages[]`` repeats it without ids or times and is ignored. They hold no model,
tokens or cwd.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, Mapping

from thinkt.exporter.entry import Entry, iso_utc, utf8_len
from thinkt.exporter.sources import ReadResult, env_dir, fields, find
from thinkt.exporter.sources.jsonl import read_records
from thinkt.exporter.sources.rewritten import Shipped, stream_document
from thinkt.exporter.sources.tooltext import set_tool_input, set_tool_output

log = logging.getLogger(__name__)

#: Tool call names remembered until their results arrive (a bound on the state size).
PENDING_TOOLS = 256
_BOOKKEEPING = frozenset((
    "session.mode_changed", "session.info", "session.task_complete", "system.message",
    "assistant.turn_start", "assistant.turn_end", "tool.execution_start",
    "session.model_change", "session.start", "session.resume", "hook.start", "hook.end",
    "tool.execution_progress", "tool.execution_partial_result", "session.truncation",
    "session.compaction_start", "session.compaction_complete", "session.usage_info",
    "assistant.intent", "assistant.reasoning", "session.error", "session.warning",
))


class CopilotSource:
    """GitHub Copilot CLI sessions."""

    name = "copilot"
    #: ``events.jsonl`` is appended; only legacy history files are rewritten:
    #: :meth:`is_whole_file` answers per file.
    whole_file = False

    def roots(self, home: Path, env: Mapping[str, str]) -> list[Path]:
        """Return ``session-state`` and the legacy ``history-session-state`` of the
        Copilot directory: ``$COPILOT_HOME`` when set, else ``~/.copilot``."""
        base = env_dir(env, "COPILOT_HOME", home / ".copilot")
        return [base / "session-state", base / "history-session-state"]

    def matches(self, path: Path) -> bool:
        """Return True for ``session-state/<id>/events.jsonl``, ``<id>.jsonl`` and legacy JSON."""
        parent = path.parent.name
        if path.name == "events.jsonl":
            return path.parent.parent.name == "session-state"
        if path.suffix == ".jsonl":
            return parent == "session-state"
        return path.suffix == ".json" and parent == "history-session-state"

    def discover(self, root: Path) -> Iterator[Path]:
        """Yield every session file under ``root``."""
        return find(root, "*.json*", self.matches)

    def is_whole_file(self, path: Path) -> bool:
        """Return True for the legacy history files, which are rewritten in place."""
        return Path(path).suffix == ".json"

    def read(self, path: Path, offset: int, state: dict | None, final: bool = False,
             ) -> ReadResult:
        """Read new events of a session file (OSError propagates if it vanished)."""
        path = Path(path)
        state = dict(state or {})
        if self.is_whole_file(path):
            return self.stream(path, offset, state).drain()
        return read_records(path, offset, state, _EventReader, final)

    def stream(self, path: Path, offset: int, state: dict | None) -> ReadResult:
        """Read a legacy history file item by item of its timeline (entries in batches)."""
        return _read_history(Path(path), offset, dict(state or {}))


class _EventReader:
    """The events of one read of an ``events.jsonl`` stream (see ``jsonl.read_records``)."""

    def __init__(self, path: Path, state: dict, result: ReadResult) -> None:
        self.state = state
        self.result = result
        fallback = path.parent.name if path.name == "events.jsonl" else path.stem
        state.setdefault("session", fallback)
        tools = state.get("tools")
        self.tools: dict[str, str] = dict(tools) if isinstance(tools, dict) else {}
        out = state.get("out")
        self.out: dict[str, int] = dict(out) if isinstance(out, dict) else {}
        self.handlers = {
            "user.message": self._user, "assistant.message": self._assistant,
            "tool.execution_complete": self._tool_done, "session.shutdown": self._shutdown,
        }

    def record(self, event: dict, line_offset: int) -> None:
        """Turn one event into entries (or note what a bookkeeping event says)."""
        data = event.get("data")
        if not isinstance(data, dict):
            self.result.skip("malformed")
            return
        kind = fields.text(event.get("type"))
        handler = self.handlers.get(kind)
        if handler is None:
            self._note(kind, data)
            self.result.skip("bookkeeping" if kind in _BOOKKEEPING else "unknown_type")
            return
        uuid = fields.text(event.get("id"))
        if uuid is None:
            self.result.skip("malformed")
            return
        handler(uuid, iso_utc(event.get("timestamp")), data, self.result.entries)

    def save(self) -> None:
        """Keep the tool names still waiting for results, and the outputs since shutdown."""
        while len(self.tools) > PENDING_TOOLS:
            del self.tools[next(iter(self.tools))]
        self.state["tools"] = self.tools
        self.state["out"] = self.out

    def _entry(self, uuid: str, role: str, ts: str | None, **fields: Any) -> Entry:
        return Entry(self.state["session"], uuid, role, ts, self.state.get("project"),
                     git_branch=self.state.get("branch"), **fields)

    def _note(self, kind: Any, data: dict) -> None:
        """Take what a bookkeeping event says about the session (id, cwd, model, tools)."""
        if kind in ("session.start", "session.resume"):
            state = self.state
            state["session"] = fields.text(data.get("sessionId")) or state["session"]
            context = data.get("context")
            if isinstance(context, dict):
                state["project"] = fields.text(context.get("cwd")) or state.get("project")
                state["branch"] = fields.text(context.get("branch")) or state.get("branch")
        elif kind == "session.model_change":
            self.state["model"] = fields.text(data.get("newModel")) or self.state.get("model")
        elif kind == "tool.execution_start":
            call, name = fields.text(data.get("toolCallId")), fields.text(data.get("toolName"))
            if call and name:
                self.tools[call] = name

    def _user(self, uuid: str, ts: str | None, data: dict, out: list[Entry]) -> None:
        text = fields.text(data.get("content"))
        if text:
            out.append(self._entry(uuid, "user", ts, text=text))
        else:  # an auto-continuation prompt Copilot injected, not the human
            injected = fields.text(data.get("transformedContent"))
            out.append(self._entry(uuid, "system", ts, text=injected))

    def _assistant(self, uuid: str, ts: str | None, data: dict, out: list[Entry]) -> None:
        model = fields.text(data.get("model")) or self.state.get("model")
        message_id = fields.text(data.get("messageId")) or uuid
        reasoning = fields.text(data.get("reasoningText"))
        output = fields.count(data.get("outputTokens"))
        self.out[model or ""] = self.out.get(model or "", 0) + output
        out.append(self._entry(
            uuid, "assistant", ts, model=model, text=fields.text(data.get("content")),
            has_thinking=bool(reasoning or data.get("reasoningOpaque")),
            thinking_len=utf8_len(reasoning) if reasoning else 0,
            output_tokens=output, message_id=message_id))
        requests = data.get("toolRequests")
        for request in requests if isinstance(requests, list) else ():
            call = fields.text(request.get("toolCallId")) if isinstance(request, dict) else None
            if call is None:
                continue
            name = fields.text(request.get("name"))
            if name:
                self.tools[call] = name
            use = self._entry(call, "tool_use", ts, model=model, tool_name=name,
                              has_tool_use=True, message_id=message_id, parent_uuid=uuid)
            set_tool_input(use, request.get("arguments"))
            out.append(use)

    def _tool_done(self, uuid: str, ts: str | None, data: dict, out: list[Entry]) -> None:
        call = fields.text(data.get("toolCallId"))
        result = data.get("result")
        text = result.get("content") if isinstance(result, dict) else result
        error = data.get("error")
        if not isinstance(text, str) or not text:
            text = error.get("message") if isinstance(error, dict) else error
        done = self._entry(uuid, "tool_result", ts, model=fields.text(data.get("model")),
                           tool_name=self.tools.pop(call, None) if call else None,
                           is_error=data.get("success") is False, parent_uuid=call)
        set_tool_output(done, text if isinstance(text, str) and text else None)
        out.append(done)

    def _shutdown(self, uuid: str, ts: str | None, data: dict, out: list[Entry]) -> None:
        metrics = data.get("modelMetrics")
        for model, figures in metrics.items() if isinstance(metrics, dict) else ():
            usage = figures.get("usage") if isinstance(figures, dict) else None
            if not isinstance(usage, dict):
                continue
            prompt = fields.count(usage.get("inputTokens"))
            cached = min(fields.count(usage.get("cacheReadTokens")), prompt)
            seen = self.out.pop(model, 0)
            out.append(self._entry(
                f"{uuid}:{model}", "system", ts, model=model,
                input_tokens=prompt - cached, cache_read_tokens=cached,
                cache_write_tokens=fields.count(usage.get("cacheWriteTokens")),
                output_tokens=max(fields.count(usage.get("outputTokens")) - seen, 0),
                reasoning_tokens=fields.count(usage.get("reasoningTokens"))))
        self.out.clear()  # the next shutdown (after a resume) covers what follows


def _read_history(path: Path, offset: int, state: dict) -> ReadResult:
    """Stream a legacy history file; ship its timeline entries once per version."""
    shipped = Shipped(state.get("shipped"))

    def session(header: dict) -> str:
        return fields.text(header.get("sessionId")) or state.get("session") or path.stem

    def entries_of(item: Any, index: int, header: dict) -> list[Entry] | str:
        entries = _timeline_entries(item, session(header)) if isinstance(item, dict) else None
        if entries is None:
            # an item without an id is as good as malformed: nothing can name its entries
            return "unknown_type" if isinstance(item, dict) and item.get("id") else "malformed"
        return shipped.select(entries[0].uuid, entries)

    def finish(header: dict) -> None:
        state["session"] = session(header)
        state["shipped"] = shipped.to_state()

    return stream_document(path, offset, state, items="timeline", header=("sessionId",),
                           entries_of=entries_of, finish=finish)


_TIMELINE_ROLES = {"user": "user", "copilot": "assistant", "info": "system",
                   "error": "system", "warning": "system"}


def _timeline_entries(item: dict, session: str) -> list[Entry] | None:
    uuid = fields.text(item.get("id"))
    if uuid is None:
        return None
    kind = fields.text(item.get("type"))
    ts = iso_utc(item.get("timestamp"))
    if kind in _TIMELINE_ROLES:
        return [Entry(session, uuid, _TIMELINE_ROLES[kind], ts, text=fields.text(item.get("text")))]
    if kind != "tool_call_completed":
        return None
    call = fields.text(item.get("callId")) or f"{uuid}:call"
    name = fields.text(item.get("name"))
    result = item.get("result")
    log_text = result.get("log") if isinstance(result, dict) else None
    status = result.get("type") if isinstance(result, dict) else None
    use = Entry(session, call, "tool_use", ts, tool_name=name, has_tool_use=True)
    set_tool_input(use, item.get("arguments"))
    done = Entry(session, uuid, "tool_result", ts, tool_name=name,
                 is_error=status is not None and status != "success", parent_uuid=call)
    set_tool_output(done, log_text if isinstance(log_text, str) and log_text else None)
    return [use, done]




SOURCE = CopilotSource()
