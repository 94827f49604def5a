"""The writer's group commit, run in-process on a queue preloaded with a sentinel."""

from __future__ import annotations

import multiprocessing
import queue
import threading
from datetime import datetime, timedelta
from multiprocessing.connection import Client, Listener

import pytest

from tests.collector import facade as store
from thinkt.collector import writer
from thinkt.collector import ingest
from thinkt.collector.channel import (REJECTED, AgentRegistration, Failed, Hello, Ingest, Ingested,
                                      Ok, Query, Register, Rejected, Unavailable, WriterClient,
                                      new_address, new_authkey)
from thinkt.collector.schemas import load_entries
from thinkt.collector.writer import QueryServer, Replies, Writer
from thinkt.status import ExitStatus

RECEIVED = datetime(2026, 3, 1, 12, 0, 0)


class CapturingReplies(Replies):
    """Records what the writer answers, instead of sending it to a worker."""

    def __init__(self):
        super().__init__()
        self.sent = []

    def send(self, client_id, message):
        self.sent.append((client_id, message))
        return True


def request(session, uuids, **overrides):
    rows, errors = load_entries([{"uuid": u, "role": "user", "text": f"t {u}",
                                  "timestamp": "2026-03-01T10:00:00Z"} for u in uuids])
    assert not errors
    fields = dict(source="claude", session_id=session, project_path="/p", instance_id=None,
                  machine_id=None, metadata=None, received_at=RECEIVED, entries=rows)
    fields.update(overrides)
    return store.IngestRequest(**fields)


@pytest.fixture
def db(tmp_path):
    con = store.open_database(str(tmp_path / "collector.duckdb"))
    yield con
    con.close()


def run_writer(db, items, **kwargs):
    q = queue.Queue()
    for item in items:
        q.put(item)
    q.put(None)
    replies = CapturingReplies()
    writer = Writer(db, q, replies, **kwargs)
    writer.run()
    return writer, replies.sent


def count(db, sql="SELECT count(*) FROM collected_entries"):
    return db.execute(sql).fetchone()[0]


def test_everything_waiting_is_one_transaction_answered_after_commit(db):
    writer, sent = run_writer(db, [
        Ingest("w1", 1, request("s1", ["a", "b", "c"])),
        Ingest("w2", 9, request("s1", ["c", "d"])),
        Ingest("w1", 2, request("s2", ["a"])),
    ])
    assert writer.counters["commits"] == 1
    assert sent == [("w1", Ok(1, Ingested(3, 0, 0))), ("w2", Ok(9, Ingested(1, 0, 1))), ("w1", Ok(2, Ingested(1, 0, 0)))]
    assert count(db) == 5


def test_resending_a_batch_changes_nothing(db):
    run_writer(db, [Ingest("w", 1, request("s", ["a", "b"]))])
    _, sent = run_writer(db, [Ingest("w", 2, request("s", ["a", "b"]))])
    assert sent == [("w", Ok(2, Ingested(0, 0, 2)))]
    assert count(db) == 2
    assert count(db, "SELECT entry_count FROM collected_sessions WHERE session_id = 's'") == 2


def test_group_is_bounded_by_rows(db):
    items = [Ingest("w", i, request(f"s{i}", [f"u{j}" for j in range(10)])) for i in range(10)]
    writer, sent = run_writer(db, items, max_rows=30)
    assert writer.counters["commits"] == 4  # 30 + 30 + 30 + 10 rows
    assert [m[1].req_id for m in sent] == list(range(10))
    assert count(db) == 100


def test_a_request_the_store_cannot_take_is_rejected_alone(db, monkeypatch):
    real_ingest = ingest.EntryLog.ingest

    def picky(self, con, requests, also=None):
        if any(r.session_id == "poison" for r in requests):
            raise store.duckdb.ConversionException("cannot convert")
        return real_ingest(self, con, requests, also)

    monkeypatch.setattr(ingest.EntryLog, "ingest", picky)
    _, sent = run_writer(db, [
        Ingest("w", 1, request("good", ["a"])),
        Ingest("w", 2, request("poison", ["b"])),
        Ingest("w", 3, request("good", ["c"])),
    ])
    assert sent[0] == ("w", Ok(1, Ingested(1, 0, 0)))
    assert sent[1][1][:2] == (2, REJECTED)
    assert sent[2] == ("w", Ok(3, Ingested(1, 0, 0)))
    assert count(db) == 2


