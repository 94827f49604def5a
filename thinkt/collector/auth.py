"""Who may do what: the collector's tokens, their roles and names, and what each endpoint needs.

A token carries roles:

- ``ingest``: what a laptop's exporter needs (``POST /v1/traces``, agent registration,
  and the OpenTelemetry receivers as they come);
- ``read``: every ``GET`` of the API and the web pages;
- ``admin``: what changes or removes stored data (the governance endpoints).

The roles are independent: a token has exactly the ones it names, so a leaked
ingest-only key cannot read the team's transcripts. In a token file a line is
``TOKEN [ROLE ...] [name=NAME]``; a bare token (and every ``--token``) keeps every
role, as tokens always had, so existing deployments go on working. The name lets logs
and audits say which token acted without printing it.

Tokens are compared in constant time against every known token (the time taken says
nothing about which one matched), and a token is never put in a message, a log or a
``repr``. A browser holds, in its signed session cookie, the token's *fingerprint*
(an HMAC under the web secret), never the token: removing the token from the file and
restarting the collector ends those sessions too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import Iterable

from thinkt.status import ConfigError

INGEST, READ, ADMIN = "ingest", "read", "admin"
ROLES = (INGEST, READ, ADMIN)

#: Endpoints a request with the ``ingest`` role may call; every other write is admin's.
INGEST_ENDPOINTS = frozenset({"api.ingest", "api.register_agent", "otlp.logs", "otlp.metrics"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclasses.dataclass(frozen=True)
class Grant:
    """One accepted token, its roles and its name (the token itself never printed)."""

    token: str = dataclasses.field(repr=False)
    roles: frozenset[str] = frozenset(ROLES)
    name: str | None = None

    def allows(self, role: str | None) -> bool:
        """True when this token may do what needs ``role`` (None: nothing needed)."""
        return role is None or role in self.roles

    @property
    def label(self) -> str:
        """What logs and audits call this token: its name, or ``token #<fingerprint>``."""
        if self.name:
            return self.name
        return "token #" + hashlib.sha256(self.token.encode("utf-8")).hexdigest()[:8]


def grant(value: "str | Grant") -> Grant:
    """Return ``value`` as a grant: a plain string is a token with every role."""
    return value if isinstance(value, Grant) else Grant(value)


def parse_line(line: str) -> Grant:
    """Return the grant of one token-file line: ``TOKEN [ROLE ...] [name=NAME]``.

    :raises ValueError: an unknown role, a bad or repeated name (the message never holds
        the token).
    """
    token, *words = line.split()
    roles: set[str] = set()
    name = None
    for number, word in enumerate(words, 2):
        if word.startswith("name="):
            if name is not None:
                raise ValueError("the name is given twice")
            name = word[len("name="):]
            if not _NAME.fullmatch(name):
                raise ValueError(f"name {name[:64]!r} is not a plain word (letters, digits, "
                                 "._@- and at most 64 characters)")
        elif word.lower() in ROLES:
            roles.add(word.lower())
        else:
            # A short word is a misspelt role; anything else may be part of a token
            # with a blank in it, and is not repeated.
            what = repr(word) if re.fullmatch(r"[A-Za-z]{1,16}", word) else f"word {number}"
            raise ValueError(f"{what} is not a role (roles are: {', '.join(ROLES)})")
    return Grant(token, frozenset(roles) if roles else frozenset(ROLES), name)


def read_token_file(path: str) -> list[Grant]:
    """Return the grants of a token file: one per line, blank lines and ``#`` comments ignored.

    :raises ConfigError: the file cannot be read, holds no token, or a line is not
        ``TOKEN [ROLE ...] [name=NAME]`` (the message gives the line's number).
    """
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read token file {path}: {exc.strerror}") from None
    grants = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            grants.append(parse_line(line))
        except ValueError as exc:
            raise ConfigError(f"token file {path}, line {number}: {exc}",
                              hint="A line is: TOKEN [ingest] [read] [admin] [name=NAME]; "
                                   "a bare token has every role.") from None
    if not grants:
        raise ConfigError(f"token file {path} holds no token")
    return grants


