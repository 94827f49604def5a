"""Whether the exporter counts as running, from its status file."""

import subprocess
import sys
from datetime import datetime, timedelta, timezone

from tests.tui.conftest import write_status_file
from thinkt.exporter.report.statusfile import redaction_mode
from thinkt.tui.exporterstate import STALE_AFTER, read_exporter


def test_missing_file_means_no_exporter(tmp_path):
    state = read_exporter(tmp_path)
    assert not state.running and not state.found
    assert state.reason.startswith("no exporter running")


def test_fresh_file_of_a_live_process_is_running(tmp_path):
    write_status_file(tmp_path)
    state = read_exporter(tmp_path)
    assert state.running, state.reason
    assert state.reason == "running (forward mode)"


def test_stale_file_is_not_running(tmp_path):
    write_status_file(tmp_path)
    later = datetime.now(timezone.utc) + timedelta(seconds=STALE_AFTER + 5)
    state = read_exporter(tmp_path, now=later)
    assert not state.running and state.found
    assert "stale" in state.reason


def test_exited_exporter_is_not_running_but_its_facts_stay(tmp_path):
    write_status_file(tmp_path, running=False, mode="once")
    state = read_exporter(tmp_path)
    assert not state.running and "exited" in state.reason
    assert state.status["mode"] == "once"


def test_dead_pid_is_not_running(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    write_status_file(tmp_path, pid=child.pid)
    state = read_exporter(tmp_path)
    assert not state.running and "gone" in state.reason


def test_garbage_file_is_treated_as_missing(tmp_path):
    (tmp_path / "exporter-status.json").write_text("{not json")
    assert not read_exporter(tmp_path).found


def test_redaction_mode_names_what_leaves_the_machine():
    assert redaction_mode(redacting=True, metadata_only=False) == "on"
    assert redaction_mode(redacting=False, metadata_only=False) == "off"
    # No text at all: nothing to mask, whether or not a redactor was built.
    assert redaction_mode(redacting=True, metadata_only=True) == "metadata-only"
    assert redaction_mode(redacting=False, metadata_only=True) == "metadata-only"
