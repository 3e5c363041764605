"""Progress thinned out for publishing: at most one publication a second, and never a lost last value."""

from __future__ import annotations

from pipelines.core.progress import ThrottledProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_thousand_reports_in_a_second_publish_once_and_the_last_one_on_flush() -> None:
    clock, published = FakeClock(), []
    progress = ThrottledProgress(published.append, clock=clock)
    for done in range(1, 1001):
        clock.now = done / 1001
        progress(100 * done / 1000)
    assert published == [0.1]
    progress.flush()
    assert published == [0.1, 100.0]
    progress.flush()  # nothing held back any more
    assert published == [0.1, 100.0]


def test_reports_over_ten_seconds_publish_once_a_second_and_values_are_clamped() -> None:
    clock, published = FakeClock(), []
    progress = ThrottledProgress(published.append, clock=clock)
    for tick in range(101):  # every 0.1 s
        clock.now = tick / 10
        progress(tick * 1.5)
    progress.flush()
    assert published == [0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0, 100.0]  # at 0 s, 1 s, ..., 7 s; 150% is 100%
    assert published[-1] == 100.0  # held at 100 from 7 s on: nothing new to publish, not even on flush
    assert published == sorted(published)


def test_a_slow_run_publishes_only_whole_point_moves_and_still_ends_on_its_last_value() -> None:
    """100k reviews: a point takes seconds, so a publication each second would repeat the same bar."""
    clock, published = FakeClock(), []
    progress = ThrottledProgress(published.append, clock=clock)
    for tick in range(3001):  # 300 s in 0.1 s reports, 1/30 point each
        clock.now = tick / 10
        progress(tick / 30)
    progress.flush()
    assert published[0] == 0.0 and published[-1] == 100.0
    assert 100 <= len(published) <= 102  # a publication per point, not one per second (301)
    assert all(later - earlier >= 1.0 for earlier, later in zip(published, published[1:]))
