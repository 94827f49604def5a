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

from flask import Blueprint, Flask

from thinkt.collector.settings import CollectorSettings

log = logging.getLogger(__name__)

blueprint = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/assets")

#: How long a sign-in lasts; the browser is asked to sign in again after it.
SESSION_LIFETIME = timedelta(hours=12)


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
    app.register_blueprint(blueprint)
