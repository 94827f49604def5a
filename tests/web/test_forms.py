"""The pages' query strings: defaults, checked values, and messages instead of failures."""

from __future__ import annotations

from datetime import date, datetime

from thinkt.collector.web import forms


def test_no_dates_mean_the_last_30_days_today_included():
    form = forms.read({})
    assert (form.first, form.last) == (date(2026, 2, 9), date(2026, 3, 10))
    assert (form.since, form.until) == (datetime(2026, 2, 9), datetime(2026, 3, 11))
    assert form.values["from"] == "2026-02-09" and not form.errors


def test_one_date_keeps_a_30_day_range_from_or_to_it():
    assert forms.read({"to": "2026-01-31"}).first == date(2026, 1, 2)
    form = forms.read({"from": "2026-03-01"})
    assert (form.first, form.last) == (date(2026, 3, 1), date(2026, 3, 10))


def test_bad_dates_say_what_a_date_is_and_keep_what_was_typed():
    form = forms.read({"from": "2026-13-01", "to": "20260301"})
    assert form.errors == {"from": "A date is YYYY-MM-DD, e.g. 2026-02-01.",
                           "to": "A date is YYYY-MM-DD, e.g. 2026-02-01."}
    assert form.values["from"] == "2026-13-01"
    assert form.since is not None  # the default range stands in


def test_a_reversed_or_huge_range_is_refused():
    assert "comes after" in forms.read({"from": "2026-03-05", "to": "2026-03-01"}).errors["from"]
    assert "at most" in forms.read({"from": "1990-01-01", "to": "2026-03-01"}).errors["from"]
    assert "before 9999" in forms.read({"to": "9999-12-31"}).errors["to"]


def test_choices_filters_and_pages():
    form = forms.read({"group": "nope", "source": " Claude ", "user": "x" * 600, "page": "0"},
                      filters=("source", "user"), choices={"group": ("user", "day")})
    assert form.errors["group"] == "Must be one of: user, day."
    assert form.values["group"] == "user"
    assert form.filters == {"source": "claude", "user": None}
    assert "512" in form.errors["user"] and "page" in form.errors
    assert forms.read({"page": "3"}).page == 3


def test_links_keep_the_form_and_change_what_is_asked():
    form = forms.read({"user": "ann", "page": "2"}, filters=("user",))
    link = form.link(page=None, sort="cost")
    assert link.startswith("?") and "user=ann" in link and "sort=cost" in link
    assert "page" not in link
