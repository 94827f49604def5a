"""Sustained load on a real collector: 32 clients for minutes, memory sampled over time.

Each client loops: POST a batch of new entries (resent after Retry-After when the answer
is 503), and every tenth request a query (search, stats, usage, sessions). The collector's
RSS, summed over its whole process group (arbiter, writer, workers), is sampled every
``--every`` seconds and printed as a table over time with the first sample as the
baseline: a flat column means bounded memory. At the end every request must have had an
answer, and the store must hold exactly the entries acknowledged (identity-level:
``total_traces`` equals the distinct uuids that got a 200).

    python bench/load.py [--clients 32] [--minutes 3] [--workers 8] [--batch 50]
                         [--memory-limit 256MB]

``--memory-limit`` is passed to ``thinkt collect`` (the cap on the writer's DuckDB
cache); without it the collector's default applies. The summary gives the writer's RSS
and that of the rest of the group (workers, arbiter, multiprocessing's resource
tracker) from start to end.

Not run in CI (it takes minutes and both cores).
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import Collector, group_pids  # noqa: E402

log = logging.getLogger(__name__)

WORDS = ("refactor the writer so every batch commits once and search stays fast under "
         "load while workers wait for the queue tokens model session").split()
QUERIES = ("/v1/traces/search?q=writer&limit=20", "/v1/traces/stats",
           "/v1/usage?group_by=model", "/v1/sessions?limit=20")


#: In the writer's command line: it is the one process started with multiprocessing's spawn.
WRITER_MARK = b"spawn_main"


def process_rss(pgid: int) -> tuple[int, int]:
    """VmRSS of a process group as (writer, every other live process) in bytes.

    The writer (whose DuckDB buffer cache grows with the database) is found by its
    command line; the rest are gunicorn's arbiter and workers and the resource tracker.
    """
    writer = others = 0
    for pid in group_pids(pgid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            rss = next(int(line.split()[1]) * 1024
                       for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                       if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue  # a worker that just exited
        if WRITER_MARK in cmdline:
            writer += rss
        else:
            others += rss
    return writer, others


class Tally:
    """Counters shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: Counter = Counter()
        self.unanswered = 0
        self.acked_entries = 0
        self.requests = 0
        self.latencies: list[float] = []

    def record(self, status: int | None, seconds: float, acked: int = 0) -> None:
        with self.lock:
            self.requests += 1
            if status is None:
                self.unanswered += 1
            else:
                self.status[status] += 1
                self.latencies.append(seconds)
            self.acked_entries += acked


