"""Progress reports thinned out for publishing: a model calls back after every batch, far more often than
anyone reads a progress bar, and each publication is a round trip to the orchestrator."""

from __future__ import annotations

import time
from collections.abc import Callable

PUBLISH_INTERVAL_S = 1.0
# A bar a person reads moves by whole points; each publication costs the orchestrator some 12 ms of CPU, which a
# long run (minutes per point at 100k reviews) would otherwise spend every second on the same point.
PUBLISH_STEP = 1.0


class ThrottledProgress:
    """Passes a percentage on to `publish` at most once every `interval_s` seconds and only once it has moved by
    `step` points since the last publication, the first one at once.

    Values in between are held back, not lost: `flush` publishes the latest one when it was not published yet,
    so the last value reported is always the last value published.
    """

    def __init__(self, publish: Callable[[float], None], interval_s: float = PUBLISH_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic, step: float = PUBLISH_STEP) -> None:
        self.publish = publish
        self.interval_s = interval_s
        self.step = step
        self.clock = clock
        self._published_at: float | None = None
        self._published: float | None = None
        self._held: float | None = None

    def __call__(self, percent: float) -> None:
        """Report `percent` (clamped to 0..100); published now when the last publication is old enough and the
        value has moved a step from it."""
        self._held = min(max(percent, 0.0), 100.0)
        now = self.clock()
        if self._published_at is None or (now - self._published_at >= self.interval_s
                                          and abs(self._held - self._published) >= self.step):  # type: ignore[operator]
            self._publish(now)

    def flush(self) -> None:
        """Publish the latest value held back, if any and not already the one published."""
        if self._held is not None and self._held != self._published:
            self._publish(self.clock())

    def _publish(self, now: float) -> None:
        value, self._held = self._held, None
        self.publish(value)  # type: ignore[arg-type]  # only called with a value held
        self._published_at, self._published = now, value
