"""The store's figures of issue 15 at N entries, each beside its baseline from the same run.

- Reads: ``queries.usage`` by each key, over everything and over 30 days (both on whole
  hours, so they sum ``usage_hourly``), ``stats``, ``list_sessions`` and a page of
  ``session_entries``, p50 and p95 on a query cursor. Baseline: the same usage answer
  the way it was computed before the rollup, from the entries and per-response usage
  (``queries._usage_by_time``, the pre-rollup query); the answers must be the same rows.
- Bytes on disk (after CHECKPOINT, with the WAL) per byte of stored text (UTF-8), per
  entry, and by column group.
- ``search.search`` for a rare term (one entry in RARE_EVERY) and a common one.
- Rows/s of the writer's path (``EntryLog.ingest`` in groups of ``--group`` rows, a
  rollup refresh every REFRESH_INTERVAL of work; each request carries its search
  columns, made beforehand as the HTTP workers do) while building N, and on the first
  BASE_ROWS rows of the corpus beside a plain columnar ``INSERT OR IGNORE`` of the same
  rows' entry fields (same primary key, 1,000 rows per transaction, one thread, the
  store's checkpoint threshold).

The corpus is deterministic: Zipf pseudo-words (~800 bytes a text), 2% long tool
results (5-50 KB), sessions of 10-2,000 entries spread over DAYS days, AGENTS agents
(one person each), PROJECTS projects and four models; tokens and message ids on
assistant entries.

    python bench/store.py [--entries 1000000] [--db PATH] [--repeat 15] [--group 3000]

``--db`` keeps the built database and reuses it (building on if it holds fewer than
``--entries``); the table ``bench_store_chunks`` in it records what was built and how long
it took, so a reused database still reports its build rate.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from thinkt.collector import database, ingest, longtext, queries, rollup, search  # noqa: E402
from thinkt.collector.channel import IngestRequest  # noqa: E402
from thinkt.collector.schemas import ENTRY_COUNTS, ENTRY_FIELDS, ENTRY_FLAGS  # noqa: E402

T0 = datetime(2026, 2, 1)
DAYS = 90
AGENTS = 8
PROJECTS = 50
MODELS = ("claude-opus-4-6", "claude-sonnet-4-5", "gpt-5.3-codex", "gemini-2.5-pro")
SOURCES = ("claude", "claude", "codex", "gemini")  # each model's source
TOOLS = ("Bash", "Read", "Edit", "Grep", "WebFetch", "TodoWrite")
ROLES = ("user", "assistant", "assistant", "tool_use", "tool_result")
RARE = "xyzzyquux"  # injected (as XyzzyQuux) into one entry in RARE_EVERY
RARE_EVERY = 10_000
COMMON = "error"  # a vocabulary word at Zipf rank COMMON_RANK: in ~10% of entries
COMMON_RANK = 100
WORDS_PER_ENTRY = 118  # ~800 bytes with the vocabulary below
LONG_SHARE = 0.1  # of tool results (a fifth of entries): 2% of entries are long
LONG_BYTES = (5_000, 50_000)  # log-uniform
SESSION_LENGTHS = (10, 2_000)  # log-uniform
ENTRIES_PER_REQUEST = 100  # what an exporter sends per POST
CHUNK = 50_000  # entries generated at once; a session never crosses chunks
BASE_ROWS = 200_000  # rows of the build-rate comparison
PLAIN_ROWS_PER_TRANSACTION = 1_000
PROGRESS_EVERY = 500_000
MIN_FREE_DISK = 5e9  # the build stops before the disk has less free
TARGET_MS = 150  # issue 15: usage and stats p50 at 10M entries
TARGET_BYTES = 1.3  # issue 15: database bytes per text byte


class Corpus:
    """Deterministic entries, chunk by chunk: chunk ``k`` depends on the seed and ``k`` only."""

    def __init__(self, seed: int = 1) -> None:
        self.seed = seed
        rng = np.random.default_rng(seed)
        syllables = np.array([c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] +
                             ["th", "st", "ing", "er", "ion", "_", "/", ".py", "()", "x"])
        vocab = {"".join(rng.choice(syllables, size=rng.integers(1, 5))) for _ in range(40_000)}
        vocab.discard(COMMON)
        words = sorted(vocab)
        rng.shuffle(words)
        words.insert(COMMON_RANK, COMMON)
        self.words = np.array(words, dtype=object)
        weights = 1.0 / np.arange(1, len(words) + 1) ** 1.07
        self.cumulative = np.cumsum(weights / weights.sum())

    def _texts(self, rng: np.random.Generator, rows: int, words: int) -> list[str]:
        picks = np.searchsorted(self.cumulative, rng.random((rows, words)))
        return [" ".join(row) for row in self.words[np.minimum(picks, len(self.words) - 1)]]

    def chunk(self, index: int, rows: int = CHUNK) -> list[IngestRequest]:
        """Return the first ``rows`` entries of chunk ``index`` as requests of up to 100
        entries, the chunk's sessions taking turns (as several exporters' batches do)."""
        rng = np.random.default_rng((self.seed, index))
        lengths: list[int] = []
        while sum(lengths) < CHUNK:
            lengths.append(int(math.exp(rng.uniform(*map(math.log, SESSION_LENGTHS)))))
        lengths[-1] -= sum(lengths) - CHUNK
        texts = self._texts(rng, CHUNK, WORDS_PER_ENTRY)
        positions = np.concatenate([np.arange(length) for length in lengths])
        tool_results = positions % 5 == ROLES.index("tool_result")
        long_rows = np.flatnonzero(tool_results & (rng.random(CHUNK) < LONG_SHARE))
        for row in long_rows:
            size = math.exp(rng.uniform(*map(math.log, LONG_BYTES)))
            texts[row] = self._texts(rng, 1, int(size / 7.4))[0]
        first = index * CHUNK
        for row in range((RARE_EVERY // 2 - first) % RARE_EVERY, CHUNK, RARE_EVERY):
            texts[row] = texts[row][:300] + " XyzzyQuux " + texts[row][300:]
        lanes = []
        serial = first
        for number, length in enumerate(lengths):
            lanes.append(self._session(rng, f"s{index}-{number}", serial, length, texts))
            serial += length
        requests = [lane[turn] for turn in range(max(map(len, lanes)))
                    for lane in lanes if turn < len(lane)]
        return cut(requests, rows)

    def _session(self, rng: np.random.Generator, session_id: str, first: int, length: int,
                 texts: list[str]) -> list[IngestRequest]:
        """One session's entries (texts[first - chunk start ...]) as its requests."""
        model = int(rng.integers(len(MODELS)))
        agent, project = int(rng.integers(AGENTS)), int(rng.integers(PROJECTS))
        start = T0 + timedelta(seconds=int(rng.integers(DAYS * 86_400 - 86_400)))
        gaps = np.cumsum(rng.integers(2, 30, length))
        base = first - first % CHUNK
        entries = []
        for position in range(length):
            n = first + position
            role = ROLES[position % 5]
            tokens = role == "assistant"
            entries.append((
                f"u{n}", role, start + timedelta(seconds=int(gaps[position])),
                MODELS[model] if tokens else None, texts[n - base],
                TOOLS[n % 6] if role == "tool_use" else None, False, n % 7 == 0,
                role == "tool_use", 1200 + n % 5000 if tokens else 0,
                (n % 900) * (position % 5) if tokens else 0, 0,
                30_000 if tokens else 0, 2_000 if tokens else 0, 0,
                f"msg-{n - position % 5}" if tokens else None, None,
                f"u{n - 1}" if position else None, "main", f"/home/dev/p{project}", False, 0))
        return [IngestRequest(SOURCES[model], session_id, f"/home/dev/p{project}",
                              f"agent-{agent}", "machine-1", None,
                              entries[min(start_ + ENTRIES_PER_REQUEST, length) - 1][2]
                              + timedelta(seconds=5),
                              entries[start_:start_ + ENTRIES_PER_REQUEST],
                              person=f"dev{agent}@example.com")  # one person per agent
                for start_ in range(0, length, ENTRIES_PER_REQUEST)]