def call(port: int, method: str, path: str, body: bytes | None = None,
         timeout: float = 120.0) -> tuple[int | None, dict, bytes]:
    """One request on a fresh connection (gunicorn's sync workers close after each)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    except (OSError, http.client.HTTPException):
        return None, {}, b""
    finally:
        conn.close()


def batch(client: int, number: int, size: int, rng: random.Random) -> bytes:
    entries = []
    for i in range(size):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 120)))
        entries.append({"uuid": f"c{client}-b{number}-{i}", "role": ("user", "assistant")[i % 2],
                        "text": text, "timestamp": "2026-03-01T10:00:00Z",
                        "model": "claude-sonnet-4-5", "input_tokens": rng.randint(1, 900),
                        "output_tokens": rng.randint(1, 300)})
    return json.dumps({"source": "claude", "session_id": f"load-{client}-{number // 20}",
                       "instance_id": f"load-agent-{client}", "entries": entries}).encode()


def client_loop(port: int, client: int, size: int, stop_at: float, tally: Tally) -> None:
    rng = random.Random(client)
    number = 0
    while time.monotonic() < stop_at:
        if number % 10 == 9:
            started = time.monotonic()
            status, _, _ = call(port, "GET", rng.choice(QUERIES))
            tally.record(status, time.monotonic() - started)
        payload = batch(client, number, size, rng)
        for _attempt in range(60):  # bounded: a batch is given up after a minute of 503s
            started = time.monotonic()
            status, headers, _ = call(port, "POST", "/v1/traces", payload)
            tally.record(status, time.monotonic() - started, size if status == 200 else 0)
            if status != 503:
                break
            time.sleep(min(5.0, float(headers.get("Retry-After", "1"))))
        number += 1


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--batch", type=int, default=50, help="entries per POST")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="passed to thinkt collect (default: the collector's own)")
    args = parser.parse_args()

    extra = ["--memory-limit", args.memory_limit] if args.memory_limit else []
    with tempfile.TemporaryDirectory(prefix="thinkt-load-") as tmp:
        live = Collector(Path(tmp) / "collector.duckdb", Path(tmp) / "collector.log",
                         *extra, workers=args.workers)
        live.start()
        try:
            return run(live, args)
        finally:
            live.stop()


def run(live: Collector, args: argparse.Namespace) -> int:
    tally = Tally()
    pgid = live.proc.pid
    started = time.monotonic()
    stop_at = started + args.minutes * 60
    threads = [threading.Thread(target=client_loop, daemon=True,
                                args=(live.port, c, args.batch, stop_at, tally))
               for c in range(args.clients)]
    first = process_rss(pgid)
    for thread in threads:
        thread.start()
    print(f"{args.clients} clients, {args.minutes:g} min, {args.workers} workers, "
          f"batches of {args.batch}, memory limit {args.memory_limit or 'collector default'}; "
          f"RSS = sum over the collector's process group")
    print(f"{'t (s)':>6} {'RSS MiB':>8} {'vs base':>8} {'writer':>7} {'others':>7} "
          f"{'DB MiB':>7} {'requests':>9} {'req/s':>7} {'entries':>9} {'503':>5} "
          f"{'unanswered':>10}")
    baseline = sum(first)
    print(f"{0:>6} {baseline / 2**20:>8.1f} {'(base)':>8} {first[0] / 2**20:>7.1f} "
          f"{first[1] / 2**20:>7.1f} {'':>7} {0:>9} {'':>7} {0:>9} {0:>5} {0:>10}")
    samples = [first]
    last_requests, last_time = 0, started
    while any(thread.is_alive() for thread in threads):
        time.sleep(min(args.every, max(0.1, stop_at + 130 - time.monotonic())))
        if time.monotonic() > stop_at + 130:
            break  # bounded: clients give up on a batch after at most two minutes
        now, sizes = time.monotonic(), process_rss(pgid)
        rss = sum(sizes)
        samples.append(sizes)
        db_size = json.loads(call(live.port, "GET", "/v1/traces/stats")[2] or b"{}").get(
            "db_size_bytes", 0)
        with tally.lock:
            requests, entries, busy = tally.requests, tally.acked_entries, tally.status[503]
            unanswered = tally.unanswered
        rate = (requests - last_requests) / (now - last_time)
        last_requests, last_time = requests, now
        print(f"{now - started:>6.0f} {rss / 2**20:>8.1f} {(rss - baseline) / 2**20:>+8.1f} "
              f"{sizes[0] / 2**20:>7.1f} {sizes[1] / 2**20:>7.1f} {db_size / 2**20:>7.1f} "
              f"{requests:>9} {rate:>7.1f} {entries:>9} {busy:>5} {unanswered:>10}", flush=True)
    for thread in threads:
        thread.join(timeout=1)

    stats = json.loads(call(live.port, "GET", "/v1/traces/stats")[2] or b"{}")
    print()
    print(f"requests {tally.requests}, answered by status {dict(sorted(tally.status.items()))}, "
          f"unanswered {tally.unanswered}")
    print(f"latency p50 {percentile(tally.latencies, 0.5) * 1000:.0f} ms, "
          f"p99 {percentile(tally.latencies, 0.99) * 1000:.0f} ms")
    print(f"entries acknowledged {tally.acked_entries}, stored {stats.get('total_traces')}, "
          f"database {stats.get('db_size_bytes', 0) / 2**20:.1f} MiB")
    for name, index in (("writer", 0), ("workers+arbiter", 1)):
        series = [sample[index] / 2**20 for sample in samples]
        half = series[len(series) // 2:]
        print(f"{name} RSS MiB: start {series[0]:.1f} -> end {series[-1]:.1f}, "
              f"peak {max(series):.1f}, second half {min(half):.1f}..{max(half):.1f}")
    ok = (tally.unanswered == 0 and 500 not in tally.status
          and stats.get("total_traces") == tally.acked_entries)
    print("OK" if ok else "FAILED: see the counts above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
