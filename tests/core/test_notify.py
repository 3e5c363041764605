"""What a notification says about a waiting run: the question a pause asks, its timeout and deadline."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipelines.core.markdown import escape_markdown
from pipelines.core.notify import (
    DEADLINE_LABEL,
    HEADLINE_MAX_CHARS,
    TIMEOUT_LABEL,
    WAITS_FOR_LABEL,
    duration_text,
    headline,
    pause_labels,
)
from pipelines.core.settings import Settings


def test_the_headline_is_the_descriptions_question_as_written() -> None:
    description = "\n\n### Which columns should be dropped?\n\n20 users with 12 columns.\n"
    assert headline(description, "features to drop") == "Which columns should be dropped?"
    label = "<script>[x](http://e.example)"
    assert headline(f"### Is {escape_markdown(label)} a label?", "step") == f"Is {label} a label?"


def test_no_description_gives_the_step_and_a_long_one_is_cut() -> None:
    assert headline(None, "approval") == headline("  \n", "approval") == "approval"
    long = headline("### " + "word " * 200, "step")
    assert len(long) == HEADLINE_MAX_CHARS and long.endswith("…")


@pytest.mark.parametrize(("seconds", "text"), [(28800, "8 h"), (5400, "1.5 h"), (1800, "30 min"), (45, "45 s"),
                                               (10, "10 s")])
def test_durations_read_as_people_say_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_labels_state_what_the_pause_waits_for_and_when_it_fails() -> None:
    paused_at = datetime(2026, 11, 30, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    labels = pause_labels("user count", "### How many users should we fetch?", 8 * 3600, paused_at)
    assert labels == {WAITS_FOR_LABEL: "How many users should we fetch? (user count)",
                      TIMEOUT_LABEL: "8 h", DEADLINE_LABEL: "2026-12-01 05:30 UTC"}
    with pytest.raises(ValueError, match="timezone-aware"):
        pause_labels("step", None, 60, datetime(2026, 11, 30))


def test_notifications_are_off_unless_a_channel_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_URL", "TEAMS_URL", "WEBHOOK_URL", "BLOCK"):
        monkeypatch.delenv(f"HITL_NOTIFY_{name}", raising=False)
    assert not Settings().notifications_configured
    monkeypatch.setenv("HITL_NOTIFY_WEBHOOK_URL", "https://hooks.example.org/x?token=T0KEN-41")
    settings = Settings()
    assert settings.notifications_configured and "T0KEN-41" not in repr(settings)
    with pytest.raises(ValueError, match="notify_reminder_hours"):
        Settings(notify_reminder_hours=0.001)  # under the 10 s Prefect's proactive triggers need
