#!/usr/bin/env python3
"""How fast the exporter empties its disk buffer after an outage, next to plain POSTs.

1. Fill: synthetic Claude Code sessions (``--payloads`` / 10 sessions of 1,000 entries,
   so 10 payloads of 100 entries each) in a fake home; a real ``thinkt export`` against
   a closed port puts every payload in ``~/.thinkt/export-buffer``. The buffered files
   are kept aside so each run below starts from the same buffer.
2. ``export --flush``: a fresh collector, then ``thinkt export --flush`` as a real
   process, timed from start to exit (the buffer must be empty).
3. ``export --forward``: the same buffer, a fresh collector, a forward exporter; timed
   from its start until the buffer directory holds no payload (then TERM).
4. Baseline: the same gzip bodies POSTed straight to a fresh collector by 8 threads,
   each with its own ``requests.Session`` (what the exporter's 8 in flight could reach).

Each run gets a fresh collector (``--workers``, default the collector's own default)
so none of them is sped up by duplicates, and must leave every entry stored in it (an
empty buffer alone would also count payloads set aside in ``rejected/``). ``ratio`` =
rate over the baseline's rate.

Usage: python3 bench/drain.py [--payloads 1000] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

import requests  # noqa: E402

from tests.conftest import free_port  # noqa: E402
from tests.exporter.corpus import write_session  # noqa: E402
from tests.harness import Collector, child_env, thinkt_command  # noqa: E402
from thinkt.collector.settings import default_workers  # noqa: E402

#: Threads of the baseline: the exporter's default concurrency.
THREADS = 8
#: Longest any timed run may take before the bench gives up on it.
RUN_LIMIT = 900.0
SUFFIX = ".json.gz"


def fill_buffer(home: Path, payloads: int) -> list[Path]:
    """Write the sessions and let an export with no collector buffer them; return the files."""
    for number in range((payloads + 9) // 10):
        write_session(home, f"drain-{number:05d}", 1000, text_bytes=80)
    closed = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(thinkt_command("export", "-q", "--collector-url", closed),
                            env=child_env(home), cwd=home, capture_output=True,
                            timeout=RUN_LIMIT)
    if result.returncode != 0:
        raise SystemExit(f"filling the buffer failed ({result.returncode}):\n"
                         f"{result.stdout.decode()}{result.stderr.decode()}")
    return sorted(buffer_dir(home).glob("*" + SUFFIX))


def buffer_dir(home: Path) -> Path:
    return home / ".thinkt" / "export-buffer"


def restore_buffer(home: Path, saved: Path) -> None:
    """Put the saved payload files back into the (emptied) buffer directory."""
    target = buffer_dir(home)
    for path in saved.iterdir():
        shutil.copy2(path, target / path.name)


def waiting(home: Path) -> int:
    return sum(1 for p in buffer_dir(home).iterdir() if p.name.endswith(SUFFIX))


def time_flush(home: Path, collector: Collector, log: Path) -> float:
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.run(thinkt_command("export", "--flush", "--collector-url",
                                             collector.url),
                              stdout=out, stderr=out, env=child_env(home), cwd=home,
                              timeout=RUN_LIMIT)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0 or waiting(home):
        raise SystemExit(f"flush failed ({proc.returncode}):\n{log.read_text()}")
    return elapsed


def time_forward(home: Path, collector: Collector, log: Path) -> float:
    out = open(log, "wb")
    started = time.perf_counter()
    proc = subprocess.Popen(thinkt_command("export", "--forward", "--collector-url",
                                           collector.url),
                            stdout=out, stderr=out, env=child_env(home), cwd=home)
    out.close()
    try:
        deadline = time.monotonic() + RUN_LIMIT
        while waiting(home) and time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"forward exporter exited:\n{log.read_text()}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        if waiting(home):
            raise SystemExit(f"forward exporter left {waiting(home)} payloads")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return elapsed


def check_stored(collector: Collector, expected: int, run: str) -> None:
    """Fail unless the collector holds every entry of the buffer (nothing rejected)."""
    stored = collector.get("/v1/traces/stats").json()["total_traces"]
    if stored != expected:
        raise SystemExit(f"{run}: the collector holds {stored:,} of {expected:,} entries")


def time_baseline(files: list[Path], url: str) -> float:
    """POST every body with THREADS threads, one Session each; return wall seconds."""
    bodies: queue.Queue = queue.Queue()
    for path in files:
        bodies.put(path.read_bytes())
    failures: list[int] = []
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}

    def send() -> None:
        with requests.Session() as session:
            while True:
                try:
                    body = bodies.get_nowait()
                except queue.Empty:
                    return
                response = session.post(url + "/v1/traces", data=body, headers=headers,
                                        timeout=60)
                if response.status_code != 200:
                    failures.append(response.status_code)

    threads = [threading.Thread(target=send) for _ in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(RUN_LIMIT)
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"baseline: {len(failures)} POSTs failed ({sorted(set(failures))})")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payloads", type=int, default=1000, help="Payloads to buffer.")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="Collector workers.")
    parser.add_argument("--skip", choices=("flush", "forward"), action="append", default=[],
                        help="Leave out a run.")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="thinkt-bench-drain-"))
    try:
        home = work / "home"
        started = time.perf_counter()
        files = fill_buffer(home, args.payloads)
        saved = work / "saved"
        saved.mkdir()
        for path in files:
            shutil.copy2(path, saved / path.name)
        size = sum(p.stat().st_size for p in files)
        entries = (args.payloads + 9) // 10 * 1000  # sessions of 1,000 entries
        print(f"buffer: {len(files):,} payloads ({size / 1e6:.1f} MB gzip, "
              f"{entries:,} entries) filled in {time.perf_counter() - started:.1f} s; "
              f"collector workers {args.workers}\n", flush=True)

        rows = []
        for run in ("flush", "forward"):
            if run in args.skip:
                continue
            if not waiting(home):
                restore_buffer(home, saved)
            collector = Collector(work / f"{run}.duckdb", work / f"{run}-collector.log",
                                  workers=args.workers).start()
            try:
                timer = time_flush if run == "flush" else time_forward
                rows.append((f"export --{run}", timer(home, collector, work / f"{run}.log")))
                check_stored(collector, entries, f"export --{run}")
            finally:
                collector.stop()
        collector = Collector(work / "baseline.duckdb", work / "baseline-collector.log",
                              workers=args.workers).start()
        try:
            baseline = time_baseline(files if files[0].exists() else
                                     sorted(saved.iterdir()), collector.url)
            check_stored(collector, entries, "baseline")
        finally:
            collector.stop()

        print(f"{'run':<32} {'wall s':>7} {'payloads/s':>11} {'entries/s':>10} {'ratio':>6}")
        for name, seconds in [(f"baseline: {THREADS} threads, plain POSTs", baseline), *rows]:
            rate = len(files) / seconds
            print(f"{name:<32} {seconds:>7.1f} {rate:>11.1f} {rate * 100:>10,.0f} "
                  f"{baseline / seconds:>6.2f}")
        print(f"\n{os.cpu_count()} cores shared by the collector and the exporter; each run "
              "starts from the same buffer and a fresh collector.")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
