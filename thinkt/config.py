"""The settings table, and the one precedence chain: flags > ``THINKT_*`` env > file > defaults.

Every setting of every command is declared once here. The table makes the click
options (so ``--help`` is generated from it), names the environment variable, and
says how to read the value from the TOML config file. click itself applies the
precedence: a flag beats its ``envvar``, which beats ``ctx.default_map`` (filled from
the config file by the eager ``--config`` option), which beats the default.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import click

from thinkt.status import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib


class ByteSize(click.ParamType):
    """A size such as ``100MB``, ``512k`` or ``1048576`` (bytes)."""

    name = "size"
    _units = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
              "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3}

    def convert(self, value: Any, param, ctx) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
        if not match or match.group(2).lower() not in self._units:
            self.fail(f"{value!r} is not a size (try 100MB, 512k or a number of bytes).", param, ctx)
        return int(float(match.group(1)) * self._units[match.group(2).lower()])


class Duration(click.ParamType):
    """A duration such as ``30s``, ``5m``, ``7d`` or a number of seconds."""

    name = "duration"
    _units = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

    def convert(self, value: Any, param, ctx) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value))
        if not match:
            self.fail(f"{value!r} is not a duration (try 30s, 5m, 7d or seconds).", param, ctx)
        return float(match.group(1)) * self._units[match.group(2)]


BYTE_SIZE = ByteSize()
DURATION = Duration()


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting: its flags, environment variable, config-file key, type and default."""

    name: str
    section: str  # "collector" or "exporter": the config file section and the command
    flags: tuple[str, ...]
    help: str
    default: Any = None
    type: Any = None
    multiple: bool = False
    is_flag: bool = False
    secret: bool = False
    metavar: str | None = None

    @property
    def envvar(self) -> str:
        """The environment variable that sets this setting."""
        return "THINKT_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    # -- collector -------------------------------------------------------------------
    Setting("host", "collector", ("--host",), "Address to listen on.", "localhost"),
    Setting("port", "collector", ("--port", "-p"), "TCP port to listen on.", 4318,
            click.IntRange(0, 65535)),
    Setting("storage", "collector", ("--storage",),
            "DuckDB database file (default: collector.duckdb in the state directory, "
            "~/.thinkt or $STATE_DIRECTORY).", None, click.Path(dir_okay=False), metavar="PATH"),
    Setting("token", "collector", ("--token",),
            "Bearer token clients must send; repeat the flag to accept several (rotation).",
            (), multiple=True, secret=True, metavar="TOKEN"),
    Setting("token_file", "collector", ("--token-file",),
            "File with one accepted bearer token per line, with its roles: TOKEN [ingest] "
            "[read] [admin] [name=NAME] (a bare token has every role; keeps tokens off the "
            "command line).",
            None, click.Path(dir_okay=False), metavar="PATH"),
    Setting("tls_cert", "collector", ("--tls-cert",),
            "Serve HTTPS with this certificate (PEM, the server's first, then its CA chain); "
            "needs --tls-key. Default: plain HTTP.", None, click.Path(dir_okay=False),
            metavar="FILE"),
    Setting("tls_key", "collector", ("--tls-key",),
            "Private key (PEM, without a passphrase) of --tls-cert; readable by this service "
            "only.", None, click.Path(dir_okay=False), metavar="FILE"),
    Setting("workers", "collector", ("--workers", "-w"),
            "Number of gunicorn sync workers (default: 8 x CPU cores, at least 8).",
            None, click.IntRange(1, 256)),
    Setting("queue_size", "collector", ("--queue-size",),
            "Batches that may wait for the writer before ingest answers 503.", 256,
            click.IntRange(1, 100000)),
    Setting("commit_timeout", "collector", ("--commit-timeout",),
            "How long an ingest request waits for its commit before answering 503.", 30.0,
            DURATION),
    Setting("request_timeout", "collector", ("--request-timeout",),
            "Seconds a worker may spend on one request before gunicorn restarts it.", 60.0,
            DURATION),
    Setting("memory_limit", "collector", ("--memory-limit",),
            "Memory the writer's DuckDB may use for its cache (it spills to disk beyond).",
            1024**3, BYTE_SIZE),
    Setting("retention_days", "collector", ("--retention-days",),
            "Remove entries older than this many days (by their own time), with their "
            "figures; 0 keeps everything. Per source: [collector.retention] in the config "
            "file.", 0, click.IntRange(0, 36500), metavar="DAYS"),
    Setting("archive_dir", "collector", ("--archive-dir",),
            "Every night, write the day that just closed as Parquet into this directory on "
            "this machine (as thinkt admin archive does). Default: no nightly archive.",
            None, click.Path(file_okay=False), metavar="DIR"),
    Setting("agent_retention", "collector", ("--agent-retention",),
            "Remove agents that have been stale for longer than this.", 7 * 86400.0, DURATION),
    Setting("allow_unauthenticated", "collector", ("--allow-unauthenticated",),
            "Serve without a token on an address other than loopback (anyone who can reach "
            "it can read and write every trace).", False, is_flag=True),
    Setting("behind_proxy", "collector", ("--behind-proxy",),
            "Say that a buffering proxy on another machine is the only way in, so listening "
            "beyond loopback logs no warning about slow clients.", False, is_flag=True),
    Setting("cors_origin", "collector", ("--cors-origin",),
            "Browser origin allowed to call the API (CORS); repeat for several. "
            "Default: none, and no CORS headers are sent.", (), multiple=True, metavar="ORIGIN"),
    Setting("quiet", "collector", ("--quiet", "-q"), "Only log warnings and errors.", False,
            is_flag=True),
    Setting("log", "collector", ("--log",), "Also write a debug log to this file.", None,
            click.Path(dir_okay=False), metavar="FILE"),
    # -- exporter --------------------------------------------------------------------
    Setting("collector_url", "exporter", ("--collector-url",),
            "Collector to ship to, e.g. http://collector:4318 (/v1/traces is added). Default: "
            "discovered from .thinkt/collector.json, then the well-known document.", None,
            metavar="URL"),
    Setting("api_key", "exporter", ("--api-key",), "Bearer token the collector expects.", None,
            secret=True, metavar="KEY"),
    Setting("api_key_file", "exporter", ("--api-key-file",),
            "File whose first line is the bearer token (keeps it off the command line); "
            "used unless --api-key is set at the same or a higher level.", None,
            click.Path(dir_okay=False), metavar="PATH"),
    Setting("allow_insecure_http", "exporter", ("--allow-insecure-http",),
            "Send the API key over plain http:// to a collector that is not on this machine.",
            False, is_flag=True),
    Setting("ca_cert", "exporter", ("--ca-cert",),
            "CA bundle (PEM) to verify the collector's TLS certificate with, for private CAs.",
            None, click.Path(dir_okay=False), metavar="PATH"),
    Setting("user", "exporter", ("--user",),
            "Who these sessions belong to (an e-mail address or a name, at most 512 "
            "characters), sent with every payload so the collector can show usage per person. "
            "Default: git config user.email, else login@hostname.", None, metavar="NAME"),
    Setting("source", "exporter", ("--source",),
            "Only export this assistant's sessions; repeat for several (claude, codex, gemini, "
            "copilot, kimi, qwen). Default: all.", (), multiple=True, metavar="NAME"),
    Setting("watch_dir", "exporter", ("--watch-dir",),
            "Read this directory instead of the default ones; repeat for several. SOURCE=DIR "
            "names its assistant, a bare DIR is matched by its layout.", (), multiple=True,
            metavar="[SOURCE=]DIR"),
    Setting("buffer_dir", "exporter", ("--buffer-dir",),
            "Where payloads wait while the collector is unreachable (default: export-buffer "
            "in the state directory).", None, click.Path(file_okay=False), metavar="DIR"),
    Setting("buffer_max", "exporter", ("--buffer-max",),
            "Most disk the buffer may use; when it is full, reading pauses (nothing is "
            "dropped).", 100 * 1024 * 1024, BYTE_SIZE),
    Setting("discovery_url", "exporter", ("--discovery-url",),
            "Base URL whose /.well-known/thinkt.json names the collector when nothing else "
            "does; repeat for several.", ("http://localhost:4318",), multiple=True,
            metavar="URL"),
    Setting("concurrency", "exporter", ("--concurrency",),
            "How many payloads are sent to the collector at the same time.", 8,
            click.IntRange(1, 32)),
    Setting("build_workers", "exporter", ("--build-workers",),
            "How many processes help build payloads (mask secrets, encode, compress) when "
            "much is read at once; 0 builds them all in the reading thread. Default: the "
            "CPU cores but two, at most 3.", None, click.IntRange(0, 16)),
    Setting("timeout", "exporter", ("--timeout",),
            "How long to wait for the collector to answer one request.", 30.0, DURATION),
    Setting("poll", "exporter", ("--poll",),
            "Look for changes by polling instead of inotify (network filesystems).", False,
            is_flag=True),
    Setting("poll_interval", "exporter", ("--poll-interval",),
            "How often to look for changes when polling.", 1.0, DURATION),
    Setting("rescan_interval", "exporter", ("--rescan-interval",),
            "How often a running exporter looks at every file anyway (in case an event was "
            "missed).", 60.0, DURATION),
    Setting("heartbeat_interval", "exporter", ("--heartbeat-interval",),
            "How often a running exporter registers again with the collector.", 60.0, DURATION),
    Setting("quiet", "exporter", ("--quiet", "-q"),
            "Print only warnings and errors: no progress, no summary.", False, is_flag=True),
    Setting("log", "exporter", ("--log",), "Also write a debug log to this file.", None,
            click.Path(dir_okay=False), metavar="FILE"),
    # -- exporter: privacy -----------------------------------------------------------
    Setting("no_redact", "exporter", ("--no-redact",),
            "Ship entry text as it is: do not mask secrets (keys, tokens, passwords) first.",
            False, is_flag=True),
    Setting("redact_disable", "exporter", ("--redact-disable",),
            "Turn off one redaction rule; repeat for several (the hand-written ones: "
            "aws_access_key, aws_secret_key, github_token, gitlab_token, slack_token, "
            "slack_webhook, openai_key, anthropic_key, google_api_key, jwt, private_key, "
            "azure_key, url_password, env_secret, keyword_secret; and gitleaks' rules by "
            "their names with _ for -, e.g. stripe_access_token; README lists them).",
            (), multiple=True, metavar="RULE"),
    Setting("redact_extra", "exporter", ("--redact-extra",),
            "An extra redaction rule NAME=REGEX (Python syntax; a group named secret, if any, "
            "is what gets masked); repeat for several.", (), multiple=True,
            metavar="NAME=REGEX"),
    Setting("metadata_only", "exporter", ("--metadata-only",),
            "Ship entries without their text: roles, tools, models, tokens and times only.",
            False, is_flag=True),
)


