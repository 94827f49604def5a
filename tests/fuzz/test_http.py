"""HTTP API fuzzing in-process: every request gets a JSON 4xx, a 200, or a 503 with
Retry-After; never a 500, and the collector keeps answering health with 200.

Bodies: valid envelopes with fields of any JSON type, huge numbers, deep nesting, odd
unicode (lone surrogates, NULs, RTL marks, emoji), NaN and Infinity, raw bytes, truncated
JSON, gzip that is truncated or a bomb, wrong content types and encodings. Every GET
endpoint gets arbitrary query strings (percent-encoded arbitrary bytes). Example counts
are bounded for CI; ``THINKT_FUZZ_EXAMPLES=100000`` runs each test that long by hand.
"""

from __future__ import annotations

import gzip
import json
import zlib
from urllib.parse import quote_from_bytes

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import check_answer, fuzz_examples

FUZZ = settings(max_examples=fuzz_examples(), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

GET_ENDPOINTS = ("/v1/traces/search", "/v1/traces/stats", "/v1/usage", "/v1/sessions",
                 "/v1/agents", "/v1/collector/health", "/v1/openapi.json", "/metrics")
POST_ENDPOINTS = ("/v1/traces", "/v1/agents/register")
QUERY_NAMES = ("q", "limit", "offset", "group_by", "since", "until", "source", "project")
ODD_TEXT = ["\ud800", "\udfff", "a\x00b", "\u202eevil", "\u200f", "\U0001f600" * 3, "\ufeff",
            "", " ", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-13-45T99:99:99Z",
            "%", "_", "\\", "' OR 1=1 --", "\n\r\t", "x" * 600]
# Valid RFC 3339 times that leave datetime's range once converted to UTC.
OUT_OF_RANGE = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
HUGE = [2**63 - 1, 2**63, 2**64, -1, -(2**63), 10**400, -(10**400)]
CONTENT_TYPES = [None, "application/json", "application/json; charset=utf-8",
                 "application/json; charset=latin-1", "text/plain",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                 "application/octet-stream", "\u00e9/\u00e9", ""]
ENCODINGS = [None, "identity", "gzip", "GZIP", "x-gzip", "deflate", "br", "zstd", "gzip, gzip",
             "", "compress"]

odd_text = st.one_of(st.text(), st.sampled_from(ODD_TEXT),
                     st.text(st.characters(codec=None, exclude_categories=())))
numbers = st.one_of(st.integers(), st.sampled_from(HUGE),
                    st.floats(allow_nan=True, allow_infinity=True))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, odd_text),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(odd_text, children, max_size=4)),
    max_leaves=12)


def maybe(valid, wrong=json_values):
    """A field that is mostly valid, sometimes anything at all."""
    return st.one_of(valid, valid, wrong)


entries = st.fixed_dictionaries(
    {"uuid": maybe(st.text(min_size=1, max_size=20)),
     "role": maybe(st.sampled_from(["user", "assistant", "tool", "TOOL_USE", "system", "bot"]))},
    optional={"timestamp": maybe(st.sampled_from(
                  ODD_TEXT[8:12] + OUT_OF_RANGE + ["2026-01-01T00:00:00+14:00",
                                                   "2026-01-01T00:00:00.123456789Z"])),
              "text": maybe(odd_text), "model": maybe(odd_text), "tool_name": maybe(odd_text),
              "is_error": maybe(st.booleans()), "has_thinking": maybe(st.booleans()),
              "input_tokens": maybe(st.sampled_from(HUGE) | st.integers(0, 10**6)),
              "output_tokens": maybe(st.integers(0, 10**6)),
              "cache_read_tokens": maybe(st.sampled_from(HUGE)),
              "message_id": maybe(odd_text), "parent_uuid": maybe(odd_text),
              "zz_unknown": json_values})
envelopes = st.fixed_dictionaries(
    {"source": maybe(st.sampled_from(["claude", " Codex ", "x", ""]) | odd_text),
     "session_id": maybe(st.text(min_size=1, max_size=30) | st.sampled_from(ODD_TEXT)),
     "entries": maybe(st.lists(maybe(entries), min_size=0, max_size=5))},
    optional={"instance_id": maybe(odd_text), "project_path": maybe(odd_text),
              "machine_id": json_values, "metadata": json_values})
