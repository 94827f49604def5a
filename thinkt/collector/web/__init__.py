"""The team's web pages, served by the collector itself at ``/``: the ``web`` blueprint.

Modules: ``signin`` (who may see the pages: the signed session cookie, sign-in and
sign-out, cross-site checks), ``pages`` (the routes and what each asks the writer),
``forms`` (query strings checked with readable errors), ``charts`` (SVG drawn on the
server), ``formats`` (numbers, money and times as a page writes them); ``templates/``
and ``static/`` (one stylesheet, no script, no font, no image) ship inside the package,
because collectors run air-gapped: nothing is fetched from anywhere else.

Budget: a first load under 300 KB (tests/web/test_browser.py measures every page), and
each page one or two writer queries on the rollup tables (dashboard.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import jinja2
from flask import Blueprint, Flask

from thinkt.collector.settings import CollectorSettings

log = logging.getLogger(__name__)

blueprint = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/assets")

#: How long a sign-in lasts; the browser is asked to sign in again after it.
SESSION_LIFETIME = timedelta(hours=12)


class _Compiled(jinja2.BytecodeCache):
    """Compiled templates kept in memory: filled in the arbiter (:func:`precompile`),
    inherited by every worker it forks, so no worker compiles a template on a request
    (~120 ms for all of them, measured; more on a busy machine)."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _Compiled()


def precompile(app: Flask) -> int:
    """Compile every page template of ``app`` (an app made as each worker makes its own)
    into the shared cache; return how many. Called before the fork."""
    environment = app.jinja_env
    names = [name for name in environment.list_templates() if name.endswith(".html")]
    for name in names:
        environment.get_template(name)
    return len(names)


def init_app(app: Flask, settings: CollectorSettings) -> None:
    """Register the pages on ``app`` with their session-cookie settings."""
    import importlib

    from thinkt.collector.web import formats

    for module in ("signin", "pages"):  # importing them attaches their routes
        importlib.import_module(f"{__name__}.{module}")

    app.config.update(
        SESSION_COOKIE_NAME="thinkt_session",
        SESSION_COOKIE_HTTPONLY=True,
        # Lax: a link from elsewhere opens a page signed in, but no other site's form
        # or script request carries the cookie; POSTs are checked again (signin.py).
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.scheme == "https",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        # The cookie keeps its sign-in time; refreshing it on every page would only
        # add a Set-Cookie to each answer.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    app.jinja_env.filters.update(formats.FILTERS)
    app.jinja_env.autoescape = True
    app.jinja_env.bytecode_cache = _COMPILED
    app.register_blueprint(blueprint)
