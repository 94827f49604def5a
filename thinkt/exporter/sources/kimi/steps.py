"""The step assembler both Kimi formats share (:class:`Steps`), and the usage and
message content readers they have in common.
"""

from __future__ import annotations

import copy
from typing import Any

from thinkt.exporter.entry import Entry, iso_utc, utf8_len
from thinkt.exporter.sources.tooltext import set_tool_input

#: Integer epoch milliseconds from 1973 to 2103 take the fast path of :meth:`Steps.time`.
_MS_FROM, _MS_UNTIL = 100_000_000_000, 4_200_000_000_000
#: An open step holding more text than this (characters) ships what it has as its own
#: entry, so the state carried between reads stays small.
STEP_TEXT_MAX = 256 * 1024


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
            use = self.entry(self.uid(call["id"]), "tool_use", call["ts"], tool_name=call["name"],
                             has_tool_use=True, message_id=step["mid"],
                             parent_uuid=self.uid(step["id"]))
            set_tool_input(use, call["args"])
            self.out.append(use)

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


def parts_text(content: Any) -> str | None:
    """Return the text of a message content: a string, or a list of ``{type: text}`` parts."""
    if isinstance(content, str):
        return content or None
    if isinstance(content, list):
        texts = [part["text"] for part in content if isinstance(part, dict)
                 and part.get("type", "text") == "text" and isinstance(part.get("text"), str)]
        return "\n".join(texts) or None
    return None