def merge(grants: Iterable[Grant]) -> tuple[Grant, ...]:
    """Return ``grants`` with each token once (the first line that names it wins).

    :raises ConfigError: two tokens have the same name (an audit could not tell them apart).
    """
    seen: dict[str, Grant] = {}
    names: set[str] = set()
    for item in grants:
        if item.token in seen:
            continue
        if item.name is not None:
            if item.name in names:
                raise ConfigError(f"two tokens are named {item.name!r}",
                                  hint="Give each token its own name= in the token file.")
            names.add(item.name)
        seen[item.token] = item
    return tuple(seen.values())


def required_role(endpoint: str | None, method: str) -> str | None:
    """Return the role a request needs: ``ingest`` for the write endpoints an exporter
    calls, ``admin`` for the administrator's endpoints (reads of the audit log and jobs
    included) and every other write, ``read`` for other safe methods."""
    if endpoint in INGEST_ENDPOINTS:
        return INGEST
    if endpoint is not None and endpoint.startswith("admin."):
        return ADMIN
    return READ if method.upper() in _SAFE_METHODS else ADMIN


class Keyring:
    """The accepted tokens, found in constant time by the token or by its fingerprint."""

    def __init__(self, grants: Iterable[Grant], secret: bytes = b""):
        self.grants = tuple(grants)
        self._secret = secret
        self._tokens = [g.token.encode("utf-8") for g in self.grants]
        self._prints = [self.fingerprint(g.token).encode("ascii") for g in self.grants]

    def __bool__(self) -> bool:
        return bool(self.grants)

    def find(self, presented: str) -> Grant | None:
        """Return the grant of ``presented``, or None; every token is compared, always."""
        return self._match(presented.encode("utf-8"), self._tokens)

    def find_fingerprint(self, fingerprint: str) -> Grant | None:
        """Return the grant whose :meth:`fingerprint` is ``fingerprint``, or None."""
        return self._match(fingerprint.encode("ascii", "replace"), self._prints)

    def fingerprint(self, token: str) -> str:
        """Return the HMAC of ``token`` under the web secret: what a session cookie holds."""
        return hmac.new(self._secret, token.encode("utf-8"), hashlib.sha256).hexdigest()

    def _match(self, presented: bytes, known: list[bytes]) -> Grant | None:
        found = None
        for item, value in zip(self.grants, known):
            if hmac.compare_digest(presented, value) and found is None:
                found = item
        return found


#: The web secret's file in the state directory: signs the browsers' session cookies.
SECRET_FILE = "web-secret"


def load_secret(directory: str | os.PathLike) -> bytes:
    """Return the web secret kept in ``directory``, making it (mode 0600) on first start.

    A new secret is written to a file of its own and linked into place, which fails if
    the secret exists: two processes starting at once agree on one secret, and none
    ever reads a half-written one.

    :raises ConfigError: the file cannot be made or read, or is too short to be a secret.
    """
    path = Path(directory) / SECRET_FILE
    if not path.exists():
        _make_secret(path)
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the web secret {path}: {exc.strerror}") from None
    if len(secret) < 32:
        raise ConfigError(f"the web secret {path} is too short to sign anything",
                          hint="Delete it: the collector makes a new one on its next start "
                               "(browsers sign in again).")
    return secret


def _make_secret(path: Path) -> None:
    fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_hex(32).encode("ascii") + b"\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(fresh, path)
        except FileExistsError:
            pass  # another process made it first: its secret is the one
    except OSError as exc:
        raise ConfigError(f"cannot make the web secret {path}: {exc.strerror}",
                          hint="The state directory must be writable by the collector.") from None
    finally:
        try:
            os.unlink(fresh)
        except OSError:
            pass
