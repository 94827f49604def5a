"""Each tool's events, exported by the real SDK as the tool shapes them, map to our records."""

import datetime

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from thinkt.collector.otlp import (ApiError, ApiRequest, Prompt, ToolResult, decode_logs,
                                   map_event, map_events)
from thinkt.collector.otlp import claude, codex, gemini
from thinkt.collector.otlp.decode import LogEvent
from thinkt.collector.otlp.rules import EventRule

from .conftest import CLAUDE, CODEX, GEMINI, export_logs, to_otlp_json

T0_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def claude_event(name, seq, **attributes):
    """A Claude Code event as it sends one: full name as body, short one as event.name,
    numbers as strings."""
    return {"timestamp": T0_NS + seq, "body": f"claude_code.{name}", "attributes": {
        "event.name": name, "event.timestamp": "2026-01-01T00:00:00.000Z",
        "event.sequence": seq, "session.id": "cc-session", "user.email": "ann@example.com",
        "user.account_uuid": "acc-1", "organization.id": "org-1", "prompt.id": "prompt-1",
        **attributes}}


def codex_event(name, millis, **attributes):
    """A Codex event as its tracing bridge sends one: attributes only, no body."""
    return {"timestamp": T0_NS + millis * 1_000_000, "attributes": {
        "event.name": name, "event.timestamp": f"2026-01-01T00:00:00.{millis:03d}Z",
        "conversation.id": "019c8a4c-ed82-79a1-aa28-7738fc5ab61a", "app.version": "0.137.0",
        "model": "gpt-5.5", "slug": "gpt-5.5", "originator": "codex_cli_rs",
        "user.email": "bob@example.com", "user.account_id": "acct-b", **attributes}}


def gemini_event(name, millis, body="", **attributes):
    """A Gemini CLI event: full name in event.name, a sentence as body."""
    return {"timestamp": T0_NS + millis * 1_000_000, "body": body, "attributes": {
        "event.name": name, "event.timestamp": f"2026-01-01T00:00:00.{millis:03d}Z",
        "session.id": "gem-session", "installation.id": "inst-1", "interactive": True,
        "user.email": "cy@example.com", "prompt_id": "gem-session########1", **attributes}}


def exported(otlp_server, resource, records):
    """Records through the SDK's exporter, decoded from protobuf and from OTLP/JSON."""
    posted = export_logs(otlp_server, resource, records)
    events = decode_logs(posted.body, posted.content_type)
    assert decode_logs(to_otlp_json(posted.body, ExportLogsServiceRequest),
                       "application/json") == events
    return events


# --- Claude Code -----------------------------------------------------------------------


def test_claude_events_map_to_records(otlp_server):
    events = exported(otlp_server, CLAUDE, [
        claude_event("user_prompt", 1, prompt_length="17", prompt="<REDACTED>",
                     **{"message.uuid": "u-uuid-1"}),
        claude_event("api_request", 2, model="claude-sonnet-4-5", cost_usd="0.0123",
                     duration_ms="2150", input_tokens="12", output_tokens="345",
                     cache_read_tokens="20000", cache_creation_tokens="1500",
                     request_id="req_011CY15QS2LGwAeBxdfa6e1V", speed="normal"),
        claude_event("tool_result", 3, tool_name="Bash", tool_use_id="toolu_01",
                     success="false", duration_ms="40", error_type="ShellError",
                     tool_parameters='{"bash_command": "ls"}'),
        claude_event("api_error", 4, model="claude-sonnet-4-5", error="Overloaded",
                     status_code="529", duration_ms="1200", attempt="11"),
        claude_event("tool_decision", 5, tool_name="Edit", decision="accept"),
    ])
    mapped = map_events(events)
    prompt, usage, tool, error = mapped.records

    assert prompt == Prompt(source="claude", session_id="cc-session", time=prompt.time,
                            text=None, length=17, prompt_id="prompt-1",
                            user="ann@example.com", key="u-uuid-1", transcript_id="u-uuid-1")
    assert prompt.time == T0 + datetime.timedelta(microseconds=0)
    # Claude's counts are already ours: input excludes the cache.
    assert usage == ApiRequest(
        source="claude", session_id="cc-session", time=usage.time, model="claude-sonnet-4-5",
        input_tokens=12, output_tokens=345, cache_read_tokens=20000, cache_write_tokens=1500,
        reasoning_tokens=0, cost_usd=0.0123, duration_ms=2150.0, user="ann@example.com",
        request_key="req_011CY15QS2LGwAeBxdfa6e1V",
        transcript_id="req_011CY15QS2LGwAeBxdfa6e1V")
    assert tool.success is False and tool.error == "ShellError" and tool.key == "toolu_01"
    assert tool.arguments == '{"bash_command": "ls"}' and tool.tool_name == "Bash"
    assert isinstance(error, ApiError) and (error.status_code, error.attempt) == (529, 11)
    # Without a request_id the key is the session and the event's place in it.
    assert error.request_key == "claude_code.api_error/cc-session/4"
    assert mapped.ignored == {"claude_code.tool_decision": 1}


