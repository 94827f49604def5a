"""Storage faults: the disk full or read-only under a running collector.

The promise (CONTRACT.md §1): the collector answers 503 with Retry-After while it cannot
write, never loses what it acknowledged with a 200, and takes writes again once space
returns. Shown in-process with a simulated write error (always runs), against a real
collector whose database lives on a small tmpfs that fills up (needs root to mount;
skipped otherwise), and against a real collector whose database directory turns
read-only. Root ignores file modes, so as root that collector runs without the
capabilities that bypass them (``setpriv``): the fault then binds it as it binds any
other owner, in CI too.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import string
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest

from tests.collector import facade as store
from thinkt.collector import ingest
from thinkt.status import ExitStatus
from tests.fuzz.conftest import InProcessCollector
from tests.harness import Collector, child_env, thinkt_command


def batch(session: str, start: int, count: int, text_size: int = 100) -> dict:
    """An ingest body of ``count`` entries with distinct uuids from ``start``; their texts
    are random letters, which compression cannot shrink much (long texts are compressed)."""
    return {"source": "claude", "session_id": session,
            "entries": [{"uuid": f"u{n:06d}", "role": "assistant", "input_tokens": 1,
                         "text": f"{n} " + "".join(random.Random(n).choices(
                             string.ascii_letters, k=text_size)),
                         "timestamp": "2026-01-01T00:00:00Z"} for n in range(start, start + count)]}


def stored_uuids(entries: list[dict]) -> list[str]:
    return [entry["uuid"] for entry in entries]


# -- simulated: the store raises what DuckDB raises on a full disk ---------------------------
def test_simulated_write_errors_answer_503_then_recover(tmp_path, monkeypatch):
    live = InProcessCollector(str(tmp_path / "collector.duckdb"))
    real_ingest = ingest.EntryLog.ingest
    failing = {"on": True}

    def full_disk(self, con, requests, also=None):
        if failing["on"]:
            raise store.duckdb.IOException("No space left on device")
        return real_ingest(self, con, requests, also)

    monkeypatch.setattr(ingest.EntryLog, "ingest", full_disk)
    try:
        acked = set()
        assert live.http.post("/v1/traces", json=batch("s", 0, 5)).status_code == 503
        for attempt in range(3):
            response = live.http.post("/v1/traces", json=batch("s", 5 * attempt, 5))
            assert response.status_code == 503
            assert int(response.headers["Retry-After"]) > 0
            assert response.get_json()["error"] == "unavailable"
            # reads and health still work: the database is open, only writes fail
            assert live.http.get("/v1/collector/health").status_code == 200
        failing["on"] = False  # space returns; the exporter sends everything again
        for start in (0, 5, 10):
            response = live.http.post("/v1/traces", json=batch("s", start, 5))
            assert response.get_json() == {"accepted": 5, "duplicates": 0}
            acked.update(f"u{n:06d}" for n in range(start, start + 5))
        again = live.http.post("/v1/traces", json=batch("s", 0, 5)).get_json()
        assert again == {"accepted": 5, "duplicates": 5}
        rows = stored_uuids(live.http.get("/v1/sessions/s/entries?limit=1000").get_json())
        assert sorted(rows) == sorted(acked)
    finally:
        live.close()


# -- real: a tmpfs that fills up or turns read-only --------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs under tmp_path; unmounted for sure afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        # the collector is stopped by its own fixture first (fixtures tear down in reverse)
        if subprocess.run(["umount", str(mount_point)], timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], timeout=30)


def remount(mount_point: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mount_point)], check=True,
                   timeout=30)


@pytest.fixture
def collector_on(small_disk, tmp_path):
    live = Collector(small_disk / "collector.duckdb", tmp_path / "collector.log", workers=2)
    try:
        yield live.start()
    finally:
        live.stop()


def send_until(live, session: str, start: int, count: int, text_size: int,
               timeout: float = 60.0):
    """POST one batch until it gets a 200, honouring Retry-After (bounded); return the codes."""
    codes = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = live.post("/v1/traces", json=batch(session, start, count, text_size))
        codes.append(response.status_code)
        if response.status_code == 200:
            return codes
        assert response.status_code == 503, (response.status_code, response.text)
        assert response.headers.get("Retry-After")
        time.sleep(0.5)
    raise AssertionError(f"no 200 within {timeout}s: {codes[-5:]}\n{live.log()[-3000:]}")


def send_all(live, session: str, starts, text_size: int = 100) -> set[str]:
    """Send batches of 10 from each start until acknowledged; return the uuids acknowledged."""
    acked = set()
    for start in starts:
        send_until(live, session, start, 10, text_size)
        acked.update(f"u{n:06d}" for n in range(start, start + 10))
    return acked


def check_stored_once(live, session: str, acked: set[str]) -> None:
    assert len(acked) < 1000, "more than one page to check: the disk filled too late"
    response = live.get(f"/v1/sessions/{session}/entries", params={"limit": 1000})
    rows = stored_uuids(response.json())
    assert len(rows) == len(set(rows)), "an entry is stored twice"
    assert acked <= set(rows), f"lost acknowledged entries: {sorted(acked - set(rows))[:5]}"


@pytest.mark.slow
def test_disk_full_answers_503_keeps_what_it_acknowledged_and_recovers(collector_on,
                                                                        small_disk):
    live, acked, refused = collector_on, set(), None
    for number in range(200):  # 40 KiB per request: the 3 MiB disk fills long before
        start = number * 10
        response = live.post("/v1/traces", json=batch("full", start, 10, text_size=4000))
        if response.status_code == 200:
            acked.update(f"u{n:06d}" for n in range(start, start + 10))
            continue
        assert response.status_code == 503, (response.status_code, response.text)
        assert response.headers.get("Retry-After")
        assert response.json()["error"] == "unavailable"
        refused = start
        break
    assert refused is not None, "the disk never filled"
    assert acked, "nothing fitted at all"
    remount(small_disk, "size=64m")  # space returns
    acked |= send_all(live, "full", [refused], 4000)
    check_stored_once(live, "full", acked)
    # and what was acknowledged survives a crash of everything
    live.kill_group()
    live.start()
    check_stored_once(live, "full", acked)


#: Run as root, a process ignores file modes through these capabilities; without them a
#: mode-0555 directory is read-only for it too, as it is for any other owner.
MODE_BYPASS = ("dac_override", "dac_read_search", "fowner")


def modes_apply() -> list[str]:
    """The argv prefix under which file modes bind this test's children, even as root.

    As root: ``setpriv`` removes MODE_BYPASS from the bounding set, so the program it runs
    (still uid 0, owner of everything under tmp_path) has no way around a directory's
    mode. Otherwise modes bind already and no prefix is needed.
    """
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to run a child bound by file modes as root")
    return ["setpriv", "--bounding-set=" + ",".join("-" + cap for cap in MODE_BYPASS), "--"]


class ModeBoundCollector(Collector):
    """A real collector whose processes cannot bypass file modes (see :func:`modes_apply`)."""

    def start(self, wait: bool = True, timeout: float = 60.0) -> "ModeBoundCollector":
        prefix = modes_apply()
        with mock.patch("tests.harness.thinkt_command",
                        lambda *args: prefix + thinkt_command(*args)):
            return super().start(wait, timeout)


def wal_files(directory: Path) -> list[str]:
    """The DuckDB write-ahead logs in ``directory``."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".wal"))


