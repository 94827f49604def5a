"""The channel between HTTP workers and the writer process.

Writes (ingest batches, agent registrations) travel to the writer over one bounded
``multiprocessing.Queue`` shared by every worker, so the writer can take everything
waiting into one transaction. Answers travel back over a private connection per
worker: each worker keeps one ``multiprocessing.connection`` to the writer's listener,
introduces itself with a client id, and receives its acknowledgements there once the
writer has committed. Queries (search, stats, ...) go over the same connection and are
answered by a thread of the writer that owns a cursor of its own.

Every wait here is bounded; a writer that is gone, slow or full surfaces as
:class:`Unavailable`, which the API turns into 503 with ``Retry-After``.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue as queue_module
import secrets
import threading
import time
from multiprocessing.connection import Client, Connection
from datetime import datetime
from typing import Any, Callable, NamedTuple

log = logging.getLogger(__name__)

#: Reasons a writer gives in :class:`Failed`: "unavailable" (try again later), "rejected" (bad data).
UNAVAILABLE = "unavailable"
REJECTED = "rejected"


class IngestRequest(NamedTuple):
    """One validated ``POST /v1/traces`` body, as the writer receives it."""

    source: str  # already trimmed + lower-cased
    session_id: str
    project_path: str | None
    instance_id: str | None
    machine_id: str | None
    metadata: str | None  # JSON text or None
    received_at: datetime  # naive UTC, taken by the HTTP worker
    entries: list[tuple]  # tuples in schemas.ENTRY_FIELDS order, already validated
    #: The entries' sketches and packed long texts (longtext.Prepared), made by the HTTP
    #: worker so that the writer, the one process every batch passes through, does not;
    #: None: the writer makes them.
    prepared: Any = None
    #: Who the sender runs for (the wire's ``user``, stored as ``person``); last, with a
    #: default, so batches built by position stay valid.
    person: str | None = None
    #: Where the entries come from: None for an exporter's batch, ``"telemetry"`` for
    #: the assistant's own log events (precedence.py decides which tells a session).
    origin: str | None = None


class TelemetryBatch(NamedTuple):
    """One OTLP export, decoded and mapped by the HTTP worker (logs or metrics)."""

    #: The log events as entries, one validated batch per session (origin telemetry).
    sessions: list[IngestRequest]
    #: The API request events as they arrived (otlp.records.ApiRequest).
    requests: list[Any]
    #: The metric points as sent (otlp.decode.MetricPoint): the writer turns cumulative
    #: ones into deltas against the series' stored state.
    points: list[Any]
    received_at: datetime  # naive UTC, taken by the HTTP worker


class AgentRegistration(NamedTuple):
    """One validated ``POST /v1/agents/register`` body and when it arrived (naive UTC)."""

    agent: dict
    now: datetime


# Worker -> writer, over the shared queue: the writes, answered once committed.
class Ingest(NamedTuple):
    """Store a batch; answered with ``Ok(result=Ingested)`` after the commit."""

    client_id: str
    req_id: int
    batch: IngestRequest


class Export(NamedTuple):
    """Store a telemetry export; answered with ``Ok(result=TelemetryStored)`` after the commit."""

    client_id: str
    req_id: int
    telemetry: TelemetryBatch


class Admin(NamedTuple):
    """An administrator's write (an erasure, a retention dry run, starting a job), done by
    the writer between commits; answered with ``Ok(result=dict)``."""

    client_id: str
    req_id: int
    action: str
    kwargs: dict


class Register(NamedTuple):
    """Create or update an agent; answered with ``Ok(result=the stored agent)``."""

    client_id: str
    req_id: int
    registration: AgentRegistration


# Worker -> writer, over the worker's own connection.
class Hello(NamedTuple):
    """The first message on a connection: where to send the answers for ``client_id``."""

    client_id: str


class Query(NamedTuple):
    """Run the read ``name`` with ``kwargs`` on the connection's cursor."""

    req_id: int
    name: str
    kwargs: dict


# Writer -> worker, over the worker's connection.
class Ok(NamedTuple):
    """The request ``req_id`` was committed (or answered) with ``result``."""

    req_id: int
    result: Any


class Failed(NamedTuple):
    """The request ``req_id`` failed: ``reason`` is UNAVAILABLE or REJECTED."""

    req_id: int
    reason: str
    message: str


class Ingested(NamedTuple):
    """What became of one batch's entries: new, replacing a changed copy, or duplicates."""

    new: int
    replaced: int
    duplicates: int


