"""What archive and backup share: flushing what they wrote, and naming SQL identifiers."""

from __future__ import annotations

import os


def fsync_path(path: str) -> None:
    """Flush a file's data, or a directory's entries (a rename into it), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def quote_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (a table, column or attached database)."""
    return '"' + name.replace('"', '""') + '"'
