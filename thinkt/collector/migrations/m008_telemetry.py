"""Schema version 8: the assistants' own OpenTelemetry (``POST /v1/logs``, ``/v1/metrics``).

- ``telemetry_sessions``: the sessions told so far only by telemetry. Their entries came
  from log events; when the session's transcript arrives from an exporter, those entries
  are removed and the transcript tells the session (precedence.py), so no API response
  is counted twice.
- ``telemetry_requests``: every API request event as it arrived, keyed by the tool's
  most stable id for it, with what the transcript does not keep: the client's own
  ``cost_usd`` and ``duration_ms``. Kept whichever path tells the session's usage.
- ``metric_points``: what each metric point added over its interval (counters and
  histograms as deltas, whatever temporality the client used; gauges as read), keyed by
  its series and interval so a resent export adds nothing.
- ``metric_state``: the last cumulative point of each series, which the next one is
  told against (mapping.advance).
"""

from __future__ import annotations

from typing import Any

DESCRIPTION = "telemetry sessions, API request events and metric points (OTLP)"

_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
           "reasoning_tokens")

STATEMENTS = (
    """CREATE TABLE telemetry_sessions (
        session_id VARCHAR PRIMARY KEY,
        source VARCHAR NOT NULL,
        first_received_at TIMESTAMP NOT NULL
    )""",
    f"""CREATE TABLE telemetry_requests (
        source VARCHAR NOT NULL,
        request_key VARCHAR NOT NULL,
        session_id VARCHAR,
        "timestamp" TIMESTAMP,
        person VARCHAR,
        model VARCHAR,
        {", ".join(f"{t} BIGINT NOT NULL DEFAULT 0" for t in _TOKENS)},
        cost_usd DOUBLE,
        duration_ms DOUBLE,
        transcript_id VARCHAR,
        received_at TIMESTAMP NOT NULL,
        PRIMARY KEY (source, request_key)
    )""",
    """CREATE TABLE metric_points (
        series_id VARCHAR NOT NULL,
        start_time TIMESTAMP NOT NULL,
        "time" TIMESTAMP NOT NULL,
        source VARCHAR NOT NULL,
        series VARCHAR,
        name VARCHAR NOT NULL,
        unit VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        session_id VARCHAR,
        person VARCHAR,
        model VARCHAR,
        value DOUBLE,
        count BIGINT,
        attrs VARCHAR,
        received_at TIMESTAMP NOT NULL,
        PRIMARY KEY (series_id, start_time, "time")
    )""",
    """CREATE TABLE metric_state (
        series_key VARCHAR PRIMARY KEY,
        start_time TIMESTAMP,
        "time" TIMESTAMP,
        value DOUBLE,
        count BIGINT
    )""",
)


def apply(con: Any) -> None:
    """Create the four tables (empty: nothing of this kind was stored before)."""
    for statement in STATEMENTS:
        con.execute(statement)
