"""Real sizes through real processes (issue 13): a ``thinkt collect`` and ``thinkt export``
runs on generated Claude Code files as large as heavy users have them.

Every (session_id, uuid) written is stored exactly once, whatever the file's size, a
line's size, a missing final newline or a rename while shipping; the one-shot summary
and exit status say what really happened. Identities are checked one by one through
the collector's entries API; failures name counts and a few ids, not thousands.
"""

from __future__ import annotations

import collections
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.exporter.bigfiles import (Written, big_user_line, write_claude_session,
                                     write_many_sessions)
from tests.exporter.corpus import session_file
from tests.exporter.running import Exporter
from tests.harness import Collector

pytestmark = pytest.mark.slow

#: The issue's heavy session: 25,000 lines of about 1.6 KB, 40 MB.
BIG_LINES = 25_000
#: Entries are fetched from the collector this many at a time (its maximum).
PAGE = 1000
#: How long the stored count may stand still before a wait gives up.
STALL = 20.0


@pytest.fixture
def collector(tmp_path):
    """A real collector on a free port; skips where its packages are not installed."""
    for package in ("duckdb", "flask", "gunicorn", "marshmallow"):
        pytest.importorskip(package, reason=f"the collector needs {package} (not installed)")
    running = Collector(tmp_path / "collector.duckdb", tmp_path / "collector.log").start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def big_history(tmp_path_factory) -> Written:
    """The 40 MB session, generated once; tests copy it into their own home."""
    path = tmp_path_factory.mktemp("real-size") / "big.jsonl"
    return write_claude_session(path, "big", BIG_LINES, line_bytes=1600)


def install(history: Written, home: Path) -> Path:
    """Copy a generated session file to where Claude Code keeps it under ``home``."""
    path = session_file(home, history.path.stem)
    shutil.copyfile(history.path, path)
    return path


def stats(collector: Collector) -> dict:
    response = collector.get("/v1/traces/stats")
    response.raise_for_status()
    return response.json()


def stored_rows(collector: Collector, session: str) -> list[dict]:
    """Every stored entry of ``session`` (a doubled one shows twice), paged."""
    rows: list[dict] = []
    while True:
        response = collector.get(f"/v1/sessions/{session}/entries",
                                 params={"limit": PAGE, "offset": len(rows)})
        if response.status_code == 404:
            return rows
        response.raise_for_status()
        page = response.json()
        rows += page
        if len(page) < PAGE:
            return rows


def _first(items, n: int = 3) -> str:
    items = list(items)
    return ", ".join(map(str, items[:n])) + (" ..." if len(items) > n else "")


def exactly_once(expected: list[str], stored: list[str], what: str = "") -> str | None:
    """Return what is wrong with ``stored`` against ``expected`` (None when each is there once)."""
    want, got = collections.Counter(expected), collections.Counter(stored)
    # In file (or arrival) order: the first missing one says where shipping stopped.
    missing = [key for key in want if key not in got]
    unexpected = [key for key in got if key not in want]
    doubled = [key for key, n in got.items() if n > 1]
    if not (missing or unexpected or doubled):
        return None
    parts = [f"{what}wrote {len(want):,}, stored {sum(got.values()):,} rows "
             f"({len(got):,} distinct)"]
    for label, keys in (("missing", missing), ("doubled", doubled), ("unexpected", unexpected)):
        if keys:
            parts.append(f"{label} {len(keys):,} ({_first(keys)})")
    return "; ".join(parts)


def assert_stored_once(collector: Collector, expected: dict[str, list[str]], log: str = ""):
    """Every expected uuid of every session is stored exactly once, and nothing else."""
    problems = []
    for session, uuids in expected.items():
        problem = exactly_once(uuids, [r["uuid"] for r in stored_rows(collector, session)],
                               f"session {session}: ")
        if problem:
            problems.append(problem)
    if problems:
        shown = "\n".join(problems[:5]) + (f"\n... {len(problems) - 5} more sessions"
                                           if len(problems) > 5 else "")
        raise AssertionError(f"{len(problems)} of {len(expected)} sessions wrong:\n{shown}"
                             + (f"\n{log[-3000:]}" if log else ""))


def summary_counts(stdout: str, source: str = "claude") -> dict[str, int]:
    """The counts of a one-shot run's summary line for ``source`` (``new``, ``shipped``, ...)."""
    line = next((x for x in stdout.splitlines() if x.startswith(f"{source}: ")), None)
    assert line is not None, f"no {source} summary line in:\n{stdout}"
    counts = {"new": int(re.search(r"([\d,]+) new entr", line)[1].replace(",", ""))}
    for number, label in re.findall(r"([\d,]+) (shipped|already there|buffered|rejected)",
                                    line):
        counts[label] = int(number.replace(",", ""))
    return counts


def rejected_payloads(proc: Exporter) -> list[str]:
    directory = proc.state_dir / "export-buffer" / "rejected"
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def export_once(home: Path, log: Path, collector: Collector, timeout: float = 300.0):
    """Run ``thinkt export`` once; return the exporter and its completed process."""
    proc = Exporter(home, log, "--collector-url", collector.url)
    return proc, proc.run(timeout=timeout)


