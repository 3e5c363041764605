"""Table artifacts stay under the server's event size limit: a bounded preview that says where the whole table is."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.flows.common import PREVIEW_MAX_BYTES, table_preview

EVENT_LIMIT_BYTES = 1_500_000  # the Prefect server refuses to publish larger events


def _final_table(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"item": [f"item-{i}" for i in range(n)],
                         "text": [f"Review number {i}: the kettle works exactly as described." for i in range(n)],
                         "label": rng.choice(["pos", "neg"], n), "confidence": rng.random(n),
                         "source": rng.choice(["model", "simulated crowd", None], n)})


def test_a_100k_row_table_publishes_a_preview_under_the_event_limit_naming_the_whole_tables_files() -> None:
    table = _final_table(100_000)
    parquet, csv = Path("/data/autohelper/run/final.parquet"), Path("/data/autohelper/run/final.csv")
    rows, note = table_preview(table, parquet, csv)
    assert 0 < len(rows) < len(table)
    assert len(json.dumps(rows)) <= PREVIEW_MAX_BYTES < EVENT_LIMIT_BYTES
    assert rows == table.head(len(rows)).astype(object).where(table.head(len(rows)).notna(), None).to_dict("records")
    assert note == (f"This artifact shows the first {len(rows)} of 100000 rows; the whole table is in "
                    f"`{parquet}` and `{csv}`.")


def test_a_small_table_is_published_whole_without_a_note() -> None:
    table = _final_table(60)
    rows, note = table_preview(table, Path("final.parquet"))
    assert len(rows) == 60 and note == ""


def test_a_one_megabyte_review_is_cut_in_the_preview_only() -> None:
    table = _final_table(3)
    table.loc[1, "text"] = "Long. " * 200_000
    rows, note = table_preview(table, Path("accepted.parquet"))
    assert len(rows) == 3 and len(json.dumps(rows)) <= PREVIEW_MAX_BYTES
    assert rows[1]["text"].endswith("…") and rows[0]["text"] == table.text[0]
    assert note == "This artifact shows the first 3 of 3 rows, long texts cut; the whole table is in `accepted.parquet`."