#: Tables of the config file that are no flag's: each is read as it is and handed to its
#: command in ``ctx.meta["thinkt.tables"]`` (the command checks its content).
FILE_TABLES: dict[str, tuple[str, ...]] = {
    # [collector.prices."<model>"]: negotiated USD prices; [collector.retention]: days
    # to keep per source (retention.codex = 30)
    "collector": ("prices", "retention"),
}


def settings_for(section: str) -> list[Setting]:
    """Return the settings of one section, in table order."""
    return [s for s in SETTINGS if s.section == section]


def find_setting(section: str, name: str) -> Setting | None:
    """Return the setting called ``name`` in ``section``, or None."""
    for setting in SETTINGS:
        if setting.section == section and setting.name == name:
            return setting
    return None


def read_secret_file(path: str, what: str, noun: str) -> list[str]:
    """Return the secrets of a file: one per line, blank lines and ``#`` comments ignored.

    ``what`` names the file and ``noun`` one secret in messages ("token file", "token").

    :raises ConfigError: the file cannot be read or holds no secret.
    """
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    secrets = [line.strip() for line in text.splitlines()
               if line.strip() and not line.lstrip().startswith("#")]
    if not secrets:
        raise ConfigError(f"{what} {path} holds no {noun}")
    return secrets


def default_config_paths(env: Mapping[str, str] | None = None) -> list[Path]:
    """Return the usual config file locations, most specific first."""
    env = os.environ if env is None else env
    paths = []
    if env.get("CONFIGURATION_DIRECTORY"):
        paths.append(Path(env["CONFIGURATION_DIRECTORY"].split(":")[0]) / "config.toml")
    xdg = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"),
                                                       ".config")
    paths.append(Path(xdg) / "thinkt" / "config.toml")
    paths.append(Path("/etc/thinkt/config.toml"))
    return paths


