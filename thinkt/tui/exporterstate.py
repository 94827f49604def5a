"""The exporter as the status pages see it: its status file, and whether it is still running."""

from __future__ import annotations

import dataclasses
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from thinkt.exporter.report.statusfile import STATUS_FILE, read_status
from thinkt.tui.humanize import parse_time

log = logging.getLogger(__name__)

#: A running exporter rewrites its file every 5 s; this much silence means it is gone.
STALE_AFTER = 30.0


@dataclasses.dataclass(frozen=True)
class ExporterState:
    """The last status an exporter wrote, and whether it counts as running now."""

    path: Path
    status: dict[str, Any] | None
    running: bool
    reason: str  # why it does or does not count as running

    @property
    def found(self) -> bool:
        """True when there is a readable status file at all."""
        return self.status is not None


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, just someone else's
    return True


def read_exporter(state_dir: Path, now: datetime | None = None) -> ExporterState:
    """Read the status file in ``state_dir`` and decide whether its exporter is running."""
    path = state_dir / STATUS_FILE
    status = read_status(state_dir)
    if not isinstance(status, dict):
        return ExporterState(path, None, False, "no exporter running (no status file)")
    now = now or datetime.now(timezone.utc)
    updated = parse_time(status.get("updated_at"))
    if not status.get("running"):
        return ExporterState(path, status, False, "no exporter running (the last one exited)")
    if updated is None or (now - updated).total_seconds() > STALE_AFTER:
        return ExporterState(path, status, False,
                             "no exporter running (status file is stale)")
    if not _pid_alive(status.get("pid")):
        return ExporterState(path, status, False, "no exporter running (its process is gone)")
    return ExporterState(path, status, True, f"running ({status.get('mode', '?')} mode)")
