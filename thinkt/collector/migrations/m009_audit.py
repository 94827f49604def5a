"""Schema version 9: the audit log of what was removed from the store, by whom.

One row per erasure (``DELETE /v1/...``, ``thinkt admin delete``) and per retention
sweep that removed something: when, which token acted (its name from the token file, or
``token #<fingerprint>``; never the token; ``collector`` for the collector's own
retention), the action and its target, and how many rows each table lost. Readable by
tokens with the ``admin`` role (``GET /v1/admin/audit``).
"""

from __future__ import annotations

from typing import Any

DESCRIPTION = "audit log of erasures and retention sweeps"


def apply(con: Any) -> None:
    """Create ``audit_log`` (empty: nothing was ever removed through an audit before)."""
    con.execute("CREATE SEQUENCE audit_log_id START 1")
    con.execute("""
        CREATE TABLE audit_log (
            id BIGINT PRIMARY KEY DEFAULT nextval('audit_log_id'),
            happened_at TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            target VARCHAR NOT NULL,
            removed VARCHAR NOT NULL
        )""")
