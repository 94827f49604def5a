"""The database file: opening ``collector.duckdb``, migrating its schema, transactions, times.

Only the writer process opens the database (DuckDB allows one read-write process per
file). Times are naive UTC ``datetime`` values inside, RFC 3339 strings ending in
``Z`` in answers (:func:`rfc3339`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from datetime import datetime, timezone
from typing import Any, Iterator

import duckdb

from thinkt.collector.migrations import LATEST, MIGRATIONS
from thinkt.status import ExitStatus, ThinktError

log = logging.getLogger(__name__)

#: The schema version this code reads and writes.
SCHEMA_VERSION: int = LATEST


# DuckDB checkpoints when the WAL reaches this; the default (16 MB) checkpoints every
# few thousand entries, which cost a third of ingest throughput (ARCHITECTURE.md).
CHECKPOINT_THRESHOLD = "256MB"


class StoreError(ThinktError):
    """The database cannot be used; the message is a sentence for the operator."""

    status = ExitStatus.CANTCREAT



# -- opening and migrating ------------------------------------------------------------

def open_database(path: str, *, threads: int = 1,
                  memory_limit: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating it if needed) and migrate the database at ``path``.

    ``memory_limit`` (bytes) caps DuckDB's buffer cache; without it DuckDB takes up to
    80% of the machine's memory as the database grows.

    :raises StoreError: the file is locked by another process, cannot be created or
        written, is not a DuckDB database, or has a newer schema than this code.
    """
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"Cannot create the directory {parent} for the database {path}: "
                         f"{exc.strerror}.") from None
    try:
        con = duckdb.connect(path)
    except duckdb.Error as exc:
        raise _open_error(path, exc) from None
    try:
        con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute(f"SET memory_limit = '{int(memory_limit) // (1024 * 1024)}MiB'")
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        migrate(con)
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"Cannot prepare the database {path}: {_first_line(exc)}.") from None
    except BaseException:
        con.close()
        raise
    log.info("opened %s (schema version %d)", path, SCHEMA_VERSION)
    return con


def _open_error(path: str, exc: duckdb.Error) -> StoreError:
    """Turn DuckDB's error on connect into a sentence that says what to do."""
    message = str(exc)
    # DuckDB's wording ("Could not set lock on file ...: Conflicting lock is held in ...");
    # not any "lock" anywhere: the path itself may hold the word (a file named blocker).
    if "Could not set lock on file" in message or "Conflicting lock" in message:
        holder = re.search(r"held in (.+?) \(PID (\d+)\)", message)
        who = f" (pid {holder.group(2)}, {holder.group(1)})" if holder else ""
        return StoreError(f"The database {path} is locked: another process{who} holds it. "
                          "Stop that process or choose another storage file.",
                          status=ExitStatus.TEMPFAIL)
    if "not a valid DuckDB database" in message:
        return StoreError(f"The file {path} is not a DuckDB database. Move it aside or choose "
                          "another storage file.", status=ExitStatus.CONFIG)
    if "Permission denied" in message or "Read-only file system" in message:
        return StoreError(f"Cannot open the database {path} for writing: permission denied.")
    return StoreError(f"Cannot open the database {path}: {_first_line(exc)}.")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__


def _database_path(con: Any) -> str:
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = "
                       "current_database()").fetchall()
    return rows[0][0] if rows and rows[0][0] else "(in memory)"


def migrate(con: Any) -> None:
    """Bring the schema up to :data:`SCHEMA_VERSION`, one transaction per migration.

    Running it again does nothing. A database from newer code is refused, never
    touched; tables are never dropped and recreated.
    """
    current = 0
    if _has_table(con, "schema_version"):
        current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"The database {_database_path(con)} has schema version {current}, newer than "
            f"this thinkt understands ({SCHEMA_VERSION}). Upgrade thinkt.",
            status=ExitStatus.CONFIG)
    if current == 0 and _has_table(con, "collected_entries"):
        raise StoreError(
            f"The database {_database_path(con)} has thinkt tables but no schema version, so "
            "it cannot be upgraded safely. Move it aside.", status=ExitStatus.CONFIG)
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    for version, migration in MIGRATIONS:
        if version <= current:
            continue
        log.info("migrating the database to schema version %d: %s", version,
                 migration.DESCRIPTION)
        with transaction(con):
            migration.apply(con)
            con.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                        [version, migration.DESCRIPTION, utcnow()])


def _has_table(con: Any, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND "
                            "database_name = current_database()", [name]).fetchone()[0])



@contextlib.contextmanager
def transaction(con: Any) -> Iterator[None]:
    """BEGIN; COMMIT on success; ROLLBACK and re-raise on any error, a failed COMMIT included."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:  # the failure already ended the transaction
            log.debug("no transaction left to roll back")
        raise


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def naive_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value



def rfc3339(value: datetime | None) -> str | None:
    """Format a naive UTC time as RFC 3339 with ``Z`` (milliseconds when it has them)."""
    if value is None:
        return None
    if not value.microsecond:
        return value.isoformat(timespec="seconds") + "Z"
    if value.microsecond % 1000 == 0:
        return value.isoformat(timespec="milliseconds") + "Z"
    return value.isoformat(timespec="microseconds") + "Z"

