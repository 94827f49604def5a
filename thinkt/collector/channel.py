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
from typing import Any

log = logging.getLogger(__name__)

# Message kinds. Worker -> writer over the queue: (INGEST|REGISTER, client_id, req_id, payload).
# Worker -> writer over its connection: (HELLO, client_id) once, then (QUERY, req_id, name, kwargs).
# Writer -> worker over the connection: (OK, req_id, result) or (FAILED, req_id, reason, message).
INGEST = "ingest"
REGISTER = "register"
HELLO = "hello"
QUERY = "query"
OK = "ok"
FAILED = "failed"

#: Reasons a writer gives in FAILED: "unavailable" (try again later), "rejected" (bad data).
UNAVAILABLE = "unavailable"
REJECTED = "rejected"


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
    def ingest(self, request: Any, timeout: float) -> tuple[int, int]:
        """Hand a validated batch to the writer; return ``(new, duplicates)`` once committed."""
        return self._write(INGEST, request, timeout)

    def register(self, agent: dict, timeout: float) -> dict:
        """Upsert an agent through the writer; return the stored agent."""
        return self._write(REGISTER, agent, timeout)

    def query(self, name: str, timeout: float, **kwargs: Any) -> Any:
        """Run the store query ``name`` in the writer and return its result."""
        with self._lock:
            conn = self._connection()
            req_id = next(self._ids)
            try:
                conn.send((QUERY, req_id, name, kwargs))
            except (OSError, EOFError, ValueError):
                self._drop()
                raise Unavailable("the writer process is not reachable") from None
            return self._await(conn, req_id, timeout)

    def close(self) -> None:
        """Close the connection to the writer (a new one opens on next use)."""
        with self._lock:
            self._drop()

    # -- internals ---------------------------------------------------------------------
    def _write(self, kind: str, payload: Any, timeout: float) -> Any:
        with self._lock:
            # Connect before queueing, so the writer knows where to answer.
            conn = self._connection()
            req_id = next(self._ids)
            try:
                self.queue.put((kind, self.client_id, req_id, payload), timeout=self.put_timeout)
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
                if message[1] != req_id:
                    continue  # a late answer to a request we already gave up on
                if message[0] == OK:
                    return message[2]
                reason, text = message[2], message[3]
                if reason == REJECTED:
                    raise Rejected(text)
                raise Unavailable(text, retry_after=5)
        except (OSError, EOFError):
            self._drop()
            raise Unavailable("the writer process went away") from None

    def _connection(self) -> Connection:
        if self._conn is None:
            try:
                conn = Client(self.address, family="AF_UNIX", authkey=self.authkey)
                conn.send((HELLO, self.client_id))
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
