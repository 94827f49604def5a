"""A real ``thinkt collect`` and real exporter processes on a fake home: the issue's promises.

Every line written reaches the collector, and none is stored twice, whatever is
killed in between; lines written live are queryable within a second; an idle
forward exporter uses no CPU.
"""

from __future__ import annotations

import json
import os
import random
import time

import pytest

from tests.exporter.corpus import claude_line, session_file, write_session
from tests.exporter.running import Exporter, cpu_seconds
from tests.harness import Collector

pytestmark = pytest.mark.slow


@pytest.fixture
def collector(tmp_path):
    running = Collector(tmp_path / "collector.duckdb", tmp_path / "collector.log").start()
    yield running
    running.stop()


def restart(collector: Collector) -> Collector:
    """A new collector process on the same port and database."""
    again = Collector(collector.storage, collector.log_path, port=collector.port)
    return again.start()


def stored(collector: Collector, session: str) -> list[str]:
    """Every stored uuid of ``session`` (duplicates would show twice)."""
    uuids, offset = [], 0
    while True:
        response = collector.get(f"/v1/sessions/{session}/entries",
                                 params={"limit": 1000, "offset": offset})
        if response.status_code == 404:
            return uuids
        response.raise_for_status()
        page = response.json()
        uuids += [row["uuid"] for row in page]
        if len(page) < 1000:
            return uuids
        offset += 1000


def wait_stored(collector, expected: dict[str, list[str]], proc=None, timeout=60.0):
    """Wait until every session holds exactly the expected uuids, each once."""
    deadline = time.monotonic() + timeout
    while True:
        got = {session: stored(collector, session) for session in expected}
        if all(sorted(got[s]) == sorted(set(u)) for s, u in expected.items()):
            return got
        if time.monotonic() > deadline:
            missing = {s: len(set(u) - set(got[s])) for s, u in expected.items()}
            log = proc.log() if proc is not None else ""
            raise AssertionError(f"missing per session: {missing}\n{log}\n{collector.log()}")
        time.sleep(0.1)


def offsets_saved(proc: Exporter, paths) -> bool:
    """True once the exporter's offsets file holds each of ``paths`` at its full size."""
    try:
        files = json.loads((proc.state_dir / "offsets.json").read_text())["files"]
    except (OSError, ValueError, KeyError):
        return False
    return all(files.get(str(p), {}).get("offset") == p.stat().st_size for p in paths)


def forward(home, tmp_path, collector, name="forward", *args) -> Exporter:
    proc = Exporter(home, tmp_path / f"{name}.log", "--forward", "--collector-url", collector.url,
                    *args).start()
    proc.wait_ready()
    return proc


def test_live_lines_are_queryable_within_a_second(collector, home, tmp_path):
    proc = forward(home, tmp_path, collector)
    try:
        path = session_file(home, "live")
        written = []
        for n in range(40):  # written live, one line at a time
            uuid = f"live-{n:03d}"
            with open(path, "ab") as fh:
                fh.write(claude_line(uuid, "live", f"line {n}"))
            written.append(uuid)
            time.sleep(0.01)
        last_write = time.monotonic()
        while sorted(stored(collector, "live")) != written:
            assert time.monotonic() - last_write < 1.0, \
                f"not all 40 lines queryable 1 s after the last write\n{proc.log()}"
            time.sleep(0.02)

        # A project directory created after the start is picked up.
        fresh = write_session(home, "fresh", 5, project="-made-after-start")
        wait_stored(collector, {"fresh": fresh}, proc, timeout=10)

        # Half a line is not shipped until its newline arrives: decided once a line
        # written after it to another file of the directory is stored (its events come
        # later, and the exporter reads changed files in the order they changed).
        line = claude_line("live-half", "live", "written in two parts")
        with open(path, "ab") as fh:
            fh.write(line[:30])
        after = write_session(home, "after-half", 1)
        wait_stored(collector, {"after-half": after}, proc, timeout=10)
        assert "live-half" not in stored(collector, "live")
        with open(path, "ab") as fh:
            fh.write(line[30:])
        wait_stored(collector, {"live": written + ["live-half"]}, proc, timeout=10)

        # Idle: no CPU to speak of over five seconds, from the moment the exporter has
        # saved the offsets of everything it shipped (its last piece of work).
        files = [path, session_file(home, "fresh", "-made-after-start"),
                 session_file(home, "after-half")]
        proc.wait_for(lambda: offsets_saved(proc, files), what="the final offsets saved")
        before = cpu_seconds(proc.proc.pid)
        time.sleep(5)
        used = cpu_seconds(proc.proc.pid) - before
        assert used < 0.1, f"idle exporter used {used:.2f}s of CPU in 5 s"
        assert proc.terminate() == 0, proc.log()
    finally:
        proc.stop()


