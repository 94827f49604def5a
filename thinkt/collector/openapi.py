"""The OpenAPI 3 document of the collector's HTTP API (CONTRACT.md §1), built as a dict.

Clients and API fuzzers (schemathesis, hypothesis-jsonschema) read it from
``GET /v1/openapi.json``. Field names and limits come from :mod:`thinkt.collector.schemas`
so the document cannot drift from what the collector validates.
"""

from __future__ import annotations

import logging
from typing import Any

from thinkt import __version__
from thinkt.collector.queries import GROUP_BY, METRIC_GROUPS
from thinkt.collector.schemas import (ENTRY_COUNTS, ENTRY_FLAGS, MAX_COUNT, MAX_ENTRIES,
                                      MAX_PERSON, ROLES, Id, Text, entry_schema)

log = logging.getLogger(__name__)

#: Entry fields that are free texts (schemas.Text), as the schema declares them.
_TEXTS = tuple(name for name, field in entry_schema.fields.items() if isinstance(field, Text))
#: Entry fields that are identities (schemas.Id), besides the required uuid.
_IDS = tuple(name for name, field in entry_schema.fields.items()
             if isinstance(field, Id) and name != "uuid")
_ID_RULE = ("An identity, stored exactly as sent: one holding a NUL character or a lone "
            "surrogate (\\ud800-\\udfff, no UTF-8 form) is refused with 400 naming the "
            "field, never cleaned.")
_TEXT_RULE = ("Stored as sent, NUL characters included; a lone surrogate (\\ud800-\\udfff, "
              "no UTF-8 form) becomes U+FFFD.")
_DESCRIPTIONS = {
    "text_truncated": "The exporter cut this entry's text to fit one request; `text` is "
                      "the part that was kept. Default false.",
    "text_bytes": "The size of the text in UTF-8 bytes before the exporter cut it; 0 when "
                  "it was not cut.",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str, retry_after: bool = False) -> dict:
    response = _json(_ref("Error"), description)
    if retry_after:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 0},
                                               "description": "Seconds to wait before retrying."}}
    return response


def _query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _id(**limits: int) -> dict:
    # Only NUL in the pattern: a validator without Unicode regexes would read an emoji's
    # two UTF-16 halves as lone surrogates.
    return {"type": "string", **limits, "pattern": "^[^\\u0000]*$", "description": _ID_RULE}


def _person(description: str) -> dict:
    """A ``user`` field of a request: who the sender runs for."""
    return _nullable({"type": "string", "maxLength": MAX_PERSON, "description": description})


def _entry_schema() -> dict:
    properties: dict[str, Any] = {
        "uuid": _id(minLength=1, maxLength=512),
        "role": {"type": "string", "description": "Case-insensitive; `tool` means "
                 "`tool_result`.", "enum": [*ROLES, "tool"]},
        "timestamp": _nullable({"type": "string", "format": "date-time"}),
    }
    properties.update({name: _nullable({"type": "string", "description": _TEXT_RULE})
                       for name in _TEXTS})
    properties.update({name: _nullable(_id()) for name in _IDS})
    properties.update({name: _nullable({"type": "boolean"}) for name in ENTRY_FLAGS})
    properties.update({name: _nullable({
        "type": "integer", "minimum": 0, "maximum": MAX_COUNT,
        "description": f"At most {MAX_COUNT:,} (10^12): more tokens than one API response "
                       "carries, more bytes than one record of a session file holds. A "
                       "larger value rejects the entry, naming the field."})
        for name in ENTRY_COUNTS})
    for name, description in _DESCRIPTIONS.items():
        properties[name] = dict(properties[name], description=description)
    return {"type": "object", "required": ["uuid", "role"], "properties": properties}


