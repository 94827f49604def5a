"""The writer's telemetry tables: API request events and metric points, as they arrived.

Log events become entries of their sessions (otlp/entries.py, through the commit path);
this module stores what entries do not hold, in the same transaction:

- ``telemetry_requests``: each API request event once per ``(source, request_key)``, with
  the client's own ``cost_usd`` and ``duration_ms``;
- ``metric_points``: what each point added over its interval. A cumulative point is told
  against the last one of its series (``metric_state``; :func:`mapping.advance`), so
  every stored point is a delta whatever temporality the client used, and a resent
  export adds nothing (a delta point is keyed by its series and interval).

:class:`TelemetryLog` caches the series' last cumulative points in memory; the cache
changes only after a commit succeeds (:meth:`TelemetryLog.committed`), so a rolled-back
transaction cannot leave it ahead of the table.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
from datetime import datetime, timezone
from typing import Any, NamedTuple, Sequence

from thinkt.collector.database import naive_utc
from thinkt.collector.otlp.decode import MetricPoint
from thinkt.collector.otlp.mapping import Cumulative, advance, series_key, to_series
from thinkt.collector.otlp.records import ApiRequest
from thinkt.collector.rollup import TOKEN_FIELDS

log = logging.getLogger(__name__)

#: Series whose last cumulative point is kept in memory (the table keeps every one).
CACHE_SIZE = 50_000

_REQUEST_COLUMNS = ("source", "request_key", "session_id", "timestamp", "person", "model",
                    *TOKEN_FIELDS, "cost_usd", "duration_ms", "transcript_id", "received_at")
_REQUEST_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMP", "VARCHAR", "VARCHAR",
                  *("BIGINT",) * len(TOKEN_FIELDS), "DOUBLE", "DOUBLE", "VARCHAR", "TIMESTAMP")
_POINT_COLUMNS = ("series_id", "start_time", "time", "source", "series", "name", "unit",
                  "kind", "session_id", "person", "model", "value", "count", "attrs",
                  "received_at")
_POINT_TYPES = ("VARCHAR", "TIMESTAMP", "TIMESTAMP", "VARCHAR", "VARCHAR", "VARCHAR",
                "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "DOUBLE", "BIGINT",
                "VARCHAR", "TIMESTAMP")


class Stored(NamedTuple):
    """What one export added in its transaction: API request events and metric points."""

    requests: int
    points: int


class Pending(NamedTuple):
    """The series states a transaction wrote, for the cache once it commits."""

    states: dict[str, Cumulative]


class TelemetryLog:
    """The writer's state for the telemetry tables: the series' last cumulative points."""

    def __init__(self) -> None:
        self._states: collections.OrderedDict[str, Cumulative] = collections.OrderedDict()

    def store(self, con: Any, exports: Sequence[Any]) -> tuple[list[Stored], Pending]:
        """Insert each export's API requests and its points' intervals, within the caller's
        transaction; ``exports`` are :class:`~thinkt.collector.channel.TelemetryBatch`
        values, told in order (a later point of a series against an earlier one).

        One statement per table for the whole commit: an ``INSERT ... ON CONFLICT ...
        RETURNING`` costs the writer 6-13 ms whatever its size, so one per export made
        the writer five times slower per record than ``/v1/traces`` (bench/otlp.py).
        """
        requests: dict[tuple[str, str], tuple[int, tuple]] = {}
        points: dict[tuple, tuple[int, tuple]] = {}
        written: dict[str, Cumulative] = {}
        for index, export in enumerate(exports):
            for request in export.requests:
                # The first copy in the commit is the one that may go in.
                requests.setdefault((request.source, request.request_key),
                                    (index, _request_row(request, export.received_at)))
            for row in self._point_rows(con, export.points, export.received_at, written):
                points.setdefault(row[:3], (index, row))
        new_requests = _insert(con, "telemetry_requests", _REQUEST_COLUMNS, _REQUEST_TYPES,
                               [row for _, row in requests.values()],
                               "ON CONFLICT DO NOTHING", returning="source, request_key")
        new_points = _insert(con, "metric_points", _POINT_COLUMNS, _POINT_TYPES,
                             [row for _, row in points.values()],
                             "ON CONFLICT DO NOTHING", returning='series_id, start_time, "time"')
        if written:
            _save_states(con, written)
        request_counts = collections.Counter(requests[key][0] for key in new_requests)
        point_counts = collections.Counter(points[key][0] for key in new_points)
        stored = [Stored(request_counts[i], point_counts[i]) for i in range(len(exports))]
        return stored, Pending(written)

    def _point_rows(self, con: Any, points: Sequence[MetricPoint], received_at: datetime,
                    written: dict[str, Cumulative]) -> list[tuple]:
        """The rows of what ``points`` add; ``written``: states this transaction has made so
        far (they win over the cache and the table), updated with this export's."""
        if not points:
            return []
        states = self._load(con, points, written)
        rows: list[tuple] = []
        for point in points:
            key = series_key(point)
            interval, state = advance(states.get(key), point)
            if state is not None and state != states.get(key):
                states[key] = written[key] = state
            for fed in to_series(point, interval):
                rows.append(_point_row(fed, key, received_at))
        return rows

    def committed(self, pending: Pending) -> None:
        """Remember the states a committed transaction wrote (the oldest fall out)."""
        for key, state in pending.states.items():
            self._states[key] = state
            self._states.move_to_end(key)
        while len(self._states) > CACHE_SIZE:
            self._states.popitem(last=False)

    def _load(self, con: Any, points: Sequence[MetricPoint],
              written: dict[str, Cumulative]) -> dict[str, Cumulative]:
        """The last point of each cumulative series of ``points``: this transaction's, else
        the cache's, else the table's."""
        keys = {series_key(p) for p in points if p.temporality == "cumulative"}
        states = {key: written[key] for key in keys if key in written}
        states.update((key, self._states[key]) for key in keys - states.keys()
                      if key in self._states)
        missing = sorted(keys - states.keys())
        if missing:
            for key, start, time, value, count in con.execute(
                    'SELECT series_key, start_time, "time", value, count FROM metric_state '
                    "WHERE series_key IN (SELECT unnest($keys))", {"keys": missing}).fetchall():
                states[key] = Cumulative(_utc(start), _utc(time), value, count)
        return states


