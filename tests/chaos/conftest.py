"""Chaos fixtures: a campaign in tmp_path (seed from ``CHAOS_SEED``), always torn down."""

from __future__ import annotations

import os
import time

import pytest

from tests.chaos.campaign import Campaign


@pytest.fixture
def campaign(tmp_path):
    """A campaign that runs every kind of fault first; its processes stopped at the end.

    Skips where the collector's packages are absent (an exporter-only install).
    """
    for package in ("duckdb", "flask", "gunicorn", "marshmallow"):
        pytest.importorskip(package)
    seed = int(os.environ.get("CHAOS_SEED", time.time()))
    running = Campaign(tmp_path / "chaos", seed, every_kind_first=True, out=lambda line: None)
    yield running
    running.stop_all()
