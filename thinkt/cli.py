"""The ``thinkt`` command line: a click group whose commands load on demand.

Each command lives with the code it drives (``thinkt.collector.command``,
``thinkt.exporter.command``, ...) and is imported only when run, so that an exporter
laptop without Flask or DuckDB can still run ``thinkt export``, and ``thinkt --help``
stays fast. Errors meant for the user become one ``Error: ...`` line and an exit
status from :class:`thinkt.status.ExitStatus`.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any, NoReturn

import click

from thinkt import __version__
from thinkt.status import ExitStatus, ThinktError

log = logging.getLogger(__name__)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# command name -> "module:attribute" of its click command
COMMANDS = {
    "admin": "thinkt.tui.admin:admin",
    "collect": "thinkt.collector.command:collect",
    "config": "thinkt.config_cli:config",
    "export": "thinkt.exporter.command:export",
    "status": "thinkt.tui.command:status",
    "tui": "thinkt.tui.command:tui",
}


class LazyGroup(click.Group):
    """A group that imports each subcommand's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            return load_command(COMMANDS[name])
        return super().get_command(ctx, name)


#: The extra each command's packages come in.
EXTRA_OF_COMMAND = {"admin": "tui", "collect": "collector", "export": "exporter", "status": "tui", "tui": "tui",
                    "thinkt-collector": "collector", "thinkt-exporter": "exporter"}
#: Packages that come with an extra, not with thinkt itself, and the extras that bring them.
EXTRAS_OF_PACKAGE = {
    "requests": ("exporter", "tui"), "inotify_simple": ("exporter",), "ijson": ("exporter",),
    "flask": ("collector",), "flask_cors": ("collector",), "gunicorn": ("collector",),
    "marshmallow": ("collector",), "duckdb": ("collector",), "numpy": ("collector",),
    "textual": ("tui",), "prometheus_client": ("metrics",),
}


def missing_package(exc: ImportError, command: str | None) -> ThinktError | None:
    """Say which extra brings a package a command needs, or None if it is not an extra's."""
    package = (exc.name or "").partition(".")[0]
    extras = EXTRAS_OF_PACKAGE.get(package)
    if extras is None:
        return None
    wanted = EXTRA_OF_COMMAND.get(command or "")
    extra = wanted if wanted in extras else extras[0]
    return ThinktError(f"this command needs a package that is not installed ({package})",
                       hint=f"Install it with: pip install 'thinkt[{extra}]'",
                       status=ExitStatus.UNAVAILABLE)


def load_command(spec: str) -> click.Command:
    """Import ``module:attribute`` and return the click command it names."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = next((name for name in ("collector", "exporter", "tui")
                      if f".{name}" in module_name), "all")
        raise ThinktError(
            f"this command needs a package that is not installed ({exc.name})",
            hint=f"Install it with: pip install 'thinkt[{extra}]'",
            status=ExitStatus.UNAVAILABLE,
        ) from None
    return getattr(module, attr)


def _command_name(args: list[str], prog_name: str | None) -> str | None:
    """The subcommand being run (``export``), or the program (``thinkt-exporter``)."""
    if prog_name != "thinkt":
        return prog_name
    return next((arg for arg in args if arg in COMMANDS), None)


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="thinkt")
def cli() -> None:
    """Collect what your team's AI coding assistants did into one searchable store.

    Run `thinkt collect` on a server, and `thinkt export` (or `thinkt-exporter`)
    on each developer machine.
    """


def run(command: click.Command, args: list[str] | None = None, prog_name: str | None = None,
        ) -> NoReturn:
    """Run a click command, turning user-facing errors into one line and an exit status."""
    argv = args if args is not None else sys.argv[1:]
    traceback = "--traceback" in argv
    try:
        try:
            rv: Any = command.main(args=args, prog_name=prog_name, standalone_mode=False)
        except ImportError as exc:
            # A package an extra brings, imported where it is first needed (requests for
            # `thinkt export` on a collector-only install): one line, not a traceback.
            error = missing_package(exc, _command_name(argv, prog_name))
            if error is None or traceback:
                raise
            raise error from None
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(ExitStatus.ERROR)
    except ThinktError as exc:
        if traceback:
            raise
        click.echo(f"Error: {exc.message.rstrip('.')}.", err=True)
        if exc.hint:
            click.echo(exc.hint, err=True)
        sys.exit(int(exc.status))
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(int(rv) if isinstance(rv, int) else 0)


def main() -> NoReturn:
    """Entry point of ``thinkt``."""
    run(cli, prog_name="thinkt")


def collector_main() -> NoReturn:
    """Entry point of ``thinkt-collector`` (the same command as ``thinkt collect``)."""
    run(load_command(COMMANDS["collect"]), prog_name="thinkt-collector")


def exporter_main() -> NoReturn:
    """Entry point of ``thinkt-exporter`` (the exporter in forward mode)."""
    run(load_command("thinkt.exporter.command:exporter"), prog_name="thinkt-exporter")
