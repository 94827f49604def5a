"""Token usage counted once per API response, the way the collector counts it.

Entries that belong to one API response share a ``message_id`` and repeat its usage;
the response counts once, with the largest value seen for each field (Claude writes
streaming partials of ``output_tokens`` on early lines). Entries without a
``message_id`` count on their own.
"""

from __future__ import annotations

from typing import Iterable

from thinkt.exporter.entry import Entry

FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
          "reasoning_tokens")


class UsageTally:
    """Accumulate entries and report token totals with each response counted once."""

    def __init__(self) -> None:
        self._responses: dict[tuple, list[int]] = {}

    def add(self, entry: Entry) -> None:
        """Count ``entry`` (a no-op for entries without usage)."""
        if not entry.has_usage:
            return
        key = ("m", entry.message_id) if entry.message_id else ("e", entry.session_id, entry.uuid)
        values = [getattr(entry, f) for f in FIELDS]
        seen = self._responses.get(key)
        if seen is None:
            self._responses[key] = values
        else:
            self._responses[key] = [max(a, b) for a, b in zip(seen, values)]

    def extend(self, entries: Iterable[Entry]) -> "UsageTally":
        """Count every entry of ``entries``; return self."""
        for entry in entries:
            self.add(entry)
        return self

    @property
    def responses(self) -> int:
        """How many distinct API responses carried usage."""
        return len(self._responses)

    def totals(self) -> dict[str, int]:
        """Return the summed token fields."""
        sums = [0] * len(FIELDS)
        for values in self._responses.values():
            for i, value in enumerate(values):
                sums[i] += value
        return dict(zip(FIELDS, sums))
