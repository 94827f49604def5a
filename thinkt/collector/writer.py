"""The writer process: sole owner of ``collector.duckdb``; group-commits, then acknowledges.

DuckDB allows one read-write process per file, so this process does all of it: the
main thread takes every batch waiting on the queue (up to a bound, lingering a few
milliseconds while more keep arriving) and writes them in one transaction; only after
the commit does it answer each waiting worker. Queries are answered by one thread per
worker connection, each on its own cursor, so a slow search never stalls ingestion.

It stops on a ``None`` sentinel (everything queued before it is committed first), on
SIGTERM (it commits what is already queued), or when its parent disappears; then it
checkpoints and exits 0.
"""

from __future__ import annotations

import logging
import os
import queue as queue_module
import signal
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from multiprocessing.connection import Connection, Listener
from typing import Any, Callable

from thinkt.collector import metrics, registry, store
from thinkt.collector.channel import (FAILED, HELLO, INGEST, OK, QUERY, REGISTER, REJECTED,
                                      UNAVAILABLE)
from thinkt.status import ExitStatus

log = logging.getLogger(__name__)

#: Exit status of a writer that could not open its database (the arbiter reports why).
EXIT_OPEN_FAILED = 73
#: Exit status after a fatal database error (the arbiter restarts the writer).
EXIT_FATAL = 70

# Errors that say the database cannot write now (not that a request is bad): every
# request of the group is answered 503 and sent again later.
_STORAGE_ERRORS = tuple(getattr(store.duckdb, name) for name in (
    "IOException", "OutOfMemoryException", "PermissionException", "InterruptException",
    "TransactionException"))


