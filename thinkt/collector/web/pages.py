"""The pages: overview, usage (and its CSV), sessions, a session's transcript, search and
agents, each one or two writer queries (dashboard.py) rendered into a template.

Errors are pages too: a bad filter comes back as the page's form with a message
(status 400), an unknown session as a 404 page, a busy writer as a 503 page that says
to retry; the API's JSON envelope stays with /v1/*.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import quote

from flask import Response, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException, NotFound

from thinkt import __version__
from thinkt.collector import cost, dashboard
from thinkt.collector.channel import Unavailable, WriterClient
from thinkt.collector.pricing import PriceTable
from thinkt.collector.settings import CollectorSettings
from thinkt.collector.web import blueprint, charts, formats, forms
from thinkt.collector.web.signin import form_token

log = logging.getLogger(__name__)

#: Rows of a usage table page; the CSV has them all.
USAGE_PAGE = 100
SESSIONS_PAGE = 50
#: Entries of a transcript page, and the characters of a text shown in it (its first
#: and last halves; the whole text is a link away): a page of tool outputs stays light.
TRANSCRIPT_PAGE = 100
TRANSCRIPT_CLIP = 3000
SEARCH_LIMIT = 50
#: A text longer than this (characters or lines) is folded into <details>.
FOLD_CHARS, FOLD_LINES = 1500, 25
#: Ranges longer than this are charted by month instead of by day.
CHART_DAYS = 92
#: Columns a usage table may be sorted by, and how each reads a row.
USAGE_SORTS: dict[str, Callable[[dict], Any]] = {
    "key": lambda r: (r["key"] is None, str(r["key"] or "").lower()),
    "total": formats.total_tokens,
    "input": lambda r: r["input_tokens"],
    "output": lambda r: r["output_tokens"],
    "cache_read": lambda r: r["cache_read_tokens"],
    "cache_write": lambda r: r["cache_write_tokens"],
    "reasoning": lambda r: r["reasoning_tokens"],
    "entries": lambda r: r["entries"],
    "sessions": lambda r: r["sessions"],
    # Unpriced rows sort below every priced one, whatever the direction's other rows.
    "cost": lambda r: (r["cost_usd"] is not None, r["cost_usd"] or 0.0),
}
GROUP_NAMES = {"user": "person", "machine": "machine", "project": "project",
               "model": "model", "source": "source", "day": "day", "branch": "git branch"}


def _settings() -> CollectorSettings:
    return current_app.extensions["thinkt.settings"]


def _ask(name: str, **kwargs: Any) -> Any:
    """Run the writer's query ``name`` with the time a request may wait (as the API does)."""
    client: WriterClient = current_app.extensions["thinkt.client"]
    timeout = max(1.0, min(30.0, _settings().request_timeout * 0.8))
    return client.query(name, timeout, **kwargs)


def _now() -> datetime:
    # Taken in the worker, as the API does, so tests can freeze it.
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _prices() -> PriceTable:
    """This worker's price table, shared with the API (made by create_app)."""
    return current_app.extensions["thinkt.prices"]


def _priced(found: dict) -> list[dict]:
    """Return usage ``rows`` with ``cost_usd`` and ``unpriced_models`` from their
    ``parts``, priced as ``/v1/usage`` prices them (cost.py)."""
    return cost.add_costs(found["rows"], found["parts"], _prices())


def _render(template: str, form: forms.Form | None = None, status: int | None = None,
            **context: Any) -> tuple[str, int]:
    """Render a page; a form with errors makes it a 400."""
    if status is None:
        status = 400 if form is not None and form.errors else 200
    return render_template(template, form=form, **context), status


@blueprint.app_context_processor
def _page_context() -> dict[str, Any]:
    return {"viewer": getattr(g, "viewer", None), "csrf_token": form_token,
            "version": __version__, "group_names": GROUP_NAMES,
            "signin_needed": bool(current_app.extensions["thinkt.keyring"])}


@blueprint.after_request
def _headers(response: Response) -> Response:
    # Nothing here comes from elsewhere, and no page may be framed by another site.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint == "web.static":
        # Assets change only with the package, whose version is in their URL.
        response.headers["Cache-Control"] = "public, max-age=86400"
    return response


