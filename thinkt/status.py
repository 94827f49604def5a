"""Process exit statuses (sysexits values), shared by every thinkt command."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Why a thinkt command exited; systemd units key restarts off these."""

    OK = 0
    ERROR = 1
    USAGE = 2
    UNAVAILABLE = 69  # EX_UNAVAILABLE: the collector (or a service we need) is not there
    SOFTWARE = 70  # EX_SOFTWARE: an internal error
    CANTCREAT = 73  # EX_CANTCREAT: a state file or database cannot be created
    TEMPFAIL = 75  # EX_TEMPFAIL: try again later (lock held, buffer full)
    CONFIG = 78  # EX_CONFIG: bad configuration; restarting will not help


class ThinktError(Exception):
    """An error meant for the user: one sentence, an optional hint, an exit status."""

    status: ExitStatus = ExitStatus.ERROR

    def __init__(self, message: str, hint: str | None = None, status: ExitStatus | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if status is not None:
            self.status = status


class ConfigError(ThinktError):
    """A setting has a value we cannot use."""

    status = ExitStatus.CONFIG


class StartupError(ThinktError):
    """A service could not start (database locked, port in use, ...)."""

    status = ExitStatus.UNAVAILABLE
