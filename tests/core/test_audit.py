from __future__ import annotations

from datetime import datetime, timezone

from pipelines.core.audit import UNKNOWN_ANALYST, decision_from_answer

WHEN = datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)


def test_named_analyst_and_input_are_recorded() -> None:
    decision = decision_from_answer("approval", {"resumed_by": " Dana ", "create_artifact": True}, WHEN)
    assert decision.resumed_by == "Dana" and decision.answer == {"create_artifact": True}
    assert decision.as_row() == {
        "step": "approval", "resumed_by": "Dana", "resumed_at": "2026-11-23T09:30:00+00:00",
        "input": "create_artifact=True",
    }


def test_resume_without_a_name_says_it_came_from_outside_the_dashboard() -> None:
    assert decision_from_answer("user count", {"number_of_users": 3}, WHEN).resumed_by == UNKNOWN_ANALYST
