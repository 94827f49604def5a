"""The Flask app: auth, the JSON envelope, validation and what it hands to the writer.

The writer is replaced by a recording client, so these tests show exactly what a
worker enqueues and how it answers when the writer is busy or gone.
"""

import gzip
import json
from datetime import datetime

import pytest
from freezegun import freeze_time

from thinkt.collector.app import create_app
from thinkt.collector.channel import Ingested, Rejected, Unavailable
from thinkt.collector.schemas import ENTRY_FIELDS
from thinkt.collector.pricing import Price
from thinkt.collector.settings import CollectorSettings


class RecordingClient:
    """Stands in for the writer: records writes and queries, answers as told."""

    def __init__(self):
        self.ingested = []
        self.registered = []
        self.queries = []
        self.duplicates = 0
        self.fail = None
        self.answers = {}

    def ingest(self, request, timeout):
        if self.fail:
            raise self.fail
        self.ingested.append(request)
        return Ingested(len(request.entries) - self.duplicates, 0, self.duplicates)

    def register(self, agent, timeout):
        if self.fail:
            raise self.fail
        self.registered.append(agent)
        return {"instance_id": agent.agent["instance_id"], "status": "active"}

    def query(self, name, timeout, **kwargs):
        if self.fail:
            raise self.fail
        self.queries.append((name, kwargs))
        return self.answers.get(name, {"rows": [], "parts": []} if name == "priced_usage"
                                else [])


@pytest.fixture
def recorder():
    return RecordingClient()


def make_client(recorder, **overrides):
    settings = CollectorSettings(storage="/nonexistent/collector.duckdb", **overrides)
    return create_app(settings, recorder).test_client()


@pytest.fixture
def client(recorder):
    return make_client(recorder)


@pytest.fixture
def authed(recorder):
    return make_client(recorder, tokens=("old-token", "new-token"))


def batch(n=2, **extra):
    body = {"source": "claude", "session_id": "s1",
            "entries": [{"uuid": f"u{i}", "role": "user", "text": f"hello {i}",
                         "timestamp": "2026-01-01T00:00:00Z"} for i in range(n)]}
    body.update(extra)
    return body


@freeze_time("2026-03-04T05:06:07Z")
def test_ingest_hands_one_validated_batch_to_the_writer(client, recorder):
    response = client.post("/v1/traces", json=batch(3, project_path="/p", instance_id="i-1",
                                                     machine_id="m", metadata={"k": 1}))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"accepted": 3, "duplicates": 0}
    [request] = recorder.ingested
    assert (request.source, request.session_id, request.project_path, request.instance_id) == (
        "claude", "s1", "/p", "i-1")
    assert json.loads(request.metadata) == {"k": 1}
    assert request.received_at == datetime(2026, 3, 4, 5, 6, 7)
    assert [e[0] for e in request.entries] == ["u0", "u1", "u2"]
    assert request.person is None  # no user sent


def test_ingest_hands_the_user_over_trimmed_and_refuses_a_long_one(client, recorder):
    assert client.post("/v1/traces", json=batch(1, user="  alice@example.com ")).status_code == 200
    assert client.post("/v1/traces", json=batch(1, user="   ")).status_code == 200
    assert [r.person for r in recorder.ingested] == ["alice@example.com", None]
    response = client.post("/v1/traces", json=batch(1, user="a" * 513))
    assert response.status_code == 400 and "user" in response.get_json()["errors"]


def test_duplicates_are_reported_and_still_accepted(client, recorder):
    recorder.duplicates = 2
    assert client.post("/v1/traces", json=batch(2)).get_json() == {"accepted": 2, "duplicates": 2}


def test_partial_batch_stores_the_valid_and_reports_the_rest(client, recorder):
    body = batch(3)
    body["entries"][1]["role"] = "robot"
    response = client.post("/v1/traces", json=body)
    assert response.status_code == 200
    data = response.get_json()
    assert data["accepted"] == 2 and data["rejected"] == 1
    assert "role" in data["errors"]["entries"]["1"]
    assert [e[0] for e in recorder.ingested[0].entries] == ["u0", "u2"]


