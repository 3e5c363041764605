"""The retrain report as the panel draws it, from a report dict alone (no backend needed)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest


def _report_page(agreement: float, warnings: list[str]) -> AppTest:
    def page(agreement: float, warnings: list[str]) -> None:
        from dashboard.panels.retrain import _show_report

        forecast = {"threshold": 0.9, "to_crowd": 10, "accepted": 30, "golden_accepted": 40,
                    "golden_accuracy": 0.95, "dataset_accuracy": 0.94}
        _show_report({"before": forecast, "after": forecast, "warnings": warnings, "crowd_agreement": agreement,
                      "golden_accuracy_before": 0.9, "golden_accuracy_after": 0.9, "target_accuracy": 0.95,
                      "golden": 40, "crowd_labels": 10})

    app = AppTest.from_function(page, args=(agreement, warnings), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


@pytest.mark.parametrize(("agreement", "warnings", "comment"), [
    (1.0, [], "learnt them, not that they are right"),
    (1.0, ["The crowd's answers on golden items are right 40% of the time."], "no gain"),
    (0.9, [], None),
])
def test_full_agreement_with_the_crowd_never_stands_without_a_comment(agreement, warnings, comment) -> None:
    captions = " ".join(c.value for c in _report_page(agreement, warnings).caption)
    if comment is None:
        assert "learnt them" not in captions and "no gain" not in captions
    else:
        assert comment in captions
