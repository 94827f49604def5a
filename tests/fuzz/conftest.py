"""The fuzz targets: the real Flask app over a real writer thread and store, in-process.

Nothing is mocked between the HTTP layer and DuckDB, so a request that crashes any
part of the collector shows up as a 500 here, exactly as it would under gunicorn.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from multiprocessing.connection import Listener

import pytest

pytest.importorskip("duckdb")

from tests.collector import facade as store  # noqa: E402
from thinkt.collector.app import create_app  # noqa: E402
from thinkt.collector.channel import WriterClient, new_address, new_authkey  # noqa: E402
from thinkt.collector.settings import CollectorSettings  # noqa: E402
from thinkt.collector.writer import QueryServer, Replies, Writer  # noqa: E402

#: Requests per fuzz test in CI; ``THINKT_FUZZ_EXAMPLES=100000`` for a long run by hand.
DEFAULT_EXAMPLES = 150


def fuzz_examples(default: int = DEFAULT_EXAMPLES) -> int:
    """How many hypothesis examples a fuzz test runs (THINKT_FUZZ_EXAMPLES overrides)."""
    # Read from the real environment at import time: the autouse fixture that scrubs
    # THINKT_* runs later, per test.
    return int(_EXAMPLES_FROM_ENV or default)


_EXAMPLES_FROM_ENV = os.environ.get("THINKT_FUZZ_EXAMPLES", "")


def check_answer(path: str, status: int, headers, body: bytes) -> None:
    """The promise: a JSON answer, never a 500; 503 only with Retry-After."""
    assert status < 500 or status == 503, (path, status, body[:300])
    if status == 503:
        assert headers.get("Retry-After"), path
    if path == "/metrics" and status == 200:
        return  # Prometheus text format
    assert headers.get("Content-Type", "").split(";")[0] == "application/json", (
        path, status, headers.get("Content-Type"), body[:200])
    answer = json.loads(body)
    if status >= 400:
        assert isinstance(answer.get("error"), str), answer
        assert isinstance(answer.get("message"), str), answer


class InProcessCollector:
    """A collector app whose writer and query server are threads of this process."""

    def __init__(self, db_path: str, **settings):
        self.con = store.open_database(db_path)
        self.queue: queue.Queue = queue.Queue(maxsize=64)
        address, authkey = new_address(), new_authkey()
        self.replies = Replies()
        self.writer = Writer(self.con, self.queue, self.replies, linger=0.0, quiet_gap=0.0)
        self.server = QueryServer(self.con, Listener(address, family="AF_UNIX", authkey=authkey),
                                  self.replies, extra_stats=lambda now: {"queue_depth": 0},
                                  fresh=self.writer.rollup.ensure_fresh)
        self.server.start()
        self.thread = threading.Thread(target=self.writer.run, name="fuzz-writer", daemon=True)
        self.thread.start()
        self.client = WriterClient(self.queue, address, authkey)
        values = dict(storage=db_path, commit_timeout=10.0, request_timeout=10.0)
        values.update(settings)
        self.app = create_app(CollectorSettings(**values), self.client)
        self.http = self.app.test_client()

    def close(self) -> None:
        """Stop the writer (committing what is queued) and close everything."""
        self.queue.put(None)
        self.thread.join(10)
        self.writer.jobs.stop()
        self.server.close()
        self.client.close()
        self.con.close()


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    """One in-process collector for a whole fuzz module (startup is the slow part)."""
    live = InProcessCollector(str(tmp_path_factory.mktemp("fuzz") / "collector.duckdb"),
                              max_body=256 * 1024)
    yield live
    live.close()
