"""The commit path: a group of validated batches appended to ``collected_entries`` at once.

A group commit inserts every entry whose ``(session_id, uuid)`` is not stored yet, in
one columnar ``INSERT``: a plain one first (nearly every group is all new), and when the
key says an entry is stored already, the whole group again with ``ON CONFLICT DO
NOTHING``, which sorts new from stored at three times the cost. An entry that is stored
already is a duplicate when its content is unchanged and replaces the stored row when it changed
(a rewritten session re-sends a message with its tokens or text completed); the
replaced rows' sessions go to ``rollup_dirty``. A long text goes to ``long_text`` and its
chunks' sketches to ``long_text_sketches`` (longtext.py). Nothing else happens on this path:
sessions, usage and agents' counts are the rollup's (rollup.py), folded in after the
commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Sequence

import duckdb
import numpy as np

from thinkt.collector import longtext, sketch
from thinkt.collector.channel import IngestRequest, Ingested
from thinkt.collector.database import StoreError, naive_utc, transaction
from thinkt.collector.schemas import ENTRY_COUNTS, ENTRY_FIELDS, ENTRY_FLAGS

#: The API response an entry belongs to (see rollup.py), as SQL over the entry's columns.
RESPONSE_KEY = ("CASE WHEN coalesce({table}message_id, '') <> '' THEN 'm:' || {table}message_id "
                "ELSE 'e:' || length({table}session_id) || ':' || {table}session_id || {table}uuid END")

log = logging.getLogger(__name__)

#: Columns each entry carries from its request.
REQUEST_COLUMNS = ("session_id", "source", "instance_id", "received_at", "project_path",
                   "machine_id", "metadata", "person")
# The stored columns whose change makes a resend replace the stored copy (the timestamp
# is compared apart: a missing one is estimated from the arrival time, which differs).
# A long text is compared packed: one text packs to the same bytes at one zstd level (a
# zstandard release that packed otherwise would replace an identical long copy by itself).
_CONTENT = tuple(name for name in ENTRY_FIELDS if name not in ("uuid", "timestamp")) + (
    "long_text",)


class EntryLog:
    """The commit path's state: the last ``seq`` given out, read once from the database."""

    def __init__(self, con: Any) -> None:
        self.last_seq: int = con.execute(
            "SELECT coalesce(max(seq), 0) FROM collected_entries").fetchone()[0]

    def ingest(self, con: Any, requests: Sequence[IngestRequest],
               also: Callable[[Any], None] | None = None) -> tuple[list[Ingested], bool]:
        """Store every request's entries in one transaction.

        Returns what became of each request's entries, and whether any stored entry was
        replaced (its session is then in ``rollup_dirty``). Within the group a later
        copy of an entry wins over an earlier one. ``also(con)`` runs first in the same
        transaction (the writer's other writes of the group; it may run twice, the
        first time rolled back). Any error rolls the whole group back and is re-raised;
        ``last_seq`` moves only when the commit succeeded.
        """
        if not requests:
            if also is not None:
                with transaction(con):
                    also(con)
            return [], False
        group = _Group(requests, self.last_seq + 1)
        try:
            with transaction(con):
                if also is not None:
                    also(con)
                is_new, changed = _append(con, group)
        except duckdb.ConstraintException:
            # An entry of the group is stored already (a resend): sort new from stored.
            with transaction(con):
                if also is not None:
                    also(con)
                is_new, changed = _write(con, group)
        self.last_seq += group.size
        return group.outcome(is_new, changed), bool(changed.any())


