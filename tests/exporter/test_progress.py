"""Progress on a terminal."""

from __future__ import annotations

import io

from thinkt.exporter.report.progress import Progress


def test_progress_draws_on_a_terminal_then_erases_itself():
    stream = io.StringIO()
    progress = Progress(4_000_000, stream=stream, enabled=True)
    progress.advance("claude", 1_000_000)
    progress.finish()
    text = stream.getvalue()
    assert text.startswith("\rclaude:  25.0%  1.0 of 4.0 MB")
    assert text.endswith("\r\033[K")


def test_progress_is_silent_elsewhere():
    stream = io.StringIO()  # not a terminal
    progress = Progress(10, stream=stream)
    progress.advance("claude", 5)
    progress.finish()
    assert stream.getvalue() == "" and progress.done == 5
