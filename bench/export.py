#!/usr/bin/env python3
"""One-shot export to a real collector next to plain read + parse, by session-file size.

For each file size in ``--sizes`` (MB, default 1,10,40,100), in a fresh temporary
directory:

1. Corpus: ``--mb`` MB (default 200) of Claude Code history in a fake home, made of
   session files of that size (``round(mb / size)`` of them, at least one). The lines
   are the real samples (``shared/samples/claude``) with every UUID renumbered per copy
   (so entries stay distinct); where the samples are absent, synthetic records
   (``tests/exporter/corpus.py``) with ~1.6 KB of text each. The output names the
   corpus used.
2. Parse (the baseline): in this process the Claude parser reads every file to its end
   in slices, its state carried from one read to the next as the exporter does; wall
   time, entries counted.
3. Export: ``thinkt export`` as a real process (HOME = the fake home, its own buffer
   directory and an empty config file) to a real ``thinkt collect`` on a free loopback
   port with a fresh DuckDB file; wall time from start to exit, the exit status, and
   the exporter's peak RSS from ``wait4``. Then the entries the collector stored
   (``total_traces`` of ``/v1/traces/stats``), which must equal the parsed entries:
   the row says MISMATCH when they differ.

``export entries/s`` = entries the collector stored / export wall seconds (what was
lost does not count); ``ratio`` = export entries/s / parse entries/s, same files, same
run. The exporter and the collector share this machine's cores.

With ``--live-lines N``: live latency too. A ``--forward`` exporter in an empty home,
N lines written one at a time at ``--rate`` lines/s; each line's latency is the
collector's ``received_at`` for it minus the moment it was written (same clock).

Every process started here (exporters, each collector's process group) and the
temporary directory are gone at the end, also on failure, Ctrl-C or SIGTERM.

Usage: python3 bench/export.py [--mb 200] [--sizes 1,10,40,100] [--live-lines 0]
                               [--rate 50] [--samples DIR] [--export-timeout 1200]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from parse import SAMPLES, parse, renumber  # noqa: E402
from tests.exporter.corpus import claude_line, session_file  # noqa: E402
from tests.harness import Collector, child_env, thinkt_command  # noqa: E402
from thinkt.collector.settings import default_workers  # noqa: E402
from thinkt.exporter.sources import get  # noqa: E402

MB = 1_000_000
WORDS = ("the quick brown fox jumps over lazy dog refactor function test module import "
         "error value return class python duckdb query index writer worker batch commit "
         "session token model request response").split()
# Variables that would point the exporter at the developer's own files or systemd's.
FOREIGN = ("CLAUDE_CONFIG_DIR", "RUNTIME_DIRECTORY", "CONFIGURATION_DIRECTORY",
           "LOGS_DIRECTORY", "CACHE_DIRECTORY", "JOURNAL_STREAM", "WATCHDOG_USEC",
           "LISTEN_FDS")


def sample_lines(samples: Path) -> Iterator[bytes]:
    """The sample files' lines, endlessly: every UUID renumbered per copy of the set."""
    parts = [p.read_bytes() for p in sorted(samples.glob("*.jsonl"))]
    parts = [p if p.endswith(b"\n") else p + b"\n" for p in parts]
    copy = 0
    while True:
        for part in parts:
            yield from renumber(part, copy).splitlines(keepends=True)
        copy += 1


def synthetic_lines() -> Iterator[bytes]:
    """Synthetic user/assistant records with ~1.6 KB of words each, endlessly."""
    rng = random.Random(13)
    n = 0
    while True:
        text = " ".join(rng.choices(WORDS, k=260))
        yield claude_line(f"{n:08x}-0000-4000-8000-000000000000", f"synthetic-{n // 1000:06d}",
                          text, role="user" if n % 2 == 0 else "assistant")
        n += 1


def build_corpus(home: Path, files: int, file_size: int, lines: Iterator[bytes]) -> list[Path]:
    """Write ``files`` Claude session files of about ``file_size`` bytes each under ``home``."""
    paths = []
    for number in range(files):
        path = home / ".claude" / "projects" / f"-home-dev-p{number % 20}" / \
            f"{number:08x}-0000-4000-8000-000000000000.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with open(path, "wb") as fh:
            while written < file_size:
                written += fh.write(next(lines))
        paths.append(path)
    return paths


def exporter_env(home: Path) -> dict[str, str]:
    """The exporter's environment: everything of its user inside the fake home."""
    env = child_env(home, XDG_CONFIG_HOME=str(home / ".config"),
                    XDG_STATE_HOME=str(home / ".local" / "state"),
                    XDG_CACHE_HOME=str(home / ".cache"))
    for name in FOREIGN:
        env.pop(name, None)
    return env


