"""The forward exporter: watch session files and ship new lines as they are written.

The loop blocks in :meth:`Watcher.wait` until a file changes, a signal arrives or a
timer is due (status file, heartbeat, rescan, buffer drain, a quiet file), so an idle
exporter uses no CPU. Changed files are read after a short coalescing window
(``coalesce``, 0.1 s), so a burst of lines becomes one payload and a line is shipped
within about 200 ms of being written. A file that ends in a record without its
newline is read once more when it has been quiet for ``quiet_period`` seconds (3 s), and
that record ships then.

Signals are queued as gunicorn's arbiter does: the handler only records the signal
and writes a byte to a pipe the loop also polls. TERM and INT stop reading, let the
in-flight payloads finish (``shutdown_timeout``, 3 s; the rest go to the buffer),
save offsets and exit 0: every wait on the way is bounded, so a stop takes at most
about ``STOP_BOUND`` seconds even when the collector accepts connections and never
answers. HUP runs collector discovery again and rescans every root.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Callable

from thinkt.exporter.ship.endpoint import Endpoint
from thinkt.exporter.read.reader import ReadStatus
from thinkt.exporter.runtime import Options, Runtime
from thinkt.exporter.sdnotify import sd_notify
from thinkt.exporter.sources import Source
from thinkt.exporter.watch.watcher import Watcher
from thinkt.status import ExitStatus

log = logging.getLogger(__name__)

#: While payloads wait in the buffer, wake at least this often to drain or probe.
DRAIN_TICK = 1.0
#: The longest a stop takes from TERM to exit (the read in progress, then
#: ``shutdown_timeout`` for payloads in flight, then buffering and saving).
STOP_BOUND = 10.0


class Signals:
    """TERM, INT and HUP recorded in a queue, with a pipe that wakes ``poll(2)``."""

    HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def __init__(self) -> None:
        self.queue: list[int] = []
        self.read_fd, self.write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous: dict[int, object] = {}

    def install(self) -> "Signals":
        """Install the handlers (main thread only)."""
        for signum in self.HANDLED:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self) -> None:
        """Put the previous handlers back and close the pipe."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    def _handle(self, signum: int, _frame) -> None:
        if len(self.queue) < 5:
            self.queue.append(signum)
        try:
            os.write(self.write_fd, b".")
        except OSError:  # the pipe is full: the loop is awake anyway
            pass

    def stopping(self) -> bool:
        """True once TERM or INT arrived."""
        return signal.SIGTERM in self.queue or signal.SIGINT in self.queue

    def pop(self) -> int | None:
        """Return the oldest queued signal, or None."""
        return self.queue.pop(0) if self.queue else None

    def clear_pipe(self) -> None:
        """Read the wake-up bytes."""
        try:
            while os.read(self.read_fd, 512):
                pass
        except OSError:
            pass