def test_a_null_entry_is_that_entrys_error_not_the_batchs(client, recorder):
    body = batch(2)
    body["entries"].insert(1, None)
    response = client.post("/v1/traces", json=body)
    assert response.status_code == 200
    data = response.get_json()
    assert data["accepted"] == 2 and data["rejected"] == 1
    assert data["errors"]["entries"] == {"1": {"_schema": ["Entry must be a JSON object."]}}
    assert [e[0] for e in recorder.ingested[0].entries] == ["u0", "u1"]
    # and a batch of nulls alone has no valid entry
    response = client.post("/v1/traces", json=batch(1, entries=[None, None]))
    assert response.status_code == 400 and response.get_json()["error"] == "validation_error"


def test_a_batch_with_no_valid_entry_is_refused_whole(client, recorder):
    response = client.post("/v1/traces", json=batch(2, entries=[{"role": "user"}]))
    assert response.status_code == 400
    assert response.get_json()["error"] == "validation_error"
    assert recorder.ingested == []


def test_a_cut_text_is_handed_on_with_its_flag_and_size(client, recorder):
    body = batch(2)
    body["entries"][0].update(text_truncated=True, text_bytes=12_582_912)
    assert client.post("/v1/traces", json=body).status_code == 200
    cut, whole = (dict(zip(ENTRY_FIELDS, e)) for e in recorder.ingested[0].entries)
    assert (cut["text_truncated"], cut["text_bytes"]) == (True, 12_582_912)
    assert (whole["text_truncated"], whole["text_bytes"]) == (False, 0)


@pytest.mark.parametrize("field, value", [
    ("text_truncated", "maybe"), ("text_bytes", -1), ("text_bytes", "12"),
])
def test_wrong_truncation_values_are_400_naming_the_field(client, recorder, field, value):
    entry = {"uuid": "u0", "role": "user", "text": "head", field: value}
    response = client.post("/v1/traces", json=batch(1, entries=[entry]))
    assert response.status_code == 400
    data = response.get_json()
    assert data["error"] == "validation_error"
    assert field in data["errors"]["entries"]["0"]
    assert recorder.ingested == []


def test_gzip_bodies_are_accepted(client, recorder):
    response = client.post("/v1/traces", data=gzip.compress(json.dumps(batch(1)).encode()),
                           headers={"Content-Encoding": "gzip",
                                    "Content-Type": "application/json"})
    assert response.status_code == 200
    assert len(recorder.ingested) == 1


@pytest.mark.parametrize("data, error", [
    (b"{not json", "invalid_json"),
    (b"[1, 2]", "validation_error"),
    (json.dumps({"source": "x", "entries": [{}]}).encode(), "validation_error"),
])
def test_bad_bodies_get_the_json_envelope(client, recorder, data, error):
    response = client.post("/v1/traces", data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == error
    assert response.get_json()["message"]
    assert recorder.ingested == []


def test_envelope_errors_name_the_fields(client):
    data = client.post("/v1/traces", json={"entries": []}).get_json()
    assert set(data["errors"]) >= {"source", "session_id", "entries"}


def test_body_over_the_limit_is_413_stating_the_limit(recorder):
    small = make_client(recorder, max_body=2048)
    response = small.post("/v1/traces", json=batch(50))
    assert response.status_code == 413
    assert response.get_json() == {"error": "payload_too_large", "message":
                                   "The body is larger than the limit of 2048 bytes (2 KiB)."}
    zipped = small.post("/v1/traces", data=gzip.compress(json.dumps(batch(50)).encode()),
                        headers={"Content-Encoding": "gzip"})
    assert zipped.status_code == 413
    assert "limit of 2048 bytes" in zipped.get_json()["message"]
    # One byte more than the limit is still refused; the limit itself is not.
    for size, status in ((2049, 413), (2048, 400)):
        body = small.post("/v1/traces", data=b" " * size, content_type="application/json")
        assert body.status_code == status, size
    assert recorder.ingested == []


def test_writer_busy_is_503_with_retry_after(client, recorder):
    recorder.fail = Unavailable("the collector is busy (write queue full)", retry_after=2)
    response = client.post("/v1/traces", json=batch(1))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.get_json()["error"] == "unavailable"


def test_data_the_writer_cannot_store_is_400(client, recorder):
    recorder.fail = Rejected("the entries could not be stored as sent")
    response = client.post("/v1/traces", json=batch(1))
    assert response.status_code == 400 and response.get_json()["error"] == "rejected"


# -- auth --------------------------------------------------------------------------------
@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic old-token", "Bearer", "old-token"])
def test_bad_or_missing_token_is_401(authed, recorder, header):
    headers = {"Authorization": header} if header else {}
    response = authed.post("/v1/traces", json=batch(1), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="thinkt-collector"'
    assert response.get_json()["error"] == "unauthorized"
    assert "old-token" not in response.get_data(as_text=True)
    assert recorder.ingested == []


@pytest.mark.parametrize("header", ["Bearer old-token", "bearer new-token", "BEARER  new-token"])
def test_any_configured_token_is_accepted_scheme_any_case(authed, header):
    response = authed.get("/v1/agents", headers={"Authorization": header})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/v1/traces/stats", "/v1/agents", "/v1/sessions",
                                  "/v1/usage", "/v1/traces/search?q=x", "/v1/sessions/s/entries"])
