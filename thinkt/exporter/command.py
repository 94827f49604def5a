"""The ``thinkt export`` and ``thinkt-exporter`` commands: resolve settings, run a mode.

``thinkt export`` runs once (cron), ``--forward`` keeps watching, ``--flush`` only
drains the disk buffer and ``--dry-run`` only reports what would be shipped.
``thinkt-exporter`` is the forward mode as a standalone program (systemd user unit).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from thinkt import __version__, config, paths
from thinkt import log as thinkt_log
from thinkt.exporter.ship import endpoint as discovery
from thinkt.exporter.watch import roots as watch_roots
from thinkt.exporter import sources as registry
from thinkt.exporter.ship.redact import Redactor
from thinkt.exporter.runtime import Options
from thinkt.exporter.sources import Source
from thinkt.exporter.state import identity
from thinkt.status import ConfigError, ThinktError

log = logging.getLogger(__name__)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
BUFFER_DIR = "export-buffer"


def load_sources(names: tuple[str, ...] | list[str]) -> list[Source]:
    """Return the sources named (all registered ones when ``names`` is empty)."""
    unknown = [n for n in names if n not in registry.NAMES]
    if unknown:
        raise click.BadParameter(f"unknown source {unknown[0]!r} (choose from "
                                 f"{', '.join(registry.NAMES)})", param_hint="'--source'")
    chosen = []
    for name in dict.fromkeys(names or registry.NAMES):
        try:
            chosen.append(registry.get(name))
        except ImportError as exc:
            if names:
                raise ThinktError(f"the {name} source cannot be loaded ({exc})") from None
            log.warning("skipping the %s source: it cannot be loaded (%s)", name, exc)
    return chosen


def resolve_roots(params: dict[str, Any], sources: list[Source]) -> list[watch_roots.WatchRoot]:
    """Return the directories to read: ``--watch-dir`` values, else each source's defaults."""
    home = paths.home_dir()
    if params.get("watch_dir"):
        return watch_roots.parse_watch_dirs(params["watch_dir"], sources, home, os.environ)
    return watch_roots.default_roots(sources, home, os.environ)


# Where a value was set, most specific first: the api key and its file compete on this.
_SOURCE_RANK = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT,
                click.core.ParameterSource.DEFAULT_MAP, click.core.ParameterSource.DEFAULT)


def _rank(ctx: click.Context, name: str) -> int:
    source = ctx.get_parameter_source(name)
    return _SOURCE_RANK.index(source) if source in _SOURCE_RANK else len(_SOURCE_RANK)


def resolve_api_key(ctx: click.Context, params: dict[str, Any]) -> str | None:
    """Return the API key: ``--api-key``, or the key file when that was set more specifically."""
    key, path = params.get("api_key") or None, params.get("api_key_file")
    if path and (key is None or _rank(ctx, "api_key_file") < _rank(ctx, "api_key")):
        # The first secret of the file is the key (a rotated-out one may follow).
        return config.read_secret_file(path, "API key file", "key")[0]
    return key


def endpoint_finder(ctx: click.Context, params: dict[str, Any]) -> Callable[[], discovery.Endpoint]:
    """Return a function that runs the collector discovery cascade with these settings."""
    api_key = resolve_api_key(ctx, params)
    source = ctx.get_parameter_source("collector_url")
    if source is click.core.ParameterSource.COMMANDLINE:
        url_from = "flag --collector-url"
    elif source is click.core.ParameterSource.ENVIRONMENT:
        url_from = "env THINKT_COLLECTOR_URL"
    else:
        url_from = "config file " + ctx.meta.get("thinkt.config_file", "")

    def find() -> discovery.Endpoint:
        return discovery.discover(url=params.get("collector_url"), url_from=url_from,
                                  api_key=api_key,
                                  project_dir=Path.cwd(),
                                  well_known=params.get("discovery_url") or (),
                                  allow_insecure_http=bool(params.get("allow_insecure_http")),
                                  ca_cert=params.get("ca_cert"))

    return find


def build_options(params: dict[str, Any], endpoint: discovery.Endpoint,
                  roots: list[watch_roots.WatchRoot]) -> Options:
    """Turn resolved parameters into the exporter's options."""
    state_dir = paths.state_dir()
    buffer_dir = params.get("buffer_dir")
    return Options(
        endpoint=endpoint,
        roots=roots,
        state_dir=state_dir,
        buffer_dir=Path(buffer_dir).expanduser().absolute() if buffer_dir
        else state_dir / BUFFER_DIR,
        buffer_max=params["buffer_max"],
        concurrency=params["concurrency"],
        build_workers=params["build_workers"],
        timeout=params["timeout"],
        quiet=params["quiet"],
        polling=params["poll"],
        poll_interval=params["poll_interval"],
        rescan_interval=params["rescan_interval"],
        heartbeat_interval=params["heartbeat_interval"],
        redactor=build_redactor(params),
        metadata_only=params["metadata_only"],
        # Resolved once a run: git is asked at most once, and every payload agrees.
        user=identity.person(params.get("user"), paths.home_dir()),
    )


