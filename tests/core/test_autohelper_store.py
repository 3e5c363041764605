"""A run's stored tables: CSV copies keep formula-looking cells as text."""

from __future__ import annotations

import csv

import pandas as pd

from pipelines.core.autohelper_store import AutohelperStore
from tests.core.test_crowd import FORMULAS


def test_csv_export_keeps_formula_cells_and_names_text(tmp_path) -> None:
    frame = pd.DataFrame({"text": list(FORMULAS), "=label": ["pos"] * len(FORMULAS)})
    path = AutohelperStore(tmp_path).export_csv("final", frame)
    with path.open(newline="") as file:  # the csv module keeps a quoted carriage return inside its cell
        written = list(csv.DictReader(file))
    assert [row["text"] for row in written] == [f"'{value}" for value in FORMULAS]
    assert list(written[0]) == ["text", "'=label"]