def test_every_query_needs_the_token(authed, path):
    assert authed.get(path).status_code == 401


def test_health_needs_no_token(authed):
    assert authed.get("/v1/collector/health").get_json() == {"status": "ok"}


def test_health_is_503_when_the_writer_is_gone(client, recorder):
    recorder.fail = Unavailable("the writer process is not reachable")
    response = client.get("/v1/collector/health")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert "Retry-After" in response.headers


# -- the well-known document (CONTRACT.md section 4) ------------------------------------------
def test_the_well_known_document_names_the_collector_without_a_token(authed):
    response = authed.get("/.well-known/thinkt.json",
                          headers={"Host": "collector.example:4318"})
    assert response.status_code == 200
    assert response.get_json() == {"collector_url": "http://collector.example:4318"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "token" not in response.get_data(as_text=True)


def test_the_well_known_document_follows_the_scheme_and_host_the_client_used(client):
    assert client.get("/.well-known/thinkt.json", base_url="https://[::1]:8443").get_json() == {
        "collector_url": "https://[::1]:8443"}
    assert client.get("/.well-known/thinkt.json", base_url="http://localhost:4318"
                      ).get_json() == {"collector_url": "http://localhost:4318"}


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "thinkt.example, inner:80",
             "X-Forwarded-Prefix": "/thinkt/"}


