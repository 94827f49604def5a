"""Logging set-up for thinkt's entry points: stderr always, a debug file on request."""

from __future__ import annotations

import logging
import logging.config
import os


def configure(*, quiet: bool = False, verbose: bool = False, log_file: str | None = None) -> None:
    """Send thinkt's logs to stderr (and, with ``log_file``, everything at debug to a file)."""
    level = "WARNING" if quiet else ("DEBUG" if verbose else "INFO")
    # journald stamps each line itself; a second timestamp is noise there.
    if os.environ.get("JOURNAL_STREAM"):
        fmt = "%(levelname)s %(name)s: %(message)s"
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handlers: dict = {
        "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "level": level},
    }
    if log_file:
        handlers["file"] = {
            "class": "logging.FileHandler",
            "filename": log_file,
            "formatter": "stamped",
            "level": "DEBUG",
        }
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "plain": {"format": fmt},
                "stamped": {"format": "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"},
            },
            "handlers": handlers,
            "loggers": {
                "thinkt": {
                    "level": "DEBUG" if log_file else level,
                    "handlers": list(handlers),
                    "propagate": False,
                },
            },
        }
    )
