"""Archive: the store's closed UTC days written out as Parquet, partitioned the Hive way.

This module owns :func:`archive`, which the writer runs on a background thread with its
own cursor (jobs.py). It writes, for every closed UTC day of a range (a day before
``today``) that has rows::

    DIRECTORY/<dataset>/source=<source>/day=YYYY-MM-DD/data_<i>.parquet

for the datasets of :data:`DATASETS`:

- ``entries``: every stored entry, by its own timestamp's day, with each column a reader
  needs (not the search sketch ``sk00``..; see sketch.py) and ``text`` holding the whole
  text, long ones unpacked (longtext.py). Only entries the rollup has folded in (``seq``
  up to its watermark), so that ``usage`` of the same archive counts them: a commit and
  its rollup are two transactions, and a snapshot between them would otherwise hold the
  entries without their tokens (they come with the next archive of the day);
- ``usage``: one row per API response (``collected_usage``) by its timestamp's day, with
  its project, agent and person attributed as ``/v1/usage`` attributes them (the
  response's own, else its session's: queries.USAGE_KEYS), so that sums over the archive
  equal the API's for the same days without the sessions table;
- ``telemetry_requests`` (by ``timestamp``, else ``received_at`` when the client sent
  none) and ``metric_points`` (by ``time``): the assistants' own OpenTelemetry.

``source`` and ``day`` are in the directory names only (Hive partitioning); DuckDB's
``read_parquet(..., hive_partitioning = true)`` and ``pyarrow.dataset`` with
``partitioning="hive"`` give them back as columns. DuckDB escapes a source name that is
not safe in a path (``/`` as ``%2F``); both readers decode it.

One snapshot: every read runs inside one transaction on the job's cursor, and DuckDB
fixes the snapshot at its first read, so every dataset and day is as of one instant
while the writer keeps committing (a commit is wholly in or wholly out). As for a
backup, DuckDB does not checkpoint the store while the transaction is open: the WAL
grows with what is committed meanwhile.

Replacing, never doubling: DuckDB's COPY writes into a hidden staging directory beside
the datasets (``DIRECTORY/.archive-staging-<random>``), one COPY per dataset and day, so
that memory holds one day's partitions at a time. Only after every COPY succeeded is
each written ``(dataset, source, day)`` partition put in place by renaming directories:
the old one aside under a hidden name, the new one in, the old one removed. A reader
sees a day's partition complete, old or new, or for an instant not at all; never half
of one, never both. Partitions of days outside the range, and of (source, day) pairs
the store no longer has rows for (retention may have removed them from the store after
they were archived), are left as they are. A crash leaves only hidden names (both
readers skip names starting with ``.``), which the next archive into the directory
clears up, putting back an old partition whose replacement never arrived.

Only local directories are supported: DuckDB's own OVERWRITE on an object store
replaces a whole dataset directory, not one partition, so archiving one day there
would delete the others.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import logging
import os
import re
import secrets
import shutil
import time
from typing import Any, Callable, Iterator

import duckdb

from thinkt.collector import longtext, sketch
from thinkt.collector.database import transaction
from thinkt.collector.governance.durable import fsync_path, quote_identifier
from thinkt.collector.queries import SESSION_JOIN, USAGE_KEYS
from thinkt.collector.rollup import TOKEN_FIELDS

log = logging.getLogger(__name__)

#: The datasets an archive writes, in the order it writes them.
DATASETS = ("entries", "usage", "telemetry_requests", "metric_points")

#: Columns of ``collected_entries`` an archive leaves out: the search sketches, and the
#: packed long text (``text`` holds it unpacked).
ENTRY_COLUMNS_LEFT_OUT = frozenset(sketch.COLUMNS) | {"text_lower", "long_text"}

#: The lock file that keeps two archives from writing into one directory at once.
LOCK_NAME = ".archive.lock"
STAGING_PREFIX = ".archive-staging-"
# A replaced partition waits under ".day=YYYY-MM-DD<REPLACED>-<random>" until the new one
# is in place.
REPLACED = ".replaced"

# A URL scheme (s3://, gs://, https://, file://...): not a local path.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DAY_DIR = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")


class ArchiveBusy(ValueError):
    """Another archive is writing into the same directory."""


def archive(con: Any, directory: str, since: datetime.date, until: datetime.date, *,
            today: datetime.date, progress: Callable[[str], None] = lambda _: None) -> dict:
    """Write the closed UTC days ``[since, until)`` of the store to ``directory`` as Parquet.

    ``con`` is a cursor of the writer's connection that nothing else uses meanwhile (it
    only reads the store, in one transaction); ``today`` is the current UTC day: a day
    is closed, and may be archived, when it is before ``today``. ``progress`` is told
    each step in a sentence. Archiving a day again replaces its files.

    Returns ``{"directory", "days", "rows", "files", "bytes"}``: the absolute directory,
    the days (``YYYY-MM-DD``) that had rows in some dataset, the rows written per
    dataset (every one of :data:`DATASETS`, 0 if none), and the number and total size
    of the Parquet files put in place.

    :raises ValueError: the range is empty or not closed (it includes ``today`` or a
        later day), ``directory`` is not a local directory or cannot be created or
        written (:class:`ArchiveBusy` when another archive is writing into it).
    :raises duckdb.Error: a read or a COPY failed (nothing was put in place).
    """
    started = time.monotonic()
    since, until, today = _day(since, "since"), _day(until, "until"), _day(today, "today")
    _check_range(since, until, today)
    directory = _local_directory(directory)
    with _locked(directory):
        _clear_leftovers(directory)
        staging = os.path.join(directory, STAGING_PREFIX + secrets.token_hex(6))
        try:
            rows, staged = _write(con, staging, since, until, progress)
            progress(f"putting {len(staged)} partitions in place")
            files, size = _put_in_place(directory, staged)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    days = sorted({day for _, _, day, _ in staged})
    result = {"directory": directory, "days": days, "rows": rows, "files": files,
              "bytes": size}
    log.info("archived %s..%s to %s: %d days, %s rows, %d files, %d bytes in %.1f s",
             since, until, directory, len(days), rows, files, size,
             time.monotonic() - started)
    progress(f"archived {len(days)} days to {directory}: {rows['entries']} entries, "
             f"{rows['usage']} API responses, {files} files, {size} bytes")
    return result


# -- checking the arguments -------------------------------------------------------------

def _day(value: Any, name: str) -> datetime.date:
    # A datetime is a date too, but compares with neither; a day is wanted.
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc)
        return value.date()
    if isinstance(value, datetime.date):
        return value
    raise TypeError(f"{name} must be a datetime.date, not {type(value).__name__}")


def _check_range(since: datetime.date, until: datetime.date, today: datetime.date) -> None:
    if since >= until:
        raise ValueError(f"The range {since}..{until} is empty: since must be before until "
                         "(until is excluded).")
    if until > today:
        first_open = max(since, today)
        raise ValueError(f"Cannot archive {first_open}: only closed UTC days, before today "
                         f"({today}), can be archived. Use until={today} at the latest.")


def _local_directory(directory: str) -> str:
    directory = os.fspath(directory)
    if not directory:
        raise ValueError("The archive directory is empty.")
    if _URL.match(directory):
        raise ValueError(f"Cannot archive to {directory}: only local directories are "
                         "supported for now.")
    directory = os.path.abspath(directory)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"Cannot create the archive directory {directory}: "
                         f"{exc.strerror or exc}.") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"The archive directory {directory} is not writable by this process.")
    return directory


@contextlib.contextmanager
def _locked(directory: str) -> Iterator[None]:
    """Hold the directory's lock file: one archive writes into a directory at a time, so
    the leftovers of another one are a crashed archive's, safe to clear."""
    fd = os.open(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArchiveBusy(f"Another archive is writing into {directory}; try again "
                              "when it is done.") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _clear_leftovers(directory: str) -> None:
    """Undo what a crashed archive left: staging directories, and partitions set aside
    for a replacement that never arrived (put back) or did (removed)."""
    for name in os.listdir(directory):
        if name.startswith(STAGING_PREFIX):
            log.info("removing %s, left by an archive that did not finish", name)
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
    for dataset in DATASETS:
        root = os.path.join(directory, dataset)
        if not os.path.isdir(root):
            continue
        for source in os.listdir(root):
            parent = os.path.join(root, source)
            if not os.path.isdir(parent):
                continue
            for name in os.listdir(parent):
                if not (name.startswith(".") and REPLACED + "-" in name):
                    continue
                aside = os.path.join(parent, name)
                current = os.path.join(parent, name[1:name.rindex(REPLACED + "-")])
                if os.path.lexists(current):
                    shutil.rmtree(aside, ignore_errors=True)
                else:
                    log.warning("putting back %s: the archive replacing it did not finish",
                                current)
                    os.rename(aside, current)


# -- reading the snapshot ------------------------------------------------------------------

def _write(con: Any, staging: str, since: datetime.date, until: datetime.date,
           progress: Callable[[str], None]) -> tuple[dict[str, int], list[tuple]]:
    """COPY every dataset's days with rows into ``staging``, in one transaction.

    Returns the rows written per dataset and the partitions written, as
    ``(dataset, source directory name, day, path)``.
    """
    # A name of our own: a Python function registered on a cursor is seen by every
    # cursor of the writer's instance, and another archive may be running.
    unpack = f"thinkt_archive_unpack_{secrets.token_hex(6)}"
    # Called once per long text only (DuckDB skips NULLs); long texts are rare, and
    # 1,000 of ~26 KB add ~0.1 s to a COPY (measured against fetching and unpacking them
    # in Python: ~0.04 s, but then the texts need a second pass to join them back).
    os.makedirs(staging)
    con.create_function(unpack, longtext.unpack, [duckdb.sqltype("BLOB")],
                        duckdb.sqltype("VARCHAR"))
    rows = dict.fromkeys(DATASETS, 0)
    staged: list[tuple] = []
    try:
        with transaction(con):
            # The first read fixes the snapshot: everything below is as of this instant.
            watermark = con.execute("SELECT coalesce(max(seq), 0) FROM rollup_state "
                                    "WHERE name = 'entries'").fetchone()[0]
            queries = _queries(con, unpack, watermark)
            plan = {dataset: _days_with_rows(con, queries[dataset], since, until)
                    for dataset in DATASETS}
            _note_pending(con, since, until, watermark)
            total = sum(len(days) for days in plan.values())
            progress(f"snapshot taken: {total} dataset days to write")
            done = 0
            for dataset in DATASETS:
                for day in plan[dataset]:
                    target = os.path.join(staging, f"{dataset}-{day}")
                    written = _copy(con, queries[dataset], day, target)
                    rows[dataset] += written
                    staged += [(dataset, source, name[len("day="):], path)
                               for source, name, path in _partitions(target)]
                    done += 1
                    progress(f"{dataset} {day}: {written} rows ({done}/{total})")
    finally:
        try:
            con.remove_function(unpack)
        except duckdb.Error:
            log.debug("could not unregister %s", unpack)
    return rows, staged


class _Query:
    """One dataset's rows as SQL: ``select`` (naming ``source`` and ``day`` among its
    columns), ``time`` (the expression whose UTC day partitions it) and ``order``."""

    def __init__(self, select: str, time: str, order: str) -> None:
        self.select, self.time, self.order = select, time, order


def _queries(con: Any, unpack: str, watermark: int) -> dict[str, _Query]:
    # The entries' columns as the schema has them now: a column a later migration adds
    # is archived too, unless it is an internal one (ENTRY_COLUMNS_LEFT_OUT).
    columns = []
    for name in _columns(con, "collected_entries"):
        if name == "text":
            columns.append(f"coalesce(e.text, {unpack}(e.long_text)) AS text")
        elif name not in ENTRY_COLUMNS_LEFT_OUT:
            columns.append(f"e.{quote_identifier(name)}")
    entries = _Query(f"""SELECT {", ".join(columns)}, CAST(e."timestamp" AS DATE) AS day
                         FROM collected_entries e WHERE e.seq <= {int(watermark)}""",
                     'e."timestamp"', 'e."timestamp", e.seq')
    # The rollup's internals (prev_*) are left out; attribution is the API's.
    usage = _Query(f"""
        SELECT t.source, t.response_key, t.message_id, t.session_id,
               {USAGE_KEYS["project"]} AS project_path, t.model, t."timestamp",
               {USAGE_KEYS["agent"]} AS instance_id, {USAGE_KEYS["user"]} AS person,
               t.entries, {", ".join(f"t.{token}" for token in TOKEN_FIELDS)},
               CAST(t."timestamp" AS DATE) AS day
        FROM collected_usage t {SESSION_JOIN} WHERE true""",
                   't."timestamp"', 't."timestamp", t.response_key')
    requests_time = 'coalesce(r."timestamp", r.received_at)'
    requests = _Query(f"SELECT r.*, CAST({requests_time} AS DATE) AS day "
                      "FROM telemetry_requests r WHERE true",
                      requests_time, f"{requests_time}, r.request_key")
    points = _Query('SELECT p.*, CAST(p."time" AS DATE) AS day FROM metric_points p WHERE true',
                    'p."time"', 'p."time", p.series_id, p.start_time')
    return {"entries": entries, "usage": usage, "telemetry_requests": requests,
            "metric_points": points}


def _columns(con: Any, table: str) -> list[str]:
    return [row[0] for row in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main' "
        "AND database_name = current_database() ORDER BY column_index", [table]).fetchall()]


