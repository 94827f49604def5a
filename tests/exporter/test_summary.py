"""What a one-shot run says at the end: a line per source, and a verdict that is true."""

from __future__ import annotations

from pathlib import Path

from thinkt.exporter.report.counters import BUFFER, Counters, SourceCounts
from thinkt.exporter.report.summary import judge, summary_line
from thinkt.status import ExitStatus

BUFFER_DIR = Path("/state/export-buffer")


def test_summary_line_says_what_happened_to_every_entry():
    counts = SourceCounts(files=3, entries_read=1200, entries_shipped=1000, duplicates=12,
                          entries_buffered=140, entries_rejected=50, entries_unsent=10,
                          entries_clipped=1, skipped={"malformed": 2, "bookkeeping": 40})
    assert summary_line("claude", counts) == (
        "claude: 3 files, 1,200 new entries (1,000 shipped, 12 already there, 140 buffered, "
        "50 rejected, 10 not sent, 1 clipped to fit a request); skipped records: "
        "bookkeeping 40, malformed 2")


def verdict(buffer_files=0, stopped=False, **counts):
    counters = Counters()
    counters.add("claude", files=1, **counts)
    return judge(counters, buffer_dir=BUFFER_DIR, buffer_files=buffer_files, stopped=stopped,
                 why_unsent="the export buffer is full")


def test_every_entry_shipped_is_said_so_and_exits_0():
    result = verdict(entries_read=10, entries_shipped=10)
    assert result.status is ExitStatus.OK and result.error is None
    assert result.lines[-1] == "Shipped: every new entry reached the collector."


def test_entries_still_in_flight_are_never_called_shipped():
    result = verdict(entries_read=10, entries_shipped=4)
    assert result.status is ExitStatus.TEMPFAIL
    assert "6 of 10 new entries did not reach" in result.error
    assert "6 not acknowledged" in result.error


def test_rejected_and_unsent_entries_are_counted_with_why():
    result = verdict(entries_read=10, entries_shipped=5, entries_rejected=3, entries_unsent=2)
    assert result.status is ExitStatus.TEMPFAIL
    assert "5 of 10" in result.error
    assert "3 rejected by the collector (kept in /state/export-buffer/rejected)" in result.error
    assert "2 neither sent nor buffered (the export buffer is full)" in result.error


def test_buffered_entries_are_safe_and_say_where():
    result = verdict(buffer_files=2, entries_read=10, entries_shipped=4, entries_buffered=6)
    assert result.status is ExitStatus.OK
    assert result.lines[-1].startswith("Buffered: 6 new entries are safe in /state/export-buffer")


def test_nothing_new():
    assert verdict().lines[-1] == "Nothing new to ship."


def test_a_stop_by_signal_exits_75():
    result = verdict(stopped=True, entries_read=3, entries_shipped=3)
    assert result.status is ExitStatus.TEMPFAIL and result.error is None
    assert result.lines[-1].startswith("Stopped early (signal)")


def test_buffered_payloads_rejected_on_their_way_out_are_a_failure():
    counters = Counters()
    counters.add(BUFFER, payloads_rejected=1, entries_rejected=7)
    result = judge(counters, buffer_dir=BUFFER_DIR, buffer_files=0, stopped=False,
                   why_unsent="")
    assert result.status is ExitStatus.TEMPFAIL
    assert result.error.startswith("7 buffered entries rejected by the collector")
    assert result.lines[0] == "buffer: 0 buffered payloads sent (0 entries); 1 rejected"
