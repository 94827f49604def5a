"""The page templates are compiled once, before the fork: a worker's app loads them ready."""

from __future__ import annotations

import jinja2

from tests.collector.test_app import RecordingClient
from thinkt.collector import web
from thinkt.collector.app import create_app
from thinkt.collector.settings import CollectorSettings


def test_a_worker_loads_every_template_without_compiling(monkeypatch):
    settings = CollectorSettings(storage="/nonexistent/collector.duckdb")
    assert web.precompile(create_app(settings, None)) >= 8
    worker = create_app(settings, RecordingClient())

    def compile_(*args, **kwargs):
        raise AssertionError("a worker compiled a template")

    monkeypatch.setattr(jinja2.Environment, "compile", compile_)
    for name in worker.jinja_env.list_templates():
        if name.endswith(".html"):
            worker.jinja_env.get_template(name)
    # ... and a page renders from them.
    assert worker.test_client().get("/agents").status_code == 200
