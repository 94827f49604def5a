"""The price table: per-source token mapping, dated and tiered prices, overrides, offline."""

from __future__ import annotations

import datetime
import socket
import threading

import pytest

pytest.importorskip("genai_prices")

import genai_prices  # noqa: E402
from genai_prices import data_snapshot, update_prices  # noqa: E402

from thinkt.collector import pricing  # noqa: E402
from thinkt.collector.pricing import Price, PriceTable, Tokens, parse_overrides  # noqa: E402
from thinkt.status import ConfigError, ExitStatus  # noqa: E402

DAY = datetime.date(2026, 3, 1)


@pytest.fixture
def table():
    return PriceTable()


@pytest.fixture
def offline(monkeypatch):
    """Fail the test if anything tries to open a connection or start a price update."""
    def refuse(*args, **kwargs):
        raise AssertionError("the price table tried to reach the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(update_prices.UpdatePrices, "start", refuse)
    # The client genai-prices updates with: httpx2 since 0.0.7x, httpx before.
    http = getattr(update_prices, "httpx2", None) or getattr(update_prices, "httpx", None)
    if http is not None:
        monkeypatch.setattr(http.Client, "send", refuse)
        monkeypatch.setattr(http.AsyncClient, "send", refuse)
    # Load the package's data again inside the guard, not from an earlier test's cache.
    pricing._catalog.cache_clear()
    yield
    pricing._catalog.cache_clear()


# --- one known model per source, dollars worked out by hand --------------------------------

def test_claude_usage_is_as_written(table):
    # usage: input_tokens 3 (no cache), cache_creation_input_tokens 2,000,
    # cache_read_input_tokens 50,000, output_tokens 800. Sonnet 4.5: 3 / 15 / 0.3 / 3.75.
    tokens = Tokens(input=3, cache_write=2_000, cache_read=50_000, output=800)
    cost = table.cost("claude-sonnet-4-5-20250929", "claude", DAY, tokens)
    assert cost == pytest.approx((3 * 3 + 2_000 * 3.75 + 50_000 * 0.3 + 800 * 15) / 1e6)
    assert cost == pytest.approx(0.034509)


def test_codex_cached_input_is_not_charged_twice_nor_reasoning(table):
    # token_count: input_tokens 12,000 of which cached_input_tokens 10,000; output_tokens 900
    # of which reasoning_output_tokens 500. gpt-5.3-codex: 1.75 / 14, cache read 0.175.
    tokens = Tokens(input=12_000 - 10_000, cache_read=10_000, output=900, reasoning=500)
    cost = table.cost("gpt-5.3-codex", "codex", DAY, tokens)
    assert cost == pytest.approx((2_000 * 1.75 + 10_000 * 0.175 + 900 * 14) / 1e6)
    assert cost == pytest.approx(0.01785)


def test_gemini_thoughts_are_billed_as_output(table):
    # tokens: input 10,000 of which cached 8,000; output 300; thoughts 700; tool 0.
    # gemini-2.5-pro under 200k prompt tokens: 1.25 / 10, cache read 0.125.
    tokens = Tokens(input=10_000 - 8_000, cache_read=8_000, output=300 + 700, reasoning=700)
    cost = table.cost("gemini-2.5-pro", "gemini", DAY, tokens)
    assert cost == pytest.approx((2_000 * 1.25 + 8_000 * 0.125 + 1_000 * 10) / 1e6)
    assert cost == pytest.approx(0.0135)


def test_kimi_usage_is_as_written_and_a_vendor_prefix_is_dropped(table):
    # step.end.usage: inputOther 1,000, inputCacheRead 20,000, inputCacheCreation 0,
    # output 500. kimi-k2.7-code: 0.95 / 4, cache read 0.19.
    tokens = Tokens(input=1_000, cache_read=20_000, output=500)
    expected = (1_000 * 0.95 + 20_000 * 0.19 + 500 * 4) / 1e6
    assert table.cost("kimi-k2.7-code", "kimi", DAY, tokens) == pytest.approx(expected)
    assert table.cost("moonshot-ai/kimi-k2.7-code", "kimi", DAY, tokens) == pytest.approx(expected)
    assert expected == pytest.approx(0.00675)


def test_copilot_session_totals_use_githubs_rates(table):
    # session.shutdown of the shared sample: inputTokens 186,809 including cacheReadTokens
    # 151,738, cacheWriteTokens 0, outputTokens 2,848. GitHub's claude-sonnet-4.6 rates:
    # 3 / 15 / 0.3 / 3.75.
    tokens = Tokens(input=186_809 - 151_738, cache_read=151_738, output=2_848)
    cost = table.cost("claude-sonnet-4.6", "copilot", DAY, tokens)
    assert cost == pytest.approx((35_071 * 3 + 151_738 * 0.3 + 2_848 * 15) / 1e6)
    assert cost == pytest.approx(0.1934544)


def test_copilot_totals_never_reach_a_long_context_tier(table):
    # Copilot's claude-sonnet-4.5 is not on GitHub's list: Anthropic's tiered price
    # applies. A 300k-token session total is many responses, none of them long-context.
    tokens = Tokens(input=300_000, output=1_000)
    assert table.cost("claude-sonnet-4.5", "copilot", DAY, tokens) == \
        pytest.approx((300_000 * 3 + 1_000 * 15) / 1e6)
    assert table.cost("claude-sonnet-4-5", "claude", DAY, tokens) == \
        pytest.approx((300_000 * 6 + 1_000 * 22.5) / 1e6)


def test_qwen_uses_the_same_mapping_and_its_own_model_is_unpriced(table):
    # usageMetadata: promptTokenCount 5,000 of which cachedContentTokenCount 4,000,
    # candidatesTokenCount 200 holding thoughtsTokenCount 50 (OpenAI-shaped backend).
    tokens = Tokens(input=1_000, cache_read=4_000, output=200, reasoning=50)
    assert table.cost("coder-model", "qwen", DAY, tokens) is None
    negotiated = PriceTable({"coder-model": Price(input=1, output=5, cache_read=0.1,
                                                  cache_write=1)})
    assert negotiated.cost("coder-model", "qwen", DAY, tokens) == \
        pytest.approx((1_000 * 1 + 4_000 * 0.1 + 200 * 5) / 1e6)


def test_genai_usage_includes_cache_in_input():
    tokens = Tokens(input=10, output=7, cache_read=100, cache_write=1_000, reasoning=5)
    assert pricing.usage(tokens) == {"input_tokens": 1_110, "cache_read_tokens": 100,
                                     "cache_write_tokens": 1_000, "output_tokens": 7}


# --- tiers and dates -------------------------------------------------------------------------

def test_a_long_prompt_prices_the_whole_response_at_the_tier(table):
    # Anthropic above 200k prompt tokens (input + cache): 6 / 22.5 / 0.6 / 7.5 for all of it.
    under = Tokens(input=10, cache_read=199_990, output=1_000)
    over = Tokens(input=10, cache_read=250_000, output=1_000)
    model = "claude-sonnet-4-5-20250929"
    assert table.cost(model, "claude", DAY, under) == \
        pytest.approx((10 * 3 + 199_990 * 0.3 + 1_000 * 15) / 1e6)
    assert table.cost(model, "claude", DAY, over) == pytest.approx(0.17256)


def test_prices_follow_the_rows_day(table):
    # o3's price fell from 10 / 40 to 2 / 8 on 2025-06-10.
    tokens = Tokens(input=1_000_000, output=1_000_000)
    assert table.cost("o3", "codex", datetime.date(2025, 6, 9), tokens) == pytest.approx(50.0)
    assert table.cost("o3", "codex", datetime.date(2025, 6, 10), tokens) == pytest.approx(10.0)


def test_a_long_context_tier_can_end_on_a_date(table):
    # Claude Opus 4.6 priced prompts above 200k higher until 2026-03-12, flat after.
    tokens = Tokens(input=300_000)
    assert table.cost("claude-opus-4-6", "claude", datetime.date(2026, 3, 12), tokens) == \
        pytest.approx(3.0)
    assert table.cost("claude-opus-4-6", "claude", datetime.date(2026, 3, 13), tokens) == \
        pytest.approx(1.5)


def test_a_datetime_is_taken_as_its_utc_day(table):
    tokens = Tokens(input=1_000_000)
    plus_three = datetime.timezone(datetime.timedelta(hours=3))
    late = datetime.datetime(2025, 6, 10, 1, 0, tzinfo=plus_three)
    assert table.cost("o3", "codex", late, tokens) == pytest.approx(10.0)  # 2025-06-09 UTC
    assert table.cost("o3", "codex", datetime.datetime(2025, 6, 10, 0, 0), tokens) == \
        pytest.approx(2.0)


def test_a_missing_cache_price_bills_cache_tokens_as_input(table):
    # Gemini has no cache-write price: written tokens cost what input costs.
    tokens = Tokens(cache_write=100_000)
    assert table.cost("gemini-2.5-pro", "gemini", DAY, tokens) == pytest.approx(0.125)


@pytest.mark.skipif(genai_prices.__version__.startswith("0.0."),
                    reason="genai-prices 0.0.x priced tiers progressively; we follow 0.1 and later")
@pytest.mark.parametrize("model, source", [
    ("claude-sonnet-4-5-20250929", "claude"), ("claude-opus-4-6", "claude"),
    ("claude-haiku-4-5-20251001", "claude"), ("gpt-5.3-codex", "codex"), ("gpt-5-codex", "codex"),
    ("gemini-2.5-pro", "gemini"), ("gemini-3-flash-preview", "gemini"),
    ("kimi-k2.7-code", "kimi"), ("claude-sonnet-4.6", "copilot"), ("gpt-5-mini", "copilot"),
])
@pytest.mark.parametrize("tokens", [
    Tokens(input=1_234, output=567, cache_read=89_000, cache_write=4_321, reasoning=100),
    Tokens(input=20_000, output=3_000, cache_read=240_000, cache_write=7_000),
    Tokens(output=99),
])
def test_our_arithmetic_matches_genai_prices(table, model, source, tokens):
    expected = genai_prices.calc_price(
        genai_prices.Usage(**pricing.usage(tokens)), model, provider_id=pricing.PROVIDERS[source],
        genai_request_timestamp=datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.timezone.utc))
    price = table.price(model, source, DAY)
    assert price.charge(tokens) == pytest.approx(float(expected.total_price), rel=1e-12)


