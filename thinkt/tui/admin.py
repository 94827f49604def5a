"""``thinkt admin``: erasure, the audit log, retention, archive and backup of a running collector.

It talks to the collector over HTTP, found and authenticated as ``thinkt status`` finds
it (``--collector-url``, ``--api-key`` or ``--api-key-file``, ``THINKT_*``, the config
file, ``.thinkt/collector.json``); the key needs the ``admin`` role. The collector's
writer does the work (archive and backup write on the collector's machine).

A deletion first asks the collector what it would remove (a dry run, the same counts a
real run removes) and asks to go on unless ``--yes``; ``--dry-run`` stops there.
Archive and backup start a job and wait for it, printing its progress, unless
``--no-wait``.

Exit statuses: 0 done; 1 refused or failed (the message says why); 2 a usage error;
69 the collector cannot be reached; 75 another job is running (try later); 78 the key
is refused or lacks the admin role.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import click

from thinkt import config
from thinkt.status import ExitStatus, ThinktError
from thinkt.tui.command import CONNECTION, CONTEXT_SETTINGS, client_factory

log = logging.getLogger(__name__)

#: An erasure can take a while at a million entries: the collector answers when done.
ERASE_TIMEOUT = (5.0, 150.0)
#: How often a waiting archive or backup asks for its job's state.
POLL = 1.0
#: The longest a command waits for a job before saying how to follow it.
JOB_WAIT = 6 * 3600.0

KINDS = {
    "session": ("DELETE", "/v1/sessions/{}"),
    "agent": ("DELETE", "/v1/agents/{}"),
    "user": ("DELETE", "/v1/users/{}"),
    "project": ("DELETE", "/v1/projects"),
    "before": ("DELETE", "/v1/entries"),
}


def _client(ctx: click.Context, params: dict[str, Any]):
    return client_factory(ctx, params)()


def _call(client: Any, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    from thinkt.tui.client import DOWN, REFUSED, CollectorError

    try:
        status, body = client.call(method, path, **kwargs)
    except CollectorError as exc:
        status_of = {DOWN: ExitStatus.UNAVAILABLE, REFUSED: ExitStatus.CONFIG}
        raise ThinktError(f"{client.base}: {exc.message}",
                          hint="Check --collector-url and --api-key (thinkt status shows "
                               "both).", status=status_of.get(exc.state, ExitStatus.ERROR)) \
            from None
    if status == 403:
        raise ThinktError("the API key may not do this: it needs the admin role",
                          hint="Use a key whose token-file line has 'admin' "
                               "(TOKEN admin name=NAME).", status=ExitStatus.CONFIG)
    if status == 409:
        raise ThinktError(body.get("message", "another job is running"),
                          status=ExitStatus.TEMPFAIL)
    if status >= 400:
        message = body.get("message") if isinstance(body, dict) else None
        errors = body.get("errors") if isinstance(body, dict) else None
        detail = f" ({json.dumps(errors)})" if errors else ""
        raise ThinktError(f"HTTP {status}: {message or 'refused'}{detail}")
    return status, body


def _removed(counts: dict[str, int]) -> str:
    shown = [f"{count:,} {name.replace('_', ' ')}" for name, count in counts.items() if count]
    return ", ".join(shown) or "nothing"


@click.group(context_settings=CONTEXT_SETTINGS)
def admin() -> None:
    """Erase, audit, archive and back up a running collector (needs the admin role)."""


@admin.command()
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.argument("value")
@click.option("--source", help="Only this source's entries (claude, codex, ...).")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before removing.")
@config.options("exporter", CONNECTION)
@click.pass_context
def delete(ctx: click.Context, kind: str, value: str, source: str | None, dry_run: bool,
           yes: bool, **params: Any) -> None:
    """Remove one session, an agent's, a user's or a project's data, or everything before
    a date (VALUE: a session id, agent instance id, user, project path, or an RFC 3339
    time or YYYY-MM-DD date for 'before'), from every table of the collector.
    """
    method, template = KINDS[kind]
    query: dict[str, str] = {}
    if kind == "project":
        query["path"] = value
        path = template
    elif kind == "before":
        query["before"] = value
        path = template
    else:
        from urllib.parse import quote

        path = template.format(quote(value, safe="@"))
    if source:
        query["source"] = source
    client = _client(ctx, params)
    try:
        _, planned = _call(client, method, path, params={**query, "dry_run": "true"},
                           timeout=ERASE_TIMEOUT)
        what = f"{kind} {value}" + (f" (source {source})" if source else "")
        click.echo(f"{'Would remove' if dry_run or not yes else 'Removing'} for {what}: "
                   f"{_removed(planned['removed'])}")
        if dry_run or not any(planned["removed"].values()):
            return
        if not yes:
            if not sys.stdin.isatty():
                raise ThinktError("nothing removed: there is no terminal to ask on",
                                  hint="Pass --yes to remove without asking.",
                                  status=ExitStatus.USAGE)
            if not click.confirm("Remove it?", default=False):
                raise ThinktError("nothing removed", status=ExitStatus.ERROR)
        _, done = _call(client, method, path, params=query, timeout=ERASE_TIMEOUT)
        click.echo(f"Removed: {_removed(done['removed'])} (written to the audit log)")
    finally:
        client.close()


@admin.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@config.options("exporter", CONNECTION)
@click.pass_context
def audit(ctx: click.Context, limit: int, as_json: bool, **params: Any) -> None:
    """Show the audit log: who removed, archived or backed up what, newest first."""
    client = _client(ctx, params)
    try:
        _, rows = _call(client, "GET", "/v1/admin/audit", params={"limit": limit})
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("The audit log is empty.")
    for row in rows:
        target = ", ".join(f"{k}={v}" for k, v in row["target"].items())
        click.echo(f"{row['at'][:19]}Z  {row['actor']:<20} {row['action']:<9} {target}"
                   + (f"  -> {_removed(row['removed'])}" if row["removed"] else ""))


@admin.command()
@config.options("exporter", CONNECTION)
@click.pass_context
def retention(ctx: click.Context, **params: Any) -> None:
    """Say what the collector's retention settings would remove now (a dry run)."""
    client = _client(ctx, params)
    try:
        _, plan = _call(client, "GET", "/v1/admin/retention", timeout=ERASE_TIMEOUT)
    finally:
        client.close()
    if not plan["sources"]:
        click.echo("No retention: the collector keeps everything (--retention-days, "
                   "[collector.retention]).")
        return
    for source, found in plan["sources"].items():
        click.echo(f"{source}: before {found['before'][:19]}Z would remove "
                   f"{_removed(found['removes'])}")


