"""Storage faults: the disk full or read-only under a running collector.

The promise (CONTRACT.md §1): the collector answers 503 with Retry-After while it cannot
write, never loses what it acknowledged with a 200, and takes writes again once space
returns. Shown twice: in-process with a simulated write error (always runs), and against
a real collector whose database lives on a small tmpfs that fills up or is remounted
read-only (needs root to mount; skipped otherwise).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from thinkt.collector import store
from tests.fuzz.conftest import InProcessCollector


def batch(session: str, start: int, count: int, text_size: int = 100) -> dict:
    """An ingest body of ``count`` entries with distinct uuids from ``start``."""
    return {"source": "claude", "session_id": session,
            "entries": [{"uuid": f"u{n:06d}", "role": "assistant", "input_tokens": 1,
                         "text": f"{n} " + "x" * text_size,
                         "timestamp": "2026-01-01T00:00:00Z"} for n in range(start, start + count)]}


def stored_uuids(entries: list[dict]) -> list[str]:
    return [entry["uuid"] for entry in entries]


# -- simulated: the store raises what DuckDB raises on a full disk ---------------------------
def test_simulated_write_errors_answer_503_then_recover(tmp_path, monkeypatch):
    live = InProcessCollector(str(tmp_path / "collector.duckdb"))
    real_ingest = store.ingest
    failing = {"on": True}

    def full_disk(con, requests):
        if failing["on"]:
            raise store.duckdb.IOException("No space left on device")
        return real_ingest(con, requests)

    monkeypatch.setattr(store, "ingest", full_disk)
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
    from tests.harness import Collector

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


def immutable(directory: Path, on: bool) -> None:
    """chattr +i / -i: no file created or removed in ``directory``, even by root."""
    subprocess.run(["chattr", "+i" if on else "-i", str(directory)], check=True, timeout=30)


@pytest.mark.slow
def test_read_only_database_directory_never_fails_a_request(collector_on, small_disk):
    """Root ignores modes and a busy tmpfs cannot be remounted read-only, so the directory
    is made immutable: nothing can be created or removed in it (a new WAL, a temp file).
    Whatever DuckDB needs, every answer is a 200 or a 503 with Retry-After, and once the
    directory is writable again everything acknowledged is there, once."""
    live, codes = collector_on, []
    acked = send_all(live, "ro", [0])
    try:
        immutable(small_disk, True)
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.skip("chattr +i is not supported here")
    try:
        for start in range(10, 60, 10):
            response = live.post("/v1/traces", json=batch("ro", start, 10))
            codes.append(response.status_code)
            assert response.status_code in (200, 503), (response.status_code, response.text)
            if response.status_code == 503:
                assert response.headers.get("Retry-After")
            else:
                acked.update(f"u{n:06d}" for n in range(start, start + 10))
        assert live.get("/v1/traces/stats").status_code in (200, 503)
    finally:
        immutable(small_disk, False)
    acked |= send_all(live, "ro", range(0, 70, 10))
    check_stored_once(live, "ro", acked)
    live.kill_group()
    live.start()
    check_stored_once(live, "ro", acked)
