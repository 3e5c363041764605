"""What the crowd results' CSV download gives: formula-looking cells stay text (AppTest, no backend)."""

from __future__ import annotations

import csv
import io

import pytest
from streamlit.testing.v1 import AppTest

from tests.core.test_crowd import FORMULAS
from tests.dashboard.views.test_crowd_results import _KeptMediaStorage

pytestmark = pytest.mark.hostile


def _final_table_page() -> None:
    import pandas as pd

    from dashboard.panels.crowd_results import final_section
    from tests.core.test_crowd import FORMULAS

    final = pd.DataFrame({"item": [f"i{n}" for n in range(len(FORMULAS))], "text": list(FORMULAS),
                          "label": ["pos"] * len(FORMULAS), "source": ["crowd"] * len(FORMULAS),
                          "score": [0.9] * len(FORMULAS)})
    final_section(final, final, [])


def test_csv_download_keeps_formula_cells_text(monkeypatch) -> None:
    monkeypatch.setattr("streamlit.testing.v1.app_test.MemoryMediaFileStorage", _KeptMediaStorage)
    app = AppTest.from_function(_final_table_page)
    app.run()
    assert not app.exception
    button = app.get("download_button")[0]
    content = _KeptMediaStorage.last.get_file(button.proto.url.rsplit("/", 1)[-1]).content
    downloaded = csv.DictReader(io.StringIO(content.decode(), newline=""))
    assert [row["text"] for row in downloaded] == [f"'{value}" for value in FORMULAS]
