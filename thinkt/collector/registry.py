"""Agent registry rules: when an exporter agent is stale or expired (pure functions of ``now``).

The state itself lives in DuckDB (``collected_agents``, see agents.py); these
functions only decide, so request handlers can pass their own ``now`` and tests
can freeze time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

log = logging.getLogger(__name__)

#: An agent whose last heartbeat is older than this is stale (CONTRACT.md §1).
STALE_AFTER = timedelta(minutes=5)
#: How often the writer marks stale agents and removes expired ones.
SWEEP_INTERVAL = timedelta(minutes=1)
#: How long an agent may stay stale before the sweep removes it.
DEFAULT_RETENTION = timedelta(days=7)

ACTIVE = "active"
STALE = "stale"


def stale_cutoff(now: datetime) -> datetime:
    """Return the oldest heartbeat that still counts as active at ``now``."""
    return now - STALE_AFTER


def expiry_cutoff(now: datetime, retention: timedelta) -> datetime:
    """Return the heartbeat before which an agent has been stale for longer than ``retention``.

    An agent becomes stale ``STALE_AFTER`` after its last heartbeat, so it has been
    stale for longer than ``retention`` once that heartbeat is older than both added up.
    """
    return now - STALE_AFTER - retention


def status(last_heartbeat: datetime, now: datetime) -> str:
    """Return ``"active"``, or ``"stale"`` when the last heartbeat is more than 5 minutes old."""
    return STALE if last_heartbeat < stale_cutoff(now) else ACTIVE


def is_expired(last_heartbeat: datetime, now: datetime, retention: timedelta) -> bool:
    """Return True when the agent has been stale for longer than ``retention``."""
    return last_heartbeat < expiry_cutoff(now, retention)
