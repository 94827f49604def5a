"""The OpenAPI document at /v1/openapi.json: it lists every route the app serves, agrees
with the validation schemas, and what the collector answers matches what it documents."""

from __future__ import annotations

import json
import re

import pytest

from thinkt.collector.openapi import build_document
from thinkt.collector.schemas import (ENTRY_COUNTS, ENTRY_FIELDS, MAX_COUNT, AgentSchema,
                                      Id, IngestSchema, Text, entry_schema)


def route_templates(app) -> set[str]:
    """The app's routes in OpenAPI spelling (``<path:x>`` and ``<int:x>`` become ``{x}``)."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("web."):
            continue  # the web pages (and their assets) are not the API
        routes.add(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
    return routes


def test_served_without_a_token_configured(collector):
    response = collector.http.get("/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": "http://localhost"}]


def test_every_route_is_documented(collector):
    documented = set(build_document()["paths"])
    assert route_templates(collector.app) - {"/metrics"} == documented


def test_fields_match_the_validation_schemas():
    schemas = build_document()["components"]["schemas"]
    assert set(schemas["Entry"]["properties"]) == set(ENTRY_FIELDS)
    assert set(schemas["IngestRequest"]["properties"]) == set(IngestSchema().fields)
    assert set(schemas["AgentRegistration"]["properties"]) == set(AgentSchema().fields)
    assert schemas["IngestRequest"]["required"] == ["source", "session_id", "entries"]


def test_each_entry_text_and_identity_documents_its_own_rule():
    # The lists come from the schema: a field declared Text or Id gets its rule here.
    entry = build_document()["components"]["schemas"]["Entry"]["properties"]
    for name, field in entry_schema.fields.items():
        described = json.dumps(entry[name])
        if isinstance(field, Text):
            assert "NUL characters included" in described, name
        elif isinstance(field, Id):
            assert "An identity, stored exactly as sent" in described, name


def test_the_document_is_json_and_its_schemas_are_valid_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    document = json.loads(json.dumps(build_document()))
    for name, schema in document["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_answers_match_the_documented_schemas(collector):
    """A documented request gets a documented status and a body of the documented shape."""
    jsonschema = pytest.importorskip("jsonschema")
    document = build_document()

    def validate(instance, schema):
        # "#/components/schemas/X" resolves against the root: put the components there
        jsonschema.validate(instance, dict(schema, components=document["components"]))

    body = {"source": "claude", "session_id": "doc-1", "user": "alice@example.com",
            "entries": [{"uuid": "a", "role": "user", "text": "hello openapi",
                         "timestamp": "2026-01-01T00:00:00Z", "input_tokens": 3}]}
    validate(body, document["paths"]["/v1/traces"]["post"]["requestBody"]["content"]
             ["application/json"]["schema"])
    calls = [("post", "/v1/traces", body),
             ("post", "/v1/agents/register", {"instance_id": "i-doc", "platform": "linux",
                                              "user": "alice@example.com"}),
             ("get", "/v1/usage?group_by=user&user=alice@example.com", None),
             ("get", "/v1/sessions?user=alice@example.com", None),
             ("get", "/v1/traces/search?q=openapi", None), ("get", "/v1/traces/stats", None),
             ("get", "/v1/usage?group_by=day", None), ("get", "/v1/sessions", None),
             ("get", "/v1/sessions/doc-1/entries", None), ("get", "/v1/agents", None),
             ("get", "/v1/collector/health", None), ("get", "/v1/sessions/none/entries", None),
             ("get", "/v1/traces/search", None), ("post", "/v1/traces", {"entries": []}),
             ("get", "/.well-known/thinkt.json", None)]
    for method, url, payload in calls:
        response = collector.http.open(url, method=method.upper(), json=payload)
        template = "/v1/sessions/{session_id}/entries" if "/entries" in url else url.split("?")[0]
        documented = document["paths"][template][method]["responses"]
        assert str(response.status_code) in documented, (url, response.status_code)
        schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
        validate(response.get_json(), schema)


def test_a_cut_text_is_documented_and_comes_back(collector):
    """Both truncation fields are in the documented entry, and the entries endpoint returns them."""
    jsonschema = pytest.importorskip("jsonschema")
    document = build_document()
    entry_schema = document["components"]["schemas"]["Entry"]
    body = {"source": "claude", "session_id": "doc-cut", "entries": [
        {"uuid": "cut", "role": "user", "timestamp": "2026-01-01T00:00:00Z",
         "text": "head of a long paste", "text_truncated": True, "text_bytes": 12_582_912},
        {"uuid": "whole", "role": "assistant", "timestamp": "2026-01-01T00:00:01Z",
         "text": "all of it"}]}
    for entry in body["entries"]:
        jsonschema.validate(entry, entry_schema)
    assert collector.http.post("/v1/traces", json=body).status_code == 200
    stored = collector.http.get("/v1/sessions/doc-cut/entries").get_json()
    assert [(e["uuid"], e["text_truncated"], e["text_bytes"]) for e in stored] == [
        ("cut", True, 12_582_912), ("whole", False, 0)]
    for entry in stored:
        jsonschema.validate(entry, entry_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(body["entries"][0], text_bytes=-1), entry_schema)


def test_every_count_documents_the_bound_the_collector_enforces(collector):
    entry = build_document()["components"]["schemas"]["Entry"]["properties"]
    for name in ENTRY_COUNTS:
        [count, _null] = entry[name]["anyOf"]
        assert (count["minimum"], count["maximum"]) == (0, MAX_COUNT), name
    over = {"source": "claude", "session_id": "doc-bound", "entries": [
        {"uuid": "a", "role": "assistant", "reasoning_tokens": MAX_COUNT + 1}]}
    response = collector.http.post("/v1/traces", json=over)
    assert response.status_code == 400
    assert "reasoning_tokens" in response.get_json()["errors"]["entries"]["0"]


def test_the_user_is_documented_where_it_is_sent_shown_and_asked_for(collector):
    jsonschema = pytest.importorskip("jsonschema")
    document = build_document()
    schemas, paths = document["components"]["schemas"], document["paths"]
    for name in ("IngestRequest", "AgentRegistration"):
        [text, _null] = schemas[name]["properties"]["user"]["anyOf"]
        assert text["maxLength"] == 512, name
    for name in ("SessionSummary", "Agent"):
        assert "user" in schemas[name]["properties"], name
    usage = {p["name"]: p for p in paths["/v1/usage"]["get"]["parameters"]}
    assert "user" in usage["group_by"]["schema"]["enum"] and "user" in usage
    assert "user" in {p["name"] for p in paths["/v1/sessions"]["get"]["parameters"]}
    # and what the collector answers carries it, in the documented shapes
    body = {"source": "claude", "session_id": "doc-user", "user": " dana@example.com ",
            "instance_id": "i-user",
            "entries": [{"uuid": "a", "role": "assistant", "input_tokens": 3}]}
    assert collector.http.post("/v1/traces", json=body).status_code == 200
    rows = collector.http.get("/v1/usage?group_by=user").get_json()
    assert [r["input_tokens"] for r in rows if r["key"] == "dana@example.com"] == [3]
    [session] = collector.http.get("/v1/sessions?user=dana@example.com").get_json()
    jsonschema.validate(session, schemas["SessionSummary"])
    assert (session["id"], session["user"]) == ("doc-user", "dana@example.com")
    [agent] = [a for a in collector.http.get("/v1/agents").get_json()
               if a["instance_id"] == "i-user"]
    jsonschema.validate(agent, schemas["Agent"])
    assert agent["user"] == "dana@example.com"
