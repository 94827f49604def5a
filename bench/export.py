#!/usr/bin/env python3
"""One-shot export speed to a real collector, next to plain read + parse; live latency.

1. A Claude Code corpus of ``--mb`` megabytes (default 200) is generated in a temporary
   fake home: the real samples (``shared/samples/claude``) repeated with every UUID
   renumbered per copy (so sessions and entries stay distinct), spread over session
   files of about ``--file-mb`` MB each.
2. Plain read + parse: the Claude parser reads every file to its end in this process
   (wall time), no shipping: the ceiling an export could reach.
3. One-shot export: ``thinkt export`` as a real process (HOME = the fake home) to a real
   ``thinkt collect`` on loopback, timed from start to exit (startup, discovery,
   shipping, the collector's commits); peak RSS of the exporter from ``wait4``.
   ``ratio`` = export MB/s over parse MB/s, same run, same bytes. Both processes share
   this machine's cores, so the collector's work shows in the ratio.
4. Live latency: a ``--forward`` exporter; ``--live-lines`` lines (default 1000) written
   one at a time at ``--rate`` lines/s (default 50); each line's latency is the
   collector's ``received_at`` for it minus the moment it was written (same clock).

Usage: python3 bench/export.py [--mb 200] [--file-mb 2] [--live-lines 1000] [--rate 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from parse import SAMPLES, renumber  # noqa: E402
from tests.exporter.corpus import claude_line, session_file  # noqa: E402
from tests.harness import Collector, child_env, group_pids, thinkt_command  # noqa: E402
from thinkt.collector.settings import default_workers  # noqa: E402
from thinkt.exporter.sources import get  # noqa: E402


def build_corpus(home: Path, size: int, file_size: int, samples: Path) -> list[Path]:
    """Write renumbered copies of the Claude samples into session files under ``home``."""
    parts = [p.read_bytes() for p in sorted((samples / "claude").glob("*.jsonl"))]
    parts = [p if p.endswith(b"\n") else p + b"\n" for p in parts]
    paths, written, copy = [], 0, 0
    while written < size:
        path = home / ".claude" / "projects" / f"-home-dev-p{len(paths) % 20}" / \
            f"{len(paths):08x}-0000-4000-8000-000000000000.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        in_file = 0
        with open(path, "wb") as fh:
            while in_file < file_size and written < size:
                for part in parts:
                    chunk = renumber(part, copy)
                    fh.write(chunk)
                    in_file += len(chunk)
                copy += 1
        written += in_file
        paths.append(path)
    return paths


def parse_all(paths: list[Path]) -> tuple[float, int]:
    """Read every file with the Claude parser; return (wall seconds, entries)."""
    source = get("claude")
    entries = 0
    started = time.perf_counter()
    for path in paths:
        offset, state = 0, None
        while True:
            result = source.read(path, offset, state)
            entries += len(result.entries)
            if result.offset <= offset:
                break
            offset, state = result.offset, result.state
    return time.perf_counter() - started, entries


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by the live processes of a process group (the collector)."""
    total = 0
    for pid in group_pids(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def export_once(home: Path, collector: Collector, log: Path) -> tuple[float, float, int, float]:
    """Run ``thinkt export`` to completion.

    Returns wall seconds, the exporter's CPU seconds, its peak RSS (KiB) and the CPU
    seconds the collector spent meanwhile.
    """
    collector_before = group_cpu(collector.proc.pid)
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(thinkt_command("export", "-q", "--collector-url", collector.url),
                                stdout=out, stderr=out, env=child_env(home), cwd=home)
        _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"export failed:\n{log.read_text()}")
    return (elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
            group_cpu(collector.proc.pid) - collector_before)


def stored_count(collector: Collector) -> int:
    return collector.get("/v1/traces/stats").json()["total_traces"]


