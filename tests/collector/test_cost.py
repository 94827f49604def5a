"""Cost of usage groups: parts priced by model and day, added up per key; unpriced is None."""

from __future__ import annotations

import datetime
import random

import numpy as np
import pytest

from thinkt.collector.cost import PART_TOKENS, add_costs, costs_by_key, costs_by_key_columns
from thinkt.collector.pricing import Price, PriceTable

TABLE = PriceTable({"acme-coder-1": Price(input=2.0, output=10.0, cache_read=0.5,
                                           cache_write=2.5)})


def part(key, model, day="2026-11-02", source="claude", **tokens):
    return {"key": key, "source": source, "model": model, "day": day, **tokens}


def test_parts_are_priced_per_million_tokens_and_added_per_key():
    parts = [part("alice", "acme-coder-1", input_tokens=1_000_000, output_tokens=100_000),
             part("alice", "acme-coder-1", day="2026-11-03", cache_read_tokens=2_000_000,
                  cache_write_tokens=400_000),
             part("bob", "acme-coder-1", output_tokens=50_000)]
    costs = costs_by_key(parts, TABLE)
    assert costs["alice"].cost_usd == pytest.approx(2.0 + 1.0 + 1.0 + 1.0)
    assert costs["bob"].cost_usd == pytest.approx(0.5)
    assert not costs["alice"].unpriced_models


def test_an_unknown_model_is_unpriced_never_zero():
    rows = add_costs([{"key": "carol"}, {"key": "dave"}],
                     [part("carol", "no-such-model-zz9", input_tokens=500),
                      part("dave", "acme-coder-1", input_tokens=1_000_000),
                      part("dave", None, input_tokens=10),
                      part("dave", "no-such-model-zz9", output_tokens=10)], TABLE)
    assert rows[0]["cost_usd"] is None and rows[0]["unpriced_models"] == ["no-such-model-zz9"]
    # A group with some priced tokens shows their cost and names what was not priced.
    assert rows[1]["cost_usd"] == pytest.approx(2.0)
    assert rows[1]["unpriced_models"] == ["no-such-model-zz9", None]


def test_a_group_without_tokens_has_no_cost_and_no_list():
    rows = add_costs([{"key": "copilot"}], [part("copilot", "gpt-4.1", source="copilot")],
                     TABLE)
    assert rows == [{"key": "copilot", "cost_usd": None}]


def test_parts_are_priced_at_base_rates_whatever_their_sum():
    tiered = PriceTable({"acme-long": Price(1.0, 1.0, 1.0, 1.0,
                                            tiers=((200_000, Price(9.0, 9.0, 9.0, 9.0)),))})
    costs = costs_by_key([part("k", "acme-long", input_tokens=3_000_000)], tiered)
    assert costs["k"].cost_usd == pytest.approx(3.0)


def test_days_may_be_dates_and_the_day_decides_the_table_price():
    sonnet_day = datetime.date(2026, 11, 2)
    table = PriceTable()
    costs = costs_by_key([part("k", "claude-sonnet-4-5-20250929", day=sonnet_day,
                               output_tokens=1_000_000)], table)
    assert costs["k"].cost_usd == pytest.approx(
        table.price("claude-sonnet-4-5-20250929", "claude", sonnet_day).output)


def columns_of(parts):
    names = ("key", "source", "model", "day") + PART_TOKENS
    return {name: ([p.get(name) for p in parts] if name not in PART_TOKENS
                   else np.array([p.get(name) or 0 for p in parts], dtype=np.int64))
            for name in names}


def test_parts_as_columns_cost_what_parts_as_dicts_cost():
    rng = random.Random(7)
    table = PriceTable({"acme-coder-1": Price(2.0, 10.0, 0.5, 2.5),
                        "acme-thinker": Price(1.0, 4.0, 0.1, 1.0, reasoning=8.0)})
    models = ["acme-coder-1", "acme-thinker", "no-such-model-zz9", None]
    parts = [part(rng.choice(["a", "b", None, "c"]), rng.choice(models),
                  day=f"2026-11-0{rng.randint(1, 9)}", source=rng.choice(["claude", "codex"]),
                  **{name: rng.choice([0, 0, rng.randint(1, 10**9)]) for name in PART_TOKENS})
             for _ in range(500)]
    by_dicts = costs_by_key(parts, table)
    by_columns = costs_by_key_columns(columns_of(parts), table)
    assert by_dicts.keys() == by_columns.keys()
    for key, group in by_dicts.items():
        other = by_columns[key]
        assert (other.priced, other.unpriced_models) == (group.priced, group.unpriced_models)
        assert other.usd == pytest.approx(group.usd, rel=1e-9)
    assert any(g.priced for g in by_dicts.values()) and any(
        g.unpriced_models for g in by_dicts.values())


def test_no_parts_as_columns_is_no_cost():
    rows = add_costs([{"key": "x"}], columns_of([]), TABLE)
    assert rows == [{"key": "x", "cost_usd": None}]
