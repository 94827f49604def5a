"""Online backup (issue 18): a consistent copy of the store, taken while commits go on.

- the copy answers every query exactly as the store did, has the same tables, keys and
  sequences, and a collector opens it without migrating;
- taken while another thread keeps committing on the same connection (the writer's
  situation), the copy holds a prefix of the commits, each wholly in or out, and none
  made after its snapshot;
- refusals (missing directory, existing target) and failures (an error, the writer's
  interrupt) leave no file behind;
- a real ``thinkt collect --storage <backup>`` starts on it and reports its totals.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone

import pytest

from tests.collector import facade as store
from tests.collector.conftest import T0, build_entry, build_request
from tests.harness import Collector
from thinkt.collector import ingest, rollup
from thinkt.collector.governance.backup import NAME_FORMAT, backup
from thinkt.collector.longtext import LONG_CHARS
from thinkt.collector.queries import GROUP_BY

duckdb = pytest.importorskip("duckdb")

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
#: Entries per commit in the concurrent test: every session of the copy must have all.
PER_COMMIT = 4
#: A guard for waits on another thread (never reached when things work).
WAIT = 120.0


def filled(con) -> None:
    """Put a bit of everything in the store: sources, models, projects, people, agents,
    per-response tokens, a long text, a replaced entry, a used sequence."""
    requests = []
    for index in range(6):
        source = ("claude", "codex", "gemini")[index % 3]
        entries = [
            build_entry(f"u{index}-0", role="user", text=f"question {index} about ducks",
                        timestamp=T0 + timedelta(hours=index)),
            build_entry(f"u{index}-1", model=f"model-{index % 2}", text=f"answer {index}",
                        timestamp=T0 + timedelta(hours=index, minutes=1),
                        input_tokens=100 + index, output_tokens=10 + index,
                        cache_read_tokens=index, message_id=f"m{index}"),
            build_entry(f"u{index}-2", role="tool", tool_name="Bash", is_error=index == 2,
                        text="x" * (LONG_CHARS + 500) + f" needle {index}" if index == 3
                        else "ls -l", timestamp=T0 + timedelta(hours=index, minutes=2)),
        ]
        requests.append(build_request(f"s{index}", entries, source=source,
                                      project_path=f"/work/p{index % 2}",
                                      instance_id=f"i{index % 2}", machine_id="m",
                                      person=("alice", "bob", None)[index % 3]))
    store.ingest(con, requests)
    # The same uuid again with new tokens: a replaced entry (the rollup recomputes).
    store.ingest(con, [build_request("s1", [build_entry(
        "u1-1", model="model-1", text="answer 1, final", input_tokens=500, output_tokens=50,
        message_id="m1", timestamp=T0 + timedelta(hours=1, minutes=1))], source="codex",
        project_path="/work/p1", instance_id="i1", machine_id="m", person="bob")])
    store.register_agent(con, {"instance_id": "i0", "platform": "linux"}, T0)
    # Sequences (the store's own, if any, and one of ours) moved on: the copy must go on
    # from where they are, not hand out used values again.
    con.execute("CREATE SEQUENCE test_backup_seq START 1")
    for (name,) in con.execute("SELECT sequence_name FROM duckdb_sequences() WHERE "
                               "database_name = current_database()").fetchall():
        con.execute(f"SELECT nextval('{name}') FROM range(3)").fetchall()


def answers(cur) -> dict:
    """Everything the collector's queries answer about the store."""
    found = {"stats": store.stats(cur, T0, ":none:"),
             "sessions": store.list_sessions(cur, 100, None, None),
             "agents": store.list_agents(cur, T0),
             "search": [store.search(cur, q, 50) for q in ("ducks", "needle 3", "bash", "p1")]}
    for key in GROUP_BY:
        found[f"usage by {key}"] = store.usage(cur, key, None, None, None)
    for session in found["sessions"]:
        found[f"entries of {session['id']}"] = store.session_entries(cur, session["id"], 100, 0)
    return found


