"""The store's own costs: ingest rows/s per group size (and executemany), search latency at N.

Everything is measured in one run on this machine, with its baselines: a naive
``executemany`` insert of the same rows, and for search the same query without
the trigram sketch (a full scan of the lower-cased text) and with ``ILIKE`` over
the original text. Entries are synthetic but shaped like real ones: ~800 bytes
of Zipf-distributed pseudo-words, the four roles, tokens and message ids on
assistant entries, tool names, ~100 entries per session.

    python bench/store.py [--entries 1000000] [--db PATH] [--repeat 15]

``--db`` keeps (or reuses) the large database, which takes a few minutes to build;
ingest at N runs on a copy of it, so N stays N.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from thinkt.collector import sketch, store  # noqa: E402

T0 = datetime(2026, 2, 1)
MODELS = ("claude-opus-4-6", "claude-sonnet-4-5", "gpt-5.3-codex", "gemini-2.5-pro")
TOOLS = ("Bash", "Read", "Edit", "Grep", "WebFetch", "TodoWrite")
RARE = "xyzzyquux"  # injected into one entry in RARE_EVERY
RARE_EVERY = 10_000
COMMON = "error"  # a vocabulary word at Zipf rank COMMON_RANK
COMMON_RANK = 100
WORDS_PER_ENTRY = 118  # ~800 bytes with the vocabulary below
ENTRIES_PER_REQUEST = 100  # what an exporter sends per POST
SESSION_LENGTH = 100


class Corpus:
    """A deterministic stream of realistic, unique entries, cut into requests."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = np.random.default_rng(seed)
        syllables = np.array([c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] +
                             ["th", "st", "ing", "er", "ion", "_", "/", ".py", "()", "x"])
        vocab = {"".join(self.rng.choice(syllables, size=self.rng.integers(1, 5)))
                 for _ in range(40_000)}
        vocab.discard(COMMON)
        words = sorted(vocab)
        self.rng.shuffle(words)
        words.insert(COMMON_RANK, COMMON)
        self.words = np.array(words, dtype=object)
        weights = 1.0 / np.arange(1, len(words) + 1) ** 1.07
        self.cumulative = np.cumsum(weights / weights.sum())
        self.serial = 0

    def texts(self, count: int) -> list[str]:
        picks = np.searchsorted(self.cumulative, self.rng.random((count, WORDS_PER_ENTRY)))
        picks = np.minimum(picks, len(self.words) - 1)
        texts = [" ".join(row) for row in self.words[picks]]
        for i in range(count):
            if (self.serial + i) % RARE_EVERY == RARE_EVERY // 2:
                texts[i] = texts[i][:300] + " XyzzyQuux " + texts[i][300:]
        return texts

    def requests(self, rows: int, *, prefix: str = "e") -> list[store.IngestRequest]:
        """Return ``rows`` new entries as 100-entry requests of consecutive sessions."""
        texts = self.texts(rows)
        requests = []
        for start in range(0, rows, ENTRIES_PER_REQUEST):
            entries = []
            for offset in range(start, min(rows, start + ENTRIES_PER_REQUEST)):
                n = self.serial + offset
                role = ("user", "assistant", "assistant", "tool_use", "tool_result")[n % 5]
                tokens = role == "assistant"
                entries.append((
                    f"{prefix}-{n}", role, T0 + timedelta(seconds=n), MODELS[n % 4] if tokens
                    else None, texts[offset], TOOLS[n % 6] if role == "tool_use" else None,
                    False, n % 7 == 0, role == "tool_use", 1200 if tokens else 0,
                    (n % 900) if tokens else 0, 0, 30_000 if tokens else 0, 0, 0,
                    f"msg-{prefix}-{n - n % 5}" if tokens else None, None, f"{prefix}-{n - 1}",
                    "main", "/home/dev/project", False, 0))
            n = self.serial + start
            requests.append(store.IngestRequest(
                "claude", f"{prefix}-session-{n // SESSION_LENGTH}", f"/home/dev/p{n % 50}",
                f"agent-{n % 8}", None, None, T0 + timedelta(seconds=n), entries))
        self.serial += rows
        return requests


