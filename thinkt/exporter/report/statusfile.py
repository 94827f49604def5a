"""The exporter's status file: ``exporter-status.json`` in the state directory.

Rewritten atomically every few seconds by a running exporter (and once at the end
of a one-shot run) for the ``thinkt`` status pages. Keys (all always present):

- ``pid``, ``mode`` (``forward``, ``once``, ``flush``), ``version``, ``instance_id``,
  ``started_at``, ``updated_at`` (RFC 3339 UTC), ``running`` (false once it exited);
- ``collector``: ``url`` (null: buffer only), ``found_by`` (the discovery step),
  ``status`` (``connected``, ``unreachable``, ``refused``, ``unknown``, ``none``),
  ``last_error``;
- ``watch``: ``mode`` (``inotify``, ``polling`` or ``none``), ``roots`` (``source=DIR``
  strings), ``directories`` (how many are watched), ``files`` (session files known);
- ``buffer``: ``dir``, ``files``, ``bytes``, ``max_bytes``, ``full``, ``rejected``
  (payloads in ``rejected/``);
- ``counts``: ``entries_read``, ``entries_shipped``, ``duplicates``,
  ``payloads_shipped``, ``payloads_buffered``, ``payloads_failed`` (transient failures),
  ``payloads_rejected``, ``entries_rejected``, ``redactions`` (secrets masked per
  redaction rule, e.g. ``{"aws_access_key": 2}``; empty with ``--no-redact``);
- ``redaction``: what happens to entry text before it leaves the machine: ``on``
  (secrets masked, counted in ``counts.redactions``), ``off`` (``--no-redact``: text
  shipped as it is) or ``metadata-only`` (``--metadata-only``: no text shipped); see
  :func:`redaction_mode`. A file written before this key existed lacks it;
- ``last_ship_at`` (RFC 3339 or null), ``lag_bytes`` (bytes of session files not yet
  shipped or buffered), ``paused`` (why reading is paused, or null).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from thinkt.exporter.state.atomicfile import write_atomic

log = logging.getLogger(__name__)

STATUS_FILE = "exporter-status.json"

#: The values of the ``redaction`` key.
REDACTION_ON = "on"
REDACTION_OFF = "off"
METADATA_ONLY = "metadata-only"


def redaction_mode(redacting: bool, metadata_only: bool) -> str:
    """The ``redaction`` value for an exporter that masks secrets or not, ships text or not."""
    # Without text there is nothing to mask: that matters more than whether a redactor exists.
    if metadata_only:
        return METADATA_ONLY
    return REDACTION_ON if redacting else REDACTION_OFF


def rfc3339(timestamp: float | None) -> str | None:
    """Format a Unix time as RFC 3339 UTC (seconds), or None."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def write_status(state_dir: Path, status: dict[str, Any]) -> None:
    """Replace the status file with ``status``; a failure is logged, never raised."""
    try:
        write_atomic(state_dir / STATUS_FILE, json.dumps(status, indent=1).encode())
    except OSError as exc:
        log.warning("cannot write the status file in %s: %s", state_dir, exc.strerror)


def read_status(state_dir: Path) -> dict[str, Any] | None:
    """Return the last status written in ``state_dir``, or None."""
    try:
        return json.loads((state_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
