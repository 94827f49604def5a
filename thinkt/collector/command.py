"""The ``thinkt collect`` / ``thinkt-collector`` command: resolve settings, start the server."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from thinkt import config, paths
from thinkt.addresses import is_loopback
from thinkt import log as thinkt_log
from thinkt.collector import auth, pricing
from thinkt.collector.settings import (CollectorSettings, check_tls, default_storage,
                                       default_workers)
from thinkt.status import ConfigError, ExitStatus, ThinktError

log = logging.getLogger(__name__)


def build_settings(params: dict[str, Any], tables: dict[str, Any] | None = None,
                   ) -> CollectorSettings:
    """Turn the resolved command-line parameters (and the config file's tables, such as
    ``[collector.prices]``) into collector settings.

    :raises ConfigError: a token file cannot be read, holds no token or a bad line, the
        web secret cannot be made, a price override is malformed, or the TLS
        certificate and key are not a pair that loads (or only one is set).
    """
    tokens = [auth.Grant(t.strip()) for t in params.get("token") or () if t and t.strip()]
    token_file = params.get("token_file")
    if token_file:
        tokens.extend(auth.read_token_file(token_file))
    if not tokens and not params.get("allow_unauthenticated") and not is_loopback(params["host"]):
        raise ConfigError(
            f"refusing to listen on {params['host']} without a token: anyone who can reach "
            "it could read and write every trace",
            hint="Set --token-file (or --token), or pass --allow-unauthenticated on a "
                 "trusted network.")
    prices = pricing.parse_overrides((tables or {}).get("prices", {}))
    retention = parse_retention((tables or {}).get("retention", {}))
    tls = check_tls(params.get("tls_cert"), params.get("tls_key"))
    storage = params.get("storage") or default_storage()
    return CollectorSettings(
        host=params["host"],
        port=params["port"],
        storage=os.path.abspath(os.path.expanduser(storage)),
        tokens=auth.merge(tokens),
        tls_cert=tls[0] if tls else None,
        tls_key=tls[1] if tls else None,
        cors_origins=tuple(o.strip() for o in params.get("cors_origin") or () if o.strip()),
        workers=params.get("workers") or default_workers(),
        queue_size=params["queue_size"],
        commit_timeout=params["commit_timeout"],
        request_timeout=params["request_timeout"],
        agent_retention=params["agent_retention"],
        retention_days=params.get("retention_days") or 0,
        retention=retention,
        archive_dir=os.path.abspath(os.path.expanduser(params["archive_dir"]))
        if params.get("archive_dir") else None,
        memory_limit=params["memory_limit"],
        behind_proxy=bool(params.get("behind_proxy")),
        quiet=params["quiet"],
        log=params.get("log"),
        started_at=datetime.now(timezone.utc).replace(tzinfo=None),
        web_secret=auth.load_secret(paths.state_dir()) if tokens else b"",
        prices=prices,
    )


def parse_retention(table: Any) -> dict[str, int]:
    """Return ``[collector.retention]`` as days per source (lower-cased, as sources are).

    :raises ConfigError: it is not a table of whole numbers of days from 0 to 36500.
    """
    if not isinstance(table, dict):
        raise ConfigError("[collector.retention] must be a table: retention.<source> = DAYS",
                          hint="e.g. retention.codex = 30 (0 keeps everything)")
    days: dict[str, int] = {}
    for source, value in table.items():
        if type(value) is not int or not 0 <= value <= 36500:
            raise ConfigError(f"retention.{source} must be a whole number of days from 0 to "
                              f"36500, not {value!r}", hint="e.g. retention.codex = 30")
        days[str(source).strip().lower()] = value
    return days


def exposure_warning(settings: CollectorSettings) -> str | None:
    """Return why serving beyond this machine without a buffering proxy stalls, or None.

    The collector cannot see whether a proxy is in front of it, so the rule is the
    address alone: every --host that is not loopback gets the warning (issue 14, item 3),
    unless the operator says a buffering proxy is the only way in (--behind-proxy).
    """
    if is_loopback(settings.host) or settings.behind_proxy:
        return None
    workers = settings.workers
    where = f"[{settings.host}]" if ":" in settings.host else settings.host
    return (f"listening on {where}:{settings.port}, beyond this machine, and the collector "
            "cannot tell whether a buffering proxy is in front: without one, "
            f"{workers} clients that send a request slowly or stop part-way (no token "
            f"needed) occupy all {workers} sync workers, and every other request, health "
            "checks included, waits for as long as they keep at it (gunicorn frees a worker "
            f"only after --request-timeout, {settings.request_timeout:g}s). Put nginx in "
            "front (etc/nginx/thinkt-collector.conf; README: \"The proxy in front of the "
            "collector\") and listen on 127.0.0.1. If a buffering proxy on another machine "
            "is already the only way in, say so with --behind-proxy (behind_proxy = true).")


@click.command(context_settings={"help_option_names": ["-h", "--help"],
                                 "max_content_width": 100})
@config.options("collector")
@click.option("--check-config", is_flag=True,
              help="Check the settings and exit: 0 when they are usable, 78 when not.")
@click.option("--traceback", is_flag=True, hidden=True,
              help="Show the Python traceback of an error.")
def collect(check_config: bool, traceback: bool, **params: Any) -> None:
    """Run the collector: the HTTP ingest and query service over one DuckDB file.

    With no flags it listens on localhost:4318 and keeps its data in
    ~/.thinkt/collector.duckdb (or $STATE_DIRECTORY/collector.duckdb under systemd).
    """
    settings = build_settings(params, click.get_current_context().meta.get("thinkt.tables"))
    if check_config:
        parent = Path(settings.storage).parent
        if parent.exists() and not os.access(parent, os.W_OK):
            raise ConfigError(f"storage directory {parent} is not writable")
        click.echo("configuration OK")
        return
    try:
        from thinkt.collector import server
    except ImportError as exc:
        raise ThinktError(f"the collector needs {exc.name}, which is not installed",
                          hint="Install it with: pip install 'thinkt[collector]'",
                          status=ExitStatus.UNAVAILABLE) from None
    thinkt_log.configure(quiet=settings.quiet, log_file=settings.log)
    warning = exposure_warning(settings)
    if warning:
        log.warning("%s", warning)
    server.serve(settings)