def test_collector_down_and_exporter_killed_nothing_lost_nothing_twice(collector, home,
                                                                       tmp_path):
    proc = forward(home, tmp_path, collector, "first")
    first = write_session(home, "crash", 50)
    wait_stored(collector, {"crash": first}, proc)
    collector.terminate()
    second = write_session(home, "crash", 50, start=50)  # the exporter buffers these
    proc.wait_for(lambda: (proc.status() or {}).get("buffer", {}).get("files"),
                  what="payloads in the buffer")
    proc.kill()  # kill -9 while the collector is down
    third = write_session(home, "crash", 20, start=100)  # written while nothing runs
    collector = restart(collector)
    try:
        again = forward(home, tmp_path, collector, "second")
        try:
            wait_stored(collector, {"crash": first + second + third}, again)
            sessions = collector.get("/v1/sessions").json()
            assert next(s for s in sessions if s["id"] == "crash")["entry_count"] == 120
            assert again.terminate() == 0
        finally:
            again.stop()
    finally:
        collector.stop()


def test_kill_9_at_random_points(collector, home, tmp_path):
    seed = int(os.environ.get("EXPORTER_KILL_SEED", time.time()))
    rng = random.Random(seed)
    expected: dict[str, list[str]] = {f"k{n}": [] for n in range(3)}
    written = {s: 0 for s in expected}
    proc = None
    for round_number in range(20):
        mode = rng.choice(["forward", "forward", "once"])
        args = ["--forward"] if mode == "forward" else []
        proc = Exporter(home, tmp_path / f"round-{round_number}.log", "--collector-url",
                        collector.url, *args).start()
        deadline = time.monotonic() + rng.uniform(0.05, 1.2)
        while time.monotonic() < deadline:
            session = rng.choice(list(expected))
            count = rng.randint(1, 30)
            expected[session] += write_session(home, session, count, start=written[session])
            written[session] += count
            time.sleep(rng.uniform(0.0, 0.1))
        proc.kill()
        if rng.random() < 0.25:  # the collector crashes too, now and then
            collector.kill_group()
            collector = restart(collector)
    final = Exporter(home, tmp_path / "final.log", "--forward", "--collector-url",
                     collector.url).start()
    try:
        wait_stored(collector, expected, final, timeout=120)
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {exc}") from None
    finally:
        final.stop()
        collector.stop()


def test_one_shot_buffers_while_down_then_flush_sends(collector, home, tmp_path):
    uuids = write_session(home, "flush", 30)
    collector.terminate()
    once = Exporter(home, tmp_path / "once.log", "--collector-url", collector.url).run()
    assert once.returncode == 0, once.stderr
    assert once.stdout.splitlines()[-1].startswith("Buffered: 30 new entries are safe in")
    collector = restart(collector)
    try:
        flushed = Exporter(home, tmp_path / "flush.log", "--flush", "--collector-url",
                           collector.url).run()
        assert flushed.returncode == 0, flushed.stderr
        assert flushed.stdout.splitlines()[-1].startswith(
            "Flushed 1 of 1 buffered payloads (30 entries, 0 already there); 0 rejected; 0 left")
        wait_stored(collector, {"flush": uuids})
        agents = collector.get("/v1/agents").json()
        assert len(agents) == 1 and agents[0]["trace_count"] == 30
    finally:
        collector.stop()
