"""Where an autohelper run keeps its data: prepared items, predictions and the final split, as Parquet.

Predictions are written once by the flow and read by the page, so a slider move or a reload never recomputes
them. Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.core.autohelper import Prediction
from pipelines.core.crowd import spreadsheet_csv

TABLES = ("tasks", "golden", "predictions", "accepted", "manual", "final", "retrained")


@dataclass(frozen=True)
class AutohelperStore:
    """The folder of one run: `<data dir>/autohelper/<run id>/<table>.parquet`."""

    folder: Path

    @classmethod
    def for_run(cls, data_dir: Path, run_id: str) -> AutohelperStore:
        return cls(Path(data_dir) / "autohelper" / str(run_id))

    def path(self, table: str) -> Path:
        if table not in TABLES:
            raise ValueError(f"Unknown table {table!r}; expected one of {', '.join(TABLES)}.")
        return self.folder / f"{table}.parquet"

    def write(self, table: str, frame: pd.DataFrame) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.path(table)
        partial = final.with_suffix(".parquet.partial")
        frame.to_parquet(partial, index=False)
        os.replace(partial, final)
        return final

    def export_csv(self, table: str, frame: pd.DataFrame) -> Path:
        """A CSV copy of a table next to its Parquet file, also written whole or not at all; cells a spreadsheet
        would run as formulas are kept text (`spreadsheet_csv`)."""
        final = self.path(table).with_suffix(".csv")
        partial = final.with_suffix(".csv.partial")
        partial.write_bytes(spreadsheet_csv(frame).encode())
        os.replace(partial, final)
        return final

    def read(self, table: str) -> pd.DataFrame | None:
        path = self.path(table)
        return pd.read_parquet(path) if path.exists() else None


def predictions_frame(predictions: list[Prediction], truth: pd.DataFrame, split: str) -> pd.DataFrame:
    """Predictions joined with the true labels (where known) and marked as golden or task items."""
    frame = pd.DataFrame([p.__dict__ for p in predictions])
    frame = frame.merge(truth[["item_id", "text", "label"]].rename(columns={"label": "true_label"}), on="item_id")
    frame["split"] = split
    frame["correct"] = frame["label"] == frame["true_label"]
    return frame
