"""Online backup: a consistent copy of the whole store, taken while the writer keeps committing.

This module owns :func:`backup`, which the writer runs on a background thread with its
own cursor. The copy is one DuckDB file, ``DIRECTORY/thinkt-backup-YYYYmmddTHHMMSSZ.duckdb``,
that ``thinkt collect --storage`` opens as it is: every table with its primary key,
defaults and column compression, any index, view or sequence, and ``schema_version``,
so the collector neither migrates it again nor refuses it.

How the copy is one snapshot: DuckDB's ``COPY FROM DATABASE`` expands into one
``CREATE`` and one ``INSERT ... SELECT`` per table; run on their own, each would be a
transaction of its own and could see a different set of commits. Here they run inside
one explicit transaction on the backup's cursor, after a first read of the store has
fixed that transaction's snapshot (DuckDB's MVCC gives a transaction a database's
snapshot when it first touches that database). Every table is therefore read as of the
same instant: a commit of the writer is wholly in the copy or wholly out of it. The
transaction only reads the store and only writes the backup file, so the writer never
waits for it and none of its commits can conflict with it.

The copy is written under a hidden temporary name in the same directory, checked
(opened read-only on its own, every table's row count and the schema compared with what
the snapshot held), and only then linked into place under its final name: a crash or a
failure leaves at most a ``.thinkt-backup-*.partial`` file, never one that looks like a
finished backup.

The store's automatic checkpoints may wait for the copy: with DuckDB 2.0 a store that
only had rows appended is checkpointed while the copy reads it, but after the rollup's
updates and deletes the checkpoints were skipped until the copy's transaction ended (the
WAL grew meanwhile; the first commit after the backup checkpointed it).

Restoring a backup
    Stop the collector (``SIGTERM``: it commits what is queued and checkpoints). Move its
    storage file aside, and remove the ``.wal`` file beside it if there is one (a WAL
    belongs to the file it was written for; DuckDB would replay it into the restored
    one). Copy the backup to the storage file's name and start the collector again. Or
    start a collector with ``--storage`` pointing at a backup file itself (it writes to
    that file from then on: start it on a copy to keep the backup as it was). Either way
    the collector opens the file as it is, without migrating it, and folds into its
    figures whatever entries the rollup had not folded in when the backup was taken, as
    it does after a crash. Entries acknowledged after the backup was taken are not in it,
    and exporters do not send again what they already shipped.
"""

from __future__ import annotations

import datetime
import errno
import logging
import os
import secrets
import time
from typing import Any, Callable

import duckdb

from thinkt.collector.database import transaction
from thinkt.collector.governance.durable import fsync_path, quote_identifier

log = logging.getLogger(__name__)

#: The final name of a backup taken at a given UTC time (``strftime`` format).
NAME_FORMAT = "thinkt-backup-%Y%m%dT%H%M%SZ.duckdb"


class BackupError(Exception):
    """The copy was made but does not match the snapshot; nothing was put in place."""