def load_file(path: Path, section: str) -> dict[str, Any]:
    """Read one section of a TOML config file, checking every key and value.

    :raises ConfigError: the file cannot be read, is not TOML, or names an unknown
        key or a value of the wrong type (the message names the key).
    """
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    known_sections = {s.section for s in SETTINGS}
    for key in data:
        if key not in known_sections:
            raise ConfigError(f"config file {path}: unknown section or key {key!r}",
                              hint=f"Sections are: {', '.join(sorted(known_sections))}.")
    values = data.get(section, {})
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path}: [{section}] must be a table")
    result = {}
    for key, value in values.items():
        if key in FILE_TABLES.get(section, ()):
            if not isinstance(value, dict):
                raise ConfigError(f"config file {path}: {section}.{key} must be a table")
            result[key] = value
            continue
        setting = find_setting(section, key)
        if setting is None:
            raise ConfigError(f"config file {path}: unknown key {section}.{key}")
        result[key] = _check_value(path, setting, value)
    return result


def _check_value(path: Path, setting: Setting, value: Any) -> Any:
    """Convert a config-file value with the setting's click type, or name the bad key."""
    if setting.multiple:
        value = list(value) if isinstance(value, (list, tuple)) else [value]
        return [_check_value(path, dataclasses.replace(setting, multiple=False), v) for v in value]
    if setting.is_flag:
        if not isinstance(value, bool):
            raise ConfigError(f"config file {path}: {setting.section}.{setting.name} must be "
                              f"true or false, not {value!r}")
        return value
    param_type = click.types.convert_type(setting.type, setting.default)
    try:
        return param_type.convert(value, None, None)
    except click.BadParameter as exc:
        raise ConfigError(f"config file {path}: {setting.section}.{setting.name}: "
                          f"{exc.format_message()}") from None