def sketched(requests: list[IngestRequest]) -> list[IngestRequest]:
    """Return the requests with their search columns, as each HTTP worker makes them."""
    text, tool = ENTRY_FIELDS.index("text"), ENTRY_FIELDS.index("tool_name")
    return [r._replace(prepared=longtext.prepare([e[text] for e in r.entries],
                                                 [e[tool] for e in r.entries])) for r in requests]


def cut(requests: list[IngestRequest], rows: int) -> list[IngestRequest]:
    """Return the requests that hold the first ``rows`` entries (the last one cut)."""
    kept = []
    for request in requests:
        if rows <= 0:
            break
        kept.append(request._replace(entries=request.entries[:rows]))
        rows -= len(request.entries)
    return kept


def groups(requests: list[IngestRequest], rows: int) -> Iterator[list[IngestRequest]]:
    """Yield consecutive requests in groups of at least ``rows`` entries (a writer's commits)."""
    group: list[IngestRequest] = []
    size = 0
    for request in requests:
        group.append(request)
        size += len(request.entries)
        if size >= rows:
            yield group
            group, size = [], 0
    if group:
        yield group


# -- building ---------------------------------------------------------------------------

class Writer:
    """The writer's commit path and rollup, with the seconds each took."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.log = ingest.EntryLog(con)
        self.seconds = {"ingest": 0.0, "refresh": 0.0}
        # The rollup's clock counts work, so it refreshes every REFRESH_INTERVAL of it
        # however long the bench spends generating entries in between.
        self.rollup = rollup.Rollup(con, lambda: self.log.last_seq,
                                    clock=lambda: sum(self.seconds.values()))

    def commit(self, group: list[IngestRequest]) -> None:
        started = time.perf_counter()
        _, replaced = self.log.ingest(self.con, group)
        self.rollup.committed(group, replaced)
        self.seconds["ingest"] += time.perf_counter() - started
        if self.rollup.due():
            self.refresh()

    def refresh(self) -> None:
        started = time.perf_counter()
        self.rollup.refresh(self.con)
        self.seconds["refresh"] += time.perf_counter() - started


BUILD_TABLE = """CREATE TABLE IF NOT EXISTS bench_store_chunks (
    chunk INTEGER PRIMARY KEY, entries BIGINT, generate_s DOUBLE, sketch_s DOUBLE,
    ingest_s DOUBLE, refresh_s DOUBLE)"""


def build(con: duckdb.DuckDBPyConnection, corpus: Corpus, entries: int, group: int,
          path: str, budget: float | None) -> tuple[int, str | None]:
    """Ingest the corpus up to ``entries`` through the writer's path, recording each chunk
    in ``bench_store_chunks``; return how many entries this run added, and why it stopped
    early (after ``budget`` seconds, or with MIN_FREE_DISK left) or None."""
    con.execute(BUILD_TABLE)
    done = con.execute("SELECT coalesce(max(chunk) + 1, 0), coalesce(sum(entries), 0) "
                       "FROM bench_store_chunks WHERE entries = ?", [CHUNK]).fetchone()
    first_chunk, have = done
    writer, added, began, stopped = Writer(con), 0, time.monotonic(), None
    for index in range(first_chunk, -(-entries // CHUNK)):
        if added and budget is not None and time.monotonic() - began > budget:
            stopped = f"the build budget of {budget:,.0f} s ran out"
            break
        if shutil.disk_usage(os.path.dirname(path)).free < MIN_FREE_DISK:
            stopped = f"less than {MIN_FREE_DISK / 1e9:.0f} GB of disk was left"
            break
        rows = min(CHUNK, entries - index * CHUNK)
        started = time.perf_counter()
        requests = corpus.chunk(index, rows)
        generate = time.perf_counter() - started
        requests = sketched(requests)
        sketching = time.perf_counter() - started - generate
        before = dict(writer.seconds)
        for call in groups(requests, group):
            writer.commit(call)
        if index * CHUNK + rows == entries:
            writer.refresh()
        con.execute("INSERT OR REPLACE INTO bench_store_chunks VALUES (?, ?, ?, ?, ?, ?)",
                    [index, rows, generate, sketching, *(writer.seconds[k] - before[k]
                                              for k in ("ingest", "refresh"))])
        added += rows
        if (have + added) // PROGRESS_EVERY > (have + added - rows) // PROGRESS_EVERY:
            work = sum(writer.seconds.values())
            print(f"  built {have + added:,} entries; this run {added / work:,.0f} rows/s of "
                  f"work, {writer.seconds['refresh'] / work:.0%} of it refreshing",
                  file=sys.stderr, flush=True)
    writer.refresh()  # nothing left to do unless the build stopped early
    con.execute("CHECKPOINT")
    return added, stopped


#: numpy types of the plain insert's non-string columns.
PLAIN_DTYPES = {**dict.fromkeys(ENTRY_COUNTS, np.int64), **dict.fromkeys(ENTRY_FLAGS, bool),
                "timestamp": "datetime64[us]"}


def plain_insert(con: duckdb.DuckDBPyConnection, requests: list[IngestRequest]) -> float:
    """Insert the requests' entry fields the plain way; return the seconds it took."""
    rows = [(r.session_id, *e) for r in requests for e in r.entries]
    names = ("session_id",) + ENTRY_FIELDS
    columns = ", ".join(f'"{name}"' for name in names)
    started = time.perf_counter()
    for first in range(0, len(rows), PLAIN_ROWS_PER_TRANSACTION):
        values = zip(*rows[first:first + PLAIN_ROWS_PER_TRANSACTION])
        frame = {name: np.array(column, dtype=PLAIN_DTYPES.get(name, object))  # noqa: F841
                 for name, column in zip(names, values)}
        with database.transaction(con):
            con.execute(f"INSERT OR IGNORE INTO plain ({columns}) SELECT {columns} FROM frame")
    return time.perf_counter() - started