agents = st.fixed_dictionaries(
    {"instance_id": maybe(odd_text), "platform": maybe(odd_text)},
    optional={"hostname": json_values, "version": json_values, "started_at": maybe(odd_text),
              "metadata": json_values, "project": json_values})


def encode_json(value) -> bytes:
    # ensure_ascii keeps lone surrogates as \ud800 escapes, which is what attackers send
    return json.dumps(value, allow_nan=True).encode()


def deep(depth: int, opener: str) -> bytes:
    closer = {"[": "]", "{\"a\":": "}"}[opener]
    return (opener * depth + "1" + closer * depth).encode()


raw_bodies = st.one_of(
    st.binary(max_size=200),
    envelopes.map(encode_json).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),
    st.integers(1, 200_000).flatmap(lambda d: st.sampled_from(["[", "{\"a\":"]).map(
        lambda o: deep(d, o))),
    envelopes.map(lambda e: encode_json(e).decode().encode("utf-16")),
    st.sampled_from([b"", b"null", b"[]", b"{}", b"1e999999", b"-" + b"9" * 5000, b"\xef\xbb\xbf{}",
                     b'{"entries": NaN}', b"\x00" * 10]),
)


def check(response, path: str) -> None:
    """The promise for a Flask test response (see :func:`check_answer`)."""
    check_answer(path, response.status_code, response.headers, response.get_data())


def post(collector, path, body: bytes, content_type=None, encoding=None):
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    response = collector.http.post(path, data=body, headers=headers)
    check(response, path)
    return response


def still_serving(collector) -> None:
    response = collector.http.get("/v1/collector/health")
    assert response.status_code == 200, response.get_data()


@FUZZ
@given(envelope=envelopes)
def test_ingest_envelopes(collector, envelope):
    response = post(collector, "/v1/traces", encode_json(envelope), "application/json")
    if response.status_code == 200:
        body = response.get_json()
        assert body["accepted"] + body.get("rejected", 0) == len(envelope["entries"])


@FUZZ
@given(path=st.sampled_from(POST_ENDPOINTS), body=raw_bodies,
       content_type=st.sampled_from(CONTENT_TYPES), encoding=st.sampled_from(ENCODINGS),
       compress=st.sampled_from(["no", "gzip", "zlib", "truncated"]))
