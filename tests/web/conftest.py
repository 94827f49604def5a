"""Web page fixtures: the real app over a real store, with the writer's queries run in-process.

``StoreClient`` stands in for the worker's writer client: its queries are the writer's
own (writer.py ``_QUERIES``) on a cursor of a migrated DuckDB file under tmp_path, so a
page's figures and the API's come from the same store in the same test.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

pytest.importorskip("duckdb")

from tests.collector import facade  # noqa: E402
from tests.collector.conftest import build_entry, build_request  # noqa: E402
from thinkt.collector import auth, writer  # noqa: E402
from thinkt.collector.app import create_app  # noqa: E402
from thinkt.collector.channel import Unavailable  # noqa: E402
from thinkt.collector.settings import CollectorSettings  # noqa: E402

READER, LOADER = "reader-token-0123456789", "loader-token-0123456789"
SECRET = b"s" * 64
#: A day inside the pages' default range in every test (freeze "today" to it).
TODAY = datetime(2026, 3, 10)


class StoreClient:
    """Answers ``query`` with the writer's functions on a real store; can be made to fail."""

    def __init__(self, con):
        self.con = con
        self.cur = con.cursor()
        self.asked: list[str] = []
        self.fail: Exception | None = None

    def query(self, name, timeout, **kwargs):
        if self.fail is not None:
            raise self.fail
        self.asked.append(name)
        if name == "stats":
            from thinkt.collector import queries

            return queries.stats(self.cur, kwargs["now"], kwargs["db_path"])
        return writer._QUERIES[name](self.cur, **kwargs)

    def ingest(self, request, timeout):  # pragma: no cover - the pages never write
        raise Unavailable("read-only test client")


@pytest.fixture
def store(tmp_path):
    con = facade.open_database(str(tmp_path / "collector.duckdb"))
    yield con
    con.close()


@pytest.fixture
def client_of_store(store):
    return StoreClient(store)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    from thinkt.collector.web import forms

    monkeypatch.setattr(forms, "today", lambda: TODAY.date())


def make_app(store_client, **overrides):
    values = {"storage": "/nonexistent/collector.duckdb",
              "tokens": (auth.Grant(READER, frozenset({"read"}), "team-lead"),
                         auth.Grant(LOADER, frozenset({"ingest"}), "laptops")),
              "web_secret": SECRET}
    values.update(overrides)
    return create_app(CollectorSettings(**values), store_client)


@pytest.fixture
def app(client_of_store):
    return make_app(client_of_store)


@pytest.fixture
def browser(app):
    """A test client (its cookie jar is a browser's), not signed in."""
    return app.test_client()


def csrf_of(html: str) -> str:
    """The form token in a page."""
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client, token=READER, next_path="/"):
    page = client.get("/signin")
    return client.post("/signin", data={"token": token, "csrf": csrf_of(page.text),
                                        "next": next_path})


@pytest.fixture
def signed_in(browser):
    response = sign_in(browser)
    assert response.status_code == 302, response.text
    return browser


def fill(con, sessions=None):
    """Store a small team's sessions (2 people, 3 projects, 2 sources, a priced and an
    unpriced model, a long-context response) in the week before TODAY."""
    day = TODAY - timedelta(days=3)
    requests = []
    plan = sessions or [
        ("s-ann-1", "ann", "/srv/shop", "claude", "claude-sonnet-4-5", "laptop-a", 0),
        ("s-ann-2", "ann", "/srv/blog", "claude", "claude-sonnet-4-5", "laptop-a", 1),
        ("s-bob-1", "bob", "/srv/shop", "codex", "gpt-5-codex", "laptop-b", 1),
        ("s-bob-2", "bob", "/srv/tools", "qwen", "mystery-model-9", "laptop-b", 2),
    ]
    for n, (sid, person, project, source, model, instance, offset) in enumerate(plan):
        at = day + timedelta(days=offset, hours=n % 20)
        entries = [
            build_entry(f"{sid}-u1", role="user", timestamp=at, text="Why does the build fail?",
                        git_branch="main"),
            build_entry(f"{sid}-a1", role="assistant", timestamp=at + timedelta(seconds=5),
                        model=model, text="The import path is wrong.", has_thinking=True,
                        thinking_len=420, input_tokens=1200 + n, output_tokens=80,
                        cache_read_tokens=5000, message_id=f"{sid}-m1", git_branch="main"),
            build_entry(f"{sid}-t1", role="tool_use", timestamp=at + timedelta(seconds=6),
                        tool_name="Bash", text="pytest -x", git_branch="feature/x"),
            build_entry(f"{sid}-r1", role="tool_result", timestamp=at + timedelta(seconds=9),
                        text="line\n" * 40 + "FAILED test_build.py", is_error=True,
                        git_branch="feature/x"),
            build_entry(f"{sid}-a2", role="assistant", timestamp=at + timedelta(seconds=12),
                        model=model, text="Fixed: the build passes now.",
                        input_tokens=210_000 if n == 0 else 300, output_tokens=40,
                        message_id=f"{sid}-m2", git_branch="feature/x"),
        ]
        requests.append(build_request(sid, entries, source=source, project_path=project,
                                      instance_id=instance, person=person,
                                      received_at=at))
    facade.ingest(con, requests)
    facade.register_agent(con, {"instance_id": "laptop-a", "platform": "linux-x86_64",
                                "hostname": "ann-thinkpad", "version": "1.2.3",
                                "user": "ann"}, TODAY - timedelta(minutes=1))
    facade.register_agent(con, {"instance_id": "laptop-b", "platform": "darwin-arm64",
                                "hostname": "bob-mac", "version": "1.2.0"},
                          TODAY - timedelta(days=2))


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The cell texts of each body row of the table ``table_id`` in a page."""
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.inside = self.body = False
            self.rows: list[list[str]] = []
            self.cell: list[str] | None = None

        def handle_starttag(self, tag, attrs):
            if tag == "table" and dict(attrs).get("id") == table_id:
                self.inside = True
            elif self.inside and tag == "tbody":
                self.body = True
            elif self.body and tag == "tr":
                self.rows.append([])
            elif self.body and tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag):
            if tag in ("table", "tbody"):
                self.inside = self.inside and tag != "table"
                self.body = False
            elif self.body and tag in ("td", "th") and self.cell is not None:
                self.rows[-1].append(" ".join("".join(self.cell).split()))
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    parser = Cells()
    parser.feed(html)
    return parser.rows
