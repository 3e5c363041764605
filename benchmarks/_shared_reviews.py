"""The shared labelled review sentences (../shared/data/reviews: Yelp + IMDb) the benchmarks read.

Not a benchmark itself (`make bench` skips files starting with `_`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.core.reviews import PreparedDataset, prepare_dataset

REVIEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "reviews"
FILES = ("yelp_labelled.txt", "imdb_labelled.txt")


def shared_reviews() -> pd.DataFrame | None:
    """Every sentence with its 0/1 label (first two columns), or None when ../shared is absent."""
    if not REVIEWS.exists():
        return None
    return pd.concat([pd.read_csv(REVIEWS / name, sep="\t", quoting=3) for name in FILES], ignore_index=True)


def golden_split(data: pd.DataFrame) -> PreparedDataset:
    """All usable sentences, a seeded, balanced 10% of them golden, the rest tasks."""
    text_column, label_column = data.columns[:2]
    usable = data[text_column].dropna().str.strip().drop_duplicates().size
    n_golden = round(0.1 * usable)
    return prepare_dataset(data, text_column, label_column, {1: "pos", 0: "neg"},
                           n_tasks=usable - n_golden, n_golden=n_golden, seed=0)