def build_redactor(params: dict[str, Any]) -> Redactor | None:
    """Return the redactor the settings ask for (None with ``--no-redact``).

    :raises ConfigError: an unknown rule to disable or a bad extra rule.
    """
    if params["no_redact"]:
        return None
    try:
        return Redactor.from_settings(params["redact_disable"], params["redact_extra"])
    except ValueError as exc:
        raise ConfigError(f"redaction: {exc}") from None


def run_forward(ctx: click.Context, params: dict[str, Any]) -> int:
    """Run the forward exporter until TERM/INT."""
    thinkt_log.configure(quiet=params["quiet"], log_file=params.get("log"))
    sources = load_sources(params["source"])
    roots = resolve_roots(params, sources)
    find = endpoint_finder(ctx, params)
    options = build_options(params, find(), roots)
    from thinkt.exporter.daemon import Daemon

    return Daemon(options, rediscover=find).run()


@click.command(context_settings=CONTEXT_SETTINGS)
@config.options("exporter")
@click.option("--forward", is_flag=True,
              help="Keep running: watch the session files and ship lines as they are written.")
@click.option("--flush", is_flag=True,
              help="Only send what the disk buffer holds, report, and exit.")
@click.option("--dry-run", is_flag=True,
              help="Report what the session files hold and what the next export would ship "
                   "(files, entries, new entries, sessions, tokens per source) without "
                   "shipping anything or moving offsets.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: print the report as JSON.")
@click.option("--traceback", is_flag=True, hidden=True,
              help="Show the Python traceback of an error.")
@click.pass_context
def export(ctx: click.Context, forward: bool, flush: bool, dry_run: bool, as_json: bool,
           traceback: bool, **params: Any) -> int:
    """Ship what your AI coding assistants wrote to the thinkt collector.

    With no mode flag, one pass over everything new since the last run, then exit
    (for cron): 0 when every new entry was shipped or safely buffered, 75 when no
    progress was possible (buffer full, another exporter running), 78 on bad
    configuration.

    The collector is the first of: --collector-url, THINKT_COLLECTOR_URL, the config
    file, .thinkt/collector.json in this directory or a parent, the well-known
    document of --discovery-url; with none, payloads wait in the disk buffer.
    """
    modes = [name for name, on in (("--forward", forward), ("--flush", flush),
                                   ("--dry-run", dry_run)) if on]
    if len(modes) > 1:
        raise click.UsageError(f"{modes[0]} and {modes[1]} cannot be used together.")
    if as_json and not dry_run:
        raise click.UsageError("--json goes with --dry-run.")
    if forward:
        return run_forward(ctx, params)
    if dry_run:
        return dry_run_report(params, as_json)
    thinkt_log.configure(quiet=True, log_file=params.get("log"))
    say = (lambda line: None) if params["quiet"] else click.echo
    find = endpoint_finder(ctx, params)
    from thinkt.exporter import oneshot

    if flush:
        options = build_options(params, find(), [])
        return oneshot.flush(options, say)
    sources = load_sources(params["source"])
    options = build_options(params, find(), resolve_roots(params, sources))
    from thinkt.exporter.daemon import Signals

    # TERM/INT stop reading; what is in flight finishes and offsets are saved (exit 75).
    signals = Signals().install()
    try:
        return oneshot.export_once(options, say, progress_stream=sys.stderr,
                                   should_stop=signals.stopping)
    finally:
        signals.restore()


def dry_run_report(params: dict[str, Any], as_json: bool) -> int:
    """Print what a run would ship, per source, with no collector and no state touched."""
    try:
        from thinkt.exporter.report import survey
    except ImportError:
        raise ThinktError("--dry-run is not available in this build (thinkt.exporter.report.survey "
                          "is missing)") from None
    sources = load_sources(params["source"])
    roots = None
    if params.get("watch_dir"):
        roots = {}
        for root in resolve_roots(params, sources):
            roots.setdefault(root.source.name, []).append(root.path)
        sources = [s for s in sources if s.name in roots]
    from thinkt.exporter.runtime import OFFSETS_FILE
    from thinkt.exporter.state.offsets import OffsetStore

    # Only read (no lock, nothing written): a running exporter may be moving them.
    offsets = OffsetStore(paths.state_dir() / OFFSETS_FILE).load(repair=False)
    report = survey.survey(sources, roots=roots, home=paths.home_dir(), env=os.environ,
                           offsets=offsets)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(survey.render_table(report))
    return 0


@click.command(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="thinkt-exporter")
@config.options("exporter")
@click.option("--traceback", is_flag=True, hidden=True,
              help="Show the Python traceback of an error.")
@click.pass_context
def exporter(ctx: click.Context, traceback: bool, **params: Any) -> int:
    """Watch your AI coding assistants' session files and ship new lines to the collector.

    Runs in the foreground until SIGTERM or SIGINT (systemd user unit); SIGHUP
    discovers the collector again and rescans. Same settings as `thinkt export`.
    """
    return run_forward(ctx, params)
