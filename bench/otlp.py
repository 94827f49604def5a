"""OTLP log records/s end to end, against /v1/traces entries/s in the same run.

One real ``thinkt collect`` (loopback, a free port, a token) is sent, by ``--concurrency``
client threads with a ``requests.Session`` each, the same kind of events two ways:

- ``POST /v1/logs``: OTLP/HTTP protobuf exports (``Content-Type: application/x-protobuf``)
  as Claude Code sends them: resource ``service.name=claude-code``, one scope,
  ``--records`` log records per request whose body is the event's full name
  (``claude_code.user_prompt``, ``claude_code.api_request``, ``claude_code.tool_result``)
  and whose attributes are strings (``event.name``, ``session.id``, ``user.email``,
  ``prompt.id``, ``request_id``, token counts, ``tool_use_id``, ...). Each prompt is
  followed by 2-4 API requests and 2-4 tool results, as in a real session; every record
  has its own ``time_unix_nano`` and id, so nothing is deduplicated.
- ``POST /v1/traces``: our own JSON batches (as the exporter sends them) of the same
  number of entries of the same shapes: the prompt as a ``user`` entry with its text, each
  API request as an ``assistant`` entry with its model and tokens, each tool result as a
  ``tool_result`` entry. This is the baseline: the existing ingest path.

Both paths answer 200 only after the writer committed. Each request carries one session's
events (a Claude Code process exports its own session; a batch is one session); a session
spans ``SESSION_REQUESTS`` consecutive requests, so a run touches many sessions. All bodies
are built before the clock starts. The two paths are timed in alternating phases on the
same collector (logs, traces, traces, logs, ... over ``--rounds``), so neither gains from
running on a smaller store; a warm-up of both paths comes first, untimed. ``ratio`` =
OTLP records/s / ``/v1/traces`` entries/s. A 503 is retried after its Retry-After (as
OTLP clients do) and counted; its latency runs from the first attempt to the 200. A
second table splits the CPU each path spent per 1,000 records between the collector's
HTTP workers, its writer and the client threads (from ``/proc``), which says where a gap
between the two rates comes from.

After each phase the store is checked through ``GET /v1/traces/stats``: it must have
gained exactly the entries, sessions and tokens sent, with no duplicates (and, from the
OTLP path, its ``telemetry`` sessions and API request events); at the end its totals
must equal everything sent both ways. Any failed request, partial success or
mismatch prints FAILED and exits 1.

    .venv/bin/python bench/otlp.py [--records 50] [--requests 2000] [--concurrency 16]
                                   [--workers N] [--rounds 2] [--seed 7]

Defaults take about a minute on 2 cores (the clients share them with the collector).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import queue
import random
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (  # noqa: E402
    ExportLogsServiceRequest, ExportLogsServiceResponse)
from opentelemetry.proto.common.v1.common_pb2 import (  # noqa: E402
    AnyValue, InstrumentationScope, KeyValue)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs  # noqa: E402
from opentelemetry.proto.resource.v1.resource_pb2 import Resource  # noqa: E402

from tests.harness import Collector, group_pids  # noqa: E402
from thinkt.collector.settings import default_workers  # noqa: E402

LOGS, TRACES = "/v1/logs", "/v1/traces"
#: The table's names of the two rates; the baseline's is the issue's wording.
LABELS = {LOGS: "/v1/logs OTLP records/s", TRACES: "/v1/traces entries/s (same run)"}
#: Consecutive requests of one session (a Claude Code process exports every few seconds).
SESSION_REQUESTS = 4
#: Attempts of one request answered 503 before it counts as failed (as load.py).
MAX_ATTEMPTS = 60

RESOURCE = {"service.name": "claude-code", "service.version": "2.1.220", "os.type": "linux",
            "os.version": "6.8.0-45-generic", "host.arch": "amd64"}
SCOPE = ("com.anthropic.claude_code.events", "2.1.220")
MODELS = ("claude-sonnet-4-5", "claude-opus-4-6", "claude-haiku-4-5")
TOOLS = ("Bash", "Read", "Edit", "Grep", "Glob", "Write")
WORDS = ("refactor the writer so each batch commits once and search stays fast under load "
         "while workers wait fix failing test parse session tokens model import module "
         "function return value error duckdb query index rollup usage").split()
PEOPLE = tuple(f"dev{n}@example.com" for n in range(12))
#: The events' times: from a day ago, 10 ms apart (distinct, in the past, and a default
#: run's spread over most of an hour, as a team's are, rather than one rollup cell).
EPOCH = datetime(1970, 1, 1)
BASE_NS = int((datetime.now(timezone.utc) - timedelta(days=1)).timestamp()) * 10**9
STEP_NS = 10_000_000


class Event(NamedTuple):
    """One Claude Code event: its full name, time and attributes (all strings)."""

    name: str
    time_ns: int
    attrs: dict[str, str]


@dataclass
class Body:
    """One request as sent, and what the store must gain from it."""

    data: bytes
    records: int
    tokens: Counter = field(default_factory=Counter)
    session: str = ""
    #: API request events the telemetry tables must gain (0 for a /v1/traces batch).
    api_requests: int = 0


@dataclass
class Phase:
    """One timed pass of one path: what was acknowledged, how long it took, what failed."""

    path: str
    requests: int = 0
    records: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    busy: int = 0  # 503 answers (retried)
    failures: list[str] = field(default_factory=list)
    commits: int = 0
    committed: int = 0  # requests the writer committed (writer counter, any path)
    #: CPU seconds spent in the phase by the HTTP workers, the writer and this process.
    cpu: Counter = field(default_factory=Counter)


def ident(*parts: object) -> str:
    """A UUID derived from ``parts``: the same run makes the same ids, no two alike."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))))


