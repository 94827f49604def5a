"""Search candidates side by side: bytes on disk, insert cost and latency at 1M and 10M entries.

Each candidate is a way to answer ``GET /v1/traces/search`` (literal, case-insensitive
substring of entry text or tool name, or of the session's project path). The same
entries (bench/store.py's Zipf corpus plus a long tail: 2% of entries are 5-50 KB)
go into one database file per candidate with the real ``collected_entries`` shape
(its primary key included) plus that candidate's search columns.

    python bench/search.py [--entries 1000000] [--folder DIR] [--only a,b,...] [--repeat 15]

``--folder`` keeps the databases (reused when they hold ``--entries`` rows): the
10M ones take long to build, so build them once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from thinkt.collector import search  # noqa: E402
from thinkt.collector.migrations import m001_tables  # noqa: E402
from thinkt.collector.queries import SESSION_SUMMARY  # noqa: E402

RARE = "xyzzyquux"  # injected into one entry in RARE_EVERY
RARE_EVERY = 10_000
COMMON = "error"  # a vocabulary word at Zipf rank COMMON_RANK: in ~10% of entries
COMMON_RANK = 100
WORDS_PER_ENTRY = 118  # ~900 bytes with the vocabulary below
LONG_EVERY = 50  # one entry in 50 is a long tool result
LONG_BYTES = (5_000, 50_000)
SESSION_LENGTH = 100
NONE = "qqjjxxzzqq"  # in no entry
BUILD_CHUNK = 50_000
MEMORY_GB = 16  # shared by the stores searched side by side
BUILD_SEED = 1_000_000  # larger stores are copies of this one (see replicate)
TERMS = {"rare": RARE, "common": COMMON, "none": NONE}


def entry_table_ddl(extra: dict[str, str]) -> str:
    """Return CREATE TABLE collected_entries as migrations 1 and 3 leave it, plus ``extra``."""
    ddl = m001_tables.STATEMENTS[0].rstrip().rstrip(")")
    columns = {"text_truncated": "BOOLEAN NOT NULL DEFAULT false",
               "text_bytes": "BIGINT NOT NULL DEFAULT 0", **extra}
    ddl = ddl.replace("PRIMARY KEY (session_id, uuid)",
                      "".join(f"{name} {sql},\n" for name, sql in columns.items())
                      + "PRIMARY KEY (session_id, uuid)")
    return ddl + ")"


class Corpus:
    """Zipf-distributed pseudo-words (as bench/store.py's corpus), deterministic per seed."""

    def __init__(self, seed: int) -> None:
        # The same draws as bench/store.py's corpus, so its stores hold the same words.
        self.rng = np.random.default_rng(seed)
        parts = np.array([c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + [
            "th", "st", "ing", "er", "ion", "_", "/", ".py", "()", "x"])
        vocabulary = set()
        for _ in range(40_000):
            size = self.rng.integers(1, 5)
            vocabulary.add("".join(self.rng.choice(parts, size=size)))
        words = sorted(vocabulary - {COMMON})
        self.rng.shuffle(words)
        words.insert(COMMON_RANK, COMMON)
        self.words = np.array(words, dtype=object)
        zipf = 1.0 / np.arange(1, len(words) + 1) ** 1.07
        self.cumulative = np.cumsum(zipf / zipf.sum())

    def words_of(self, rows: int, words: int) -> np.ndarray:
        picks = np.searchsorted(self.cumulative, self.rng.random((rows, words)))
        return self.words[np.minimum(picks, len(self.words) - 1)]

    def text(self, serial: int) -> str:
        """Return entry ``serial``'s text: a long tool result for one in LONG_EVERY."""
        if serial % LONG_EVERY == LONG_EVERY // 3:
            size = int(self.rng.integers(*LONG_BYTES))
            return " ".join(self.words_of(1, size // 8)[0])
        text = " ".join(self.words_of(1, WORDS_PER_ENTRY)[0])
        if serial % RARE_EVERY == RARE_EVERY // 2:
            text = text[:300] + " XyzzyQuux " + text[300:]
        return text


def chunks(entries: int, start: int = 0) -> Iterator[dict[str, np.ndarray]]:
    """Yield the entries ``start..entries`` as dicts of numpy columns, BUILD_CHUNK at a time."""
    corpus = Corpus(seed=start + 1)
    for first in range(start, entries, BUILD_CHUNK):
        count = min(BUILD_CHUNK, entries - first)
        n = np.arange(first, first + count)
        short = [" ".join(row) for row in corpus.words_of(count, WORDS_PER_ENTRY)]
        texts = [corpus.text(int(i)) if i % LONG_EVERY == LONG_EVERY // 3
                 or i % RARE_EVERY == RARE_EVERY // 2 else short[i - first] for i in n]
        role = np.array(["user", "assistant", "assistant", "tool_use", "tool_result"],
                        dtype=object)[n % 5]
        tools = np.array(["Bash", "Read", "Edit", "Grep", "WebFetch", "TodoWrite"], dtype=object)
        text_array = np.empty(count, dtype=object)
        text_array[:] = texts
        yield {
            "session_id": np.array([f"s{i // SESSION_LENGTH}" for i in n], dtype=object),
            "uuid": np.array([f"u{i}" for i in n], dtype=object),
            "seq": n + 1,
            "source": np.full(count, "claude", dtype=object),
            "instance_id": np.array([f"agent-{i % 8}" for i in n], dtype=object),
            "received_at": np.datetime64("2026-02-01") + n.astype("timedelta64[s]"),
            "role": role,
            "timestamp": np.datetime64("2026-02-01") + n.astype("timedelta64[s]"),
            "model": np.where(role == "assistant", "claude-opus-4-6", None).astype(object),
            "text": text_array,
            "tool_name": np.where(role == "tool_use", tools[n % 6], None).astype(object),
            "input_tokens": np.where(role == "assistant", 1200, 0),
            "output_tokens": np.where(role == "assistant", n % 900, 0),
            "message_id": np.array([f"msg-{i - i % 5}" if i % 5 in (1, 2) else None for i in n],
                                   dtype=object),
            "parent_uuid": np.array([f"u{i - 1}" for i in n], dtype=object),
            "git_branch": np.full(count, "main", dtype=object),
            "cwd": np.full(count, "/home/dev/project", dtype=object),
            "text_bytes": np.array([len(t.encode()) for t in texts]),
        }


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


# -- candidates -------------------------------------------------------------------------

TODAY = "d437c83"  # the commit whose sketch.py is candidate (a)


def legacy_sketch(bits: int) -> types.ModuleType:
    """Return sketch.py as of TODAY (52-bit BIGINT words), with ``bits`` bits."""
    source = subprocess.run(["git", "show", f"{TODAY}:thinkt/collector/sketch.py"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    module = types.ModuleType(f"legacy_sketch_{bits}")
    exec(compile(source.replace("BITS = 2048", f"BITS = {bits}"), module.__name__, "exec"),
         module.__dict__)
    return module


def legacy_prefilter(module: types.ModuleType, needle: str) -> str:
    """Today's pushed filter: 'bit b of word w is set' as 'floor(w / 2**b) is odd'."""
    return " AND ".join(f"even(fdiv({c}, {1 << b}.0)) <> fdiv({c}, {1 << b}.0)"
                        for c, b in module.required_bits(needle, 16)) or "true"


class Candidate:
    """A way to search: the columns it adds to entries and the query it runs."""

    def __init__(self, key: str, title: str, ddl: dict[str, str],
                 values: Callable[[list, list], dict[str, np.ndarray]],
                 prefilter: Callable[[str], str], exact: str = "lower(text)") -> None:
        self.key, self.title, self.ddl, self.values = key, title, ddl, values
        self.prefilter, self.exact = prefilter, exact

    def search(self, cur, q: str) -> list[dict]:
        return legacy_search(cur, q, self.prefilter(q.lower()), self.exact)


def legacy_search(cur, q: str, prefilter: str, exact: str) -> list[dict]:
    """Today's search query (store.search at TODAY) with another prefilter and exact test."""
    needle = q.lower()
    rows = cur.execute(f"""
        WITH hits AS (
            SELECT session_id, count(*) AS match_count, min(seq) AS first_seq
            FROM collected_entries
            WHERE {prefilter}
              AND (contains({exact}, $needle) OR contains(lower(tool_name), $needle))
            GROUP BY session_id
        )
        SELECT {", ".join(f"s.{c}" for c in SESSION_SUMMARY)}, h.match_count, h.first_seq
        FROM collected_sessions s LEFT JOIN hits h USING (session_id)
        WHERE h.session_id IS NOT NULL OR contains(lower(s.project_path), $needle)
        ORDER BY s.last_updated DESC NULLS LAST, s.session_id
        LIMIT 50
    """, {"needle": needle}).fetchall()
    seqs = [int(row[9]) for row in rows if row[9] is not None]
    texts = {seq: (text, tool) for seq, text, tool in cur.execute(
        "SELECT seq, text, tool_name FROM collected_entries WHERE seq = ANY(?::BIGINT[])",
        [seqs]).fetchall()} if seqs else {}
    return [{"id": row[0], "match_count": row[8],
             "snippet": search._snippet(needle, *texts.get(row[9], (None, None)), row[2])}
            for row in rows]


def legacy_values(module: types.ModuleType, lowered: bool) -> Callable:
    def values(texts: list, tools: list) -> dict[str, np.ndarray]:
        low, words = module.searchable(texts, tools)
        out = dict(zip(module.COLUMNS, words))
        if lowered:
            out["text_lower"] = np.array(low, dtype=object)
        return out
    return values


def candidates() -> dict[str, Candidate]:
    today, half = legacy_sketch(2048), legacy_sketch(1024)
    words = {module: {c: f"BIGINT NOT NULL DEFAULT {module.FULL}" for c in module.COLUMNS}
             for module in (today, half)}
    found = [
        Candidate("a", "today: 2048-bit sketch + text_lower", {
            **words[today], "text_lower": "VARCHAR USING COMPRESSION uncompressed"},
            legacy_values(today, True), lambda n: legacy_prefilter(today, n), "text_lower"),
        Candidate("b", "2048-bit sketch, lower(text)", words[today],
                  legacy_values(today, False), lambda n: legacy_prefilter(today, n)),
        Candidate("c", "1024-bit sketch, lower(text)", words[half],
                  legacy_values(half, False), lambda n: legacy_prefilter(half, n)),
        Candidate("e", "plain scan: contains(lower(text))", {}, lambda t, n: {},
                  lambda n: "true"),
    ]
    # (g), the two-size sketch, was measured at 2388d31 and not kept (3ec4fde). What shipped after
    # it (long texts apart, sketched by chunks: longtext.py) changes the entries table,
    # so bench/store.py measures it, on the collector's own write path and schema.
    return {c.key: c for c in found}


# -- building ----------------------------------------------------------------------------

def create_tables(con, candidate: Candidate) -> None:
    con.execute(entry_table_ddl(candidate.ddl))
    con.execute(m001_tables.STATEMENTS[1])


def insert(con, candidate: Candidate, rows: dict[str, np.ndarray]) -> None:
    rows = {**rows, **candidate.values(list(rows["text"]), list(rows["tool_name"]))}
    names = ", ".join(f'"{name}"' for name in rows)
    con.register("incoming", rows)
    con.execute(f"INSERT INTO collected_entries ({names}) SELECT {names} FROM incoming")
    con.unregister("incoming")


def add_sessions(con) -> None:
    con.execute("""
        INSERT INTO collected_sessions (session_id, source, project_path, instance_id, model,
                                        entry_count, first_seen, last_updated)
        SELECT session_id, 'claude', '/home/dev/p' || (min(seq) // 100 % 50), min(instance_id),
               max(model), count(*), min("timestamp"), max("timestamp")
        FROM collected_entries GROUP BY session_id""")


def build(folder: Path, entries: int, chosen: list[Candidate]) -> dict[str, Path]:
    """Build (or reuse) one database of ``entries`` rows per candidate; return their paths."""
    paths = {c.key: folder / f"{c.key}-{entries}.duckdb" for c in chosen}
    todo = []
    for candidate in chosen:
        path = paths[candidate.key]
        if path.exists():
            with duckdb.connect(str(path), read_only=True) as con:
                if con.execute("SELECT count(*) FROM collected_entries").fetchone()[0] == entries:
                    continue
            path.unlink()
        con = duckdb.connect(str(path))
        con.execute("SET threads = 2")
        create_tables(con, candidate)
        todo.append((candidate, con))
    if not todo:
        return paths
    started = time.perf_counter()
    seed = folder / f"{todo[0][0].key}-{BUILD_SEED}.duckdb"
    if entries > BUILD_SEED and entries % BUILD_SEED == 0 and all(
            (folder / f"{c.key}-{BUILD_SEED}.duckdb").exists() for c, _ in todo):
        for candidate, con in todo:
            replicate(con, folder / f"{candidate.key}-{BUILD_SEED}.duckdb", entries)
            print(f"  replicated {seed.name} to {entries:,} entries for {candidate.key} "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
        return paths
    for chunk in chunks(entries):
        for candidate, con in todo:
            insert(con, candidate, chunk)
        done = int(chunk["seq"][-1])
        if done % 500_000 == 0:
            print(f"  built {done:,} of {entries:,} entries ({', '.join(c.key for c, _ in todo)}, "
                  f"{time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    for _, con in todo:
        add_sessions(con)
        con.execute("CHECKPOINT")
        con.close()
    return paths


def replicate(con, seed: Path, entries: int) -> None:
    """Fill ``con`` with copies of the ``BUILD_SEED``-entry database ``seed`` (new keys,
    same texts and search columns): ten times faster than generating and sketching."""
    con.execute(f"ATTACH '{seed}' AS seed (READ_ONLY)")
    names = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE "
                                       "database_name = 'seed' AND table_name = "
                                       "'collected_entries' ORDER BY column_index").fetchall()]
    changed = {"session_id": "session_id || '-' || $k", "uuid": "uuid || '-' || $k",
               "seq": f"seq + $k * {BUILD_SEED}"}
    select = ", ".join(changed.get(n, f'"{n}"') for n in names)
    quoted = ", ".join(f'"{n}"' for n in names)
    for k in range(entries // BUILD_SEED):
        con.execute(f"INSERT INTO collected_entries ({quoted}) SELECT {select} "
                    "FROM seed.collected_entries ORDER BY seq", {"k": k})
    con.execute("DETACH seed")
    add_sessions(con)
    con.execute("CHECKPOINT")
    con.close()


# -- measuring ---------------------------------------------------------------------------

def insert_cost(folder: Path, candidate: Candidate, base: Candidate, rows: int = 20_000,
                repeat: int = 3) -> float:
    """Return µs per row that ``candidate``'s columns add to 1,000-row insert transactions."""
    sample = next(chunks(10 ** 9 + rows, start=10 ** 9))

    def timed(which: Candidate) -> float:
        path = folder / f"insert-{which.key}.duckdb"
        with duckdb.connect(str(path)) as con:
            con.execute("SET threads = 1")
            create_tables(con, which)
            started = time.perf_counter()
            for first in range(0, rows, 1000):
                con.execute("BEGIN TRANSACTION")
                insert(con, which, {k: v[first:first + 1000] for k, v in sample.items()})
                con.execute("COMMIT")
            seconds = time.perf_counter() - started
        path.unlink()
        return seconds

    cost = [timed(candidate) - timed(base) for _ in range(repeat)]
    return statistics.median(cost) / rows * 1e6


def size_ratio(path: Path) -> tuple[float, float]:
    """Return the file's bytes and its used blocks' bytes per text byte."""
    with duckdb.connect(str(path), read_only=True) as con:
        text = con.execute("SELECT sum(text_bytes) FROM collected_entries").fetchone()[0]
        block, used = con.execute("SELECT block_size, used_blocks FROM pragma_database_size()"
                                  ).fetchone()
    return os.path.getsize(path) / text, block * used / text


def latencies(paths: dict[str, Path], chosen: list[Candidate], repeat: int,
              threads: int) -> dict[tuple[str, str], tuple[float, float]]:
    """Return (p50, p95) ms per (candidate, term); rounds take turns over every pair, so a
    neighbour's load falls on all alike. Checks that every candidate finds the same sessions."""
    cons = {}
    for c in chosen:
        cons[c.key] = duckdb.connect(str(paths[c.key]), read_only=True)
        cons[c.key].execute(f"SET threads = {threads}")
        # Each connection would take up to 80% of the memory: two 10M stores ran out.
        cons[c.key].execute(f"SET memory_limit = '{MEMORY_GB // len(chosen)}GB'")
    samples: dict[tuple[str, str], list[float]] = {}
    answers: dict[str, dict] = {}
    try:
        for c in chosen:  # warm the buffer pool, and check the answers agree
            for name, term in TERMS.items():
                hits = c.search(cons[c.key].cursor(), term)
                answers.setdefault(name, {})[c.key] = sorted((h["id"], h["match_count"])
                                                             for h in hits)
        for name, by_key in answers.items():
            if len({tuple(v) for v in by_key.values()}) != 1:
                print(f"  ANSWERS DIFFER for {name}: "
                      f"{ {k: len(v) for k, v in by_key.items()} }", file=sys.stderr)
        for _ in range(repeat):
            for c in chosen:
                cur = cons[c.key].cursor()
                for name, term in TERMS.items():
                    started = time.perf_counter()
                    c.search(cur, term)
                    samples.setdefault((c.key, name), []).append(
                        (time.perf_counter() - started) * 1000)
    finally:
        for con in cons.values():
            con.close()
    return {key: percentiles(values) for key, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", default="1000000",
                        help="Comma-separated store sizes (default 1000000).")
    parser.add_argument("--folder", default=os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                         "thinkt-bench-search"),
                        help="Where the databases are kept and reused.")
    parser.add_argument("--only", help="Comma-separated candidate keys (default: all).")
    parser.add_argument("--repeat", type=int, default=15, help="Timed runs per search.")
    parser.add_argument("--threads", default="1", help="Comma-separated DuckDB thread counts.")
    parser.add_argument("--no-insert", action="store_true", help="Skip the insert cost.")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    every = candidates()
    chosen = [every[k] for k in args.only.split(",")] if args.only else list(every.values())
    sizes = [int(n) for n in args.entries.split(",")]
    inserts = {} if args.no_insert else {
        c.key: insert_cost(folder, c, every["e"]) for c in chosen}
    rows = {}
    for entries in sizes:
        paths = build(folder, entries, chosen)
        ratios = {c.key: size_ratio(paths[c.key]) for c in chosen}
        for threads in map(int, args.threads.split(",")):
            times = latencies(paths, chosen, args.repeat, threads)
            for c in chosen:
                rows[(c.key, entries, threads)] = (ratios[c.key], times)
    print(f"\nsearch candidates ({os.cpu_count()} cores, p50 / p95 ms over {args.repeat} runs, "
          "limit 50; file/B, used/B: the file after CHECKPOINT, and its used blocks, "
          "per text byte)")
    print(f"{'':2} {'candidate':42} {'N':>4} {'thr':>3} {'file/B':>6} {'used/B':>6} "
          f"{'ins µs':>6} {'rare':>13} {'common':>13} {'none':>13}")
    for (key, entries, threads), (ratio, times) in rows.items():
        cells = " ".join(f"{times[(key, t)][0]:6.1f}/{times[(key, t)][1]:<6.1f}" for t in TERMS)
        cost = f"{inserts[key]:6.1f}" if key in inserts else "     -"
        print(f"{key:2} {every[key].title:42} {entries // 1_000_000:>3}M {threads:>3} "
              f"{ratio[0]:6.2f} {ratio[1]:6.2f} {cost} {cells}")


if __name__ == "__main__":
    main()
