"""Where an autohelper run keeps its data: prepared items, predictions and the final split, as Parquet.

Predictions are written once by the flow and read by the page, so a slider move or a reload never recomputes
them. Files are written to a temporary name and renamed, so a reader never sees half a file, and a write that
fails (a full disk) leaves the previous version as it was and no partial file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.core.autohelper import Prediction
from pipelines.core.crowd import spreadsheet_csv

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


class UnsafeRunId(ValueError):
    """A run id that is not one, such as a path: it would name a folder outside the data folder."""


class TableNotWritten(OSError):
    """A table could not be written (e.g. the disk is full); its previous version, if any, is unchanged."""


TABLES = ("tasks", "golden", "predictions", "accepted", "manual", "final", "retrained")


@dataclass(frozen=True)
class AutohelperStore:
    """The folder of one run: `<data dir>/autohelper/<run id>/<table>.parquet`."""

    folder: Path

    @classmethod
    def for_run(cls, data_dir: Path, run_id: str) -> AutohelperStore:
        """The folder of run `run_id`, which must be a run id, never a path.

        Raises:
            UnsafeRunId: `run_id` has anything but letters, digits and dashes (a `/` or `..` would leave the folder).
        """
        if not _RUN_ID.fullmatch(str(run_id)):
            raise UnsafeRunId(f"{str(run_id)[:80]!r} is not a run id: give the autohelper run's id, like "
                              "'0b6e1c2a-5d1e-4f7e-9a47-3c1f2a9d8e10'.")
        return cls(Path(data_dir) / "autohelper" / str(run_id))

    def path(self, table: str) -> Path:
        if table not in TABLES:
            raise ValueError(f"Unknown table {table!r}; expected one of {', '.join(TABLES)}.")
        return self.folder / f"{table}.parquet"

    def write(self, table: str, frame: pd.DataFrame) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.path(table)
        _write_whole(final, final.with_suffix(".parquet.partial"),
                     lambda partial: frame.to_parquet(partial, index=False))
        return final

    def export_csv(self, table: str, frame: pd.DataFrame) -> Path:
        """A CSV copy of a table next to its Parquet file, also written whole or not at all; cells a spreadsheet
        would run as formulas are kept text (`spreadsheet_csv`)."""
        final = self.path(table).with_suffix(".csv")
        text = spreadsheet_csv(frame).encode()
        _write_whole(final, final.with_suffix(".csv.partial"), lambda partial: partial.write_bytes(text))
        return final

    def read(self, table: str) -> pd.DataFrame | None:
        path = self.path(table)
        return pd.read_parquet(path) if path.exists() else None


def _write_whole(final: Path, partial: Path, write: Callable[[Path], object]) -> None:
    """Write `final` through `partial`, renamed over it only once complete; on failure remove the partial file.

    Raises:
        TableNotWritten: the write failed (its cause says why, e.g. no space left); `final` is unchanged.
    """
    try:
        write(partial)
        os.replace(partial, final)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise TableNotWritten(exc.errno, f"{final.name} was not written ({exc.strerror or exc}); its previous "
                                         "version is kept. Free disk space in the data folder and run again.") from exc


def predictions_frame(predictions: list[Prediction], truth: pd.DataFrame, split: str) -> pd.DataFrame:
    """Predictions joined with the true labels (where known) and marked as golden or task items."""
    frame = pd.DataFrame([p.__dict__ for p in predictions])
    frame = frame.merge(truth[["item_id", "text", "label"]].rename(columns={"label": "true_label"}), on="item_id")
    frame["split"] = split
    frame["correct"] = frame["label"] == frame["true_label"]
    return frame
