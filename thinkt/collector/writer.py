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

import json
import logging
import os
import queue as queue_module
import signal
import socket
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from multiprocessing.connection import Connection, Listener
from typing import Any, Callable

import duckdb

from thinkt.collector import agents, database, ingest, metrics, queries, registry, rollup, search
from thinkt.collector import dashboard
from thinkt.collector.channel import (REJECTED, UNAVAILABLE, Admin, Export, Failed, Hello,
                                      Ingest, Ingested, IngestRequest, Ok, Query, Register,
                                      TelemetryStored)
from thinkt.collector.governance import erase as erasure
from thinkt.collector.governance.jobs import Busy, JobRunner
from thinkt.collector.governance.retention import Retention, RetentionSweep
from thinkt.collector.precedence import TELEMETRY, Precedence
from thinkt.collector.telemetry import TelemetryLog
from thinkt.status import ExitStatus

log = logging.getLogger(__name__)

#: How long the queue stays empty before the writer counts as idle and refreshes the
#: rollup; under load batches follow each other closer than this, and the rollup is
#: refreshed every rollup.REFRESH_INTERVAL instead, in larger (cheaper) steps.
IDLE_GAP = 0.05
#: The audit log's actor for the nightly archive, and where its last day is kept.
NIGHTLY = "collector (nightly)"
ARCHIVED_UNTIL = "archived_until"
#: Exit status of a writer that could not open its database (the arbiter reports why).
EXIT_OPEN_FAILED = 73
#: Exit status after a fatal database error (the arbiter restarts the writer).
EXIT_FATAL = 70

