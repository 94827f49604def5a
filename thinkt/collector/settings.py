"""The collector's resolved settings, as one immutable object passed to every part."""

from __future__ import annotations

import dataclasses
import os
import ssl
from datetime import datetime

from thinkt import paths
from thinkt.collector.auth import Grant, grant
from thinkt.collector.pricing import Price
from thinkt.status import ConfigError

#: Largest request body, after gzip decompression (CONTRACT.md §1).
MAX_BODY = 10 * 1024 * 1024


def default_workers() -> int:
    """Return the default number of sync workers: 16 per core.

    A worker spends most of a request waiting for the writer's commit, not on the CPU,
    and a commit holds what the waiting workers brought. With about twice a group's
    worth of workers, the next group is read and validated while the writer commits
    this one (bench/ingest.py, 2 cores, 32 connections: 16 workers reached 0.38-0.39 of
    a plain DuckDB insert, 32 workers 0.41-0.45). Each worker holds about 30 MB of its
    own: 32 workers take about 1 GB; ``--workers`` trades that against throughput.
    """
    return 16 * (os.cpu_count() or 1)


@dataclasses.dataclass(frozen=True)
class CollectorSettings:
    """Everything the collector's processes need to know, resolved once at start."""

    host: str = "localhost"
    port: int = 4318
    storage: str = ""
    #: Accepted tokens with their roles (a plain string given here has every role).
    tokens: tuple[Grant, ...] = ()
    tls_cert: str | None = None
    tls_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    workers: int = 2
    queue_size: int = 256
    commit_timeout: float = 30.0
    request_timeout: float = 60.0
    agent_retention: float = 7 * 86400.0
    #: Days to keep entries (by their own time); 0 keeps everything.
    retention_days: int = 0
    #: Days to keep per source (``[collector.retention]``), over ``retention_days``.
    retention: dict[str, int] = dataclasses.field(default_factory=dict)
    #: Where the writer archives each closed day as Parquet every night; None: it does not.
    archive_dir: str | None = None
    memory_limit: int = 1024**3
    behind_proxy: bool = False  # the operator says a buffering proxy is the only way in
    quiet: bool = False
    log: str | None = None
    max_body: int = MAX_BODY
    started_at: datetime | None = None
    #: Signs the web pages' session cookies (auth.load_secret); empty: pages need no sign-in.
    web_secret: bytes = dataclasses.field(default=b"", repr=False)
    #: Negotiated USD prices by model name (``[collector.prices]``), over the price table's.
    prices: dict[str, Price] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", tuple(grant(t) for t in self.tokens))

    @property
    def auth_required(self) -> bool:
        """True when clients must present a bearer token."""
        return bool(self.tokens)

    @property
    def scheme(self) -> str:
        """``https`` when the collector serves TLS, else ``http``."""
        return "https" if self.tls_cert else "http"


def default_storage() -> str:
    """Return the default database path: collector.duckdb in the state directory."""
    return str(paths.state_dir() / "collector.duckdb")


class _Passphrase(Exception):
    """The key asked for a passphrase (raised by the password callback instead of a prompt)."""


def _ask_nobody() -> bytes:
    # Without a callback OpenSSL would prompt on the terminal, and a worker would hang.
    raise _Passphrase


def check_tls(cert: str | None, key: str | None) -> tuple[str, str] | None:
    """Return the absolute (certificate, key) paths of a pair that loads, or None for no TLS.

    Every worker loads the pair again for each connection (gunicorn's sync worker), so
    a pair that does not load here would fail every request later instead.

    :raises ConfigError: only one of the two is set, a file is missing or unreadable,
        the certificate is not PEM, the key is not a PEM key without a passphrase, or
        the key does not belong to the certificate.
    """
    if not cert and not key:
        return None
    if not cert or not key:
        given, missing = ("key", "cert") if key else ("cert", "key")
        raise ConfigError(f"--tls-{given} is set but --tls-{missing} is not: HTTPS needs both",
                          hint=f"Set --tls-{missing} too (THINKT_TLS_{missing.upper()}, or "
                               f"tls_{missing} in [collector]), or neither to serve plain "
                               "HTTP.")
    cert, key = (os.path.abspath(os.path.expanduser(p)) for p in (cert, key))
    for path, what in ((cert, "TLS certificate"), (key, "TLS key")):
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise ConfigError(f"cannot read {what} {path}: {exc.strerror}",
                              hint="Check the path, and that this service's user may read it "
                                   "(under systemd: LoadCredential=, see the unit file)."
                              ) from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_verify_locations(cafile=cert)
    except ssl.SSLError:
        raise ConfigError(f"TLS certificate {cert} holds no PEM certificate",
                          hint="Give --tls-cert the file that starts with "
                               "-----BEGIN CERTIFICATE-----.") from None
    try:
        context.load_cert_chain(cert, key, password=_ask_nobody)
    except _Passphrase:
        raise ConfigError(f"TLS key {key} is protected by a passphrase, which nobody can type "
                          "in for a service",
                          hint=f"Remove it: (umask 077; openssl pkey -in {key} -out "
                               "key-plain.pem), and keep that file readable by this service "
                               "only.") from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ConfigError(f"TLS key {key} does not belong to the certificate {cert}",
                              hint="Give --tls-key the key the certificate was made for.") from None
        why = f" (OpenSSL: {exc.reason})" if exc.reason else ""
        raise ConfigError(f"TLS key {key} holds no usable PEM private key{why}",
                          hint="Give --tls-key the file that starts with -----BEGIN PRIVATE "
                               "KEY----- (or BEGIN EC/RSA PRIVATE KEY).") from None
    return cert, key
