"""Metric points become deltas of our series, whatever temporality the client used."""

import datetime

import pytest

from thinkt.collector.otlp import (Cumulative, Interval, MetricPoint, advance, decode_logs,
                                   decode_metrics, map_event, series_key, to_series)

from .conftest import CLAUDE, CODEX, GEMINI, MetricsClient, export_logs

T = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def at(seconds):
    return T + datetime.timedelta(seconds=seconds)


def point(value, time, start=0, kind="sum", temporality="cumulative", monotonic=True,
          count=None, name="claude_code.commit.count", attrs=None, resource=None):
    return MetricPoint(name=name, unit="", kind=kind, temporality=temporality,
                       monotonic=monotonic, start_time=at(start), time=at(time), value=value,
                       count=count, attrs=attrs or {}, resource_attrs=resource or CLAUDE,
                       scope_name="com.anthropic.claude_code")


def run(points):
    """Feed points through advance() as a store would; return the values added."""
    state, added = None, []
    for p in points:
        interval, state = advance(state, p)
        added.append(None if interval is None else interval.value)
    return added


# --- advance(): the pure cumulative-to-delta step --------------------------------------


def test_delta_points_and_gauges_add_what_they_say_and_store_nothing():
    delta = point(3, time=10, start=5, temporality="delta")
    assert advance(None, delta) == (Interval(at(5), at(10), 3, None), None)
    gauge = point(7.5, time=10, kind="gauge", temporality=None, monotonic=False)
    assert advance(None, gauge) == (Interval(at(0), at(10), 7.5, None), None)


def test_a_cumulative_series_adds_its_increases():
    # The first point counts from the series' start; then each adds its increase.
    assert run([point(5, 10), point(8, 20), point(8, 30), point(12, 40)]) == [5, 3, 0, 4]


def test_the_interval_of_an_increase_runs_from_the_previous_point():
    state = Cumulative(at(0), at(10), 5, None)
    interval, new_state = advance(state, point(8, 20))
    assert interval == Interval(at(10), at(20), 3, None)
    assert new_state == Cumulative(at(0), at(20), 8, None)


def test_a_resent_or_older_point_adds_nothing():
    state = Cumulative(at(0), at(20), 8, None)
    assert advance(state, point(8, 20)) == (None, state)
    assert advance(state, point(6, 15)) == (None, state)


def test_a_new_start_time_is_a_reset():
    # The client restarted: its total starts again from 0 at the new start time.
    assert run([point(5, 10), point(9, 20), point(2, 30, start=25), point(6, 40, start=25)]) \
        == [5, 4, 2, 4]


def test_a_counter_that_goes_down_was_reset():
    assert run([point(5, 10), point(9, 20), point(4, 30)]) == [5, 4, 4]


def test_a_late_point_of_the_series_before_its_restart_adds_nothing():
    state = Cumulative(at(25), at(30), 2, None)
    assert advance(state, point(12, 26, start=0)) == (None, state)


def test_an_up_down_counter_may_go_down():
    points = [point(5, 10, monotonic=False), point(2, 20, monotonic=False)]
    assert run(points) == [5, -3]


def test_histograms_reset_on_their_count_not_their_sum():
    h = dict(kind="histogram", name="codex.turn.token_usage")
    # A sum that goes down while the count grows (negative observations): no reset.
    assert run([point(10, 10, count=2, **h), point(7, 20, count=3, **h)]) == [10, -3]
    state, intervals = None, []
    for p in (point(10, 10, count=2, **h), point(4, 20, count=1, **h)):
        interval, state = advance(state, p)
        intervals.append((interval.value, interval.count))
    assert intervals == [(10, 2), (4, 1)]


def test_a_point_without_temporality_adds_nothing():
    state = Cumulative(at(0), at(10), 5, None)
    assert advance(state, point(9, 20, temporality=None)) == (None, state)


def test_series_keys_ignore_attribute_order_and_tell_series_apart():
    a = point(1, 10, attrs={"type": "input", "model": "m"})
    b = point(1, 10, attrs={"model": "m", "type": "input"})
    assert series_key(a) == series_key(b)
    assert series_key(a) != series_key(point(1, 10, attrs={"type": "output", "model": "m"}))
    other_process = dict(CLAUDE, **{"service.instance.id": "2"})
    assert series_key(a) != series_key(point(1, 10, attrs=a.attrs, resource=other_process))


# --- with the SDK as the client --------------------------------------------------------


def test_sdk_cumulative_counter_across_exports_and_a_restart(otlp_server):
    # GIVEN a counter exported cumulatively twice, then by a restarted client
    client = MetricsClient(otlp_server, CLAUDE)
    commits = client.meter.create_counter("claude_code.commit.count")
    commits.add(5, {"session.id": "s"})
    first = client.flush()
    commits.add(3, {"session.id": "s"})
    second = client.flush()
    third = client.flush()  # nothing new: the same total again
    client.close()
    restarted = MetricsClient(otlp_server, CLAUDE)
    restarted.meter.create_counter("claude_code.commit.count").add(2, {"session.id": "s"})
    fourth = restarted.flush()
    restarted.close()

    # WHEN each export's point goes through advance() with the stored state of its series
    store, added = {}, []
    for posted in (first, second, third, fourth):
        [p] = decode_metrics(posted.body, posted.content_type)
        interval, store[series_key(p)] = advance(store.get(series_key(p)), p)
        added.append([s.value for s in to_series(p, interval)])

    # THEN the series gets the increments, and the restart (a new start time) counts anew
    assert added == [[5], [3], [0], [2]]


