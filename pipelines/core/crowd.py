"""One interface for every crowd: submit a batch, watch progress, read answers, close; and the final table.

Backends: `LocalCrowd` (annotators label in the dashboard; answers in the answer store) and `SimulatedCrowd`
workers answering at once (demos, benchmarks, tests; every row they produce says it is simulated).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import pandas as pd

from pipelines.core.aggregation import AggregationResult
from pipelines.core.answer_store import AnswerStore
from pipelines.core.simulated_crowd import SimulatedCrowd

CrowdKind = Literal["local", "simulated", "toloka"]
# Leading characters that make spreadsheets treat a cell as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CrowdBatch:
    """Items for people: `task, text` to label, plus golden `task, text, label` to check them with."""

    tasks: pd.DataFrame
    golden: pd.DataFrame
    labels: list[str]
    overlap: int = 3
    reward_per_answer: float = 0.01
    owner: str | None = None  # who waits for the batch (a flow run id), told of progress and completion


@dataclass(frozen=True)
class CrowdProgress:
    answers: int
    needed: int

    @property
    def complete(self) -> bool:
        return self.answers >= self.needed


class CrowdBackend(Protocol):
    kind: CrowdKind

    def submit(self, batch: CrowdBatch) -> int: ...
    def progress(self, batch_id: int) -> CrowdProgress: ...
    def answers(self, batch_id: int) -> pd.DataFrame: ...
    def close(self, batch_id: int) -> None: ...


def _store_items(batch: CrowdBatch) -> pd.DataFrame:
    tasks = batch.tasks.assign(is_golden=False, golden_label=None)[["task", "text", "is_golden", "golden_label"]]
    golden = batch.golden.rename(columns={"label": "golden_label"}).assign(is_golden=True)
    return pd.concat([tasks, golden[["task", "text", "is_golden", "golden_label"]]], ignore_index=True)


class LocalCrowd:
    """Annotators in the dashboard, answers in a real database."""

    kind: CrowdKind = "local"

    def __init__(self, store: AnswerStore) -> None:
        self.store = store

    def submit(self, batch: CrowdBatch) -> int:
        return self.store.create_batch(_store_items(batch), batch.overlap, batch.labels, batch.owner,
                                       source=self.kind)

    def progress(self, batch_id: int) -> CrowdProgress:
        counts = self.store.progress(batch_id)
        return CrowdProgress(counts["answers"], counts["needed"])

    def answers(self, batch_id: int) -> pd.DataFrame:
        return self.store.answers(batch_id)

    def close(self, batch_id: int) -> None:
        self.store.close(batch_id)


class SimulatedCrowdBackend(LocalCrowd):
    """Simulated workers answer the whole batch at once, through the same store as people would."""

    kind: CrowdKind = "simulated"

    def __init__(self, store: AnswerStore, crowd: SimulatedCrowd) -> None:
        super().__init__(store)
        self.crowd = crowd

    def submit(self, batch: CrowdBatch) -> int:
        batch_id = super().submit(batch)
        # Simulated workers are right or wrong about the dataset's own label where it has one (`true_label`),
        # else about the model's label, and about the golden label on golden items.
        column = "true_label" if "true_label" in batch.tasks else "model_label"
        truth = pd.concat([batch.tasks.set_index("task")[column], batch.golden.set_index("task")["label"]])
        for row in self.crowd.answer(truth, batch.labels, batch.overlap).itertuples():
            self.store.record_answer(batch_id, str(row.task), row.worker, row.label)
        return batch_id


def final_table(model_accepted: pd.DataFrame, crowd_items: pd.DataFrame, result: AggregationResult | None,
                simulated: bool) -> pd.DataFrame:
    """Every item with its final label: `item, text, label, source, score` (confidence or agreement).

    Crowd items nobody answered (a batch closed early, or `result` None) keep an empty label.
    """
    aggregated = (pd.DataFrame({"label": result.labels, "score": result.confidence}) if result is not None
                  else pd.DataFrame({"label": pd.Series(dtype=object), "score": pd.Series(dtype=float)}))
    from_model = pd.DataFrame({"item": model_accepted.item_id, "text": model_accepted.text,
                               "label": model_accepted.label, "source": "model",
                               "score": model_accepted.confidence})
    crowd = crowd_items.rename(columns={"task": "item"})[["item", "text"]].merge(
        aggregated, left_on="item", right_index=True, how="left")
    crowd["source"] = "simulated crowd" if simulated else "crowd"
    return pd.concat([from_model, crowd[["item", "text", "label", "source", "score"]]], ignore_index=True)


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as formulas, prefixed with a quote so they stay text."""
    def neutralise(value: object) -> object:
        return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value

    return frame.apply(lambda column: column.map(neutralise)
                       if column.dtype == object or pd.api.types.is_string_dtype(column) else column)
