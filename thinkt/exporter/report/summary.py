"""What a one-shot export says when it ends: a line per source, then a verdict that is true.

The verdict counts what was really acknowledged. Every entry read ends shipped,
buffered, rejected or unsent (:mod:`thinkt.exporter.report.counters`); the run says
"every new entry reached the collector" only when all of them were shipped, and it
exits 0 only when every entry read was shipped or is safe in the buffer. Otherwise
it says how many were not, and why, and exits 75 (try again later).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from thinkt.exporter.report.counters import BUFFER, Counters, SourceCounts
from thinkt.status import ExitStatus


@dataclasses.dataclass
class Verdict:
    """The last lines of a run and its exit status."""

    lines: list[str]
    status: ExitStatus = ExitStatus.OK
    error: str | None = None  # said as "Error: ..." (the status is then not OK)
    hint: str | None = None


def summary_line(source: str, counts: SourceCounts) -> str:
    """One line saying what a run did for one source."""
    files = "file" if counts.files == 1 else "files"
    entries = "entry" if counts.entries_read == 1 else "entries"
    parts = [f"{source}: {counts.files:,} {files}, {counts.entries_read:,} new {entries}"]
    done = [f"{counts.entries_shipped:,} shipped"]
    if counts.duplicates:
        done.append(f"{counts.duplicates:,} already there")
    if counts.entries_buffered:
        done.append(f"{counts.entries_buffered:,} buffered")
    if counts.entries_rejected:
        done.append(f"{counts.entries_rejected:,} rejected")
    if counts.entries_unsent:
        done.append(f"{counts.entries_unsent:,} not sent")
    if counts.entries_clipped:
        done.append(f"{counts.entries_clipped:,} clipped to fit a request")
    line = parts[0] + " (" + ", ".join(done) + ")"
    if counts.skipped:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.skipped.items()))
        line += f"; skipped records: {reasons}"
    return line


def buffer_line(counts: SourceCounts, sent_payloads: int) -> str | None:
    """One line on what the run sent from the buffer (entries read by earlier runs)."""
    if not (sent_payloads or counts.payloads_rejected):
        return None
    line = (f"buffer: {sent_payloads:,} buffered payloads sent "
            f"({counts.entries_shipped:,} entries")
    if counts.duplicates:
        line += f", {counts.duplicates:,} already there"
    line += ")"
    if counts.payloads_rejected:
        line += f"; {counts.payloads_rejected:,} rejected"
    return line


def judge(counters: Counters, *, buffer_dir: Path, buffer_files: int, stopped: bool,
          why_unsent: str) -> Verdict:
    """Return the verdict on a one-shot run from its counters.

    ``stopped``: a signal ended reading early; ``why_unsent``: what kept payloads from
    both the collector and the buffer (said when some were).
    """
    lines = [summary_line(source, counts)
             for source, counts in sorted(counters.by_source.items()) if source != BUFFER]
    drained = counters.by_source.get(BUFFER)
    if drained is not None:
        line = buffer_line(drained, counters.buffer_shipped)
        if line:
            lines.append(line)
    total = counters.total(read_only=True)
    problems = []
    if total.entries_rejected:
        problems.append(f"{total.entries_rejected:,} rejected by the collector (kept in "
                        f"{buffer_dir / 'rejected'})")
    if total.entries_unsent:
        problems.append(f"{total.entries_unsent:,} neither sent nor buffered ({why_unsent}); "
                        "the session files still hold them and the next run reads them again")
    if total.unaccounted:
        problems.append(f"{total.unaccounted:,} not acknowledged when the run ended")
    if drained is not None and drained.entries_rejected:
        problems.append(f"{drained.entries_rejected:,} buffered entries rejected by the "
                        f"collector (kept in {buffer_dir / 'rejected'})")
    if problems:
        missing = total.entries_read - total.entries_shipped - total.entries_buffered
        headline = (f"{missing:,} of {total.entries_read:,} new entries did not reach the "
                    "collector or the buffer: " if missing > 0 else "")
        return Verdict(lines, ExitStatus.TEMPFAIL, error=headline + "; ".join(problems),
                       hint="See the collector's answer in the rejected files or the log; "
                            "run again once the collector takes payloads.")
    if stopped:
        lines.append("Stopped early (signal); what was read is safe, and the next run "
                     "continues where this one stopped.")
        return Verdict(lines, ExitStatus.TEMPFAIL)
    if buffer_files:
        lines.append(f"Buffered: {total.entries_buffered:,} new entries are safe in "
                     f"{buffer_dir} ({buffer_files:,} payloads waiting); the collector was "
                     "unreachable, the next run sends them.")
    elif total.entries_read and total.entries_shipped == total.entries_read:
        lines.append("Shipped: every new entry reached the collector.")
    elif total.entries_read:
        lines.append(f"Shipped: {total.entries_shipped:,} entries reached the collector, "
                     f"{total.entries_buffered:,} were buffered and sent.")
    elif counters.buffer_shipped:
        lines.append("Shipped: the buffered entries reached the collector; nothing new to ship.")
    else:
        lines.append("Nothing new to ship.")
    return Verdict(lines)