def test_a_claude_event_named_only_by_its_short_name_and_service():
    event = LogEvent(time=None, observed_time=None, time_unix_nano=0,
                     resource_attrs={"service.name": "claude-code"}, scope_name="",
                     event_name="", body_text=None, attrs={
                         "event.name": "api_request", "session.id": "s", "input_tokens": 3,
                         "user.account_uuid": "acc-9"},
                     severity_text="", trace_id=None, span_id=None)
    usage = map_event(event)
    assert isinstance(usage, ApiRequest) and usage.input_tokens == 3
    assert usage.user == "acc-9"  # no e-mail without an OAuth sign-in


def test_a_prompt_logged_in_full_keeps_its_text(otlp_server):
    [event] = exported(otlp_server, CLAUDE, [
        claude_event("user_prompt", 1, prompt_length=12, prompt="fix the bug!")])
    prompt = map_event(event)
    assert (prompt.text, prompt.length, prompt.key) == ("fix the bug!", 12, "prompt-1")


# --- Codex -----------------------------------------------------------------------------


def test_codex_events_map_to_records(otlp_server):
    events = exported(otlp_server, CODEX, [
        codex_event("codex.user_prompt", 1, prompt_length="11", prompt="[REDACTED]"),
        codex_event("codex.sse_event", 2, **{"event.kind": "response.output_text.delta"},
                    duration_ms="3"),
        codex_event("codex.sse_event", 3, **{"event.kind": "response.completed"},
                    input_token_count="10000", output_token_count="700",
                    cached_token_count=6000, cache_write_token_count=500,
                    reasoning_token_count=250, tool_token_count="10700"),
        codex_event("codex.tool_result", 4, tool_name="exec_command", call_id="call_7",
                    arguments='{"cmd": "ls"}', duration_ms="15", success="true",
                    output="README.md\n", mcp_server=""),
        codex_event("codex.api_request", 5, duration_ms="90", attempt=1,
                    **{"http.response.status_code": 200}),
        codex_event("codex.api_request", 6, duration_ms="90", attempt=2,
                    **{"http.response.status_code": 500, "error.message": "server error"}),
        codex_event("codex.sse_event", 7, **{"event.kind": "response.failed"},
                    duration_ms="4", **{"error.message": "rate limited"}),
        codex_event("codex.conversation_starts", 8, provider_name="openai"),
    ])
    mapped = map_events(events)
    prompt, usage, tool, http_error, stream_error = mapped.records

    assert isinstance(prompt, Prompt) and prompt.text is None and prompt.length == 11
    assert prompt.session_id == "019c8a4c-ed82-79a1-aa28-7738fc5ab61a"
    # Codex's input includes cached input and cache writes; its output includes reasoning.
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens,
            usage.output_tokens, usage.reasoning_tokens) == (3500, 6000, 500, 700, 250)
    assert usage.model == "gpt-5.5" and usage.user == "bob@example.com"
    assert usage.cost_usd is None and usage.transcript_id is None
    assert usage.request_key == ("codex.sse_event/019c8a4c-ed82-79a1-aa28-7738fc5ab61a/"
                                 "2026-01-01T00:00:00.003Z")
    assert isinstance(tool, ToolResult) and tool.success is True
    assert (tool.output, tool.key, tool.duration_ms) == ("README.md\n", "call_7", 15.0)
    assert isinstance(http_error, ApiError)
    assert (http_error.status_code, http_error.error, http_error.attempt) == (
        500, "server error", 2)
    assert isinstance(stream_error, ApiError) and stream_error.error == "rate limited"
    assert mapped.ignored == {"codex.sse_event": 1, "codex.api_request": 1,
                              "codex.conversation_starts": 1}


def test_codex_websocket_transport_usage_counts_too(otlp_server):
    [event] = exported(otlp_server, CODEX, [
        codex_event("codex.websocket_event", 1, **{"event.kind": "response.completed"},
                    input_token_count="100", output_token_count="10",
                    cached_token_count=40)])
    usage = map_event(event)
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (60, 40, 10)


# --- Gemini CLI ------------------------------------------------------------------------