def hexid(*parts: object) -> str:
    """A hex digest of ``parts``: the tools' ``req_...`` and ``toolu_...`` ids are cut from it."""
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def iso(time_ns: int) -> str:
    """RFC 3339 (UTC, microseconds) of a time in nanoseconds since the epoch."""
    moment = EPOCH + timedelta(microseconds=time_ns // 1000)
    return moment.isoformat(timespec="microseconds") + "Z"


def session_events(session_id: str, person: str, rng: random.Random,
                   clock: Iterator[int]) -> Iterator[Event]:
    """Yield a Claude Code session's events without end: a prompt, then its API requests
    (2-4) and tool results (2-4) taking turns, then the next prompt."""
    common = {"session.id": session_id, "user.id": hexid("user", person),
              "user.email": person, "user.account_uuid": ident("account", person),
              "organization.id": ident("org"), "terminal.type": "vscode"}
    sequence = itertools.count(1)
    for prompt in itertools.count():
        prompt_id = ident(session_id, "prompt", prompt)

        def event(short: str, **attrs: str) -> Event:
            when = next(clock)
            return Event(f"claude_code.{short}", when, {
                **common, "prompt.id": prompt_id, "event.name": short,
                "event.timestamp": iso(when), "event.sequence": str(next(sequence)), **attrs})

        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 60)))
        yield event("user_prompt", prompt=text, prompt_length=str(len(text)),
                    **{"message.uuid": ident(session_id, "message", prompt)})
        calls = ["api_request"] * rng.randint(2, 4)
        tools = ["tool_result"] * rng.randint(2, 4)
        # api, tool, api, tool, ...: a response asks for a tool, its result goes back.
        turns = [kind for pair in itertools.zip_longest(calls, tools) for kind in pair if kind]
        for number, kind in enumerate(turns):
            if kind == "api_request":
                tokens = {"input_tokens": rng.randint(1, 800),
                          "output_tokens": rng.randint(20, 2500),
                          "cache_read_tokens": rng.randint(0, 90_000),
                          "cache_creation_tokens": rng.randint(0, 6_000)}
                yield event("api_request", model=rng.choice(MODELS),
                            cost_usd=f"{rng.uniform(0.001, 0.2):.6f}",
                            duration_ms=str(rng.randint(400, 30_000)),
                            request_id="req_011" + hexid(session_id, prompt, number)[:21],
                            **{name: str(value) for name, value in tokens.items()})
            else:
                tool = rng.choice(TOOLS)
                ok = rng.random() > 0.05
                extra = {} if ok else {"error": "Exit code 1"}
                yield event("tool_result", tool_name=tool, success="true" if ok else "false",
                            duration_ms=str(rng.randint(5, 20_000)), decision="accept",
                            source="config",
                            tool_use_id="toolu_01" + hexid(session_id, prompt, number)[:22],
                            tool_parameters=json.dumps({"bash_command": "pytest -q"}
                                                       if tool == "Bash" else {}),
                            **extra)