def _components() -> dict:
    # What the collector answers: stored optional fields come back as null when unset.
    session_summary = {"type": "object", "properties": {
        name: _nullable({"type": kind}) for name, kind in (
            ("id", "string"), ("source", "string"), ("project_path", "string"),
            ("instance_id", "string"), ("model", "string"), ("entry_count", "integer"),
            ("first_seen", "string"), ("last_updated", "string"), ("match_count", "integer"),
            ("snippet", "string"))}}
    session_summary["properties"]["user"] = _nullable({
        "type": "string", "description": "Who the session belongs to: the latest `user` its "
                                         "exporter sent; null when none was sent."})
    usage_row = {"type": "object", "properties": {
        "key": _nullable({"type": "string", "description": "null: a model, project, agent or "
                          "user that was never reported."}),
        **{name: {"type": "integer", "minimum": 0} for name in (
            "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
            "reasoning_tokens")},
        "entries": {"type": "integer", "minimum": 0, "description": "Every stored entry of "
                    "the key, with or without token figures."},
        "sessions": {"type": "integer", "minimum": 0, "description": "The sessions of those "
                     "entries (and of the responses counted)."},
        "cost_usd": _nullable({"type": "number", "minimum": 0, "description": "What the "
                               "key's tokens cost in USD: the price table (genai-prices, "
                               "offline) or the config file's [collector.prices], by model "
                               "and day, at base rates. null when none of its tokens has a "
                               "price (never 0 for unpriced)."}),
        "unpriced_models": {"type": "array", "items": _nullable({"type": "string"}),
                            "description": "Present when some of the key's tokens have no "
                                           "price: those models (null: tokens of no named "
                                           "model). cost_usd is then a lower bound."}}}
    agent = {"type": "object", "properties": {
        "instance_id": {"type": "string"}, "platform": {"type": "string"},
        **{name: _nullable({"type": "string"}) for name in (
            "hostname", "version", "started_at", "last_heartbeat", "machine_id", "project",
            "region")},
        "trace_count": {"type": "integer"},
        "status": {"type": "string", "enum": ["active", "stale"]},
        "user": _nullable({"type": "string", "description": "Who the agent runs for: the "
                           "`user` of its latest registration or batch."})}}
    return {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error", "message"], "properties": {
                "error": {"type": "string"}, "message": {"type": "string"},
                "errors": {"type": "object"}}},
            "MetricTotal": {
                "type": "object", "required": ["series", "unit", "value", "points"],
                "properties": {
                    "series": {"type": "string"},
                    "key": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "unit": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "value": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                    "count": {"anyOf": [{"type": "integer"}, {"type": "null"}],
                              "description": "Observations (histograms)."},
                    "points": {"type": "integer"}}},
            "Erasure": {"type": "object", "required": ["removed", "dry_run"], "properties": {
                "removed": {"type": "object", "additionalProperties": {"type": "integer"}},
                "dry_run": {"type": "boolean"}}},
            "AuditRow": {"type": "object", "properties": {
                "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                "actor": {"type": "string", "description": "The token's name, never the "
                          "token."},
                "action": {"type": "string"}, "target": {"type": "object"},
                "removed": {"type": "object"}}},
            "Job": {"type": "object", "required": ["id", "kind", "state"], "properties": {
                "id": {"type": "integer"}, "kind": {"type": "string"},
                "state": {"type": "string", "enum": ["running", "done", "failed"]},
                "args": {"type": "object"}, "actor": {"type": "string"},
                "started_at": {"type": "string"},
                "finished_at": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "progress": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "result": {"anyOf": [{"type": "object"}, {"type": "null"}]},
                "error": {"anyOf": [{"type": "string"}, {"type": "null"}]}}},
            "OTLPStatus": {
                "type": "object", "required": ["error", "message", "code"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"},
                    "code": {"type": "integer", "description": "The google.rpc.Code."},
                    "required_role": {"type": "string"}}},
            "Entry": _entry_schema(),
            "IngestRequest": {
                "type": "object", "required": ["source", "session_id", "entries"],
                "properties": {
                    "source": _id(minLength=1, maxLength=64),
                    "session_id": _id(minLength=1, maxLength=512),
                    "entries": {"type": "array", "minItems": 1, "maxItems": MAX_ENTRIES,
                                "items": _ref("Entry")},
                    "instance_id": _nullable(_id(maxLength=512)),
                    "project_path": _nullable({"type": "string", "description": _TEXT_RULE}),
                    "machine_id": _nullable(_id(maxLength=512)),
                    "metadata": _nullable({"type": "object"}),
                    "user": _person("Who the exporter runs for (an e-mail address or a "
                                    "name): usage and sessions are grouped and filtered by "
                                    "it. Trimmed; empty means none.")}},
            "IngestResponse": {
                "type": "object", "required": ["accepted", "duplicates"], "properties": {
                    "accepted": {"type": "integer"}, "duplicates": {"type": "integer"},
                    "rejected": {"type": "integer"}, "errors": {"type": "object"}}},
            "AgentRegistration": {
                "type": "object", "required": ["instance_id", "platform"], "properties": {
                    "instance_id": _id(minLength=1, maxLength=512),
                    "platform": {"type": "string", "minLength": 1, "maxLength": 128},
                    "hostname": _nullable({"type": "string", "maxLength": 512}),
                    "version": _nullable({"type": "string", "maxLength": 128}),
                    "started_at": _nullable({"type": "string", "format": "date-time"}),
                    "machine_id": _nullable(_id(maxLength=512)),
                    "project": _nullable({"type": "string"}),
                    "region": _nullable({"type": "string", "maxLength": 128}),
                    "metadata": _nullable({"type": "object"}),
                    "user": _person("Who the exporter runs for, as in ingest requests; "
                                    "left out, the stored one is kept.")}},
            "Agent": agent,
            "SessionSummary": session_summary,
            "UsageRow": usage_row,
            "Stats": {"type": "object", "properties": {
                **{name: {"type": "integer"} for name in (
                    "total_traces", "total_sessions", "total_agents", "active_agents",
                    "db_size_bytes")},
                "uptime_seconds": {"type": "number"}, "started_at": {"type": "string"},
                "tokens": {"type": "object"},
                "telemetry": {"type": "object", "description": "Sessions told by telemetry "
                              "so far, API request events and metric points stored."}}},
            "WellKnown": {"type": "object", "required": ["collector_url"],
                          "additionalProperties": False, "properties": {
                "collector_url": {"type": "string", "format": "uri", "description": (
                    "This collector's root URL as the client reached it (scheme and Host "
                    "of the request; X-Forwarded-Proto, -Host and -Prefix only from a "
                    "proxy on the collector's machine). Exporters append /v1/traces.")}}},
            "Health": {"type": "object", "required": ["status"], "properties": {
                "status": {"type": "string", "enum": ["ok", "unavailable"]}}},
        },
    }


