"""The audit trail of human decisions: who answered a pause, when, and with what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

UNKNOWN_ANALYST = "unknown (resumed outside the dashboard, e.g. from Prefect's UI or API)"


@dataclass(frozen=True)
class Decision:
    """One answered pause."""

    step: str
    resumed_by: str
    resumed_at: datetime
    answer: dict[str, Any]

    def as_row(self) -> dict[str, str]:
        return {
            "step": self.step,
            "resumed_by": self.resumed_by,
            "resumed_at": self.resumed_at.isoformat(timespec="seconds"),
            "input": ", ".join(f"{key}={value!r}" for key, value in self.answer.items()) or "(none)",
        }


def decision_from_answer(step: str, answer: dict[str, Any], resumed_at: datetime) -> Decision:
    """Split the analyst's name from the rest of a pause answer."""
    values = dict(answer)
    who = (values.pop("resumed_by", None) or "").strip() or UNKNOWN_ANALYST
    return Decision(step=step, resumed_by=who, resumed_at=resumed_at, answer=values)
