#!/usr/bin/env python3
"""Redactions on real sessions: every sample parsed by its source, each entry's text redacted.

Prints the texts with a hit and the count per rule (false positives, since the samples
hold no live secrets as far as anyone knows; issue 14 allows at most 0.1% of texts),
then with ``--show`` every hit with a little context around its marker, to be judged by
eye. Also times the redactor, best of ``--repeat`` runs, in CPU seconds per million
characters, next to the parse itself as a baseline measured in the same run; with
``--baseline REV`` the redactor of that git revision is measured in the same run too.

Usage: python3 bench/redact_samples.py [--samples DIR] [--show] [--repeat N] [--baseline REV]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from thinkt.exporter import sources as registry  # noqa: E402
from thinkt.exporter.ship import redact  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "samples"
ALLOWED_SHARE = 0.001  # issue 14: false positives on at most 0.1% of texts


def texts(samples: Path):
    """Yield ``(file, text)`` for every entry text the parsers find in the samples."""
    for name in registry.NAMES:
        source = registry.get(name)
        for path in sorted((samples / name).glob("*")):
            if path.suffix not in (".jsonl", ".json"):
                continue
            result = source.read(path, 0, None)
            for entry in result.entries:
                if entry.text:
                    yield path.name, entry.text


def redactor_at(revision: str):
    """Return a Redactor class built from ``thinkt/exporter/ship/redact.py`` at ``revision``."""
    source = subprocess.run(["git", "-C", str(ROOT), "show",
                             f"{revision}:thinkt/exporter/ship/redact.py"],
                            check=True, capture_output=True, text=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py") as handle:
        handle.write(source)
        handle.flush()
        spec = importlib.util.spec_from_file_location("redact_at_" + revision, handle.name)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return module.Redactor


def best_cpu(run, repeat: int) -> float:
    """Return the least CPU time of ``repeat`` calls of ``run``."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    parser.add_argument("--show", action="store_true", help="print every hit with context")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the best counts")
    parser.add_argument("--baseline", metavar="REV",
                        help="also time the redactor of this git revision (e.g. HEAD~3)")
    args = parser.parse_args()
    corpus = []
    parse_cpu = best_cpu(lambda: corpus.__setitem__(slice(None), texts(args.samples)),
                         args.repeat)
    megs = sum(len(text) for _, text in corpus) / 1e6
    print(f"{len(corpus)} entry texts, {megs:.2f} M characters")
    print(f"{'parse (baseline)':<24} {parse_cpu / megs:7.3f} s CPU per M characters")
    timed = [("redact", redact.Redactor)]
    if args.baseline:
        timed.insert(0, (f"redact at {args.baseline}", redactor_at(args.baseline)))
    for label, make in timed:
        redactor = make()
        cpu = best_cpu(lambda: [redactor.redact(text) for _, text in corpus], args.repeat)
        print(f"{label:<24} {cpu / megs:7.3f} s CPU per M characters "
              f"({cpu / parse_cpu:.0%} of the parse)")
    redactor = redact.Redactor()
    results = [(name, redactor.redact(text)) for name, text in corpus]
    hit = sum(1 for _, (_, counts) in results if counts)
    share = hit / max(len(corpus), 1)
    verdict = "within" if share <= ALLOWED_SHARE else "OVER"
    print(f"texts with a hit: {hit} of {len(corpus)} ({share:.3%}; {verdict} the "
          f"{ALLOWED_SHARE:.1%} allowed), {len(redact.rule_names())} rules")
    for name, count in redactor.totals().items():
        print(f"  {name:<32} {count:>5}")
    if args.show:
        for name, (text, counts) in results:
            at = 0
            while counts and (at := text.find("[REDACTED:", at)) >= 0:
                print(f"--- {name}: {text[max(0, at - 80):at + 100]!r}")
                at += 10
    return 0


if __name__ == "__main__":
    sys.exit(main())
