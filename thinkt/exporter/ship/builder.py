"""Building payloads on more than one core: a large slice is split between the reader and
a few worker processes.

Masking secrets, encoding and compressing cost the exporter about twice what parsing
does, and all of it ran on the reader's thread: against a collector that keeps up,
a one-shot export was bound to that one core (about a fifth of plain read + parse).
A slice of at least ``PARALLEL_ENTRIES`` entries is cut into consecutive parts of
about equal text size, at session boundaries or every ``MAX_ENTRIES`` entries of one
session; worker processes build all parts but the first while the reader builds
that one itself, and the payloads are put back in the slice's order. The payloads are
the ones :func:`payloads.build` makes of the whole slice: one session each, at most
``MAX_ENTRIES`` entries, every text masked before it leaves this process's memory.

Workers are started (``forkserver``: never a fork of this threaded process) on the
first large slice, each with its own copy of the redactor's rules; the masking counts
they find are added to the reader's redactor, so totals and statuses stay whole. A
worker that fails (killed, out of memory) costs nothing but time: the part is built
here instead and the pool is not used again. Small slices, as a running exporter
reads them line by line, are built here directly, and so is every slice when entries
travel without their text (``metadata_only``: nothing to mask, little to encode).
"""

from __future__ import annotations

import logging
import os
import signal
from concurrent.futures import Future
from typing import Sequence

from thinkt.exporter.entry import Entry
from thinkt.exporter.ship import payload as payloads
from thinkt.exporter.ship.payload import MAX_ENTRIES, Payload
from thinkt.exporter.ship.redact import Redactor

log = logging.getLogger(__name__)

#: Slices with fewer entries are built in the reader (a pool costs more than it saves).
PARALLEL_ENTRIES = 400


def default_workers() -> int:
    """Worker processes by default: the cores but two, at most 3.

    One core is the reader's, one is left to the senders and to everything else on the
    machine (a collector on the same box, the user's own work): with no core to spare,
    workers only add their start-up and the copying of entries (on a busy two-core
    machine a one-shot export took 8.3-9.1 s with one worker against 7.6-7.7 s without).
    """
    return max(0, min(3, (os.cpu_count() or 1) - 2))


class Builder:
    """Turns entries into payloads, with ``workers`` processes helping on large slices."""

    def __init__(self, *, instance_id: str, machine_id: str | None = None,
                 user: str | None = None, redactor: Redactor | None = None,
                 metadata_only: bool = False, workers: int = 0):
        self.instance_id = instance_id
        self.machine_id = machine_id
        self.user = user
        self.redactor = redactor
        self.metadata_only = metadata_only
        self.workers = max(0, workers)
        self._pool = None
        self._broken = False

    def build(self, source: str, entries: Sequence[Entry]) -> list[Payload]:
        """Return the payloads of ``entries`` (of ``source``), as :func:`payloads.build` would."""
        if (self.workers == 0 or self._broken or self.metadata_only
                or len(entries) < PARALLEL_ENTRIES):  # metadata only: little to do
            return self._here(source, entries)
        parts, paths = split(entries, self.workers + 1)
        if len(parts) < 2:
            return self._here(source, entries)
        futures = [self._submit(source, part, paths) for part in parts[1:]]
        built = self._here(source, parts[0], paths)
        for part, future in zip(parts[1:], futures):
            built.extend(self._collect(source, part, paths, future))
        return built

    def _here(self, source: str, entries: Sequence[Entry],
              paths: dict[str, str | None] | None = None) -> list[Payload]:
        return payloads.build(source, entries, instance_id=self.instance_id,
                              machine_id=self.machine_id, user=self.user, redactor=self.redactor,
                              metadata_only=self.metadata_only, project_paths=paths)

    def _submit(self, source: str, part: list[Entry], paths: dict[str, str | None],
                ) -> Future | None:
        try:
            return self._executor().submit(_build_part, source, part, paths)
        except Exception as exc:  # the pool cannot start or is broken: build here
            self._give_up(exc)
            return None

    def _collect(self, source: str, part: list[Entry], paths: dict[str, str | None],
                 future: Future | None) -> list[Payload]:
        if future is not None:
            try:
                built, found = future.result()
            except Exception as exc:
                self._give_up(exc)
            else:
                if self.redactor is not None and found:
                    self.redactor.add_totals(found)
                return built
        return self._here(source, part, paths)

    def _executor(self):
        if self._broken:
            raise RuntimeError("the build workers are not used any more")
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("forkserver")
            rules = self.redactor.rules if self.redactor is not None else None
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_start_worker,
                initargs=(rules, self.instance_id, self.machine_id, self.user,
                          self.metadata_only))
            log.debug("started %d payload build workers", self.workers)
        return self._pool

    def _give_up(self, exc: BaseException) -> None:
        if not self._broken:
            log.warning("payload build workers failed (%s): building payloads in the "
                        "reader from now on", exc.__class__.__name__)
        self._broken = True

    def close(self) -> None:
        """Stop the workers (idle once the reader is done: they exit at once)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def split(entries: Sequence[Entry], count: int,
          ) -> tuple[list[list[Entry]], dict[str, str | None]]:
    """Cut ``entries`` into at most ``count`` consecutive parts of about equal text size;
    return them with each session's project path.

    Entries are grouped by session first, in order of first appearance, as
    :func:`payloads.build` groups them; a part ends only where a session does or
    after a multiple of ``MAX_ENTRIES`` entries of one, so each part's payloads are
    the ones the whole slice would have made (the project path of a session is the
    whole session's, whichever part names it).
    """
    sessions: dict[str, list[Entry]] = {}
    for entry in entries:
        sessions.setdefault(entry.session_id, []).append(entry)
    paths = {session: next((e.project_path for e in group if e.project_path), None)
             for session, group in sessions.items()}
    units = [group[start:start + MAX_ENTRIES] for group in sessions.values()
             for start in range(0, len(group), MAX_ENTRIES)]
    sizes = [sum(len(entry.text or "") + 256 for entry in unit) for unit in units]
    share = sum(sizes) / max(1, count)
    parts: list[list[Entry]] = [[]]
    filled = 0.0
    for unit, size in zip(units, sizes):
        if parts[-1] and filled + size / 2 > share * len(parts) and len(parts) < count:
            parts.append([])
        parts[-1].extend(unit)
        filled += size
    return parts, paths


# -- in the worker processes ---------------------------------------------------------------

_WORKER: dict = {}


def _start_worker(rules, instance_id: str, machine_id: str | None, user: str | None,
                  metadata_only: bool) -> None:
    # Stopping is the exporter's business: a Ctrl-C or a TERM to the whole group must
    # not kill a worker in the middle of a part (the pool would break).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _WORKER.update(redactor=Redactor(rules) if rules is not None else None,
                   instance_id=instance_id, machine_id=machine_id, user=user,
                   metadata_only=metadata_only)


def _build_part(source: str, entries: list[Entry], paths: dict[str, str | None],
                ) -> tuple[list[Payload], dict[str, int]]:
    """Build one part; return its payloads and what the redactor masked in it."""
    redactor: Redactor | None = _WORKER["redactor"]
    before = redactor.totals() if redactor is not None else {}
    built = payloads.build(source, entries, instance_id=_WORKER["instance_id"],
                           machine_id=_WORKER["machine_id"], user=_WORKER["user"],
                           redactor=redactor,
                           metadata_only=_WORKER["metadata_only"], project_paths=paths)
    after = redactor.totals() if redactor is not None else {}
    found = {name: count - before.get(name, 0) for name, count in after.items()
             if count != before.get(name, 0)}
    return built, found