def tokens_of(events: list[Event]) -> Counter:
    """The token totals the store must gain from ``events`` (keys as in stats' ``tokens``)."""
    total: Counter = Counter()
    for e in events:
        if e.name == "claude_code.api_request":
            total["input"] += int(e.attrs["input_tokens"])
            total["output"] += int(e.attrs["output_tokens"])
            total["cache_read"] += int(e.attrs["cache_read_tokens"])
            total["cache_write"] += int(e.attrs["cache_creation_tokens"])
    return total


def otlp_body(events: list[Event]) -> bytes:
    """An ExportLogsServiceRequest as Claude Code's SDK sends it: one resource, one scope."""
    def value(text: str) -> AnyValue:
        return AnyValue(string_value=text)

    records = [LogRecord(time_unix_nano=e.time_ns, observed_time_unix_nano=e.time_ns + 250_000,
                         body=value(e.name),
                         attributes=[KeyValue(key=k, value=value(v)) for k, v in e.attrs.items()])
               for e in events]
    return ExportLogsServiceRequest(resource_logs=[ResourceLogs(
        resource=Resource(attributes=[KeyValue(key=k, value=value(v))
                                      for k, v in RESOURCE.items()]),
        scope_logs=[ScopeLogs(scope=InstrumentationScope(name=SCOPE[0], version=SCOPE[1]),
                              log_records=records)])]).SerializeToString()


def entry(e: Event) -> dict:
    """The entry our exporter would send for the same event (its transcript's ids)."""
    a, when = e.attrs, iso(e.time_ns)
    if e.name == "claude_code.user_prompt":
        return {"uuid": a["message.uuid"], "role": "user", "text": a["prompt"], "timestamp": when}
    if e.name == "claude_code.api_request":
        return {"uuid": ident(a["request_id"]), "role": "assistant", "model": a["model"],
                "timestamp": when, "message_id": "msg_01" + a["request_id"][7:],
                "input_tokens": int(a["input_tokens"]), "output_tokens": int(a["output_tokens"]),
                "cache_read_tokens": int(a["cache_read_tokens"]),
                "cache_write_tokens": int(a["cache_creation_tokens"])}
    return {"uuid": ident(a["tool_use_id"]), "role": "tool_result", "tool_name": a["tool_name"],
            "is_error": a["success"] == "false", "text": a.get("error"), "timestamp": when}


def traces_body(session_id: str, person: str, events: list[Event]) -> bytes:
    """A /v1/traces batch of ``events`` as entries, with the envelope our exporter sends."""
    return json.dumps({"source": "claude", "session_id": session_id, "user": person,
                       "project_path": "/home/dev/project", "instance_id": "bench-agent",
                       "entries": [entry(e) for e in events]}).encode()