# -- errors -----------------------------------------------------------------------------
@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    return render_template("error.html", status=status, title=exc.name,
                           message=exc.description), status


@blueprint.errorhandler(Unavailable)
def _unavailable(exc: Unavailable) -> Any:
    body = render_template("error.html", status=503, title="Busy or restarting",
                           message=f"The collector could not answer: {exc.message}. "
                                   "Reload the page in a few seconds.")
    return body, 503, {"Retry-After": str(exc.retry_after)}


@blueprint.errorhandler(Exception)
def _internal_error(exc: Exception) -> Any:
    log.exception("unhandled error in %s %s", request.method, request.path)
    return render_template("error.html", status=500, title="Something failed",
                           message="The collector failed on this page; its log says why."), 500


# -- overview ---------------------------------------------------------------------------
@blueprint.get("/")
def overview() -> Any:
    """Tokens and cost per day by model, the top people, projects and models, the agents."""
    form = forms.read(request.args)
    data = _ask("web_overview", since=form.since, until=form.until, now=_now())
    labels, bucket = _chart_labels(form.first, form.last)
    daily = _priced(data["daily"])
    tokens: dict[tuple[str, str], float] = {}
    spend: dict[tuple[str, str], float] = {}
    for row in daily:
        day, model = row["key"]
        at = (bucket(day), model or "(no model)")
        tokens[at] = tokens.get(at, 0) + formats.total_tokens(row)
        if row["cost_usd"] is not None:
            spend[at] = spend.get(at, 0) + row["cost_usd"]
    by_tokens = charts.stack(labels, tokens)
    models = _priced(_by_model(data["daily"]))
    totals = _priced(data["totals"])
    agents = data["agents"]
    return _render(
        "overview.html", form,
        totals=totals[0] if totals else {"cost_usd": None, "entries": 0, "sessions": 0},
        users=_priced(data["users"]), projects=_priced(data["projects"]),
        models=models[:10], unpriced=[m for m in models if m.get("unpriced_models")],
        agents=agents[:8], agent_count=len(agents),
        active=sum(a["status"] == "active" for a in agents),
        token_chart=charts.stacked_bars(labels, by_tokens, title="Tokens per day by model",
                                        fmt=formats.tokens),
        cost_chart=charts.stacked_bars(labels, charts.stack(labels, spend, like=by_tokens),
                                       title="Cost per day by model (USD)", fmt=formats.usd),
        by_month=bool(labels) and len(labels[0]) == 7)


_SUMMED = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
           "reasoning_tokens", "entries")


def _by_model(daily: dict) -> dict:
    """Usage per (day, model) added up per model: rows and parts keyed by model."""
    rows: dict[Any, dict] = {}
    for row in daily["rows"]:
        model = row["key"][1]
        into = rows.setdefault(model, {"key": model, **dict.fromkeys(_SUMMED, 0)})
        for name in _SUMMED:
            into[name] += row[name]
    ranked = sorted(rows.values(), key=lambda r: (-formats.total_tokens(r), -r["entries"]))
    parts = [{**part, "key": part["key"][1]} for part in daily["parts"]]
    return {"rows": ranked, "parts": parts}


def _chart_labels(first: date, last: date) -> tuple[list[str], Callable[[str], str]]:
    """The bars of a range (days, or months past :data:`CHART_DAYS`) and how a day
    (YYYY-MM-DD) finds its bar."""
    days = (last - first).days + 1
    if days <= CHART_DAYS:
        return [(first + timedelta(days=i)).isoformat() for i in range(days)], lambda d: d
    months, at = [], first.replace(day=1)
    while at <= last:
        months.append(at.isoformat()[:7])
        at = (at + timedelta(days=32)).replace(day=1)
    return months, lambda d: d[:7]


# -- usage ------------------------------------------------------------------------------
def _usage_form() -> forms.Form:
    return forms.read(request.args, filters=dashboard.FILTERS,
                      choices={"group": dashboard.GROUPS, "sort": ("total", *USAGE_SORTS),
                               "dir": ("desc", "asc")})


def _usage_rows(form: forms.Form) -> list[dict]:
    rows = _priced(_ask("web_usage", group_by=form.values["group"], since=form.since,
                        until=form.until, **form.filters))
    if form.values["sort"] != "total" or form.values["dir"] != "desc":
        # The writer's order (most tokens first) is the default; sort a copy otherwise.
        rows = sorted(rows, key=USAGE_SORTS[form.values["sort"]],
                      reverse=form.values["dir"] == "desc")
    return rows


