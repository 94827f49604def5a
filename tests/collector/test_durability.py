"""What the collector acknowledged, against real processes: kept through kill -9, never doubled.

CONTRACT.md §1: a 200 means committed; anything that answered 200 survives ``kill -9`` of
any collector process a moment later; sending again never creates a duplicate row. Shown
here with the whole process group killed while 32 clients are mid-request at the default
worker count, and with an acknowledged batch sent again after a restart.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import threading
import time

import pytest
import requests

from tests.harness import Collector

pytestmark = pytest.mark.slow

#: Concurrent clients: more than the default worker count on CI's machines, so requests
#: also wait in the listen backlog when the kill comes.
CLIENTS = 32
#: Entries per request.
BATCH = 25
#: Sessions the clients share, so one group commit holds several sessions' entries.
SESSIONS = 8
#: Grouping keys of GET /v1/usage.
USAGE_KEYS = ("source", "model", "project", "day", "agent", "session")


def at_default_workers(storage, log_path) -> Collector:
    """A collector started without ``--workers``: the count an operator gets by default."""
    live = Collector(storage, log_path)
    at = live.args.index("--workers")
    del live.args[at:at + 2]
    return live


def stored_entries(live: Collector, sessions) -> dict[tuple[str, str], list[str]]:
    """Every stored entry of ``sessions``: (session_id, uuid) -> its texts (one if stored once)."""
    stored: dict[tuple[str, str], list[str]] = {}
    for session in sessions:
        offset = 0
        while True:
            response = live.get(f"/v1/sessions/{session}/entries",
                                params={"limit": 1000, "offset": offset})
            if response.status_code == 404:
                break
            assert response.status_code == 200, (response.status_code, response.text[:300])
            page = response.json()
            for row in page:
                stored.setdefault((session, row["uuid"]), []).append(row["text"])
            if len(page) < 1000:
                break
            offset += 1000
    return stored


class Load:
    """CLIENTS threads, each POSTing new entries in a loop until stopped.

    Every entry sent is remembered with its text; an entry is acknowledged only when its
    request answered 200 with the whole batch accepted. A request that had started when
    the collector was killed and then failed on the connection is counted as cut.
    """

    def __init__(self, url: str, name: str):
        self.url = url
        self.name = name
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent: dict[tuple[str, str], str] = {}
        self.acked: set[tuple[str, str]] = set()
        self.in_flight = 0
        self.killed_at: float | None = None
        self.cut = 0
        self.unexpected: list[tuple[int, str]] = []
        self.threads = [threading.Thread(target=self._client, args=(number,), daemon=True)
                        for number in range(CLIENTS)]

    def start(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def finish(self) -> None:
        """Stop every client and wait for it (each request has a bounded timeout)."""
        self.stop.set()
        for thread in self.threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in self.threads), "a client hung"

    def _client(self, number: int) -> None:
        session = f"{self.name}-s{number % SESSIONS}"
        serial = 0
        with requests.Session() as http:
            while not self.stop.is_set():
                items = [{"uuid": f"{self.name}-c{number:02d}-{serial + k:06d}",
                          "role": "assistant", "timestamp": "2026-03-01T10:00:00Z",
                          "text": f"client {number} entry {serial + k} " + os.urandom(40).hex(),
                          "input_tokens": 3, "output_tokens": 1}
                         for k in range(BATCH)]
                serial += BATCH
                with self.lock:
                    self.sent.update({(session, e["uuid"]): e["text"] for e in items})
                    self.in_flight += 1
                started = time.monotonic()
                try:
                    response = http.post(self.url + "/v1/traces", timeout=30, json={
                        "source": "claude", "session_id": session, "entries": items})
                except requests.RequestException:
                    response = None
                with self.lock:
                    self.in_flight -= 1
                    if response is None:
                        if self.killed_at is not None and started < self.killed_at:
                            self.cut += 1
                    elif response.status_code == 200 and response.json() == {
                            "accepted": BATCH, "duplicates": 0}:
                        self.acked.update((session, e["uuid"]) for e in items)
                    elif response.status_code != 503:  # 503: not taken, may be sent again
                        self.unexpected.append((response.status_code, response.text[:200]))

    def acknowledged(self) -> int:
        with self.lock:
            return len(self.acked)

    def mark_kill(self) -> int:
        """Note the moment of the kill; return how many requests are in flight now."""
        with self.lock:
            self.killed_at = time.monotonic()
            return self.in_flight


def wait_until(condition, timeout: float, what: str, live: Collector) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{live.log()[-3000:]}")
        time.sleep(0.02)


def test_kill_9_mid_request_keeps_every_acknowledged_entry(tmp_path):
    """Two rounds: 32 clients post at the default worker count, the whole process group is
    killed at a random point while they are mid-request, and the collector starts again
    on the same database. Every (session_id, uuid) that got its 200 is there, with the
    text it was sent with, once; nothing is there that was not sent."""
    seed = int(os.environ.get("THINKT_DURABILITY_SEED", time.time()))
    rng = random.Random(seed)
    live = at_default_workers(tmp_path / "collector.duckdb", tmp_path / "collector.log")
    sent: dict[tuple[str, str], str] = {}
    acked: set[tuple[str, str]] = set()
    try:
        for round_number in range(2):
            live.start()
            load = Load(live.url, f"r{round_number}").start()
            try:
                # Kill once a random number of batches per client has been acknowledged:
                # by then every client is in its loop, and the queue and commits are busy.
                target = CLIENTS * BATCH * rng.randint(1, 3)
                wait_until(lambda: load.acknowledged() >= target, 60,
                           f"{target} acknowledged entries (seed {seed})", live)
                in_flight = load.mark_kill()
                live.kill_group()
            finally:
                load.finish()
            assert load.unexpected == [], (seed, load.unexpected[:5])
            assert in_flight >= CLIENTS // 2, f"only {in_flight} requests in flight at the kill"
            assert load.cut > 0, "the kill cut no request"
            sent.update(load.sent)
            acked |= load.acked
        live.start()
        sessions = sorted({session for session, _ in sent})
        stored = stored_entries(live, sessions)
        missing = sorted(acked - stored.keys())
        assert not missing, (f"seed {seed}: {len(missing)} of {len(acked)} acknowledged "
                             f"entries lost, e.g. {missing[:5]}")
        twice = sorted(key for key, texts in stored.items() if len(texts) > 1)
        assert not twice, f"seed {seed}: stored more than once: {twice[:5]}"
        assert stored.keys() <= sent.keys(), "entries stored that no client sent"
        changed = sorted(key for key in acked if stored[key] != [sent[key]])
        assert not changed, f"seed {seed}: stored with another text: {changed[:5]}"
        totals = live.get("/v1/traces/stats").json()
        assert totals["total_traces"] == len(stored)
    finally:
        live.stop()


def resend_batch() -> dict:
    """A batch with what usage counts: tokens, two entries of one API response, a model,
    a project and an agent."""
    entries = [
        {"uuid": "rs-1", "role": "user", "timestamp": "2026-03-02T09:00:00Z",
         "text": "please add a test"},
        {"uuid": "rs-2", "role": "assistant", "timestamp": "2026-03-02T09:00:05Z",
         "model": "claude-sonnet-4", "message_id": "msg-1", "text": "thinking",
         "input_tokens": 120, "output_tokens": 7, "cache_read_tokens": 900,
         "cache_write_tokens": 30, "has_thinking": True},
        {"uuid": "rs-3", "role": "assistant", "timestamp": "2026-03-02T09:00:06Z",
         "model": "claude-sonnet-4", "message_id": "msg-1", "text": "done",
         "input_tokens": 120, "output_tokens": 41, "cache_read_tokens": 900,
         "cache_write_tokens": 30},
        {"uuid": "rs-4", "role": "assistant", "timestamp": "2026-03-03T11:00:00Z",
         "model": "claude-opus-4", "message_id": "msg-2", "text": "next day",
         "input_tokens": 50, "output_tokens": 5, "reasoning_tokens": 12},
    ]
    return {"source": "claude", "session_id": "resent", "instance_id": "agent-r",
            "project_path": "/work/resend", "entries": entries}


def counts(live: Collector) -> dict:
    """What a resend must not change: the stats totals and usage by every key."""
    totals = live.get("/v1/traces/stats").json()
    snapshot = {key: totals[key] for key in ("total_traces", "total_sessions", "tokens")}
    for key in USAGE_KEYS:
        response = live.get("/v1/usage", params={"group_by": key})
        assert response.status_code == 200, (key, response.text)
        snapshot[f"usage by {key}"] = response.json()
    return snapshot


def test_an_acknowledged_batch_sent_again_after_a_restart_changes_no_count(tmp_path):
    """The exporter sends a batch again when it never saw the 200 (its own crash, a cut
    connection): the same gzip body after a restart, clean or kill -9, is all duplicates,
    counted as such, and the totals and usage stay what they were."""
    live = Collector(tmp_path / "collector.duckdb", tmp_path / "collector.log")
    sent = resend_batch()
    body = gzip.compress(json.dumps(sent).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    try:
        live.start()
        other = dict(sent, session_id="other", entries=[
            dict(e, uuid="o" + e["uuid"], **({"message_id": "o" + e["message_id"]}
                                             if "message_id" in e else {}))
            for e in sent["entries"]])
        assert live.post("/v1/traces", json=other).status_code == 200
        first = live.post("/v1/traces", data=body, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json() == {"accepted": 4, "duplicates": 0}
        for restart in ("sigterm", "kill -9"):
            if restart == "sigterm":
                assert live.terminate() == 0, live.log()[-3000:]
            else:
                live.kill_group()
            live.start()
            before = counts(live)
            assert before["total_traces"] == 8, restart
            assert before["tokens"]["output"] == 2 * (41 + 5), restart  # msg-1 once
            suppressed = live.get("/v1/traces/stats").json()["duplicates_suppressed"]
            again = live.post("/v1/traces", data=body, headers=headers)
            assert again.status_code == 200, (restart, again.text)
            assert again.json() == {"accepted": 4, "duplicates": 4}, restart
            assert counts(live) == before, restart
            assert live.get("/v1/traces/stats").json()["duplicates_suppressed"] == \
                suppressed + 4, restart
            rows = live.get("/v1/sessions/resent/entries").json()
            assert sorted(row["uuid"] for row in rows) == ["rs-1", "rs-2", "rs-3", "rs-4"]
    finally:
        live.stop()
