"""Progress on a terminal, and the one-line summary per source."""

from __future__ import annotations

import io

from thinkt.exporter.ship.dispatcher import SourceCounts
from thinkt.exporter.report.progress import Progress, summary_line


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


def test_summary_line_says_what_happened_to_every_entry():
    counts = SourceCounts(files=3, entries_read=1200, entries_shipped=1000, duplicates=12,
                          entries_buffered=150, entries_rejected=50,
                          skipped={"malformed": 2, "bookkeeping": 40})
    assert summary_line("claude", counts) == (
        "claude: 3 files, 1,200 new entries (1,000 shipped, 12 already there, 150 buffered, "
        "50 rejected); skipped records: bookkeeping 40, malformed 2")
