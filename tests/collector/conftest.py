"""Store fixtures: a migrated DuckDB file under tmp_path, and builders for entries and requests."""

from __future__ import annotations

from datetime import datetime

import pytest

duckdb = pytest.importorskip("duckdb")

from thinkt.collector import database  # noqa: E402
from thinkt.collector.channel import IngestRequest  # noqa: E402
from thinkt.collector.schemas import ENTRY_FIELDS  # noqa: E402

T0 = datetime(2026, 1, 1, 12, 0, 0)


def build_entry(uuid: str, **fields) -> tuple:
    """Return an entry tuple in ENTRY_FIELDS order: an assistant text at T0 unless overridden."""
    values = {"uuid": uuid, "role": "assistant", "timestamp": T0, "model": None, "text": None,
              "tool_name": None, "is_error": False, "has_thinking": False, "has_tool_use": False,
              "input_tokens": 0, "output_tokens": 0, "thinking_len": 0, "cache_read_tokens": 0,
              "cache_write_tokens": 0, "reasoning_tokens": 0, "message_id": None,
              "agent_id": None, "parent_uuid": None, "git_branch": None, "cwd": None,
              "text_truncated": False, "text_bytes": 0}
    unknown = set(fields) - set(values)
    assert not unknown, f"not entry fields: {unknown}"
    values.update(fields)
    return tuple(values[name] for name in ENTRY_FIELDS)


def build_request(session_id: str, entries: list[tuple], **fields) -> IngestRequest:
    """Return an IngestRequest from source 'claude' received at T0 unless overridden."""
    values = {"source": "claude", "session_id": session_id, "project_path": None,
              "instance_id": None, "machine_id": None, "metadata": None, "received_at": T0,
              "entries": entries}
    values.update(fields)
    return IngestRequest(**values)


@pytest.fixture
def db_path(tmp_path):
    """Where the test's database lives (its directory does not exist yet)."""
    return str(tmp_path / "state" / "collector.duckdb")


@pytest.fixture
def con(db_path):
    """A freshly opened and migrated store, closed after the test."""
    connection = database.open_database(db_path)
    yield connection
    connection.close()


@pytest.fixture
def cur(con):
    """A query cursor on the store, as the writer's query threads use."""
    cursor = con.cursor()
    yield cursor
    cursor.close()
