"""Schema version 1: the entries, sessions, per-response usage and agents tables."""

from __future__ import annotations

from typing import Any

DESCRIPTION = "entries, sessions, usage and agents tables"

_TOKENS = """
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens BIGINT NOT NULL DEFAULT 0"""

STATEMENTS = (
    # One row per (session_id, uuid): the first copy received is kept. seq is the
    # arrival order (ties in timestamp are shown in the order entries arrived).
    """CREATE TABLE collected_entries (
        session_id VARCHAR NOT NULL,
        uuid VARCHAR NOT NULL,
        seq BIGINT NOT NULL,
        source VARCHAR NOT NULL,
        instance_id VARCHAR,
        received_at TIMESTAMP NOT NULL,
        timestamp_estimated BOOLEAN NOT NULL DEFAULT false,
        role VARCHAR NOT NULL,
        "timestamp" TIMESTAMP NOT NULL,
        model VARCHAR,
        text VARCHAR,
        tool_name VARCHAR,
        is_error BOOLEAN NOT NULL DEFAULT false,
        has_thinking BOOLEAN NOT NULL DEFAULT false,
        has_tool_use BOOLEAN NOT NULL DEFAULT false,
        input_tokens BIGINT NOT NULL DEFAULT 0,
        output_tokens BIGINT NOT NULL DEFAULT 0,
        thinking_len BIGINT NOT NULL DEFAULT 0,
        cache_read_tokens BIGINT NOT NULL DEFAULT 0,
        cache_write_tokens BIGINT NOT NULL DEFAULT 0,
        reasoning_tokens BIGINT NOT NULL DEFAULT 0,
        message_id VARCHAR,
        agent_id VARCHAR,
        parent_uuid VARCHAR,
        git_branch VARCHAR,
        cwd VARCHAR,
        PRIMARY KEY (session_id, uuid)
    )""",
    # model_at is the timestamp of the entry that gave `model`, so a late batch of
    # older entries cannot overwrite the latest model. Token totals are sums over
    # the usage rows attributed to the session.
    f"""CREATE TABLE collected_sessions (
        session_id VARCHAR PRIMARY KEY,
        source VARCHAR NOT NULL,
        project_path VARCHAR,
        instance_id VARCHAR,
        machine_id VARCHAR,
        metadata VARCHAR,
        model VARCHAR,
        model_at TIMESTAMP,
        entry_count BIGINT NOT NULL DEFAULT 0,
        first_seen TIMESTAMP,
        last_updated TIMESTAMP,
        first_received_at TIMESTAMP,
        last_received_at TIMESTAMP,{_TOKENS}
    )""",
    # One row per API response: (source, message_id), or the entry itself when it has
    # no message_id. Attribution (session, project, model, time, agent) is the first
    # copy's; each token count is the largest seen. prev_* hold the counts before the
    # latest update, so an upsert can return how much it added (see store.ingest).
    f"""CREATE TABLE collected_usage (
        source VARCHAR NOT NULL,
        response_key VARCHAR NOT NULL,
        message_id VARCHAR,
        session_id VARCHAR NOT NULL,
        project_path VARCHAR,
        model VARCHAR,
        "timestamp" TIMESTAMP NOT NULL,
        instance_id VARCHAR,
        entries BIGINT NOT NULL DEFAULT 0,{_TOKENS},
        prev_input_tokens BIGINT NOT NULL DEFAULT 0,
        prev_output_tokens BIGINT NOT NULL DEFAULT 0,
        prev_cache_read_tokens BIGINT NOT NULL DEFAULT 0,
        prev_cache_write_tokens BIGINT NOT NULL DEFAULT 0,
        prev_reasoning_tokens BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (source, response_key)
    )""",
    """CREATE TABLE collected_agents (
        instance_id VARCHAR PRIMARY KEY,
        platform VARCHAR NOT NULL DEFAULT '',
        hostname VARCHAR,
        version VARCHAR,
        started_at TIMESTAMP,
        machine_id VARCHAR,
        project VARCHAR,
        region VARCHAR,
        metadata VARCHAR,
        registered_at TIMESTAMP,
        last_heartbeat TIMESTAMP NOT NULL,
        trace_count BIGINT NOT NULL DEFAULT 0,
        status VARCHAR NOT NULL DEFAULT 'active'
    )""",
)


def apply(con: Any) -> None:
    """Create the version 1 tables."""
    for statement in STATEMENTS:
        con.execute(statement)
