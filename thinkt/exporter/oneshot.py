"""The one-shot export (``thinkt export``, for cron) and ``thinkt export --flush``.

A one-shot run registers, drains what the buffer holds if the collector answers,
reads everything new once (every file to its end, a last line without its newline
included when it is a whole record), waits for its payloads to be shipped or
buffered, saves offsets and says what happened (:mod:`thinkt.exporter.report.summary`):
exit 0 when every new entry was shipped or safely buffered (the last line says which),
75 when some were not (rejected, or nowhere to go: the line says how many and why),
78 when the collector refuses the URL or key, or answers as no collector does.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from thinkt.exporter.read.reader import ReadStatus
from thinkt.exporter.report import summary
from thinkt.exporter.report.progress import Progress
from thinkt.exporter.runtime import Options, Runtime
from thinkt.exporter.ship.dispatcher import Collector
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
        progress = Progress(runtime.ledger.lag(str(path) for _, path in files),
                            stream=progress_stream, enabled=False if options.quiet else None)
        runtime.reader.on_progress = progress.advance
        status = runtime.scan(files, final=True)
        _finish(runtime)
        progress.finish()
    finally:
        runtime.close()
    return _report(runtime, status, say)


def _finish(runtime: Runtime) -> None:
    """Wait (bounded) until every payload is shipped or buffered.

    Parked payloads (buffer full, collector down) get their chance while the collector
    is still being probed; what is left when nothing moves any more is given up by
    :meth:`Runtime.close` and read again by the next run.
    """
    dispatcher = runtime.dispatcher
    deadline = time.monotonic() + FINISH_BUDGET
    while time.monotonic() < deadline and not runtime.should_stop():
        if dispatcher.wait_idle(0.2, parked_too=False) and (
                not dispatcher.parked or dispatcher.state is not Collector.UP):
            return
        dispatcher.retry_parked()


def _register_or_refuse(runtime: Runtime) -> None:
    answer = runtime.register()
    if answer is not None and answer.result is Result.REFUSED:
        raise ConfigError(f"the collector at {runtime.options.endpoint.url} refused us "
                          f"({answer.describe()})",
                          hint="Check the collector URL and the API key (--api-key or "
                               "THINKT_API_KEY).")


def _report(runtime: Runtime, status: ReadStatus, say: Say) -> ExitStatus:
    dispatcher, buffer = runtime.dispatcher, runtime.buffer
    verdict = summary.judge(
        runtime.counters, buffer_dir=buffer.directory, buffer_files=buffer.files,
        stopped=status is ReadStatus.PAUSED and not dispatcher.parked_ever,
        why_unsent=f"the export buffer is full ({buffer.bytes:,} of {buffer.max_bytes:,} "
                   f"bytes) and the collector is {dispatcher.state.value}")
    for line in verdict.lines:
        say(line)
    if dispatcher.state is Collector.REFUSED:
        total = runtime.counters.total(read_only=True)
        where = (f"{total.entries_buffered:,} entries read wait in the buffer"
                 if total.entries_buffered else "nothing read was acknowledged")
        raise ConfigError(f"the collector at {runtime.options.endpoint.url} refused us "
                          f"({dispatcher.refused_reason}); {where}",
                          hint="Check the collector URL and the API key.")
    if verdict.error is not None:
        raise ThinktError(verdict.error, hint=verdict.hint, status=verdict.status)
    return verdict.status


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