def live_latency(home: Path, collector: Collector, lines: int, rate: float, work: Path,
                 ) -> tuple[list[float], int]:
    """Write lines at ``rate``/s to a forward exporter; return latencies (s) and its RSS."""
    log = open(work / "forward.log", "wb")
    proc = subprocess.Popen(thinkt_command("export", "--forward", "--collector-url",
                                           collector.url), stdout=log, stderr=log,
                            env=child_env(home), cwd=home)
    log.close()
    try:
        status_file = home / ".thinkt" / "exporter-status.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # ready once it wrote its status
            try:
                if json.loads(status_file.read_text())["pid"] == proc.pid:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        path = session_file(home, "live-bench")
        written: dict[str, float] = {}
        interval = 1.0 / rate
        start = time.monotonic()
        for n in range(lines):
            uuid = f"live-{n:05d}"
            target = start + n * interval
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with open(path, "ab") as fh:
                fh.write(claude_line(uuid, "live-bench", f"live line {n}"))
            written[uuid] = time.time()
        received: dict[str, float] = {}
        deadline = time.monotonic() + 60
        while len(received) < lines and time.monotonic() < deadline:
            offset = 0
            received.clear()
            while True:
                page = collector.get("/v1/sessions/live-bench/entries",
                                     params={"limit": 1000, "offset": offset})
                if page.status_code != 200:
                    break
                rows = page.json()
                for row in rows:
                    received[row["uuid"]] = datetime.fromisoformat(
                        row["received_at"].replace("Z", "+00:00")).timestamp()
                if len(rows) < 1000:
                    break
                offset += 1000
            time.sleep(0.2)
        rss = _rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return [received[u] - written[u] for u in written if u in received], rss


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200, help="Corpus size in MB.")
    parser.add_argument("--file-mb", type=float, default=2, help="Size of each session file.")
    parser.add_argument("--live-lines", type=int, default=1000, help="Lines for the latency run.")
    parser.add_argument("--rate", type=float, default=50, help="Lines per second when live.")
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="The samples directory.")
    args = parser.parse_args(argv)
    if not (args.samples / "claude").is_dir():
        print(f"samples not found at {args.samples}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="thinkt-bench-export-"))
    collector = None
    try:
        home = work / "home"
        paths = build_corpus(home, int(args.mb * 1e6), int(args.file_mb * 1e6), args.samples)
        megabytes = sum(p.stat().st_size for p in paths) / 1e6
        print(f"corpus: {megabytes:.1f} MB in {len(paths)} Claude session files\n", flush=True)

        parse_s, entries = parse_all(paths)
        # The collector's own default worker count on this machine.
        collector = Collector(work / "collector.duckdb", work / "collector.log",
                              workers=default_workers()).start()
        export_s, export_cpu, rss, collector_cpu = export_once(home, collector,
                                                               work / "export.log")
        stored = stored_count(collector)
        if stored != entries:
            print(f"warning: the collector holds {stored} entries, the parser read {entries}")
        print(f"{'run':<30} {'wall s':>7} {'MB/s':>7} {'entries/s':>10} {'ratio':>6} "
              f"{'CPU s':>6} {'peak RSS':>9}")
        print(f"{'read + parse (in process)':<30} {parse_s:>7.1f} {megabytes / parse_s:>7.1f} "
              f"{entries / parse_s:>10,.0f} {1:>6.2f} {parse_s:>6.1f} {'-':>9}")
        print(f"{'one-shot export -> collector':<30} {export_s:>7.1f} "
              f"{megabytes / export_s:>7.1f} {entries / export_s:>10,.0f} "
              f"{parse_s / export_s:>6.2f} {export_cpu:>6.1f} {rss / 1024:>6.0f} MB")
        print(f"\n{entries:,} entries, {megabytes / entries * 1e6:,.0f} bytes of session file "
              f"per entry; ratio = export rate / parse rate of the same bytes, same run.")
        print(f"Exporter CPU: {export_cpu:.1f} s ({megabytes / export_cpu:.1f} MB per CPU "
              f"second); the collector used {collector_cpu:.1f} CPU s meanwhile on the same "
              f"{os.cpu_count()} cores.\n", flush=True)

        latencies, live_rss = live_latency(home, collector, args.live_lines, args.rate, work)
        if len(latencies) < args.live_lines:
            print(f"warning: only {len(latencies)} of {args.live_lines} live lines arrived")
        print(f"live: {len(latencies)} lines at {args.rate:g}/s through --forward "
              f"(peak RSS {live_rss / 1024:.0f} MB)")
        print(f"{'latency':<10} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}")
        print(f"{'ms':<10} {percentile(latencies, 0.5) * 1e3:>8.0f} "
              f"{percentile(latencies, 0.9) * 1e3:>8.0f} "
              f"{percentile(latencies, 0.99) * 1e3:>8.0f} {max(latencies) * 1e3:>8.0f}")
        print(f"  (mean {statistics.mean(latencies) * 1e3:.0f} ms; written -> the collector's "
              "received_at for the entry)")
    finally:
        if collector is not None:
            collector.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