def tables(cur) -> dict[str, list[tuple]]:
    """Every row of every table of the current database."""
    names = [row[0] for row in cur.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "ORDER BY 1").fetchall()]
    return {name: cur.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall()
            for name in names}


def definitions(cur) -> list[tuple]:
    """Tables, keys, indexes and sequences of the current database, as DuckDB states them."""
    return sorted(cur.execute("""
        SELECT 'table', table_name, sql FROM duckdb_tables()
            WHERE database_name = current_database()
        UNION ALL SELECT 'constraint', table_name || ' ' || constraint_type || ' '
            || list_sort(constraint_column_names)::VARCHAR, NULL FROM duckdb_constraints()
            WHERE database_name = current_database()
        UNION ALL SELECT 'index', index_name, sql FROM duckdb_indexes()
            WHERE database_name = current_database()
        UNION ALL SELECT 'sequence', sequence_name, NULL FROM duckdb_sequences()
            WHERE database_name = current_database()
    """).fetchall(), key=repr)


def backups(directory) -> list[str]:
    return sorted(os.listdir(directory))


@pytest.fixture
def directory(tmp_path):
    """An empty directory for the backups (the store lives elsewhere under tmp_path)."""
    path = tmp_path / "backups"
    path.mkdir()
    return path


# -- the copy ---------------------------------------------------------------------------

def test_the_copy_answers_as_the_store_did(con, directory):
    filled(con)
    cur = con.cursor()
    steps: list[str] = []
    result = backup(cur, str(directory), now=NOW, progress=steps.append)

    path = str(directory / "thinkt-backup-20260304T050607Z.duckdb")
    assert result["path"] == path
    assert backups(directory) == [os.path.basename(path)]  # no partial file, no WAL
    assert result["bytes"] == os.path.getsize(path) > 0
    before = answers(cur)
    assert result["entries"] == before["stats"]["total_traces"] == 18
    assert result["sessions"] == before["stats"]["total_sessions"] == 6
    assert result["schema_version"] == store.SCHEMA_VERSION
    assert result["seconds"] >= 0
    assert steps and steps[-1].startswith("backup written")
    rows, schema = tables(cur), definitions(cur)
    sequences = dict(cur.execute("SELECT sequence_name, last_value FROM duckdb_sequences() "
                                 "WHERE database_name = current_database()").fetchall())
    cur.close()

    copy = store.open_database(path)  # what the collector does with --storage
    try:
        assert copy.execute("SELECT max(version) FROM schema_version").fetchone()[0] \
            == store.SCHEMA_VERSION
        assert tables(copy) == rows  # schema_version's applied_at too: nothing re-migrated
        assert definitions(copy) == schema
        assert answers(copy) == before
        for name, last in sequences.items():
            assert copy.execute(f"SELECT nextval('{name}')").fetchone()[0] > last, name
        # The copy is a store like any other: it takes new entries.
        assert store.ingest(copy, [build_request("new", [build_entry("n")])]) == [(1, 0)]
    finally:
        copy.close()


def test_the_name_is_the_utc_time_and_a_naive_time_counts_as_utc(con, directory):
    result = backup(con.cursor(), str(directory), now=datetime(2026, 12, 31, 23, 59, 59))
    assert os.path.basename(result["path"]) == "thinkt-backup-20261231T235959Z.duckdb"
    assert result["entries"] == result["sessions"] == 0
    later = NOW.astimezone(timezone(timedelta(hours=2)))  # same instant, another zone
    assert os.path.basename(backup(con.cursor(), str(directory), now=later)["path"]) \
        == NOW.strftime(NAME_FORMAT)


# -- under concurrent commits -----------------------------------------------------------

