"""Human-readable values on the status pages."""

from datetime import datetime, timezone

from freezegun import freeze_time

from thinkt.tui.humanize import age, duration, number, parse_time, size


def test_duration_uses_the_two_largest_units():
    assert duration(None) == "-"
    assert duration(0) == "0s"
    assert duration(59.9) == "59s"
    assert duration(61) == "1m 1s"
    assert duration(3 * 3600 + 5 * 60 + 7) == "3h 5m"
    assert duration(2 * 86400 + 4 * 3600) == "2d 4h"


@freeze_time("2026-11-25T12:00:00Z")
def test_age_is_relative_to_now_and_handles_missing_and_future_times():
    assert age("2026-11-25T11:59:48Z") == "12s ago"
    assert age("2026-11-25T11:00:00.5+00:00") == "59m 59s ago"
    assert age(None) == "never"
    assert age("not a time") == "never"
    assert age("2026-11-25T12:00:09Z") == "just now"


def test_parse_time_treats_a_naive_time_as_utc():
    assert parse_time("2026-11-25T12:00:00") == datetime(2026, 11, 25, 12, tzinfo=timezone.utc)


def test_size_and_number():
    assert size(None) == "-"
    assert size(512) == "512 B"
    assert size(1536) == "1.5 KiB"
    assert size(20 * 1024 * 1024) == "20.0 MiB"
    assert number(1234567) == "1,234,567"
    assert number(None) == "-"