def backup(con: Any, directory: str, *, now: datetime.datetime,
           progress: Callable[[str], None] = lambda _: None) -> dict:
    """Write a consistent copy of the whole store to ``DIRECTORY/thinkt-backup-<now>.duckdb``.

    ``con`` is a cursor of the writer's connection that nothing else uses meanwhile;
    ``now`` names the file (a naive time counts as UTC, the store's convention);
    ``progress`` is told each step in a sentence. Returns ``{"path", "bytes", "entries",
    "sessions", "schema_version", "seconds"}``, the counts as of the snapshot.

    :raises ValueError: ``directory`` does not exist or is not writable, or the backup
        file already exists.
    :raises BackupError: the copy does not match the snapshot (it is removed).
    :raises duckdb.Error: the copy failed in the database (the partial file is removed).
    """
    started = time.monotonic()
    directory = os.path.abspath(os.fspath(directory))
    target = os.path.join(directory, _utc(now).strftime(NAME_FORMAT))
    _check_target(directory, target)
    # Hidden and without the .duckdb ending: a leftover is never taken for a backup.
    temporary = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(4)}"
                                        ".partial")
    source = con.execute("SELECT current_database()").fetchone()[0]
    # A name of our own for the attached file: attached databases are shared by every
    # connection of the writer's instance, and two backups may run at once.
    alias = f"thinkt_backup_{secrets.token_hex(6)}"
    log.info("backing up the store to %s", target)
    progress(f"copying the store to {temporary}")
    try:
        try:
            con.execute(f"ATTACH {_literal(temporary)} AS {alias}")
        except duckdb.Error as exc:
            raise _unwritable(directory, exc) from None
        try:
            seen = _copy(con, source, alias, progress)
            # Fold the copy's WAL into its file, so that the file alone is the backup.
            con.execute(f"CHECKPOINT {alias}")
        finally:
            _detach(con, alias)
        if os.path.exists(temporary + ".wal"):
            raise BackupError(f"The copy {temporary} still has a WAL after its checkpoint.")
        progress("checking the copy")
        _verify(temporary, seen)
        fsync_path(temporary)
        _put_in_place(temporary, target)
    finally:
        for leftover in (temporary, temporary + ".wal"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass
    result = {"path": target, "bytes": os.path.getsize(target),
              "entries": seen.counts["collected_entries"],
              "sessions": seen.sessions,
              "schema_version": seen.schema_version,
              "seconds": round(time.monotonic() - started, 3)}
    log.info("backup %s written: %d entries, %d sessions, %d bytes in %.1f s", target,
             result["entries"], result["sessions"], result["bytes"], result["seconds"])
    progress(f"backup written: {target} ({result['entries']} entries, "
             f"{result['bytes']} bytes)")
    return result


class _Snapshot:
    """What the backup's transaction saw: each table's row count, the schema version and
    the schema's definitions (to check the copy against), and the sessions of its entries."""

    def __init__(self, counts: dict[str, int], schema_version: int,
                 schema: list[tuple[str, str, str | None]]) -> None:
        self.counts = counts
        self.schema_version = schema_version
        self.schema = schema
        self.sessions = 0


def _copy(con: Any, source: str, alias: str, progress: Callable[[str], None]) -> _Snapshot:
    """Copy ``source`` into the attached ``alias`` in one transaction; return what its
    snapshot held."""
    with transaction(con):
        # The first read of the store fixes this transaction's snapshot of it: the
        # counts below and every table COPY reads are as of this one instant.
        seen = _look(con, source)
        # The sessions of the copied entries, not collected_sessions' rows: those lag the
        # entries until the rollup folds them in, and a collector on the copy will.
        seen.sessions = con.execute(f"SELECT count(DISTINCT session_id) FROM "
                                    f"{quote_identifier(source)}.main.collected_entries"
                                    ).fetchone()[0]
        progress(f"snapshot taken: {seen.counts.get('collected_entries', 0)} entries, "
                 f"schema version {seen.schema_version}")
        con.execute(f"COPY FROM DATABASE {quote_identifier(source)} TO {alias}")
    return seen


def _look(con: Any, database: str) -> _Snapshot:
    """Row counts of every table of ``database``, its schema version and definitions."""
    tables = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
        "AND NOT temporary ORDER BY ALL", [database]).fetchall()
    counts = {}
    for schema, table in tables:
        name = table if schema == "main" else f"{schema}.{table}"
        counts[name] = con.execute(
            f"SELECT count(*) FROM {quote_identifier(database)}.{quote_identifier(schema)}."
            f"{quote_identifier(table)}").fetchone()[0]
    missing = {"schema_version", "collected_entries", "collected_sessions"} - set(counts)
    if missing:
        raise BackupError(f"The database {database} is not a thinkt store (no "
                          f"{', '.join(sorted(missing))} table).")
    version = con.execute(f"SELECT coalesce(max(version), 0) FROM "
                          f"{quote_identifier(database)}.main.schema_version").fetchone()[0]
    return _Snapshot(counts, version, _schema(con, database))