def test_storage_errors_answer_unavailable_and_keep_the_writer_running(db, monkeypatch):
    real_ingest = ingest.EntryLog.ingest
    calls = []

    def full_disk_once(self, con, requests, also=None):
        calls.append(len(requests))
        if len(calls) == 1:
            raise store.duckdb.IOException("No space left on device")
        return real_ingest(self, con, requests, also)

    monkeypatch.setattr(ingest.EntryLog, "ingest", full_disk_once)
    q = queue.Queue()
    q.put(Ingest("w", 1, request("s", ["a"])))
    replies = CapturingReplies()
    writer = Writer(db, q, replies)
    stop = threading.Event()
    thread = threading.Thread(target=writer.run, args=(stop,))
    thread.start()
    try:
        for _ in range(100):
            if replies.sent:
                break
            threading.Event().wait(0.02)
        assert replies.sent[0][1][:2] == (1, "unavailable")
        q.put(Ingest("w", 2, request("s", ["a"])))  # the exporter sends it again
        q.put(None)
        thread.join(10)
    finally:
        stop.set()
        thread.join(10)
    assert replies.sent[1] == ("w", Ok(2, Ingested(1, 0, 0)))


def test_stop_event_commits_what_is_queued(db):
    q = queue.Queue()
    q.put(Ingest("w", 1, request("s", ["a", "b"])))
    stop = threading.Event()
    stop.set()
    replies = CapturingReplies()
    Writer(db, q, replies).run(stop)
    assert replies.sent == [("w", Ok(1, Ingested(2, 0, 0)))]
    assert count(db) == 2


def test_registration_goes_through_the_writer(db):
    now = datetime(2026, 3, 1, 12, 0, 0)
    _, sent = run_writer(db, [Register("w", 5, AgentRegistration(
        {"instance_id": "i-1", "platform": "linux", "hostname": "box"}, now))])
    [(client, answer)] = sent
    assert isinstance(answer, Ok) and (client, answer.req_id) == ("w", 5)
    agent = answer.result
    assert agent["instance_id"] == "i-1" and agent["hostname"] == "box"


def test_sweep_runs_with_the_writers_clock(db):
    registered = datetime(2026, 3, 1, 12, 0, 0)
    run_writer(db, [Register("w", 1, AgentRegistration(
        {"instance_id": "old", "platform": "linux"}, registered))])
    run_writer(db, [], clock=lambda: registered + timedelta(days=30),
               retention=timedelta(days=7))
    assert count(db, "SELECT count(*) FROM collected_agents") == 0


def test_client_and_query_server_end_to_end_in_process(db):
    """A real WriterClient talks to a Writer thread and a QueryServer over a real socket."""
    q = queue.Queue(maxsize=8)
    address, authkey = new_address(), new_authkey()
    listener = Listener(address, family="AF_UNIX", authkey=authkey)
    replies = Replies()
    writer = Writer(db, q, replies)
    server = QueryServer(db, listener, replies, extra_stats=lambda now: {"queue_depth": 0},
                         fresh=writer.rollup.ensure_fresh)
    server.start()
    thread = threading.Thread(target=writer.run)
    thread.start()
    client = WriterClient(q, address, authkey)
    try:
        assert client.ingest(request("s", ["a", "b"]), timeout=10) == Ingested(2, 0, 0)
        assert client.ingest(request("s", ["b", "c"]), timeout=10) == Ingested(1, 0, 1)
        assert client.query("ping", timeout=10) is True
        hits = client.query("search", timeout=10, q="T B", limit=10)
        assert [h["id"] for h in hits] == ["s"]
        stats = client.query("stats", timeout=10, now=RECEIVED, db_path="/nonexistent")
        assert stats["total_traces"] == 3 and stats["queue_depth"] == 0
        with pytest.raises(Rejected):
            client.query("drop_everything", timeout=10)
    finally:
        q.put(None)
        thread.join(10)
        server.close()
        client.close()
    assert not thread.is_alive()


