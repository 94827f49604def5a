"""Long reads of the store run as background jobs of the writer: archive and backup.

An archive of months of history or a backup of a large store takes minutes; an HTTP
request must not (gunicorn restarts a worker that takes longer than its timeout), and
the writer's main thread must keep committing. So a job runs on a thread of the writer
process with a cursor of its own, reading one snapshot of the store while commits go
on; the API starts it (``202`` with the job) and answers its state until it is done
(``GET /v1/admin/jobs/<id>``), as ``thinkt admin archive`` and ``thinkt admin backup``
wait for it.

One job runs at a time (both read the whole store; two would only slow each other and
ingest). A job that is running when the writer stops is interrupted (DuckDB's
``interrupt()``), and its partial output is never left looking finished (the archive
and backup modules write under temporary names first).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

log = logging.getLogger(__name__)

#: How long stopping the writer waits for an interrupted job's thread.
STOP_WAIT = 10.0


class Busy(Exception):
    """Another job is running."""


@dataclasses.dataclass
class Job:
    """One job's state, as ``GET /v1/admin/jobs/<id>`` answers it."""

    id: int
    kind: str
    args: dict
    actor: str
    state: str = "running"  # running, done, failed
    started_at: str = ""
    finished_at: str | None = None
    progress: str | None = None
    result: dict | None = None
    error: str | None = None

    def public(self) -> dict:
        return dataclasses.asdict(self)


def _now() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


class JobRunner:
    """Starts jobs on threads of the writer process and keeps their states.

    A job is ``kinds[kind](cursor, progress=..., now=..., **args)``: a cursor of its own,
    a callback to report how far it got, and the writer's clock's time (naive UTC).
    """

    def __init__(self, con: Any, kinds: dict[str, Callable[..., dict]],
                 on_done: Callable[[Job], None] = lambda job: None, keep: int = 50,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
                 .replace(tzinfo=None)):
        self.con = con
        self.clock = clock
        self.kinds = kinds
        self.on_done = on_done
        self.keep = keep
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._running: tuple[threading.Thread, Any] | None = None

    def start(self, kind: str, args: dict, actor: str) -> dict:
        """Start a job of ``kind``; return its state. :raises Busy: one is running."""
        if kind not in self.kinds:
            raise ValueError(f"no job {kind!r}")
        with self._lock:
            if self._running is not None and self._running[0].is_alive():
                running = next(j for j in self._jobs.values() if j.state == "running")
                raise Busy(f"job {running.id} ({running.kind}) is still running")
            job = Job(next(self._ids), kind, args, actor, started_at=_now())
            self._jobs[job.id] = job
            for old in sorted(self._jobs)[:-self.keep]:
                del self._jobs[old]
            cursor = self.con.cursor()
            thread = threading.Thread(target=self._run, args=(job, cursor),
                                      name=f"thinkt-job-{job.id}", daemon=True)
            self._running = (thread, cursor)
            started = job.public()  # as started: a quick job may be done before we answer
            thread.start()
            return started

    def get(self, job_id: int) -> dict | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.public()

    def stop(self) -> None:
        """Interrupt a running job and wait (bounded) for its thread."""
        with self._lock:
            running = self._running
        if running is None or not running[0].is_alive():
            return
        thread, cursor = running
        log.info("interrupting the running job to stop")
        deadline = time.monotonic() + STOP_WAIT
        # Again until it ends: an interrupt that comes between two of the job's queries
        # stops nothing, and the next query would run on.
        while thread.is_alive() and time.monotonic() < deadline:
            try:
                cursor.interrupt()
            except Exception:  # the cursor may be closing already
                pass
            thread.join(0.1)

    def _run(self, job: Job, cursor: Any) -> None:
        started = time.monotonic()

        def progress(text: str) -> None:
            job.progress = text

        try:
            result = self.kinds[job.kind](cursor, progress=progress, now=self.clock(),
                                          **job.args)
            job.result, job.state = result, "done"
            log.info("job %d (%s) done in %.1f s", job.id, job.kind, time.monotonic() - started)
        except ValueError as exc:  # the job's own refusal: a bad directory, an open day
            job.error, job.state = str(exc), "failed"
        except Exception as exc:
            log.exception("job %d (%s) failed", job.id, job.kind)
            job.error, job.state = f"{type(exc).__name__}: {exc}", "failed"
        finally:
            job.finished_at = _now()
            try:
                cursor.close()
            except Exception:
                pass
        try:
            self.on_done(job)
        except Exception:
            log.exception("recording job %d failed", job.id)