def _schema(con: Any, database: str) -> list[tuple[str, str, str | None]]:
    """Every table, index, view and sequence of ``database`` with its SQL (what must be
    the same in the copy for the collector to use it as it is)."""
    return sorted(con.execute("""
        SELECT 'table', schema_name || '.' || table_name, sql FROM duckdb_tables()
            WHERE database_name = $db AND NOT temporary
        UNION ALL SELECT 'index', schema_name || '.' || index_name, sql FROM duckdb_indexes()
            WHERE database_name = $db
        UNION ALL SELECT 'view', schema_name || '.' || view_name, sql FROM duckdb_views()
            WHERE database_name = $db AND NOT internal AND NOT temporary
        UNION ALL SELECT 'sequence', schema_name || '.' || sequence_name, NULL
            FROM duckdb_sequences() WHERE database_name = $db AND NOT temporary
    """, {"db": database}).fetchall(), key=lambda row: (row[0], row[1], row[2] or ""))


def _verify(path: str, seen: _Snapshot) -> None:
    """Open the copy read-only on its own and compare it with the snapshot."""
    # A separate, small DuckDB instance: the check reads the file as a restore would.
    check = duckdb.connect(path, read_only=True, config={"threads": 1,
                                                         "memory_limit": "256MB"})
    try:
        name = check.execute("SELECT current_database()").fetchone()[0]
        copied = _look(check, name)
    finally:
        check.close()
    if copied.schema_version != seen.schema_version:
        raise BackupError(f"The copy {path} has schema version {copied.schema_version}, the "
                          f"store had {seen.schema_version}.")
    if copied.counts != seen.counts:
        differ = sorted(table for table in set(seen.counts) | set(copied.counts)
                        if seen.counts.get(table) != copied.counts.get(table))
        raise BackupError(f"The copy {path} differs from the snapshot in the rows of "
                          f"{', '.join(differ)}.")
    if copied.schema != seen.schema:
        differ = sorted({row[1] for row in set(seen.schema) ^ set(copied.schema)})
        raise BackupError(f"The copy {path} differs from the store in the definition of "
                          f"{', '.join(differ)}.")


def _detach(con: Any, alias: str) -> None:
    """Detach the copy, even while the writer interrupts the cursor to stop the job: an
    interrupt ends the statement it lands in, and a copy left attached would stay open in
    the writer (attached databases belong to its whole instance) until it exits."""
    for attempt in range(3):
        try:
            con.execute(f"DETACH DATABASE IF EXISTS {alias}")
            return
        except duckdb.InterruptException:
            if attempt == 2:
                raise


def _check_target(directory: str, target: str) -> None:
    if not os.path.isdir(directory):
        raise ValueError(f"The backup directory {directory} does not exist (or is not a "
                         "directory). Create it first.")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"The backup directory {directory} is not writable by this process.")
    if os.path.lexists(target):
        raise ValueError(f"The backup file {target} already exists; a backup never "
                         "replaces one. Choose another directory or time.")


def _unwritable(directory: str, exc: duckdb.Error) -> Exception:
    """Why the temporary file could not be created, as a sentence."""
    message = str(exc)
    if "Permission denied" in message or "Read-only file system" in message:
        return ValueError(f"The backup directory {directory} is not writable by this process.")
    return exc


def _put_in_place(temporary: str, target: str) -> None:
    """Give the checked copy its final name, never replacing a file that appeared there."""
    try:
        # link() fails if the target exists (rename would silently replace it).
        os.link(temporary, target)
    except FileExistsError:
        raise ValueError(f"The backup file {target} already exists; a backup never "
                         "replaces one.") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # A file system without hard links: rename, after one more look.
        if os.path.lexists(target):
            raise ValueError(f"The backup file {target} already exists; a backup never "
                             "replaces one.") from None
        os.rename(temporary, target)
    fsync_path(os.path.dirname(target))  # the new name survives a power cut



def _utc(now: datetime.datetime) -> datetime.datetime:
    if now.tzinfo is not None:
        return now.astimezone(datetime.timezone.utc)
    return now



def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
