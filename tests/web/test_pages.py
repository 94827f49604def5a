"""The pages over a real store: each opens, and its figures are the API's."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.collector import facade
from tests.collector.conftest import build_entry, build_request
from tests.web.conftest import READER, TODAY, fill, table_rows
from thinkt.collector.channel import Unavailable
from thinkt.collector.web import pages

API = {"Authorization": f"Bearer {READER}"}
RANGE = {"from": "2026-02-09", "to": "2026-03-10"}
API_RANGE = {"since": "2026-02-09", "until": "2026-03-11"}
# The usage page's groupings and the API's names for them.
SHARED_GROUPS = {"user": "user", "machine": "agent", "project": "project", "model": "model",
                 "source": "source", "day": "day"}


@pytest.fixture
def team(store, signed_in):
    fill(store)
    return signed_in


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.text)))


@pytest.mark.parametrize("group", sorted(SHARED_GROUPS))
def test_usage_figures_are_the_apis(team, group):
    api = team.get("/v1/usage", query_string={"group_by": SHARED_GROUPS[group], **API_RANGE},
                   headers=API).get_json()
    page = csv_rows(team.get("/usage.csv", query_string={"group": group, **RANGE}))
    assert [r[group] or None for r in page] == [r["key"] for r in api]  # same order too
    for ours, theirs in zip(page, api):
        for name in ("input_tokens", "output_tokens", "cache_read_tokens",
                     "cache_write_tokens", "reasoning_tokens", "entries", "sessions"):
            assert int(ours[name]) == theirs[name], (group, name, ours)
        if theirs["cost_usd"] is None:
            assert ours["cost_usd"] == ""
        else:
            assert float(ours["cost_usd"]) == pytest.approx(theirs["cost_usd"], abs=1e-6)
    assert any(row["cost_usd"] for row in api)  # something was priced and compared


def test_usage_figures_follow_the_filters_as_the_api_does(team):
    api = team.get("/v1/usage", query_string={"group_by": "model", "source": "claude",
                                              "user": "ann", **API_RANGE},
                   headers=API).get_json()
    page = csv_rows(team.get("/usage.csv", query_string={"group": "model", "source": "Claude",
                                                          "user": "ann", **RANGE}))
    assert {r["model"] or None: int(r["input_tokens"]) for r in page} == \
        {r["key"]: r["input_tokens"] for r in api}
    only = csv_rows(team.get("/usage.csv", query_string={"group": "user",
                                                          "project": "/srv/shop", **RANGE}))
    assert {r["user"] for r in only} == {"ann", "bob"}
    assert sum(int(r["sessions"]) for r in only) == 2


def test_usage_by_branch_and_by_machine(team):
    # A (session, hour) is on the branch its latest entry there names: every sample
    # session ends its hour on feature/x, so all their usage is that branch's.
    [branch] = csv_rows(team.get("/usage.csv", query_string={"group": "branch", **RANGE}))
    everything = csv_rows(team.get("/usage.csv", query_string={"group": "source", **RANGE}))
    assert branch["branch"] == "feature/x" and branch["sessions"] == "4"
    assert int(branch["total_tokens"]) == sum(int(r["total_tokens"]) for r in everything)
    machines = csv_rows(team.get("/usage.csv", query_string={"group": "machine", **RANGE}))
    assert {(r["machine"], r["hostname"]) for r in machines} == {
        ("laptop-a", "ann-thinkpad"), ("laptop-b", "bob-mac")}
    page = team.get("/usage", query_string={"group": "machine", **RANGE}).text
    assert {r[0] for r in table_rows(page, "usage")} == {"ann-thinkpad", "bob-mac"}


def test_the_usage_table_shows_the_csv_rows_and_sorts(team):
    rows = csv_rows(team.get("/usage.csv", query_string={"group": "project", **RANGE}))
    page = team.get("/usage", query_string={"group": "project", **RANGE})
    assert page.status_code == 200
    shown = table_rows(page.text, "usage")
    assert [r[0] for r in shown] == [r["project"] for r in rows]
    assert [r[1] for r in shown] == [f"{int(r['total_tokens']):,}" for r in rows]
    ascending = table_rows(team.get("/usage", query_string={
        "group": "project", "sort": "key", "dir": "asc", **RANGE}).text, "usage")
    assert [r[0] for r in ascending] == sorted(r["project"] for r in rows)
    by_cost = table_rows(team.get("/usage", query_string={
        "group": "project", "sort": "cost", "dir": "desc", **RANGE}).text, "usage")
    assert by_cost[-1][-1] == "unpriced"  # nothing priced sorts last


def test_a_model_without_a_price_is_unpriced_never_zero(team):
    rows = {r["model"]: r for r in csv_rows(team.get("/usage.csv",
                                                      query_string={"group": "model", **RANGE}))}
    assert rows["mystery-model-9"]["cost_usd"] == ""
    assert rows["mystery-model-9"]["unpriced_models"] == "mystery-model-9"
    assert float(rows["claude-sonnet-4-5"]["cost_usd"]) > 0
    table = {r[0]: r for r in table_rows(team.get("/usage", query_string={
        "group": "model", **RANGE}).text, "usage")}
    assert table["mystery-model-9"][-1] == "unpriced"
    assert table["(none)"][-1] == "—"  # user lines: no tokens, nothing to price
    overview = team.get("/", query_string=RANGE).text
    assert "unpriced: mystery-model-9" in overview
    models = {r[0]: r for r in table_rows(overview, "top-models")}
    assert models["mystery-model-9"][2] == "unpriced"
    users = {r[0]: r for r in table_rows(overview, "top-users")}
    assert users["bob"][2].endswith("+ unpriced")


def test_the_csv_has_every_row_and_no_formula(team, store, monkeypatch):
    fill(store, [("s-evil", "=HYPERLINK(\"x\")", "/srv/shop", "claude", "claude-sonnet-4-5",
                  "laptop-a", 0)])
    monkeypatch.setattr(pages, "USAGE_PAGE", 1)
    response = team.get("/usage.csv", query_string={"group": "user", **RANGE})
    assert "attachment" in response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert len(rows) == 3 and "'=HYPERLINK(\"x\")" in [r["user"] for r in rows]
    page = team.get("/usage", query_string={"group": "user", "page": "2", **RANGE})
    assert len(table_rows(page.text, "usage")) == 1 and "page 2 of 3" in page.text


def test_overview_totals_are_the_apis(team):
    page = team.get("/", query_string=RANGE)
    assert page.status_code == 200 and "<svg" in page.text
    api = team.get("/v1/usage", query_string={"group_by": "source", **API_RANGE},
                   headers=API).get_json()
    tokens = sum(r[k] for r in api for k in ("input_tokens", "output_tokens",
                                             "cache_read_tokens", "cache_write_tokens"))
    assert f'title="{tokens:,}"' in page.text
    assert f'id="total-entries">{sum(r["entries"] for r in api):,}<' in page.text
    assert f'id="total-sessions">{sum(r["sessions"] for r in api)}<' in page.text
    assert [r[0] for r in table_rows(page.text, "top-users")] == ["ann", "bob"]
    assert [r[0] for r in table_rows(page.text, "top-agents")] == ["ann-thinkpad", "bob-mac"]


def test_a_bad_filter_is_a_message_not_a_failure(team):
    for path in ("/usage", "/usage.csv", "/sessions", "/"):
        response = team.get(path, query_string={"from": "2026-02-30", "group": "nope"})
        assert response.status_code == 400, path
        assert "A date is YYYY-MM-DD" in response.text and "Traceback" not in response.text
    assert "Must be one of" in team.get("/usage?group=nope").text


def test_sessions_list_is_the_apis_and_filters(team):
    api = team.get("/v1/sessions", headers=API).get_json()
    page = team.get("/sessions", query_string=RANGE)
    shown = table_rows(page.text, "sessions")
    assert [int(r[5]) for r in shown] == [s["entry_count"] for s in api]
    assert page.text.count('data-session="') == len(api)
    assert [s["id"] for s in api] == [
        line.split('"')[1] for line in page.text.split('data-session=')[1:]]
    mine = team.get("/sessions", query_string={"user": "ann", **RANGE}).text
    assert "1–2 of 2 sessions" in mine and 'data-session="s-bob-1"' not in mine
    none = team.get("/sessions", query_string={"model": "nope", **RANGE}).text
    assert "No session matches" in none


def test_sessions_page_in_fifties(team, store):
    fill(store, [(f"s-many-{n:03d}", "carol", "/srv/many", "claude", "claude-sonnet-4-5",
                  "laptop-c", n % 3) for n in range(55)])
    first = team.get("/sessions", query_string={"user": "carol", **RANGE}).text
    assert "1–50 of 55" in first and 'rel="next"' in first
    second = team.get("/sessions", query_string={"user": "carol", "page": "2", **RANGE}).text
    assert "51–55 of 55" in second and second.count('data-session="') == 5


def test_a_transcript_shows_the_session(team):
    page = team.get("/sessions/s-ann-1")
    assert page.status_code == 200
    text = page.text
    assert text.count('class="entry ') == 5
    assert 'id="e-s-ann-1-a1"' in text and "thinking · 420 chars" in text
    assert 'class="entry tool_result error' in text and "<details>" in text
    assert "1,200 in · 80 out · 5,000 cache read" in text  # the response's tokens
    api = team.get("/v1/sessions", headers=API).get_json()
    ours = next(s for s in api if s["id"] == "s-ann-1")
    tokens = sum(ours[k] for k in ("input_tokens", "output_tokens", "cache_read_tokens",
                                   "cache_write_tokens"))
    assert 'id="session-tokens"' in text and f">{tokens:,}<" in text
    assert "claude-sonnet-4-5" in text and "$" in text.split('id="session-cost"')[1][:120]


def test_a_transcript_pages_and_opens_at_an_entry(team, store, monkeypatch):
    entries = [build_entry(f"long-{n:03d}", role="user", text=f"message {n}",
                           timestamp=TODAY - timedelta(hours=1) + timedelta(seconds=n))
               for n in range(25)]
    facade.ingest(store, [build_request("s-long", entries)])
    monkeypatch.setattr(pages, "TRANSCRIPT_PAGE", 10)
    first = team.get("/sessions/s-long").text
    assert "message 0<" in first and "message 10<" not in first and "page 1 of 3" in first
    found = team.get("/sessions/s-long", query_string={"entry": "long-017"}).text
    assert "page 2 of 3" in found and 'class="entry user target" id="e-long-017"' in found
    assert team.get("/sessions/s-long?page=3").text.count('class="entry ') == 5


def test_long_texts_come_cut_with_a_link_to_the_whole(team, store, monkeypatch):
    text = "start " + "x" * 10_000 + " the end: FAILED"
    facade.ingest(store, [build_request("s-big", [build_entry(
        "big-1", role="tool_result", is_error=True, text=text,
        timestamp=TODAY - timedelta(hours=1))])])
    monkeypatch.setattr(pages, "TRANSCRIPT_CLIP", 1000)
    page = team.get("/sessions/s-big").text
    assert "start xxx" in page and "the end: FAILED" in page  # both ends, and the
    assert "x" * 1200 not in page and "9,022 characters not shown" in page  # middle cut
    assert "…" in page.split("<summary>")[1].split("</summary>")[0]
    whole = team.get("/text/s-big?entry=big-1")
    assert whole.mimetype == "text/plain" and whole.text == text
    assert whole.headers["X-Content-Type-Options"] == "nosniff"
    assert team.get("/text/s-big?entry=nope").status_code == 404


def test_an_unknown_session_is_a_404_page(team):
    response = team.get("/sessions/no-such-session")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "There is no session" in response.text


def test_search_highlights_and_links_to_the_entry(team):
    page = team.get("/search", query_string={"q": "IMPORT path"})
    assert page.status_code == 200
    assert "<mark>import path</mark>" in page.text
    link = "/sessions/s-ann-1?find=IMPORT+path"
    assert link in page.text
    opened = team.get(link)  # the first matching entry's page, at the entry, term marked
    assert opened.status_code == 302
    assert opened.headers["Location"] == \
        "/sessions/s-ann-1?entry=s-ann-1-a1&q=IMPORT+path#e-s-ann-1-a1"
    shown = team.get(opened.headers["Location"]).text
    assert 'class="entry assistant target" id="e-s-ann-1-a1"' in shown
    assert "The <mark>import path</mark> is wrong." in shown
    # A term in a tool name only is found there too; one in no entry opens the session.
    assert "entry=s-bob-1-t1" in team.get("/sessions/s-bob-1?find=bash").headers["Location"]
    assert team.get("/sessions/s-bob-1?find=zzz-nowhere").headers["Location"] == \
        "/sessions/s-bob-1?q=zzz-nowhere"
    api = team.get("/v1/traces/search", query_string={"q": "import path"},
                   headers=API).get_json()
    assert page.text.count('<li>') == len(api) == 4
    only = team.get("/search", query_string={"q": "import path", "user": "bob"}).text
    assert only.count("<li>") == 2 and "filters apply to the 100" in only
    assert "sessions with" not in team.get("/search").text  # no term: the form only


def test_agents_page_is_the_apis(team):
    api = team.get("/v1/agents", headers=API).get_json()
    page = team.get("/agents").text
    shown = table_rows(page, "agents")
    assert [r[0] for r in shown] == [a["hostname"] for a in api]
    assert [r[4] for r in shown] == [a["status"] for a in api]
    assert [int(r[7].replace(",", "")) for r in shown] == [a["trace_count"] for a in api]
    assert shown[0][1] == "ann" and shown[0][3] == "1.2.3"


def test_texts_are_escaped(team, store):
    entries = [build_entry("x-1", role="user", text="<script>alert(1)</script>",
                           timestamp=TODAY - timedelta(hours=2))]
    facade.ingest(store, [build_request("s-<b>", entries, project_path="/srv/<i>x</i>")])
    page = team.get("/sessions/s-<b>").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<i>x</i>" not in team.get("/sessions", query_string=RANGE).text
    assert "<script>alert" not in team.get("/search?q=script").text


def test_a_busy_writer_is_a_503_page(team, client_of_store):
    client_of_store.fail = Unavailable("the writer did not answer within 5s", retry_after=5)
    response = team.get("/usage")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "Reload the page" in response.text and response.mimetype == "text/html"


def test_pages_are_framed_by_nobody_and_load_nothing_from_elsewhere(team):
    response = team.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["Cache-Control"] == "no-store"
    assert "http://" not in response.text and "https://" not in response.text
    css = team.get("/assets/thinkt.css")
    assert css.status_code == 200 and "max-age" in css.headers["Cache-Control"]
    css.close()


def test_each_page_asks_the_writer_once_or_twice(team, client_of_store):
    for path, most in (("/", 1), ("/usage", 2), ("/sessions", 2), ("/sessions/s-ann-1", 1),
                       ("/search?q=build", 2), ("/agents", 1)):
        client_of_store.asked.clear()
        team.get(path)
        assert len(client_of_store.asked) <= most, (path, client_of_store.asked)
