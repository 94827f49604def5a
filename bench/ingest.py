"""Durable ingest of a real collector over HTTP, next to a plain DuckDB insert of the same rows.

K concurrent connections (default 32, as a team's exporters) post 100-entry batches of
~500-byte entries (unique ids) to a real ``thinkt collect`` on loopback, each request
answered 200 only after its commit. The baseline, measured in the same run on the same
entries: a plain DuckDB table with the entry columns and the same
``PRIMARY KEY (session_id, uuid)``, filled by a columnar ``INSERT OR IGNORE ... SELECT``
of 1,000 rows per transaction (the rows already validated and laid out as columns: no
HTTP, no validation, no search columns, no rollup). ``ratio`` = end-to-end entries/s ÷
baseline rows/s. Also shown: the writer's own path (``EntryLog.ingest`` plus the
rollup refresh) fed groups of the size it really committed under that load.

    python bench/ingest.py [--clients 32] [--seconds 20] [--workers N] [--runs 1]
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import Collector  # noqa: E402
from thinkt.collector import database, ingest, rollup  # noqa: E402
from thinkt.collector.channel import IngestRequest  # noqa: E402
from thinkt.collector.schemas import ENTRY_COUNTS, ENTRY_FIELDS, ENTRY_FLAGS  # noqa: E402
from thinkt.collector.schemas import load_entries  # noqa: E402
from thinkt.collector.settings import default_workers  # noqa: E402

WORDS = ("the quick brown fox jumps over lazy dog refactor function test module import "
         "error value return class python duckdb query index writer worker batch commit "
         "session token model claude codex gemini copilot request response").split()
MODELS = ("claude-opus-4-6", "claude-sonnet-4-5", "gpt-5.3-codex", "gemini-2.5-pro")
BASELINE_ROWS_PER_TXN = 1_000
RECEIVED = datetime(2026, 2, 2)


def make_entries(prefix: str, n: int, rng: random.Random) -> list[dict]:
    """Return ``n`` entries (~500 bytes of text each) with unique uuids under ``prefix``."""
    base = datetime(2026, 2, 1)
    items = []
    for i in range(n):
        role = ("user", "assistant", "tool_use", "tool_result")[i % 4]
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(50, 100)))
        entry = {"uuid": f"{prefix}-{i}", "role": role, "text": text,
                 "timestamp": (base + timedelta(seconds=i)).isoformat() + "Z"}
        if role == "assistant":
            entry.update(model=rng.choice(MODELS), input_tokens=rng.randint(1, 5000),
                         output_tokens=rng.randint(1, 2000),
                         cache_read_tokens=rng.randint(0, 90000), message_id=f"msg-{prefix}-{i}")
        elif role == "tool_use":
            entry.update(tool_name=rng.choice(("Bash", "Read", "Edit")), has_tool_use=True)
        items.append(entry)
    return items


def body(session: str, items: list[dict]) -> bytes:
    return json.dumps({"source": "claude", "session_id": session, "entries": items,
                       "project_path": "/home/dev/project", "instance_id": "bench-agent",
                       "user": "dev@example.com"}).encode()


def make_bodies(clients: int, per_client: int, rng: random.Random) -> list[list[bytes]]:
    return [[body(f"bench-{c}-{b // 50}", make_entries(f"c{c}b{b}", 100, rng))
             for b in range(per_client)] for c in range(clients)]


def run_clients(port: int, bodies: list[list[bytes]], seconds: float):
    """Post the pre-encoded batches, one connection per client, for ``seconds``."""
    latencies: list[float] = []
    counts = [0] * len(bodies)
    sent: list[list[bytes]] = [[] for _ in bodies]
    failures = [0] * len(bodies)
    stop_at = time.monotonic() + seconds

    def worker(c: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for payload in bodies[c]:
            if time.monotonic() >= stop_at:
                break
            started = time.perf_counter()
            conn.request("POST", "/v1/traces", payload, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            sent[c].append(payload)
            if response.status == 200:
                counts[c] += 100
            else:
                failures[c] += 1
        latencies.extend(mine)
        conn.close()

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(len(bodies))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return sum(counts), sum(failures), elapsed, latencies, sent


def requests_of(bodies: list[list[bytes]]) -> list[IngestRequest]:
    requests = []
    for client_bodies in bodies:
        for payload in client_bodies:
            data = json.loads(payload)
            rows, _ = load_entries(data["entries"])
            requests.append(IngestRequest(data["source"], data["session_id"],
                                          data["project_path"], data["instance_id"], None, None,
                                          RECEIVED, rows, person=data["user"]))
    return requests


def plain_insert_rate(requests: list[IngestRequest], workdir: Path) -> float:
    """The baseline: rows/s of a columnar INSERT OR IGNORE of the same rows, 1,000 per txn."""
    workdir.mkdir(parents=True, exist_ok=True)
    con = database.duckdb.connect(str(workdir / "plain.duckdb"))
    # The collector's own settings: one thread, and its checkpoint threshold (DuckDB's
    # default of 16 MB re-writes the growing key index every few thousand rows).
    con.execute("SET threads = 1")
    con.execute(f"SET checkpoint_threshold = '{database.CHECKPOINT_THRESHOLD}'")
    types = {name: ("BIGINT" if name in ENTRY_COUNTS else "BOOLEAN" if name in ENTRY_FLAGS
                    else "TIMESTAMP" if name == "timestamp" else "VARCHAR")
             for name in ENTRY_FIELDS}
    columns = ", ".join(f'"{name}" {kind}' for name, kind in types.items())
    con.execute(f"CREATE TABLE entries (session_id VARCHAR NOT NULL, source VARCHAR NOT NULL, "
                f"received_at TIMESTAMP NOT NULL, {columns}, PRIMARY KEY (session_id, uuid))")
    frames = []
    rows = [(r.session_id, r.source, r.received_at, *entry) for r in requests for entry in r.entries]
    names = ["session_id", "source", "received_at", *ENTRY_FIELDS]
    for start in range(0, len(rows), BASELINE_ROWS_PER_TXN):
        chunk = list(zip(*rows[start:start + BASELINE_ROWS_PER_TXN]))
        frame = {}
        for name, values in zip(names, chunk):
            if name in ENTRY_COUNTS:
                frame[name] = np.array(values, dtype=np.int64)
            elif name in ENTRY_FLAGS:
                frame[name] = np.array(values, dtype=bool)
            elif name in ("timestamp", "received_at"):
                frame[name] = np.array(values, dtype="datetime64[us]")
            else:
                frame[name] = np.array(values, dtype=object)
        frames.append(frame)
    started = time.perf_counter()
    for frame in frames:  # noqa: B007  (scanned by name)
        con.execute("BEGIN")
        con.execute("INSERT OR IGNORE INTO entries SELECT * FROM frame")
        con.execute("COMMIT")
    elapsed = time.perf_counter() - started
    con.close()
    return len(rows) / elapsed


def writer_path_rate(requests: list[IngestRequest], group_rows: int, workdir: Path) -> float:
    """Rows/s of the writer's own work (commit path + rollup refresh each second's worth)."""
    workdir.mkdir(parents=True, exist_ok=True)
    con = database.open_database(str(workdir / "writer.duckdb"))
    log = ingest.EntryLog(con)
    folded = rollup.Rollup(con, lambda: log.last_seq)
    per_group = max(1, group_rows // 100)
    started = time.perf_counter()
    total = 0
    for i in range(0, len(requests), per_group):
        group = requests[i:i + per_group]
        log.ingest(con, group)
        total += sum(len(r.entries) for r in group)
        if folded.due():
            folded.refresh(con)
    folded.refresh(con)
    elapsed = time.perf_counter() - started
    con.close()
    return total / elapsed


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(7)
    workdir = Path(tempfile.mkdtemp(prefix="thinkt-bench-"))
    try:
        results = []
        for run in range(args.runs):
            # More than the collector can take in ``seconds`` (posting stops at the time).
            per_client = max(20, int(args.seconds * 40_000 / 100 / args.clients))
            bodies = make_bodies(args.clients, per_client, rng)
            here = workdir / f"run{run}"
            here.mkdir()
            collector = Collector(here / "c.duckdb", here / "c.log",
                                  workers=args.workers).start()
            try:
                done, failed, elapsed, latencies, sent = run_clients(collector.port, bodies,
                                                                     args.seconds)
                stats = collector.get("/v1/traces/stats").json()
            finally:
                collector.stop()
            requests = requests_of(sent)  # the same rows the collector stored
            # Let the kernel finish writing the collector's file back first, so that the
            # baseline never pays for the collector's I/O.
            os.sync()
            plain = plain_insert_rate(requests, here / "plain")
            mean_group = 100 * stats["requests_committed"] / max(1, stats["commits"])
            own = writer_path_rate(requests, int(mean_group), here / "writer")
            results.append({"e2e": done / elapsed, "plain": plain, "own": own,
                            "group": mean_group, "p50": pct(latencies, 0.5),
                            "p99": pct(latencies, 0.99), "failed": failed,
                            "stored": stats["total_traces"], "sent": done})
        print(f"\ningest: {args.clients} connections x 100-entry batches (~500 B entries), "
              f"{args.workers} workers, {args.seconds:.0f}s per run, {os.cpu_count()} cores")
        header = (f"{'run':>4}{'e2e entries/s':>15}{'plain insert rows/s':>21}{'ratio':>8}"
                  f"{'writer path rows/s':>20}{'rows/commit':>13}{'p50 ms':>9}{'p99 ms':>9}"
                  f"{'failed':>8}{'stored=sent':>13}")
        print(header)
        for number, r in enumerate(results, 1):
            print(f"{number:>4}{r['e2e']:>15,.0f}{r['plain']:>21,.0f}{r['e2e'] / r['plain']:>8.2f}"
                  f"{r['own']:>20,.0f}{r['group']:>13,.0f}{r['p50']:>9.1f}{r['p99']:>9.1f}"
                  f"{r['failed']:>8}{str(r['stored'] == r['sent']):>13}")
        if len(results) > 1:
            ratios = [r["e2e"] / r["plain"] for r in results]
            print(f"median ratio {statistics.median(ratios):.2f} "
                  f"(baseline: plain columnar INSERT OR IGNORE, {BASELINE_ROWS_PER_TXN:,} rows/txn)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
