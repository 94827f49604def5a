"""Ingest throughput of a real collector, next to the writer's own insert rate.

K concurrent clients post 100-entry batches (unique ids, ~800 bytes of text each) to a
real ``thinkt collect`` on loopback; the table shows entries/s and request latency,
and, measured in the same run on the same entries, the raw rate of the store's insert
path with no HTTP, workers or queue (``store.ingest`` called directly, in groups the
size the writer sees under that load). Then search latency over HTTP on a database
filled to ``--search-entries`` entries.

    python bench/ingest.py [--clients 8] [--seconds 20] [--search-entries 1000000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import Collector  # noqa: E402
from thinkt.collector import store  # noqa: E402
from thinkt.collector.schemas import load_entries  # noqa: E402

WORDS = ("the quick brown fox jumps over lazy dog refactor function test module import "
         "error value return class python duckdb query index writer worker batch commit "
         "session token model claude codex gemini copilot request response").split()
MODELS = ("claude-opus-4-6", "claude-sonnet-4-5", "gpt-5.3-codex", "gemini-2.5-pro")


def make_entries(prefix: str, n: int, rng: random.Random) -> list[dict]:
    """Return ``n`` realistic entries with unique uuids under ``prefix``."""
    base = datetime(2026, 2, 1)
    items = []
    for i in range(n):
        role = ("user", "assistant", "tool_use", "tool_result")[i % 4]
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 220)))
        entry = {"uuid": f"{prefix}-{i}", "role": role, "text": text,
                 "timestamp": (base + timedelta(seconds=i)).isoformat() + "Z"}
        if role == "assistant":
            entry.update(model=rng.choice(MODELS), input_tokens=rng.randint(1, 5000),
                         output_tokens=rng.randint(1, 2000), cache_read_tokens=rng.randint(0, 90000),
                         message_id=f"msg-{prefix}-{i}")
        elif role == "tool_use":
            entry.update(tool_name=rng.choice(("Bash", "Read", "Edit")), has_tool_use=True)
        items.append(entry)
    return items


def body(session: str, items: list[dict]) -> bytes:
    return json.dumps({"source": "claude", "session_id": session, "entries": items,
                       "project_path": "/home/dev/project"}).encode()


def run_clients(url_port: int, clients: int, seconds: float, rng: random.Random):
    """Post pre-encoded batches from ``clients`` threads for ``seconds``; return stats."""
    latencies: list[float] = []
    counts = [0] * clients
    failures = [0] * clients
    # Pre-encode every body so the client side costs as little CPU as possible.
    per_client = max(20, int(seconds * 15))
    bodies = [[body(f"bench-{c}-{b // 50}", make_entries(f"c{c}b{b}", 100, rng))
               for b in range(per_client)] for c in range(clients)]
    stop_at = time.monotonic() + seconds

    def worker(c: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=60)
        mine = []
        for payload in bodies[c]:
            if time.monotonic() >= stop_at:
                break
            started = time.perf_counter()
            conn.request("POST", "/v1/traces", payload, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status == 200:
                counts[c] += 100
            else:
                failures[c] += 1
        latencies.extend(mine)
        conn.close()

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return sum(counts), sum(failures), elapsed, latencies, bodies


def raw_store_rate(bodies: list[list[bytes]], group_rows: int, workdir: Path) -> float:
    """Insert the same entries through store.ingest directly; return rows/s."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = store.open_database(str(workdir / "raw.duckdb"))
    requests = []
    for client_bodies in bodies:
        for payload in client_bodies:
            data = json.loads(payload)
            rows, _ = load_entries(data["entries"])
            requests.append(store.IngestRequest(data["source"], data["session_id"],
                                                data["project_path"], None, None, None,
                                                datetime(2026, 2, 2), rows))
    per_group = max(1, group_rows // 100)
    started = time.perf_counter()
    total = 0
    for i in range(0, len(requests), per_group):
        group = requests[i:i + per_group]
        store.ingest(db, group)
        total += sum(len(r.entries) for r in group)
    elapsed = time.perf_counter() - started
    db.close()
    return total / elapsed


def fill_for_search(path: Path, n: int, rng: random.Random) -> None:
    db = store.open_database(str(path))
    made = 0
    while made < n:
        chunk = []
        for s in range(10):
            items = make_entries(f"f{made}-{s}", 1000, rng)
            rows, _ = load_entries(items)
            chunk.append(store.IngestRequest("claude", f"fill-{made}-{s}", "/p/x", None, None,
                                             None, datetime(2026, 2, 2), rows))
        store.ingest(db, chunk)
        made += 10_000
    db.execute("CHECKPOINT")
    db.close()


def search_latency(collector: Collector, terms: list[str], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {t: [] for t in terms}
    for _ in range(rounds):
        for term in terms:
            started = time.perf_counter()
            response = collector.get("/v1/traces/search", params={"q": term, "limit": 50})
            assert response.status_code == 200, response.text
            times[term].append(time.perf_counter() - started)
    return times


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--search-entries", type=int, default=1_000_000)
    parser.add_argument("--search-rounds", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    workdir = Path(tempfile.mkdtemp(prefix="thinkt-bench-"))
    try:
        extra = ["--workers", str(args.workers)] if args.workers else []
        collector = Collector(workdir / "c.duckdb", workdir / "c.log", *extra).start()
        try:
            done, failed, elapsed, latencies, bodies = run_clients(collector.port, args.clients,
                                                                   args.seconds, rng)
            largest = collector.get("/v1/traces/stats").json()
        finally:
            collector.stop()
        e2e = done / elapsed
        # The writer's own insert path, fed groups of the size it really committed.
        mean_group = 100 * largest["requests_committed"] / max(1, largest["commits"])
        raw = raw_store_rate(bodies, group_rows=int(mean_group), workdir=workdir)
        raw_large = raw_store_rate(bodies, group_rows=10_000, workdir=workdir / "large")
        print(f"\ningest: {args.clients} clients x 100-entry batches, {elapsed:.1f}s, "
              f"{os.cpu_count()} cores")
        print(f"{'measure':<44}{'value':>14}")
        print(f"{'end-to-end entries/s (HTTP, validation, commit)':<44}{e2e:>14,.0f}")
        print(f"{'raw store.ingest, groups the writer saw':<44}{raw:>14,.0f}")
        print(f"{'ratio end-to-end / raw':<44}{e2e / raw:>14.1%}")
        print(f"{'raw store.ingest, 10,000-entry groups':<44}{raw_large:>14,.0f}")
        print(f"{'ratio end-to-end / raw at 10,000':<44}{e2e / raw_large:>14.1%}")
        print(f"{'request latency p50 (ms)':<44}{pct(latencies, 0.5):>14.1f}")
        print(f"{'request latency p99 (ms)':<44}{pct(latencies, 0.99):>14.1f}")
        print(f"{'failed requests':<44}{failed:>14}")
        print(f"{'mean entries per writer commit':<44}{mean_group:>14,.0f}")
        print(f"{'entries stored':<44}{largest['total_traces']:>14,}")

        if args.search_entries:
            db = workdir / "search.duckdb"
            started = time.perf_counter()
            fill_for_search(db, args.search_entries, rng)
            fill_time = time.perf_counter() - started
            searcher = Collector(db, workdir / "s.log").start()
            try:
                times = search_latency(searcher, ["zebra-not-there", "refactor", "DuckDB Query"],
                                       args.search_rounds)
            finally:
                searcher.stop()
            print(f"\nsearch over HTTP at {args.search_entries:,} entries "
                  f"(filled in {fill_time:.0f}s), {args.search_rounds} rounds")
            print(f"{'term':<24}{'p50 ms':>10}{'p99 ms':>10}")
            for term, values in times.items():
                print(f"{term:<24}{pct(values, 0.5):>10.1f}{pct(values, 0.99):>10.1f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
