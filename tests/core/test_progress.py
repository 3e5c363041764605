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
    assert len(published) == 11  # at 0 s, 1 s, ..., 10 s
    assert published[0] == 0.0 and published[-1] == 100.0  # 150% is published as 100%
    assert published == sorted(published)
