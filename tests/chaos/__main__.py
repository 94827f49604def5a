"""Run a chaos campaign by hand: ``python -m tests.chaos --rounds 100``.

Prints one line per round and the final table; exits 0 only when nothing was lost
or doubled and the token totals match. The work directory (databases, logs, the fake
home) is kept when ``--keep`` is given or the campaign failed.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from tests.chaos.campaign import Campaign

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the campaign, print its report; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--rounds", type=int, default=100, help="faults to inject (100)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument("--rate", type=float, default=10.0,
                        help="exchanges appended per second (10; 2-5 entries each)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to put the fake home, database and logs (a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time())
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="thinkt-chaos-"))
    print(f"chaos campaign: seed {seed}, {args.rounds} rounds, work directory {workdir}",
          flush=True)
    # SIGTERM (timeout, CI cancelling) unwinds like Ctrl-C, so that the collector and
    # exporter, each in its own session, are stopped rather than left running.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    campaign = Campaign(workdir, seed, rate=args.rate,
                        out=lambda line: print(line, flush=True))
    started = time.monotonic()
    report = campaign.run(args.rounds)
    print(f"\n{report.table()}\nduration  {time.monotonic() - started:.0f} s")
    if args.keep or not report.ok:
        print(f"work directory kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
