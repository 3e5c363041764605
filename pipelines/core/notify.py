"""What a notification says about a waiting run, kept as flow-run labels a message template reads.

Prefect's automation templates see the flow run (with its labels) but neither its pause input's description nor
its pause timeout, so a flow writes both as labels just before it pauses.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

WAITS_FOR_LABEL = "hitl.waits-for"
TIMEOUT_LABEL = "hitl.pause-timeout"
DEADLINE_LABEL = "hitl.pause-deadline"
HEADLINE_MAX_CHARS = 200
_BACKSLASH_ESCAPE = re.compile(r"\\([^\w\s])")


def headline(description: str | None, step: str) -> str:
    """The question a pause asks, on one line: its description's first line without Markdown heading marks,
    Markdown's backslash escapes removed, cut to `HEADLINE_MAX_CHARS`; the step's name when there is no
    description."""
    first = next((line.strip() for line in (description or "").splitlines() if line.strip()), "")
    text = _BACKSLASH_ESCAPE.sub(r"\1", " ".join(first.lstrip("#").split())) or step
    return text if len(text) <= HEADLINE_MAX_CHARS else text[: HEADLINE_MAX_CHARS - 1] + "…"


def duration_text(seconds: float) -> str:
    """A pause timeout as people read it: `8 h`, `1.5 h`, `30 min`, `45 s`."""
    if seconds >= 3600:
        return f"{seconds / 3600:.4g} h"
    if seconds >= 60:
        return f"{seconds / 60:.4g} min"
    return f"{seconds:.4g} s"


def pause_labels(step: str, description: str | None, timeout_seconds: float, paused_at: datetime) -> dict[str, str]:
    """The labels a flow run carries while it waits: what it waits for, its pause timeout and when that ends.

    `paused_at` must be timezone-aware; the deadline is stated in UTC.
    """
    if paused_at.tzinfo is None:
        raise ValueError("paused_at must be timezone-aware, e.g. datetime.now(timezone.utc).")
    deadline = paused_at + timedelta(seconds=timeout_seconds)
    return {
        WAITS_FOR_LABEL: f"{headline(description, step)} ({step})",
        TIMEOUT_LABEL: duration_text(timeout_seconds),
        DEADLINE_LABEL: f"{deadline.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC",
    }
