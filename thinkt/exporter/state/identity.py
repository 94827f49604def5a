"""Who this exporter is: a stable instance id per machine and user, and a hashed machine id."""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import uuid
from pathlib import Path

from thinkt.exporter.state.atomicfile import write_atomic

log = logging.getLogger(__name__)

INSTANCE_FILE = "instance-id"
_MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
# uuid5 namespace for instance ids: the same machine and user always derive the same id.
_NAMESPACE = uuid.UUID("6f0d4f4e-2b7a-5c9e-9d55-1b7c1c0e7a11")


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
