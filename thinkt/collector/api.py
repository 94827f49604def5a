"""The HTTP endpoints of CONTRACT.md §1: ingest, queries, agents, health."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, current_app, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import BadRequest

from thinkt.addresses import is_loopback
from thinkt.collector.app import error_response
from thinkt.collector.body import parse_json, read_body
from thinkt.collector.channel import (AgentRegistration, IngestRequest, Rejected, Unavailable,
                                      WriterClient)
from thinkt.collector.openapi import build_document
from thinkt.collector.pricing import PriceTable
from thinkt.collector import cost, longtext, otlp_api
from thinkt.collector.otlp import decode as otlp_decode
from thinkt.collector.schemas import ENTRY_FIELDS, agent_schema, ingest_schema, load_entries
from thinkt.collector.settings import CollectorSettings
from thinkt.collector.queries import GROUP_BY, METRIC_GROUPS, SESSION_ORDERS

log = logging.getLogger(__name__)

blueprint = Blueprint("api", __name__)

SEARCH_LIMIT_DEFAULT = 50
SEARCH_LIMIT_MAX = 500
ENTRIES_LIMIT_DEFAULT = 100
ENTRIES_LIMIT_MAX = 1000
TEXT, TOOL_NAME = ENTRY_FIELDS.index("text"), ENTRY_FIELDS.index("tool_name")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: A host name or address with an optional port, as a Host header may carry it.
_HOST = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])"
                   r"(?::\d{1,5})?$")
_PREFIX = re.compile(r"^(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*/?$")


class BadInput(Exception):
    """A body or query-string argument that does not validate; answered with 400."""

    def __init__(self, errors: Any, message: str):
        super().__init__(message)
        self.errors = errors
        self.message = message


class BadArgument(BadInput):
    """A query-string argument that is missing or malformed."""

    def __init__(self, name: str, message: str):
        super().__init__({name: [message]}, "Invalid query parameters.")


@blueprint.errorhandler(BadInput)
def bad_input(exc: BadInput):
    """Answer a body or argument that does not validate (the admin blueprint's too)."""
    return validation_error(exc.errors, exc.message)


@blueprint.errorhandler(Rejected)
def _rejected(exc: Rejected):
    return error_response(400, "rejected", str(exc))


def validation_error(errors: Any, message: str = "The request body is invalid."):
    """Return 400 ``validation_error`` with the field errors."""
    return error_response(400, "validation_error", message, errors=errors)


def _now() -> datetime:
    # Taken in the worker, where tests can freeze it, and passed to the writer.
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _settings() -> CollectorSettings:
    return current_app.extensions["thinkt.settings"]


def _prices() -> PriceTable:
    return current_app.extensions["thinkt.prices"]


def _client() -> WriterClient:
    return current_app.extensions["thinkt.client"]


def _query_timeout() -> float:
    return max(1.0, min(30.0, _settings().request_timeout * 0.8))


def _forwarded(name: str) -> str:
    """The first value of an X-Forwarded-* header (a chain of proxies appends to it)."""
    return request.headers.get(name, "").split(",")[0].strip()


def public_base_url() -> str:
    """This collector's root URL as the client reached it, e.g. ``https://host:8443``.

    The scheme is the request's (gunicorn already made it ``https`` for a TLS listener,
    and for ``X-Forwarded-Proto: https`` from its forwarded_allow_ips, loopback by
    default) and the host is the request's Host header. A proxy on this machine (the
    peer is loopback) may name what the client used with ``X-Forwarded-Proto``,
    ``X-Forwarded-Host`` and ``X-Forwarded-Prefix``; those headers are ignored from any
    other peer, which could otherwise send clients elsewhere. A client that forges them
    on this machine only misleads itself: the answer is not cached (no-store).

    :raises BadRequest: the request names no usable host (HTTP/1.0 without Host).
    """
    scheme, host, prefix = request.scheme, request.host, request.script_root
    if is_loopback(request.remote_addr):
        scheme = _forwarded("X-Forwarded-Proto").lower() or scheme
        host = _forwarded("X-Forwarded-Host") or host
        prefix = _forwarded("X-Forwarded-Prefix") or prefix
    if scheme not in ("http", "https"):
        scheme = request.scheme
    if not _HOST.match(host or ""):
        raise BadRequest("The request names no host that this collector could answer "
                         "with: send a Host header with a host name or address.")
    if not _PREFIX.match(prefix):
        prefix = ""
    return f"{scheme}://{host}{prefix.rstrip('/')}"


def _load_body(schema: Any) -> dict:
    """Read, inflate, parse and validate the JSON object of the request body."""
    return _validate(schema, parse_json(request_body()))


def request_body() -> bytes:
    """The request's body, inflated, within the collector's size limit (413 past it)."""
    return read_body(request.stream, request.headers.get("Content-Encoding"),
                     _settings().max_body)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _validate(schema: Any, data: Any) -> dict:
    """Validate a parsed JSON body with ``schema``; 400 with the field errors."""
    if not isinstance(data, dict):
        raise BadInput({"_schema": ["The body must be a JSON object."]},
                       "The request body is invalid.")
    try:
        return schema.load(data)
    except ValidationError as err:
        raise BadInput(err.messages, "The request body is invalid.") from None


def int_arg(name: str, default: int, minimum: int, maximum: int | None = None,
            clamp: bool = False) -> int:
    """The query-string argument ``name`` as a whole number in range (``clamp``: a larger
    one becomes ``maximum``); :raises BadArgument: otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadArgument(name, "Must be a whole number.") from None
    if value < minimum:
        raise BadArgument(name, f"Must be at least {minimum}.")
    if maximum is not None and value > maximum:
        if clamp:
            return maximum
        raise BadArgument(name, f"Must be at most {maximum}.")
    return value


def time_arg(name: str) -> datetime | None:
    """The query-string argument ``name`` as naive UTC (RFC 3339 or YYYY-MM-DD), or None."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if _DAY.match(raw):
            return datetime.fromisoformat(raw)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadArgument(name, "Must be an RFC 3339 time or a YYYY-MM-DD date.") from None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:  # year 1 east of UTC, or year 9999 west of it
            raise BadArgument(name, "Must be a time between years 1 and 9999 in UTC.") from None
    return moment


def source_arg() -> str | None:
    """The ``source`` filter: one source, trimmed and lower-cased as sources are stored."""
    return (request.args.get("source") or "").strip().lower() or None


def _user_arg() -> str | None:
    """The ``user`` filter: one person, matched exactly (trimmed, as ``user`` is stored)."""
    return (request.args.get("user") or "").strip() or None


# -- ingest ----------------------------------------------------------------------------
@blueprint.post("/v1/traces")
def ingest():
    """Validate a batch, hand it to the writer, answer once it is committed.

    An OTLP trace export (an assistant's ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointed here also
    sends traces) is told apart by its encoding or its ``resourceSpans`` and answered
    as OTLP expects (otlp_api.refuse_traces).
    """
    raw = request_body()
    content_type = request.headers.get("Content-Type")
    if _media_type(content_type) in otlp_decode.PROTOBUF_TYPES:
        return otlp_api.refuse_traces(raw, content_type)
    data = parse_json(raw)  # once: a batch can be megabytes
    if otlp_decode.is_otlp_traces_json(data):
        return otlp_api.refuse_traces(raw, content_type or "application/json")
    envelope = _validate(ingest_schema, data)
    rows, errors = load_entries(envelope["entries"])
    if not rows:
        return validation_error({"entries": errors}, "No entry in the batch is valid.")
    metadata = envelope.get("metadata")
    batch = IngestRequest(
        source=envelope["source"],
        session_id=envelope["session_id"],
        project_path=envelope.get("project_path") or None,
        instance_id=envelope.get("instance_id") or None,
        machine_id=envelope.get("machine_id") or None,
        metadata=json.dumps(metadata) if metadata else None,
        received_at=_now(),
        entries=rows,
        prepared=longtext.prepare([row[TEXT] for row in rows], [row[TOOL_NAME] for row in rows]),
        person=envelope.get("user"),
    )
    stored = _client().ingest(batch, timeout=_settings().commit_timeout)
    body: dict[str, Any] = {"accepted": len(rows), "duplicates": stored.duplicates}
    if errors:
        body["rejected"] = len(errors)
        body["errors"] = {"entries": errors}
    return jsonify(body)


# -- queries ---------------------------------------------------------------------------
@blueprint.get("/v1/traces/search")
def search():
    """Sessions whose entries, tool names or project path contain ``q`` (literal, any case)."""
    q = request.args.get("q", "")
    if not q.strip():
        raise BadArgument("q", "A search term is required.")
    limit = int_arg("limit", SEARCH_LIMIT_DEFAULT, 1, SEARCH_LIMIT_MAX, clamp=True)
    return jsonify(_client().query("search", _query_timeout(), q=q, limit=limit))


@blueprint.get("/v1/traces/stats")
def stats():
    """Totals: entries, sessions, agents, database size, tokens."""
    return jsonify(_client().query("stats", _query_timeout(), now=_now(),
                                   db_path=_settings().storage))


@blueprint.get("/v1/usage")
def usage():
    """Token usage grouped by source, model, project, day, agent, session or user."""
    group_by = request.args.get("group_by", "source") or "source"
    if group_by not in GROUP_BY:
        raise BadArgument("group_by", f"Must be one of: {', '.join(GROUP_BY)}.")
    source = source_arg()
    answer = _client().query("priced_usage", _query_timeout(), group_by=group_by,
                             since=time_arg("since"), until=time_arg("until"),
                             source=source, user=_user_arg())
    return jsonify(cost.add_costs(answer["rows"], answer["parts"], _prices()))


@blueprint.get("/v1/telemetry/metrics")
def metric_totals():
    """What the assistants' own metrics add up to, per series and group (gauges left out)."""
    group_by = request.args.get("group_by", "series") or "series"
    if group_by not in METRIC_GROUPS:
        raise BadArgument("group_by", f"Must be one of: {', '.join(METRIC_GROUPS)}.")
    source = source_arg()
    series = (request.args.get("series") or "").strip() or None
    return jsonify(_client().query("metric_totals", _query_timeout(), group_by=group_by,
                                   since=time_arg("since"), until=time_arg("until"),
                                   source=source, user=_user_arg(), series=series))


@blueprint.get("/v1/sessions")
def sessions():
    """The most recently active sessions (``sort=received``: the most recently arrived)."""
    limit = int_arg("limit", 50, 1, SEARCH_LIMIT_MAX, clamp=True)
    source = source_arg()
    project = request.args.get("project") or None
    sort = request.args.get("sort") or "updated"
    if sort not in SESSION_ORDERS:
        raise BadArgument("sort", f"Must be one of: {', '.join(SESSION_ORDERS)}.")
    return jsonify(_client().query("list_sessions", _query_timeout(), limit=limit,
                                   source=source, project=project, sort=sort,
                                   user=_user_arg()))


# merge_slashes=False: a session id may hold "//"; merging would answer a 308 redirect
# (an HTML body) to another session's URL.
@blueprint.get("/v1/sessions/<path:session_id>/entries", merge_slashes=False)
def session_entries(session_id: str):
    """A page of the stored entries of one session, oldest first.

    The body stays a bare array (as before paging was said); ``X-Total-Count`` gives
    the session's number of entries and ``Link: <...>; rel="next"`` the next page,
    absent on the last one.
    """
    limit = int_arg("limit", ENTRIES_LIMIT_DEFAULT, 1, ENTRIES_LIMIT_MAX, clamp=True)
    offset = int_arg("offset", 0, 0)
    page = _client().query("session_entries", _query_timeout(), session_id=session_id,
                           limit=limit, offset=offset)
    if page is None:
        return error_response(404, "not_found", f"No session {session_id!r}.")
    response = jsonify(page["entries"])
    response.headers["X-Total-Count"] = str(page["total"])
    following = offset + len(page["entries"])
    if page["entries"] and following < page["total"]:
        try:
            base = public_base_url()
        except BadRequest:  # no usable Host: a reference relative to this host
            base = request.script_root
        query = urlencode({"limit": limit, "offset": following})
        response.headers["Link"] = (f'<{base}/v1/sessions/{quote(session_id, safe="/")}'
                                    f'/entries?{query}>; rel="next"')
    return response


# -- agents ----------------------------------------------------------------------------
@blueprint.post("/v1/agents/register")
def register_agent():
    """Upsert an exporter agent; counts as its heartbeat."""
    agent = _load_body(agent_schema)
    if agent.get("metadata") is not None:
        agent["metadata"] = json.dumps(agent["metadata"])
    stored = _client().register(AgentRegistration(agent, _now()),
                                timeout=_settings().commit_timeout)
    return jsonify(stored)


@blueprint.get("/v1/agents")
def agents():
    """Registered agents with their status (active, or stale after 5 minutes of silence)."""
    return jsonify(_client().query("list_agents", _query_timeout(), now=_now()))


# -- health ----------------------------------------------------------------------------
@blueprint.get("/v1/collector/health")
def health():
    """200 when the writer is alive and its database open; 503 otherwise (no auth)."""
    try:
        _client().query("ping", 5.0)
    except Unavailable as exc:
        response = jsonify({"status": "unavailable", "error": "unavailable",
                            "message": exc.message})
        response.status_code = 503
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return jsonify({"status": "ok"})


@blueprint.get("/v1/openapi.json")
def openapi():
    """The OpenAPI 3 document of this API (for clients and API fuzzers)."""
    return jsonify(build_document(public_base_url()))


@blueprint.get("/.well-known/thinkt.json")
def well_known():
    """Where this collector is (CONTRACT.md section 4), for exporter discovery (no auth).

    It names the endpoint only: no token, version or storage path.
    """
    return jsonify({"collector_url": public_base_url()})