def _array_of(name: str, description: str) -> dict:
    return _json({"type": "array", "items": _ref(name)}, description)


def _otlp(signal: str, items: str, rejected: str, summary: str) -> dict:
    """An OTLP/HTTP endpoint: both encodings in, the OTLP response or a Status out."""
    status = {"description": "A `google.rpc.Status`: protobuf for a protobuf request; "
                             "for JSON, the error envelope with the Status `code`.",
              "content": {"application/json": {"schema": _ref("OTLPStatus")},
                          "application/x-protobuf": {"schema": {"type": "string",
                                                                "format": "binary"}}}}

    def error(description: str, retry_after: bool = False) -> dict:
        answer = dict(status, description=f"{description} {status['description']}")
        if retry_after:
            answer["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 0},
                                                 "description": "Seconds to wait."}}
        return answer

    response = {"type": "object", "properties": {"partialSuccess": {
        "type": "object", "properties": {
            rejected: {"anyOf": [{"type": "integer"}, {"type": "string"}],
                       "description": f"How many {items} were not kept."},
            "errorMessage": {"type": "string", "description": "Why; also a warning when "
                             "nothing was rejected."}}}}}
    return {"post": {
        "summary": summary,
        "description": f"OTLP/HTTP (`Export{signal.capitalize()}ServiceRequest`), protobuf "
                       "or JSON, `Content-Encoding: gzip` accepted; 200 means committed. "
                       "Needs the ingest role.",
        "requestBody": {"required": True, "content": {
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "object"}}}},
        "responses": {
            "200": {"description": f"Stored; `partialSuccess` counts the {items} not kept.",
                    "content": {"application/json": {"schema": response},
                                "application/x-protobuf": {"schema": {
                                    "type": "string", "format": "binary"}}}},
            "400": error("Not a well-formed OTLP request; nothing was stored."),
            "401": error("Missing or wrong bearer token."),
            "403": error("The token lacks the ingest role."),
            "413": error("Over the body limit after decompression."),
            "415": error("Neither application/x-protobuf nor application/json."),
            "503": error("The writer is busy or down; retry later.", retry_after=True)}}}