def test_client_reports_a_missing_writer_as_unavailable():
    client = WriterClient(queue.Queue(), new_address(), new_authkey())
    with pytest.raises(Unavailable):
        client.query("ping", timeout=1)


def test_client_times_out_when_the_writer_never_answers(db):
    address, authkey = new_address(), new_authkey()
    listener = Listener(address, family="AF_UNIX", authkey=authkey)
    server = QueryServer(db, listener, Replies(), extra_stats=dict, fresh=lambda cursor: None)
    server.start()
    silent_queue = queue.Queue()  # nobody reads it: no writer loop
    client = WriterClient(silent_queue, address, authkey)
    try:
        with pytest.raises(Unavailable) as err:
            client.ingest(request("s", ["a"]), timeout=0.3)
        assert "did not answer" in err.value.message
    finally:
        server.close()
        client.close()


def test_full_queue_is_unavailable_quickly():
    address, authkey = new_address(), new_authkey()
    listener = Listener(address, family="AF_UNIX", authkey=authkey)
    try:
        full = queue.Queue(maxsize=1)
        full.put("occupied")
        client = WriterClient(full, address, authkey, put_timeout=0.1)
        accept = threading.Thread(target=lambda: listener.accept().recv())
        accept.start()
        with pytest.raises(Unavailable) as err:
            client.ingest(request("s", ["a"]), timeout=5)
        assert "queue full" in err.value.message
        accept.join(5)
        client.close()
    finally:
        listener.close()


def bounded(call, timeout: float = 10.0):
    """Run ``call`` on a thread; return its result or raise what it raised, within ``timeout``
    (a server that stops answering fails the test instead of hanging it)."""
    box: dict = {}

    def run():
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the test thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"did not finish in {timeout}s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_unauthenticated_connections_are_refused(db):
    address, authkey = new_address(), new_authkey()
    listener = Listener(address, family="AF_UNIX", authkey=authkey)
    server = QueryServer(db, listener, Replies(), extra_stats=dict, fresh=lambda cursor: None)
    server.start()
    try:
        with pytest.raises(multiprocessing.AuthenticationError,
                           match="digest sent was rejected"):
            bounded(lambda: Client(address, family="AF_UNIX", authkey=b"guess"))
        # The refusal cost the server nothing: the right key still gets answers.
        good = bounded(lambda: Client(address, family="AF_UNIX", authkey=authkey))
        try:
            good.send(Hello("worker-1"))
            good.send(Query(1, "ping", {}))
            assert good.poll(10) and good.recv() == Ok(1, True)
        finally:
            good.close()
    finally:
        server.close()


def open_in_a_writer_process(path):
    """Start the real writer process on ``path``; return what it tells the arbiter and its exit."""
    ctx = multiprocessing.get_context("spawn")
    ready_recv, ready_send = ctx.Pipe(duplex=False)
    # Held until the writer has ended: freed sooner, its semaphores are unlinked before
    # the writer has opened them.
    work = ctx.Queue()
    process = ctx.Process(target=writer.main, args=(str(path), work, new_address(),
                                                    new_authkey(), ready_send, {"quiet": True}))
    process.start()
    ready_send.close()
    try:
        assert ready_recv.poll(60), "the writer said nothing within 60s"
        message = ready_recv.recv()
    finally:
        process.join(30)
        ready_recv.close()
        work.close()
    return message, process.exitcode


@pytest.mark.slow
def test_a_writer_that_cannot_open_the_database_passes_on_the_stores_status(db, tmp_path):
    """The arbiter exits with the store's status and sentence, not a guess from the words:
    75 for a lock (try again later), 78 for a file that is not a database."""
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database\n" * 1000)
    for path, status, start in ((tmp_path / "collector.duckdb", ExitStatus.TEMPFAIL,
                                 f"The database {tmp_path / 'collector.duckdb'} is locked"),
                                (junk, ExitStatus.CONFIG, f"The file {junk} is not a DuckDB")):
        message, exitcode = open_in_a_writer_process(path)
        assert message[0] == "failed" and message[1].startswith(start), message
        assert message[2:] == (status, None), message
        assert exitcode == writer.EXIT_OPEN_FAILED
