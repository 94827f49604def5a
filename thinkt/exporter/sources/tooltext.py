"""The text of tool calls and results, cut to their limits with the entry saying so.

Every source cuts a tool's output to ``TOOL_OUTPUT_LIMIT`` and renders a tool call's
input as compact JSON cut to ``TOOL_INPUT_LIMIT`` (entry.py). A cut entry has
``text_truncated`` set and ``text_bytes`` = the UTF-8 size of the text uncut: for an
input, of its whole rendering, which the cut text alone cannot tell.
"""

from __future__ import annotations

import sys
from typing import Any

from thinkt.exporter.entry import (
    TOOL_INPUT_LIMIT, TOOL_OUTPUT_LIMIT, Entry, clip, tool_input_text, utf8_len)


def input_text(value: Any) -> tuple[str | None, str | None]:
    """Return a tool input's text (what ``tool_input_text`` gives) and, when that was cut,
    its whole rendering (else None)."""
    # Rendered whole, then cut: the text tool_input_text gives (it shortens long strings
    # only to skip rendering what the cut drops), and a cut input's whole rendering is at
    # hand. An input within the limit costs what it did; a cut one, one rendering.
    whole = tool_input_text(value, sys.maxsize)
    if whole is None:
        return None, None
    text = clip(whole, TOOL_INPUT_LIMIT)
    return text, None if text is whole else whole


def set_tool_input(entry: Entry, value: Any) -> None:
    """Set ``entry.text`` to a tool call's input, saying so when it was cut."""
    entry.text, whole = input_text(value)
    if whole is not None:
        entry.text_truncated = True
        entry.text_bytes = utf8_len(whole)


def set_tool_output(entry: Entry, text: str | None, whole: str | None = None) -> None:
    """Set ``entry.text`` to a tool's output cut to ``TOOL_OUTPUT_LIMIT``, saying so when
    it was cut.

    ``whole`` is the output uncut when parts of ``text`` were cut already (JSON response
    bodies rendered by :func:`input_text`): the entry is then cut whatever its length.
    """
    entry.set_clipped_text(text, TOOL_OUTPUT_LIMIT)
    if whole is not None:
        entry.text_truncated = True
        entry.text_bytes = utf8_len(whole)
