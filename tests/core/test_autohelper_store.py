"""A run's stored tables: CSV copies keep formula-looking cells as text; a run id never names a folder elsewhere."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from pipelines.core.autohelper_store import AutohelperStore, UnsafeRunId
from pipelines.core.run_data import FolderRunData
from tests.core.test_crowd import FORMULAS


def test_csv_export_keeps_formula_cells_and_names_text(tmp_path) -> None:
    frame = pd.DataFrame({"text": list(FORMULAS), "=label": ["pos"] * len(FORMULAS)})
    path = Path(AutohelperStore.for_run(FolderRunData(tmp_path), "run-1").export_csv("final", frame))
    with path.open(newline="") as file:  # the csv module keeps a quoted carriage return inside its cell
        written = list(csv.DictReader(file))
    assert [row["text"] for row in written] == [f"'{value}" for value in FORMULAS]
    assert list(written[0]) == ["text", "'=label"]


@pytest.mark.parametrize("run_id", ["../../x", "a/b", "/etc", "..", "", "x\n"])
def test_a_run_id_that_is_a_path_is_refused(tmp_path, run_id: str) -> None:
    with pytest.raises(UnsafeRunId, match="is not a run id"):
        AutohelperStore.for_run(FolderRunData(tmp_path), run_id)
    assert not any(tmp_path.iterdir())


def test_a_run_id_names_its_folder_under_the_data_folder(tmp_path) -> None:
    run_id = "0b6e1c2a-5d1e-4f7e-9a47-3c1f2a9d8e10"
    written = AutohelperStore.for_run(FolderRunData(tmp_path), run_id).write("final", pd.DataFrame({"item": ["a"]}))
    assert Path(written) == tmp_path / "autohelper" / run_id / "final.parquet"
