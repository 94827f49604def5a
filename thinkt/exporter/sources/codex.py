"""OpenAI Codex CLI rollouts: ``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`` into entries.

Every line is ``{timestamp, type, payload}`` and none has an id, so an entry's ``uuid``
is ``<session id>:<byte offset of its line>``: stable across re-reads, unique in the
session. The session id, project path, git branch and current model come from
``session_meta`` / ``turn_context`` lines and travel in the read state.

Codex writes the conversation twice: as ``response_item`` (what went to the model,
including injected ``developer`` instructions and ``<environment_context>`` blobs
written as ``user`` messages) and as ``event_msg`` (what the user saw). We take human
prompts, assistant text and reasoning from ``event_msg`` (``user_message``,
``agent_message``, ``agent_reasoning``): ``user_message`` is exactly what the human
typed, which the ``user`` response items cannot tell apart from injected context.
Tool calls and their outputs exist only as ``response_item`` and are taken from there.
The duplicate ``message``/``reasoning`` items are counted as "duplicate", not shipped.
Rollouts from before the envelope (early 2025: bare response items, no events) have
only the one stream, so there ``message`` and ``reasoning`` items become the entries.

Tokens (SOURCES.md): ``token_count`` events carry the cumulative
``total_token_usage``; recent versions write each event twice. Each increase of the
total becomes one ``system`` entry on the ``token_count`` line itself (no text; model
set; ``message_id`` = its uuid), so totals are exact whatever the read boundaries and
nothing waits in the state for a later line. An unchanged total adds nothing; a total
that went down means the counter restarted, so the new total is counted whole and is
the new baseline; an event without a total counts its ``last_token_usage``.
``input_tokens`` = input - cached input, ``cache_read_tokens`` = cached input,
``output_tokens`` = output (reasoning included), ``reasoning_tokens`` = reasoning output.
The ``message_id`` of an increase is ``<history owner>@<cumulative total>``, the owner
being the id of the latest ``session_meta``: a forked rollout starts with its own
``session_meta``, then replays the parent's lines as they were (the parent's
``session_meta`` and ``token_count`` events included) and continues the parent's
cumulative total, so the replayed increases get the very ids the parent's file gave
them and the collector counts them once. (A line's uuid would not do: offsets differ.)
An event without a total keeps its uuid as ``message_id``.

Tool errors: Codex has no error flag. An output that states an exit code (JSON
``metadata.exit_code``, or an ``Exit code: N`` / ``Process exited with code N`` header)
gives ``is_error`` = code != 0; an explicit ``success: false`` gives True. Anything else
(plain text such as "patch rejected: ...", redacted outputs, custom tool outputs without
a header) is unknown and left ``is_error`` False.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

from thinkt.exporter.entry import Entry, iso_utc, utf8_len
from thinkt.exporter.sources import ReadResult, env_dir, fields
from thinkt.exporter.sources.jsonl import read_records
from thinkt.exporter.sources.tooltext import set_tool_input, set_tool_output

log = logging.getLogger(__name__)

#: ``event_msg`` types that are not conversation (their content is elsewhere or nil).
BOOKKEEPING_EVENTS = frozenset({
    "task_started", "task_complete", "context_compacted", "agent_reasoning_raw_content",
    "agent_reasoning_section_break", "entered_review_mode", "exited_review_mode",
    "thread_rolled_back", "undo_started", "undo_completed", "plan_update",
})
#: ``response_item`` types that are tool calls, and how each names its input field.
_CALLS = {"function_call": "arguments", "custom_tool_call": "input",
          "local_shell_call": "action", "web_search_call": "action",
          "tool_search_call": "arguments"}
_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output",
                      "local_shell_call_output", "tool_search_output"})
_TOOL_NAMES = {"local_shell_call": "local_shell", "web_search_call": "web_search",
               "tool_search_call": "tool_search"}
_USAGE_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens",
                 "reasoning_output_tokens")
#: Exit-code headers Codex puts before a command's output (older and unified exec).
_EXIT_CODE = re.compile(r"^(?:Exit code:|Process exited with code) *(-?\d+)", re.MULTILINE)
_HEADER_BYTES = 512
_SESSION_IN_NAME = re.compile(
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$", re.IGNORECASE)
#: How many recent call ids the state remembers to name their outputs.
_RECENT_CALLS = 64
#: Injected context Codex writes as ``user`` messages (only used for pre-envelope files).
_INJECTED_PREFIXES = ("<environment_context>", "<user_instructions>", "# AGENTS.md")


class CodexSource:
    """Codex CLI / IDE extension / desktop app rollouts (append-only JSONL)."""

    name = "codex"
    whole_file = False

    def roots(self, home: Path, env: Mapping[str, str]) -> list[Path]:
        """Return ``sessions`` and ``archived_sessions`` of ``$CODEX_HOME`` (or ``~/.codex``).

        Archiving a session (``codex`` UI, app) moves its rollout into the flat
        ``archived_sessions``: a session archived before it was read is still there.
        """
        base = env_dir(env, "CODEX_HOME", home / ".codex")
        return [base / "sessions", base / "archived_sessions"]

    def matches(self, path: Path) -> bool:
        """Return True for ``rollout-*.jsonl`` files."""
        name = path.name
        return name.startswith("rollout-") and name.endswith(".jsonl")

    def discover(self, root: Path) -> Iterator[Path]:
        """Yield every rollout under ``root`` (dated sub-directories included)."""
        if not root.is_dir():
            return
        yield from sorted(p for p in root.rglob("rollout-*.jsonl") if p.is_file())

    def read(self, path: Path, offset: int, state: dict | None, final: bool = False,
             ) -> ReadResult:
        """Read complete new lines of ``path`` from ``offset``.

        Raises OSError only when the file cannot be opened or read (vanished, no access).
        """
        return read_records(path, offset, state, _Reader, final)


class _Reader:
    """Turns the lines of one read into entries, carrying the small per-file state."""

    def __init__(self, path: Path, state: dict, result: ReadResult) -> None:
        self.result = result
        self.state = state
        found = _SESSION_IN_NAME.search(path.name)
        self.session: str = state.get("session") or (found.group(1) if found else path.stem)
        self.project: str | None = state.get("project")
        self.cwd: str | None = state.get("cwd")
        self.branch: str | None = state.get("branch")
        self.model: str | None = state.get("model")
        total = state.get("total")
        self.total: list[int] | None = list(total) if total else None
        self.calls: dict[str, str] = dict(state.get("calls") or {})
        self.meta_seen: bool = bool(state.get("meta_seen"))
        #: Whose history the lines belong to: the latest session_meta (a fork replays its
        #: parent's lines after its own session_meta).
        self.owner: str | None = state.get("owner")

    def save(self) -> None:
        """Write what the next read needs back into the state."""
        self.state.update(session=self.session, project=self.project, cwd=self.cwd,
                          branch=self.branch, model=self.model, total=self.total,
                          calls=self.calls, meta_seen=self.meta_seen, owner=self.owner)

    def record(self, record: dict, line_offset: int) -> None:
        """Emit the entries of one line, or count why it has none."""
        kind = record.get("type")
        payload = record.get("payload")
        if "payload" not in record:
            self.bare(record, line_offset)
        elif not isinstance(payload, dict):
            self.result.skip("missing_fields")
        elif kind == "event_msg":
            self.event(payload, record, line_offset)
        elif kind == "response_item":
            self.item(payload, record, line_offset, legacy=False)
        elif kind == "turn_context":
            self.context(payload)
        elif kind == "session_meta":
            self.meta(payload)
        elif kind == "compacted":
            message = payload.get("message")
            entry = self.entry(record, line_offset, "system")
            entry.text = fields.text(message) or "Context compacted"
            self.result.entries.append(entry)
        else:
            self.result.skip("unknown_type")

    def entry(self, record: dict, line_offset: int, role: str) -> Entry:
        """Build the entry of one line with the session-level fields filled."""
        return Entry(
            session_id=self.session,
            uuid=f"{self.session}:{line_offset}",
            role=role,
            timestamp=iso_utc(record.get("timestamp")),
            project_path=self.project or self.cwd,
            cwd=self.cwd,
            git_branch=self.branch,
        )

    def meta(self, payload: dict) -> None:
        """Take session id, project and branch from the (first) session_meta."""
        self.result.skip("bookkeeping")
        self.owner = fields.text(payload.get("id")) or self.owner
        if self.meta_seen:
            return  # a later meta (resumed/forked history) does not rename the session
        self.meta_seen = True
        self.session = fields.text(payload.get("id")) or self.session
        cwd = fields.text(payload.get("cwd"))
        if cwd:
            self.project = self.project or cwd
            self.cwd = cwd
        git = payload.get("git")
        if isinstance(git, dict):
            self.branch = fields.text(git.get("branch"))

    def context(self, payload: dict) -> None:
        """Follow the model and working directory of the current turn."""
        self.result.skip("bookkeeping")
        model = fields.text(payload.get("model"))
        if model is None:
            mode = payload.get("collaboration_mode")
            settings = mode.get("settings") if isinstance(mode, dict) else None
            model = fields.text(settings.get("model")) if isinstance(settings, dict) else None
        self.model = model or self.model
        cwd = fields.text(payload.get("cwd"))
        if cwd:
            self.cwd = cwd
            self.project = self.project or cwd

    def event(self, payload: dict, record: dict, line_offset: int) -> None:
        """User prompts, assistant text, reasoning and token counts."""
        kind = payload.get("type")
        entries = self.result.entries
        if not isinstance(kind, str):
            self.result.skip("unknown_event")
        elif kind == "token_count":
            self.tokens(payload, record, line_offset)
        elif kind in ("user_message", "agent_message"):
            message = payload.get("message")
            if not isinstance(message, str):
                self.result.skip("missing_fields")
                return
            entry = self.entry(record, line_offset,
                               "user" if kind == "user_message" else "assistant")
            entry.text = message
            if kind == "agent_message":
                entry.model = self.model
            entries.append(entry)
        elif kind == "agent_reasoning":
            text = payload.get("text")
            entry = self.entry(record, line_offset, "assistant")
            entry.has_thinking = True
            entry.thinking_len = utf8_len(text) if isinstance(text, str) else 0
            entry.model = self.model
            entries.append(entry)
        elif kind == "turn_aborted":
            entry = self.entry(record, line_offset, "system")
            reason = payload.get("reason")
            entry.text = f"Turn aborted: {reason}" if isinstance(reason, str) else "Turn aborted"
            entries.append(entry)
        elif kind in ("error", "stream_error"):
            message = payload.get("message")
            entry = self.entry(record, line_offset, "system")
            entry.text = message if isinstance(message, str) else kind
            entry.is_error = True
            entries.append(entry)
        elif kind in BOOKKEEPING_EVENTS:
            self.result.skip("bookkeeping")
        else:
            self.result.skip("unknown_event")

    def item(self, payload: dict, record: dict, line_offset: int, legacy: bool) -> None:
        """Tool calls and outputs; messages and reasoning only where no events exist."""
        kind = payload.get("type")
        if not isinstance(kind, str):
            self.result.skip("unknown_item")
        elif kind in _CALLS:
            entry = self.entry(record, line_offset, "tool_use")
            entry.tool_name = fields.text(payload.get("name")) or _TOOL_NAMES.get(kind)
            entry.has_tool_use = True
            set_tool_input(entry, payload.get(_CALLS[kind]))
            entry.model = self.model
            call_id = payload.get("call_id")
            if isinstance(call_id, str) and entry.tool_name:
                self.remember(call_id, entry.tool_name)
            self.result.entries.append(entry)
        elif kind in _OUTPUTS:
            entry = self.entry(record, line_offset, "tool_result")
            text, is_error = _output(payload.get("output"))
            set_tool_output(entry, text)
            entry.is_error = is_error
            call_id = payload.get("call_id")
            if isinstance(call_id, str):
                entry.tool_name = self.calls.get(call_id)
            self.result.entries.append(entry)
        elif kind in ("message", "reasoning"):
            if legacy:
                self.legacy_item(kind, payload, record, line_offset)
            else:
                self.result.skip("duplicate")  # the event_msg stream carries it
        elif kind in ("ghost_snapshot", "compaction", "compaction_summary"):
            self.result.skip("bookkeeping")
        else:
            self.result.skip("unknown_item")

    def legacy_item(self, kind: str, payload: dict, record: dict, line_offset: int) -> None:
        """A message or reasoning item of a pre-envelope rollout (its only stream)."""
        if kind == "reasoning":
            summary = payload.get("summary")
            parts = [s.get("text") for s in summary if isinstance(s, dict)] \
                if isinstance(summary, list) else []
            entry = self.entry(record, line_offset, "assistant")
            entry.has_thinking = True
            entry.thinking_len = sum(utf8_len(p) for p in parts if isinstance(p, str))
            entry.model = self.model
            self.result.entries.append(entry)
            return
        content = payload.get("content")
        parts = [c.get("text") for c in content if isinstance(c, dict)] \
            if isinstance(content, list) else []
        text = "\n\n".join(p for p in parts if isinstance(p, str))
        role = payload.get("role")
        if role == "assistant":
            entry = self.entry(record, line_offset, "assistant")
            entry.model = self.model
        elif role == "user" and not text.lstrip().startswith(_INJECTED_PREFIXES):
            entry = self.entry(record, line_offset, "user")
        else:
            entry = self.entry(record, line_offset, "system")
        entry.text = text
        self.result.entries.append(entry)

    def bare(self, record: dict, line_offset: int) -> None:
        """A line without the envelope: the pre-envelope rollout format."""
        kind = record.get("type")
        if isinstance(kind, str):
            self.item(record, record, line_offset, legacy=True)
        elif record.get("record_type") == "state":
            self.result.skip("bookkeeping")
        elif isinstance(record.get("id"), str) and "timestamp" in record:
            self.meta(record)  # the old first line: {id, timestamp, instructions}
        else:
            self.result.skip("unknown_type")

    def tokens(self, payload: dict, record: dict, line_offset: int) -> None:
        """Ship the increase of the cumulative usage on this line's own entry."""
        info = payload.get("info")
        if not isinstance(info, dict):
            self.result.skip("bookkeeping")  # rate-limit-only update
            return
        total = _usage(info.get("total_token_usage"))
        if total is not None:
            previous = self.total
            if total == previous:
                self.result.skip("bookkeeping")  # a repeated event: nothing new
                return
            self.total = total
            increase = [t - p for t, p in zip(total, previous)] if previous else total
            if min(increase) < 0:
                increase = total  # the counter restarted: all of the new total is new
        else:
            increase = _usage(info.get("last_token_usage"))
        if not increase or not any(increase):
            self.result.skip("bookkeeping")  # a repeated event: nothing new
            return
        entry = self.entry(record, line_offset, "system")
        fresh, cached, output, reasoning = increase
        entry.input_tokens = max(fresh - cached, 0)
        entry.cache_read_tokens = cached
        entry.output_tokens = output
        entry.reasoning_tokens = reasoning
        entry.model = self.model
        entry.message_id = (f"{self.owner or self.session}@{'.'.join(map(str, total))}"
                            if total is not None else entry.uuid)
        self.result.entries.append(entry)

    def remember(self, call_id: str, name: str) -> None:
        """Remember a call's tool name for its output, forgetting the oldest beyond a bound."""
        self.calls[call_id] = name
        if len(self.calls) > _RECENT_CALLS:
            del self.calls[next(iter(self.calls))]


