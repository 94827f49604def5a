"""The administrator's endpoints: erasure, the audit log, retention, archive and backup.

Every endpoint here needs the ``admin`` role (auth.required_role), reads included: the
audit log says who removed what. Erasures are done by the writer between commits
(governance/erase.py) and answer with the rows removed per table; ``?dry_run=true``
answers the same counts and removes nothing. Archive and backup are background jobs of
the writer (governance/jobs.py): ``202`` with the job, then ``GET /v1/admin/jobs/<id>``
until its ``state`` is ``done`` or ``failed``.

- ``DELETE /v1/sessions/<id>``: one session;
- ``DELETE /v1/agents/<instance_id>``: everything an agent sent, and the agent;
- ``DELETE /v1/users/<user>``: everything of one person (entries sent for them, their
  sessions, telemetry, the agents that send for them);
- ``DELETE /v1/projects?path=<project path>``: every session of one project;
- ``DELETE /v1/entries?before=<time or date>``: everything older;
- each takes ``source=`` (only that source's) and ``dry_run=true``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from thinkt.collector.api import (BadArgument, BadInput, bad_input, int_arg, request_body,
                                  source_arg, time_arg, validation_error)
from thinkt.collector.app import error_response
from thinkt.collector.body import parse_json
from thinkt.collector.channel import WriterClient

log = logging.getLogger(__name__)

blueprint = Blueprint("admin", __name__)
blueprint.register_error_handler(BadInput, bad_input)

#: How long an erasure may take in the writer before the request answers 503 (it still
#: completes: the writer does it whole or not at all).
ERASE_TIMEOUT = 120.0


def _client() -> WriterClient:
    return current_app.extensions["thinkt.client"]


def _actor() -> str:
    """Who acts, for the audit log: the token's name (never the token)."""
    grant = g.get("grant")
    return grant.label if grant is not None else "anonymous (no token configured)"


def _flag(name: str) -> bool:
    raw = (request.args.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise BadArgument(name, "Must be true or false.")


def _erase(kind: str, value: Any, missing: str | None = None):
    source = source_arg()
    dry_run = _flag("dry_run")
    answer = _client().admin("erase", ERASE_TIMEOUT, kind=kind, value=value, source=source,
                             actor=_actor(), dry_run=dry_run)
    if missing and not any(answer["removed"].values()):
        return error_response(404, "not_found", missing)
    return jsonify(answer)


@blueprint.delete("/v1/sessions/<path:session_id>", merge_slashes=False)
def delete_session(session_id: str):
    """Remove one session from every table."""
    return _erase("session", session_id, f"No session {session_id!r}.")


@blueprint.delete("/v1/agents/<path:instance_id>", merge_slashes=False)
def delete_agent(instance_id: str):
    """Remove everything an agent sent, and the agent."""
    return _erase("agent", instance_id, f"No agent {instance_id!r} and no entry it sent.")


@blueprint.delete("/v1/users/<path:user>", merge_slashes=False)
def delete_user(user: str):
    """Remove everything of one person."""
    return _erase("user", user.strip())


@blueprint.delete("/v1/projects")
def delete_project():
    """Remove every session of one project (``path``: the project path, exact)."""
    path = request.args.get("path") or ""
    if not path.strip():
        raise BadArgument("path", "The project path is required.")
    return _erase("project", path)


@blueprint.delete("/v1/entries")
def delete_before():
    """Remove every entry older than ``before`` (an RFC 3339 time or a date, UTC)."""
    before = time_arg("before")
    if before is None:
        raise BadArgument("before", "A time or date is required: entries older go.")
    return _erase("before", before)


@blueprint.get("/v1/admin/audit")
def audit():
    """The audit log, newest first: who removed what, and every archive and backup."""
    limit = int_arg("limit", 100, 1, 1000, clamp=True)
    return jsonify(_client().query("audit_log", 10.0, limit=limit))


@blueprint.get("/v1/admin/retention")
def retention():
    """What the retention settings would remove now (a dry run)."""
    return jsonify(_client().admin("retention_plan", ERASE_TIMEOUT))


def _job(kind: str, args: dict):
    answer = _client().admin("start_job", 10.0, kind=kind, args=args, actor=_actor())
    if "busy" in answer:
        return error_response(409, "conflict", f"{answer['busy']}; wait for it to finish "
                              "(GET /v1/admin/jobs/<id>).")
    response = jsonify(answer)
    response.status_code = 202
    response.headers["Location"] = f"{request.script_root}/v1/admin/jobs/{answer['id']}"
    return response


def _body() -> dict:
    data = parse_json(request_body())
    if not isinstance(data, dict):
        raise BadArgument("body", "The body must be a JSON object.")
    return data


def _directory(data: dict) -> str:
    directory = data.get("directory")
    if not isinstance(directory, str) or not directory.strip():
        raise BadArgument("directory", "A directory on the collector's machine is required.")
    return directory.strip()


@blueprint.post("/v1/admin/archive")
def archive():
    """Start writing closed days as Parquet: ``{"directory", "since", "until"}`` (dates,
    ``until`` excluded); ``202`` with the job."""
    data = _body()
    days = {}
    for name in ("since", "until"):
        value = data.get(name)
        if not isinstance(value, str) or len(value) != 10:
            return validation_error({name: ["A YYYY-MM-DD date is required."]})
        days[name] = value
    return _job("archive", {"directory": _directory(data), **days})


@blueprint.post("/v1/admin/backup")
def backup():
    """Start a consistent copy of the store into ``{"directory"}``; ``202`` with the job."""
    return _job("backup", {"directory": _directory(_body())})


@blueprint.get("/v1/admin/jobs/<int:job_id>")
def job(job_id: int):
    """A job's state: ``running``, ``done`` (with its ``result``) or ``failed`` (``error``)."""
    found = _client().query("admin_job", 10.0, job_id=job_id)
    if found is None:
        return error_response(404, "not_found", f"No job {job_id} (jobs are forgotten when "
                              "the collector restarts).")
    return jsonify(found)