def assert_true_summary(proc: Exporter, run, new: int) -> None:
    """Exit 0, ``new`` entries read and all of them shipped, nothing set aside."""
    output = f"exit {run.returncode}\n{run.stdout}\n{run.stderr[-3000:]}"
    assert run.returncode == 0, output
    counts = summary_counts(run.stdout)
    assert (counts["new"], counts.get("shipped", 0)) == (new, new), \
        f"summary says {counts}, the files hold {new:,} new entries\n{output}"
    assert not counts.get("rejected") and not counts.get("buffered"), output
    assert rejected_payloads(proc) == [], output


def wait_stored_count(collector: Collector, want: int, proc: Exporter | None = None,
                      limit: float = 240.0, stall: float = STALL) -> int:
    """Poll the collector until it holds ``want`` entries (all sessions together).

    Fails when the count stands still for ``stall`` seconds, after ``limit`` seconds, or
    when the exporter exits.
    """
    started = last_change = time.monotonic()
    count = -1
    while True:
        now_count = stats(collector)["total_traces"]
        now = time.monotonic()
        if now_count != count:
            count, last_change = now_count, now
        if count >= want:
            return count
        why = None
        if now - last_change > stall:
            why = f"no new entry for {stall:.0f} s"
        elif now - started > limit:
            why = f"still arriving after {limit:.0f} s"
        elif proc is not None and proc.proc is not None and proc.proc.poll() is not None:
            why = f"the exporter exited ({proc.proc.returncode})"
        if why:
            log = proc.log()[-3000:] if proc is not None else ""
            raise AssertionError(f"the collector holds {count:,} of {want:,} entries: {why}"
                                 f"\n{log}")
        time.sleep(0.1)


def forward(home: Path, log: Path, collector: Collector) -> Exporter:
    proc = Exporter(home, log, "--forward", "--collector-url", collector.url).start()
    proc.wait_ready()
    return proc


def test_one_shot_ships_a_40_mb_session_whole_and_then_nothing(collector, home, tmp_path,
                                                               big_history):
    install(big_history, home)
    proc, run = export_once(home, tmp_path / "once.log", collector)
    assert_stored_once(collector, {"big": big_history.uuids}, run.stdout + run.stderr)
    assert_true_summary(proc, run, BIG_LINES)

    before = stats(collector)
    _, again = export_once(home, tmp_path / "again.log", collector)
    after = stats(collector)
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert "nothing new" in again.stdout.lower(), again.stdout
    moved = {key: (before[key], after[key]) for key in
             ("total_traces", "duplicates_suppressed", "requests_committed")
             if before[key] != after[key]}
    assert not moved, f"a second run with nothing new shipped again: {moved}\n{again.stdout}"


def test_forward_started_on_a_40_mb_history_ships_it_all(collector, home, tmp_path,
                                                         big_history):
    install(big_history, home)
    proc = forward(home, tmp_path / "forward.log", collector)
    try:
        wait_stored_count(collector, BIG_LINES, proc)  # no write after the start
        assert_stored_once(collector, {"big": big_history.uuids}, proc.log())
        assert proc.terminate() == 0, proc.log()[-3000:]
    finally:
        proc.stop()


def test_a_12_mb_line_is_clipped_flagged_and_the_lines_after_it_ship(collector, home,
                                                                    tmp_path):
    path = session_file(home, "huge")
    before = write_claude_session(path, "huge", 50)
    line, text = big_user_line("huge-big", "huge", 12 * 1024 * 1024)
    with open(path, "ab") as fh:
        fh.write(line)
    after = write_claude_session(path, "huge", 50, start=51)
    proc, run = export_once(home, tmp_path / "once.log", collector)
    output = run.stdout + run.stderr[-3000:]

    assert_stored_once(collector, {"huge": before.uuids + ["huge-big"] + after.uuids}, output)
    rows = {row["uuid"]: row for row in stored_rows(collector, "huge")}
    big = rows.pop("huge-big")
    original = len(text.encode())
    assert (big.get("text_truncated"), big.get("text_bytes")) == (True, original), \
        f"the clipped entry is not flagged: text_truncated={big.get('text_truncated')!r}, " \
        f"text_bytes={big.get('text_bytes')!r} (the text had {original:,} bytes)"
    clipped = big["text"] or ""
    assert 0 < len(clipped.encode()) < original and clipped[:1000] == text[:1000], \
        f"stored text of {len(clipped.encode()):,} bytes is not a clip of the original"
    flagged = [uuid for uuid, row in rows.items()
               if (row.get("text_truncated"), row.get("text_bytes")) != (False, 0)]
    assert not flagged, f"ordinary entries flagged as clipped: {_first(flagged)}"
    assert_true_summary(proc, run, 101)


def _final_record_without_newline(home: Path, session: str) -> Written:
    """20 ordinary lines, then a 21st record whose newline is not written (yet)."""
    return write_claude_session(session_file(home, session), session, 21,
                                final_newline=False)


