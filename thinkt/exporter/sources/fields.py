"""Reading fields of foreign session records defensively: a wrong type reads as absent."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def text(value: Any) -> str | None:
    """Return ``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def count(value: Any) -> int:
    """Return ``value`` when it is a positive integer (a token count), else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
