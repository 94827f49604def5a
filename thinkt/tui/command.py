"""The ``thinkt tui`` and ``thinkt status`` commands: resolve the connection, show the pages.

The collector is found as the exporter finds it (``--collector-url``,
``THINKT_COLLECTOR_URL``, the ``[exporter]`` section of the config file, then
``.thinkt/collector.json``), falling back to ``http://localhost:4318``. textual is
imported only by ``thinkt tui``, so ``thinkt status`` works without the ``tui`` extra.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

import click

from thinkt import config, paths
from thinkt.status import ExitStatus, ThinktError

log = logging.getLogger(__name__)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DEFAULT_URL = "http://localhost:4318"
#: The exporter's settings that say how to reach the collector: the pages connect as the
#: exporter on this machine does (its key file, its CA bundle), from the same config.
CONNECTION = ["collector_url", "api_key", "api_key_file", "ca_cert", "allow_insecure_http"]


def client_factory(ctx: click.Context, params: dict[str, Any]) -> Callable:
    """Return a function that builds the collector client from these settings."""
    from thinkt.exporter.command import endpoint_finder
    from thinkt.tui.client import CollectorClient

    find = endpoint_finder(ctx, {**params, "discovery_url": ()})

    def make() -> CollectorClient:
        endpoint = find()
        url, found_by = ((endpoint.url, endpoint.found_by) if endpoint.url is not None
                         else (DEFAULT_URL, "default"))
        return CollectorClient(url, endpoint.api_key, found_by, endpoint.verify)

    return make


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("page", required=False, metavar="[PAGE]",
                type=click.Choice(["collector", "exporter"]))
@config.options("exporter", CONNECTION)
@click.pass_context
def tui(ctx: click.Context, page: str | None, **params: Any) -> int:
    """Status pages in the terminal: PAGE is collector or exporter (default: a menu).

    The collector page refreshes every 5 seconds; keys: r refresh, j/k or arrows
    scroll, esc back, q quit.
    """
    try:
        from thinkt.tui.app import StatusApp
    except ImportError as exc:
        raise ThinktError(f"thinkt tui needs textual, which is not installed ({exc.name})",
                          hint="Install it with: pip install 'thinkt[tui]'",
                          status=ExitStatus.UNAVAILABLE) from None
    make = client_factory(ctx, params)
    make().close()  # a bad URL is a config error before the screen takes over
    StatusApp(make, paths.state_dir(), start=page).run()
    return ExitStatus.OK


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON, for scripts.")
@config.options("exporter", CONNECTION)
@click.pass_context
def status(ctx: click.Context, as_json: bool, **params: Any) -> None:
    """Print the collector's and this machine's exporter's state.

    Exits 0 when the collector is up, 69 when it cannot be reached and 78 when it
    refuses the API key.
    """
    from thinkt.tui import report
    from thinkt.tui.exporterstate import read_exporter

    client = client_factory(ctx, params)()
    try:
        snap = client.snapshot()
    finally:
        client.close()
    state = read_exporter(paths.state_dir())
    if as_json:
        click.echo(json.dumps(report.as_json(snap, state), indent=2))
    else:
        click.echo(report.as_text(snap, state))
    ctx.exit(int(report.exit_status(snap)))