def test_a_proxy_on_this_machine_names_what_the_client_used(client):
    response = client.get("/.well-known/thinkt.json", headers=FORWARDED,
                          environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.get_json() == {"collector_url": "https://thinkt.example/thinkt"}


def test_forwarded_headers_from_another_machine_are_ignored(client):
    response = client.get("/.well-known/thinkt.json", headers=FORWARDED,
                          base_url="http://10.0.0.2:4318", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.get_json() == {"collector_url": "http://10.0.0.2:4318"}


@pytest.mark.parametrize("host", ["", "evil.example/path", "user@evil.example", "a b"])
def test_a_request_without_a_usable_host_gets_a_json_400(client, host):
    response = client.get("/.well-known/thinkt.json", headers={"Host": host},
                          environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 400 and response.get_json()["error"] == "bad_request"


# -- queries -----------------------------------------------------------------------------
def test_unknown_path_and_wrong_method_are_json(client):
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    wrong = client.get("/v1/traces")
    assert wrong.status_code == 405 and wrong.get_json()["error"] == "method_not_allowed"
    assert "POST" in wrong.headers["Allow"]


def test_search_needs_q_and_caps_limit(client, recorder):
    assert client.get("/v1/traces/search").status_code == 400
    assert client.get("/v1/traces/search?q=%20").status_code == 400
    assert client.get("/v1/traces/search?q=x&limit=ten").status_code == 400
    response = client.get("/v1/traces/search?q=50%25_off&limit=100000")
    assert response.status_code == 200 and response.get_json() == []
    assert recorder.queries[-1] == ("search", {"q": "50%_off", "limit": 500})
    client.get("/v1/traces/search?q=x")
    assert recorder.queries[-1][1]["limit"] == 50


def test_usage_validates_group_by_and_times(client, recorder):
    assert client.get("/v1/usage?group_by=planet").status_code == 400
    assert client.get("/v1/usage?since=last-week").status_code == 400
    client.get("/v1/usage?group_by=day&since=2026-01-01&until=2026-01-02T12:00:00%2B02:00&source=Claude")
    name, kwargs = recorder.queries[-1]
    assert name == "priced_usage"
    assert kwargs == {"group_by": "day", "since": datetime(2026, 1, 1),
                      "until": datetime(2026, 1, 2, 10), "source": "claude", "user": None}
    client.get("/v1/usage")
    assert recorder.queries[-1][1]["group_by"] == "source"


def test_usage_and_sessions_by_user_pass_the_person_trimmed(client, recorder):
    recorder.answers["list_sessions"] = []
    client.get("/v1/usage?group_by=user&user=%20alice@example.com%20")
    assert recorder.queries[-1][1]["group_by"] == "user"
    assert recorder.queries[-1][1]["user"] == "alice@example.com"
    client.get("/v1/sessions?user=Bob")
    assert recorder.queries[-1][1]["user"] == "Bob"  # exact: case is kept
    client.get("/v1/sessions?user=")
    assert recorder.queries[-1][1]["user"] is None


def test_usage_rows_get_their_cost_and_unpriced_is_null(recorder):
    prices = {"acme-coder-1": Price(input=2.0, output=10.0, cache_read=0.5, cache_write=2.5)}
    client = make_client(recorder, prices=prices)
    recorder.answers["priced_usage"] = {
        "rows": [{"key": "alice", "input_tokens": 1_000_000, "entries": 3},
                 {"key": "bob", "input_tokens": 5, "entries": 1},
                 {"key": None, "input_tokens": 0, "entries": 7}],
        "parts": [{"key": "alice", "source": "claude", "model": "acme-coder-1",
                   "day": "2026-11-02", "input_tokens": 1_000_000},
                  {"key": "bob", "source": "claude", "model": "no-such-model-zz9",
                   "day": "2026-11-02", "input_tokens": 5}]}
    rows = client.get("/v1/usage?group_by=user").get_json()
    assert [(r["key"], r["cost_usd"]) for r in rows] == [("alice", 2.0), ("bob", None),
                                                         (None, None)]
    assert rows[1]["unpriced_models"] == ["no-such-model-zz9"]
    assert "unpriced_models" not in rows[0] and "unpriced_models" not in rows[2]


@freeze_time("2026-05-06T07:08:09Z")
def test_stats_and_agents_take_now_in_the_worker(client, recorder):
    recorder.answers["stats"] = {"total_traces": 3}
    assert client.get("/v1/traces/stats").get_json() == {"total_traces": 3}
    assert recorder.queries[-1][1]["now"] == datetime(2026, 5, 6, 7, 8, 9)
    client.get("/v1/agents")
    assert recorder.queries[-1] == ("list_agents", {"now": datetime(2026, 5, 6, 7, 8, 9)})


def test_sessions_in_order_of_arrival_on_request(client, recorder):
    recorder.answers["list_sessions"] = []
    client.get("/v1/sessions?sort=received&limit=5")
    assert recorder.queries[-1] == ("list_sessions", {"limit": 5, "source": None,
                                                      "project": None, "sort": "received",
                                                      "user": None})
    client.get("/v1/sessions")
    assert recorder.queries[-1][1]["sort"] == "updated"
    response = client.get("/v1/sessions?sort=newest")
    assert response.status_code == 400 and "sort" in response.get_json()["errors"]


def test_session_entries_404_for_unknown_session(client, recorder):
    recorder.answers["session_entries"] = None
    response = client.get("/v1/sessions/nope/entries")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert client.get("/v1/sessions/x/entries?offset=-1").status_code == 400


def test_session_entries_say_the_total_and_where_the_next_page_is(client, recorder):
    recorder.answers["session_entries"] = {"entries": [{"uuid": "a"}, {"uuid": "b"}],
                                           "total": 1516}
    response = client.get("/v1/sessions/s 1/entries?limit=2&offset=100",
                          base_url="https://collector.example")
    assert response.get_json() == [{"uuid": "a"}, {"uuid": "b"}]  # still a bare array
    assert recorder.queries[-1] == ("session_entries",
                                    {"session_id": "s 1", "limit": 2, "offset": 100})
    assert response.headers["X-Total-Count"] == "1516"
    assert response.headers["Link"] == (
        '<https://collector.example/v1/sessions/s%201/entries?limit=2&offset=102>; rel="next"')
    client.get("/v1/sessions/s/entries?limit=5000")
    assert recorder.queries[-1][1]["limit"] == 1000


def test_the_last_page_has_no_next_link(client, recorder):
    recorder.answers["session_entries"] = {"entries": [{"uuid": "z"}], "total": 1516}
    response = client.get("/v1/sessions/s/entries?offset=1515")
    assert response.headers["X-Total-Count"] == "1516" and "Link" not in response.headers


def test_without_a_usable_host_the_next_link_is_relative(client, recorder):
    recorder.answers["session_entries"] = {"entries": [{"uuid": "a"}], "total": 2}
    response = client.get("/v1/sessions/s/entries?limit=1", headers={"Host": ""})
    assert response.headers["Link"] == '</v1/sessions/s/entries?limit=1&offset=1>; rel="next"'


@freeze_time("2026-05-06T07:08:09Z")
def test_register_validates_and_passes_now(client, recorder):
    assert client.post("/v1/agents/register", json={"hostname": "h"}).status_code == 400
    response = client.post("/v1/agents/register",
                           json={"instance_id": "i-1", "platform": "linux", "metadata": {"a": 1}})
    assert response.status_code == 200
    [registered] = recorder.registered
    assert registered.now == datetime(2026, 5, 6, 7, 8, 9)
    assert json.loads(registered.agent["metadata"]) == {"a": 1}


# -- CORS (issue 9): none unless configured -------------------------------------------------
def test_no_cors_headers_unless_configured(authed):
    response = authed.get("/v1/agents", headers={"Origin": "https://evil.example",
                                                 "Authorization": "Bearer old-token"})
    assert response.status_code == 200
    assert not any(h.lower().startswith("access-control-") for h in response.headers.keys())
    preflight = authed.options("/v1/traces", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_configured_origin_gets_cors_and_others_do_not(recorder):
    client = make_client(recorder, tokens=("t",), cors_origins=("https://dash.example",))
    preflight = client.options("/v1/traces", headers={
        "Origin": "https://dash.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    ok = client.get("/v1/agents", headers={"Origin": "https://dash.example",
                                           "Authorization": "Bearer t"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    # A page's total and next link are readable by the dashboard's script.
    exposed = ok.headers["Access-Control-Expose-Headers"].lower()
    assert "x-total-count" in exposed and "link" in exposed
    other = client.get("/v1/agents", headers={"Origin": "https://evil.example",
                                              "Authorization": "Bearer t"})
    assert "Access-Control-Allow-Origin" not in other.headers
    # The preflight is open; the request itself still needs the token.
    assert client.get("/v1/agents", headers={"Origin": "https://dash.example"}).status_code == 401


def test_openapi_document_is_open_and_double_slashes_do_not_redirect(authed, recorder):
    document = authed.get("/v1/openapi.json")
    assert document.status_code == 200 and "/v1/traces" in document.get_json()["paths"]
    response = authed.get("/v1//traces/stats", headers={"Authorization": "Bearer old-token"})
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