# --- which model ---------------------------------------------------------------------------

@pytest.mark.parametrize("model", [None, "", "   ", "<synthetic>", "haiku", "aide-gpt-5"])
def test_no_or_unknown_model_is_unpriced_never_zero(table, model):
    assert table.cost(model, "claude", DAY, Tokens(input=1_000, output=1_000)) is None
    assert not table.priced(model, "claude", DAY)


def test_without_a_known_source_the_name_alone_finds_the_model(table):
    tokens = Tokens(input=100_000)
    assert table.cost("claude-sonnet-4-5-20250929", None, DAY, tokens) == pytest.approx(0.3)
    assert table.cost("gpt-5.3-codex", "someday-a-new-agent", DAY, tokens) == pytest.approx(0.175)


def test_a_model_outside_the_sources_provider_falls_back_to_its_name(table):
    # Claude Code pointed at another vendor's endpoint still records that vendor's model.
    assert table.priced("gemini-2.5-pro", "claude", DAY)


def test_a_model_listed_as_included_costs_zero(table):
    # GitHub lists gpt-4.1 as included in the subscription: a price of $0, not "unpriced".
    assert table.cost("gpt-4.1", "copilot", DAY, Tokens(input=1_000, output=1_000)) == 0.0


def test_a_model_priced_only_in_other_units_is_unpriced(table):
    # whisper-1 is billed per audio hour, which our entries do not count.
    assert table.cost("whisper-1", "codex", DAY, Tokens(input=1_000)) is None


