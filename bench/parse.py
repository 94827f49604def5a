#!/usr/bin/env python3
"""Parse speed of every source on a generated corpus, next to plain read + json.loads.

For each source the real samples (``shared/samples/<source>/*.jsonl``) are repeated into
one large session file, placed where the assistant writes it, until it reaches ``--mb``
megabytes; every UUID in a copy is rewritten (its first 8 hex digits become the copy
number) so messages stay distinct. Rewritten-in-place formats (Gemini and Copilot JSON)
get their own rows: many copies of the real files. The corpus lives in a temporary
directory, deleted at the end; nothing is committed.

Each row times, in CPU seconds (best of ``--repeat``, so other work on the machine
matters less): the parser reading the files to their end the way the exporter does
(slices of complete lines, state carried), and the baseline of plain reading the same
bytes and ``json.loads`` of every line (or of the whole document). ``ratio`` = parser
MB/s over baseline MB/s; the aim is at least 0.70.

Usage: python3 bench/parse.py [--mb 50] [--repeat 3] [--source NAME ...] [--samples DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from thinkt.exporter.sources import NAMES, get, is_whole_file  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "samples"
AIM = 0.70
_UUID = re.compile(rb"[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")

# source -> where one appended session file lives (relative to the corpus home)
APPENDED = {
    "claude": ".claude/projects/-home-dev-app/0b0e2f4c-6a0e-4a39-9d7e-2f7d1c7a9e01.jsonl",
    "codex": ".codex/sessions/2026/02/23/"
             "rollout-2026-02-23T12-40-23-019c8a4c-ed82-79a1-aa28-7738fc5ab61a.jsonl",
    "gemini": ".gemini/tmp/9da8b3df/chats/session-2026-04-23T12-52-0ab84937.jsonl",
    "copilot": ".copilot/session-state/96ef38f0-9d09-45c3-8124-6448c36090ed/events.jsonl",
    "kimi": ".kimi-code/sessions/wd_p_1/session_1bcbe023-4f7e-4971-9dc9-43b8756045b0/"
            "agents/main/wire.jsonl",
    "qwen": ".qwen/projects/-tmp-qwentest/chats/69f0814a-8bfc-4c8e-93d3-05757f17b96f.jsonl",
}
# row name -> (source, sample glob, directory for the copies, copy file name pattern)
REWRITTEN = {
    "gemini json": ("gemini", "*.json", ".gemini/tmp/9da8b3df/chats", "session-{n:06d}.json"),
    "copilot json": ("copilot", "*.json", ".copilot/history-session-state", "s-{n:06d}.json"),
}


def renumber(data: bytes, copy: int) -> bytes:
    """Return ``data`` with each UUID's first 8 hex digits replaced by the copy number."""
    prefix = b"%08x" % copy
    return _UUID.sub(lambda m: prefix + m.group(1), data)


class NoSamples(Exception):
    """A row has no sample files to build its corpus from."""


def sample_bytes(samples: Path, name: str, pattern: str) -> list[bytes]:
    """Return the contents of the samples of ``name`` matching ``pattern`` (at least one)."""
    parts = [p.read_bytes() for p in sorted((samples / name).glob(pattern))]
    if not parts:  # repeating nothing up to the corpus size would never end
        raise NoSamples(f"no {pattern} samples in {samples / name}")
    return parts


def build_appended(name: str, samples: Path, home: Path, size: int) -> list[Path]:
    parts = sample_bytes(samples, name, "*.jsonl")
    parts = [p if p.endswith(b"\n") else p + b"\n" for p in parts]  # complete lines only
    path = home / APPENDED[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    written, copy = 0, 0
    with open(path, "wb") as fh:
        while written < size:
            for part in parts:
                chunk = renumber(part, copy)
                fh.write(chunk)
                written += len(chunk)
            copy += 1
    return [path]


def build_rewritten(row: str, samples: Path, home: Path, size: int) -> list[Path]:
    name, pattern, directory, file_name = REWRITTEN[row]
    parts = sample_bytes(samples, name, pattern)
    target = home / directory
    target.mkdir(parents=True, exist_ok=True)
    paths, written = [], 0
    while written < size:
        for part in parts:
            path = target / file_name.format(n=len(paths))
            path.write_bytes(renumber(part, len(paths)))
            paths.append(path)
            written += len(part)
    return paths


def parse(source, paths: list[Path]) -> int:
    """Read every file to its end like the exporter; return the number of entries."""
    entries = 0
    for path in paths:
        offset, state = 0, None
        while True:
            result = source.read(path, offset, state)
            entries += len(result.entries)
            if result.offset <= offset or is_whole_file(source, path):
                break
            offset, state = result.offset, json.loads(json.dumps(result.state))
    return entries


def baseline(paths: list[Path], whole: bool) -> int:
    """Plain read of the same bytes and json.loads per line (or per document)."""
    count = 0
    for path in paths:
        data = path.read_bytes()
        if whole:
            json.loads(data)
            count += 1
            continue
        for line in data.split(b"\n"):
            if line:
                json.loads(line)
                count += 1
    return count


def best_cpu_seconds(func, repeat: int) -> tuple[float, int]:
    best, value = float("inf"), 0
    for _ in range(repeat):
        start = time.process_time()
        value = func()
        best = min(best, time.process_time() - start)
    return max(best, 1e-9), value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50, help="Corpus size per source, in MB.")
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs per row (best kept).")
    parser.add_argument("--source", action="append", choices=NAMES + tuple(REWRITTEN),
                        help="Only this row (repeatable).")
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="The samples directory.")
    args = parser.parse_args(argv)
    if not args.samples.is_dir():
        print(f"samples not found at {args.samples}", file=sys.stderr)
        return 2
    rows = args.source or list(NAMES) + list(REWRITTEN)
    size = int(args.mb * 1_000_000)
    header = ("source", "MB", "files", "entries", "parse MB/s", "entries/s", "json MB/s",
              "ratio")
    print("  ".join(f"{h:>12}" if i else f"{h:<13}" for i, h in enumerate(header)))
    below = []
    home = Path(tempfile.mkdtemp(prefix="thinkt-bench-"))
    try:
        for row in rows:
            whole = row in REWRITTEN
            name = REWRITTEN[row][0] if whole else row
            try:
                paths = (build_rewritten(row, args.samples, home, size // 5) if whole
                         else build_appended(row, args.samples, home, size))
            except NoSamples as exc:
                print(f"{row:<13}  skipped: {exc}", flush=True)
                continue
            megabytes = sum(p.stat().st_size for p in paths) / 1_000_000
            source = get(name)
            parse_s, entries = best_cpu_seconds(lambda: parse(source, paths), args.repeat)
            json_s, _ = best_cpu_seconds(lambda: baseline(paths, whole), args.repeat)
            ratio = json_s / parse_s
            if ratio < AIM:
                below.append(row)
            print(f"{row:<13}  {megabytes:>12.1f}  {len(paths):>12,}  {entries:>12,}  "
                  f"{megabytes / parse_s:>12.1f}  {entries / parse_s:>12,.0f}  "
                  f"{megabytes / json_s:>12.1f}  {ratio:>12.2f}", flush=True)
            for path in paths:
                path.unlink()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"\nratio = parser MB/s / (read + json.loads) MB/s, CPU time, best of {args.repeat};"
          f" aim >= {AIM:.2f}." + (f" Below the aim: {', '.join(below)}." if below else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
