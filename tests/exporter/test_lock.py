"""One exporter per state directory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from thinkt.exporter.state.lock import ExporterLock, LockHeld
from thinkt.status import ExitStatus


def test_a_second_holder_is_refused_and_told_who_holds_it(tmp_path):
    first = ExporterLock(tmp_path).acquire()
    with pytest.raises(LockHeld) as info:
        ExporterLock(tmp_path).acquire()
    assert info.value.pid == os.getpid()
    assert info.value.status == ExitStatus.TEMPFAIL
    assert f"another thinkt exporter is running (pid {os.getpid()})" == info.value.message
    first.release()
    ExporterLock(tmp_path).acquire().release()  # free again


def test_the_lock_dies_with_its_process(tmp_path):
    code = ("import sys, time; from pathlib import Path; from thinkt.exporter.state.lock import "
            "ExporterLock; ExporterLock(Path(sys.argv[1])).acquire(); print('held', flush=True);"
            " time.sleep(30)")
    with subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                          stdout=subprocess.PIPE) as proc:
        try:
            assert proc.stdout.readline() == b"held\n"
            with pytest.raises(LockHeld) as info:
                ExporterLock(tmp_path).acquire()
            assert info.value.pid == proc.pid
        finally:
            proc.kill()
            proc.wait(timeout=10)
    ExporterLock(tmp_path).acquire().release()  # kill -9 left no stale lock


def test_waiting_is_bounded(tmp_path):
    holder = ExporterLock(tmp_path).acquire()
    with pytest.raises(LockHeld):
        ExporterLock(tmp_path).acquire(wait=0.2)
    holder.release()