# Errors that say the database cannot write now (not that a request is bad): every
# request of the group is answered 503 and sent again later.
_STORAGE_ERRORS = tuple(getattr(duckdb, name) for name in (
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
        """End every worker connection: the thread serving each sees its end and closes it.

        Only that thread closes the connection: closing it here too raced with the
        thread's own close (seen as EBADF), and a descriptor closed twice may by then
        be another file's.
        """
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for conn, _ in clients:
            try:
                with socket.socket(fileno=os.dup(conn.fileno())) as end:
                    end.shutdown(socket.SHUT_RDWR)  # the socket, not only this copy
            except (OSError, ValueError):
                pass  # closed already: its thread is gone or going


class Writer:
    """The group-commit loop over a queue of :class:`Ingest` and :class:`Register` messages."""

    def __init__(self, con: Any, queue: Any, replies: Replies, *, max_rows: int = 10_000,
                 linger: float = 0.1, quiet_gap: float = 0.005,
                 retention: timedelta = registry.DEFAULT_RETENTION,
                 clock: Callable[[], datetime] = utcnow,
                 monotonic: Callable[[], float] = time.monotonic,
                 keep: Retention = Retention(), archive_dir: str | None = None):
        self.con = con
        self.queue = queue
        self.replies = replies
        self.max_rows = max_rows
        self.linger = linger
        self.quiet_gap = quiet_gap
        self.retention = retention
        self.clock = clock
        self.monotonic = monotonic
        self.stopping = False
        self.next_sweep = 0.0
        self.log = ingest.EntryLog(con)
        self.precedence = Precedence(con)
        self.telemetry = TelemetryLog()
        self.sweep = RetentionSweep(keep, monotonic)
        self.jobs = JobRunner(con, JOBS, on_done=self._job_done, clock=clock)
        self.archive_dir = archive_dir
        #: The day the nightly archive last started for (None: not yet in this process).
        self.archive_started_for: date | None = None
        self.rollup = rollup.Rollup(con, lambda: self.log.last_seq, clock=monotonic)
        self.counters = {"commits": 0, "requests": 0, "entries_new": 0, "entries_duplicate": 0,
                         "entries_replaced": 0, "entries_failed": 0, "largest_group": 0,
                         "refreshes": 0, "telemetry_superseded": 0, "telemetry_requests": 0,
                         "telemetry_points": 0}

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
                first = self.queue.get(timeout=IDLE_GAP)
            except queue_module.Empty:
                # Idle (nothing for IDLE_GAP, not just between two commits of a burst):
                # bring the rollup up to date before waiting for more.
                self._refresh()
                try:
                    first = self.queue.get(timeout=0.5)
                except queue_module.Empty:
                    continue
            if first is None:
                break
            self.commit(self._gather(first))
            if self.rollup.due():  # batches keep coming: refresh at least every interval
                self._refresh()
        self._refresh()

    def _gather(self, first: Any) -> list[Any]:
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

    def commit(self, items: list[Any]) -> None:
        """Write ``items`` (ingests and telemetry exports in one transaction), then answer
        each waiting worker."""
        writes = [item for item in items if isinstance(item, (Ingest, Export))]
        if writes:
            self._commit_writes(writes)
        for item in items:
            if isinstance(item, Register):
                self._register(item)
            elif isinstance(item, Admin):
                self._admin(item)
            elif not isinstance(item, (Ingest, Export)):
                log.warning("ignoring an unknown queue item (%s)", type(item).__name__)

    def _store(self, items: list[Any]) -> list[Ingested | TelemetryStored]:
        """Store the entries of ``items`` and their telemetry in one transaction; return
        what became of each item. Which path tells a session is precedence.py's."""
        flat = [(index, batch) for index, item in enumerate(items) for batch in _batches(item)]
        exports = [item.telemetry for item in items if isinstance(item, Export)]
        with self.rollup.lock:
            told = self.precedence.told_by_transcript(
                self.con, [batch for _, batch in flat], self.rollup.watermark)
            kept = [(index, batch) for index, batch in flat
                    if batch.origin != TELEMETRY or batch.session_id not in told]
            batches = [batch for _, batch in kept]
            superseded = self.precedence.superseded(batches)
            outcome: dict[str, Any] = {}

            def also(con: Any) -> None:
                self.precedence.apply(con, batches, superseded, self.clock())
                outcome["telemetry"] = self.telemetry.store(con, exports)

            results, replaced = self.log.ingest(
                self.con, batches, also if exports or superseded else None)
            self.precedence.committed(batches, superseded)
            if "telemetry" in outcome:
                self.telemetry.committed(outcome["telemetry"][1])
        self.rollup.committed(batches, replaced or bool(superseded))
        return _outcomes(items, flat, kept, results,
                         outcome["telemetry"][0] if "telemetry" in outcome else [])

    def _commit_writes(self, writes: list[Any]) -> None:
        started = time.monotonic()
        try:
            results: list[Any] = self._store(writes)
        except duckdb.FatalException:
            self._fail(writes, "the database failed; the writer restarts")
            raise
        except _STORAGE_ERRORS as exc:
            log.error("commit of %d requests failed: %s", len(writes), exc)
            self._fail(writes, "the database cannot take writes right now")
            metrics.record_commit({UNAVAILABLE: sum(_size(item) for item in writes)}, 0,
                                  time.monotonic() - started)
            return
        except Exception:  # something in one request's data: find out which
            results = self._isolate(writes)
        elapsed = time.monotonic() - started
        outcome = {"accepted": 0, "duplicate": 0, REJECTED: 0, UNAVAILABLE: 0}
        for item, result in zip(writes, results):
            if isinstance(result, Failed):
                self.counters["entries_failed"] += _size(item)
                outcome[result.reason] = outcome.get(result.reason, 0) + _size(item)
                self.replies.send(item.client_id, result._replace(req_id=item.req_id))
                continue
            if isinstance(result, TelemetryStored):
                self.counters["entries_new"] += result.entries_new
                self.counters["entries_duplicate"] += result.entries_duplicate
                self.counters["telemetry_superseded"] += result.entries_superseded
                self.counters["telemetry_requests"] += result.requests_new
                self.counters["telemetry_points"] += result.points_new
                outcome["accepted"] += result.entries_new
                outcome["duplicate"] += result.entries_duplicate
            else:
                self.counters["entries_new"] += result.new
                self.counters["entries_replaced"] += result.replaced
                self.counters["entries_duplicate"] += result.duplicates
                outcome["accepted"] += result.new + result.replaced
                outcome["duplicate"] += result.duplicates
            self.replies.send(item.client_id, Ok(item.req_id, result))
        rows = sum(_size(item) for item in writes)
        metrics.record_commit(outcome, rows, elapsed)
        self.counters["commits"] += 1
        self.counters["requests"] += len(writes)
        self.counters["largest_group"] = max(self.counters["largest_group"], rows)
        log.debug("committed %d requests, %d rows in %.1f ms", len(writes), rows,
                  elapsed * 1000)

    def _isolate(self, writes: list[Any]) -> list[Any]:
        """After a group failed on its data, commit each request alone to find the bad one."""
        results: list[Any] = []
        for item in writes:
            try:
                results.append(self._store([item])[0])
            except duckdb.FatalException:
                raise
            except _STORAGE_ERRORS:
                results.append(Failed(item.req_id, UNAVAILABLE,
                                      "the database cannot take writes right now"))
            except Exception as exc:
                what = (f"session {item.batch.session_id!r}" if isinstance(item, Ingest)
                        else "a telemetry export")
                log.warning("rejected a batch of %s: %s", what, type(exc).__name__)
                results.append(Failed(item.req_id, REJECTED,
                                      "the entries could not be stored as sent"))
        return results

    def _fail(self, items: list[Any], message: str) -> None:
        for item in items:
            self.replies.send(item.client_id, Failed(item.req_id, UNAVAILABLE, message))

    def _register(self, item: Register) -> None:
        registration = item.registration
        try:
            with self.rollup.lock:
                stored = agents.register_agent(self.con, registration.agent, registration.now)
        except duckdb.FatalException:
            self._fail([item], "the database failed; the writer restarts")
            raise
        except _STORAGE_ERRORS as exc:
            log.error("agent registration failed: %s", exc)
            self._fail([item], "the database cannot take writes right now")
            return
        except Exception as exc:
            log.warning("rejected an agent registration: %s", type(exc).__name__)
            self.replies.send(item.client_id, Failed(item.req_id, REJECTED,
                                                     "the agent could not be stored"))
            return
        self.replies.send(item.client_id, Ok(item.req_id, stored))

    def _admin(self, item: Admin) -> None:
        """Do an administrator's write between commits and answer it."""
        handler = getattr(self, f"_admin_{item.action}", None)
        if handler is None:
            self.replies.send(item.client_id, Failed(item.req_id, REJECTED,
                                                     f"unknown action {item.action!r}"))
            return
        try:
            with self.rollup.lock:
                # Every acknowledged entry is folded in first: what an erasure recomputes
                # must not be folded in again after it.
                self.rollup.refresh(self.con)
                result = handler(**item.kwargs)
        except duckdb.FatalException:
            self._fail([item], "the database failed; the writer restarts")
            raise
        except _STORAGE_ERRORS as exc:
            log.error("%s failed: %s", item.action, exc)
            self._fail([item], "the database cannot take writes right now")
            return
        except ValueError as exc:
            self.replies.send(item.client_id, Failed(item.req_id, REJECTED, str(exc)))
            return
        self.replies.send(item.client_id, Ok(item.req_id, result))

    def _admin_erase(self, kind: str, value: Any, actor: str, source: str | None = None,
                     dry_run: bool = False) -> dict:
        removed = erasure.erase(self.con, erasure.Selector(kind, value, source), actor=actor,
                                now=self.clock(), dry_run=dry_run)
        if removed["sessions"] and not dry_run:
            self.precedence = Precedence(self.con)  # sessions it told may be gone
        return {"removed": removed, "dry_run": dry_run}

    def _admin_retention_plan(self) -> dict:
        return self.sweep.plan(self.con, self.clock())

    def _admin_start_job(self, kind: str, args: dict, actor: str) -> dict:
        try:
            return self.jobs.start(kind, args, actor)
        except Busy as exc:
            return {"busy": str(exc)}

    def _job_done(self, job: Any) -> None:
        """Record a finished archive or backup in the audit log, and a nightly archive's
        last day (on the job's thread; every write is under the rollup's lock)."""
        target = {**job.args, "job": job.id, "state": job.state}
        if job.error:
            target["error"] = job.error
        cursor = self.con.cursor()
        try:
            with self.rollup.lock:
                cursor.execute("INSERT INTO audit_log (happened_at, actor, action, target, "
                               "removed) VALUES (?, ?, ?, ?, '{}')",
                               [self.clock(), job.actor, job.kind,
                                json.dumps(target, default=str)])
                if job.kind == "archive" and job.actor == NIGHTLY and job.state == "done":
                    cursor.execute("INSERT OR REPLACE INTO rollup_state VALUES (?, ?)",
                                   [ARCHIVED_UNTIL,
                                    date.fromisoformat(job.args["until"]).toordinal()])
        finally:
            cursor.close()

    def _archive_nightly(self) -> None:
        """Start the archive of the days closed since the last nightly one (at start, and
        after each midnight UTC), into ``--archive-dir``."""
        today = self.clock().date()
        if self.archive_dir is None or self.archive_started_for == today:
            return
        stored = self.con.execute("SELECT max(seq) FROM rollup_state WHERE name = ?",
                                  [ARCHIVED_UNTIL]).fetchone()[0]
        # Never archived: the day that just closed (older history is the admin's call).
        since = date.fromordinal(stored) if stored else today - timedelta(days=1)
        self.archive_started_for = today
        if since >= today:
            return
        answer = self._admin_start_job("archive", {
            "directory": self.archive_dir, "since": since.isoformat(),
            "until": today.isoformat()}, NIGHTLY)
        if "busy" in answer:
            self.archive_started_for = None  # another job runs: try again next time round
            log.info("nightly archive waits: %s", answer["busy"])

    def _retain(self) -> None:
        """One step of the retention sweep, when due; a failure waits for the next."""
        if not self.sweep.due():
            return
        try:
            with self.rollup.lock:
                self.rollup.refresh(self.con)
                removed = self.sweep.step(self.con, self.clock())
        except duckdb.FatalException:
            raise
        except Exception as exc:  # housekeeping: never let it stop ingest
            log.warning("retention sweep failed (tried again in a minute): %s", exc)
            self.sweep.next_at = self.monotonic() + 60.0
            return
        if removed["sessions"]:
            self.precedence = Precedence(self.con)

    def _refresh(self) -> None:
        """Fold committed entries into the rollup; a failure waits for the next try."""
        if not self.rollup.pending():
            return
        try:
            self.rollup.refresh(self.con)
        except duckdb.FatalException:
            raise
        except _STORAGE_ERRORS as exc:
            log.error("rollup refresh failed (retried with the next one): %s", exc)
            return
        self.counters["refreshes"] += 1

    def _housekeeping(self) -> None:
        self._retain()
        self._archive_nightly()
        if time.monotonic() < self.next_sweep:
            return
        self.next_sweep = time.monotonic() + registry.SWEEP_INTERVAL.total_seconds()
        self._refresh()  # heartbeats first: an agent that just sent is not stale
        try:
            with self.rollup.lock:
                stale, removed = agents.sweep_agents(self.con, self.clock(), self.retention)
        except duckdb.FatalException:
            raise
        except Exception as exc:  # the sweep is housekeeping: never let it stop ingest
            log.warning("agent sweep failed: %s", exc)
            return
        if stale or removed:
            log.info("agent sweep: %d marked stale, %d removed", stale, removed)


def _size(item: Any) -> int:
    """The rows an item writes, for the group's bound and the commit metrics."""
    if isinstance(item, Ingest):
        return len(item.batch.entries)
    if isinstance(item, Export):
        telemetry = item.telemetry
        return (sum(len(batch.entries) for batch in telemetry.sessions)
                + len(telemetry.requests) + len(telemetry.points)) or 1
    return 1


def _batches(item: Any) -> list[IngestRequest]:
    """The entry batches an item carries (an export: one per session)."""
    return [item.batch] if isinstance(item, Ingest) else list(item.telemetry.sessions)


def _outcomes(items: list[Any], flat: list[tuple[int, IngestRequest]],
              kept: list[tuple[int, IngestRequest]], results: list[Ingested],
              stored: list[Any]) -> list[Ingested | TelemetryStored]:
    """Gather the per-batch results of one commit back into one answer per item."""
    per_item: dict[int, list[Ingested]] = {}
    for (index, _), result in zip(kept, results):
        per_item.setdefault(index, []).append(result)
    kept_ids = {id(batch) for _, batch in kept}
    superseded: dict[int, int] = {}
    for index, batch in flat:
        if id(batch) not in kept_ids:
            superseded[index] = superseded.get(index, 0) + len(batch.entries)
    answers: list[Ingested | TelemetryStored] = []
    exports = iter(stored)
    for index, item in enumerate(items):
        mine = per_item.get(index, [])
        if isinstance(item, Ingest):
            answers.append(mine[0])
            continue
        telemetry = next(exports)
        answers.append(TelemetryStored(
            entries_new=sum(r.new + r.replaced for r in mine),
            entries_duplicate=sum(r.duplicates for r in mine),
            entries_superseded=superseded.get(index, 0),
            requests_new=telemetry.requests, points_new=telemetry.points))
    return answers


def _archive_job(cursor: Any, progress: Callable[[str], None], now: datetime, directory: str,
                 since: str, until: str) -> dict:
    from thinkt.collector.governance.archive import archive

    return archive(cursor, directory, date.fromisoformat(since), date.fromisoformat(until),
                   today=now.date(), progress=progress)


def _backup_job(cursor: Any, progress: Callable[[str], None], now: datetime,
                directory: str) -> dict:
    from thinkt.collector.governance.backup import backup

    return backup(cursor, directory, now=now, progress=progress)


#: The background jobs an administrator can start (governance/jobs.py).
JOBS: dict[str, Callable[..., dict]] = {"archive": _archive_job, "backup": _backup_job}


class QueryServer:
    """Accepts worker connections and answers each on its own thread and cursor.

    ``fresh(cursor)`` runs before every query that reads the store: the writer's
    :meth:`rollup.Rollup.ensure_fresh`, so that answers include every acknowledged entry.
    """

    def __init__(self, con: Any, listener: Listener, replies: Replies,
                 extra_stats: Callable[[datetime], dict], fresh: Callable[[Any], None],
                 jobs: JobRunner | None = None):
        self.con = con
        self.jobs = jobs
        self.listener = listener
        self.replies = replies
        self.extra_stats = extra_stats
        self.fresh = fresh
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
            if not isinstance(hello, Hello):
                return
            client_id = hello.client_id
            send_lock = self.replies.add(client_id, conn)
            cursor = self.con.cursor()
            while not self.closing:
                message = conn.recv()
                if not isinstance(message, Query):
                    continue
                answer = self._answer(cursor, message)
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

    def _answer(self, cursor: Any, query: Query) -> Ok | Failed:
        name, req_id = query.name, query.req_id
        try:
            if name == "ping":
                cursor.execute("SELECT 1").fetchall()
                return Ok(req_id, True)
            if name == "admin_job":
                return Ok(req_id, self.jobs.get(query.kwargs["job_id"]) if self.jobs else None)
            if name != "stats" and name not in _QUERIES:
                return Failed(req_id, REJECTED, f"unknown query {name!r}")
            # Every acknowledged entry is in the answer: fold in what the rollup has not.
            self.fresh(cursor)
            if name == "stats":
                result = queries.stats(cursor, query.kwargs["now"], query.kwargs["db_path"])
                result.update(self.extra_stats(query.kwargs["now"]))
                return Ok(req_id, result)
            return Ok(req_id, _QUERIES[name](cursor, **query.kwargs))
        except duckdb.Error as exc:
            log.error("query %s failed: %s", name, exc)
            return Failed(req_id, UNAVAILABLE, "the query failed in the database")
        except Exception:
            log.exception("query %s failed", name)
            return Failed(req_id, UNAVAILABLE, "the query failed in the collector")


_QUERIES: dict[str, Callable[..., Any]] = {
    "search": search.search,
    "usage": queries.usage,
    "priced_usage": queries.priced_usage,
    "metric_totals": queries.metric_totals,
    "list_sessions": queries.list_sessions,
    "session_entries": queries.session_entries,
    "list_agents": agents.list_agents,
    "audit_log": erasure.audit_log,
    **dashboard.QUERIES,  # the web pages' (web_*)
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
        con = database.open_database(path, threads=options.get("threads", 1),
                                  memory_limit=options.get("memory_limit"))
    except database.StoreError as exc:
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
                                                            registry.DEFAULT_RETENTION.total_seconds())),
                    keep=Retention(options.get("retention_days") or 0,
                                   options.get("retention") or {}),
                    archive_dir=options.get("archive_dir"))
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

    server = QueryServer(con, listener, replies, extra_stats, fresh=writer.rollup.ensure_fresh,
                         jobs=writer.jobs)
    server.start()
    ready.send(("ready", os.getpid()))
    ready.close()
    log.info("writer ready (pid %d, database %s)", os.getpid(), path)
    code = 0
    try:
        writer.run(stop, alive=lambda: os.getppid() == parent)
    except duckdb.FatalException as exc:
        log.error("fatal database error, writer exits: %s", exc)
        code = EXIT_FATAL
    finally:
        writer.jobs.stop()
        server.close()
        if code == 0:
            try:
                con.execute("CHECKPOINT")
            except duckdb.Error as exc:
                log.warning("checkpoint at shutdown failed: %s", exc)
        con.close()
    log.info("writer stopped (%d commits, %d new entries)", writer.counters["commits"],
             writer.counters["entries_new"])
    sys.exit(code)
