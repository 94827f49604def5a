"""Prometheus metrics: what the workers and the writer count, and the ``/metrics`` text.

Needs the ``metrics`` extra (prometheus_client); without it every function here is a
no-op and ``/metrics`` answers 404. Under ``thinkt collect`` the arbiter points
``PROMETHEUS_MULTIPROC_DIR`` at a directory it wipes at start, before any worker or
writer exists, so every process writes its counters to its own memory-mapped file and a
scrape merges them (prometheus_client multiprocess mode). Counting on the ingest path is
one counter increment per request in the worker and a few per commit in the writer.
Gauges that describe the store (size, agents, queue depth) are read from the writer's
``stats`` answer at scrape time, so nothing has to publish them between scrapes.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from thinkt import paths

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Entries per commit: a lone exporter sends tens, a busy collector thousands.
COMMIT_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
#: Seconds per commit, from an idle fsync to a slow disk under load.
COMMIT_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                          2.5, 5.0, 10.0)

_metrics: dict[str, Any] = {}
_registry: Any = None


def available() -> bool:
    """True when prometheus_client is installed (without importing it)."""
    return importlib.util.find_spec("prometheus_client") is not None


def prepare_directory(env: dict[str, str] | None = None) -> tuple[str | None, bool]:
    """Choose, empty and export the multiprocess directory; return ``(path, made_here)``.

    Must run in the arbiter before anything imports prometheus_client. An operator's
    ``$PROMETHEUS_MULTIPROC_DIR`` is kept; else ``$RUNTIME_DIRECTORY/metrics``; else a
    private temporary directory, which ``made_here`` says to remove at exit. Files of
    an earlier run are deleted, or its dead workers' counters would be added to ours.
    """
    env = os.environ if env is None else env
    if not available():
        return None, False
    made_here = False
    if env.get(ENV):
        path = Path(env[ENV])
    elif paths.runtime_dir(env) is not None:
        path = paths.runtime_dir(env) / "metrics"  # type: ignore[operator]
    else:
        path = Path(tempfile.mkdtemp(prefix="thinkt-metrics-"))
        made_here = True
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Only our own files: the operator's directory may hold something else too.
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
    env[ENV] = str(path)
    return str(path), made_here


def remove_directory(path: str | None, made_here: bool) -> None:
    """Remove the multiprocess directory at exit when :func:`prepare_directory` made it."""
    if path and made_here:
        shutil.rmtree(path, ignore_errors=True)


def mark_dead(pid: int) -> None:
    """Tell prometheus_client a worker or writer process has ended (gunicorn child_exit)."""
    if not os.environ.get(ENV) or not available():
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def _multiprocess() -> bool:
    from prometheus_client import values

    return values.ValueClass is not values.MutexValue


def _get() -> dict[str, Any]:
    """Create this process's metric objects on first use (none at import)."""
    global _registry
    if _metrics or not available():
        return _metrics
    from prometheus_client import CollectorRegistry, Counter, Histogram

    # In multiprocess mode the values live in files and a scrape reads those; the
    # objects are registered only for the single-process case (tests, create_app alone).
    registry = None
    if not _multiprocess():
        registry = _registry = CollectorRegistry()
    _metrics["requests"] = Counter(
        "thinkt_http_requests", "HTTP requests answered, by endpoint and status.",
        ["endpoint", "status"], registry=registry)
    _metrics["entries"] = Counter(
        "thinkt_entries", "Entries received in ingest batches, by what became of them "
        "(accepted, duplicate, rejected, unavailable).", ["result"], registry=registry)
    _metrics["commit_entries"] = Histogram(
        "thinkt_commit_entries", "Entries written per group commit.",
        buckets=COMMIT_SIZE_BUCKETS, registry=registry)
    _metrics["commit_seconds"] = Histogram(
        "thinkt_commit_seconds", "Time one group commit took.",
        buckets=COMMIT_SECONDS_BUCKETS, registry=registry)
    return _metrics


def _never_raise(func: Callable[..., None]) -> Callable[..., None]:
    """Recording a metric must never fail a request or stop the writer: log and go on."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except Exception:
            log.exception("recording metrics failed in %s", func.__name__)

    return wrapper


@_never_raise
def count_request(endpoint: str | None, status: int) -> None:
    """Count one answered HTTP request (called after every request in a worker)."""
    metrics = _get()
    if metrics:
        metrics["requests"].labels(endpoint or "unmatched", str(status)).inc()


@_never_raise
def record_commit(results: dict[str, int], rows: int, seconds: float) -> None:
    """Count one group commit in the writer: entries per result, its size and duration.

    ``rows`` is 0 for a commit that failed as a whole (only ``results`` are counted).
    """
    metrics = _get()
    if not metrics:
        return
    for result, count in results.items():
        if count:
            metrics["entries"].labels(result).inc(count)
    if rows:  # a commit that failed wrote nothing: no size, no latency
        metrics["commit_entries"].observe(rows)
        metrics["commit_seconds"].observe(seconds)


def render(stats: dict | None) -> bytes:
    """Return the exposition text: every process's counters plus the store's gauges.

    ``stats`` is the writer's ``stats`` answer, or None when it did not answer (then
    ``thinkt_writer_up`` is 0 and the store gauges are left out).
    """
    from prometheus_client import CollectorRegistry, generate_latest

    _get()
    if _multiprocess():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = _registry
    gauges = CollectorRegistry()
    gauges.register(_StoreGauges(stats))
    return generate_latest(registry) + generate_latest(gauges)


class _StoreGauges:
    """A one-scrape collector that turns the writer's stats into gauges."""

    def __init__(self, stats: dict | None):
        self.stats = stats

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        stats = self.stats
        yield GaugeMetricFamily("thinkt_writer_up", "1 when the writer answered this scrape.",
                                value=1 if stats is not None else 0)
        if stats is None:
            return
        yield GaugeMetricFamily("thinkt_database_size_bytes",
                                "Size of the DuckDB file and its WAL.",
                                value=stats.get("db_size_bytes", 0))
        if stats.get("queue_depth") is not None:
            yield GaugeMetricFamily("thinkt_queue_depth",
                                    "Batches waiting for the writer.", value=stats["queue_depth"])
        agents = GaugeMetricFamily("thinkt_agents", "Registered agents by status.",
                                   labels=["status"])
        active = stats.get("active_agents", 0)
        agents.add_metric(["active"], active)
        agents.add_metric(["stale"], max(0, stats.get("total_agents", 0) - active))
        yield agents
        yield GaugeMetricFamily("thinkt_entries_stored", "Entries in the store.",
                                value=stats.get("total_traces", 0))