class Daemon:
    """The forward-mode loop around a :class:`Runtime` and a :class:`Watcher`."""

    def __init__(self, options: Options, rediscover: Callable[[], Endpoint] | None = None):
        self.options = options
        self.rediscover = rediscover
        self.signals = Signals()
        self.runtime: Runtime | None = None
        self.watcher: Watcher | None = None
        self._dirty: dict[Path, Source] = {}
        self._dirty_since: float | None = None
        self._paused = False
        self._heartbeat_thread: threading.Thread | None = None
        #: Deleted (or renamed-away) files: forgotten once nothing read from them is in
        #: flight, after the files changed in the same turn were read (a rename's new
        #: name adopts the old position first).
        self._gone: set[str] = set()
        #: Files that end in a line without its newline: read with ``final`` once quiet.
        self._waiting: dict[Path, Source] = {}
        self._quiet_check: float | None = None

    def run(self) -> ExitStatus:
        """Run until TERM or INT; return the exit status."""
        self.signals.install()
        try:
            self.runtime = Runtime(self.options, "forward",
                                   should_stop=self.signals.stopping).open()
            try:
                self._serve()
            finally:
                sd_notify("STOPPING=1")
                if self.watcher is not None:
                    self.watcher.close()
                self.runtime.close()
                log.info("exporter stopped")
        finally:
            self.signals.restore()
        return ExitStatus.OK

    def _serve(self) -> None:
        runtime, options = self.runtime, self.options
        log.info("%s", options.endpoint.describe())
        # On a thread, as every heartbeat: a collector that never answers must not hold
        # up start-up, nor a stop that comes meanwhile.
        self._heartbeat()
        self.watcher = Watcher(options.roots, polling=options.polling,
                               poll_interval=options.poll_interval,
                               wake_fd=self.signals.read_fd).start()
        runtime.watch_mode = self.watcher.mode
        runtime.watched_directories = self.watcher.directories
        files = runtime.files()
        log.info("watching %d directories (%s) under %d roots; %d session files",
                 self.watcher.directories, self.watcher.mode, len(options.roots), len(files))
        sd_notify("READY=1")
        runtime.write_status()
        self._scan(files)

        now = time.monotonic()
        next_heartbeat = now + options.heartbeat_interval
        next_rescan = now + options.rescan_interval
        while True:
            now = time.monotonic()
            deadlines = [next_heartbeat, next_rescan, now + options.status_interval]
            if self._dirty_since is not None and not self._paused:
                deadlines.append(self._dirty_since + options.coalesce)
            if self._quiet_check is not None and not self._paused:
                deadlines.append(self._quiet_check)
            if runtime.buffer.files or self._paused or self._gone:
                deadlines.append(now + DRAIN_TICK)
            changes = self.watcher.wait(max(0.0, min(deadlines) - now))
            if changes.woken:
                self.signals.clear_pipe()
            if not self._handle_signals():
                return
            now = time.monotonic()
            for path, root in changes.files.items():
                self._dirty[path] = root.source
                self._gone.discard(str(path))
                runtime.known.add(str(path))
                if self._dirty_since is None:
                    self._dirty_since = now
            for path in changes.gone:
                if path not in changes.files:
                    self._gone.add(str(path))
                    self._dirty.pop(path, None)
                    self._waiting.pop(path, None)
                    runtime.known.discard(str(path))
            runtime.watch_mode = self.watcher.mode
            runtime.watched_directories = self.watcher.directories
            if changes.rescan:
                next_rescan = now
            if self._paused and not runtime.dispatcher.retry_parked() \
                    and runtime.dispatcher.has_room():
                log.info("reading resumes")
                self._paused = False
                next_rescan = now  # files left unread while paused: look at all of them
            if self._dirty and now >= self._dirty_since + options.coalesce and not self._paused:
                self._read_dirty()
            if self._quiet_check is not None and now >= self._quiet_check and not self._paused:
                self._read_quiet()
            # A file deleted while its last payload is in flight is forgotten when that
            # payload lands: try again each turn rather than wait for the next rescan.
            self._gone = {key for key in self._gone
                          if not runtime.ledger.forget_if_gone(key) and not os.path.lexists(key)}
            if now >= next_rescan and not self._paused:
                if runtime.options.endpoint.url is None:
                    self._rediscover()
                self.watcher.rewatch()
                self._scan(runtime.files())
                next_rescan = time.monotonic() + options.rescan_interval
            if now >= next_heartbeat:
                self._heartbeat()
                next_heartbeat = now + options.heartbeat_interval
            if runtime.dispatcher.parked and not self._paused:
                self._pause()  # a payload found the buffer full: reading waits for room
            if runtime.buffer.files:
                runtime.dispatcher.drain()
            runtime.save_offsets()
            runtime.maybe_write_status()

    def _heartbeat(self) -> None:
        """Register again on a thread: a slow collector must not hold up the loop."""
        if self._heartbeat_thread is not None and self._heartbeat_thread.is_alive():
            return
        self._heartbeat_thread = threading.Thread(target=self.runtime.register,
                                                  name="thinkt-heartbeat", daemon=True)
        self._heartbeat_thread.start()

    def _handle_signals(self) -> bool:
        """Act on queued signals; return False when the loop must stop."""
        while (signum := self.signals.pop()) is not None:
            name = signal.Signals(signum).name
            if signum in (signal.SIGTERM, signal.SIGINT):
                log.info("%s: finishing in-flight payloads and stopping", name)
                return False
            if signum == signal.SIGHUP:
                log.info("SIGHUP: discovering the collector again and rescanning")
                self._rediscover()
                self.watcher.rewatch()
                self._scan(self.runtime.files())
        return True

    def _rediscover(self) -> None:
        if self.rediscover is None:
            return
        try:
            endpoint = self.rediscover()
        except Exception as exc:  # a bad project file must not stop a running exporter
            log.warning("collector discovery failed: %s", exc)
            return
        if endpoint != self.runtime.options.endpoint:
            log.info("%s", endpoint.describe())
            self.runtime.set_endpoint(endpoint)
            self._heartbeat()

    def _read_dirty(self) -> None:
        dirty, self._dirty, self._dirty_since = self._dirty, {}, None
        items = list(dirty.items())
        for index, (path, source) in enumerate(items):
            self._waiting.pop(path, None)  # it changed: quiet starts again
            status = self.runtime.reader.read_file(source, path)
            if status is ReadStatus.PAUSED:
                self._pause()
                self._dirty.update(items[index:])  # read them once there is room
                self._dirty_since = time.monotonic()
                return
            self._note_waiting(path, source, status)
        self.runtime.save_offsets()

    def _note_waiting(self, path: Path, source: Source, status: ReadStatus) -> None:
        """Come back to a file that ends in a line without its newline once it is quiet."""
        if status is not ReadStatus.WAITING:
            return
        self._waiting[path] = source
        try:
            idle = time.time() - os.stat(path).st_mtime
        except OSError:
            idle = 0.0
        self._check_quiet_after(self.options.quiet_period - idle)

    def _check_quiet_after(self, seconds: float) -> None:
        """Wake for the waiting files in ``seconds`` at the latest."""
        due = time.monotonic() + max(0.0, seconds)
        if self._quiet_check is None or due < self._quiet_check:
            self._quiet_check = due

    def _read_quiet(self) -> None:
        """Read the waiting files that have been quiet long enough, ``final``."""
        self._quiet_check = None
        now = time.time()
        for path, source in list(self._waiting.items()):
            try:
                idle = now - os.stat(path).st_mtime
            except OSError:
                self._waiting.pop(path, None)
                continue
            if idle < self.options.quiet_period:
                self._check_quiet_after(self.options.quiet_period - idle)
                continue
            status = self.runtime.reader.read_file(source, path, final=True)
            if status is ReadStatus.PAUSED:
                self._pause()
                self._quiet_check = time.monotonic() + DRAIN_TICK
                return
            # Read final: what is still waiting is not a record (garbage, or a line
            # half written by a tool that died); the next change brings it back here.
            self._waiting.pop(path, None)
        self.runtime.save_offsets()

    def _scan(self, files) -> None:
        found: dict[Path, Source] = {}
        status = self.runtime.scan(files, waiting=found)
        for path, source in found.items():
            if path not in self._waiting:
                self._note_waiting(path, source, ReadStatus.WAITING)
        if status is ReadStatus.PAUSED and not self.signals.stopping():
            self._pause()

    def _pause(self) -> None:
        if not self._paused:
            log.warning("reading paused: the export buffer is full and the collector is %s",
                        self.runtime.dispatcher.state.value)
        self._paused = True
        self.runtime.paused = "buffer full"