def exporter_args(home: Path, collector: Collector, *extra: str) -> list[str]:
    """``thinkt export`` for the fake home only: its config, its buffer, Claude only."""
    config = home / "bench-config.toml"
    config.touch()
    return thinkt_command("export", "--config", str(config), "--source", "claude",
                          "--buffer-dir", str(home / "bench-buffer"),
                          "--collector-url", collector.url, *extra)


def start_exporter(home: Path, collector: Collector, log: Path, *extra: str,
                   ) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(exporter_args(home, collector, *extra), stdout=out,
                                stderr=out, stdin=subprocess.DEVNULL, env=exporter_env(home),
                                cwd=home, start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group of ``proc`` (started in its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclasses.dataclass
class Export:
    seconds: float
    status: str  # the exit code, or "timeout" / "signal N"
    peak_rss_kib: int


def export_once(home: Path, collector: Collector, log: Path, timeout: float) -> Export:
    """Run a one-shot ``thinkt export`` to its exit (killed after ``timeout`` s)."""
    started = time.perf_counter()
    proc = start_exporter(home, collector, log, "-q")
    reaped, timed_out = False, False
    try:
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                timed_out = True
                kill_group(proc)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        reaped = True
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits again
        elapsed = time.perf_counter() - started
    finally:
        kill_group(proc)  # whatever it left behind, or all of it on Ctrl-C
        if not reaped:
            proc.wait(timeout=10)
    code = proc.returncode
    return Export(elapsed, "timeout" if timed_out else str(code) if code >= 0
                  else f"signal {-code}", usage.ru_maxrss)


def leftover(directory: Path) -> tuple[int, int]:
    """Files and bytes below ``directory`` (what the exporter left in its buffer)."""
    files = [p for p in directory.rglob("*") if p.is_file()] if directory.is_dir() else []
    return len(files), sum(p.stat().st_size for p in files)


def tail(path: Path, lines: int = 4) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join("      | " + line for line in text[-lines:])


@dataclasses.dataclass
class Row:
    file_mb: float
    files: int
    entries: int
    parse_s: float
    export: Export
    stored: int
    notes: list[str]

    def cells(self) -> list[str]:
        parse_rate = self.entries / self.parse_s
        export_rate = self.stored / self.export.seconds
        check = "ok" if self.stored == self.entries else "MISMATCH"
        return [f"{self.file_mb:g}", f"{self.files:,}", f"{self.entries:,}",
                f"{parse_rate:,.0f}", f"{export_rate:,.0f}", f"{export_rate / parse_rate:.2f}",
                f"{self.export.peak_rss_kib / 1024:,.0f}", f"{self.stored:,}", check,
                self.export.status, f"{self.parse_s:.1f}", f"{self.export.seconds:.1f}"]


HEADER = ["file MB", "files", "entries", "parse e/s", "export e/s", "ratio", "RSS MB",
          "stored", "check", "exit", "parse s", "export s"]


def format_row(cells: list[str]) -> str:
    widths = [7, 6, 10, 10, 10, 6, 7, 10, 8, 7, 8, 8]
    return "  ".join(c.rjust(w) for c, w in zip(cells, widths))


def measure(size_mb: float, args: argparse.Namespace, work: Path,
            lines: Callable[[], Iterator[bytes]]) -> Row:
    """One row: build the corpus, parse it, export it to a fresh collector."""
    files = max(1, round(args.mb / size_mb))
    home = work / "home"
    paths = build_corpus(home, files, int(size_mb * MB), lines())
    parse_started = time.perf_counter()
    entries = parse(get("claude"), paths)
    parse_s = time.perf_counter() - parse_started
    collector = Collector(work / "collector.duckdb", work / "collector.log",
                          workers=default_workers())
    try:
        collector.start()
        export = export_once(home, collector, work / "export.log", args.export_timeout)
        stored = collector.get("/v1/traces/stats").json()["total_traces"]
    finally:
        collector.stop()
    notes = []
    left, left_bytes = leftover(home / "bench-buffer")
    if left:
        notes.append(f"{left} files ({left_bytes / MB:.1f} MB) left in the export buffer")
    if export.status != "0" or stored != entries:
        log = tail(work / "export.log")
        notes.append("the exporter's last output:\n" + log if log else
                     "the exporter printed nothing (-q: warnings and errors only)")
    return Row(size_mb, files, entries, parse_s, export, stored, notes)


def live_latency(work: Path, lines: int, rate: float) -> tuple[list[float], int]:
    """Write ``lines`` at ``rate``/s to a forward exporter; return latencies (s), peak RSS."""
    home = work / "live-home"
    home.mkdir()
    collector = Collector(work / "live.duckdb", work / "live-collector.log",
                          workers=default_workers())
    proc = None
    try:
        collector.start()
        proc = start_exporter(home, collector, work / "forward.log", "--forward")
        path = session_file(home, "live-bench")

        def arrived() -> dict[str, float]:
            """uuid -> received_at (epoch seconds) of the entries the collector holds."""
            received, offset = {}, 0
            while True:
                page = collector.get("/v1/sessions/live-bench/entries",
                                     params={"limit": 1000, "offset": offset})
                if page.status_code != 200:
                    return received
                rows = page.json()
                for row in rows:
                    received[row["uuid"]] = datetime.fromisoformat(
                        row["received_at"].replace("Z", "+00:00")).timestamp()
                if len(rows) < 1000:
                    return received
                offset += 1000

        # Ready once a first line has made it through (not timed).
        with open(path, "ab") as fh:
            fh.write(claude_line("live-probe", "live-bench", "probe"))
        deadline = time.monotonic() + 60
        while "live-probe" not in arrived():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the forward exporter never shipped its first line:\n"
                                 f"{tail(work / 'forward.log', 20)}")
            time.sleep(0.1)
        written: dict[str, float] = {}
        start = time.monotonic()
        for n in range(lines):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            uuid = f"live-{n:05d}"
            with open(path, "ab") as fh:
                fh.write(claude_line(uuid, "live-bench", f"live line {n}"))
            written[uuid] = time.time()
        deadline = time.monotonic() + 60
        received = arrived()
        while len(received) < lines + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
            received = arrived()
        rss = peak_rss_kib(proc.pid)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            kill_group(proc)
            proc.wait(timeout=10)
        collector.stop()
    return [received[u] - written[u] for u in written if u in received], rss


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores{' (' + model + ')' if model else ''}, "
            f"{memory:.0f} GiB RAM, Python {sys.version.split()[0]}")


