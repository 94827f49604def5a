"""The pages' query strings: dates, filters, grouping, sorting and paging, checked with
messages a person can act on.

A page never fails on a bad value: :func:`read` collects every problem into
``Form.errors`` (shown above the page's form, status 400) and uses the default in its
place, so the form comes back with what was typed.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode

log = logging.getLogger(__name__)

#: Days the pages show when no dates are given: the last 30, today included.
DEFAULT_DAYS = 30
#: The longest range a page sums (ten years: the hourly table answers it in milliseconds).
MAX_DAYS = 3660
#: The longest filter value (the API's longest ``user``).
MAX_TEXT = 512
#: The longest search term.
MAX_QUERY = 200
#: The furthest page of a list (paging deeper than this is what filters are for).
MAX_PAGE = 10_000


@dataclasses.dataclass
class Form:
    """The parsed query string of one page: values as typed, and what they mean."""

    values: dict[str, str] = dataclasses.field(default_factory=dict)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    first: date | None = None
    last: date | None = None
    filters: dict[str, str | None] = dataclasses.field(default_factory=dict)
    page: int = 1

    @property
    def since(self) -> datetime | None:
        """The range's start (midnight UTC of the first day), inclusive."""
        return datetime.combine(self.first, datetime.min.time()) if self.first else None

    @property
    def until(self) -> datetime | None:
        """The range's end (midnight UTC after the last day), exclusive."""
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time()) \
            if self.last else None

    def link(self, **changes: Any) -> str:
        """Return this form's query string with ``changes`` (None drops a value)."""
        values = {**self.values, **{k: v for k, v in changes.items()}}
        kept = {k: v for k, v in values.items() if v not in (None, "")}
        return "?" + urlencode(kept) if kept else "?"


def today() -> date:
    """Today in UTC (a function, so tests can freeze it)."""
    return datetime.now(timezone.utc).date()


def read(args: Mapping[str, str], *, dates: bool = True, filters: Sequence[str] = (),
         choices: Mapping[str, Sequence[str]] | None = None,
         texts: Sequence[str] = ()) -> Form:
    """Return the form of ``args`` (a request's query string).

    ``dates``: read ``from``/``to`` (YYYY-MM-DD, both inclusive; the last 30 days by
    default). ``filters``: names of exact-match filters (source, user, project, model).
    ``choices``: names whose value must be one of the given ones (the first is the
    default). ``texts``: free texts kept as typed (a search term).
    """
    form = Form()
    if dates:
        _read_dates(form, args)
    for name in filters:
        raw = (args.get(name) or "").strip()
        form.values[name] = raw
        if len(raw) > MAX_TEXT:
            form.errors[name] = f"At most {MAX_TEXT} characters."
            raw = ""
        if name == "source":
            raw = raw.lower()  # sources are stored lower-case (schemas.py)
        form.filters[name] = raw or None
    for name, allowed in (choices or {}).items():
        raw = (args.get(name) or "").strip()
        if raw and raw not in allowed:
            form.errors[name] = f"Must be one of: {', '.join(allowed)}."
            raw = ""
        form.values[name] = raw or allowed[0]
    for name in texts:
        raw = args.get(name) or ""
        if len(raw) > MAX_QUERY:
            form.errors[name] = f"At most {MAX_QUERY} characters."
            raw = raw[:MAX_QUERY]
        form.values[name] = raw
    raw = (args.get("page") or "").strip()
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
            form.errors["page"] = f"A page is a number from 1 to {MAX_PAGE:,}."
        else:
            form.page = int(raw)
            form.values["page"] = raw
    return form


def _read_dates(form: Form, args: Mapping[str, str]) -> None:
    """Read ``from`` and ``to`` into ``form``; a missing one is the default range's."""
    last = today()
    first = last - timedelta(days=DEFAULT_DAYS - 1)
    given = {}
    for name in ("from", "to"):
        raw = (args.get(name) or "").strip()
        form.values[name] = raw
        if not raw:
            continue
        try:
            given[name] = date.fromisoformat(raw)
        except ValueError:
            form.errors[name] = "A date is YYYY-MM-DD, e.g. 2026-02-01."
            continue
        if len(raw) != 10:  # fromisoformat also takes 20260201
            form.errors[name] = "A date is YYYY-MM-DD, e.g. 2026-02-01."
            del given[name]
    if "to" in given:
        last = given["to"]
        if "from" not in given:
            first = last - timedelta(days=DEFAULT_DAYS - 1)
    if "from" in given:
        first = given["from"]
    if first > last:
        form.errors["from"] = "The first day comes after the last."
        first = last
    elif (last - first).days >= MAX_DAYS:
        form.errors["from"] = f"A range is at most {MAX_DAYS:,} days."
        first = last - timedelta(days=MAX_DAYS - 1)
    if last >= date.max:  # the range ends at midnight after the last day, which must exist
        form.errors["to"] = "The last day must be before 9999-12-31."
        last = last - timedelta(days=1)
        first = min(first, last)
    form.first, form.last = first, last
    form.values["from"] = form.values["from"] or first.isoformat()
    form.values["to"] = form.values["to"] or last.isoformat()