def _utc(moment: datetime | None) -> datetime | None:
    """A stored (naive UTC) time as the aware UTC time decode gives, so they compare."""
    return None if moment is None else moment.replace(tzinfo=timezone.utc)


def _series_id(key: str) -> str:
    """A short fixed-size id of a series (its key is the whole identity, often long)."""
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _point_row(fed: Any, key: str, received_at: datetime) -> tuple:
    time = naive_utc(fed.time) or naive_utc(received_at)
    start = naive_utc(fed.start_time) or time
    # A split metric feeds several of our series from one point: each its own row.
    series_id = _series_id(f"{key}\x00{fed.series or ''}")
    return (series_id, start, time, fed.source, fed.series, fed.name, fed.unit, fed.kind,
            fed.session_id, fed.user, fed.model,
            None if fed.value is None else float(fed.value), fed.count,
            json.dumps(fed.attrs, ensure_ascii=False, default=repr, sort_keys=True),
            naive_utc(received_at))


def _request_row(r: ApiRequest, received_at: datetime) -> tuple:
    return (r.source, r.request_key, r.session_id, naive_utc(r.time), r.user, r.model,
            r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens,
            r.reasoning_tokens, r.cost_usd, r.duration_ms, r.transcript_id,
            naive_utc(received_at))


def _save_states(con: Any, states: dict[str, Cumulative]) -> None:
    rows = [(key, naive_utc(s.start_time), naive_utc(s.time),
             None if s.value is None else float(s.value), s.count) for key, s in states.items()]
    _insert(con, "metric_state", ("series_key", "start_time", "time", "value", "count"),
            ("VARCHAR", "TIMESTAMP", "TIMESTAMP", "DOUBLE", "BIGINT"), rows,
            "ON CONFLICT DO UPDATE SET start_time = excluded.start_time, "
            '"time" = excluded."time", value = excluded.value, count = excluded.count')


def _insert(con: Any, table: str, names: Sequence[str], types: Sequence[str],
            rows: list[tuple], conflict: str, returning: str | None = None) -> set[tuple]:
    """Insert ``rows`` (tuples in ``names`` order) as typed columns; return the
    ``returning`` columns of the rows that went in (an empty set without ``returning``).

    Each column travels as one list parameter, unnested with its SQL type, so NULLs and
    64-bit counts arrive as they are, without a row-by-row ``executemany``.
    """
    if not rows:
        return set()
    columns = list(zip(*rows))
    params = {f"c{i}": list(values) for i, values in enumerate(columns)}
    select = ", ".join(f"unnest($c{i}::{kind}[]) AS \"{name}\""
                       for i, (name, kind) in enumerate(zip(names, types)))
    quoted = ", ".join(f'"{name}"' for name in names)
    tail = f" RETURNING {returning}" if returning else ""
    found = con.execute(f"INSERT INTO {table} ({quoted}) SELECT {select} {conflict}{tail}",
                        params)
    return set(found.fetchall()) if returning else set()
