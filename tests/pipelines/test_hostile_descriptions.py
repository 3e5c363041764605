"""Label values from the data, quoted in the flows' pause descriptions and artifacts, render as text."""

from __future__ import annotations

import pandas as pd

from pipelines.flows.autohelper import model_summary
from pipelines.flows.crowd import _final_description
from tests.hostile import HOSTILE, assert_shown_as_text


def test_final_table_description_shows_a_hostile_label_in_a_warning_as_text() -> None:
    table = pd.DataFrame({"source": ["crowd"], "label": [HOSTILE]})
    description = _final_description(table, "MV", False, [f"Every answer was {HOSTILE}."], None, False)
    assert_shown_as_text(description, f"Warning: Every answer was {HOSTILE}.")


def test_model_summary_shows_a_hostile_majority_label_as_text() -> None:
    summary = model_summary("m", None, "offline.", 0.4, (HOSTILE, 0.9))
    assert_shown_as_text(summary, f"always answering {HOSTILE!r}")