def test_sdk_delta_token_counters_feed_our_token_series(otlp_server):
    client = MetricsClient(otlp_server, CLAUDE, temporality="delta")
    tokens = client.meter.create_counter("claude_code.token.usage", unit="tokens")
    for kind, value in (("input", 12), ("output", 345), ("cacheRead", 20000),
                        ("cacheCreation", 1500)):
        tokens.add(value, {"type": kind, "model": "claude-sonnet-4-5", "session.id": "s",
                           "user.email": "ann@example.com"})
    client.meter.create_counter("claude_code.cost.usage", unit="USD").add(
        0.0123, {"model": "claude-sonnet-4-5", "session.id": "s"})
    posted = client.flush()
    client.close()

    series = {}
    for p in decode_metrics(posted.body, posted.content_type):
        for s in to_series(p, advance(None, p)[0]):
            series[s.series] = s
    assert {name: s.value for name, s in series.items()} == {
        "tokens.input": 12, "tokens.output": 345, "tokens.cache_read": 20000,
        "tokens.cache_write": 1500, "cost_usd": 0.0123}
    token = series["tokens.input"]
    assert (token.source, token.session_id, token.user, token.model, token.unit) == (
        "claude", "s", "ann@example.com", "claude-sonnet-4-5", "tokens")


def sum_series(points):
    totals = {}
    for p in points:
        for s in to_series(p, advance(None, p)[0]):
            if s.series:
                totals[s.series] = totals.get(s.series, 0) + s.value
    return totals


def test_gemini_token_metrics_add_up_like_its_api_response_events(otlp_server):
    # One response's counts, as gemini_cli.token.usage points and as the api_response event.
    counts = {"input": 1000, "output": 200, "cache": 400, "thought": 50, "tool": 20}
    client = MetricsClient(otlp_server, GEMINI, temporality="delta", scope="gemini-cli")
    counter = client.meter.create_counter("gemini_cli.token.usage")
    for kind, value in counts.items():
        counter.add(value, {"type": kind, "model": "gemini-2.5-pro", "session.id": "g"})
    posted = client.flush()
    client.close()
    totals = sum_series(decode_metrics(posted.body, posted.content_type))

    logs = export_logs(otlp_server, GEMINI, [{"attributes": {
        "event.name": "gemini_cli.api_response", "session.id": "g",
        "input_token_count": 1000, "output_token_count": 200,
        "cached_content_token_count": 400, "thoughts_token_count": 50,
        "tool_token_count": 20}}])
    usage = map_event(decode_logs(logs.body, logs.content_type)[0])
    assert totals == {"tokens.input": usage.input_tokens, "tokens.output": usage.output_tokens,
                      "tokens.cache_read": usage.cache_read_tokens,
                      "tokens.reasoning": usage.reasoning_tokens}


def test_codex_token_histograms_add_up_like_its_completed_events(otlp_server):
    client = MetricsClient(otlp_server, CODEX, temporality="delta", scope="codex_otel")
    histogram = client.meter.create_histogram("codex.turn.token_usage")
    for kind, value in (("total", 10700), ("input", 10000), ("cached_input", 6000),
                        ("cache_write_input", 500), ("output", 700),
                        ("reasoning_output", 250)):
        histogram.record(value, {"token_type": kind, "model": "gpt-5.5"})
    posted = client.flush()
    client.close()
    points = decode_metrics(posted.body, posted.content_type)
    assert {p.count for p in points} == {1}
    assert sum_series(points) == {"tokens.input": 3500, "tokens.cache_read": 6000,
                                  "tokens.cache_write": 500, "tokens.output": 700,
                                  "tokens.reasoning": 250}


def test_other_metrics_of_a_tool_are_kept_under_their_name(otlp_server):
    client = MetricsClient(otlp_server, CODEX, temporality="delta")
    client.meter.create_histogram("codex.turn.e2e_duration_ms", unit="ms").record(1200)
    client.meter.create_counter("codex.tool.call").add(1, {"tool": "shell"})
    posted = client.flush()
    client.close()
    kept = {s.name: s for p in decode_metrics(posted.body, posted.content_type)
            for s in to_series(p, advance(None, p)[0])}
    assert kept["codex.turn.e2e_duration_ms"].series is None
    assert (kept["codex.turn.e2e_duration_ms"].value,
            kept["codex.turn.e2e_duration_ms"].count) == (1200, 1)
    assert kept["codex.tool.call"].series == "tool_calls"


def test_metrics_of_other_senders_and_empty_intervals_feed_nothing():
    stranger = point(1, 10, name="http.server.requests", resource={"service.name": "web"})
    assert to_series(stranger, advance(None, stranger)[0]) == []
    assert to_series(point(1, 10), None) == []
    nan = point(float("nan"), 10, temporality="delta")
    assert to_series(nan, advance(None, nan)[0]) == []


@pytest.mark.parametrize("split, expected", [("added", ["lines.added"]),
                                             ("renamed", [None])])
def test_a_split_value_the_table_does_not_name_is_kept_unnamed(split, expected):
    p = point(4, 10, temporality="delta", name="claude_code.lines_of_code.count",
              attrs={"type": split})
    assert [s.series for s in to_series(p, advance(None, p)[0])] == expected
