"""Who this exporter is: a stable instance id per machine and user, a hashed machine id,
and the person its sessions belong to (the wire's ``user``)."""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import socket
import subprocess
import uuid
from pathlib import Path

from thinkt.exporter.state.atomicfile import write_atomic
from thinkt.status import ConfigError

log = logging.getLogger(__name__)

INSTANCE_FILE = "instance-id"
_MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
# uuid5 namespace for instance ids: the same machine and user always derive the same id.
_NAMESPACE = uuid.UUID("6f0d4f4e-2b7a-5c9e-9d55-1b7c1c0e7a11")
#: Longest person the collector takes (its limit on the wire's ``user``).
MAX_USER = 512
#: How long ``git config`` may take: a slow home directory must not hold up the start.
GIT_TIMEOUT = 2.0


def machine_id(files: tuple[str, ...] = _MACHINE_ID_FILES) -> str | None:
    """Return this machine's id, hashed for thinkt (machine-id(5) asks apps not to expose it)."""
    for name in files:
        try:
            raw = Path(name).read_text().strip()
        except OSError:
            continue
        if raw:
            return hashlib.sha256(b"thinkt:" + raw.encode()).hexdigest()[:32]
    return None


def instance_id(state_dir: Path, machine: str | None = None) -> str:
    """Return the exporter's instance id, creating and persisting it on first use.

    Derived from the machine id and the user, so that a wiped state directory (or a
    cron run next to the systemd service, with another state directory) keeps the
    same identity; persisted so that it survives a changed machine id.
    """
    path = state_dir / INSTANCE_FILE
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    user = f"{os.getuid()}:{_user_name()}"
    if machine:
        value = str(uuid.uuid5(_NAMESPACE, f"{machine}/{user}"))
    else:
        value = str(uuid.uuid4())
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, (value + "\n").encode())
    log.info("new exporter instance id %s", value)
    return value


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def person(configured: str | None, home: Path | None = None) -> str:
    """Return who this exporter's sessions belong to: ``configured`` (``--user``,
    ``THINKT_USER``, the config file), else git's ``user.email``, else ``login@hostname``.

    :raises ConfigError: ``configured`` is longer than the collector takes.
    """
    value = (configured or "").strip()
    if len(value) > MAX_USER:
        raise ConfigError(f"the user is {len(value)} characters long; the collector takes "
                          f"at most {MAX_USER}", hint="Set a shorter --user or THINKT_USER.")
    if value:
        return value
    email = git_email(home)
    if email:
        return email
    login = _user_name()
    return f"{login}@{socket.gethostname()}" if login else socket.gethostname()


def git_email(cwd: Path | None = None, timeout: float = GIT_TIMEOUT) -> str | None:
    """Return ``git config --get user.email`` run in ``cwd``; None without git or an email.

    Run in the home directory by the caller, so the repository a one-shot export happens
    to start in does not lend its own email to every session of the machine.
    """
    try:
        done = subprocess.run(["git", "config", "--get", "user.email"], cwd=cwd,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                              encoding="utf-8", errors="replace", check=False)
    except (OSError, subprocess.SubprocessError) as exc:  # no git, no cwd, too slow
        log.debug("no user.email from git: %s", exc)
        return None
    email = done.stdout.strip() if done.returncode == 0 else ""
    return email if 0 < len(email) <= MAX_USER else None