@contextlib.contextmanager
def read_only(directory: Path):
    """Mode 0555 on ``directory`` until the block ends: nothing can be created in it."""
    directory.chmod(0o555)
    try:
        yield directory
    finally:
        directory.chmod(0o755)


def test_a_read_only_directory_is_refused_even_as_root(tmp_path):
    """A database in a directory it may not write is refused at open with the sentence
    an operator acts on and EX_CANTCREAT, and nothing is created there. Checked in a
    child bound by file modes, so that it also holds (and runs) as root, as in CI."""
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "collector.duckdb"
    probe = ("import json, sys\n"
             "from thinkt.collector import database as store\n"
             "try:\n"
             "    store.open_database(sys.argv[1]).close()\n"
             "except store.StoreError as exc:\n"
             "    print(json.dumps({'message': exc.message, 'status': int(exc.status)}))\n"
             "else:\n"
             "    print(json.dumps({'opened': True}))\n")
    command = modes_apply() + [sys.executable, "-c", probe, str(path)]
    with read_only(folder):
        result = subprocess.run(command, capture_output=True, text=True, env=child_env(),
                                timeout=60)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer == {"message": f"Cannot open the database {path} for writing: "
                                 "permission denied.",
                      "status": int(ExitStatus.CANTCREAT)}, answer
    assert list(folder.iterdir()) == []


@pytest.mark.slow
def test_read_only_database_directory_answers_503_then_recovers(tmp_path):
    """The directory turns read-only under a running collector whose next commit must
    create the write-ahead log there: every write answers 503 with Retry-After while
    reads go on; once it is writable again everything is taken, and what was
    acknowledged is there once, after a kill -9 too."""
    folder = tmp_path / "db"
    folder.mkdir()
    live = ModeBoundCollector(folder / "collector.duckdb", tmp_path / "collector.log")
    try:
        live.start()
        acked = send_all(live, "ro", [0])
        # A clean stop checkpoints the log into the database file and removes it; the
        # fault below takes effect only if the next commit has to create it again.
        assert live.terminate() == 0, live.log()[-3000:]
        live.start()
        assert wal_files(folder) == [], "the log survived a clean stop: nothing to refuse"
        with read_only(folder):
            for start in (10, 20, 30):
                response = live.post("/v1/traces", json=batch("ro", start, 10))
                assert response.status_code == 503, (response.status_code, response.text)
                assert int(response.headers["Retry-After"]) > 0
                assert response.json()["error"] == "unavailable"
            # reads and health go on: the database is open, only its writes fail
            assert live.get("/v1/collector/health").status_code == 200
            rows = live.get("/v1/sessions/ro/entries", params={"limit": 1000}).json()
            assert sorted(stored_uuids(rows)) == sorted(acked)
            assert wal_files(folder) == []
        acked |= send_all(live, "ro", (10, 20, 30))
        check_stored_once(live, "ro", acked)
        live.kill_group()
        live.start()
        check_stored_once(live, "ro", acked)
    finally:
        live.stop()