def groups(requests: list[store.IngestRequest], rows_per_call: int) -> Iterator[list]:
    per_call = max(1, rows_per_call // ENTRIES_PER_REQUEST)
    for start in range(0, len(requests), per_call):
        yield requests[start:start + per_call]


def rate(con, calls: list[list[store.IngestRequest]]) -> float:
    """Return rows/s of ``store.ingest`` over ``calls`` (one call per group)."""
    rows = sum(len(r.entries) for call in calls for r in call)
    started = time.perf_counter()
    for call in calls:
        store.ingest(con, call)
    return rows / (time.perf_counter() - started)


def executemany_rate(con, requests: list[store.IngestRequest]) -> float:
    """Return rows/s of the naive way: executemany of the entry fields, one transaction per call."""
    con.execute("CREATE TABLE IF NOT EXISTS naive AS SELECT * EXCLUDE (text_lower, "
                f"{', '.join(sketch.COLUMNS)}) FROM collected_entries LIMIT 0")
    columns = ("session_id", "seq", "source", "received_at") + store.ENTRY_FIELDS
    sql = (f"INSERT INTO naive ({', '.join(chr(34) + c + chr(34) for c in columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    rows = [(r.session_id, 0, r.source, r.received_at, *e) for r in requests for e in r.entries]
    started = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    con.executemany(sql, rows)
    con.execute("COMMIT")
    return len(rows) / (time.perf_counter() - started)


@contextmanager
def fresh_database(folder: str, name: str):
    """Open ``folder/name`` (new or copied there), and delete it afterwards."""
    path = os.path.join(folder, name)
    con = store.open_database(path)
    try:
        yield con
    finally:
        con.close()
        for leftover in (path, path + ".wal"):
            if os.path.exists(leftover):
                os.remove(leftover)


def bench_ingest(folder: str, corpus: Corpus) -> list[tuple]:
    """Return table rows (case, rows per call, rows/s) on fresh databases."""
    table = []
    for per_call, total in ((100, 20_000), (1000, 40_000), (10_000, 60_000)):
        with fresh_database(folder, f"ingest-{per_call}.duckdb") as con:
            store.ingest(con, corpus.requests(1000, prefix="warm"))
            calls = list(groups(corpus.requests(total), per_call))
            table.append(("store.ingest, fresh database", per_call, rate(con, calls)))
            if per_call == 1000:
                table.append(("store.ingest, all duplicates", per_call, rate(con, calls)))
                naive = corpus.requests(2000, prefix="naive")
                table.append(("executemany baseline (no dedup, no sketch)", per_call,
                              executemany_rate(con, naive)))
    return table


def bench_ingest_at(con, corpus: Corpus, sustained: int) -> list[tuple]:
    """Return table rows for a database that already holds N entries.

    Each group size is measured right after a checkpoint (so between checkpoints);
    then ``sustained`` rows at 10,000 per call, paying DuckDB's automatic checkpoints
    (one per CHECKPOINT_THRESHOLD of WAL) as a long-running writer does.
    """
    table = []
    store.ingest(con, corpus.requests(1000, prefix="warm"))  # first use after open
    for per_call, total in ((100, 20_000), (1000, 40_000), (10_000, 60_000)):
        con.execute("CHECKPOINT")
        calls = list(groups(corpus.requests(total, prefix=f"more{per_call}"), per_call))
        table.append(("store.ingest, database at N entries", per_call, rate(con, calls)))
    con.execute("CHECKPOINT")
    calls = list(groups(corpus.requests(sustained, prefix="sustained"), 10_000))
    table.append((f"  same, {sustained:,} rows with auto checkpoints", 10_000, rate(con, calls)))
    con.execute("CHECKPOINT")
    return table


def build(path: str, corpus: Corpus, entries: int) -> tuple:
    con = store.open_database(path)
    have = con.execute("SELECT count(*) FROM collected_entries").fetchone()[0]
    started, added = time.perf_counter(), 0
    while have + added < entries:
        chunk = min(10_000, entries - have - added)
        store.ingest(con, corpus.requests(chunk, prefix="big"))
        added += chunk
        if added % 100_000 == 0:
            print(f"  built {have + added:,} entries", file=sys.stderr, flush=True)
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    return con, (added / seconds if added else None)


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def ilike_hits(cur, q: str) -> list:
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return cur.execute("SELECT session_id, count(*) FROM collected_entries WHERE text ILIKE ? "
                       "ESCAPE '\\' OR tool_name ILIKE ? ESCAPE '\\' GROUP BY session_id",
                       [pattern, pattern]).fetchall()


def search_without_sketch(cur, q: str) -> list:
    """Run store.search with no sketch bits: the same query, reading every entry's text."""
    real = sketch.required_bits
    sketch.required_bits = lambda needle, limit: []
    try:
        return store.search(cur, q, 50)
    finally:
        sketch.required_bits = real


def bench_search(con, repeat: int, state: str, baselines: bool = True) -> list[tuple]:
    """Return table rows: (term, matching entries, variant, threads, p50 ms, p99 ms).

    The variants take turns within each round, so a neighbour's load on this shared
    machine falls on all of them alike; the slow baselines run every fifth round.
    """
    cur = con.cursor()
    variants = (("store.search, " + state, lambda q: store.search(cur, q, 50), 1),
                ("no sketch: contains(text_lower)", lambda q: search_without_sketch(cur, q), 5),
                ("naive: text ILIKE", lambda q: ilike_hits(cur, q), 5))[:3 if baselines else 1]
    table = []
    for term in (RARE, COMMON):
        matches = cur.execute("SELECT count(*) FROM collected_entries "
                              "WHERE contains(text_lower, ?)", [term]).fetchone()[0]
        for threads in (1, 2):
            con.execute(f"SET threads = {threads}")
            samples: dict[str, list[float]] = {name: [] for name, _, _ in variants}
            for name, run, _ in variants:
                run(term)  # warm the buffer pool
            for round_ in range(repeat):
                for name, run, every in variants:
                    if round_ % every == 0:
                        started = time.perf_counter()
                        run(term)
                        samples[name].append((time.perf_counter() - started) * 1000)
            for name, _, _ in variants:
                table.append((term, matches, name, threads, *percentiles(samples[name])))
    con.execute("SET threads = 1")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000,
                        help="Entries in the database searched (default 1,000,000).")
    parser.add_argument("--db", help="Keep the large database here (reused if it exists).")
    parser.add_argument("--repeat", type=int, default=15, help="Timed runs per search.")
    parser.add_argument("--sustained", type=int, default=330_000,
                        help="Rows ingested at N to include automatic checkpoints.")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="thinkt-bench-store-")
    try:
        corpus = Corpus()
        print(f"ingest ({os.cpu_count()} cores, DuckDB threads=1)")
        print(f"{'case':44} {'rows/call':>9} {'rows/s':>9}")
        for case, per_call, value in bench_ingest(folder, corpus):
            print(f"{case:44} {per_call:>9} {value:>9,.0f}")
        path = args.db or os.path.join(folder, "big.duckdb")
        con, build_rate = build(path, Corpus(seed=2), args.entries)
        try:
            count = con.execute("SELECT count(*) FROM collected_entries").fetchone()[0]
            searches = bench_search(con, args.repeat, "in the writer that ingested N")
        finally:
            con.close()
        # DuckDB reads rows it wrote in the same process slower than rows it loaded from
        # the file: a collector that restarted searches the older data faster.
        con = store.open_database(path)
        try:
            searches += bench_search(con, args.repeat, "after reopening", baselines=False)
        finally:
            con.close()
        size = os.path.getsize(path)
        if build_rate:
            print(f"{'building, 10000 rows/call, 0 -> N':44} {10000:>9} {build_rate:>9,.0f}")
        scratch = os.path.join(folder, "at-n.duckdb")  # keep the N-entry database as it was
        shutil.copyfile(path, scratch)
        with fresh_database(folder, "at-n.duckdb") as con:
            for case, per_call, value in bench_ingest_at(con, Corpus(seed=3), args.sustained):
                print(f"{case:44} {per_call:>9} {value:>9,.0f}")
        print(f"\nsearch at N = {count:,} entries ({size / 1e6:,.0f} MB on disk), limit 50")
        print(f"{'term':10} {'matches':>8} {'variant':44} {'threads':>7} {'p50 ms':>8} "
              f"{'p99 ms':>8}")
        for term, matches, variant, threads, p50, p99 in searches:
            print(f"{term:10} {matches:>8,} {variant:44} {threads:>7} {p50:>8.1f} {p99:>8.1f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