def build_rates(folder: str, corpus: Corpus, group: int, total: int) -> tuple[float, float]:
    """Return rows/s of the writer's path and of the plain insert over the first ``total``
    rows, each into a fresh database, taking turns chunk by chunk."""
    real = database.open_database(os.path.join(folder, "real.duckdb"))
    plain = duckdb.connect(os.path.join(folder, "plain.duckdb"))
    try:
        types = dict(real.execute("SELECT column_name, data_type FROM duckdb_columns() "
                                  "WHERE table_name = 'collected_entries'").fetchall())
        plain.execute("SET threads = 1")
        plain.execute(f"SET checkpoint_threshold = '{database.CHECKPOINT_THRESHOLD}'")
        plain.execute("CREATE TABLE plain ("
                      + ", ".join(f'"{n}" {types[n]}' for n in ("session_id",) + ENTRY_FIELDS)
                      + ", PRIMARY KEY (session_id, uuid))")
        writer, plain_seconds = Writer(real), 0.0
        for index in range(-(-total // CHUNK)):
            requests = corpus.chunk(index, min(CHUNK, total - index * CHUNK))
            for call in groups(sketched(requests), group):
                writer.commit(call)
            plain_seconds += plain_insert(plain, requests)
        writer.refresh()
        return total / sum(writer.seconds.values()), total / plain_seconds
    finally:
        real.close()
        plain.close()


# -- measuring ---------------------------------------------------------------------------

def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def timed(run: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = run()
    return (time.perf_counter() - started) * 1000, result


class Case:
    """A figure measured by ``run``, optionally beside a ``baseline`` run in the same rounds."""

    def __init__(self, name: str, run: Callable[[], object],
                 baseline: Callable[[], object] | None = None,
                 same: Callable[[object, object], bool] | None = None) -> None:
        self.name, self.run, self.baseline, self.same = name, run, baseline, same
        self.samples: list[float] = []
        self.baseline_samples: list[float] = []
        self.agrees = True


def measure(cases: list[Case], repeat: int, baseline_every: int) -> None:
    """Run every case ``repeat`` times, taking turns so load on this shared machine falls on
    all alike; baselines (slow) every ``baseline_every``-th round, checked against the case."""
    for case in cases:
        case.run()  # warm the buffer pool
    for round_ in range(repeat):
        for case in cases:
            elapsed, answer = timed(case.run)
            case.samples.append(elapsed)
            if case.baseline and round_ % baseline_every == 0:
                elapsed, expected = timed(case.baseline)
                case.baseline_samples.append(elapsed)
                case.agrees = case.agrees and case.same(answer, expected)


def same_usage(answer: object, rows: object) -> bool:
    return [tuple(row.values()) for row in answer] == [(r[0], *map(int, r[1:])) for r in rows]


def query_cases(cur: duckdb.DuckDBPyConnection, path: str) -> list[Case]:
    cases = []
    for label, since, until in (("everything", None, None),
                                ("30 days", T0 + timedelta(days=30), T0 + timedelta(days=60))):
        params = {"since": since, "until": until, "source": None}
        for key in ("day", "model", "project", "source", "agent", "session"):
            cases.append(Case(f"usage by {key}, {label}",
                              lambda k=key, s=since, u=until: queries.usage(cur, k, s, u, None),
                              lambda k=key, p=params: cur.execute(
                                  queries._usage_by_time(k, "HUGEINT"), p).fetchall(),
                              same_usage))
    session, total = cur.execute("SELECT session_id, entry_count FROM collected_sessions "
                                 "ORDER BY entry_count DESC, session_id LIMIT 1").fetchone()
    page = total // 2 // 100 * 100
    cases += [
        Case("stats", lambda: queries.stats(cur, database.utcnow(), path)),
        Case("list_sessions(limit=50)", lambda: queries.list_sessions(cur, 50, None, None)),
        Case(f"session_entries, {total:,}-entry session, 100 at {page:,}",
             lambda: queries.session_entries(cur, session, 100, page)),
    ]
    return cases


def search_cases(cur: duckdb.DuckDBPyConnection) -> list[Case]:
    rare, common = cur.execute(
        "SELECT count(*) FILTER (WHERE contains(text, 'XyzzyQuux')), "
        f"count(*) FILTER (WHERE contains(text, '{COMMON}')) FROM collected_entries").fetchone()
    return [Case(f'search "{term}" ({matches:,} entries), limit 50',
                 lambda t=term: search.search(cur, t, 50))
            for term, matches in ((RARE, rare), (COMMON, common))]


def storage(con: duckdb.DuckDBPyConnection, path: str) -> dict[str, float]:
    """Bytes on disk, stored text bytes, and bytes by column group of collected_entries
    (text: short and long; search columns: the entries' sketches and long texts' chunks').

    A segment's size is the distance to the next segment in its block (or the block's
    end) plus its additional blocks (a string column's overflow); the rest of the used
    blocks are other tables, the primary key's index and metadata.
    """
    con.execute("CHECKPOINT")
    size = sum(os.path.getsize(p) for p in (path, path + ".wal") if os.path.exists(p))
    block_size, used = con.execute("SELECT block_size, used_blocks FROM pragma_database_size() "
                                   "WHERE database_name = current_database()").fetchone()
    text_bytes, entries = con.execute(
        "SELECT coalesce(sum(strlen(text)), 0), count(*) FROM collected_entries").fetchone()
    long_texts = con.execute("SELECT long_text FROM collected_entries "
                             "WHERE long_text IS NOT NULL")
    while rows := long_texts.fetchmany(10_000):
        text_bytes += sum(len(longtext.unpack(packed).encode()) for (packed,) in rows)
    tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() "
                                        "WHERE database_name = current_database()").fetchall()]
    segments = []
    for table in tables:
        segments += [(table, *row) for row in con.execute(
            "SELECT column_name, block_id, block_offset, "
            "coalesce(len(additional_block_ids), 0) FROM pragma_storage_info(?) "
            "WHERE persistent AND block_id >= 0", [table]).fetchall()]
    segments.sort(key=lambda s: (s[2], s[3]))
    groups_ = {"text": 0, "search columns": 0, "other columns": 0, "other tables": 0}
    for i, (table, column, block, offset, extra) in enumerate(segments):
        following = segments[i + 1] if i + 1 < len(segments) else None
        end = following[3] if following and following[2] == block else block_size
        if table == longtext.SKETCH_TABLE:
            group = "search columns"  # the chunks' sketches of long texts
        elif table != "collected_entries":
            group = "other tables"
        elif column in ("text", "long_text"):
            group = "text"
        elif column.startswith("sk"):
            group = "search columns"
        else:
            group = "other columns"
        groups_[group] += end - offset + extra * block_size
    groups_["key index, metadata (the rest)"] = used * block_size - sum(groups_.values())
    groups_["free blocks, WAL"] = size - used * block_size
    return {"size": size, "text_bytes": text_bytes, "entries": entries, **groups_}


# -- reporting ----------------------------------------------------------------------------

def ms(samples: list[float]) -> str:
    p50, p95 = percentiles(samples)
    return f"{p50:,.1f} / {p95:,.1f} ms"


def rows_of(cases: list[Case], target: bool) -> list[tuple[str, str, str, str]]:
    table = []
    for case in cases:
        p50 = percentiles(case.samples)[0]
        checks = []
        if case.baseline_samples:
            speedup = percentiles(case.baseline_samples)[0] / p50
            checks.append(f"{speedup:,.1f}x faster" if speedup >= 1
                          else f"{1 / speedup:,.1f}x slower")
            checks.append("same rows" if case.agrees else "MISMATCH")
        if target:
            checks.append(f"< {TARGET_MS} ms " + ("ok" if p50 < TARGET_MS else "MISSED"))
        table.append((case.name + ", p50 / p95", ms(case.samples),
                      ms(case.baseline_samples) if case.baseline_samples else "",
                      ", ".join(checks)))
    return table


def print_table(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    header = ("figure", "value", "baseline", "ratio or check")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    print(f"\n{title}")
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000,
                        help="Entries in the database measured (default 1,000,000).")
    parser.add_argument("--db", metavar="PATH",
                        help="Keep the built database here, and reuse it if it exists.")
    parser.add_argument("--repeat", type=int, default=15, help="Timed runs per figure.")
    parser.add_argument("--group", type=int, default=3_000,
                        help="Rows per group commit of the writer's path (default 3,000).")
    parser.add_argument("--build-budget", type=float, metavar="SECONDS",
                        help="Stop building after this long (at a chunk's end) and measure "
                             "the entries built so far.")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="thinkt-bench-store-",
                              dir=os.path.dirname(os.path.abspath(args.db)) if args.db else None)
    try:
        corpus = Corpus()
        path = os.path.abspath(args.db or os.path.join(folder, "store.duckdb"))
        con = database.open_database(path)
        try:
            print(f"building {path} up to {args.entries:,} entries", file=sys.stderr, flush=True)
            added, stopped = build(con, corpus, args.entries, args.group, path,
                                   args.build_budget)
            if stopped:
                print(f"stopped building: {stopped}", file=sys.stderr, flush=True)
            if not con.execute("SELECT count(*) FROM collected_entries").fetchone()[0]:
                raise SystemExit(f"No entries to measure: {stopped}.")
            built = con.execute("SELECT sum(entries), sum(generate_s), sum(sketch_s), "
                                "sum(ingest_s), sum(refresh_s) FROM bench_store_chunks").fetchone()
            print("measuring", file=sys.stderr, flush=True)
            cur = con.cursor()
            reads = query_cases(cur, path)
            measure(reads, args.repeat, baseline_every=3)
            searches = search_cases(cur)
            measure(searches, args.repeat, baseline_every=1)
            disk = storage(con, path)
        finally:
            con.close()
        print("build-rate comparison", file=sys.stderr, flush=True)
        base_rows = min(BASE_ROWS, args.entries)
        writer_rate, plain_rate = build_rates(folder, corpus, args.group, base_rows)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    entries = disk["entries"]
    rows = rows_of(reads, target=True) + rows_of(searches, target=False)
    ratio = disk["size"] / disk["text_bytes"]
    rows += [
        ("database bytes / text bytes (UTF-8)", f"{ratio:.2f}",
         f"{disk['size'] / 1e6:,.0f} MB / {disk['text_bytes'] / 1e6:,.0f} MB",
         f"<= {TARGET_BYTES} " + ("ok" if ratio <= TARGET_BYTES else "MISSED")),
        ("database bytes per entry", f"{disk['size'] / entries:,.0f}",
         f"text {disk['text_bytes'] / entries:,.0f}", ""),
    ]
    for group in ("text", "search columns", "other columns", "other tables",
                  "key index, metadata (the rest)", "free blocks, WAL"):
        rows.append((f"  {group}, bytes per entry", f"{disk[group] / entries:,.0f}", "",
                     f"{disk[group] / disk['size']:.0%} of the file"))
    total, generate, sketch_s, ingest_s, refresh_s = built
    rows += [
        (f"build: writer path, {args.group:,}-row groups + refresh",
         f"{total / (ingest_s + refresh_s):,.0f} rows/s", "",
         f"{refresh_s / (ingest_s + refresh_s):.0%} refreshing; "
         + (f"built {total:,} in this run" if added == total else
            f"recorded when built ({added:,} added in this run)")),
        ("  sketching, as the HTTP workers do (not counted above)",
         f"{total / sketch_s:,.0f} rows/s", "", "one process here; the workers share it"),
        ("  generating the corpus (not counted above)", f"{total / generate:,.0f} rows/s", "", ""),
        (f"writer path, first {base_rows:,} rows, fresh database", f"{writer_rate:,.0f} rows/s",
         f"{plain_rate:,.0f} rows/s plain", f"{writer_rate / plain_rate:.2f}x the plain insert"),
    ]
    if entries < args.entries:
        print(f"\nasked for {args.entries:,} entries; stopped building: {stopped}")
    print_table(f"store at {entries:,} entries ({os.cpu_count()} cores, DuckDB threads=1, "
                f"{args.repeat} runs; baselines every 3rd round)", rows)


if __name__ == "__main__":
    main()