class TelemetryStored(NamedTuple):
    """What became of one telemetry export."""

    #: Entries stored, and resent ones already stored.
    entries_new: int
    entries_duplicate: int
    #: Entries not made because the session's transcript tells it (precedence.py).
    entries_superseded: int
    #: API request events stored (new), and metric points that added an interval.
    requests_new: int
    points_new: int


class Unavailable(Exception):
    """The writer cannot take or answer this now; the client should retry later."""

    def __init__(self, message: str, retry_after: int = 5):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class Rejected(Exception):
    """The writer refused the data itself (it could not be stored as sent)."""


def new_authkey() -> bytes:
    """Return a fresh secret for the writer's listener."""
    return secrets.token_bytes(32)


def new_address() -> str:
    """Return a fresh abstract Unix socket address for a writer's listener (Linux)."""
    # The abstract namespace needs no file to clean up; the authkey keeps others out.
    return f"\0thinkt-writer-{os.getpid()}-{secrets.token_hex(8)}"


class WriterClient:
    """A worker's handle on the writer: put writes on the queue, wait for answers."""

    def __init__(self, queue: Any, address: str, authkey: bytes, *, put_timeout: float = 2.0,
                 connect_retry_after: int = 5):
        self.queue = queue
        self.address = address
        self.authkey = authkey
        self.put_timeout = put_timeout
        self.connect_retry_after = connect_retry_after
        self.client_id = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._conn: Connection | None = None
        self._ids = itertools.count(1)
        # Sync workers run one request at a time, but tests and threaded hosts may not.
        self._lock = threading.Lock()

    # -- public API --------------------------------------------------------------------
    def ingest(self, batch: IngestRequest, timeout: float) -> Ingested:
        """Hand a validated batch to the writer; return what became of it once committed."""
        return self._write(lambda req_id: Ingest(self.client_id, req_id, batch), timeout)

    def export(self, telemetry: TelemetryBatch, timeout: float) -> TelemetryStored:
        """Hand a telemetry export to the writer; return what became of it once committed."""
        return self._write(lambda req_id: Export(self.client_id, req_id, telemetry), timeout)

    def admin(self, action: str, timeout: float, **kwargs: Any) -> dict:
        """Have the writer do the administrator's ``action``; return its answer."""
        return self._write(lambda req_id: Admin(self.client_id, req_id, action, kwargs),
                           timeout)

    def register(self, registration: AgentRegistration, timeout: float) -> dict:
        """Upsert an agent through the writer; return the stored agent."""
        return self._write(lambda req_id: Register(self.client_id, req_id, registration),
                           timeout)

    def query(self, name: str, timeout: float, **kwargs: Any) -> Any:
        """Run the store query ``name`` in the writer and return its result."""
        with self._lock:
            conn = self._connection()
            req_id = next(self._ids)
            try:
                conn.send(Query(req_id, name, kwargs))
            except (OSError, EOFError, ValueError):
                self._drop()
                raise Unavailable("the writer process is not reachable") from None
            return self._await(conn, req_id, timeout)

    def close(self) -> None:
        """Close the connection to the writer (a new one opens on next use)."""
        with self._lock:
            self._drop()

    # -- internals ---------------------------------------------------------------------
    def _write(self, message: Callable[[int], Ingest | Export | Register | Admin],
               timeout: float) -> Any:
        with self._lock:
            # Connect before queueing, so the writer knows where to answer.
            conn = self._connection()
            req_id = next(self._ids)
            try:
                self.queue.put(message(req_id), timeout=self.put_timeout)
            except queue_module.Full:
                raise Unavailable("the collector is busy (write queue full)", retry_after=2) from None
            except (OSError, ValueError, AssertionError):
                raise Unavailable("the writer queue is closed") from None
            return self._await(conn, req_id, timeout)

    def _await(self, conn: Connection, req_id: int, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not conn.poll(remaining):
                    raise Unavailable(f"the writer did not answer within {timeout:g}s",
                                      retry_after=5)
                message = conn.recv()
                if message.req_id != req_id:
                    continue  # a late answer to a request we already gave up on
                if isinstance(message, Ok):
                    return message.result
                if message.reason == REJECTED:
                    raise Rejected(message.message)
                raise Unavailable(message.message, retry_after=5)
        except (OSError, EOFError):
            self._drop()
            raise Unavailable("the writer process went away") from None

    def _connection(self) -> Connection:
        if self._conn is None:
            try:
                conn = Client(self.address, family="AF_UNIX", authkey=self.authkey)
                conn.send(Hello(self.client_id))
            except (OSError, EOFError) as exc:
                log.debug("cannot reach the writer: %s", exc)
                raise Unavailable("the writer process is not reachable",
                                  retry_after=self.connect_retry_after) from None
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
            self._conn = None
