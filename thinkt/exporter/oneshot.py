"""The one-shot export (``thinkt export``, for cron) and ``thinkt export --flush``.

A one-shot run registers, drains what the buffer holds if the collector answers,
reads everything new once, waits for its payloads to be shipped or buffered, saves
offsets and says what happened: exit 0 when every new entry was shipped or safely
buffered (the last line says which), 75 when it could not make progress (buffer
full), 78 when the collector refuses the URL or key.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from thinkt.exporter.ship.dispatcher import Collector
from thinkt.exporter.report.progress import Progress, summary_line
from thinkt.exporter.read.reader import ReadStatus
from thinkt.exporter.runtime import Options, Runtime
from thinkt.exporter.ship.shipper import Result
from thinkt.status import ConfigError, ExitStatus, ThinktError

log = logging.getLogger(__name__)

#: Longest a one-shot run waits for its last payloads (each has its own timeouts).
FINISH_BUDGET = 600.0
#: Longest a run spends draining the buffer before reading new lines.
DRAIN_BUDGET = 3600.0

Say = Callable[[str], None]


def export_once(options: Options, say: Say, *, progress_stream=None,
                should_stop: Callable[[], bool] | None = None) -> ExitStatus:
    """Ship everything new since the last run, then return the exit status."""
    runtime = Runtime(options, "once", should_stop=should_stop).open()
    try:
        say(options.endpoint.describe() + ".")
        _register_or_refuse(runtime)
        if runtime.buffer.files and runtime.dispatcher.state is not Collector.DOWN:
            runtime.drain_buffer(DRAIN_BUDGET)
        files = runtime.files()
        total = 0
        for _source, path in files:
            record = runtime.offsets.get(str(path))
            try:
                size = path.stat().st_size
            except OSError:
                continue
            total += max(0, size - (record.offset if record else 0))
        progress = Progress(total, stream=progress_stream,
                            enabled=False if options.quiet else None)
        runtime.reader.on_progress = progress.advance
        status = runtime.scan(files)
        deadline = time.monotonic() + FINISH_BUDGET
        while not runtime.dispatcher.wait_idle(0.2) and time.monotonic() < deadline:
            if runtime.should_stop():
                break  # close() gives the rest a few seconds, then buffers them
        progress.finish()
    finally:
        runtime.close()
    return _report(runtime, status, say)


def _register_or_refuse(runtime: Runtime) -> None:
    answer = runtime.register()
    if answer is not None and answer.result is Result.REFUSED:
        raise ConfigError(f"the collector at {runtime.options.endpoint.url} refused us "
                          f"({answer.describe()})",
                          hint="Check the collector URL and the API key (--api-key or "
                               "THINKT_API_KEY).")


def _report(runtime: Runtime, status: ReadStatus, say: Say) -> ExitStatus:
    counters = runtime.counters
    for source, counts in sorted(counters.by_source.items()):
        if source != "buffer":
            say(summary_line(source, counts))
    if counters.buffer_shipped:
        say(f"buffer: {counters.buffer_shipped:,} buffered payloads sent")
    total = counters.total()
    dispatcher = runtime.dispatcher
    if dispatcher.state is Collector.REFUSED:
        raise ConfigError(f"the collector at {runtime.options.endpoint.url} refused us "
                          f"({dispatcher.refused_reason}); what was read is in the buffer",
                          hint="Check the collector URL and the API key.")
    if dispatcher.held_count:
        raise ThinktError(
            f"the export buffer is full ({runtime.buffer.bytes:,} of "
            f"{runtime.buffer.max_bytes:,} bytes) and the collector is not taking payloads: "
            "stopped reading; the session files still hold the rest",
            hint="Start the collector (or raise --buffer-max), then run again.",
            status=ExitStatus.TEMPFAIL)
    if status is ReadStatus.PAUSED:
        say("Stopped early (signal); what was read is safe, and the next run continues "
            "where this one stopped.")
        return ExitStatus.TEMPFAIL
    if runtime.buffer.files:
        where = runtime.buffer.directory
        say(f"Buffered: {total.entries_buffered:,} new entries are safe in {where} "
            f"({runtime.buffer.files:,} payloads waiting); the collector was unreachable, "
            "the next run sends them.")
    elif total.entries_read or counters.buffer_shipped:
        say("Shipped: every new entry reached the collector.")
    else:
        say("Nothing new to ship.")
    return ExitStatus.OK


def flush(options: Options, say: Say) -> ExitStatus:
    """Send what the disk buffer holds, report, and return the exit status."""
    if options.endpoint.url is None:
        raise ConfigError("no collector to flush the buffer to",
                          hint="Pass --collector-url or set THINKT_COLLECTOR_URL.")
    runtime = Runtime(options, "flush").open()
    try:
        say(options.endpoint.describe() + ".")
        before = runtime.buffer.files
        _register_or_refuse(runtime)
        runtime.drain_buffer(DRAIN_BUDGET)
    finally:
        runtime.close()
    total = runtime.counters.total()
    left = runtime.buffer.files
    say(f"Flushed {runtime.counters.buffer_shipped:,} of {before:,} buffered payloads "
        f"({total.entries_shipped:,} entries, {total.duplicates:,} already there); "
        f"{total.payloads_rejected:,} rejected; {left:,} left in {runtime.buffer.directory}.")
    if runtime.dispatcher.state is Collector.REFUSED:
        raise ConfigError(f"the collector refused us ({runtime.dispatcher.refused_reason})",
                          hint="Check the collector URL and the API key.")
    if left:
        raise ThinktError(f"the collector stopped taking payloads ({runtime.counters.last_error})"
                          f"; {left:,} are still in the buffer",
                          hint="Run --flush again once the collector answers.",
                          status=ExitStatus.TEMPFAIL)
    return ExitStatus.OK
