"""Cost in USD of usage groups: token sums by (source, model, day) priced and added up per key.

``queries.usage_parts`` gives, for each usage group (``key``), its tokens split by source,
model and UTC day; :func:`add_costs` prices each part with the price table
(:mod:`thinkt.collector.pricing`) and adds the parts of a group up:

- ``cost_usd``: the sum of the priced parts, or ``None`` when no part of the group is
  priced (a model missing from the table, no model, a source that reports no tokens):
  unpriced is never shown as $0;
- ``unpriced_models``: the models of the group whose tokens have no price (``null`` for
  tokens of no named model), present only when there are some, so a reader knows a
  figure is a lower bound.

Parts are sums over many API responses, so they are priced at the model's base rates:
a long-context surcharge (a higher rate for a prompt above, say, 200k tokens) depends on
one response's prompt and cannot be told from a sum. The README says so.

Pricing runs in the HTTP worker, not in the writer: the writer's process commits every
batch and should only read the store; each worker keeps its own
:class:`~thinkt.collector.pricing.PriceTable` (loaded before the fork) and its cache.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Iterable, Mapping

import numpy as np

from thinkt.collector.pricing import PriceTable

#: The token columns of a part, in :class:`Tokens` order.
PART_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
               "reasoning_tokens")


@dataclasses.dataclass
class GroupCost:
    """What one usage group's tokens cost."""

    usd: float = 0.0
    priced: bool = False  # at least one part had a price
    unpriced_models: set = dataclasses.field(default_factory=set)

    @property
    def cost_usd(self) -> float | None:
        return round(self.usd, 6) if self.priced else None


def costs_by_key(parts: Iterable[dict], table: PriceTable) -> dict[Any, GroupCost]:
    """Return each key's cost from its parts (dicts with ``key``, ``source``, ``model``,
    ``day`` as ``YYYY-MM-DD`` or a date, and the :data:`PART_TOKENS` columns)."""
    parts = list(parts)
    columns = {name: [part.get(name) for part in parts] for name in ("model", "source")}
    columns["key"] = [part["key"] for part in parts]
    columns["day"] = [part["day"] for part in parts]
    for name in PART_TOKENS:
        columns[name] = np.array([float(part.get(name) or 0) for part in parts])
    return costs_by_key_columns(columns, table)


def costs_by_key_columns(parts: Mapping[str, Any], table: PriceTable) -> dict[Any, GroupCost]:
    """:func:`costs_by_key` of parts given as columns (``queries.usage_parts``): a list per
    name, numpy arrays for the token counts.

    Priced with numpy: each (model, source, day) is looked up once, and every part's
    cost is a few array products, summed per key (14k parts by project at 10M entries:
    55 ms part by part in Python, 9 ms so).
    """
    keys, count = parts["key"], len(parts["key"])
    if not count:
        return {}
    tokens = np.array([np.asarray(parts[name], dtype=np.float64) for name in PART_TOKENS])
    combos: dict[tuple, int] = {}
    combo_of = np.fromiter((combos.setdefault(combo, len(combos)) for combo in zip(
        parts["model"], parts["source"], parts["day"])), dtype=np.int64, count=count)
    rates = np.zeros((len(combos), 5))  # input, output, cache read, cache write, reasoning extra
    priced = np.zeros(len(combos), dtype=bool)
    for (model, source, day), index in combos.items():
        when = day if isinstance(day, datetime.date) else datetime.date.fromisoformat(day)
        price = table.price(model, source, when)
        if price is not None:
            extra = 0.0 if price.reasoning is None else price.reasoning - price.output
            rates[index] = (price.input, price.output, price.cache_read, price.cache_write, extra)
            priced[index] = True
    # Reasoning is part of output: a reasoning price only adds its difference, on at most
    # the output tokens (Price.charge).
    used = np.vstack([tokens[:4], np.minimum(tokens[4], tokens[1])])
    usd = (used * rates[combo_of].T).sum(axis=0) / 1_000_000
    has_tokens = tokens.any(axis=0)
    key_index: dict[Any, int] = {}
    key_of = np.fromiter((key_index.setdefault(k, len(key_index)) for k in keys),
                         dtype=np.int64, count=count)
    part_priced = priced[combo_of] & has_tokens
    totals = np.bincount(key_of, weights=np.where(part_priced, usd, 0.0),
                         minlength=len(key_index))
    any_priced = np.bincount(key_of, weights=part_priced, minlength=len(key_index)) > 0
    costs = {key: GroupCost(float(totals[i]), bool(any_priced[i]))
             for key, i in key_index.items()}
    for i in np.flatnonzero(has_tokens & ~priced[combo_of]):  # few: named one by one
        costs[keys[i]].unpriced_models.add(parts["model"][i] or None)
    return costs


def add_costs(rows: list[dict], parts: "Iterable[dict] | Mapping[str, Any]",
              table: PriceTable) -> list[dict]:
    """Give each usage row its ``cost_usd`` (and ``unpriced_models`` where some are);
    ``parts`` as dicts, or as columns (``queries.usage_parts``)."""
    costs = (costs_by_key_columns(parts, table) if isinstance(parts, Mapping)
             else costs_by_key(parts, table))
    for row in rows:
        group = costs.get(row["key"])
        row["cost_usd"] = group.cost_usd if group is not None else None
        if group is not None and group.unpriced_models:
            row["unpriced_models"] = sorted(group.unpriced_models,
                                            key=lambda model: (model is None, model or ""))
    return rows