def _between(query: _Query, since: datetime.date, until: datetime.date) -> str:
    # Literals, not parameters: DuckDB does not take parameters in COPY; dates are safe.
    return (f"{query.time} >= TIMESTAMP '{since.isoformat()}' "
            f"AND {query.time} < TIMESTAMP '{until.isoformat()}'")


def _days_with_rows(con: Any, query: _Query, since: datetime.date,
                    until: datetime.date) -> list[datetime.date]:
    return [row[0] for row in con.execute(
        f"SELECT DISTINCT day FROM ({query.select} AND {_between(query, since, until)}) "
        "ORDER BY day").fetchall()]


def _note_pending(con: Any, since: datetime.date, until: datetime.date, watermark: int) -> None:
    pending = con.execute(
        f"""SELECT count(*) FROM collected_entries WHERE seq > {int(watermark)}
            AND "timestamp" >= TIMESTAMP '{since}' AND "timestamp" < TIMESTAMP '{until}'"""
    ).fetchone()[0]
    if pending:
        log.info("%d entries of the range are not in the rollup yet; they are left to the "
                 "next archive of their days", pending)


def _copy(con: Any, query: _Query, day: datetime.date, target: str) -> int:
    """COPY one dataset's rows of one day into ``target``; return the rows written."""
    nxt = day + datetime.timedelta(days=1)
    # A fresh directory per COPY: no OVERWRITE option is needed, and a failed COPY
    # leaves only staging behind. COPY does not create the parent of its target.
    (written,) = con.execute(f"""
        COPY ({query.select} AND {_between(query, day, nxt)} ORDER BY {query.order})
        TO {_literal(target)}
        (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (source, day))""").fetchone()
    return int(written)