class _Group:
    """The rows of one group commit as column arrays: the last copy of each entry."""

    def __init__(self, requests: Sequence[IngestRequest], first_seq: int) -> None:
        self.requests = requests
        copies: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for index, request in enumerate(requests):
            session_id = request.session_id
            for position, entry in enumerate(request.entries):
                copies.setdefault((session_id, entry[0]), []).append((index, position))
        # The last copy of an entry is stored; the request that brought its content first
        # (the first of the identical copies at the end) owns it. Every other copy is a
        # duplicate when identical to the stored one, else a change it superseded.
        self.superseded = [0] * len(requests)  # identical to the copy stored
        self.superseded_changed = [0] * len(requests)
        if len(copies) == sum(len(request.entries) for request in requests):
            # The common case: every entry once. Rows in arrival order, each its own owner.
            self.size = len(copies)
            self.owner = np.repeat(np.arange(len(requests), dtype=np.int64),
                                   [len(request.entries) for request in requests])
            rows = [entry for request in requests for entry in request.entries]
            self._finish(rows, requests, first_seq, None)
            return
        kept: list[tuple[int, int, int, int]] = []  # owner's (request, position), last copy's
        for chain in copies.values():
            last_index, last_position = chain[-1]
            content = requests[last_index].entries[last_position]
            start = len(chain) - 1
            while start and requests[chain[start - 1][0]].entries[chain[start - 1][1]] == content:
                start -= 1
            owner_index, owner_position = chain[start]
            kept.append((owner_index, owner_position, last_index, last_position))
            for index, position in chain[:start]:
                self.superseded_changed[index] += 1
            for index, _ in chain[start + 1:]:
                self.superseded[index] += 1
        kept.sort()  # arrival order of the owning copies
        self.size = len(kept)
        self.owner = np.fromiter((owner for owner, *_ in kept), dtype=np.int64, count=self.size)
        rows = [requests[index].entries[position] for _, _, index, position in kept]
        offsets = np.cumsum([0] + [len(request.entries) for request in requests])
        picks = np.array([offsets[index] + position for _, _, index, position in kept],
                         dtype=np.int64)
        self._finish(rows, requests, first_seq, picks)

    def _finish(self, rows: list[tuple], requests: Sequence[IngestRequest], first_seq: int,
                picks: np.ndarray | None) -> None:
        """Lay the rows out as columns; ``picks``: their places among all the requests'
        entries (None: all of them, in order)."""
        self.entries, self.chunks, self.chunk_row = _columns(rows, requests, self.owner, picks)
        self.entries["seq"] = np.arange(first_seq, first_seq + self.size, dtype=np.int64)
        self.first_seq = first_seq

    def chunk_rows(self, rows: np.ndarray, seqs: np.ndarray) -> dict[str, np.ndarray]:
        """Return the ``long_text_sketches`` rows of the group's ``rows`` (a mask), each
        chunk under ``seqs[row]``."""
        mine = rows[self.chunk_row]
        owners = self.chunk_row[mine]
        return longtext.chunk_rows(self.chunks[mine], seqs[owners],
                                   self.entries["session_id"][owners])

    def outcome(self, is_new: np.ndarray, changed: np.ndarray) -> list[Ingested]:
        counts = len(self.requests)
        new = np.bincount(self.owner[is_new], minlength=counts)
        replaced = np.bincount(self.owner[changed], minlength=counts)
        results = []
        for index, request in enumerate(self.requests):
            added = int(new[index]) + int(replaced[index]) + self.superseded_changed[index]
            results.append(Ingested(new=int(new[index]),
                                    replaced=int(replaced[index]) + self.superseded_changed[index],
                                    duplicates=len(request.entries) - added))
        return results