def _load_config_callback(section: str) -> Callable:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value:
            path: Path | None = Path(value)
        else:
            path = next((p for p in default_config_paths() if p.is_file()), None)
        if path is not None:
            values = load_file(path, section)
            ctx.meta["thinkt.tables"] = {name: values.pop(name)
                                         for name in FILE_TABLES.get(section, ()) if name in values}
            ctx.default_map = {**(ctx.default_map or {}), **values}
            ctx.meta["thinkt.config_file"] = str(path)
        return str(path) if path else None

    return callback


def config_option(section: str) -> Callable:
    """The eager ``--config`` option that loads the file before other options are read."""
    return click.option(
        "--config",
        "config_file",
        envvar="THINKT_CONFIG",
        type=click.Path(dir_okay=False),
        metavar="PATH",
        is_eager=True,
        expose_value=False,
        callback=_load_config_callback(section),
        help="Config file (TOML). Default: $THINKT_CONFIG, then "
        "~/.config/thinkt/config.toml, then /etc/thinkt/config.toml.",
    )


def options(section: str, names: Iterable[str] | None = None) -> Callable:
    """Decorate a click command with the options of ``section`` (all, or just ``names``)."""
    chosen = settings_for(section)
    if names is not None:
        wanted = set(names)
        chosen = [s for s in chosen if s.name in wanted]

    def decorator(func: Callable) -> Callable:
        for setting in reversed(chosen):
            kwargs: dict[str, Any] = {
                "envvar": setting.envvar,
                "help": setting.help,
                "show_envvar": True,
            }
            if setting.is_flag:
                kwargs["is_flag"] = True
                kwargs["default"] = bool(setting.default)
            else:
                kwargs["type"] = setting.type
                kwargs["multiple"] = setting.multiple
                kwargs["default"] = setting.default
                if setting.metavar:
                    kwargs["metavar"] = setting.metavar
                if setting.default not in (None, (), False) and not setting.secret:
                    kwargs["show_default"] = True
            func = click.option(*setting.flags, setting.name, **kwargs)(func)
        return config_option(section)(func)

    return decorator


def describe(ctx: click.Context, section: str) -> list[tuple[str, Any, str]]:
    """Return ``(name, value, where it came from)`` for each setting, secrets masked."""
    rows = []
    for setting in settings_for(section):
        if setting.name not in ctx.params:
            continue
        value = ctx.params[setting.name]
        source = ctx.get_parameter_source(setting.name)
        where = {
            click.core.ParameterSource.COMMANDLINE: "flag",
            click.core.ParameterSource.ENVIRONMENT: f"env {setting.envvar}",
            click.core.ParameterSource.DEFAULT_MAP: "file " + ctx.meta.get("thinkt.config_file", ""),
            click.core.ParameterSource.DEFAULT: "default",
        }.get(source, "default")
        if setting.secret and value:
            value = ["****"] * len(value) if setting.multiple else "****"
        rows.append((setting.name, value, where))
    return rows
