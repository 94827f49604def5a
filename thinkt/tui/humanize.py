"""Human-readable numbers, sizes, durations and ages for the status pages."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

log = logging.getLogger(__name__)


def parse_time(value: str | None) -> datetime | None:
    """Parse an RFC 3339 time (``Z`` or an offset) into an aware datetime, or None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def duration(seconds: float | None) -> str:
    """``3d 4h``, ``2h 5m``, ``4m 10s``, ``12s``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def age(value: str | None, now: datetime | None = None) -> str:
    """How long ago an RFC 3339 time was: ``12s ago``, ``never`` when there is none."""
    moment = parse_time(value)
    if moment is None:
        return "never"
    now = now or datetime.now(timezone.utc)
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return "just now"
    return duration(seconds) + " ago"


def size(count: int | None) -> str:
    """Bytes as ``512 B``, ``1.5 KiB``, ``20.0 MiB``."""
    if count is None:
        return "-"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def number(count: int | None) -> str:
    """An integer with thousands separators, ``-`` when unknown."""
    return "-" if count is None else f"{int(count):,}"