def _columns(rows: list[tuple], requests: Sequence[IngestRequest], owner: np.ndarray,
             picks: np.ndarray | None) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The entry rows as named column arrays, with their request's fields and search columns;
    and the chunk sketches of their long texts with the row each belongs to."""
    columns = list(zip(*rows)) if rows else [()] * len(ENTRY_FIELDS)
    entries: dict[str, np.ndarray] = {}
    for name, values in zip(ENTRY_FIELDS, columns):
        if name in ENTRY_COUNTS:
            entries[name] = _counts(name, values)
        elif name in ENTRY_FLAGS:
            entries[name] = np.array(values, dtype=bool)
        elif name != "timestamp":
            entries[name] = _strings(values)
    per_request = {
        "session_id": _strings(r.session_id for r in requests),
        "source": _strings(r.source for r in requests),
        "instance_id": _strings(r.instance_id or None for r in requests),
        "received_at": np.array([np.datetime64(naive_utc(r.received_at), "us")
                                 for r in requests], dtype="datetime64[us]"),
        "project_path": _strings(r.project_path or None for r in requests),
        "machine_id": _strings(r.machine_id or None for r in requests),
        "metadata": _strings(r.metadata for r in requests),
        "person": _strings(r.person or None for r in requests),
    }
    for name in REQUEST_COLUMNS:
        entries[name] = per_request[name][owner]
    timestamps = _timestamps(columns[ENTRY_FIELDS.index("timestamp")])
    estimated = np.isnat(timestamps)
    timestamps[estimated] = entries["received_at"][estimated]
    entries["timestamp"] = timestamps
    entries["timestamp_estimated"] = estimated
    if all(request.prepared is not None for request in requests):
        # Sketched and packed by the HTTP workers, in parallel: the writer picks the rows.
        prepared = [request.prepared for request in requests]
        table = np.concatenate([made.entries for made in prepared])
        long_texts = np.concatenate([made.long_texts for made in prepared])
        offsets = np.cumsum([0] + [len(request.entries) for request in requests])
        chunks = np.concatenate([made.chunks for made in prepared])
        chunk_entry = np.concatenate([made.chunk_entry + offset
                                      for made, offset in zip(prepared, offsets)])
        if picks is not None:
            table, long_texts = table[picks], long_texts[picks]
            row_of = np.full(offsets[-1], -1, dtype=np.int64)
            row_of[picks] = np.arange(len(picks))
            chunk_entry = row_of[chunk_entry]
            chunks = chunks[chunk_entry >= 0]
            chunk_entry = chunk_entry[chunk_entry >= 0]
    else:
        made = longtext.prepare(entries["text"], entries["tool_name"])
        table, long_texts = made.entries, made.long_texts
        chunks, chunk_entry = made.chunks, made.chunk_entry
    entries.update(sketch.from_table(table))
    # prepare() decided which texts are long: those are in long_text, not in text.
    entries["text"] = np.where(np.not_equal(long_texts, None), None, entries["text"])
    entries["long_text"] = long_texts
    return entries, chunks, chunk_entry


def _strings(values: Any) -> np.ndarray:
    values = list(values)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _counts(name: str, values: Sequence[int]) -> np.ndarray:
    try:
        array = np.array(values, dtype=np.int64)
    except (OverflowError, TypeError, ValueError):
        raise StoreError(f"An entry's {name} is not a whole number in the 64-bit range.") from None
    if array.size and array.min() < 0:
        raise StoreError(f"An entry's {name} is negative.")
    return array


_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_NAT = np.iinfo(np.int64).min  # NaT's integer


def _timestamps(values: Sequence[datetime | None]) -> np.ndarray:
    """Times as datetime64[us] (UTC; NaT for None). Subtracting the epoch is ~7x faster
    than numpy's own conversion of datetime objects, a cost the writer pays per row."""
    return np.fromiter(
        (_NAT if value is None
         else (value - (_EPOCH if value.tzinfo is None else _EPOCH_UTC)) // _MICROSECOND
         for value in values), dtype=np.int64, count=len(values)).view("datetime64[us]")


_COLUMN_LIST = ", ".join(f'"{c}"' for c in (
    ENTRY_FIELDS + ("long_text",) + REQUEST_COLUMNS + ("seq", "timestamp_estimated")
    + tuple(sketch.COLUMNS)))
#: The group's rows (the column arrays bound to ``entry_rows``) into the entries table.
_INSERT = (f"INSERT INTO collected_entries ({_COLUMN_LIST}) "
           f"SELECT {_COLUMN_LIST} FROM entry_rows")