def _partitions(target: str) -> Iterator[tuple[str, str, str]]:
    """The ``(source=..., day=..., path)`` partition directories a COPY wrote."""
    for source in sorted(os.listdir(target)):
        parent = os.path.join(target, source)
        for name in sorted(os.listdir(parent)):
            if _DAY_DIR.match(name):
                yield source, name, os.path.join(parent, name)


# -- putting the partitions in place --------------------------------------------------------

def _put_in_place(directory: str, staged: list[tuple]) -> tuple[int, int]:
    """Move every staged partition to its place, replacing the one there; return the
    number of files and their bytes."""
    files = size = 0
    # Durable before visible: a partition renamed into place after a power cut holds
    # whole files, not ones the page cache had yet to write.
    for *_, path in staged:
        for name in os.listdir(path):
            fsync_path(os.path.join(path, name))
            files += 1
            size += os.path.getsize(os.path.join(path, name))
        fsync_path(path)
    parents = set()
    for dataset, source, day, path in staged:
        parent = os.path.join(directory, dataset, source)
        if not os.path.isdir(parent):
            os.makedirs(parent)
            parents.add(os.path.dirname(parent))
            parents.add(os.path.dirname(os.path.dirname(parent)))
        current = os.path.join(parent, f"day={day}")
        aside = os.path.join(parent, f".day={day}{REPLACED}-{secrets.token_hex(4)}")
        replacing = os.path.lexists(current)
        if replacing:
            os.rename(current, aside)
        os.rename(path, current)
        if replacing:
            shutil.rmtree(aside)
        parents.add(parent)
    for parent in parents:
        fsync_path(parent)
    return files, size




def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