def test_one_shot_ships_a_final_record_without_newline_once(collector, home, tmp_path):
    written = _final_record_without_newline(home, "cut")
    proc, run = export_once(home, tmp_path / "first.log", collector)
    assert_stored_once(collector, {"cut": written.uuids}, run.stdout + run.stderr)
    assert_true_summary(proc, run, 21)

    before = stats(collector)
    with open(written.path, "ab") as fh:
        fh.write(b"\n")  # the writer finishes its line after all
    _, newline_only = export_once(home, tmp_path / "newline.log", collector)
    assert newline_only.returncode == 0, newline_only.stdout + newline_only.stderr[-3000:]
    after = stats(collector)
    assert after["requests_committed"] == before["requests_committed"], \
        f"the newline alone shipped something again\n{newline_only.stdout}"

    more = write_claude_session(written.path, "cut", 5, start=21)
    proc, run = export_once(home, tmp_path / "more.log", collector)
    assert_stored_once(collector, {"cut": written.uuids + more.uuids}, run.stdout + run.stderr)
    assert_true_summary(proc, run, 5)
    assert stats(collector)["duplicates_suppressed"] == before["duplicates_suppressed"], \
        run.stdout


def test_forward_ships_a_final_record_without_newline_once_the_file_is_quiet(
        collector, home, tmp_path):
    proc = forward(home, tmp_path / "forward.log", collector)
    try:
        written = _final_record_without_newline(home, "quiet")
        # The exporter waits for a few quiet seconds before taking the unfinished line.
        wait_stored_count(collector, 21, proc, limit=30.0, stall=30.0)
        assert_stored_once(collector, {"quiet": written.uuids}, proc.log())
        duplicates = stats(collector)["duplicates_suppressed"]

        with open(written.path, "ab") as fh:
            fh.write(b"\n")
        more = write_claude_session(written.path, "quiet", 5, start=21)
        wait_stored_count(collector, 26, proc, limit=30.0)
        assert_stored_once(collector, {"quiet": written.uuids + more.uuids}, proc.log())
        assert stats(collector)["duplicates_suppressed"] == duplicates, \
            f"entries were shipped twice after the newline\n{proc.log()[-3000:]}"
        assert proc.terminate() == 0, proc.log()[-3000:]
    finally:
        proc.stop()


def test_one_shot_ships_200_files_of_1_mb(collector, home, tmp_path):
    written = write_many_sessions(home, 200, 1_000_000, projects=4)
    total = sum(len(w.uuids) for w in written)
    proc, run = export_once(home, tmp_path / "once.log", collector)
    assert_stored_once(collector, {w.session: w.uuids for w in written},
                       run.stdout + run.stderr)
    assert_true_summary(proc, run, total)


def _line_keys(uuids: list[str]) -> list[str]:
    """One key per line of the file: the uuid, or ``@<offset>`` for a record without one.

    A record without a uuid is id'd ``<file stem>:<byte offset>``: the stem changes with
    a rename, the offset does not, so a line shipped once under either name counts once
    and a line shipped under both counts twice.
    """
    return [f"@{uuid.rsplit(':', 1)[1]}" if ":" in uuid else uuid for uuid in uuids]


def test_a_file_renamed_while_forward_ships_it_is_not_shipped_twice(collector, home,
                                                                   tmp_path):
    path = session_file(home, "rot")
    # 20 MB; every other record without a uuid, so a re-read would store new rows.
    first = write_claude_session(path, "rot", 12_500, anonymous_every=2)
    proc = forward(home, tmp_path / "forward.log", collector)
    try:
        proc.wait_for(lambda: stats(collector)["total_traces"] > 0, 60.0,
                      "the first entries of the file")
        renamed = path.with_name("rot-renamed.jsonl")
        path.rename(renamed)  # as log rotation or a tool would, in the same directory
        at_rename = stats(collector)["total_traces"]
        assert at_rename < len(first.uuids), \
            "the exporter finished the file before the rename: make the file larger"
        more = write_claude_session(renamed, "rot", 200, start=12_500, anonymous_every=2)
        expected = _line_keys(first.uuids + more.uuids)

        try:
            wait_stored_count(collector, len(expected), proc)
            waited = None
        except AssertionError as exc:  # say what is stored twice, not only what is missing
            waited = str(exc).splitlines()[0]
        got = _line_keys([row["uuid"] for row in stored_rows(collector, "rot")])
        problem = exactly_once(expected, got, f"renamed after {at_rename:,} stored: ")
        wrong = [why for why in (waited, problem) if why]
        assert not wrong, "\n".join(wrong) + f"\n{proc.log()[-3000:]}"
        # One more line: whatever the rename set off has come through before it.
        last = write_claude_session(renamed, "rot", 1, start=12_700)
        wait_stored_count(collector, len(expected) + 1, proc)
        got = _line_keys([row["uuid"] for row in stored_rows(collector, "rot")])
        problem = exactly_once(expected + last.uuids, got)
        assert problem is None, f"{problem}\n{proc.log()[-3000:]}"
        assert proc.terminate() == 0, proc.log()[-3000:]
    finally:
        proc.stop()