def _append(con: Any, group: _Group) -> tuple[np.ndarray, np.ndarray]:
    """Insert the group's rows, all of them new; raise ConstraintException if one is not.

    The common case, and three times cheaper than :func:`_write`'s insert: DuckDB's
    ``ON CONFLICT`` path costs ~30 µs a row where a plain insert, which checks the same
    key, costs ~10 (500-row groups). Returns :func:`_write`'s masks.
    """
    entry_rows = group.entries  # noqa: F841  (scanned by name in _INSERT)
    con.execute(_INSERT)
    is_new = np.ones(group.size, dtype=bool)
    longtext.insert_chunks(con, group.chunk_rows(is_new, group.entries["seq"]))
    return is_new, np.zeros(group.size, dtype=bool)


def _write(con: Any, group: _Group) -> tuple[np.ndarray, np.ndarray]:
    """Insert the group's new rows; replace stored rows whose content changed.

    Returns two masks over the group's rows: inserted, and replaced a changed copy.
    """
    entry_rows = group.entries  # noqa: F841  (scanned by name in _INSERT)
    inserted = con.execute(f"{_INSERT} ON CONFLICT DO NOTHING RETURNING seq").fetchnumpy()
    is_new = np.zeros(group.size, dtype=bool)
    is_new[np.asarray(inserted["seq"], dtype=np.int64) - group.first_seq] = True
    longtext.insert_chunks(con, group.chunk_rows(is_new, group.entries["seq"]))
    changed = np.zeros(group.size, dtype=bool)
    if is_new.all():
        return is_new, changed
    # Rarely taken: resends. Compare them with the stored rows, replace the changed ones.
    again = ~is_new
    resent = {name: values[again] for name, values in group.entries.items()}  # noqa: F841
    differs = " OR ".join(f'e."{c}" IS DISTINCT FROM r."{c}"' for c in _CONTENT)
    found = con.execute(f"""
        SELECT r.seq, e.seq AS stored_seq
        FROM resent r JOIN collected_entries e USING (session_id, uuid)
        WHERE {differs}
           OR NOT (e.timestamp_estimated AND r.timestamp_estimated)
              AND (e."timestamp" <> r."timestamp" OR e.timestamp_estimated <> r.timestamp_estimated)
    """).fetchnumpy()
    if not len(found["seq"]):
        return is_new, changed
    changed[np.asarray(found["seq"], dtype=np.int64) - group.first_seq] = True
    # The replaced entries keep their seq: their new chunks go in under it.
    stored_seqs = group.entries["seq"].copy()
    stored_seqs[np.asarray(found["seq"], dtype=np.int64) - group.first_seq] = found["stored_seq"]
    con.execute(f"DELETE FROM {longtext.SKETCH_TABLE} WHERE seq IN (SELECT unnest(?::BIGINT[]))",
                [stored_seqs[changed].tolist()])
    longtext.insert_chunks(con, group.chunk_rows(changed, stored_seqs))
    replacing = {name: values[changed] for name, values in group.entries.items()}  # noqa: F841
    # The content changes; where and when it first arrived (seq, received_at, the
    # request's fields) stays, and an estimated time stays the first estimate.
    assignments = ", ".join(f'"{c}" = r."{c}"' for c in _CONTENT + tuple(sketch.COLUMNS))
    # The responses the replaced copies carried: their usage is recomputed, whichever
    # session it is attributed to (a changed message id moves an entry to another one).
    con.execute(f"""
        INSERT OR IGNORE INTO rollup_dirty_responses
        SELECT DISTINCT e.source, {RESPONSE_KEY.format(table="e.")}
        FROM collected_entries e SEMI JOIN replacing r USING (session_id, uuid)
    """)
    con.execute(f"""
        UPDATE collected_entries AS e SET {assignments},
            "timestamp" = CASE WHEN e.timestamp_estimated AND r.timestamp_estimated
                               THEN e."timestamp" ELSE r."timestamp" END,
            timestamp_estimated = r.timestamp_estimated
        FROM replacing r
        WHERE e.session_id = r.session_id AND e.uuid = r.uuid
    """)
    con.execute("INSERT OR IGNORE INTO rollup_dirty SELECT DISTINCT session_id FROM replacing")
    log.debug("replaced %d changed entries", int(changed.sum()))
    return is_new, changed
