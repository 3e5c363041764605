"""How often a page refreshes a run it watches: each second while the run is new, less often the longer it goes on."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dashboard.ui.components import QUICK_REFRESH_S, refresh_seconds

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
MS = timedelta(milliseconds=1)


def test_a_new_run_is_refreshed_each_second_then_every_three_then_every_five_seconds() -> None:
    assert QUICK_REFRESH_S == 1.0
    ages = {timedelta(0): 1.0, timedelta(seconds=30) - MS: 1.0, timedelta(seconds=30): 3.0,
            timedelta(minutes=2) - MS: 3.0, timedelta(minutes=2): 5.0, timedelta(hours=5): 5.0}
    assert {age: refresh_seconds(NOW - age, NOW) for age in ages} == ages


def test_a_run_of_unknown_age_is_refreshed_as_a_new_one() -> None:
    assert refresh_seconds(None, NOW) == QUICK_REFRESH_S
