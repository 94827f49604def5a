"""Claude Code sessions: ``~/.claude/projects/**/*.jsonl`` records turned into entries.

How records map (SOURCES.md section 1):

* ``assistant`` records: the text and thinking blocks of one line make one ``assistant``
  entry (text blocks joined; thinking only as ``thinking_len``/``has_thinking``); each
  ``tool_use`` block is its own ``tool_use`` entry. API error messages
  (``isApiErrorMessage``, model ``<synthetic>``) are ``assistant`` entries with
  ``is_error``. Every entry of the line carries the line's ``usage`` and ``message_id``
  (``message.id``, else ``requestId``): Claude Code writes one API response as several
  lines repeating the usage, with ``output_tokens`` growing on later lines, and the
  collector counts each ``message_id`` once with its largest values.
* ``user`` records: each ``tool_result`` block is a ``tool_result`` entry (``is_error``
  from the block; ``tool_name`` from the matching call when it was seen recently); text
  blocks (or a plain string) make one ``user`` entry. Records Claude Code injects itself
  (``isMeta``: skill bodies, hook reminders, command caveats) and the post-compaction
  summary (``isCompactSummary``) are ``system`` entries: the human did not type them.
  Slash commands and their ``<local-command-stdout>`` are kept as ``user`` (the human
  ran them), and so are "[Request interrupted by user]" markers.
* ``system`` records with text (``compact_boundary``, ``local_command``, ...) are
  ``system`` entries; ``stop_hook_summary`` and ``turn_duration`` carry no text and are
  bookkeeping, as are snapshots, progress ticks, queue operations, summaries (titles)
  and ``last-prompt``.

Ids: the first entry of a line takes the record's ``uuid``; further entries of the same
line take ``<uuid>#<n>`` (n = position among the line's entries), so re-reading yields
the same ids. A record without a ``uuid`` gets ``<file stem>:<byte offset>``.
Sessions: each entry takes its record's ``sessionId`` (a continued session switches id
inside one file); sub-agent transcripts keep the parent's and add ``agent_id``. The
project path is the first ``cwd`` of the file (``cwd`` itself follows every record).
Text: user and assistant text whole; a tool call's input as compact JSON cut to
``TOOL_INPUT_LIMIT``, a tool's output cut to ``TOOL_OUTPUT_LIMIT`` (entry.py), each
flagged ``text_truncated`` with its whole size when cut (:mod:`tooltext`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, Mapping

from thinkt.exporter.entry import Entry, iso_utc, utf8_len
from thinkt.exporter.sources import ReadResult, fields
from thinkt.exporter.sources.jsonl import read_records
from thinkt.exporter.sources.tooltext import set_tool_input, set_tool_output

log = logging.getLogger(__name__)

#: Record types that are not conversation: counted as "bookkeeping", never entries.
BOOKKEEPING_TYPES = frozenset({
    "file-history-snapshot", "progress", "queue-operation", "last-prompt", "summary",
    "attachment", "ai-title", "custom-title",
})
#: ``system`` subtypes without conversation content.
BOOKKEEPING_SUBTYPES = frozenset({"stop_hook_summary", "turn_duration"})
#: How many recent tool-call ids the state remembers to name the matching results.
_RECENT_TOOLS = 64


class ClaudeSource:
    """Claude Code: append-only JSONL per session, plus sub-agent transcripts."""

    name = "claude"
    whole_file = False

    def roots(self, home: Path, env: Mapping[str, str]) -> list[Path]:
        """Return ``$CLAUDE_CONFIG_DIR/projects`` (comma-separated list) or the defaults."""
        configured = [p.strip() for p in env.get("CLAUDE_CONFIG_DIR", "").split(",")]
        configured = [p for p in configured if p]
        if configured:
            return [Path(p).expanduser() / "projects" for p in configured]
        xdg = env.get("XDG_CONFIG_HOME") or str(home / ".config")
        # Claude Code's default, and the XDG location newer versions (and ccusage) also read.
        return [home / ".claude" / "projects", Path(xdg) / "claude" / "projects"]

    def matches(self, path: Path) -> bool:
        """Return True for ``projects/<dir>/<id>.jsonl`` and ``.../<id>/subagents/*.jsonl``."""
        parts = path.parts
        if not parts or not parts[-1].endswith(".jsonl"):
            return False
        if len(parts) >= 3 and parts[-3] == "projects":
            return True
        return len(parts) >= 5 and parts[-2] == "subagents" and parts[-5] == "projects"

    def discover(self, root: Path) -> Iterator[Path]:
        """Yield the session and sub-agent files under a ``projects`` directory."""
        if not root.is_dir():
            return
        found = set(root.glob("*/*.jsonl")) | set(root.glob("*/*/subagents/*.jsonl"))
        yield from sorted(p for p in found if p.is_file())

    def read(self, path: Path, offset: int, state: dict | None, final: bool = False,
             ) -> ReadResult:
        """Read complete new lines of ``path`` from ``offset``.

        Raises OSError only when the file cannot be opened or read (vanished, no access).
        """
        return read_records(path, offset, state, _Reader, final)


class _Reader:
    """Turns the records of one read into entries, carrying the small per-file state."""

    def __init__(self, path: Path, state: dict, result: ReadResult) -> None:
        self.stem = path.stem
        self.result = result
        self.state = state
        # The session a record without sessionId belongs to: the last one seen, else the
        # file's own name (for sub-agent files, the parent session's directory).
        fallback = path.parent.parent.name if path.parent.name == "subagents" else path.stem
        self.session = state.get("session") or fallback
        self.project = state.get("project")
        self.tools: dict[str, str] = dict(state.get("tools") or {})

    def save(self) -> None:
        """Write what the next read needs back into the state."""
        self.state["session"] = self.session
        if self.project:
            self.state["project"] = self.project
        self.state["tools"] = self.tools

    def remember(self, call_id: str, name: str) -> None:
        """Remember a tool call's name for its result, forgetting the oldest beyond a bound."""
        self.tools[call_id] = name
        if len(self.tools) > _RECENT_TOOLS:
            del self.tools[next(iter(self.tools))]

    def record(self, record: dict, line_offset: int) -> None:
        """Emit the entries of one record, or count why it has none."""
        kind = record.get("type")
        if kind == "assistant":
            self.assistant(record, line_offset)
        elif kind == "user":
            self.user(record, line_offset)
        elif kind == "system":
            self.system(record, line_offset)
        elif isinstance(kind, str) and kind in BOOKKEEPING_TYPES:
            self.result.skip("bookkeeping")
        else:
            self.result.skip("unknown_type")

    def entry(self, record: dict, line_offset: int, index: int, role: str) -> Entry:
        """Build the ``index``-th entry of a record with the record-level fields filled."""
        base = fields.text(record.get("uuid")) or f"{self.stem}:{line_offset}"
        self.session = fields.text(record.get("sessionId")) or self.session
        cwd = fields.text(record.get("cwd"))
        if cwd and self.project is None:
            self.project = cwd  # a session's project is where it started, even after `cd`
        return Entry(
            session_id=self.session,
            uuid=base if index == 0 else f"{base}#{index}",
            role=role,
            timestamp=iso_utc(record.get("timestamp")),
            project_path=self.project or cwd,
            cwd=cwd,
            agent_id=fields.text(record.get("agentId")),
            git_branch=fields.text(record.get("gitBranch")),
            parent_uuid=fields.text(record.get("parentUuid")),
        )

    def message(self, record: dict) -> dict | None:
        """Return the record's message, counting records that lack one."""
        message = record.get("message")
        if not isinstance(message, dict):
            self.result.skip("missing_fields")
            return None
        return message

    def assistant(self, record: dict, line_offset: int) -> None:
        """One assistant entry for text/thinking, one tool_use entry per call."""
        message = self.message(record)
        if message is None:
            return
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        elif not isinstance(content, list):
            content = []
        texts: list[str] = []
        thinking_len = 0
        has_thinking = False
        calls: list[dict] = []
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                text = block.get("text")
                if isinstance(text, str):
                    texts.append(text)
            elif kind == "thinking":
                has_thinking = True
                thinking = block.get("thinking")
                if isinstance(thinking, str):
                    thinking_len += utf8_len(thinking)
            elif kind == "redacted_thinking":
                has_thinking = True  # encrypted by the API: there is no text to measure
            elif kind in ("tool_use", "server_tool_use"):
                calls.append(block)
            else:
                self.result.skip("unknown_block")
        is_error = record.get("isApiErrorMessage") is True
        usage = message.get("usage")
        usage = usage if isinstance(usage, dict) else None
        if not (texts or has_thinking or calls or is_error or usage):
            self.result.skip("empty")
            return
        model = fields.text(message.get("model"))
        message_id = fields.text(message.get("id")) or fields.text(record.get("requestId"))
        if message_id is None and usage:
            # No provider id: the line's own id keeps its entries counted once together.
            message_id = fields.text(record.get("uuid")) or f"{self.stem}:{line_offset}"
        entries = self.result.entries
        index = 0
        if texts or has_thinking or is_error or not calls:
            entry = self.entry(record, line_offset, index, "assistant")
            entry.text = "\n\n".join(texts) if texts else None
            entry.has_thinking = has_thinking
            entry.thinking_len = thinking_len
            entry.is_error = is_error
            _fill(entry, model, message_id, usage)
            entries.append(entry)
            index += 1
        for call in calls:
            entry = self.entry(record, line_offset, index, "tool_use")
            entry.tool_name = fields.text(call.get("name"))
            entry.has_tool_use = True
            set_tool_input(entry, call.get("input"))
            _fill(entry, model, message_id, usage)
            call_id = call.get("id")
            if isinstance(call_id, str) and entry.tool_name:
                self.remember(call_id, entry.tool_name)
            entries.append(entry)
            index += 1

    def user(self, record: dict, line_offset: int) -> None:
        """Tool results one entry each; human (or injected) text one entry."""
        message = self.message(record)
        if message is None:
            return
        content = message.get("content")
        injected = record.get("isMeta") is True or record.get("isCompactSummary") is True
        entries = self.result.entries
        if isinstance(content, str):
            entry = self.entry(record, line_offset, 0, "system" if injected else "user")
            entry.text = content
            entries.append(entry)
            return
        if not isinstance(content, list):
            self.result.skip("missing_fields")
            return
        texts: list[str] = []
        attached = False
        index = 0
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "tool_result":
                entry = self.entry(record, line_offset, index, "tool_result")
                entry.is_error = block.get("is_error") is True
                set_tool_output(entry, _result_text(block.get("content")))
                call_id = block.get("tool_use_id")
                if isinstance(call_id, str):
                    entry.tool_name = self.tools.get(call_id)
                entries.append(entry)
                index += 1
            elif kind == "text":
                text = block.get("text")
                if isinstance(text, str):
                    texts.append(text)
            elif kind in ("image", "document"):
                attached = True  # pasted by the user: a turn, though it has no text to ship
        if texts or (attached and not index):
            entry = self.entry(record, line_offset, index, "system" if injected else "user")
            entry.text = "\n\n".join(texts) if texts else None
            entries.append(entry)
            index += 1
        if not index:
            self.result.skip("empty")

    def system(self, record: dict, line_offset: int) -> None:
        """System records with text are entries; hook summaries and timings are not."""
        content = record.get("content")
        if isinstance(content, str) and content:
            entry = self.entry(record, line_offset, 0, "system")
            entry.text = content
            entry.is_error = record.get("level") == "error"
            self.result.entries.append(entry)
        elif isinstance(record.get("subtype"), str) and record["subtype"] in BOOKKEEPING_SUBTYPES:
            self.result.skip("bookkeeping")
        else:
            self.result.skip("unknown_subtype")


def _fill(entry: Entry, model: str | None, message_id: str | None, usage: dict | None) -> None:
    """Set the API-response fields shared by every entry of an assistant line."""
    entry.model = model
    entry.message_id = message_id
    if usage:
        entry.input_tokens = fields.count(usage.get("input_tokens"))
        entry.output_tokens = fields.count(usage.get("output_tokens"))
        entry.cache_read_tokens = fields.count(usage.get("cache_read_input_tokens"))
        entry.cache_write_tokens = fields.count(usage.get("cache_creation_input_tokens"))


def _result_text(content: Any) -> str | None:
    """Return a tool result's output text: a string, or the text of its blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        text = "\n".join(p for p in parts if isinstance(p, str))
        return text or None
    return None


SOURCE = ClaudeSource()
