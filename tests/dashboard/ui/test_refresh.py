"""How often a page refreshes a run it watches: each second while the run is new, every few seconds after."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dashboard.ui.components import QUICK_REFRESH_FOR, QUICK_REFRESH_S, SLOW_REFRESH_S, refresh_seconds

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def test_a_new_run_is_refreshed_each_second_and_one_that_has_gone_on_a_while_every_few_seconds() -> None:
    assert QUICK_REFRESH_S == 1.0 < SLOW_REFRESH_S
    assert refresh_seconds(NOW, NOW) == QUICK_REFRESH_S
    assert refresh_seconds(NOW - QUICK_REFRESH_FOR + timedelta(milliseconds=1), NOW) == QUICK_REFRESH_S
    assert refresh_seconds(NOW - QUICK_REFRESH_FOR, NOW) == SLOW_REFRESH_S
    assert refresh_seconds(NOW - timedelta(hours=5), NOW) == SLOW_REFRESH_S


def test_a_run_of_unknown_age_is_refreshed_as_a_new_one() -> None:
    assert refresh_seconds(None, NOW) == QUICK_REFRESH_S
