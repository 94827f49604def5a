"""The agents table: registrations, heartbeats' effects, the stale/expired sweep, the list.

The writer's main thread registers and sweeps; query threads list on their own cursor.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from thinkt.collector import registry
from thinkt.collector.database import naive_utc, rfc3339, transaction

log = logging.getLogger(__name__)

_AGENT_FIELDS = ("hostname", "version", "started_at", "machine_id", "project", "region",
                 "metadata")
#: Columns whose registration field has another name: ``user`` is an SQL keyword.
_RENAMED = {"person": "user"}


def register_agent(con: Any, agent: dict, now: datetime) -> dict:
    """Create or update an agent from its registration; it counts as a heartbeat at ``now``.

    Fields left out of a re-registration keep their stored values; ``trace_count``
    is kept. Returns the agent as :func:`list_agents` shows it.
    """
    values = {name: agent.get(name) for name in _AGENT_FIELDS}
    values.update((column, agent.get(field)) for column, field in _RENAMED.items())
    if isinstance(values["metadata"], (dict, list)):
        values["metadata"] = json.dumps(values["metadata"], sort_keys=True)
    values["started_at"] = naive_utc(values["started_at"])
    now = naive_utc(now)
    keep = ",\n".join(f"{name} = coalesce(excluded.{name}, a.{name})" for name in values)
    con.execute(f"""
        INSERT INTO collected_agents AS a (instance_id, platform, {", ".join(values)},
            registered_at, last_heartbeat, trace_count, status)
        VALUES (?, ?, {", ".join("?" for _ in values)}, ?, ?, 0, 'active')
        ON CONFLICT (instance_id) DO UPDATE SET
            platform = excluded.platform,
            {keep},
            last_heartbeat = greatest(a.last_heartbeat, excluded.last_heartbeat),
            status = 'active'
    """, [agent["instance_id"], agent["platform"], *values.values(), now, now])
    return _agents(con, now, "WHERE instance_id = ?", [agent["instance_id"]])[0]


def sweep_agents(con: Any, now: datetime, retention: timedelta) -> tuple[int, int]:
    """Remove agents stale for longer than ``retention``, mark the others; return both counts."""
    now = naive_utc(now)
    with transaction(con):
        removed = con.execute("DELETE FROM collected_agents WHERE last_heartbeat < ?",
                              [registry.expiry_cutoff(now, retention)]).fetchone()[0]
        marked = con.execute("UPDATE collected_agents SET status = 'stale' "
                             "WHERE status <> 'stale' AND last_heartbeat < ?",
                             [registry.stale_cutoff(now)]).fetchone()[0]
    if marked or removed:
        log.info("agents sweep: %d marked stale, %d removed", marked, removed)
    return int(marked), int(removed)


def list_agents(cur: Any, now: datetime) -> list[dict]:
    """Return every agent, most recent heartbeat first, with its status at ``now``."""
    return _agents(cur, naive_utc(now), "", [])


def _agents(cur: Any, now: datetime, where: str, params: list) -> list[dict]:
    rows = cur.execute(f"""
        SELECT instance_id, platform, hostname, version, started_at, last_heartbeat, trace_count,
               person
        FROM collected_agents {where}
        ORDER BY last_heartbeat DESC, instance_id
    """, params).fetchall()
    return [{"instance_id": instance_id, "platform": platform, "hostname": hostname,
             "version": version, "started_at": rfc3339(started_at),
             "last_heartbeat": rfc3339(heartbeat), "trace_count": int(traces),
             "status": registry.status(heartbeat, now), "user": person}
            for instance_id, platform, hostname, version, started_at, heartbeat, traces, person
            in rows]