def test_gemini_events_map_to_records(otlp_server):
    events = exported(otlp_server, GEMINI, [
        gemini_event("gemini_cli.user_prompt", 1, "User prompt. Length: 9.",
                     prompt_length=9, prompt="add tests"),
        gemini_event("gemini_cli.api_request", 2, model="gemini-2.5-pro"),
        gemini_event("gemini_cli.api_response", 3, "API response from gemini-2.5-pro.",
                     model="gemini-2.5-pro", status_code=200, duration_ms=3100,
                     input_token_count=1000, output_token_count=200,
                     cached_content_token_count=400, thoughts_token_count=50,
                     tool_token_count=20, total_token_count=1270,
                     finish_reasons=["STOP"]),
        gemini_event("gen_ai.client.inference.operation.details", 3,
                     **{"gen_ai.response.id": "resp-1"}),
        gemini_event("gemini_cli.tool_call", 4, function_name="read_file",
                     function_args='{"path": "a.py"}', duration_ms=5, success=False,
                     error="no such file", decision="auto_accept", tool_type="native"),
        gemini_event("gemini_cli.api_error", 5, model="gemini-2.5-pro",
                     model_name="gemini-2.5-pro", duration=800, duration_ms=800,
                     status_code=429, **{"error.message": "quota"}),
    ])
    mapped = map_events(events)
    prompt, usage, tool, error = mapped.records

    assert (prompt.text, prompt.length, prompt.prompt_id) == (
        "add tests", 9, "gem-session########1")
    # input = prompt - cached + tool; output = candidates + thoughts.
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens,
            usage.output_tokens, usage.reasoning_tokens) == (620, 400, 0, 250, 50)
    assert usage.user == "cy@example.com" and usage.duration_ms == 3100
    assert usage.request_key == ("gemini_cli.api_response/gem-session/gem-session########1/"
                                 "2026-01-01T00:00:00.003Z")
    assert (tool.tool_name, tool.success, tool.error) == ("read_file", False, "no such file")
    assert (error.status_code, error.error, error.duration_ms) == (429, "quota", 800)
    assert mapped.ignored == {"gemini_cli.api_request": 1,
                              "gen_ai.client.inference.operation.details": 1}


# --- all tools -------------------------------------------------------------------------


@pytest.mark.parametrize("tool, counts, ours", [
    (claude, dict(input=5, output=7, cache_read=100, cache_write=9, reasoning=0, tool=0),
     (5, 7, 100, 9, 0)),
    # Broken client data never makes a count negative.
    (codex, dict(input=10, output=3, cache_read=50, cache_write=5, reasoning=9, tool=0),
     (0, 3, 10, 0, 3)),
    (gemini, dict(input=10, output=3, cache_read=50, cache_write=0, reasoning=4, tool=2),
     (2, 7, 10, 0, 4)),
])
def test_token_conversions(tool, counts, ours):
    tokens = tool.tokens(counts)
    assert (tokens.input, tokens.output, tokens.cache_read, tokens.cache_write,
            tokens.reasoning) == ours


def test_unknown_and_unnamed_events_are_ignored_and_counted(otlp_server):
    events = exported(otlp_server, {"service.name": "my-app"}, [
        {"timestamp": T0_NS, "body": "hello", "attributes": {"event.name": "app.click"}},
        {"timestamp": T0_NS, "body": "a plain log line"},
        {"timestamp": T0_NS, "body": "claude_code.api_request",
         "attributes": {"session.id": "s", "input_tokens": 1}},
    ])
    mapped = map_events(events)
    # The last one names itself by its body, as Claude Code does.
    assert [type(r) for r in mapped.records] == [ApiRequest]
    assert mapped.ignored == {"app.click": 1, "?": 1}


def test_keys_survive_a_resend_of_the_same_export(otlp_server):
    records = [claude_event("api_request", 2, input_tokens="1"),  # no request_id
               codex_event("codex.tool_result", 4, tool_name="shell", success="false",
                           output="boom")]                          # no call_id
    first = map_events(exported(otlp_server, CLAUDE, records)).records
    again = map_events(exported(otlp_server, CLAUDE, records)).records
    assert [r.request_key if isinstance(r, ApiRequest) else r.key for r in first] == \
        [r.request_key if isinstance(r, ApiRequest) else r.key for r in again]
    assert first[0].request_key == "claude_code.api_request/cc-session/2"
    assert first[1].key.startswith("codex.tool_result/019c8a4c")


def test_every_table_names_only_fields_its_records_have():
    # A rule is checked when built, so a table with a typo does not import.
    with pytest.raises(ValueError, match="prompt has no fields"):
        EventRule("prompt", fields={"txt": "prompt"})
    with pytest.raises(ValueError, match="unknown record kind"):
        EventRule("usage", fields={})
    for tool in (claude, codex, gemini):
        table = tool.TELEMETRY
        assert all(name.startswith(table.prefix) for name in table.events)
        assert all(name.startswith(table.prefix) for name in table.metrics)
