"""The facts both status surfaces show: labelled rows for the pages and text, a dict for JSON."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from thinkt.exporter.report import statusfile
from thinkt.status import ExitStatus
from thinkt.tui import client
from thinkt.tui.client import CollectorSnapshot
from thinkt.tui.exporterstate import ExporterState
from thinkt.tui.humanize import age, duration, number, size

log = logging.getLogger(__name__)

Rows = list[tuple[str, str]]

_STATE_TEXT = {client.UP: "up", client.DOWN: "DOWN", client.REFUSED: "REFUSED",
               client.ERROR: "ERROR"}


def collector_rows(snap: CollectorSnapshot) -> Rows:
    """The collector summary: URL, up/down, uptime, totals, database size, tokens."""
    state = _STATE_TEXT.get(snap.state, snap.state)
    rows = [("Server", f"{snap.url} (from {snap.found_by})"),
            ("Status", state if snap.error is None else f"{state}: {snap.error}")]
    if not snap.up:
        return rows
    stats = snap.stats
    tokens = stats.get("tokens") or {}
    rows += [
        ("Uptime", duration(stats.get("uptime_seconds"))),
        ("Traces", number(stats.get("total_traces"))),
        ("Sessions", number(stats.get("total_sessions"))),
        ("Agents", f"{number(stats.get('total_agents'))} "
                   f"({number(stats.get('active_agents'))} active)"),
        ("Database", size(stats.get("db_size_bytes"))),
        ("Tokens", f"in {number(tokens.get('input'))}  out {number(tokens.get('output'))}  "
                   f"cache r/w {number(tokens.get('cache_read'))}/"
                   f"{number(tokens.get('cache_write'))}  "
                   f"reasoning {number(tokens.get('reasoning'))}"),
    ]
    return rows


def exporter_rows(state: ExporterState, now: datetime | None = None) -> Rows:
    """The exporter summary read from its status file."""
    rows = [("Exporter", state.reason), ("Status file", str(state.path))]
    status = state.status
    if status is None:
        return rows
    collector = status.get("collector") or {}
    watch = status.get("watch") or {}
    buffer = status.get("buffer") or {}
    counts = status.get("counts") or {}
    connection = collector.get("status") or "unknown"
    if collector.get("last_error"):
        connection += f" ({collector['last_error']})"
    rows += [
        ("Process", f"pid {status.get('pid')}, {status.get('mode') or '?'} mode, "
                    f"version {status.get('version') or '?'}"),
        ("Last update", age(status.get("updated_at"), now)),
        ("Collector", collector.get("url") or "none: buffering to disk only"),
        ("Found by", collector.get("found_by") or "-"),
        ("Connection", connection),
        ("Watching", f"{number(watch.get('directories'))} directories, "
                     f"{number(watch.get('files'))} files ({watch.get('mode') or '-'})"),
        ("Buffer", f"{number(buffer.get('files'))} files, {size(buffer.get('bytes'))} "
                   f"of {size(buffer.get('max_bytes'))}" + (" FULL" if buffer.get("full") else "")),
        ("Shipped", f"{number(counts.get('payloads_shipped'))} payloads, "
                    f"{number(counts.get('entries_shipped'))} entries"),
        ("Failed", f"{number(counts.get('payloads_failed'))} payloads (will retry)"),
        ("Rejected", f"{number(counts.get('payloads_rejected'))} payloads, "
                     f"{number(counts.get('entries_rejected'))} entries"),
        ("Redacted", redaction_text(redaction_facts(status))),
        ("Last ship", age(status.get("last_ship_at"), now)),
        ("Lag", size(status.get("lag_bytes"))),
    ]
    if status.get("paused"):
        rows.append(("Paused", str(status["paused"])))
    return rows


def redaction_facts(status: dict[str, Any]) -> dict[str, Any]:
    """What the exporter did to secrets: ``mode``, ``total`` masked and ``by_rule``.

    ``mode`` is the status file's ``redaction`` (``on``, ``off``, ``metadata-only``), or
    None when the file does not say (an exporter from before that key); ``by_rule`` is
    ordered most masked first.
    """
    mode = status.get("redaction")
    known = (statusfile.REDACTION_ON, statusfile.REDACTION_OFF, statusfile.METADATA_ONLY)
    counts = (status.get("counts") or {}).get("redactions")
    by_rule = {str(rule): n for rule, n in (counts.items() if isinstance(counts, dict) else ())
               if isinstance(n, int) and not isinstance(n, bool) and n > 0}
    ordered = dict(sorted(by_rule.items(), key=lambda item: (-item[1], item[0])))
    return {"mode": mode if mode in known else None, "total": sum(ordered.values()),
            "by_rule": ordered}


def redaction_text(facts: dict[str, Any]) -> str:
    """``12 secrets: github_token 9, aws_access_key 3``, ``none``, or why nothing is masked."""
    if facts["mode"] == statusfile.REDACTION_OFF:
        return "redaction off (--no-redact): text is shipped as it is"
    if facts["mode"] == statusfile.METADATA_ONLY:
        return "none: no text is shipped (--metadata-only)"
    if not facts["total"]:
        return "none"
    noun = "secret" if facts["total"] == 1 else "secrets"
    rules = ", ".join(f"{rule} {number(n)}" for rule, n in facts["by_rule"].items())
    return f"{number(facts['total'])} {noun}: {rules}"


def watched_roots(state: ExporterState) -> list[str]:
    """The ``source=DIR`` roots the exporter watches (empty when unknown)."""
    roots = ((state.status or {}).get("watch") or {}).get("roots") or []
    return [str(root) for root in roots]


def exit_status(snap: CollectorSnapshot) -> ExitStatus:
    """0 when the collector is up, 69 when it cannot be reached, 78 when it refuses our key."""
    if snap.up:
        return ExitStatus.OK
    if snap.state == client.REFUSED:
        return ExitStatus.CONFIG
    return ExitStatus.UNAVAILABLE


def as_json(snap: CollectorSnapshot, state: ExporterState) -> dict[str, Any]:
    """Everything ``thinkt status --json`` prints (no secrets: the key is never included)."""
    return {
        "healthy": snap.up,
        "collector": {
            "url": snap.url, "found_by": snap.found_by, "state": snap.state,
            "error": snap.error, "stats": snap.stats, "agents": snap.agents,
            "sessions": snap.sessions,
        },
        "exporter": {
            "running": state.running, "reason": state.reason, "status_file": str(state.path),
            "redaction": None if state.status is None else redaction_facts(state.status),
            "status": state.status,
        },
    }


def as_text(snap: CollectorSnapshot, state: ExporterState, now: datetime | None = None) -> str:
    """The plain-text report: the same rows as the pages, then agents."""
    lines = ["Collector"]
    lines += _aligned(collector_rows(snap))
    if snap.up:
        lines.append(f"  Agents ({len(snap.agents)}):")
        for agent in snap.agents:
            lines.append(f"    {agent.get('hostname') or agent.get('instance_id')}  "
                         f"{agent.get('status')}  v{agent.get('version') or '?'}  "
                         f"heartbeat {age(agent.get('last_heartbeat'), now)}  "
                         f"{number(agent.get('trace_count'))} traces")
    lines += ["", "Exporter"]
    lines += _aligned(exporter_rows(state, now))
    for root in watched_roots(state):
        lines.append(f"    {root}")
    return "\n".join(lines)


def _aligned(rows: Rows) -> list[str]:
    width = max(len(label) for label, _ in rows)
    return [f"  {label + ':':<{width + 1}} {value}" for label, value in rows]