class Committer(threading.Thread):
    """Commits one new session of PER_COMMIT entries per transaction on the connection
    itself (as the writer's main thread does), folding the rollup in after each, until
    stopped. ``done`` counts the commits that returned."""

    def __init__(self, con) -> None:
        super().__init__(name="committer", daemon=True)
        self.con = con
        self.stop = threading.Event()
        self.changed = threading.Condition()
        self.done = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            log = ingest.EntryLog(self.con)
            folds = rollup.Rollup(self.con, lambda: log.last_seq)
            while not self.stop.is_set():
                session = f"c{self.done:06d}"
                batch = build_request(session, [
                    build_entry(f"{session}-{n}", text=f"entry {n} of {session}",
                                input_tokens=1, message_id=f"{session}-{n}")
                    for n in range(PER_COMMIT)])
                _, replaced = log.ingest(self.con, [batch])
                folds.committed([batch], replaced)
                folds.refresh(self.con)
                with self.changed:
                    self.done += 1
                    self.changed.notify_all()
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
            with self.changed:
                self.changed.notify_all()

    def wait_for(self, commits: int) -> int:
        """Wait until at least ``commits`` commits returned; return how many did."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.done >= commits or self.error,
                                         timeout=WAIT):
                raise AssertionError(f"the committer made only {self.done} commits")
            if self.error:
                raise self.error
            return self.done


@pytest.mark.parametrize("checkpoints", [False, True], ids=["commits", "checkpoints"])
def test_a_backup_taken_during_commits_holds_a_prefix_of_whole_commits(con, directory,
                                                                        checkpoints):
    if checkpoints:  # every commit checkpoints the store too, while the copy reads it
        con.execute("SET checkpoint_threshold = '1KB'")
    cur = con.cursor()  # the backup's, as the writer gives a background job its own
    committer = Committer(con)
    committer.start()
    try:
        committer.wait_for(5)
        after_snapshot = {}

        def progress(step: str) -> None:
            if step.startswith("snapshot taken"):
                # Commits that start from now on are after the snapshot: the copy must not
                # hold them (the one under way may have committed before it).
                after_snapshot["done"] = committer.done
                committer.wait_for(after_snapshot["done"] + 3)

        result = backup(cur, str(directory), now=NOW, progress=progress)
        committer.wait_for(committer.done + 1)  # still committing after the copy ended
    finally:
        committer.stop.set()
        committer.join()
    assert committer.error is None
    committed = committer.done

    copy = duckdb.connect(result["path"])
    try:
        counts = dict(copy.execute("SELECT session_id, count(*) FROM collected_entries "
                                   "GROUP BY ALL").fetchall())
        sessions = len(counts)
        # A prefix: sessions c000000 .. c(n-1), each with all its entries.
        assert sorted(counts) == [f"c{n:06d}" for n in range(sessions)]
        assert set(counts.values()) == {PER_COMMIT}
        assert 5 <= sessions <= after_snapshot["done"] + 1 < committed - 1
        assert (result["entries"], result["sessions"]) == (sessions * PER_COMMIT, sessions)
        # Whatever the rollup had folded in is consistent with the entries: the collector
        # starting on the copy folds in the rest, and the totals are the entries'.
        log = ingest.EntryLog(copy)
        rollup.Rollup(copy, lambda: log.last_seq).refresh(copy)
        totals = store.stats(copy, T0, ":none:")
        assert (totals["total_traces"], totals["total_sessions"], totals["tokens"]["input"]) \
            == (sessions * PER_COMMIT, sessions, sessions * PER_COMMIT)
    finally:
        copy.close()
    # The store itself went on: nothing was lost or stopped by the backup.
    assert con.execute("SELECT count(*) FROM collected_entries").fetchone()[0] \
        == committed * PER_COMMIT


def test_only_a_hidden_partial_file_exists_until_the_copy_is_checked(con, directory):
    filled(con)
    seen = []

    def progress(step: str) -> None:
        seen.append(backups(directory))

    result = backup(con.cursor(), str(directory), now=NOW, progress=progress)
    during = {name for names in seen[:-1] for name in names}
    assert during and all(name.startswith(".thinkt-backup-") and ".partial" in name
                          for name in during)
    assert backups(directory) == [os.path.basename(result["path"])]


def test_a_failed_backup_leaves_nothing_and_the_cursor_usable(con, directory):
    filled(con)
    cur = con.cursor()

    def progress(step: str) -> None:
        if step.startswith("snapshot taken"):
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        backup(cur, str(directory), now=NOW, progress=progress)
    assert backups(directory) == []
    # No transaction left open and nothing left attached.
    assert cur.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name "
                       "LIKE 'thinkt_backup_%'").fetchone()[0] == 0
    cur.execute("BEGIN TRANSACTION")
    cur.execute("ROLLBACK")
    assert backup(cur, str(directory), now=NOW)["entries"] == 18


def test_an_interrupted_backup_leaves_nothing_behind(con, directory):
    """The writer stops a running job with ``interrupt()`` again and again until its thread
    ends: the backup is then either finished and checked, or gone without a trace."""
    for batch in range(10):  # enough rows that the interrupts usually land in the copy
        store.ingest(con, [build_request(f"s{batch}-{k}", [
            build_entry(f"u{n}", text=f"text {batch} {k} {n} " * 20) for n in range(100)])
            for k in range(10)])
    cur = con.cursor()
    copying = threading.Event()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = backup(cur, str(directory), now=NOW, progress=lambda step: (
                copying.set() if step.startswith("snapshot taken") else None))
        except duckdb.InterruptException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    assert copying.wait(WAIT)
    while thread.is_alive():  # as JobRunner.stop does
        cur.interrupt()
        thread.join(0.01)
    assert len(outcome) == 1
    if "result" in outcome:
        assert backups(directory) == [os.path.basename(outcome["result"]["path"])]
    else:
        assert backups(directory) == []
    assert con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name "
                       "LIKE 'thinkt_backup_%'").fetchone()[0] == 0
    cur.close()
    assert backup(con.cursor(), str(directory), now=NOW + timedelta(seconds=1))["entries"] \
        == 10_000


# -- refusals ---------------------------------------------------------------------------

def test_a_missing_directory_is_refused(con, directory):
    with pytest.raises(ValueError, match="does not exist"):
        backup(con.cursor(), str(directory / "nowhere"), now=NOW)
    assert not (directory / "nowhere").exists()


def test_a_file_is_not_a_directory(con, directory):
    (directory / "file").write_text("")
    with pytest.raises(ValueError, match="does not exist"):
        backup(con.cursor(), str(directory / "file"), now=NOW)


def test_an_existing_target_is_refused_and_kept(con, directory):
    target = directory / NOW.strftime(NAME_FORMAT)
    target.write_bytes(b"an older backup")
    with pytest.raises(ValueError, match="already exists"):
        backup(con.cursor(), str(directory), now=NOW)
    assert target.read_bytes() == b"an older backup"
    assert backups(directory) == [target.name]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any directory")
def test_a_read_only_directory_is_refused(con, directory):
    locked = directory / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(ValueError, match="not writable"):
            backup(con.cursor(), str(locked), now=NOW)
    finally:
        locked.chmod(0o700)


# -- a real collector on the backup -----------------------------------------------------

@pytest.mark.slow
def test_a_collector_starts_on_the_backup_and_reports_its_totals(con, directory):
    filled(con)
    result = backup(con.cursor(), str(directory), now=NOW)
    expected = store.stats(con, T0, ":none:")

    live = Collector(result["path"], directory / "collector.log", workers=1)
    try:
        live.start()
        response = live.get("/v1/traces/stats")
        assert response.status_code == 200, response.text[:300]
        stats = response.json()
        assert (stats["total_traces"], stats["total_sessions"], stats["tokens"]) \
            == (expected["total_traces"], expected["total_sessions"], expected["tokens"])
        assert live.terminate() == 0
    finally:
        live.stop()
    # Opened as it is: at the backed-up schema version, no migration run on it.
    assert f"(schema version {store.SCHEMA_VERSION})" in live.log()
    assert "migrating" not in live.log()
    copy = duckdb.connect(result["path"], read_only=True)
    try:
        assert copy.execute("SELECT max(version) FROM schema_version").fetchone()[0] \
            == store.SCHEMA_VERSION
    finally:
        copy.close()
