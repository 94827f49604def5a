"""The Flask application factory: auth, the JSON error envelope, and the API blueprint.

There is no module-level app: ``thinkt collect`` builds one per gunicorn worker, after
the fork, with the writer client of that worker (STYLE.md rule 1).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from thinkt.collector import auth, metrics
from thinkt.collector.body import too_large
from thinkt.collector.channel import Unavailable, WriterClient
from thinkt.collector.pricing import PriceTable
from thinkt.collector.settings import CollectorSettings

log = logging.getLogger(__name__)

#: Endpoints that answer without a token: health (load balancers and systemd probes use
#: it), this API's description, and the well-known document exporters discover us by.
OPEN_ENDPOINTS = frozenset({"api.health", "api.openapi", "api.well_known"})

_ERROR_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 411: "length_required", 413: "payload_too_large",
    415: "unsupported_media_type", 429: "too_many_requests", 500: "internal_error",
    503: "unavailable",
}


def error_response(status: int, error: str, message: str, **extra: Any):
    """Return the contract's JSON error envelope with ``status``."""
    body = {"error": error, "message": message}
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    return response


def _envelope(status: int, message: str, **extra: Any):
    """Return the envelope of ``status`` with its usual error code."""
    return error_response(status, _ERROR_CODES.get(status, "error"), message, **extra)


def create_app(settings: CollectorSettings, client: WriterClient) -> Flask:
    """Build the collector's WSGI app around one worker's writer client."""
    app = Flask("thinkt.collector")
    # "//" in a path is data (session ids may hold it), never a reason to redirect.
    app.url_map.merge_slashes = False
    # One byte more than the limit: werkzeug refuses a longer Content-Length at once, and
    # stops a chunked body one byte past the limit, where read_body can tell "too large"
    # from "ends exactly at the limit".
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body + 1
    app.json.sort_keys = False
    app.extensions["thinkt.settings"] = settings
    app.extensions["thinkt.client"] = client
    # One price table per worker, its cache shared by the API and the pages.
    app.extensions["thinkt.prices"] = PriceTable(settings.prices)
    keyring = auth.Keyring(settings.tokens, settings.web_secret)
    app.extensions["thinkt.keyring"] = keyring
    if settings.web_secret:
        app.secret_key = settings.web_secret

    if settings.cors_origins:
        from flask_cors import CORS

        # Only the configured origins, and no cookies: the API authenticates with a
        # bearer token, which a browser sends only when the page's script adds it.
        CORS(app, origins=list(settings.cors_origins), supports_credentials=False,
             allow_headers=["Authorization", "Content-Type", "Content-Encoding"],
             expose_headers=["X-Total-Count", "Link", "Retry-After"],
             methods=["GET", "POST", "OPTIONS"], max_age=600)

    from thinkt.collector import admin_api, api, otlp_api, web

    @app.before_request
    def authenticate():
        if not keyring or request.endpoint in OPEN_ENDPOINTS:
            return None
        if request.blueprint == "web":
            return None  # the pages sign in with a cookie (web.py checks it)
        if settings.cors_origins and request.method == "OPTIONS":
            return None  # a CORS preflight carries no credentials by design
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        found = keyring.find(presented.strip())
        # OTLP clients read errors as a google.rpc.Status in their own encoding.
        refuse = otlp_api.error if request.blueprint == "otlp" else _envelope
        if scheme.lower() != "bearer" or found is None:
            response = refuse(401, "A valid bearer token is required (Authorization: "
                              "Bearer ...).")
            response.headers["WWW-Authenticate"] = 'Bearer realm="thinkt-collector"'
            return response
        # No route (404, 405): any valid token may learn that; the error handler answers.
        role = auth.required_role(request.endpoint, request.method) if request.endpoint \
            else None
        if not found.allows(role):
            return refuse(403, f"This token may not do this: it needs the {role} role "
                          f"(token file: TOKEN {role} ...).", required_role=role)
        g.grant = found
        return None

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        error = getattr(exc, "error_code", None) or _ERROR_CODES.get(status, "error")
        if type(exc).__name__ == "InvalidJSON":
            error = "invalid_json"
        if isinstance(exc, RequestEntityTooLarge) \
                and exc.description == RequestEntityTooLarge.description:
            exc = too_large(settings.max_body)  # werkzeug's, from the Content-Length
        response = error_response(status, error, exc.description or exc.name)
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Unavailable)
    def unavailable(exc: Unavailable):
        response = error_response(503, "unavailable", exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal_error", "The collector failed on this request.")

    @app.after_request
    def no_store(response):
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    if metrics.available():
        @app.after_request
        def count(response):
            metrics.count_request(request.endpoint, response.status_code)
            return response

    @app.get("/metrics")
    def metrics_text():
        """Prometheus metrics of every worker and the writer (needs the metrics extra)."""
        if not metrics.available():
            return error_response(404, "not_found", "Metrics are not enabled on this "
                                  "collector: install the metrics extra (pip install "
                                  "'thinkt[metrics]') and restart it.")
        try:
            stats = client.query("stats", 10.0, db_path=settings.storage,
                                 now=datetime.now(timezone.utc).replace(tzinfo=None))
        except Unavailable:
            stats = None  # still serve the counters; thinkt_writer_up says why gauges are gone
        return metrics.render(stats), 200, {"Content-Type": metrics.CONTENT_TYPE}

    app.register_blueprint(api.blueprint)
    app.register_blueprint(otlp_api.blueprint)
    app.register_blueprint(admin_api.blueprint)
    web.init_app(app, settings)  # the pages at /, with their cookie settings
    return app
