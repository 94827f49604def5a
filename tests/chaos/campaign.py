"""A chaos campaign: real collector and ``--forward`` exporter, faults at random, then the audit.

Each round lets the generator append for a random moment, then injects one fault —
kill -9 of the writer process, of one gunicorn worker, of the whole collector (its
process group), or of the exporter; or a clean stop of the collector for a while —
and waits until ingest moves again (the recovery time). At the end the generator
stops, everything is (re)started, and once the exporter has nothing left to ship the
stored ``(session_id, uuid)`` pairs are compared with the written ones, identity by
identity, and the token totals with the generator's.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.chaos.generator import SOURCES, TOKEN_KINDS, Generator
from tests.exporter.running import Exporter
from tests.harness import Collector

log = logging.getLogger(__name__)

FAULTS = ("writer", "worker", "collector", "exporter", "stop")
#: The collector halts after more than 5 writer deaths in 60 s (server.MAX_RESTARTS):
#: a crash loop, not chaos. Stay under it; the collector kind resets the count.
WRITER_KILLS_PER_MINUTE = 4
#: Bounds on every wait of a round and of the final audit.
RECOVERY_TIMEOUT = 120.0
STALL_TIMEOUT = 90.0
SETTLE_TIMEOUT = 1800.0
#: Environment a developer may have set that would point the exporter at real sessions.
_FOREIGN_ENV = ("CODEX_HOME", "CLAUDE_CONFIG_DIR", "KIMI_SHARE_DIR", "QWEN_HOME",
                "GEMINI_CLI_HOME")


@dataclass
class Report:
    """What a campaign did and what the audit found."""

    seed: int
    rounds: int = 0
    kills: Counter = field(default_factory=Counter)
    entries: int = 0
    stored: int = 0
    lost: int = 0
    doubled: int = 0
    unexpected: int = 0
    longest_recovery: float = 0.0
    longest_kind: str = ""
    self_exits: int = 0  # times the collector exited without being told to
    settle_seconds: float = 0.0  # from the last round until everything was shipped
    stalled: bool = False  # the final drain stopped moving before it was done
    left_buffered: int | None = None  # payloads still in the exporter's buffer at the audit
    tokens_expected: dict = field(default_factory=dict)
    tokens_stored: dict = field(default_factory=dict)
    usage_mismatch: list = field(default_factory=list)
    examples: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every entry is stored exactly once and the tokens match."""
        return (self.lost == 0 and self.doubled == 0 and self.unexpected == 0
                and self.entries > 0 and not self.stalled
                and self.tokens_expected == self.tokens_stored
                and not self.usage_mismatch)

    def table(self) -> str:
        """The campaign's numbers as a small aligned table."""
        kills = ", ".join(f"{kind} {self.kills[kind]}" for kind in FAULTS)
        rows = [
            ("seed", self.seed), ("rounds", self.rounds), ("kills by kind", kills),
            ("entries written", self.entries), ("entries stored", self.stored),
            ("lost", self.lost), ("doubled", self.doubled), ("unexpected", self.unexpected),
            ("longest recovery", f"{self.longest_recovery:.2f} s ({self.longest_kind})"),
            ("collector self-exits", self.self_exits),
            ("final drain", f"{self.settle_seconds:.1f} s" + (" STALLED" if self.stalled else "")
             + f", {self.left_buffered} payloads left in the buffer"),
            ("tokens written", _tokens(self.tokens_expected)),
            ("tokens stored", _tokens(self.tokens_stored)),
            ("usage by source", "matches" if not self.usage_mismatch
             else "; ".join(self.usage_mismatch)),
            ("verdict", "PASS" if self.ok else "FAIL"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        lines += [f"  e.g. {example}" for example in self.examples]
        return "\n".join(lines)


def _tokens(tokens: dict) -> str:
    return " ".join(f"{kind}={tokens.get(kind)}" for kind in TOKEN_KINDS)


def workers(arbiter: int, writer: int | None) -> list[int]:
    """Return the pids of the arbiter's gunicorn workers (forks with its command line).

    The writer and multiprocessing's helpers are children too, spawned with other
    command lines; they are left out.
    """
    try:
        pids = Path(f"/proc/{arbiter}/task/{arbiter}/children").read_text().split()
    except OSError:
        return []
    found = []
    for pid in map(int, pids):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # exited meanwhile
        if b"collect" in cmdline and pid != writer:
            found.append(pid)
    return found


class Campaign:
    """One collector, one exporter, one generator in ``workdir``; faults at random."""

    def __init__(self, workdir: Path, seed: int, rate: float = 10.0,
                 pause: tuple[float, float] = (0.2, 1.5),
                 stop_for: tuple[float, float] = (0.5, 3.0), every_kind_first: bool = False,
                 out=print) -> None:
        self.workdir = workdir
        self.home = workdir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(seed)
        self.report = Report(seed)
        self.rate = rate
        self.pause = pause
        self.stop_for = stop_for
        self.out = out
        self.generator = Generator(self.home, random.Random(seed + 1))
        self.collector = Collector(workdir / "collector.duckdb", workdir / "collector.log")
        self.exporter: Exporter | None = None
        self.exporters = 0
        self.writer_kills: list[float] = []
        self.last_total = 0
        # Kinds forced first (in a random order), so that a short run covers them all.
        self.first = list(FAULTS) if every_kind_first else []
        self.rng.shuffle(self.first)

    # -- processes --------------------------------------------------------------------
    def start_collector(self) -> None:
        """Start (or start again) the collector on the same port and database."""
        self.collector = Collector(self.collector.storage, self.collector.log_path,
                                   port=self.collector.port).start(timeout=RECOVERY_TIMEOUT)
        self.writer_kills.clear()

    def start_exporter(self) -> None:
        """Start a new ``--forward`` exporter on the fake home (state kept in the home)."""
        self.exporters += 1
        xdg = {"XDG_CONFIG_HOME": str(self.home / ".config"),
               "XDG_STATE_HOME": str(self.home / ".local" / "state"),
               "XDG_CACHE_HOME": str(self.home / ".cache")}
        self.exporter = Exporter(self.home, self.workdir / "exporter.log", "--forward",
                                 "--collector-url", self.collector.url, **xdg)
        for name in _FOREIGN_ENV:
            self.exporter.env.pop(name, None)
        self.exporter.start()
        self.exporter.wait_ready(timeout=RECOVERY_TIMEOUT)

    def stats(self) -> dict | None:
        """``GET /v1/traces/stats``, or None while the collector cannot answer."""
        try:
            response = self.collector.get("/v1/traces/stats")
        except requests.RequestException:
            return None
        return response.json() if response.status_code == 200 else None

    def ensure_running(self) -> None:
        """Restart whatever exited on its own (counted: a collector should not)."""
        if self.collector.proc is None or self.collector.proc.poll() is not None:
            if self.collector.proc is not None:
                self.report.self_exits += 1
                self.out(f"collector exited on its own ({self.collector.proc.returncode}); "
                         "restarting it")
            self.start_collector()
        if self.exporter is None or self.exporter.proc.poll() is not None:
            if self.exporter is not None:
                raise AssertionError(f"exporter exited ({self.exporter.proc.returncode}):\n"
                                     f"{self.exporter.log()[-4000:]}")
            self.start_exporter()

    def stop_all(self) -> None:
        """Stop the generator and every process (bounded; for teardown)."""
        self.generator.stop()
        if self.exporter is not None:
            self.exporter.stop()
        self.collector.stop()

    # -- faults -----------------------------------------------------------------------
    def choose(self) -> str:
        """Pick a fault at random, skipping a writer kill that would start a crash loop."""
        if self.first:
            return self.first.pop()
        now = time.monotonic()
        self.writer_kills = [t for t in self.writer_kills if now - t < 60]
        kinds = [k for k in FAULTS
                 if k != "writer" or len(self.writer_kills) < WRITER_KILLS_PER_MINUTE]
        return self.rng.choice(kinds)

    def inject(self, kind: str) -> float:
        """Inject one fault; return the moment recovery is measured from."""
        if kind == "writer":
            stats = self.stats()
            if stats is None:
                raise AssertionError("no writer pid: the collector does not answer stats")
            os.kill(stats["writer_pid"], signal.SIGKILL)
            self.writer_kills.append(time.monotonic())
        elif kind == "worker":
            stats = self.stats()
            found = workers(self.collector.proc.pid, stats and stats["writer_pid"])
            if not found:
                raise AssertionError("the collector has no gunicorn worker to kill")
            os.kill(self.rng.choice(found), signal.SIGKILL)
        elif kind == "collector":
            self.collector.kill_group()
            moment = time.monotonic()
            self.start_collector()
            return moment
        elif kind == "exporter":
            self.exporter.kill()
            moment = time.monotonic()
            self.start_exporter()
            return moment
        else:  # stop: a clean SIGTERM, down for a while, started again
            self.collector.terminate()
            time.sleep(self.rng.uniform(*self.stop_for))
            moment = time.monotonic()
            self.start_collector()
            return moment
        return time.monotonic()

    def wait_ingest(self, since: float, before: int) -> float:
        """Wait until the collector stored more entries than ``before``; return the time."""
        deadline = since + RECOVERY_TIMEOUT
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats is not None and stats["total_traces"] > before:
                self.last_total = stats["total_traces"]
                return time.monotonic() - since
            if self.collector.proc.poll() is not None:
                self.ensure_running()
            time.sleep(0.05)
        raise AssertionError(f"ingest did not resume within {RECOVERY_TIMEOUT}s\n"
                             f"exporter:\n{self.exporter.log()[-3000:]}\n"
                             f"collector:\n{self.collector.log()[-3000:]}")

    def round(self) -> None:
        """Let the sessions grow a random moment, inject a fault, measure the recovery."""
        time.sleep(self.rng.uniform(*self.pause))
        self.ensure_running()
        stats = self.stats()
        before = stats["total_traces"] if stats is not None else self.last_total
        kind = self.choose()
        since = self.inject(kind)
        recovery = self.wait_ingest(since, before)
        self.report.rounds += 1
        self.report.kills[kind] += 1
        if recovery > self.report.longest_recovery:
            self.report.longest_recovery, self.report.longest_kind = recovery, kind
        self.out(f"round {self.report.rounds:4d}  {kind:<9}  recovered in {recovery:6.2f} s  "
                 f"written {len(self.generator.written)}")

    # -- the audit --------------------------------------------------------------------
    def stored(self) -> tuple[list[tuple[str, str]], set[str]]:
        """Every stored ``(session_id, uuid)`` (a duplicate would show twice), and sessions."""
        listed = self.collector.get("/v1/sessions", params={"limit": 500})
        listed.raise_for_status()
        sessions = {row["id"] for row in listed.json()}
        if len(sessions) >= 500:
            raise AssertionError("500 sessions or more: /v1/sessions cannot list them all")
        pairs = []
        for session in sorted(sessions | {s.session_id for s in self.generator.sessions}):
            offset = 0
            while True:
                response = self.collector.get(f"/v1/sessions/{session}/entries",
                                              params={"limit": 1000, "offset": offset})
                if response.status_code == 404:
                    break
                response.raise_for_status()
                page = response.json()
                pairs += [(session, row["uuid"]) for row in page]
                if len(page) < 1000:
                    break
                offset += 1000
        return pairs, sessions

    def settle(self) -> None:
        """Wait until the exporter has shipped everything and the stored count is stable.

        A backlog drains at its own pace: the wait ends when nothing is left (or nothing
        moved for STALL_TIMEOUT seconds, reported as a stall), bounded by SETTLE_TIMEOUT.
        """
        expected = len(self.generator.written)
        started = time.monotonic()
        progress_at, last = started, None
        while True:
            self.ensure_running()
            stats = self.stats()
            status = self.exporter.status() or {}
            buffered = status.get("buffer", {}).get("files")
            now = time.monotonic()
            seen = (stats and stats["total_traces"], buffered, status.get("lag_bytes"))
            if seen != last:
                progress_at, last = now, seen
            idle = status.get("lag_bytes") == 0 and buffered == 0
            if stats is not None and idle and (stats["total_traces"] >= expected
                                               or now - progress_at > 15):
                break
            if now - progress_at > STALL_TIMEOUT or now - started > SETTLE_TIMEOUT:
                self.report.stalled = True
                self.out(f"not settled: nothing moved for {now - progress_at:.0f} s "
                         f"({buffered} payloads buffered); auditing what is there")
                break
            time.sleep(0.2)
        self.report.settle_seconds = time.monotonic() - started
        self.report.left_buffered = (self.exporter.status() or {}).get("buffer", {}).get("files")

    def audit(self) -> Report:
        """Compare what is stored with what was written, identity by identity."""
        report = self.report
        pairs, _ = self.stored()
        counts = Counter(pairs)
        written = self.generator.written
        report.entries = len(written)
        report.stored = len(counts)
        report.doubled = sum(n - 1 for n in counts.values())
        lost = written - set(counts)
        unexpected = set(counts) - written
        report.lost, report.unexpected = len(lost), len(unexpected)
        report.examples = ([f"lost {p}" for p in sorted(lost)[:3]]
                           + [f"unexpected {p}" for p in sorted(unexpected)[:3]]
                           + [f"doubled {p}" for p, n in counts.items() if n > 1][:3])
        report.tokens_expected = self.generator.totals()
        report.tokens_stored = self.stats()["tokens"]
        usage = {row["key"]: row for row in
                 self.collector.get("/v1/usage", params={"group_by": "source"}).json()}
        for source in SOURCES:
            row = usage.get(source, {})
            got = {kind: row.get(f"{kind}_tokens", 0) for kind in TOKEN_KINDS}
            if got != self.generator.tokens[source]:
                report.usage_mismatch.append(f"{source}: stored {got}, "
                                             f"written {self.generator.tokens[source]}")
        return report

    # -- the whole run ----------------------------------------------------------------
    def run(self, rounds: int) -> Report:
        """Start everything, run ``rounds`` faults, stop the generator, settle, audit."""
        try:
            self.start_collector()
            self.start_exporter()
            self.generator.start(self.rate)
            for _ in range(rounds):
                self.round()
            self.generator.stop()
            self.settle()
            return self.audit()
        finally:
            self.stop_all()
