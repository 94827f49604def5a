"""The signed-out sessions file: every worker sees a sign-out, and none is lost when the
file is compacted while other workers append."""

from __future__ import annotations

import multiprocessing
import time

from thinkt.collector.web import signin


def _sign_out_many(path, worker, count, ready, compact_at):
    signin.COMPACT_AT = compact_at
    ready.wait(timeout=60)
    record = signin.SignedOut(path)
    for number in range(count):
        # Expired ids beside the live ones: the file is compacted (replaced) again and again.
        record.add(f"w{worker}-old{number:04d}-" + "x" * 40, time.time() - 1)
        record.add(f"w{worker}-s{number:04d}-" + "x" * 40, time.time() + 3600)


def test_a_sign_out_is_seen_by_another_worker(tmp_path):
    one, other = signin.SignedOut(tmp_path / "f"), signin.SignedOut(tmp_path / "f")
    assert "abc" not in other
    one.add("abc", time.time() + 60)
    assert "abc" in other


def test_a_file_of_live_ids_is_not_rewritten(tmp_path, monkeypatch):
    record = signin.SignedOut(tmp_path / "f")
    record.add("live-1", time.time() + 60)
    inode = (tmp_path / "f").stat().st_ino
    monkeypatch.setattr(signin, "COMPACT_AT", 0)
    record.add("live-2", time.time() + 60)
    assert (tmp_path / "f").stat().st_ino == inode


def test_compaction_drops_expired_ids_and_keeps_the_rest(tmp_path, monkeypatch):
    record = signin.SignedOut(tmp_path / "f")
    for number in range(10):
        record.add(f"old-{number}", time.time() - 1)  # expired already
    monkeypatch.setattr(signin, "COMPACT_AT", 0)  # the next sign-out compacts
    record.add("live", time.time() + 60)
    text = (tmp_path / "f").read_text()
    assert "live" in text and "old-" not in text
    assert "live" in signin.SignedOut(tmp_path / "f")


def test_no_sign_out_is_lost_while_workers_compact_the_file(tmp_path):
    # Small enough that the file is compacted many times while four processes append.
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    workers = [context.Process(target=_sign_out_many,
                               args=(tmp_path / "f", n, 150, ready, 2_000)) for n in range(4)]
    for worker in workers:
        worker.start()
    ready.set()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    record = signin.SignedOut(tmp_path / "f")
    missing = [f"w{w}-s{n:04d}-" + "x" * 40 for w in range(4) for n in range(150)
               if f"w{w}-s{n:04d}-" + "x" * 40 not in record]
    assert missing == []
