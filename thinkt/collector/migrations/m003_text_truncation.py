"""Schema version 3: whether the exporter cut an entry's text, and the text's size before."""

from __future__ import annotations

from typing import Any

DESCRIPTION = "text_truncated and text_bytes columns on entries"


def apply(con: Any) -> None:
    """Add ``text_truncated`` and ``text_bytes``; stored entries get false and 0 (not cut)."""
    con.execute("ALTER TABLE collected_entries ADD COLUMN text_truncated BOOLEAN NOT NULL "
                "DEFAULT false")
    con.execute("ALTER TABLE collected_entries ADD COLUMN text_bytes BIGINT NOT NULL DEFAULT 0")
