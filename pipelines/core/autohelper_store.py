"""Where an autohelper run keeps its data: prepared items, predictions and the final split, as Parquet.

Predictions are written once by the flow and read by the page, so a slider move or a reload never recomputes
them. Tables live in the run-data store (`pipelines.core.run_data`), each written whole, so a reader never sees
half a table, and a write that fails (a full disk) leaves the previous version as it was; in laptop mode they are
the files `<data dir>/autohelper/<run id>/<table>.parquet`. A large table (a run's predictions) can be written a
chunk at a time, each chunk a Parquet row group, and is stored whole once the last chunk is in.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from pipelines.core.autohelper import Prediction
from pipelines.core.crowd import spreadsheet_csv
from pipelines.core.run_data import RunDataStore, UnsafeRunId, check_run_id

__all__ = ["TABLES", "AutohelperStore", "UnsafeRunId", "predictions_frame"]

TABLES = ("tasks", "golden", "predictions", "accepted", "manual", "final", "retrained")


@dataclass(frozen=True)
class AutohelperStore:
    """The tables of one run: `autohelper/<run id>/<table>.parquet` in the run-data store."""

    run_data: RunDataStore
    prefix: str  # autohelper/<run id>

    @classmethod
    def for_run(cls, run_data: RunDataStore, run_id: str) -> AutohelperStore:
        """The tables of run `run_id`, which must be a run id, never a path.

        Raises:
            UnsafeRunId: `run_id` has anything but letters, digits and dashes (a `/` or `..` would leave the run's
                place).
        """
        return cls(run_data, f"autohelper/{check_run_id(run_id)}")

    def key(self, table: str, suffix: str = ".parquet") -> str:
        if table not in TABLES:
            raise ValueError(f"Unknown table {table!r}; expected one of {', '.join(TABLES)}.")
        return f"{self.prefix}/{table}{suffix}"

    def write(self, table: str, frame: pd.DataFrame) -> str:
        """Store a table whole; returns where it lies (a file path, or the database and key)."""
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return self.run_data.put(self.key(table), buffer.getvalue())

    def write_chunks(self, table: str, chunks: Iterable[pd.DataFrame]) -> str:
        """Store a table given a chunk at a time, each chunk a Parquet row group, holding only the compressed file
        and one chunk at once; it is stored whole after the last chunk, so a reader never sees part of it, and a
        failed chunk leaves any previous version as it was. Chunks after the first are cast to the first one's
        column types. Returns where it lies."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        writer: pq.ParquetWriter | None = None
        try:
            for chunk in chunks:
                rows = pa.Table.from_pandas(chunk, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(buffer, rows.schema)
                writer.write_table(rows.cast(writer.schema))
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            return self.write(table, pd.DataFrame())
        return self.run_data.put(self.key(table), buffer.getvalue())

    def export_csv(self, table: str, frame: pd.DataFrame) -> str:
        """A CSV copy of a table next to its Parquet one, also written whole or not at all; cells a spreadsheet
        would run as formulas are kept text (`spreadsheet_csv`). Returns where it lies."""
        return self.run_data.put(self.key(table, ".csv"), spreadsheet_csv(frame).encode())

    def read(self, table: str) -> pd.DataFrame | None:
        data = self.run_data.get(self.key(table))
        return None if data is None else pd.read_parquet(io.BytesIO(data))


def predictions_frame(predictions: list[Prediction], truth: pd.DataFrame, split: str) -> pd.DataFrame:
    """Predictions joined with the true labels (where known) and marked as golden or task items."""
    frame = pd.DataFrame([p.__dict__ for p in predictions])
    frame = frame.merge(truth[["item_id", "text", "label"]].rename(columns={"label": "true_label"}), on="item_id")
    frame["split"] = split
    frame["correct"] = frame["label"] == frame["true_label"]
    return frame
