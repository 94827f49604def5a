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
from typing import Any, Iterable

from thinkt.collector.pricing import PriceTable, Tokens

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
    costs: dict[Any, GroupCost] = {}
    days: dict[Any, datetime.date] = {}
    for part in parts:
        group = costs.setdefault(part["key"], GroupCost())
        tokens = Tokens(*(int(part.get(name) or 0) for name in PART_TOKENS))
        if not any(dataclasses.astuple(tokens)):
            continue
        day = part["day"]
        if not isinstance(day, datetime.date):
            day = days.get(day) or days.setdefault(day, datetime.date.fromisoformat(day))
        price = table.price(part.get("model"), part.get("source"), day)
        if price is None:
            group.unpriced_models.add(part.get("model") or None)
            continue
        # Base rates: a part sums responses, and a tier depends on one response's prompt.
        group.usd += price.charge(tokens, tiered=False)
        group.priced = True
    return costs


def add_costs(rows: list[dict], parts: Iterable[dict], table: PriceTable) -> list[dict]:
    """Give each usage row its ``cost_usd`` (and ``unpriced_models`` where some are)."""
    costs = costs_by_key(parts, table)
    for row in rows:
        group = costs.get(row["key"])
        row["cost_usd"] = group.cost_usd if group is not None else None
        if group is not None and group.unpriced_models:
            row["unpriced_models"] = sorted(group.unpriced_models,
                                            key=lambda model: (model is None, model or ""))
    return rows
