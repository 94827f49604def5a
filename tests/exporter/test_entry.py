"""The entry's wire shape and how a cut text says so."""

from __future__ import annotations

from thinkt.exporter.entry import Entry, clip


def entry(**fields) -> Entry:
    return Entry(session_id="s", uuid="u", role="tool_result", timestamp=None, **fields)


def test_a_text_that_fits_is_kept_and_not_flagged():
    item = entry()
    item.set_clipped_text("short", 64)
    assert (item.text, item.text_truncated, item.text_bytes) == ("short", False, 0)
    assert "text_truncated" not in item.to_wire() and "text_bytes" not in item.to_wire()


def test_a_cut_text_carries_the_flag_and_its_original_size_on_the_wire():
    original = "é" * 100  # 200 UTF-8 bytes
    item = entry()
    item.set_clipped_text(original, 64)
    assert item.text == clip(original, 64) and len(item.text.encode()) <= 64
    wire = item.to_wire()
    assert (wire["text_truncated"], wire["text_bytes"]) == (True, 200)


def test_no_text_stays_none():
    item = entry()
    item.set_clipped_text(None, 64)
    assert item.text is None and not item.text_truncated
