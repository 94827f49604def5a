"""Retention: entries older than the configured days go, in small steps, off the commit path.

``--retention-days N`` (``THINKT_RETENTION_DAYS``, ``retention_days`` in the config file)
keeps N days of every source; ``[collector.retention]`` gives a source its own number
(``retention.codex = 30``); 0 keeps everything. An entry's age is its own timestamp's.

The writer runs :meth:`RetentionSweep.step` from its housekeeping: at start, then every
minute (as the agents' sweep), one batch of at most :data:`BATCH` entries at a time, and
again at once while batches come back full, so a first sweep over years of history
interleaves with ingest instead of stopping it. Each batch is an erasure
(:mod:`~thinkt.collector.governance.erase`): the rollup follows, the telemetry of those
days goes too, and the audit log records it under the actor ``collector``. A step that
removed something checkpoints, so DuckDB can reuse the freed blocks (the file does not
shrink; a backup is a compact copy). :meth:`RetentionSweep.plan` answers the dry run.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from thinkt.collector.governance.erase import COUNTED, Selector, erase

log = logging.getLogger(__name__)

#: Entries removed per step. Measured on a million-entry store (2 cores): a step costs
#: ~0.3 s plus ~55 us an entry (sessions recomputed, the commit's index deletes), so
#: 10,000 hold the writer under a second between two group commits.
BATCH = 10_000
#: How often the sweep looks for entries past their retention.
INTERVAL = 60.0
#: The actor the audit log names for the collector's own retention.
ACTOR = "collector"


@dataclasses.dataclass(frozen=True)
class Retention:
    """How many days each source keeps (0: everything)."""

    days: int = 0
    per_source: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.days) or any(self.per_source.values())

    def days_of(self, source: str) -> int:
        return self.per_source.get(source, self.days)

    def cutoffs(self, sources: list[str], now: datetime) -> dict[str, datetime]:
        """The time before which each source's entries go (sources that keep all: none)."""
        return {source: now - timedelta(days=self.days_of(source))
                for source in sorted(set(sources)) if self.days_of(source)}


def sources(con: Any) -> list[str]:
    """Every source the store holds something of (entries or telemetry)."""
    return [row[0] for row in con.execute(
        "SELECT source FROM collected_sessions UNION SELECT source FROM telemetry_requests "
        "UNION SELECT source FROM metric_points").fetchall()]


class RetentionSweep:
    """The writer's retention state: when to look again."""

    def __init__(self, policy: Retention, monotonic: Callable[[], float] = time.monotonic):
        self.policy = policy
        self.monotonic = monotonic
        self.next_at = 0.0  # at start

    def due(self) -> bool:
        return bool(self.policy) and self.monotonic() >= self.next_at

    def step(self, con: Any, now: datetime) -> dict[str, int]:
        """Remove one batch of what is past retention; return what went (all sources)."""
        total = dict.fromkeys(COUNTED, 0)
        full = False
        budget = BATCH
        for source, cutoff in self.policy.cutoffs(sources(con), now).items():
            removed = erase(con, Selector("before", cutoff, source=source), actor=ACTOR,
                            now=now, limit=budget, action="retention")
            for name, count in removed.items():
                total[name] += count
            budget -= removed["entries"]
            if budget <= 0:
                full = True
                break
        if not full and self.policy.days:
            # Only when every source has a limit: then none keeps its series longer.
            longest = max([self.policy.days, *self.policy.per_source.values()])
            if all(self.policy.days_of(source) for source in self.policy.per_source):
                _forget_stale_series(con, now - timedelta(days=longest))
        # A full batch leaves more behind: the next step comes with the next loop.
        self.next_at = self.monotonic() + (0.0 if full else INTERVAL)
        if any(total.values()):
            con.execute("CHECKPOINT")
        return total

    def plan(self, con: Any, now: datetime) -> dict[str, Any]:
        """What a sweep would remove now, per source (a dry run: nothing is removed)."""
        cutoffs = self.policy.cutoffs(sources(con), now)
        return {"retention_days": self.policy.days,
                "per_source": dict(self.policy.per_source),
                "sources": {source: {"before": cutoff.isoformat() + "Z",
                                     "removes": erase(con, Selector("before", cutoff, source),
                                                      actor=ACTOR, now=now, dry_run=True)}
                            for source, cutoff in cutoffs.items()}}


def _forget_stale_series(con: Any, cutoff: datetime) -> None:
    """Drop the last points of cumulative series not heard of since ``cutoff``: a series
    names its session and person, and would otherwise be kept for ever. A process that
    sends a series keeps exporting it every minute or so; one silent for the whole
    retention period has ended."""
    con.execute('DELETE FROM metric_state WHERE "time" < ?', [cutoff])
