"""Qwen Code sessions (``~/.qwen/projects/<cwd with / as ->/chats/<session>.jsonl``) as entries.

One record per line, shaped like Claude Code's (``uuid``, ``parentUuid``, ``sessionId``,
``timestamp``, ``type``, ``cwd``) with Gemini ``parts`` as content:

- ``user`` -> ``user``: what the human typed (``systemPayload.displayText`` where newer
  versions keep it, else the text parts joined, which may carry expanded ``@file``
  contents and hook context). Newer versions also write ``user`` records the human did
  not type, told apart by ``subtype`` (``cron``, ``notification``, ``goal_runtime``,
  ``agent_message``) and ``provenance`` (anything but ``real_user``): those are
  ``system``. A ``mid_turn_user_message`` (typed while tools ran) is the human's.
- ``assistant`` -> one ``assistant`` entry (uuid = record uuid; text parts, ``thought``
  parts counted in ``thinking_len``; ``usageMetadata`` tokens; ``message_id`` = record
  uuid, one record per API response) and one ``tool_use`` per ``functionCall`` part
  (uuid ``<record uuid>:<call id>``).
- ``tool_result`` -> ``tool_result`` per ``functionResponse`` part; ``is_error`` when
  ``toolCallResult.status`` is ``error`` or the response holds an ``error``.
- ``system`` records (``ui_telemetry``, ``attribution_snapshot``, ...) are bookkeeping:
  the telemetry copy of each API response's usage is not counted again.

Records a subagent wrote into the session (``agentId``, ``isSidechain``) carry ``agent_id``.

Tokens: ``promptTokenCount`` includes ``cachedContentTokenCount``, so ``input_tokens =
prompt - cached`` and ``cache_read_tokens = cached``. Whether ``candidatesTokenCount``
includes ``thoughtsTokenCount`` depends on the backend Qwen Code converted the response
from: Gemini's API reports thoughts apart (``total = prompt + candidates + thoughts``),
while its OpenAI-compatible converter (the default Qwen/DashScope backends) copies
``completion_tokens``, which already holds the ``reasoning_tokens`` it also copies into
``thoughtsTokenCount`` (``total = prompt + candidates``). The total tells which: output
is ``candidates + thoughts`` only where the thoughts are apart. Without a total, thoughts
larger than candidates can only be apart; otherwise the OpenAI shape is assumed.
``reasoning_tokens = thoughts``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, Mapping

from thinkt.exporter.entry import Entry, iso_utc, utf8_len
from thinkt.exporter.sources import ReadResult, env_dir, fields, find
from thinkt.exporter.sources.jsonl import read_records
from thinkt.exporter.sources.tooltext import input_text, set_tool_input, set_tool_output

log = logging.getLogger(__name__)


#: ``user`` record subtypes Qwen Code writes itself (scheduled prompts, background-task and
#: other agents' notices): the human did not type them.
_INJECTED_SUBTYPES = frozenset({"cron", "notification", "goal_runtime", "agent_message"})
#: ``user`` record subtypes that are the human's own words.
_HUMAN_SUBTYPES = frozenset({"mid_turn_user_message", "agent_mention"})


class QwenSource:
    """Qwen Code chat sessions."""

    name = "qwen"
    whole_file = False

    def roots(self, home: Path, env: Mapping[str, str]) -> list[Path]:
        """Return the ``projects`` directories Qwen Code keeps chats in.

        The Qwen directory is ``$QWEN_HOME`` (else ``~/.qwen``); newer versions put
        sessions under the runtime directory ``$QWEN_RUNTIME_DIR`` when it is set, and
        sessions written before it was set stay in the Qwen directory.
        """
        qwen_dir = env_dir(env, "QWEN_HOME", home / ".qwen")
        runtime_dir = env_dir(env, "QWEN_RUNTIME_DIR", qwen_dir)
        roots = [runtime_dir / "projects"]
        if runtime_dir != qwen_dir:
            roots.append(qwen_dir / "projects")
        return roots

    def matches(self, path: Path) -> bool:
        """Return True for ``projects/<project>/chats/<session>.jsonl``."""
        return (path.suffix == ".jsonl" and path.parent.name == "chats"
                and path.parent.parent.parent.name == "projects")

    def discover(self, root: Path) -> Iterator[Path]:
        """Yield every chat session file under ``root``."""
        return find(root, "*.jsonl", self.matches)

    def read(self, path: Path, offset: int, state: dict | None, final: bool = False,
             ) -> ReadResult:
        """Read new records of a session file (OSError propagates if it vanished)."""
        return read_records(path, offset, state, _Reader, final)


class _Reader:
    """The records of one read of a Qwen Code session (see ``jsonl.read_records``)."""

    def __init__(self, path: Path, state: dict, result: ReadResult) -> None:
        self.state = state
        self.result = result
        state.setdefault("session", path.stem)

    def record(self, record: dict, line_offset: int) -> None:
        """Turn one record into entries."""
        kind = fields.text(record.get("type"))
        build = _BUILDERS.get(kind)
        if build is None:
            self.result.skip("bookkeeping" if kind == "system" else "unknown_type")
            return
        uuid = fields.text(record.get("uuid"))
        message = record.get("message")
        if uuid is None or not isinstance(message, dict):
            self.result.skip("malformed")
            return
        # Every record repeats the session and cwd; remember them for records missing them.
        state = self.state
        state["session"] = fields.text(record.get("sessionId")) or state["session"]
        state["cwd"] = fields.text(record.get("cwd")) or state.get("cwd")
        base = Entry(state["session"], uuid, "user", iso_utc(record.get("timestamp")),
                     state["cwd"], parent_uuid=fields.text(record.get("parentUuid")),
                     agent_id=fields.text(record.get("agentId")))
        self.result.entries.extend(build(base, record, message))

    def save(self) -> None:
        """Nothing to carry beyond the session id and cwd, kept as records arrive."""


def _parts(message: dict) -> list[dict]:
    parts = message.get("parts")
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def _user(base: Entry, record: dict, message: dict) -> list[Entry]:
    subtype = record.get("subtype")
    provenance = record.get("provenance")
    if subtype in _INJECTED_SUBTYPES:
        human = False
    elif isinstance(provenance, str):
        human = provenance == "real_user"
    else:
        human = subtype is None or subtype in _HUMAN_SUBTYPES
    payload = record.get("systemPayload")
    typed = fields.text(payload.get("displayText")) if isinstance(payload, dict) else None
    base.role = "user" if human else "system"
    base.text = typed or "\n".join(
        p["text"] for p in _parts(message)
        if isinstance(p.get("text"), str) and not p.get("thought")) or None
    return [base]


def _assistant(base: Entry, record: dict, message: dict) -> list[Entry]:
    base.role = "assistant"
    base.model = fields.text(record.get("model"))
    base.message_id = base.uuid
    texts, calls = [], []
    for part in _parts(message):
        text = part.get("text")
        if isinstance(text, str):
            if part.get("thought"):
                base.has_thinking = True
                base.thinking_len += utf8_len(text)
            else:
                texts.append(text)
        elif isinstance(part.get("functionCall"), dict):
            calls.append(part["functionCall"])
        elif part.get("thought"):
            base.has_thinking = True
    base.text = "\n".join(texts) or None
    usage = record.get("usageMetadata")
    if isinstance(usage, dict):
        _set_usage(base, usage)
    entries = [base]
    for number, call in enumerate(calls):
        use = Entry(
            base.session_id, f"{base.uuid}:{fields.text(call.get('id')) or number}", "tool_use",
            base.timestamp, base.project_path, model=base.model,
            tool_name=fields.text(call.get("name")), has_tool_use=True,
            message_id=base.uuid, parent_uuid=base.uuid)
        set_tool_input(use, call.get("args"))
        entries.append(use)
    return entries


def _set_usage(entry: Entry, usage: dict) -> None:
    """Copy a ``usageMetadata`` onto ``entry``, counting the thoughts once (module docstring)."""
    prompt = fields.count(usage.get("promptTokenCount"))
    cached = min(fields.count(usage.get("cachedContentTokenCount")), prompt)
    candidates = fields.count(usage.get("candidatesTokenCount"))
    thoughts = fields.count(usage.get("thoughtsTokenCount"))
    total = fields.count(usage.get("totalTokenCount"))
    if total:
        apart = total >= prompt + candidates + thoughts
    else:
        apart = thoughts > candidates
    entry.input_tokens = prompt - cached
    entry.cache_read_tokens = cached
    entry.output_tokens = candidates + thoughts if apart else candidates
    entry.reasoning_tokens = min(thoughts, entry.output_tokens)


def _tool_result(base: Entry, record: dict, message: dict) -> list[Entry]:
    outcome = record.get("toolCallResult")
    failed = isinstance(outcome, dict) and outcome.get("status") == "error"
    entries = []
    responses = [p["functionResponse"] for p in _parts(message)
                 if isinstance(p.get("functionResponse"), dict)]
    for number, response in enumerate(responses or [{}]):
        body = response.get("response")
        text, whole = _response_text(body)
        if text is None and isinstance(outcome, dict):
            text = fields.text(outcome.get("resultDisplay"))
        done = Entry(
            base.session_id, base.uuid if number == 0 else f"{base.uuid}:{number}",
            "tool_result", base.timestamp, base.project_path,
            tool_name=fields.text(response.get("name")),
            is_error=failed or (isinstance(body, dict) and "error" in body),
            parent_uuid=base.parent_uuid)
        set_tool_output(done, text or None, whole)
        entries.append(done)
    return entries


def _response_text(body: Any) -> tuple[str | None, str | None]:
    """Return a response body's text and, when it was cut (a JSON body), its whole text."""
    if isinstance(body, dict):
        value = body.get("output", body.get("error"))
        if isinstance(value, str):
            return value or None, None
        return input_text(body)
    return (body if isinstance(body, str) and body else None), None


_BUILDERS = {"user": _user, "assistant": _assistant, "tool_result": _tool_result}

SOURCE = QwenSource()
