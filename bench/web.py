#!/usr/bin/env python3
"""The web pages' server time and weight at N entries (issue 16: under 300 ms at 1M).

A store of ``--entries`` entries (bench/store.py's deterministic corpus, reused with
``--db``) is served by a real ``thinkt collect`` (its default workers, a token file with
a read token); a real HTTP client signs in through the form, as a browser does, and asks
each page ``--repeat`` times after two untimed requests. Server time = the time from
sending the request to the last byte of the answer on loopback, so it includes the
worker, the writer's queries and the template. Each page is asked over the corpus' 90
days (the default range, the last 30 days before today, holds nothing of a corpus
dated 2026-02..04 and would flatter the figure), and its first-load weight is its HTML
plus the stylesheet and scripts it links (each once).

    python bench/web.py [--entries 1000000] [--db PATH] [--repeat 15]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urljoin

import duckdb
import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import store as corpus_store  # noqa: E402
from tests.harness import Collector  # noqa: E402
from thinkt.collector import database  # noqa: E402
from thinkt.collector.settings import default_workers  # noqa: E402

TARGET_MS = 300.0
WEIGHT_BUDGET = 300 * 1024
TOKEN = "bench-web-read-token-0123456789"
RANGE = "from=2026-02-01&to=2026-05-01"


def ensure_store(path: Path, entries: int) -> None:
    """Build (or build on) the corpus store at ``path`` up to ``entries`` entries."""
    con = database.open_database(str(path))
    try:
        have = con.execute("SELECT count(*) FROM collected_entries").fetchone()[0]
        if have < entries:
            print(f"building the store: {have:,} -> {entries:,} entries ...", flush=True)
            _, stopped = corpus_store.build(con, corpus_store.Corpus(), entries, 3_000,
                                            str(path), None)
            if stopped:
                raise SystemExit(f"the store could not be built: {stopped}")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def sample_ids(path: Path) -> tuple[str, str, str]:
    """A large session's id, a project and a model of the store (for the pages' links)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        session = con.execute("SELECT session_id FROM collected_sessions "
                              "ORDER BY entry_count DESC LIMIT 1").fetchone()[0]
        project = con.execute("SELECT project_path FROM collected_sessions "
                              "WHERE project_path IS NOT NULL LIMIT 1").fetchone()[0]
    finally:
        con.close()
    return session, project, corpus_store.MODELS[0]


def sign_in(base: str) -> requests.Session:
    """Sign in through the form as a browser does; return the session with its cookie."""
    http = requests.Session()
    form = http.get(base + "/signin", timeout=60)
    form.raise_for_status()
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    answer = http.post(base + "/signin", data={"token": TOKEN, "csrf": csrf.group(1) if csrf
                                                else ""},
                       headers={"Origin": base}, timeout=60, allow_redirects=False)
    if answer.status_code not in (302, 303):
        raise SystemExit(f"sign-in failed: HTTP {answer.status_code}")
    return http


def weight(http: requests.Session, base: str, html: str, seen: set[str]) -> int:
    """Bytes of ``html`` plus the stylesheets, scripts and images it links (each once)."""
    total = len(html.encode())
    for link in re.findall(r'(?:href|src)="([^"]+\.(?:css|js|svg|png|woff2?)[^"]*)"', html):
        url = urljoin(base + "/", link)
        if url in seen:
            continue
        seen.add(url)
        total += len(http.get(url, timeout=60).content)
    return total


def measure(http: requests.Session, url: str, repeat: int) -> tuple[list[float], str, int]:
    for _ in range(2):
        http.get(url, timeout=120)
    times = []
    answer = None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = http.get(url, timeout=120)
        times.append((time.perf_counter() - started) * 1000)
    assert answer is not None
    return times, answer.text, answer.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--db", metavar="PATH", help="Keep and reuse the store here.")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="thinkt-bench-web-") as tmp:
        work = Path(tmp)
        db = Path(args.db) if args.db else work / "store.duckdb"
        ensure_store(db, args.entries)
        session, project, model = sample_ids(db)
        tokens = work / "tokens"
        tokens.write_text(f"{TOKEN} read name=bench\n")
        collector = Collector(db, work / "collector.log", "--token-file", str(tokens),
                              workers=default_workers())
        collector.start(timeout=600)
        try:
            base = collector.url
            http = sign_in(base)
            pages = [
                ("overview (default: last 30 days)", "/"),
                ("overview, 90 days", f"/?{RANGE}"),
                ("usage by user", f"/usage?group=user&{RANGE}"),
                ("usage by model", f"/usage?group=model&{RANGE}"),
                ("usage by project", f"/usage?group=project&{RANGE}"),
                ("usage by day", f"/usage?group=day&{RANGE}"),
                ("usage CSV by project", f"/usage.csv?group=project&{RANGE}"),
                ("sessions", f"/sessions?{RANGE}"),
                ("sessions, page 20", f"/sessions?{RANGE}&page=20"),
                ("sessions of a project", f"/sessions?{RANGE}&project={quote(project)}"),
                ("sessions of a model", f"/sessions?{RANGE}&model={quote(model)}"),
                ("transcript (largest session)", f"/sessions/{quote(session, safe='')}"),
                ("search, rare term", f"/search?q={corpus_store.RARE}&{RANGE}"),
                ("search, common term", f"/search?q=the&{RANGE}"),
                ("agents", "/agents"),
            ]
            print(f"store: {args.entries:,} entries; collector workers: {default_workers()}; "
                  f"{args.repeat} timed requests per page after 2 untimed")
            print(f"{'page':<34}{'status':>7}{'p50 ms':>9}{'p95 ms':>9}{'target':>9}"
                  f"{'KB html':>9}{'KB first':>10}")
            worst = 0.0
            for name, path in pages:
                times, html, status = measure(http, base + path, args.repeat)
                p50 = statistics.median(times)
                p95 = sorted(times)[max(0, round(0.95 * len(times)) - 1)]
                worst = max(worst, p50)
                # A first load: the page and everything it links, as a new browser gets it.
                first = weight(http, base, html, set())
                print(f"{name:<34}{status:>7}{p50:>9.1f}{p95:>9.1f}{'<' + format(TARGET_MS, 'g'):>9}"
                      f"{len(html.encode()) / 1024:>9.1f}{first / 1024:>10.1f}")
            print(f"\nslowest page p50: {worst:.1f} ms (target < {TARGET_MS:g} ms); first-load "
                  f"budget {WEIGHT_BUDGET // 1024} KB ('KB first': the page and what it links).")
        finally:
            collector.stop()


if __name__ == "__main__":
    main()