def _usage(value: Any) -> list[int] | None:
    """Return ``[input, cached, output, reasoning]`` of a usage object, or None."""
    if not isinstance(value, dict):
        return None
    return [fields.count(n) for n in map(value.get, _USAGE_FIELDS)]


def _output(output: Any) -> tuple[str | None, bool]:
    """Return a tool output's text and whether it says the tool failed."""
    success = None
    if isinstance(output, dict):  # {content, success} in some versions
        success = output.get("success")
        output = output.get("content", output.get("output"))
    if isinstance(output, list):  # content items: keep their text
        parts = [p.get("text") for p in output if isinstance(p, dict)]
        output = "\n".join(p for p in parts if isinstance(p, str))
    if not isinstance(output, str):
        return None, success is False
    text = output
    code = None
    if output.startswith("{") and '"exit_code"' in output:
        try:
            decoded = json.loads(output)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            meta = decoded.get("metadata")
            if isinstance(meta, dict) and isinstance(meta.get("exit_code"), int):
                code = meta["exit_code"]
            if isinstance(decoded.get("output"), str):
                text = decoded["output"]
    else:
        found = _EXIT_CODE.search(output, 0, _HEADER_BYTES)
        if found:
            code = int(found.group(1))
    if success is False:
        return text, True
    return text, code is not None and code != 0


SOURCE = CodexSource()