def make_bodies(path: str, tag: str, count: int, records: int, seed: int,
                clock: Iterator[int]) -> list[Body]:
    """``count`` requests of ``records`` events each for ``path``; sessions named by ``tag``.

    Both paths use the same seed for a phase, so their events have the same shapes and
    sizes; only the ids (made from ``tag``) differ, so no session is shared between them
    (telemetry of a session a transcript tells is not stored: precedence.py).
    """
    rng = random.Random(seed)
    bodies: list[Body] = []
    stream: Iterator[Event] = iter(())
    session = person = ""
    for number in range(count):
        if number % SESSION_REQUESTS == 0:
            session = ident(tag, "session", number // SESSION_REQUESTS)
            person = rng.choice(PEOPLE)
            stream = session_events(session, person, rng, clock)
        events = list(itertools.islice(stream, records))
        data = otlp_body(events) if path == LOGS else traces_body(session, person, events)
        calls = sum(e.name == "claude_code.api_request" for e in events) if path == LOGS else 0
        bodies.append(Body(data, len(events), tokens_of(events), session, calls))
    return bodies


def check_logs(response: requests.Response, body: Body) -> str | None:
    """Why an OTLP answer is not a full success (None when it is)."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.content[:300]!r}"
    answer = ExportLogsServiceResponse()
    answer.ParseFromString(response.content)
    partial = answer.partial_success
    if partial.rejected_log_records or partial.error_message:
        return f"partial success: {partial.rejected_log_records} rejected: {partial.error_message}"
    return None


def check_traces(response: requests.Response, body: Body) -> str | None:
    """Why a /v1/traces answer is not every entry accepted as new (None when it is)."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    answer = response.json()
    if answer.get("accepted") != body.records or answer.get("duplicates") or answer.get("rejected"):
        return f"not all stored: {answer}"
    return None


def post_all(url: str, path: str, bodies: list[Body], token: str, concurrency: int) -> Phase:
    """POST every body with ``concurrency`` threads, one Session each; time the whole."""
    check: Callable[[requests.Response, Body], str | None] = \
        check_logs if path == LOGS else check_traces
    headers = {"Authorization": f"Bearer {token}",
               "Content-Type": "application/x-protobuf" if path == LOGS else "application/json"}
    todo: queue.Queue = queue.Queue()
    for body in bodies:
        todo.put(body)
    phase = Phase(path)
    lock = threading.Lock()

    def send() -> None:
        with requests.Session() as session:
            while True:
                try:
                    body = todo.get_nowait()
                except queue.Empty:
                    return
                started, busy, problem = time.perf_counter(), 0, None
                for _attempt in range(MAX_ATTEMPTS):
                    try:
                        response = session.post(url + path, data=body.data, headers=headers,
                                                timeout=120)
                    except requests.RequestException as exc:
                        problem = f"no answer: {exc}"
                        break
                    if response.status_code != 503:
                        problem = check(response, body)
                        break
                    busy += 1
                    # OTLP clients honour Retry-After; bounded, so a stuck writer still ends.
                    time.sleep(min(5.0, float(response.headers.get("Retry-After", "1"))))
                else:
                    problem = f"still 503 after {MAX_ATTEMPTS} attempts"
                elapsed = time.perf_counter() - started
                with lock:
                    phase.busy += busy
                    if problem is None:
                        phase.requests += 1
                        phase.records += body.records
                        phase.latencies.append(elapsed)
                    else:
                        phase.failures.append(problem)

    threads = [threading.Thread(target=send) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - started
    return phase


#: In the writer's command line: it is the one process started with multiprocessing's
#: spawn (as bench/load.py tells it).
WRITER_MARK = b"spawn_main"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pgid: int) -> Counter:
    """CPU seconds (user + system) used so far by the collector's writer, by the rest of
    its process group (gunicorn's workers and arbiter), and by this process (the clients)."""
    used: Counter = Counter()
    for pid in group_pids(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # a process that just exited
        # fields[0] is the state (field 3 of proc(5)): utime and stime are fields 14, 15.
        ticks = int(fields[11]) + int(fields[12])
        used["writer" if WRITER_MARK in cmdline else "workers"] += ticks / TICK
    mine = os.times()
    used["clients"] = mine.user + mine.system
    return used


def stats(collector: Collector) -> dict:
    """``GET /v1/traces/stats`` (with the token); raises unless it answers 200."""
    response = collector.get("/v1/traces/stats")
    response.raise_for_status()
    return response.json()


def gained(before: dict, after: dict, bodies: list[Body], what: str) -> list[str]:
    """Compare what the store gained between two stats with what ``bodies`` carried."""
    problems = []
    expect = {"total_traces": sum(b.records for b in bodies),
              "total_sessions": len({b.session for b in bodies}),
              "duplicates_suppressed": 0}
    for key, wanted in expect.items():
        got = after[key] - before[key]
        if got != wanted:
            problems.append(f"{what}: {key} grew by {got:,}, expected {wanted:,}")
    tokens = sum((b.tokens for b in bodies), Counter())
    for kind in ("input", "output", "cache_read", "cache_write"):
        got = after["tokens"][kind] - before["tokens"][kind]
        if got != tokens[kind]:
            problems.append(f"{what}: {kind} tokens grew by {got:,}, expected {tokens[kind]:,}")
    # The telemetry block (sessions told by telemetry, API request events kept) tells the
    # OTLP path's own tables from the entries both paths share; older stats lack it.
    if "telemetry" in before and "telemetry" in after:
        expect = {"sessions": len({b.session for b in bodies if b.api_requests}),
                  "api_requests": sum(b.api_requests for b in bodies)}
        for key, wanted in expect.items():
            got = after["telemetry"][key] - before["telemetry"][key]
            if got != wanted:
                problems.append(f"{what}: telemetry {key} grew by {got:,}, expected {wanted:,}")
    return problems


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (seconds) in milliseconds, 0 for none."""
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50,
                        help="log records (entries) per request (default 50)")
    parser.add_argument("--requests", type=int, default=2000,
                        help="timed requests per path, split over the rounds (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="client threads, one requests.Session each (default 16)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="the collector's HTTP workers (default: the collector's own)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating phases per path: logs, traces, traces, logs, ...")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if min(args.records, args.requests, args.concurrency, args.workers, args.rounds) < 1:
        parser.error("every size must be at least 1")

    clock = itertools.count(BASE_NS, STEP_NS)
    per_round = [args.requests // args.rounds + (r < args.requests % args.rounds)
                 for r in range(args.rounds)]
    # Round r runs logs first when r is even: over two rounds each path goes first once.
    plan = [(path, r, per_round[r]) for r in range(args.rounds)
            for path in ((LOGS, TRACES) if r % 2 == 0 else (TRACES, LOGS)) if per_round[r]]
    started = time.perf_counter()
    # Enough warm-up requests for every worker to serve some of each path before the clock
    # starts (a worker's first requests of a kind are slower: imports, caches).
    warm_requests = 2 * max(args.concurrency, args.workers)
    warmup = {path: make_bodies(path, f"{path}-warm", warm_requests, args.records,
                                args.seed - 1, clock) for path in (LOGS, TRACES)}
    # The same seed for both paths of a round: the same shapes, other ids.
    bodies = {(path, r): make_bodies(path, f"{path}-{r}", n, args.records, args.seed + r, clock)
              for path, r, n in plan}
    sizes = {path: sum(len(b.data) for (p, _), bs in bodies.items() if p == path for b in bs)
             / max(1, sum(len(bs) for (p, _), bs in bodies.items() if p == path))
             for path in (LOGS, TRACES)}
    rounds = f"{args.rounds} round{'s' * (args.rounds > 1)}"
    print(f"otlp: {args.requests} requests x {args.records} records per path ({rounds}), "
          f"{args.concurrency} client threads, {args.workers} workers, {os.cpu_count()} cores; "
          f"bodies {sizes[LOGS] / 1024:.1f} KiB protobuf, "
          f"{sizes[TRACES] / 1024:.1f} KiB JSON per request (built in "
          f"{time.perf_counter() - started:.1f} s)", flush=True)

    token = secrets.token_urlsafe(24)
    workdir = Path(tempfile.mkdtemp(prefix="thinkt-bench-otlp-"))
    collector = Collector(workdir / "c.duckdb", workdir / "c.log", token=token,
                          workers=args.workers)
    problems: list[str] = []
    phases: list[Phase] = []
    try:
        collector.start()
        first = stats(collector)
        for path in (LOGS, TRACES):
            before = stats(collector)
            warm = post_all(collector.url, path, warmup[path], token, args.concurrency)
            problems += [f"warm-up {path}: {p}" for p in warm.failures[:5]]
            problems += gained(before, stats(collector), warmup[path], f"warm-up {path}")
        for path, r, _ in plan:
            before = stats(collector)
            cpu_before = cpu_seconds(collector.proc.pid)
            phase = post_all(collector.url, path, bodies[path, r], token, args.concurrency)
            phase.cpu = cpu_seconds(collector.proc.pid)
            phase.cpu.subtract(cpu_before)
            # The stats query also brings the rollup up to date (Rollup.ensure_fresh), so
            # no phase inherits the previous one's refresh work.
            after = stats(collector)
            phase.commits = after["commits"] - before["commits"]
            phase.committed = after["requests_committed"] - before["requests_committed"]
            phases.append(phase)
            problems += [f"round {r + 1} {path}: {p}" for p in phase.failures[:5]]
            if len(phase.failures) > 5:
                problems.append(f"round {r + 1} {path}: {len(phase.failures) - 5} more failed")
            problems += gained(before, after, bodies[path, r], f"round {r + 1} {path}")
            print(f"  round {r + 1} {path:<11}{phase.records:>9,} records in "
                  f"{phase.seconds:6.1f} s = {phase.records / phase.seconds:>8,.0f}/s, "
                  f"{phase.committed / max(1, phase.commits):.1f} requests/commit, "
                  f"{phase.busy} x 503", flush=True)
        final = stats(collector)
    except (requests.RequestException, AssertionError) as exc:
        # The collector died or never started: say so with its log, and fail.
        print(f"FAILED: {exc}\n{collector.log()[-4000:]}")
        return 1
    finally:
        collector.stop()
        log_text = collector.log()
        shutil.rmtree(workdir, ignore_errors=True)

    everything = [b for bs in (*warmup.values(), *bodies.values()) for b in bs]
    sent = {path: sum(b.records for (p, _), bs in bodies.items() if p == path for b in bs)
            + sum(b.records for b in warmup[path]) for path in (LOGS, TRACES)}
    problems += gained(first, final, everything, "whole run")

    print(f"\n{'':<33}{'requests':>9}{'rec/req':>8}{'records':>10}{'seconds':>9}"
          f"{'rate/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'req/commit':>11}{'503s':>6}")
    rates = {}
    for path in (LOGS, TRACES):
        mine = [p for p in phases if p.path == path]
        done, seconds = sum(p.requests for p in mine), sum(p.seconds for p in mine)
        records = sum(p.records for p in mine)
        latencies = [x for p in mine for x in p.latencies]
        rates[path] = records / seconds if seconds else 0.0
        group = sum(p.committed for p in mine) / max(1, sum(p.commits for p in mine))
        print(f"{LABELS[path]:<33}{done:>9,}{records / max(1, done):>8.0f}{records:>10,}"
              f"{seconds:>9.1f}{rates[path]:>9,.0f}{pct(latencies, 0.5):>8.1f}"
              f"{pct(latencies, 0.95):>8.1f}{group:>11.1f}{sum(p.busy for p in mine):>6}")
    ratio = rates[LOGS] / rates[TRACES] if rates[TRACES] else float("nan")
    print(f"{'ratio (OTLP / traces)':<33}{'':>36}{ratio:>9.2f}")

    # Where the time goes: on 2 shared cores the rate is bounded by the CPU each record
    # costs, so this says which process makes one path slower than the other.
    print(f"\n{'CPU ms per 1,000 records':<33}{'workers':>9}{'writer':>9}{'clients':>9}"
          f"{'total':>9}")
    for path in (LOGS, TRACES):
        mine = [p for p in phases if p.path == path]
        records = max(1, sum(p.records for p in mine))
        cpu = sum((p.cpu for p in mine), Counter())
        parts = [cpu[name] * 1e6 / records for name in ("workers", "writer", "clients")]
        print(f"{LABELS[path].split(' ')[0]:<33}" + "".join(f"{x:>9.0f}" for x in parts)
              + f"{sum(parts):>9.0f}")

    print(f"\nstore: total_traces {final['total_traces']:,} (sent {sum(sent.values()):,}: "
          f"OTLP {sent[LOGS]:,} + /v1/traces {sent[TRACES]:,}, warm-up included), "
          f"sessions {final['total_sessions']:,}, input tokens {final['tokens']['input']:,}, "
          f"duplicates {final['duplicates_suppressed']}")
    if "telemetry" in final:
        print(f"       telemetry sessions {final['telemetry']['sessions']:,}, API request "
              f"events {final['telemetry']['api_requests']:,}")
    # Not a failure by itself (the counts above decide), but worth seeing in a report.
    errors = [line for line in log_text.splitlines()
              if re.search(r"\b(ERROR|CRITICAL)\b|^Traceback", line)]
    if errors:
        print(f"collector log: {len(errors)} error lines, first: {errors[0][:200]}")
    if problems:
        print("FAILED:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print(f"OK: the store holds every record and entry sent, both ways "
          f"({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
