"""The chaos harness in CI form: a few rounds of every fault, then identity-level accounting.

Set ``CHAOS_SEED`` to replay a failing run (the seed is in the printed table);
``python -m tests.chaos --rounds 100`` runs the same campaign longer by hand.
"""

from __future__ import annotations

import pytest

from tests.chaos.campaign import FAULTS

pytestmark = pytest.mark.slow


def test_nothing_lost_nothing_doubled_whatever_is_killed(campaign, capsys):
    report = campaign.run(rounds=len(FAULTS) + 2)  # every kind once, then two at random
    with capsys.disabled():
        print(f"\n{report.table()}")
    assert set(report.kills) == set(FAULTS), report.table()
    assert report.entries > 100, report.table()
    assert (report.lost, report.doubled, report.unexpected) == (0, 0, 0), report.table()
    assert report.tokens_stored == report.tokens_expected, report.table()
    assert not report.usage_mismatch, report.table()
    assert report.self_exits == 0, report.table()
    assert report.ok, report.table()