def _run_job(ctx: click.Context, params: dict[str, Any], path: str, body: dict,
             wait: bool) -> None:
    client = _client(ctx, params)
    try:
        _, job = _call(client, "POST", path, json=body)
        click.echo(f"Job {job['id']} ({job['kind']}) started.")
        if not wait:
            click.echo(f"Follow it: GET /v1/admin/jobs/{job['id']}")
            return
        deadline = time.monotonic() + JOB_WAIT
        shown = None
        while job["state"] == "running" and time.monotonic() < deadline:
            time.sleep(POLL)  # a poll interval: the job reports no event to wait on
            _, job = _call(client, "GET", f"/v1/admin/jobs/{job['id']}")
            if job.get("progress") and job["progress"] != shown:
                shown = job["progress"]
                click.echo(f"  {shown}")
    finally:
        client.close()
    if job["state"] == "running":
        raise ThinktError(f"job {job['id']} is still running",
                          hint=f"Follow it: GET /v1/admin/jobs/{job['id']}",
                          status=ExitStatus.TEMPFAIL)
    if job["state"] == "failed":
        raise ThinktError(f"job {job['id']} failed: {job['error']}")
    click.echo(json.dumps(job["result"], indent=2))


@admin.command()
@click.argument("directory")
@click.option("--since", required=True, help="First day to archive (YYYY-MM-DD, UTC).")
@click.option("--until", required=True, help="Day after the last (YYYY-MM-DD, excluded).")
@click.option("--no-wait", is_flag=True, help="Start the job and return.")
@config.options("exporter", CONNECTION)
@click.pass_context
def archive(ctx: click.Context, directory: str, since: str, until: str, no_wait: bool,
            **params: Any) -> None:
    """Write the closed days [SINCE, UNTIL) as Parquet into DIRECTORY on the collector's
    machine (source=.../day=YYYY-MM-DD/); archiving a day again replaces it."""
    _run_job(ctx, params, "/v1/admin/archive",
             {"directory": directory, "since": since, "until": until}, not no_wait)


@admin.command()
@click.argument("directory")
@click.option("--no-wait", is_flag=True, help="Start the job and return.")
@config.options("exporter", CONNECTION)
@click.pass_context
def backup(ctx: click.Context, directory: str, no_wait: bool, **params: Any) -> None:
    """Copy the store, consistently and while it serves, into a new file in DIRECTORY on
    the collector's machine; ``thinkt collect --storage FILE`` opens the copy."""
    _run_job(ctx, params, "/v1/admin/backup", {"directory": directory}, not no_wait)
