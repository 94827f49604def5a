"""The watcher: inotify on every directory under the roots, new ones included; polling."""

from __future__ import annotations

import errno
import os
import time

import pytest

from thinkt.exporter.watch.roots import WatchRoot
from thinkt.exporter.watch.watcher import Changes, Watcher
from tests.exporter.conftest import write_lines


def collect(watcher, done, timeout=3.0) -> Changes:
    """Wait until ``done(changes)`` holds for everything seen so far (bounded)."""
    seen = Changes()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.merge(watcher.wait(0.1))
        if done(seen):
            return seen
    return seen


@pytest.fixture(params=["inotify", "polling"])
def watcher(request, fake_root):
    w = Watcher([fake_root], polling=request.param == "polling", poll_interval=0.05).start()
    yield w
    w.close()


def test_writes_to_a_session_file_are_reported(watcher, fake_root):
    path = fake_root.path / "a.jsonl"
    write_lines(path, ["a"])
    seen = collect(watcher, lambda c: path in c.files)
    assert seen.files[path] is fake_root
    other = fake_root.path / "notes.txt"  # not a session file of the source
    other.write_text("x")
    write_lines(path, ["b"])
    seen = collect(watcher, lambda c: path in c.files)
    assert path in seen.files and other not in seen.files


def test_a_directory_created_after_start_is_watched(watcher, fake_root):
    early = fake_root.path / "new" / "deeper" / "a.jsonl"
    write_lines(early, ["a"])  # written before any watch could exist on "new"
    seen = collect(watcher, lambda c: early in c.files)
    assert early in seen.files
    later = fake_root.path / "new" / "deeper" / "b.jsonl"
    write_lines(later, ["b"])
    assert later in collect(watcher, lambda c: later in c.files).files


def test_deleted_files_are_reported_gone(watcher, fake_root):
    path = fake_root.path / "a.jsonl"
    write_lines(path, ["a"])
    collect(watcher, lambda c: path in c.files)
    path.unlink()
    assert path in collect(watcher, lambda c: path in c.gone).gone


def test_a_root_that_does_not_exist_yet_is_picked_up(tmp_path, fake_source):
    root = WatchRoot(fake_source, tmp_path / "home" / ".fake" / "sessions")
    watcher = Watcher([root]).start()
    try:
        assert watcher.mode == "inotify"
        path = root.path / "p" / "a.jsonl"
        write_lines(path, ["a"])  # creates .fake, sessions and p at once
        seen = collect(watcher, lambda c: path in c.files)
        assert path in seen.files
        second = root.path / "p" / "b.jsonl"
        write_lines(second, ["b"])
        assert second in collect(watcher, lambda c: second in c.files).files
    finally:
        watcher.close()


def appearing_while_watched(monkeypatch, watched, create) -> None:
    """Run ``create()`` just before the watch on ``watched`` is placed (once).

    That is the window between the watcher looking at a directory and its watch being
    in place: the kernel queues no event for what happens in it.
    """
    import inotify_simple

    real = inotify_simple.INotify.add_watch
    pending = [create]

    def add_watch(self, path, mask):
        if os.fspath(path) == os.fspath(watched) and pending:
            pending.pop()()
        return real(self, path, mask)

    monkeypatch.setattr(inotify_simple.INotify, "add_watch", add_watch)


def test_a_root_created_while_its_parent_is_being_watched_is_picked_up(
        monkeypatch, tmp_path, fake_source):
    parent = tmp_path / "home" / ".fake"
    parent.mkdir(parents=True)
    root = WatchRoot(fake_source, parent / "sessions")
    early = root.path / "p" / "a.jsonl"
    appearing_while_watched(monkeypatch, parent, lambda: write_lines(early, ["a"]))
    watcher = Watcher([root]).start()
    try:
        later = root.path / "p" / "b.jsonl"
        write_lines(later, ["b"])
        assert later in collect(watcher, lambda c: later in c.files).files
    finally:
        watcher.close()


def test_a_directory_created_while_its_parent_is_being_watched_is_watched(
        monkeypatch, fake_root):
    new = fake_root.path / "new"
    early = new / "deeper" / "a.jsonl"
    appearing_while_watched(monkeypatch, new, lambda: write_lines(early, ["a"]))
    watcher = Watcher([fake_root]).start()
    try:
        new.mkdir()
        assert early in collect(watcher, lambda c: early in c.files).files
        later = new / "deeper" / "b.jsonl"
        write_lines(later, ["b"])
        assert later in collect(watcher, lambda c: later in c.files).files
    finally:
        watcher.close()


def test_a_rescan_watches_directories_whose_events_were_lost(fake_root):
    watcher = Watcher([fake_root]).start()
    try:
        lost = fake_root.path / "lost"
        lost.mkdir()  # the kernel queues its event before mkdir returns
        watcher._inotify.read(timeout=0)  # the CREATE is dropped, as in a queue overflow
        path = lost / "a.jsonl"
        write_lines(path, ["a"])
        assert path not in collect(watcher, lambda c: path in c.files, timeout=0.5).files
        watcher.rewatch()
        write_lines(path, ["b"])
        assert path in collect(watcher, lambda c: path in c.files).files
    finally:
        watcher.close()


def test_a_directory_that_cannot_be_watched_is_said_once(monkeypatch, caplog, fake_root):
    import inotify_simple

    closed = fake_root.path / "closed"
    closed.mkdir()
    real = inotify_simple.INotify.add_watch

    def add_watch(self, path, mask):
        if os.fspath(path) == os.fspath(closed):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        return real(self, path, mask)

    monkeypatch.setattr(inotify_simple.INotify, "add_watch", add_watch)
    watcher = Watcher([fake_root]).start()
    try:
        watcher.rewatch()
        watcher.rewatch()  # as every rescan does
    finally:
        watcher.close()
    said = [r for r in caplog.records if r.getMessage().startswith(f"cannot watch {closed}")]
    assert len(said) == 1 and watcher.mode == "inotify"


def test_running_out_of_watches_falls_back_to_polling(monkeypatch, fake_root):
    import inotify_simple

    def no_more_watches(self, path, mask):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(inotify_simple.INotify, "add_watch", no_more_watches)
    watcher = Watcher([fake_root], poll_interval=0.05).start()
    try:
        assert watcher.mode == "polling"
        path = fake_root.path / "a.jsonl"
        write_lines(path, ["a"])
        assert path in collect(watcher, lambda c: path in c.files).files
    finally:
        watcher.close()


def test_the_wake_descriptor_ends_a_wait_early(fake_root):
    read_fd, write_fd = os.pipe()
    watcher = Watcher([fake_root], wake_fd=read_fd).start()
    try:
        os.write(write_fd, b".")
        started = time.monotonic()
        changes = watcher.wait(30)
        assert changes.woken and time.monotonic() - started < 10
    finally:
        watcher.close()
        os.close(read_fd)
        os.close(write_fd)


def test_an_idle_wait_reports_nothing(watcher):
    assert not watcher.wait(0.05)
