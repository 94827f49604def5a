"""The registry's rules for stale and expired agents, as pure functions of a frozen clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from freezegun import freeze_time

from thinkt.collector import registry


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def test_an_agent_is_stale_only_after_more_than_five_minutes():
    with freeze_time("2026-01-01T00:00:00Z") as frozen:
        heartbeat = utcnow()
        assert registry.status(heartbeat, utcnow()) == "active"
        frozen.tick(timedelta(minutes=5))
        assert registry.status(heartbeat, utcnow()) == "active"  # exactly 5 minutes: not more
        frozen.tick(timedelta(seconds=1))
        assert registry.status(heartbeat, utcnow()) == "stale"


def test_expiry_counts_the_retention_from_when_the_agent_went_stale():
    retention = timedelta(days=7)
    with freeze_time("2026-01-01T00:00:00Z") as frozen:
        heartbeat = utcnow()
        frozen.tick(retention)
        assert not registry.is_expired(heartbeat, utcnow(), retention)  # stale for 7d - 5m
        frozen.tick(registry.STALE_AFTER)
        assert not registry.is_expired(heartbeat, utcnow(), retention)  # stale for exactly 7d
        frozen.tick(timedelta(seconds=1))
        assert registry.is_expired(heartbeat, utcnow(), retention)


def test_cutoffs_are_the_boundaries_status_and_expiry_use():
    now = datetime(2026, 5, 1, 12, 0)
    assert registry.stale_cutoff(now) == datetime(2026, 5, 1, 11, 55)
    assert registry.expiry_cutoff(now, timedelta(days=1)) == datetime(2026, 4, 30, 11, 55)
    assert registry.status(registry.stale_cutoff(now), now) == "active"
    assert registry.status(registry.stale_cutoff(now) - timedelta(microseconds=1), now) == "stale"


def test_the_defaults_are_the_contract_values():
    assert registry.STALE_AFTER == timedelta(minutes=5)
    assert registry.SWEEP_INTERVAL == timedelta(minutes=1)
    assert registry.DEFAULT_RETENTION == timedelta(days=7)