def utcnow() -> datetime:
    """Return the current time as naive UTC (the store's convention)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Replies:
    """Where answers go: client id -> that worker's connection (and a lock to send on it)."""

    def __init__(self) -> None:
        self._clients: dict[str, tuple[Connection, threading.Lock]] = {}
        self._lock = threading.Lock()

    def add(self, client_id: str, conn: Connection) -> threading.Lock:
        """Remember a worker's connection; return the lock that guards sending on it."""
        send_lock = threading.Lock()
        with self._lock:
            self._clients[client_id] = (conn, send_lock)
        return send_lock

    def remove(self, client_id: str) -> None:
        """Forget a worker's connection."""
        with self._lock:
            self._clients.pop(client_id, None)

    def send(self, client_id: str, message: tuple) -> bool:
        """Send ``message`` to a worker; False if it is gone (its request was abandoned)."""
        with self._lock:
            target = self._clients.get(client_id)
        if target is None:
            return False
        conn, send_lock = target
        try:
            with send_lock:
                conn.send(message)
            return True
        except (OSError, EOFError, ValueError):
            self.remove(client_id)
            return False

    def close_all(self) -> None:
        """Close every worker connection."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for conn, _ in clients:
            try:
                conn.close()
            except OSError:
                pass


class Writer:
    """The group-commit loop over a queue of (kind, client_id, req_id, payload) items."""

    def __init__(self, con: Any, queue: Any, replies: Replies, *, max_rows: int = 10_000,
                 linger: float = 0.1, quiet_gap: float = 0.005,
                 retention: timedelta = registry.DEFAULT_RETENTION,
                 clock: Callable[[], datetime] = utcnow):
        self.con = con
        self.queue = queue
        self.replies = replies
        self.max_rows = max_rows
        self.linger = linger
        self.quiet_gap = quiet_gap
        self.retention = retention
        self.clock = clock
        self.stopping = False
        self.next_sweep = 0.0
        self.counters = {"commits": 0, "requests": 0, "entries_new": 0, "entries_duplicate": 0,
                         "entries_failed": 0, "largest_group": 0}

    def run(self, stop: threading.Event | None = None,
            alive: Callable[[], bool] = lambda: True) -> None:
        """Commit batches until the sentinel, ``stop`` is set, or ``alive()`` turns False."""
        stop = stop or threading.Event()
        while not self.stopping:
            if stop.is_set() or not alive():
                self._drain_now()
                break
            self._housekeeping()
            try:
                first = self.queue.get(timeout=0.5)
            except queue_module.Empty:
                continue
            if first is None:
                break
            self.commit(self._gather(first))

    def _gather(self, first: tuple) -> list[tuple]:
        items = [first]
        rows = _size(first)
        deadline = time.monotonic() + self.linger
        while rows < self.max_rows:
            try:
                item = self.queue.get_nowait()
            except queue_module.Empty:
                # Wait a little only while batches keep arriving: a burst is still being
                # fed through the pipe; an idle collector commits at once.
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self.queue.get(timeout=min(remaining, self.quiet_gap))
                except queue_module.Empty:
                    break
            if item is None:
                self.stopping = True
                break
            items.append(item)
            rows += _size(item)
        return items

    def _drain_now(self) -> None:
        """Commit whatever is already queued (on SIGTERM or parent death)."""
        items = []
        while True:
            try:
                item = self.queue.get(timeout=0.05)
            except (queue_module.Empty, OSError, EOFError):
                break
            if item is None:
                break
            items.append(item)
        if items:
            log.info("committing %d queued requests before stopping", len(items))
            self.commit(items)

    def commit(self, items: list[tuple]) -> None:
        """Write ``items`` (ingests in one transaction), then answer each waiting worker."""
        ingests = [item for item in items if item[0] == INGEST]
        if ingests:
            self._commit_ingests(ingests)
        for item in items:
            if item[0] == REGISTER:
                self._register(item)
            elif item[0] != INGEST:
                log.warning("ignoring unknown queue item of kind %r", item[0])

    def _commit_ingests(self, ingests: list[tuple]) -> None:
        requests = [item[3] for item in ingests]
        started = time.monotonic()
        try:
            results: list[Any] = store.ingest(self.con, requests)
        except store.duckdb.FatalException:
            self._fail(ingests, "the database failed; the writer restarts")
            raise
        except _STORAGE_ERRORS as exc:
            log.error("commit of %d requests failed: %s", len(ingests), exc)
            self._fail(ingests, "the database cannot take writes right now")
            metrics.record_commit({UNAVAILABLE: sum(len(r.entries) for r in requests)}, 0,
                                  time.monotonic() - started)
            return
        except Exception:  # something in one request's data: find out which
            results = self._isolate(ingests)
        elapsed = time.monotonic() - started
        outcome = {"accepted": 0, "duplicate": 0, REJECTED: 0, UNAVAILABLE: 0}
        for item, result in zip(ingests, results):
            client_id, req_id = item[1], item[2]
            if isinstance(result[0], str):
                self.counters["entries_failed"] += len(item[3].entries)
                outcome[result[0]] = outcome.get(result[0], 0) + len(item[3].entries)
                self.replies.send(client_id, (FAILED, req_id, result[0], result[1]))
                continue
            new, duplicates = result
            self.counters["entries_new"] += new
            self.counters["entries_duplicate"] += duplicates
            outcome["accepted"] += new
            outcome["duplicate"] += duplicates
            self.replies.send(client_id, (OK, req_id, (new, duplicates)))
        rows = sum(len(r.entries) for r in requests)
        metrics.record_commit(outcome, rows, elapsed)
        self.counters["commits"] += 1
        self.counters["requests"] += len(requests)
        self.counters["largest_group"] = max(self.counters["largest_group"], rows)
        log.debug("committed %d requests, %d entries in %.1f ms", len(requests), rows,
                  elapsed * 1000)

    def _isolate(self, ingests: list[tuple]) -> list[Any]:
        """After a group failed on its data, commit each request alone to find the bad one."""
        results: list[Any] = []
        for item in ingests:
            try:
                results.append(store.ingest(self.con, [item[3]])[0])
            except store.duckdb.FatalException:
                raise
            except _STORAGE_ERRORS:
                results.append((UNAVAILABLE, "the database cannot take writes right now"))
            except Exception as exc:
                log.warning("rejected a batch of session %r: %s", item[3].session_id,
                            type(exc).__name__)
                results.append((REJECTED, "the entries could not be stored as sent"))
        return results

    def _fail(self, items: list[tuple], message: str) -> None:
        for item in items:
            self.replies.send(item[1], (FAILED, item[2], UNAVAILABLE, message))

    def _register(self, item: tuple) -> None:
        agent, now = item[3]["agent"], item[3]["now"]
        try:
            stored = store.register_agent(self.con, agent, now)
        except store.duckdb.FatalException:
            self._fail([item], "the database failed; the writer restarts")
            raise
        except _STORAGE_ERRORS as exc:
            log.error("agent registration failed: %s", exc)
            self._fail([item], "the database cannot take writes right now")
            return
        except Exception as exc:
            log.warning("rejected an agent registration: %s", type(exc).__name__)
            self.replies.send(item[1], (FAILED, item[2], REJECTED, "the agent could not be stored"))
            return
        self.replies.send(item[1], (OK, item[2], stored))

    def _housekeeping(self) -> None:
        if time.monotonic() < self.next_sweep:
            return
        self.next_sweep = time.monotonic() + registry.SWEEP_INTERVAL.total_seconds()
        try:
            stale, removed = store.sweep_agents(self.con, self.clock(), self.retention)
        except store.duckdb.FatalException:
            raise
        except Exception as exc:  # the sweep is housekeeping: never let it stop ingest
            log.warning("agent sweep failed: %s", exc)
            return
        if stale or removed:
            log.info("agent sweep: %d marked stale, %d removed", stale, removed)


def _size(item: tuple) -> int:
    return len(item[3].entries) if item[0] == INGEST else 1


class QueryServer:
    """Accepts worker connections and answers each on its own thread and cursor."""

    def __init__(self, con: Any, listener: Listener, replies: Replies,
                 extra_stats: Callable[[datetime], dict]):
        self.con = con
        self.listener = listener
        self.replies = replies
        self.extra_stats = extra_stats
        self.closing = False
        self.thread = threading.Thread(target=self._accept, name="thinkt-accept", daemon=True)

    def start(self) -> None:
        """Start accepting connections."""
        self.thread.start()

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self.closing = True
        try:
            self.listener.close()
        except OSError:
            pass
        self.replies.close_all()

    def _accept(self) -> None:
        while not self.closing:
            try:
                conn = self.listener.accept()
            except (OSError, EOFError):
                if self.closing:
                    return
                continue  # a client that failed the handshake; keep serving the rest
            except Exception:  # the handshake can raise AuthenticationError
                log.warning("refused a connection to the writer (bad handshake)")
                continue
            threading.Thread(target=self._serve, args=(conn,), name="thinkt-query",
                             daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        client_id = None
        cursor = None
        send_lock = threading.Lock()
        try:
            hello = conn.recv()
            if hello[0] != HELLO:
                return
            client_id = hello[1]
            send_lock = self.replies.add(client_id, conn)
            cursor = self.con.cursor()
            while not self.closing:
                message = conn.recv()
                if message[0] != QUERY:
                    continue
                _, req_id, name, kwargs = message
                answer = self._answer(cursor, req_id, name, kwargs)
                with send_lock:
                    conn.send(answer)
        except (OSError, EOFError):
            pass
        finally:
            if client_id is not None:
                self.replies.remove(client_id)
            if cursor is not None:
                cursor.close()
            conn.close()

    def _answer(self, cursor: Any, req_id: int, name: str, kwargs: dict) -> tuple:
        try:
            if name == "ping":
                cursor.execute("SELECT 1").fetchall()
                return (OK, req_id, True)
            if name == "stats":
                result = store.stats(cursor, kwargs["now"], kwargs["db_path"])
                result.update(self.extra_stats(kwargs["now"]))
                return (OK, req_id, result)
            if name not in _QUERIES:
                return (FAILED, req_id, REJECTED, f"unknown query {name!r}")
            return (OK, req_id, _QUERIES[name](cursor, **kwargs))
        except store.duckdb.Error as exc:
            log.error("query %s failed: %s", name, exc)
            return (FAILED, req_id, UNAVAILABLE, "the query failed in the database")
        except Exception:
            log.exception("query %s failed", name)
            return (FAILED, req_id, UNAVAILABLE, "the query failed in the collector")


_QUERIES: dict[str, Callable[..., Any]] = {
    "search": store.search,
    "usage": store.usage,
    "list_sessions": store.list_sessions,
    "session_entries": store.session_entries,
    "list_agents": store.list_agents,
}


def main(path: str, queue: Any, address: str, authkey: bytes, ready: Connection,
         options: dict) -> None:
    """Entry point of the writer process (started with the ``spawn`` method)."""
    from thinkt import log as thinkt_log

    thinkt_log.configure(quiet=options.get("quiet", False), log_file=options.get("log"))
    # Ctrl-C in a terminal reaches the whole process group: the arbiter decides when we
    # stop (after the workers), so the writer ignores SIGINT and drains on SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    parent = os.getppid()

    try:
        con = store.open_database(path, threads=options.get("threads", 1),
                                  memory_limit=options.get("memory_limit"))
    except store.StoreError as exc:
        # The arbiter raises it again: the store's sentence, status (75 for a lock) and hint.
        ready.send(("failed", exc.message, int(exc.status), exc.hint))
        sys.exit(EXIT_OPEN_FAILED)
    try:
        listener = Listener(address, family="AF_UNIX", authkey=authkey)
    except OSError as exc:
        ready.send(("failed", f"cannot listen for workers: {exc}", int(ExitStatus.SOFTWARE),
                    None))
        sys.exit(EXIT_OPEN_FAILED)

    replies = Replies()
    writer = Writer(con, queue, replies,
                    retention=timedelta(seconds=options.get("agent_retention",
                                                            registry.DEFAULT_RETENTION.total_seconds())))
    started_at = options.get("started_at") or utcnow()

    def extra_stats(now: datetime) -> dict:
        try:
            depth = queue.qsize()
        except (NotImplementedError, OSError):
            depth = None
        return {
            "uptime_seconds": max(0, int((now - started_at).total_seconds())),
            "started_at": started_at.isoformat(timespec="seconds") + "Z",
            "queue_depth": depth,
            "duplicates_suppressed": writer.counters["entries_duplicate"],
            "commits": writer.counters["commits"],
            "requests_committed": writer.counters["requests"],
            "writer_pid": os.getpid(),
        }

    server = QueryServer(con, listener, replies, extra_stats)
    server.start()
    ready.send(("ready", os.getpid()))
    ready.close()
    log.info("writer ready (pid %d, database %s)", os.getpid(), path)
    code = 0
    try:
        writer.run(stop, alive=lambda: os.getppid() == parent)
    except store.duckdb.FatalException as exc:
        log.error("fatal database error, writer exits: %s", exc)
        code = EXIT_FATAL
    finally:
        server.close()
        if code == 0:
            try:
                con.execute("CHECKPOINT")
            except store.duckdb.Error as exc:
                log.warning("checkpoint at shutdown failed: %s", exc)
        con.close()
    log.info("writer stopped (%d commits, %d new entries)", writer.counters["commits"],
             writer.counters["entries_new"])
    sys.exit(code)
