"""The real crowd answers with gold labels in ../shared/data/crowd (Zheng et al., PVLDB 2017) the benchmarks read.

Not a benchmark itself (`make bench` skips files starting with `_`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

CROWD = Path(__file__).resolve().parents[2] / "shared" / "data" / "crowd"


def load_crowd(folder: str) -> tuple[pd.DataFrame, pd.Series]:
    """One dataset's answers as `task, worker, label` (strings) and its truth indexed by task."""
    answers = pd.read_csv(CROWD / folder / "answer.csv")
    answers.columns = ["task", "worker", "label"]
    truth = pd.read_csv(CROWD / folder / "truth.csv")
    truth.columns = ["task", "truth"]
    return answers.astype({"task": str, "label": str}), truth.astype(str).set_index("task")["truth"]
