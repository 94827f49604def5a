"""Schema version 5: no lower-cased copy of every text.

Migration 2 stored ``text_lower`` uncompressed beside the text, so that search could
test survivors of the sketch without lower-casing them: about 1.1 bytes per text byte,
half of the store. Search now lower-cases only the rows the sketch lets through (and
tests the text as it is first); the sketch columns ``sk00`` .. ``sk39`` stay as they
are, hashed the same way (sketch.py).
"""

from __future__ import annotations

from typing import Any

DESCRIPTION = "drop text_lower (search lower-cases the sketch's survivors)"


def apply(con: Any) -> None:
    """Drop ``text_lower``; DuckDB 2.0 drops a column of a table with a primary key in place."""
    con.execute("ALTER TABLE collected_entries DROP COLUMN text_lower")
