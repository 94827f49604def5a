"""How figures read on a page: counts, token amounts, money, times and highlighted matches.

Registered as Jinja filters by the web package, and used by the CSV download where a
cell must be plain.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Mapping

from markupsafe import Markup, escape

from thinkt.collector.search import _find

log = logging.getLogger(__name__)

#: The token kinds a total adds: reasoning is part of output (pricing.py), not added again.
TOTAL_KINDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
UNPRICED = "unpriced"


def total_tokens(row: Mapping[str, Any]) -> int:
    """Return a row's tokens of every kind, reasoning counted once (within output)."""
    return sum(int(row.get(kind) or 0) for kind in TOTAL_KINDS)


def count(value: Any) -> str:
    """1234567 -> '1,234,567'."""
    return f"{int(value or 0):,}"


def tokens(value: Any) -> str:
    """A token amount in three figures: 987, 12.3k, 4.56M, 7.89B."""
    number = float(value or 0)
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= size:
            scaled = number / size
            return f"{scaled:.3g}{suffix}" if scaled < 1000 else f"{scaled:,.0f}{suffix}"
    return f"{number:,.0f}"


def usd(value: float | None) -> str:
    """A USD amount: $1,234, $12.34, $0.42, <$0.01 (more than nothing, less than a cent)."""
    amount = float(value or 0.0)
    if amount >= 100:
        return f"${amount:,.0f}"
    if 0 < amount < 0.005:
        return "<$0.01"
    return f"${amount:,.2f}"


def cost(row: Mapping[str, Any]) -> str:
    """What a row cost (cost.py's ``cost_usd`` and ``unpriced_models``): ``$12.34``,
    ``unpriced`` (tokens, none of them priced), ``$12.34 + unpriced`` (some priced), or
    ``—`` when it has no tokens to price."""
    amount = row.get("cost_usd")
    if amount is None:
        return UNPRICED if total_tokens(row) or row.get("unpriced_models") else "—"
    if row.get("unpriced_models"):
        return f"{usd(amount)} + {UNPRICED}"
    return usd(amount)


def unpriced_note(row: Mapping[str, Any]) -> str:
    """Which models of a row have no price, for a tooltip ('' when all are priced)."""
    models = row.get("unpriced_models") or []
    if not models:
        return ""
    names = ", ".join(m if m else "(no model)" for m in models)
    return f"no price for: {names}"


def csv_cost(row: Mapping[str, Any]) -> str:
    """A row's cost for a CSV cell: USD, or empty when nothing in it is priced."""
    amount = row.get("cost_usd")
    return "" if amount is None else f"{amount:.6f}"


def moment(value: str | datetime | None) -> str:
    """An RFC 3339 time as 'YYYY-MM-DD HH:MM' (UTC), or '—'."""
    parsed = parse_time(value)
    return parsed.strftime("%Y-%m-%d %H:%M") if parsed else "—"


def clock(value: str | datetime | None) -> str:
    """An RFC 3339 time as 'YYYY-MM-DD HH:MM:SS' (UTC), or '—'."""
    parsed = parse_time(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S") if parsed else "—"


def ago(value: str | datetime | None, now: datetime | None = None) -> str:
    """How long ago a time was: '42 s ago', '5 min ago', '3 h ago', '12 days ago'."""
    parsed = parse_time(value)
    if parsed is None:
        return "never"
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    seconds = (now - parsed).total_seconds()
    if seconds < 0:
        return "just now"
    for size, unit in ((86400, "days"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = int(seconds // size)
            return f"{amount} {'day' if unit == 'days' and amount == 1 else unit} ago"
    return f"{int(seconds)} s ago"


def parse_time(value: str | datetime | None) -> datetime | None:
    """An RFC 3339 string (or a datetime) as naive UTC, or None."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def highlight(text: str | None, term: str | None) -> Markup:
    """Return ``text`` escaped, with every occurrence of ``term`` in ``<mark>``.

    Occurrences are found as search finds them (``str.lower`` on both sides).
    """
    if not text:
        return Markup("")
    needle = (term or "").lower()
    if not needle:
        return escape(text)
    out, rest = [], text
    while rest:
        found = _find(rest, needle)
        if found is None or found[1] <= found[0]:
            break
        start, end = found
        out.append(escape(rest[:start]))
        out.append(Markup("<mark>") + escape(rest[start:end]) + Markup("</mark>"))
        rest = rest[end:]
    out.append(escape(rest))
    return Markup("").join(out)


def csv_text(value: Any) -> str:
    """A text for a CSV cell that a spreadsheet will not run as a formula.

    Users, projects and branches come from laptops: one starting with ``=``, ``+``,
    ``-``, ``@`` (or a tab or carriage return) would be a formula in a spreadsheet, so
    it is prefixed with ``'`` (OWASP's advice for CSV injection).
    """
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


FILTERS = {"count": count, "tokens": tokens, "usd": usd, "cost": cost, "moment": moment,
           "ago": ago, "highlight": highlight, "total_tokens": total_tokens,
           "unpriced_note": unpriced_note, "clock": clock}
