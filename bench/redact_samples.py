#!/usr/bin/env python3
"""Redactions on real sessions: every sample parsed by its source, each entry's text redacted.

Prints the count per rule (the false positives, since the samples hold no live secrets
as far as anyone knows), then with ``--show`` every hit with a little context around its
marker, to be judged by eye. Also times the redactor against the parse itself, so the
cost of redaction is seen next to a baseline measured in the same run.

Usage: python3 bench/redact_samples.py [--samples DIR] [--show]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from thinkt.exporter import sources as registry  # noqa: E402
from thinkt.exporter.ship.redact import NAMES, Redactor  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "samples"


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    parser.add_argument("--show", action="store_true", help="print every hit with context")
    args = parser.parse_args()
    started = time.process_time()
    corpus = list(texts(args.samples))
    parse_cpu = time.process_time() - started
    redactor = Redactor()
    started = time.process_time()
    results = [(name, redactor.redact(text)) for name, text in corpus]
    redact_cpu = time.process_time() - started
    size = sum(len(text) for _, text in corpus)
    print(f"{len(corpus)} entry texts, {size / 1e6:.1f} M characters")
    print(f"{'rule':<16} {'hits':>5}")
    totals = redactor.totals()
    for name in NAMES:
        print(f"{name:<16} {totals.get(name, 0):>5}")
    print(f"{'parse (baseline)':<20} {parse_cpu:7.3f} s CPU")
    print(f"{'redact':<20} {redact_cpu:7.3f} s CPU ({redact_cpu / max(parse_cpu, 1e-9):.0%} "
          "of the parse)")
    if args.show:
        for name, (text, counts) in results:
            at = 0
            while counts and (at := text.find("[REDACTED:", at)) >= 0:
                print(f"--- {name}: {text[max(0, at - 80):at + 100]!r}")
                at += 10
    return 0


if __name__ == "__main__":
    sys.exit(main())