def sizes(text: str) -> list[float]:
    values = [float(v) for v in text.split(",") if v.strip()]
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("a comma-separated list of positive MB values")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200, help="History size per row, in MB.")
    parser.add_argument("--sizes", type=sizes, default=[1, 10, 40, 100],
                        help="Session-file sizes in MB, comma-separated (one row each).")
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="The samples directory.")
    parser.add_argument("--export-timeout", type=float, default=1200,
                        help="Seconds before an export is killed (its row says timeout).")
    parser.add_argument("--live-lines", type=int, default=0,
                        help="Lines for the live-latency run (0: no live run).")
    parser.add_argument("--rate", type=float, default=50, help="Lines per second when live.")
    args = parser.parse_args(argv)

    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop every process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    claude_samples = args.samples / "claude"
    if any(claude_samples.glob("*.jsonl")):
        corpus = f"the real samples in {claude_samples}, UUIDs renumbered per copy"
        lines = functools.partial(sample_lines, claude_samples)  # each row the same lines
    else:
        corpus = (f"synthetic (no samples at {claude_samples}): tests/exporter/corpus.py "
                  "claude_line records with ~1.6 KB of text")
        lines = synthetic_lines
    print(f"machine: {machine()}\ncorpus: {corpus}\n"
          f"history: {args.mb:g} MB per row; collector workers: {default_workers()}\n",
          flush=True)
    print(format_row(HEADER), flush=True)
    rows = []
    work = Path(tempfile.mkdtemp(prefix="thinkt-bench-export-"))
    try:
        for size in args.sizes:
            row_dir = work / f"{size:g}mb"
            row = measure(size, args, row_dir, lines)
            shutil.rmtree(row_dir, ignore_errors=True)
            rows.append(row)
            print(format_row(row.cells()), flush=True)
            for note in row.notes:
                print(f"    {size:g} MB: {note}", flush=True)
        print("\nentries = what the Claude parser reads in this process; parse e/s = those "
              "over its wall time.\nexport e/s = entries the collector stored (stored) over "
              "the wall time of `thinkt export`, start to exit;\nratio = export e/s / parse "
              "e/s; RSS = the exporter's peak (wait4); check: stored == entries.")
        if any(r.stored != r.entries for r in rows):
            print("MISMATCH: the collector does not hold every entry the parser read for "
                  + ", ".join(f"{r.file_mb:g} MB files ({r.stored:,} of {r.entries:,})"
                              for r in rows if r.stored != r.entries) + ".")
        if args.live_lines > 0:
            latencies, rss = live_latency(work, args.live_lines, args.rate)
            print(f"\nlive: {len(latencies)} of {args.live_lines} lines arrived, written at "
                  f"{args.rate:g}/s through --forward (exporter peak RSS {rss / 1024:.0f} MB)")
            if latencies:
                print(f"{'latency ms':<10} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} "
                      f"{'mean':>8}")
                print(f"{'':<10} " + " ".join(
                    f"{v * 1e3:>8.0f}" for v in (
                        percentile(latencies, 0.5), percentile(latencies, 0.9),
                        percentile(latencies, 0.99), max(latencies),
                        statistics.mean(latencies))))
    except KeyboardInterrupt:
        print("interrupted: every process stopped, the temporary files removed",
              file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if any(r.stored != r.entries or r.export.status != "0" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