def test_lookups_are_cached_per_model_source_and_day(table, monkeypatch):
    calls = []
    real = pricing._catalog()
    original = real.find_provider_model

    def counting(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(real, "find_provider_model", counting)
    for _ in range(1_000):
        table.cost("claude-sonnet-4-5-20250929", "claude", DAY, Tokens(output=1))
    for day in range(1, 29):
        table.cost("claude-sonnet-4-5-20250929", "claude", datetime.date(2026, 2, day), Tokens())
    assert len(calls) == 1


def test_a_price_table_error_is_unpriced_and_logged(table, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("bad row")

    monkeypatch.setattr(pricing._catalog(), "find_provider_model", broken)
    assert table.cost("claude-sonnet-4-5", "claude", DAY, Tokens(input=1)) is None
    assert "bad row" in caplog.text


def test_a_downloaded_snapshot_is_never_used(table, monkeypatch):
    # UpdatePrices (started by anything else in the process) installs a custom snapshot;
    # our prices must stay those of the installed package.
    monkeypatch.setattr(data_snapshot, "_custom_snapshot",
                        data_snapshot.DataSnapshot(providers=[], from_auto_update=True))
    assert table.cost("gpt-5.3-codex", "codex", DAY, Tokens(input=1_000_000)) == pytest.approx(1.75)


def test_pricing_never_reaches_the_network(offline):
    before = threading.active_count()
    table = PriceTable({"negotiated": Price(1, 2, 0.1, 1.25)})
    for model, source in [("claude-sonnet-4-5-20250929", "claude"), ("gpt-5.3-codex", "codex"),
                          ("gemini-2.5-pro", "gemini"), ("kimi-k2.7-code", "kimi"),
                          ("claude-sonnet-4.6", "copilot"), ("coder-model", "qwen"),
                          ("no-such-model", None), ("negotiated", "claude")]:
        for day in (datetime.date(2024, 1, 1), DAY, datetime.date(2030, 1, 1)):
            table.cost(model, source, day, Tokens(input=100, output=100))
    assert table.priced("gpt-5.3-codex", "codex", DAY)
    assert threading.active_count() == before


# --- overrides -----------------------------------------------------------------------------

NEGOTIATED = Price(input=2.5, output=12, cache_read=0.25, cache_write=3.0)


def test_an_override_wins_over_the_table_on_every_day():
    table = PriceTable({"Claude-Sonnet-4-5": NEGOTIATED})
    tokens = Tokens(input=1_000_000, output=1_000_000, cache_read=1_000_000, cache_write=1_000_000)
    for day in (datetime.date(2024, 1, 1), DAY):
        assert table.cost("claude-sonnet-4-5", "claude", day, tokens) == pytest.approx(17.75)
    # An override has no long-context tier either.
    assert table.cost("claude-sonnet-4-5", "claude", DAY, Tokens(input=300_000)) == \
        pytest.approx(0.75)


@pytest.mark.parametrize("model", [
    "claude-sonnet-4-5", "CLAUDE-SONNET-4-5", "claude-sonnet-4-5-20250929", "claude-sonnet-4.5",
    "claude-sonnet-4-5@20250929", "anthropic/claude-sonnet-4-5", "claude-sonnet-4-5-latest",
])
def test_an_override_matches_the_name_and_its_dated_snapshots(model):
    table = PriceTable({"claude-sonnet-4-5": NEGOTIATED})
    assert table.price(model, "claude", DAY) is NEGOTIATED


@pytest.mark.parametrize("key, model", [
    ("claude-sonnet-4", "claude-sonnet-4-5-20250929"), ("gpt-5", "gpt-5-mini"),
    ("gpt-5", "gpt-5.3-codex"), ("claude-sonnet-4-5", "claude-sonnet-4-5-thinking"),
])
def test_an_override_is_no_loose_prefix(key, model):
    table = PriceTable({key: NEGOTIATED})
    assert table.price(model, None, DAY) is not NEGOTIATED


def test_the_exact_override_beats_the_dated_one():
    exact = Price(1, 1, 1, 1)
    table = PriceTable({"claude-sonnet-4": NEGOTIATED, "claude-sonnet-4-20250514": exact})
    assert table.price("claude-sonnet-4-20250514", "claude", DAY) is exact
    assert table.price("claude-sonnet-4-20250101", "claude", DAY) is NEGOTIATED


def test_an_override_prices_a_model_the_table_lacks():
    table = PriceTable({"aide-gpt-5": Price(input=1, output=10, cache_read=0.1, cache_write=1)})
    tokens = Tokens(input=2_000, cache_read=8_000, output=100)
    expected = (2_000 * 1 + 8_000 * 0.1 + 100 * 10) / 1e6
    assert table.cost("aide-gpt-5", "codex", DAY, tokens) == pytest.approx(expected)


def test_a_reasoning_price_applies_to_the_reasoning_part_of_output():
    price = Price(input=0, output=10, cache_read=0, cache_write=0, reasoning=3)
    expected = (600 * 10 + 400 * 3) / 1e6
    assert price.charge(Tokens(output=1_000, reasoning=400)) == pytest.approx(expected)


def test_parse_overrides_reads_the_config_table():
    prices = parse_overrides({"claude-sonnet-4-5": {"input": 2.5, "output": 12, "cache_read": 0.25,
                                                    "cache_write": 3}})
    assert prices == {"claude-sonnet-4-5": NEGOTIATED}
    assert isinstance(prices["claude-sonnet-4-5"].output, float)
    assert parse_overrides({}) == {}
    with_reasoning = parse_overrides({"m": {"input": 1, "output": 2, "cache_read": 0,
                                            "cache_write": 1, "reasoning": 0.5}})
    assert with_reasoning["m"].reasoning == 0.5


FULL = {"input": 1, "output": 2, "cache_read": 0.1, "cache_write": 1.25}


@pytest.mark.parametrize("table, words", [
    (["claude"], "must be a table of models"),
    ({"m": 3.0}, 'collector.prices."m" must be a table of prices'),
    ({"": FULL}, "empty model name"),
    ({"m": {"input": 1, "output": 2, "cache_read": 0.1}}, "has no cache_write"),
    ({"m": {**FULL, "cache_reads": 0.1}}, "unknown key 'cache_reads'"),
    ({"m": {**FULL, "input": "3"}}, "input must be a number"),
    ({"m": {**FULL, "output": True}}, "output must be a number"),
    ({"m": {**FULL, "cache_read": -0.1}}, "cache_read must be a number"),
    ({"m": {**FULL, "cache_write": float("nan")}}, "cache_write must be a number"),
    ({"m": {**FULL, "input": float("inf")}}, "input must be a number"),
    ({"gpt-5.1": FULL, "GPT-5-1": FULL}, "name the same model"),
])
def test_parse_overrides_refuses_a_bad_table(table, words):
    with pytest.raises(ConfigError) as caught:
        parse_overrides(table)
    assert words in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.hint
    assert caught.value.status == ExitStatus.CONFIG
