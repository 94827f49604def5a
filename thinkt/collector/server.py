"""The collector's process tree: gunicorn's arbiter, its sync workers, and the writer.

``thinkt collect`` embeds gunicorn (no WSGI file to run by hand). Before any worker
forks, the arbiter creates the bounded queue and starts the writer process, and waits
until the writer has opened and migrated the database; a database that cannot be opened
stops start-up with a clear message. The arbiter watches the writer from its own main
loop (not with ``is_alive()``: gunicorn reaps every child with ``waitpid(-1)``); when the
writer dies it starts a new one on a new queue and replaces the workers, so they
pick the new queue up. On SIGTERM gunicorn stops the workers first; then the writer
gets a sentinel, commits what is queued, checkpoints and exits, within a bound.
gunicorn tells systemd READY=1 once the writer is up and the socket bound; the arbiter
adds STOPPING=1 when it starts to halt, and owns the Prometheus multiprocess directory
(prepared before anything forks, cleaned when a child exits and at the end).
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import signal
import socket
import time
from typing import Any

from gunicorn import systemd
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.errors import HaltServer
from gunicorn.sock import TCP6Socket, TCPSocket
from gunicorn.util import is_ipv6

from thinkt.collector import metrics, otlp_api, pricing, writer
from thinkt.collector.channel import WriterClient, new_address, new_authkey
from thinkt.collector.settings import CollectorSettings, default_storage
from thinkt.status import ConfigError, ExitStatus, StartupError

log = logging.getLogger(__name__)

#: How long start-up waits for the writer to open (and migrate) the database.
WRITER_START_TIMEOUT = 120.0
#: How long shutdown waits for the writer to commit, checkpoint and exit.
WRITER_STOP_TIMEOUT = 60.0
#: More writer deaths than this within RESTART_WINDOW seconds stop the collector.
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0


class WriterSupervisor:
    """Starts, watches, restarts and stops the writer process (lives in the arbiter)."""

    def __init__(self, settings: CollectorSettings):
        self.settings = settings
        self.ctx = multiprocessing.get_context("spawn")
        self.authkey = new_authkey()
        self.queue: Any = None
        self.address = ""
        self.process: Any = None
        self.stopping = False
        self.deaths: list[float] = []

    def start(self) -> None:
        """Start a writer on a fresh queue; return once its database is open.

        :raises StartupError: the writer could not open the database (locked, not
            writable, not a thinkt database), or did not answer in time.
        """
        new_directory = _new_storage_directory(self.settings.storage)
        # A writer killed while reading may hold the old queue's lock forever: always
        # start a new writer on a new queue.
        self.queue = self.ctx.Queue(self.settings.queue_size)
        self.address = new_address()
        ready_recv, ready_send = self.ctx.Pipe(duplex=False)
        options = {
            "quiet": self.settings.quiet,
            "log": self.settings.log,
            "agent_retention": self.settings.agent_retention,
            "retention_days": self.settings.retention_days,
            "retention": dict(self.settings.retention),
            "archive_dir": self.settings.archive_dir,
            "started_at": self.settings.started_at,
            "threads": 1,  # leave the other core to the workers (ARCHITECTURE.md)
            "memory_limit": self.settings.memory_limit,
        }
        self.process = self.ctx.Process(
            target=writer.main, name="thinkt-writer",
            args=(self.settings.storage, self.queue, self.address, self.authkey, ready_send,
                  options),
        )
        self.process.start()
        ready_send.close()
        try:
            ready = multiprocessing.connection.wait([ready_recv, self.process.sentinel],
                                                    WRITER_START_TIMEOUT)
            message = ready_recv.recv() if ready_recv in ready else None
        except EOFError:
            message = None
        finally:
            ready_recv.close()
        if message and message[0] == "ready":
            if new_directory:
                log.warning("created the directory %s for --storage %s: it did not exist, so "
                            "this is a new, empty database", new_directory,
                            self.settings.storage)
            log.info("writer process %d has %s open", message[1], self.settings.storage)
            return
        # It failed, or did not answer in time: make sure it is gone before forgetting it.
        self._signal(signal.SIGKILL)
        multiprocessing.connection.wait([self.process.sentinel], 5)
        self._discard()
        if message and message[0] == "failed":
            _, text, status, hint = message
            raise StartupError(text, hint=hint or _hint_for(text), status=ExitStatus(status))
        raise StartupError(f"the writer process did not open {self.settings.storage}",
                           hint="Run with --log FILE to see why.", status=ExitStatus.SOFTWARE)

    def died(self) -> bool:
        """True when the writer process has ended (its sentinel is readable)."""
        if self.process is None or self.stopping:
            return False
        return bool(multiprocessing.connection.wait([self.process.sentinel], 0))

    def client(self) -> WriterClient:
        """Return a writer client for the current process (a worker, after fork)."""
        # This worker never needs to flush the queue at exit: anything unflushed belongs
        # to a request that was not acknowledged. Joining could hang on a dead writer.
        self.queue.cancel_join_thread()
        return WriterClient(self.queue, self.address, self.authkey)

    def restart(self, arbiter: Arbiter) -> None:
        """Start a new writer after the old one died; replace the workers.

        :raises HaltServer: it died more than MAX_RESTARTS times within RESTART_WINDOW
            (a restart loop helps nobody: systemd restarts the whole service later), or
            the new one could not open the database.
        """
        now = time.monotonic()
        self.deaths = [t for t in self.deaths if now - t < RESTART_WINDOW] + [now]
        pid = self.process.pid
        self._discard()
        if len(self.deaths) > MAX_RESTARTS:
            raise HaltServer(f"the writer process died {len(self.deaths)} times within "
                             f"{RESTART_WINDOW:g}s (the last was pid {pid}): stopping instead "
                             "of restarting it again", ExitStatus.SOFTWARE)
        log.error("the writer process %d died; starting a new one", pid)
        try:
            self.start()
        except StartupError as exc:
            raise HaltServer(exc.message, int(exc.status)) from None
        # Workers hold the old queue and address: replace them gracefully.
        for worker_pid in list(arbiter.WORKERS):
            arbiter.kill_worker(worker_pid, signal.SIGTERM)

    def stop(self) -> None:
        """Let the writer commit what is queued and exit; kill it past the bound."""
        if self.process is None:
            return
        self.stopping = True
        if not multiprocessing.connection.wait([self.process.sentinel], 0):
            try:
                self.queue.put(None, timeout=5)
            except Exception:  # a full or broken queue: the writer drains on SIGTERM instead
                self._signal(signal.SIGTERM)
            ended = multiprocessing.connection.wait([self.process.sentinel],
                                                    WRITER_STOP_TIMEOUT)
            if not ended:
                log.error("the writer did not stop within %gs; killing it",
                          WRITER_STOP_TIMEOUT)
                self._signal(signal.SIGKILL)
                multiprocessing.connection.wait([self.process.sentinel], 5)
                # Nobody will read the sentinel now: flushing it could wait forever.
                self.queue.cancel_join_thread()
        self._discard()
        log.info("writer stopped")

    def _signal(self, signum: int) -> None:
        # Only while its sentinel says it runs: after that the pid may be reaped and reused.
        if not multiprocessing.connection.wait([self.process.sentinel], 0):
            try:
                os.kill(self.process.pid, signum)
            except OSError:
                pass

    def _discard(self) -> None:
        """Forget the ended writer process, and close and let go of its queue."""
        # gunicorn may already have reaped it; either way multiprocessing must forget it,
        # or its exit handler joins a child that is not there.
        multiprocessing.process._children.discard(self.process)
        metrics.mark_dead(self.process.pid)
        self.process = None
        # A spawn-context queue has three named semaphores, registered with
        # multiprocessing's resource tracker until the queue is freed. Held until exit,
        # they were still registered when stop_resource_tracker() ended the tracker: it
        # called them leaked and unlinked them, and the queue's own finalizers then
        # failed with FileNotFoundError (issue 14, item 6). Dropping the last reference
        # (no cycle holds a queue) closes its pipes and unlinks them now, in order.
        self.queue.close()
        self.queue.join_thread()
        self.queue = None


def _new_storage_directory(storage: str) -> str | None:
    """Return the database's directory if it does not exist yet and is not the default.

    The store creates it. The default state directory is ours to create silently; any
    other missing directory is said in the log (issue 14, item 9): a mistyped path or
    an unmounted disk would otherwise start an empty database unnoticed.
    """
    directory = os.path.dirname(storage)
    if os.path.isdir(directory) or directory == os.path.dirname(default_storage()):
        return None
    return directory


def _hint_for(message: str) -> str | None:
    # Only where the store's sentence does not already say what to do: a locked or
    # foreign file's message ends with its own advice, and twice is noise.
    if "permission" in message.lower() or "read-only" in message.lower():
        return "Make the directory writable for this user, or choose another --storage path."
    return None


def listen(cfg: Any, logger: Any) -> list[Any]:
    """Bind the configured addresses once each, or say plainly why not.

    gunicorn's own binding retries five times and then calls ``sys.exit(1)`` from
    inside the arbiter; with the writer already started that exit hangs, joining it.
    Binding first, and failing with a reason and a sysexits status, is what an operator
    (and systemd's RestartPreventExitStatus=) can act on.

    :raises StartupError: the port is taken (75: try again once it is free).
    :raises ConfigError: the host does not resolve or is not an address of this machine.
    """
    listeners = []
    for address in cfg.address:
        host, port = address
        kind = TCP6Socket if is_ipv6(host) else TCPSocket
        where = f"{host}:{port}"
        try:
            listeners.append(kind(address, cfg, logger))
        except socket.gaierror as exc:
            raise ConfigError(f"cannot listen on {where}: {host} does not resolve "
                              f"({exc.strerror})",
                              hint="Give --host an IP address (127.0.0.1, 0.0.0.0), or add the "
                                   "name to /etc/hosts.") from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(f"cannot listen on {where}: the port is already in use",
                                   hint=f"Stop what listens there (ss -ltnp 'sport = :{port}'), "
                                        "or choose another --port.",
                                   status=ExitStatus.TEMPFAIL) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ConfigError(f"cannot listen on {where}: not an address of this machine",
                                  hint="Use one of its addresses (ip -brief address), or "
                                       "0.0.0.0 for all.") from None
            if exc.errno == errno.EACCES:
                raise StartupError(f"cannot listen on {where}: permission denied",
                                   hint="Ports below 1024 need privileges: choose --port 1024 "
                                        "or above.", status=ExitStatus.CONFIG) from None
            raise StartupError(f"cannot listen on {where}: {exc.strerror}") from None
    return listeners


class CollectorArbiter(Arbiter):
    """gunicorn's arbiter, also checking the writer on every turn of its loop."""

    def start(self) -> None:
        # Bind before on_starting starts the writer: a taken port then fails at once,
        # with nothing to clean up. Sockets handed over by systemd are gunicorn's to use.
        if not self.LISTENERS and not os.environ.get("LISTEN_FDS"):
            self.LISTENERS = listen(self.cfg, self.log)
        try:
            super().start()
        except BaseException:
            # Whatever stops start-up after the writer exists must not leave it running
            # (multiprocessing would join it at exit: a hang, not an error).
            self.app.supervisor.stop()
            raise

    def manage_workers(self) -> None:
        supervisor: WriterSupervisor = self.app.supervisor
        if supervisor.died():
            supervisor.restart(self)
        super().manage_workers()

    def halt(self, reason: Any = None, exit_status: int = 0) -> None:
        # gunicorn says READY=1 itself but not STOPPING=1: systemd then knows the drain
        # that follows is a shutdown, not a hang.
        systemd.sd_notify("STOPPING=1", self.log)
        super().halt(reason, exit_status)


class CollectorApplication(BaseApplication):
    """gunicorn embedded: our settings, our hooks, one app per worker."""

    def __init__(self, settings: CollectorSettings):
        self.settings = settings
        self.supervisor = WriterSupervisor(settings)
        super().__init__(prog="thinkt collect")

    def load_config(self) -> None:
        settings = self.settings
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        supervisor = self.supervisor
        config = {
            "bind": [f"{host}:{settings.port}"],
            "workers": settings.workers,
            "worker_class": "thinkt.collector.worker.EnvelopeSyncWorker",
            "timeout": int(settings.request_timeout),
            "graceful_timeout": 30,
            "keepalive": 5,
            "proc_name": "thinkt-collector",
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning" if settings.quiet else "info",
            "preload_app": False,
            "control_socket_disable": True,
            # gunicorn's own TLS: each sync worker wraps the connections it accepts.
            "certfile": settings.tls_cert,
            "keyfile": settings.tls_key,
            "on_starting": lambda server: supervisor.start(),
            "when_ready": _when_ready,
            "post_fork": _post_fork,
            "child_exit": lambda server, worker: metrics.mark_dead(worker.pid),
            "on_exit": lambda server: supervisor.stop(),
        }
        for key, value in config.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        from thinkt.collector.app import create_app

        return create_app(self.settings, self.supervisor.client())

    def run(self) -> None:
        CollectorArbiter(self).run()


def _when_ready(server: Arbiter) -> None:
    # Not str(listener): gunicorn labels an IPv6 listener http:// even with TLS on.
    scheme = "https" if server.cfg.is_ssl else "http"
    for listener in server.LISTENERS:
        host, port = listener.sock.getsockname()[:2]
        log.info("collector listening on %s://%s:%d", scheme,
                 f"[{host}]" if ":" in host else host, port)


def _post_fork(server: Arbiter, worker: Any) -> None:
    # The writer is the arbiter's child, not ours: multiprocessing must not try to
    # join it when this worker exits.
    multiprocessing.process._children.clear()


def _precompile_pages(settings: CollectorSettings) -> None:
    from thinkt.collector import web
    from thinkt.collector.app import create_app

    try:
        web.precompile(create_app(settings, None))  # type: ignore[arg-type]  # no requests
    except Exception:  # a page that does not compile still fails on its own request
        log.exception("could not compile the web pages' templates ahead")


def serve(settings: CollectorSettings) -> None:
    """Run the collector in the foreground until SIGTERM or SIGINT."""
    if not settings.tokens:
        log.warning("no --token set: anyone who can reach %s:%d can read and write traces",
                    settings.host, settings.port)
    # Loaded once here, the price table, the secret-masking rules of telemetry texts and
    # the compiled page templates are shared by every worker gunicorn forks: no worker
    # pays for them on its first request.
    pricing.preload()
    otlp_api.preload()
    _precompile_pages(settings)
    # Before any worker or writer exists: every one of them must see the same directory.
    metrics_dir, made_here = metrics.prepare_directory()
    arbiter_pid = os.getpid()
    application = None
    try:
        application = CollectorApplication(settings)
        application.run()
    finally:
        # gunicorn forks the workers inside run(): a worker leaving (SIGHUP, a writer
        # restart) unwinds through this block too, and must not delete the directory
        # the other processes are still writing.
        if os.getpid() == arbiter_pid:
            if application is not None:
                # Done already by on_exit, except where gunicorn leaves its loop without
                # calling it (an unhandled error); the tracker must go after the queue.
                application.supervisor.stop()
            metrics.remove_directory(metrics_dir, made_here)
            stop_resource_tracker()


#: How long the arbiter waits, at exit, for multiprocessing's resource tracker to go.
TRACKER_STOP_TIMEOUT = 5.0


def stop_resource_tracker() -> None:
    """Stop multiprocessing's resource tracker (started for the writer's queue), bounded.

    Left alone it goes only once it notices the arbiter's exit, and by then systemd has
    sent SIGKILL to whatever is left of the unit (KillMode=mixed): seen on every clean
    stop under systemd. Closing its pipe ends it; the attributes are CPython's own. Call
    it only once the queue is let go (``WriterSupervisor.stop``): the tracker reports
    every semaphore still registered as leaked, and unlinks it under the queue's feet.
    """
    from multiprocessing import resource_tracker

    tracker = resource_tracker._resource_tracker
    fd, pid = getattr(tracker, "_fd", None), getattr(tracker, "_pid", None)
    if fd is None or pid is None:
        return
    os.close(fd)
    tracker._fd = tracker._pid = None
    deadline = time.monotonic() + TRACKER_STOP_TIMEOUT
    try:
        while not os.waitpid(pid, os.WNOHANG)[0]:
            if time.monotonic() > deadline:
                log.warning("multiprocessing's resource tracker (pid %d) did not stop", pid)
                return
            time.sleep(0.02)
    except ChildProcessError:  # gunicorn's reaping loop got to it first
        pass
