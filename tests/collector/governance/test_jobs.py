"""Background jobs in the writer: one at a time, audited, and the nightly archive."""

from __future__ import annotations

import os
import queue
import threading
from datetime import date, datetime, timedelta

import pytest

from tests.collector import facade as store
from tests.collector.conftest import build_entry, build_request
from tests.collector.test_writer import CapturingReplies
from thinkt.collector.channel import Admin, Ok
from thinkt.collector.governance.erase import audit_log
from thinkt.collector.governance.jobs import JobRunner
from thinkt.collector.writer import NIGHTLY, Writer

DAY = date(2026, 11, 20)


@pytest.fixture
def con(tmp_path):
    con = store.open_database(str(tmp_path / "collector.duckdb"))
    store.ingest(con, [build_request(
        f"s-{offset}", [build_entry(f"e-{offset}", input_tokens=5, message_id=f"m-{offset}",
                                    timestamp=datetime.combine(DAY, datetime.min.time())
                                    - timedelta(days=offset, hours=-12))])
        for offset in range(4)])
    yield con
    con.close()


class Today:
    def __init__(self, day: date):
        self.day = day

    def __call__(self) -> datetime:
        return datetime.combine(self.day, datetime.min.time()) + timedelta(hours=3)


def finished(writer: Writer, job_id: int) -> dict:
    """Wait (bounded) for a job's thread, then return its state."""
    writer.jobs._running[0].join(60)
    job = writer.jobs.get(job_id)
    assert job["state"] != "running", job
    return job


def days_in(directory) -> list[str]:
    found = set()
    for _, dirs, _ in os.walk(directory / "entries"):
        found.update(d[len("day="):] for d in dirs if d.startswith("day="))
    return sorted(found)


def test_the_nightly_archive_writes_the_day_that_closed_then_each_next_one(con, tmp_path):
    today = Today(DAY)
    writer = Writer(con, queue.Queue(), CapturingReplies(), clock=today,
                    archive_dir=str(tmp_path / "archive"))
    writer._housekeeping()
    job = finished(writer, 1)
    assert job["state"] == "done" and job["actor"] == NIGHTLY, job
    assert days_in(tmp_path / "archive") == ["2026-11-19"]
    writer._housekeeping()  # the same day: nothing more
    assert writer.jobs.get(2) is None
    today.day = DAY + timedelta(days=2)  # two nights later: both closed days
    writer._housekeeping()
    assert finished(writer, 2)["args"] == {"directory": str(tmp_path / "archive"),
                                           "since": "2026-11-20", "until": "2026-11-22"}
    actions = [(row["actor"], row["action"]) for row in audit_log(con.cursor())]
    assert actions == [(NIGHTLY, "archive")] * 2


def test_a_second_job_waits_for_the_first(con, tmp_path):
    release = threading.Event()

    def slow(cursor, progress, **args):
        progress("waiting")
        release.wait(30)
        return {"ok": True}

    runner = JobRunner(con, {"slow": slow})
    first = runner.start("slow", {}, "ops")
    with pytest.raises(Exception, match="job 1 .slow. is still running"):
        runner.start("slow", {}, "ops")
    release.set()
    runner._running[0].join(30)
    assert runner.get(first["id"])["result"] == {"ok": True}
    assert runner.start("slow", {}, "ops")["id"] == 2
    runner._running[0].join(30)


def test_a_job_that_refuses_is_failed_with_its_reason_and_audited(con, tmp_path):
    writer = Writer(con, queue.Queue(), CapturingReplies(), clock=Today(DAY))
    writer.commit([Admin("w", 1, "start_job", {
        "kind": "archive", "actor": "ops",
        "args": {"directory": str(tmp_path / "a"), "since": "2026-11-19",
                 "until": "2026-11-30"}})])
    [(_, started)] = writer.replies.sent
    assert isinstance(started, Ok) and started.result["state"] == "running"
    job = finished(writer, started.result["id"])
    assert job["state"] == "failed" and "only closed UTC days" in job["error"]
    [row] = audit_log(con.cursor())
    assert row["action"] == "archive" and row["target"]["state"] == "failed"


def test_stopping_interrupts_a_running_job(con):
    started = threading.Event()

    def endless(cursor, progress, **args):
        started.set()
        cursor.execute("SELECT count(*) FROM range(100000000000) a").fetchall()
        return {}

    runner = JobRunner(con, {"endless": endless})
    job = runner.start("endless", {}, "ops")
    assert started.wait(30)
    runner.stop()
    assert not runner._running[0].is_alive()
    assert runner.get(job["id"])["state"] == "failed"