def _admin_paths() -> dict:
    """The administrator's endpoints (admin role): erasure, audit, retention, jobs."""
    admin = {"401": _error("Missing or wrong bearer token."),
             "403": _error("The token lacks the admin role."),
             "503": _error("The writer is busy or down; retry later.", retry_after=True)}
    selected = [_query("source", {"type": "string"}, "Only this source's entries."),
                _query("dry_run", {"type": "boolean", "default": False},
                       "Answer what would be removed; remove nothing.")]
    removed = _json(_ref("Erasure"), "What was removed (or would be, with dry_run), per "
                    "table; written to the audit log.")

    def erase(summary: str, *parameters: dict, missing: bool = False) -> dict:
        responses = {"200": removed, "400": _error("Invalid parameters."), **admin}
        if missing:
            responses["404"] = _error("Nothing of it is stored.")
        return {"delete": {"summary": summary, "parameters": [*parameters, *selected],
                           "responses": responses}}

    def path(name: str) -> dict:
        return {"name": name, "in": "path", "required": True,
                "schema": {"type": "string", "minLength": 1}}

    job = _json(_ref("Job"), "The job (202: started; follow GET /v1/admin/jobs/{id}).")
    directory = {"type": "string", "minLength": 1,
                 "description": "A directory on the collector's machine."}
    return {
        "/v1/sessions/{session_id}": erase("Remove one session from every table.",
                                           path("session_id"), missing=True),
        "/v1/agents/{instance_id}": erase("Remove everything an agent sent, and the agent.",
                                          path("instance_id"), missing=True),
        "/v1/users/{user}": erase("Remove everything of one person: entries sent for them, "
                                  "their sessions, telemetry and agents.", path("user")),
        "/v1/projects": erase("Remove every session of one project.",
                              _query("path", {"type": "string", "minLength": 1},
                                     "The project path (exact).", required=True)),
        "/v1/entries": erase("Remove every entry older than `before`, with its figures.",
                             _query("before", {"type": "string"}, "RFC 3339 time or "
                                    "YYYY-MM-DD (UTC).", required=True)),
        "/v1/admin/audit": {"get": {
            "summary": "The audit log, newest first: erasures, retention, archives, backups.",
            "parameters": [_query("limit", {"type": "integer", "minimum": 1, "default": 100},
                                  "Rows; capped at 1000.")],
            "responses": {"200": _array_of("AuditRow", "Audit rows."), **admin}}},
        "/v1/admin/retention": {"get": {
            "summary": "What the retention settings would remove now (a dry run).",
            "responses": {"200": _json({"type": "object"}, "Per source: the cutoff and "
                                       "the counts."), **admin}}},
        "/v1/admin/archive": {"post": {
            "summary": "Start writing closed days as Parquet (Hive partitions).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["directory", "since", "until"],
                "properties": {"directory": directory,
                               "since": {"type": "string", "format": "date"},
                               "until": {"type": "string", "format": "date",
                                         "description": "Excluded."}}}}}},
            "responses": {"202": job, "400": _error("Invalid body."),
                          "409": _error("Another job is running."), **admin}}},
        "/v1/admin/backup": {"post": {
            "summary": "Start a consistent copy of the store while it serves.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["directory"],
                "properties": {"directory": directory}}}}},
            "responses": {"202": job, "400": _error("Invalid body."),
                          "409": _error("Another job is running."), **admin}}},
        "/v1/admin/jobs/{job_id}": {"get": {
            "summary": "A job's state: running, done (with its result) or failed (error).",
            "parameters": [{"name": "job_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1}}],
            "responses": {"200": job, "404": _error("No such job (jobs are forgotten on "
                                                    "restart)."), **admin}}},
    }


def _paths() -> dict:
    common = {"401": _error("Missing or wrong bearer token."),
              "403": _error("The token lacks the role this needs (`required_role`: "
                            "ingest for POST /v1/traces, /v1/logs, /v1/metrics and agent "
                            "registration, read for every GET, admin for what removes "
                            "data)."),
              "503": _error("The writer is busy or down; retry later.", retry_after=True)}
    bad = {"400": _error("Invalid body or query parameters."), **common}
    limit = _query("limit", {"type": "integer", "minimum": 1}, "Capped at the maximum.")
    return {
        "/v1/traces": {"post": {
            "summary": "Ingest a batch of entries of one session; 200 means committed.",
            "description": "An OTLP trace export sent here (protobuf, or JSON with "
                           "`resourceSpans`) is answered as OTLP expects: 200 with every "
                           "span rejected in `partialSuccess`, naming OTEL_TRACES_EXPORTER "
                           "to switch off.",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("IngestRequest")}}},
            "parameters": [{"name": "Content-Encoding", "in": "header", "required": False,
                            "schema": {"type": "string", "enum": ["gzip", "identity"]}}],
            "responses": {"200": _json(_ref("IngestResponse"), "Stored (new or duplicate)."),
                          "413": _error("Over the limit (10 MiB) after decompression, "
                                        "chunked or not; the message states the limit."), **bad}}},
        "/v1/traces/search": {"get": {
            "summary": "Sessions containing q (literal, case-insensitive).",
            "parameters": [_query("q", {"type": "string", "minLength": 1}, "Search term.",
                                  required=True), limit],
            "responses": {"200": _array_of("SessionSummary", "Matching sessions."), **bad}}},
        "/v1/traces/stats": {"get": {
            "summary": "Totals of the store.",
            "responses": {"200": _json(_ref("Stats"), "Totals."), **common}}},
        "/v1/usage": {"get": {
            "summary": "Token usage, each API response counted once; every key that has "
                       "entries is listed (tokens 0 where none were reported).",
            "parameters": [
                _query("group_by", {"type": "string", "enum": list(GROUP_BY)},
                       "Grouping. `user`: who the entries were sent for (an entry sent "
                       "without one counts as its session's)."),
                _query("since", {"type": "string"}, "RFC 3339 time or YYYY-MM-DD."),
                _query("until", {"type": "string"}, "RFC 3339 time or YYYY-MM-DD."),
                _query("source", {"type": "string"}, "Only this source."),
                _query("user", {"type": "string"}, "Only this user (exact match), as "
                       "`group_by=user` keys it.")],
            "responses": {"200": _array_of("UsageRow", "Usage, largest first."), **bad}}},
        "/v1/telemetry/metrics": {"get": {
            "summary": "What the assistants' own metrics (POST /v1/metrics) add up to, per "
                       "series and group; counters and histograms (gauges are left out).",
            "parameters": [
                _query("group_by", {"type": "string", "enum": list(METRIC_GROUPS),
                                    "default": "series"},
                       "`series`: one row per series; otherwise one per series and key."),
                _query("since", {"type": "string"}, "RFC 3339 time or YYYY-MM-DD."),
                _query("until", {"type": "string"}, "RFC 3339 time or YYYY-MM-DD."),
                _query("source", {"type": "string"}, "Only this tool (claude, codex, gemini)."),
                _query("user", {"type": "string"}, "Only this user (exact match)."),
                _query("series", {"type": "string"}, "Only this series (e.g. lines.added, "
                       "commits, tokens.input, or a metric's own name).")],
            "responses": {"200": _array_of("MetricTotal", "Totals by series."), **bad}}},
        "/v1/sessions": {"get": {
            "summary": "The most recently active sessions.",
            "parameters": [limit, _query("source", {"type": "string"}, "Only this source."),
                           _query("project", {"type": "string"}, "Only this project path."),
                           _query("user", {"type": "string"},
                                  "Only sessions of this user (exact match)."),
                           _query("sort", {"type": "string", "enum": ["updated", "received"],
                                           "default": "updated"},
                                  "`updated`: by the sessions' latest entry time; "
                                  "`received`: by when they last received entries.")],
            "responses": {"200": _array_of("SessionSummary", "Sessions."), **bad}}},
        "/v1/sessions/{session_id}/entries": {"get": {
            "summary": "A page of the stored entries of one session, oldest first.",
            "description": "Follow the `Link` header's `rel=\"next\"` URL (or add the "
                           "page's length to `offset`) until there is none; "
                           "`X-Total-Count` is the session's number of entries.",
            "parameters": [{"name": "session_id", "in": "path", "required": True,
                            "schema": {"type": "string", "minLength": 1}},
                           _query("limit", {"type": "integer", "minimum": 1, "default": 100},
                                  "Entries per page; capped at 1000."),
                           _query("offset", {"type": "integer", "minimum": 0, "default": 0},
                                  "Entries to skip.")],
            "responses": {"200": dict(_array_of("Entry", "One page of entries."), headers={
                              "X-Total-Count": {"schema": {"type": "integer", "minimum": 1},
                                                "description": "The session's entries."},
                              "Link": {"schema": {"type": "string"}, "description": (
                                  "`<URL>; rel=\"next\"`: the next page, absent on the "
                                  "last.")}}),
                          "404": _error("No such session."), **bad}}},
        "/v1/logs": _otlp("logs", "log records", "rejectedLogRecords",
                          "Store the assistants' own log events (Claude Code, Codex, Gemini "
                          "CLI): API requests become usage rows, prompts, tool results and "
                          "API errors entries of their `session.id`. A session's transcript, "
                          "once an exporter sends it, tells the session instead (README)."),
        "/v1/metrics": _otlp("metrics", "data points", "rejectedDataPoints",
                             "Store the assistants' own metrics as what each point added "
                             "over its interval (deltas, whatever temporality was sent)."),
        **_admin_paths(),
        "/v1/agents/register": {"post": {
            "summary": "Upsert an exporter agent (a heartbeat).",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("AgentRegistration")}}},
            "responses": {"200": _json(_ref("Agent"), "The stored agent."), **bad}}},
        "/v1/agents": {"get": {
            "summary": "Registered agents with their status.",
            "responses": {"200": _array_of("Agent", "Agents."), **common}}},
        "/v1/collector/health": {"get": {
            "summary": "200 when the writer is alive and the database open.", "security": [],
            "responses": {"200": _json(_ref("Health"), "Healthy."),
                          "503": _error("Unhealthy.", retry_after=True)}}},
        "/.well-known/thinkt.json": {"get": {
            "summary": "Where this collector is, for exporter discovery; names nothing else.",
            "security": [],
            "responses": {"200": _json(_ref("WellKnown"), "The collector's URL."),
                          "400": _error("The request names no host.")}}},
        "/v1/openapi.json": {"get": {
            "summary": "This document.", "security": [],
            "responses": {"200": {"description": "OpenAPI 3 document.",
                                  "content": {"application/json": {"schema": {
                                      "type": "object"}}}}}}},
    }


def build_document(server_url: str | None = None) -> dict:
    """Return the OpenAPI 3.1 document of the collector API."""
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "thinkt collector", "version": __version__,
                 "description": "Ingest and query AI coding assistant sessions. Every error "
                                "is a JSON envelope {error, message[, errors]}."},
        "paths": _paths(),
        "components": _components(),
        "security": [{"bearer": []}],
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