@blueprint.get("/usage")
def usage() -> Any:
    """Usage grouped by a key, filtered, sorted, a page of rows at a time."""
    form = _usage_form()
    if form.errors:
        return _render("usage.html", form, rows=[], total=None, choices=_choices(), pages=1)
    rows = _usage_rows(form)
    pages = max(1, -(-len(rows) // USAGE_PAGE))
    page = min(form.page, pages)
    total = {name: sum(r[name] for r in rows) for name in _SUMMED}
    priced = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    total["cost_usd"] = sum(priced) if priced else None
    total["unpriced_models"] = sorted({m or "" for r in rows for m in r.get("unpriced_models", ())})
    return _render("usage.html", form, rows=rows[(page - 1) * USAGE_PAGE:page * USAGE_PAGE],
                   all_rows=len(rows), page=page, pages=pages, total=total, choices=_choices())


@blueprint.get("/usage.csv")
def usage_csv() -> Any:
    """The usage table's rows, every one of them, as CSV."""
    form = _usage_form()
    if form.errors:
        return usage()  # the page, saying what to fix
    rows = _usage_rows(form)
    group = form.values["group"]
    machine = group == "machine"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([group, *(["hostname"] if machine else []), "input_tokens",
                     "output_tokens", "cache_read_tokens", "cache_write_tokens",
                     "reasoning_tokens", "total_tokens", "entries", "sessions", "cost_usd",
                     "unpriced_models"])
    for row in rows:
        writer.writerow([formats.csv_text(row["key"]),
                         *([formats.csv_text(row.get("hostname"))] if machine else []),
                         row["input_tokens"], row["output_tokens"], row["cache_read_tokens"],
                         row["cache_write_tokens"], row["reasoning_tokens"],
                         formats.total_tokens(row), row["entries"], row["sessions"],
                         formats.csv_cost(row),
                         formats.csv_text(" ".join(m or "(none)"
                                                   for m in row.get("unpriced_models", ())))])
    name = f"thinkt-usage-by-{group}-{form.values['from']}-{form.values['to']}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _choices() -> dict[str, list[str]]:
    """The filters' known values (for the inputs' suggestion lists)."""
    return _ask("web_choices")


# -- sessions ---------------------------------------------------------------------------
@blueprint.get("/sessions")
def sessions() -> Any:
    """Sessions, most recently active first, filtered, a page at a time."""
    form = forms.read(request.args, filters=dashboard.FILTERS)
    if form.errors:
        return _render("sessions.html", form, found=None, choices=_choices())
    found = _ask("web_sessions", since=form.since, until=form.until, limit=SESSIONS_PAGE,
                 offset=(form.page - 1) * SESSIONS_PAGE, **form.filters)
    for session in found["sessions"]:
        session["key"] = session["id"]
    cost.add_costs(found["sessions"], found["parts"], _prices())
    pages = max(1, -(-found["total"] // SESSIONS_PAGE))
    return _render("sessions.html", form, found=found, pages=pages, choices=_choices(),
                   first=(form.page - 1) * SESSIONS_PAGE + 1)


@blueprint.get("/sessions/<path:session_id>", merge_slashes=False)
def transcript(session_id: str) -> Any:
    """One session's entries, a page at a time; ``entry=<uuid>`` opens the page holding it."""
    form = forms.read(request.args, dates=False, texts=("q", "find"))
    entry = (request.args.get("entry") or "").strip() or None
    if form.values["find"]:
        # From search: open the page of the first matching entry, at that entry, with
        # the term marked (the fragment travels in the redirect).
        uuid = _ask("web_first_match", session_id=session_id, q=form.values["find"])
        target = entry_link(session_id, uuid, q=form.values["find"])
        return redirect(target)
    found = _ask("web_transcript", session_id=session_id, limit=TRANSCRIPT_PAGE,
                 offset=(form.page - 1) * TRANSCRIPT_PAGE, entry=entry, clip=TRANSCRIPT_CLIP)
    if found is None:
        raise NotFound(f"There is no session {session_id!r} in this collector.")
    session = found["session"]
    session["key"] = ()
    cost.add_costs([session], found["parts"], _prices())
    responses = [e["response"] for e in found["entries"] if "response" in e]
    for number, response in enumerate(responses):
        response["key"] = number
    # Each response alone, at the base rates every sum is priced at (cost.py): the
    # responses of a session add up to its cost.
    cost.add_costs(responses, responses, _prices())
    page = found["offset"] // TRANSCRIPT_PAGE + 1
    pages = max(1, -(-found["total"] // TRANSCRIPT_PAGE))
    for item in found["entries"]:
        text = item["text"] or ""
        item["fold"] = "text_chars" in item or len(text) > FOLD_CHARS \
            or text.count("\n") >= FOLD_LINES
        # A failed tool's output says why at its end.
        ending = item.get("text_tail", text)
        item["preview"] = _preview(ending if item["is_error"] else text,
                                   tail=item["is_error"]) if item["fold"] else ""
    return _render("transcript.html", form, session=session,
                   entries=found["entries"], page=page, pages=pages, total=found["total"],
                   first=found["offset"] + 1, target=entry, session_id=session_id,
                   mark=form.values["q"])


@blueprint.get("/text/<path:session_id>", merge_slashes=False)
def entry_text(session_id: str) -> Any:
    """One entry's whole text, as plain text (a transcript shows long ones cut)."""
    uuid = (request.args.get("entry") or "").strip()
    text = _ask("web_entry_text", session_id=session_id, uuid=uuid) if uuid else None
    if text is None:
        raise NotFound(f"There is no entry {uuid!r} in session {session_id!r}.")
    return Response(text, mimetype="text/plain")


def _preview(text: str, tail: bool = False) -> str:
    """About 160 characters of a folded text (its start, or its end), for its <summary>."""
    if tail:
        end = " ".join(text[-300:].split())
        return "…" + end[-160:]
    head = " ".join(text[:300].split())
    return head[:160] + "…"


def entry_link(session_id: str, uuid: str | None, q: str | None = None) -> str:
    """The transcript URL that opens at the entry ``uuid`` (its page, then its anchor),
    with ``q`` marked in its texts."""
    if not uuid:
        return url_for("web.transcript", session_id=session_id, q=q or None)
    base = url_for("web.transcript", session_id=session_id, entry=uuid, q=q or None)
    return f"{base}#e-{quote(uuid, safe='')}"


# -- search -----------------------------------------------------------------------------
@blueprint.get("/search")
def search() -> Any:
    """Search entries' texts, tool names and project paths; links go to the entry."""
    form = forms.read(request.args, dates=False, filters=dashboard.FILTERS, texts=("q",))
    _read_optional_dates(form)
    q = form.values["q"]
    if form.errors or not q.strip():
        return _render("search.html", form, results=None, choices=_choices(), q=q)
    found = _ask("web_search", q=q, limit=SEARCH_LIMIT, since=form.since,
                 until=form.until, **form.filters)
    for result in found["results"]:
        # The transcript finds the first matching entry when the link is followed.
        result["link"] = url_for("web.transcript", session_id=result["id"], find=q)
    return _render("search.html", form, results=found["results"], pooled=found["pooled"],
                   pool=dashboard.SEARCH_POOL, choices=_choices(), q=q)


def _read_optional_dates(form: forms.Form) -> None:
    """Search's dates: optional (no range unless one is given), else checked as usual."""
    if not (request.args.get("from") or request.args.get("to")):
        form.values.update({"from": "", "to": ""})
        return
    dated = forms.read(request.args)
    form.errors.update(dated.errors)
    form.first, form.last = dated.first, dated.last
    form.values.update({"from": dated.values["from"], "to": dated.values["to"]})


# -- agents -----------------------------------------------------------------------------
@blueprint.get("/agents")
def agents() -> Any:
    """Every exporter agent: machine, person, version, status, last heartbeat, counts."""
    listed = _ask("web_agents", now=_now())
    return _render("agents.html", agents=listed, now=_now(),
                   active=sum(a["status"] == "active" for a in listed))


@blueprint.app_template_global()
def link_to_entry(session_id: str, uuid: str | None = None) -> str:
    """Template access to :func:`entry_link`."""
    return entry_link(session_id, uuid)
