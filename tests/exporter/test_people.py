"""People end to end: real exporters, each for its own person, and a real ``thinkt collect``.

One exporter is told its user with ``--user``, another with ``THINKT_USER``, a third
with nothing (it sends ``git config user.email`` or ``login@hostname``); the collector
groups usage by them, filters sessions on them and shows each agent's.
"""

from __future__ import annotations

import pytest

from tests.exporter.corpus import write_session
from tests.exporter.running import Exporter
from tests.harness import Collector
from thinkt.exporter.state.identity import person

pytestmark = pytest.mark.slow

ALICE, BOB = "alice@example.com", "bob@example.com"


@pytest.fixture
def collector(tmp_path):
    running = Collector(tmp_path / "collector.duckdb", tmp_path / "collector.log").start()
    yield running
    running.stop()


def laptop(tmp_path, name: str, session: str, count: int):
    """A fake home with one Claude session of ``count`` lines and its own exporter identity
    (the instance id derives from machine and login, the same for every home here)."""
    home = tmp_path / name
    state = home / ".thinkt"
    state.mkdir(parents=True)
    (state / "instance-id").write_text(f"instance-{name}\n")
    return home, write_session(home, session, count)


def export(home, tmp_path, collector, *args, **env):
    done = Exporter(home, tmp_path / f"{home.name}.log", "--collector-url", collector.url,
                    *args, **env).run()
    assert done.returncode == 0, done.stdout + done.stderr


def test_usage_sessions_and_agents_by_user(collector, tmp_path, monkeypatch):
    # GIVEN three laptops: Alice's exporter run with --user, Bob's with THINKT_USER, and
    # one whose exporter is told nothing
    alice, _ = laptop(tmp_path, "alice", "alice-session", 6)
    bob, _ = laptop(tmp_path, "bob", "bob-session", 4)
    anon, _ = laptop(tmp_path, "anon", "anon-session", 2)
    # WHEN each runs once
    export(alice, tmp_path, collector, "--user", ALICE)
    export(bob, tmp_path, collector, THINKT_USER=BOB)
    export(anon, tmp_path, collector)
    monkeypatch.setenv("HOME", str(anon))
    default = person(None, anon)  # what it resolved: git's email or login@hostname
    # THEN usage is grouped by who sent it: every other line is an assistant reply
    # (10 input and 20 output tokens each)
    rows = collector.get("/v1/usage", params={"group_by": "user"}).json()
    assert sorted((r["key"], r["input_tokens"], r["output_tokens"], r["entries"],
                   r["sessions"]) for r in rows) == sorted([
        (ALICE, 30, 60, 6, 1), (BOB, 20, 40, 4, 1), (default, 10, 20, 2, 1)])
    [only_bob] = collector.get("/v1/usage", params={"group_by": "source",
                                                    "user": BOB}).json()
    assert (only_bob["key"], only_bob["entries"]) == ("claude", 4)
    # AND sessions show and filter by their user
    sessions = collector.get("/v1/sessions", params={"user": ALICE}).json()
    assert [(s["id"], s["user"]) for s in sessions] == [("alice-session", ALICE)]
    assert collector.get("/v1/sessions", params={"user": "nobody"}).json() == []
    # AND each agent shows its user
    agents = {a["instance_id"]: a["user"] for a in collector.get("/v1/agents").json()}
    assert agents == {"instance-alice": ALICE, "instance-bob": BOB, "instance-anon": default}
