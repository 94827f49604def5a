"""A Dispatcher on a disk buffer, a settable clock and a scripted shipper, for delivery tests.

Shared by the drain tests and the chaos harness's recovery tests: POSTs can be held in
flight until a test opens their gate, and time only moves when the test moves it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from thinkt.exporter.ship import payload as payloads
from thinkt.exporter.ship.buffer import DiskBuffer
from thinkt.exporter.ship.dispatcher import Dispatcher
from thinkt.exporter.ship.payload import Payload
from thinkt.exporter.ship.shipper import Answer, Result

#: Sender threads of every test dispatcher.
WORKERS = 4


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class GatedShipper:
    """Answers POSTs as scripted; holds the n-th until ``gates[n]`` opens (in flight)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.gates = [threading.Event() for _ in range(20)]
        self.result = Result.RETRY
        self.posts = 0
        self.arrived = threading.Semaphore(0)
        self.lock = threading.Lock()

    def post(self, body: bytes, attempts: int | None = None) -> Answer:
        with self.lock:
            number = self.posts
            self.posts += 1
        self.arrived.release()
        assert self.gates[number].wait(10), "the test never opened this POST's gate"
        if self.result is Result.SHIPPED:
            return Answer(Result.SHIPPED, 200, accepted=1)
        return Answer(Result.RETRY, error="connection failed")

    def open(self, *numbers: int) -> None:
        for number in numbers:
            self.gates[number].set()


def payload(n: int, session: str = "s") -> Payload:
    """A payload of one entry (uuid ``u<n>``), as the reader builds them."""
    body = payloads.encode({"source": "claude", "session_id": session,
                            "entries": [{"uuid": f"u{n}", "role": "user"}]})
    return Payload("claude", session, 1, body)


def dispatcher_for(tmp_path: Path, shipper, clock: Callable[[], float] = time.monotonic,
                   max_bytes: int = 10_000_000, **kwargs) -> Dispatcher:
    """A started Dispatcher with WORKERS senders and its buffer under ``tmp_path``."""
    buffer = DiskBuffer(tmp_path / "buffer", max_bytes).open()
    return Dispatcher(buffer, shipper, workers=WORKERS, clock=clock, **kwargs).start()


@contextlib.contextmanager
def gated_dispatcher(tmp_path: Path) -> Iterator[tuple[Clock, GatedShipper, Dispatcher]]:
    """A started Dispatcher on a :class:`Clock` and a :class:`GatedShipper`; on leaving,
    every gate opens (nothing stays held in flight) and the dispatcher closes."""
    clock, shipper = Clock(), GatedShipper()
    dispatcher = dispatcher_for(tmp_path, shipper, clock)
    try:
        yield clock, shipper, dispatcher
    finally:
        shipper.open(*range(len(shipper.gates)))
        dispatcher.close(timeout=1)


def eventually(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` in real time (the test clock stands still) until it is true or
    ``timeout`` passes; return whether it became true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