def test_raw_bodies_types_and_encodings(collector, path, body, content_type, encoding, compress):
    if compress == "gzip":
        body = gzip.compress(body)
    elif compress == "zlib":
        body = zlib.compress(body)
    elif compress == "truncated":
        packed = gzip.compress(body)
        body = packed[: len(packed) // 2]
    post(collector, path, body, content_type, encoding)


@FUZZ
@given(agent=agents)
def test_agent_registrations(collector, agent):
    post(collector, "/v1/agents/register", encode_json(agent), "application/json")


query_values = st.one_of(st.binary(max_size=40), st.sampled_from(
    [s.encode("utf-8", "surrogatepass") for s in ODD_TEXT]
    + [str(n).encode() for n in HUGE] + [t.encode() for t in OUT_OF_RANGE]
    + [b"source", b"day", b"NaN", b"1e3", b" 5", b"0x10"]))


@FUZZ
@given(path=st.sampled_from(GET_ENDPOINTS) | st.text(max_size=30).map(
           lambda s: "/v1/sessions/" + quote_from_bytes(s.encode("utf-8", "surrogatepass"))
           + "/entries"),
       params=st.lists(st.tuples(st.sampled_from(QUERY_NAMES) | st.text(max_size=5).map(str.encode)
                                 .map(quote_from_bytes), query_values), max_size=5))
def test_query_strings_on_every_get(collector, path, params):
    query = "&".join(f"{name}={quote_from_bytes(value)}" for name, value in params)
    response = collector.http.get(path, query_string=query)
    check(response, path)


def test_gzip_bomb_is_refused_after_the_limit(collector):
    # 64 MiB of zeros in ~64 KiB: inflating it whole would blow far past max_body
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    response = post(collector, "/v1/traces", bomb, "application/json", "gzip")
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload_too_large"
    still_serving(collector)


def test_nesting_deeper_than_the_recursion_limit(collector):
    for opener in ("[", "{\"a\":"):
        response = post(collector, "/v1/traces", deep(40_000, opener), "application/json")
        assert response.status_code == 400
    still_serving(collector)


def test_nesting_just_under_the_recursion_limit_inside_stored_fields(collector):
    """metadata is stored as JSON text: deep but parseable nesting must not crash dumping it."""
    for depth in (100, 400, 700, 850, 950, 990, 2000):
        for opener in ("[", "{\"a\":"):
            nested = deep(depth, opener)
            post(collector, "/v1/traces",
                 b'{"source": "c", "session_id": "deep", "metadata": ' + nested
                 + b', "entries": [{"uuid": "u", "role": "user"}]}', "application/json")
            post(collector, "/v1/agents/register",
                 b'{"instance_id": "deep", "platform": "x", "metadata": ' + nested + b"}",
                 "application/json")
    still_serving(collector)


def test_the_collector_still_serves_after_all_of_it(collector):
    still_serving(collector)
    good = {"source": "claude", "session_id": "after-fuzz",
            "entries": [{"uuid": "u1", "role": "user", "text": "still here",
                         "timestamp": "2026-01-01T00:00:00Z"}]}
    response = post(collector, "/v1/traces", encode_json(good), "application/json")
    assert response.get_json() == {"accepted": 1, "duplicates": 0}


# -- issue 14: what once broke the collector for everyone ---------------------------------

def entry(uuid, **fields):
    return dict({"uuid": uuid, "role": "assistant", "timestamp": "2026-01-01T00:00:00Z"},
                **fields)


def ingest(collector, session, *items):
    body = {"source": "claude", "session_id": session, "entries": list(items)}
    return post(collector, "/v1/traces", encode_json(body), "application/json")


def test_a_count_past_the_bound_is_refused_naming_it_and_breaks_no_query(collector):
    # WHEN the entry arrives alone, then beside a good one
    alone = ingest(collector, "huge-1", entry("a", input_tokens=2**63 - 1))
    mixed = ingest(collector, "huge-2", entry("a", output_tokens=10**12 + 1),
                   entry("b", input_tokens=10**12, text="the largest count there is"))
    # THEN the count is refused with its field named, and the rest is stored
    assert alone.status_code == 400
    assert "input_tokens" in alone.get_json()["errors"]["entries"]["0"]
    assert mixed.status_code == 200, mixed.get_json()
    assert mixed.get_json()["accepted"] == 1 and mixed.get_json()["rejected"] == 1
    assert "output_tokens" in mixed.get_json()["errors"]["entries"]["0"]
    # AND later batches of that session, stats and usage all still answer
    assert ingest(collector, "huge-2", entry("c", input_tokens=5)).status_code == 200
    for path in ("/v1/traces/stats", "/v1/usage", "/v1/usage?group_by=session"):
        assert collector.http.get(path).status_code == 200, path
    assert collector.http.get("/v1/traces/stats").get_json()["tokens"]["input"] >= 10**12 + 5


def stored(collector, session):
    response = collector.http.get(f"/v1/sessions/{session}/entries?limit=1000")
    return [(e["uuid"], e["text"]) for e in response.get_json()] if response.status_code == 200 \
        else response.status_code


def test_ids_are_never_rewritten_into_each_other(collector):
    # GIVEN the pairs: "abc\0" then "abc"; "x\ud800" beside "x\udc00"
    nul = ingest(collector, "ids-1", entry("abc\x00", text="first"), entry("ok", text="kept"))
    plain = ingest(collector, "ids-1", entry("abc", text="second"))
    halves = ingest(collector, "ids-2", entry("x\ud800", text="one"), entry("x\udc00", text="two"))
    # THEN what cannot be stored as sent is refused naming the field, the rest is stored,
    # and no entry is lost as a "duplicate" of another
    assert nul.status_code == 200
    assert nul.get_json()["rejected"] == 1 and "uuid" in nul.get_json()["errors"]["entries"]["0"]
    assert plain.get_json() == {"accepted": 1, "duplicates": 0}
    assert sorted(stored(collector, "ids-1")) == [("abc", "second"), ("ok", "kept")]
    assert halves.status_code == 400
    assert set(halves.get_json()["errors"]["entries"]) == {"0", "1"}
    assert stored(collector, "ids-2") == 404


def test_an_envelope_id_that_cannot_be_stored_as_sent_is_refused_whole(collector):
    for field, value in (("session_id", "s\x00"), ("session_id", "s\udfff"),
                         ("instance_id", "i\x00"), ("source", "claude\ud800")):
        body = {"source": "claude", "session_id": "ids-3", "entries": [entry("a")], field: value}
        response = post(collector, "/v1/traces", encode_json(body), "application/json")
        assert response.status_code == 400, (field, value)
        assert list(response.get_json()["errors"]) == [field]
    assert stored(collector, "ids-3") == 404


def test_entry_text_keeps_its_nul_characters(collector):
    assert ingest(collector, "nul-text", entry("a", text="a\x00b")).get_json() == {
        "accepted": 1, "duplicates": 0}
    assert stored(collector, "nul-text") == [("a", "a\x00b")]


def test_usage_lists_a_session_without_token_figures_under_every_grouping(collector):
    # GIVEN a session whose tool reports no tokens (Copilot), 38 entries
    body = {"source": "copilot-14", "session_id": "no-tokens", "project_path": "/p14",
            "instance_id": "agent-14",
            "entries": [entry(f"c{n}", role="user", text=f"line {n}") for n in range(38)]}
    assert post(collector, "/v1/traces", encode_json(body), "application/json").status_code == 200
    # THEN every grouping lists it, with all its entries and tokens 0
    keys = {"source": "copilot-14", "model": None, "project": "/p14", "day": "2026-01-01",
            "agent": "agent-14", "session": "no-tokens"}
    for group_by, key in keys.items():
        rows = collector.http.get(f"/v1/usage?group_by={group_by}&source=copilot-14").get_json()
        assert rows == [{"key": key, "input_tokens": 0, "output_tokens": 0,
                         "cache_read_tokens": 0, "cache_write_tokens": 0,
                         "reasoning_tokens": 0, "entries": 38, "sessions": 1,
                         "cost_usd": None}], group_by  # no tokens: nothing to price


def test_paging_through_a_long_session_gets_every_entry_once(collector):
    # GIVEN the session of 1,516 entries, some sharing a timestamp
    uuids = [f"e{n:04d}" for n in range(1516)]
    for start in range(0, 1516, 500):
        ingest(collector, "long", *(entry(u, timestamp=f"2026-01-01T00:{n // 60 % 60:02d}:"
                                              f"{n % 60:02d}Z" if n % 3 else None)
                                    for n, u in enumerate(uuids[start:start + 500], start)))
    # WHEN a client follows the next links from the first page
    url, pages, seen = "/v1/sessions/long/entries", 0, []
    while url:
        response = collector.http.get(url)
        assert response.status_code == 200
        assert response.headers["X-Total-Count"] == "1516"
        seen += [e["uuid"] for e in response.get_json()]
        pages += 1
        links = requests.utils.parse_header_links(response.headers.get("Link", ""))
        url = next((link["url"] for link in links if link.get("rel") == "next"), None)
        if url:
            assert url.startswith("http://localhost/v1/sessions/long/entries?")
    # THEN it read every entry once, 100 at a time
    assert pages == 16 and len(seen) == 1516 and sorted(seen) == uuids


def test_the_last_page_and_a_page_past_the_end_have_no_next_link(collector):
    ingest(collector, "a/b?c", *(entry(f"u{n}") for n in range(5)))
    first = collector.http.get("/v1/sessions/a/b%3Fc/entries?limit=3")
    assert first.headers["X-Total-Count"] == "5"
    [link] = requests.utils.parse_header_links(first.headers["Link"])
    assert link == {"url": "http://localhost/v1/sessions/a/b%3Fc/entries?limit=3&offset=3",
                    "rel": "next"}
    last = collector.http.get(link["url"])
    assert len(last.get_json()) == 2 and "Link" not in last.headers
    beyond = collector.http.get("/v1/sessions/a/b%3Fc/entries?offset=10")
    assert beyond.get_json() == [] and beyond.headers["X-Total-Count"] == "5"
    assert "Link" not in beyond.headers
