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


def _label_chart_page() -> None:
    import pandas as pd

    from dashboard.panels.crowd_results import final_section

    # 10% negatives, and some items nobody labelled
    final = pd.DataFrame({"item": [f"i{n}" for n in range(200)], "text": ["a long review " * 40] * 200,
                          "label": ["neg"] * 20 + ["pos"] * 170 + [None] * 10,
                          "source": ["crowd"] * 15 + ["model"] * 5 + ["model"] * 120 + ["crowd"] * 50
                          + ["none"] * 10, "score": [0.9] * 200})
    final_section(final, final, [])


def test_the_label_chart_carries_counts_equal_to_the_table_not_its_rows() -> None:
    import base64
    import json

    import numpy as np

    def values(column: list | dict) -> list:  # plotly sends numbers as typed arrays
        if isinstance(column, dict):
            return np.frombuffer(base64.b64decode(column["bdata"]), dtype=column["dtype"]).tolist()
        return column

    app = AppTest.from_function(_label_chart_page, default_timeout=60)
    app.run()
    assert not app.exception
    traces = json.loads(app.get("plotly_chart")[0].proto.spec)["data"]
    drawn = {(trace["name"], label): count for trace in traces
             for label, count in zip(values(trace["x"]), values(trace["y"]))}
    assert drawn == {("crowd", "neg"): 15, ("model", "neg"): 5, ("model", "pos"): 120, ("crowd", "pos"): 50}
    assert sum(len(values(trace["x"])) for trace in traces) == 4  # four bars, never the 200 rows
