"""Label values from the data, quoted in the flows' pause descriptions and artifacts, render as text."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.core.features import profile_columns
from pipelines.flows.autohelper import model_summary
from pipelines.flows.crowd import _final_description
from pipelines.flows.features import profile_description
from tests.hostile import HOSTILE, HOSTILE_PARTS, assert_shown_as_text

pytestmark = pytest.mark.hostile


def test_final_table_description_shows_a_hostile_label_in_a_warning_as_text() -> None:
    table = pd.DataFrame({"source": ["crowd"], "label": [HOSTILE]})
    description = _final_description(table, "MV", False, [f"Every answer was {HOSTILE}."], None, False)
    assert_shown_as_text(description, f"Warning: Every answer was {HOSTILE}.")


def test_model_summary_shows_a_hostile_majority_label_as_text() -> None:
    summary = model_summary("m", None, "offline.", 0.4, (HOSTILE, 0.9))
    assert_shown_as_text(summary, f"always answering {HOSTILE!r}")


def test_feature_question_shows_a_hostile_user_value_as_text() -> None:
    value = f"{HOSTILE_PARTS[2]} {HOSTILE_PARTS[0]}"  # short enough to be shown whole as the example
    description = profile_description(profile_columns([{"email": value}]))
    assert_shown_as_text(description, f"email (str), e.g. {value}, missing 0%")
