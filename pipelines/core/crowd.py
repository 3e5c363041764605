"""One interface for every crowd: submit a batch, watch progress, read answers, close; and the final table.

Backends: `LocalCrowd` (annotators label in the dashboard; answers in the answer store) and `SimulatedCrowd`
workers answering at once (demos, benchmarks, tests; every row they produce says it is simulated). Both follow a
batch's adaptive overlap (`pipelines.core.adaptive`) through the answer store.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from pipelines.core.adaptive import AdaptiveOverlap
from pipelines.core.aggregation import UNLABELLED, AggregationMethod, AggregationResult, aggregate, without_workers
from pipelines.core.answer_store import AnswerStore, BatchProgress
from pipelines.core.model_votes import ModelVotesInvalid, with_model_votes
from pipelines.core.simulated_crowd import SimulatedCrowd
from pipelines.core.threshold import DEFAULT_OVERLAP, DEFAULT_REWARD_PER_ANSWER

CrowdKind = Literal["local", "simulated", "toloka"]
CROWD_SOURCES = ("crowd", "simulated crowd")  # final-table sources of labels people (or simulated people) gave
NO_SOURCE = "none"  # the source of an `unlabelled` item
FINAL_COLUMNS = ["item", "text", "label", "source", "score"]
# Leading characters that make spreadsheets treat a cell as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CrowdBatch:
    """Items for people: `task, text` to label, plus golden `task, text, label` to check them with."""

    tasks: pd.DataFrame
    golden: pd.DataFrame
    labels: list[str]
    overlap: int = DEFAULT_OVERLAP
    reward_per_answer: float = DEFAULT_REWARD_PER_ANSWER
    owner: str | None = None  # who waits for the batch (a flow run id), told of progress and completion
    # Adaptive overlap when all three are given (then `overlap` is not used); None: `overlap` answers per item.
    min_answers: int | None = None
    max_answers: int | None = None
    stop_confidence: float | None = None
    # Adaptive only: start each task item from the model's label as a prior (`tasks` then carry `model_label` and
    # a calibrated `model_confidence`; see `pipelines.core.model_votes.with_model_priors`).
    model_prior: bool = False

    @property
    def adaptive(self) -> AdaptiveOverlap | None:
        """The batch's adaptive overlap, or None for a fixed overlap."""
        if self.min_answers is None and self.max_answers is None and self.stop_confidence is None:
            return None
        if self.min_answers is None or self.max_answers is None or self.stop_confidence is None:
            raise ValueError("Adaptive overlap needs min_answers, max_answers and stop_confidence, all three.")
        return AdaptiveOverlap(self.min_answers, self.max_answers, self.stop_confidence)


@dataclass(frozen=True)
class Closed:
    """What closing a batch did: answers fetched from an outside crowd on the way, and why each refused one was not
    stored (a label outside the batch's labels, an unknown item)."""

    fetched: int = 0
    refused: tuple[str, ...] = ()


class CrowdBackend(Protocol):
    kind: CrowdKind

    def submit(self, batch: CrowdBatch) -> int: ...
    def progress(self, batch_id: int) -> BatchProgress: ...
    def answers(self, batch_id: int) -> pd.DataFrame: ...
    def close(self, batch_id: int) -> Closed: ...


def _store_items(batch: CrowdBatch) -> pd.DataFrame:
    columns = ["task", "text", "is_golden", "golden_label"]
    if batch.model_prior:
        if batch.adaptive is None or not {"model_label", "model_confidence"} <= set(batch.tasks.columns):
            raise ValueError("The model's label as a prior needs adaptive overlap and tasks with model_label and "
                             "model_confidence.")
        columns += ["model_label", "model_confidence"]
    tasks = batch.tasks.assign(is_golden=False, golden_label=None)[columns]
    golden = batch.golden.rename(columns={"label": "golden_label"}).assign(is_golden=True)
    return pd.concat([tasks, golden[["task", "text", "is_golden", "golden_label"]]], ignore_index=True)


class LocalCrowd:
    """Annotators in the dashboard, answers in a real database. The other backends keep their batches through one
    of these too, under their own `source`, and add what their crowd does."""

    kind: CrowdKind = "local"

    def __init__(self, store: AnswerStore, source: str | None = None) -> None:
        self.store = store
        self.source = source or self.kind

    def submit(self, batch: CrowdBatch) -> int:
        return self.store.create_batch(_store_items(batch), batch.overlap, batch.labels, batch.owner,
                                       source=self.source, adaptive=batch.adaptive)

    def progress(self, batch_id: int) -> BatchProgress:
        return self.store.progress(batch_id)

    def answers(self, batch_id: int) -> pd.DataFrame:
        return self.store.answers(batch_id)

    def close(self, batch_id: int) -> Closed:
        self.store.close(batch_id)
        return Closed()


class SimulatedCrowdBackend:
    """Simulated workers answer the whole batch at once, through the same store as people would.

    With adaptive overlap they answer in rounds: `min_answers` on every item, then one more answer on each item
    that still needs one, until none does. Each item's answers are drawn up front from `max_answers` distinct
    workers and given in that order, so an item's k-th answer is the same whenever it is asked for.
    """

    kind: CrowdKind = "simulated"

    def __init__(self, store: AnswerStore, crowd: SimulatedCrowd) -> None:
        self.store = store
        self.batches = LocalCrowd(store, source=self.kind)
        self.crowd = crowd

    def progress(self, batch_id: int) -> BatchProgress:
        return self.batches.progress(batch_id)

    def answers(self, batch_id: int) -> pd.DataFrame:
        return self.batches.answers(batch_id)

    def close(self, batch_id: int) -> Closed:
        return self.batches.close(batch_id)

    def submit(self, batch: CrowdBatch) -> int:
        batch_id = self.batches.submit(batch)
        # Simulated workers are right or wrong about the dataset's own label where it has one (`true_label`),
        # else about the model's label, and about the golden label on golden items.
        column = "true_label" if "true_label" in batch.tasks else "model_label"
        truth = pd.concat([batch.tasks.set_index("task")[column], batch.golden.set_index("task")["label"]])
        rule = batch.adaptive
        if rule is None:
            self.store.record_answers(batch_id, self.crowd.answer(truth, batch.labels, batch.overlap))
            return batch_id
        drawn = self.crowd.answer(truth, batch.labels, rule.max_answers)
        drawn = drawn.assign(task=drawn.task.astype(str), turn=drawn.groupby("task").cumcount())
        # Golden items too get their first answers: the batch learns p.
        self.store.record_answers(batch_id, drawn[drawn.turn < rule.min_answers])
        given = dict.fromkeys(drawn.task, rule.min_answers)
        by_turn = drawn.set_index(["task", "turn"])
        while needing := self.store.tasks_needing_answers(batch_id):
            # A round: one more answer on each item that needed one when the round began, judged one by one.
            turns = [(task, given[task]) for task in needing]
            self.store.record_answers(batch_id, by_turn.loc[turns].reset_index())
            for task in needing:
                given[task] += 1
        return batch_id


def _by_text_key(values: pd.Series) -> pd.Series:
    # The answer store keeps task ids as text; look items up by their text form so ids of any type match.
    return values.set_axis(values.index.astype(str))


def final_table(model_accepted: pd.DataFrame, crowd_items: pd.DataFrame, result: AggregationResult | None,
                simulated: bool) -> pd.DataFrame:
    """Every item with its final label: `item, text, label, source, score` (confidence or agreement).

    Crowd items without an aggregated label (a batch closed early, or `result` None) are `unlabelled`, source
    `none`, no score. Either part may be empty: a threshold can accept every task, or none.
    """
    from_model = pd.DataFrame({"item": model_accepted.item_id, "text": model_accepted.text,
                               "label": model_accepted.label, "source": "model",
                               "score": model_accepted.confidence.astype(float)})
    crowd = pd.DataFrame({"item": crowd_items.task, "text": crowd_items.text})
    keys = crowd.item.astype(str)
    labels = result.labels if result is not None else pd.Series(dtype=object)
    confidence = result.confidence if result is not None else pd.Series(dtype=float)
    crowd["label"] = keys.map(_by_text_key(labels)).to_numpy()
    crowd["score"] = keys.map(_by_text_key(confidence)).astype(float).to_numpy()
    answered = crowd.label.notna()
    crowd["source"] = np.where(answered, "simulated crowd" if simulated else "crowd", NO_SOURCE)
    crowd["label"] = crowd.label.where(answered, UNLABELLED).astype(str)
    parts = [part[FINAL_COLUMNS] for part in (from_model, crowd) if len(part)]
    if not parts:
        return pd.DataFrame({column: pd.Series(dtype=float if column == "score" else str)
                             for column in FINAL_COLUMNS})
    return pd.concat(parts, ignore_index=True)


def final_table_from_answers(model_accepted: pd.DataFrame, crowd_items: pd.DataFrame, answers: pd.DataFrame,
                             method: AggregationMethod, simulated: bool, exclude_workers: Collection[str] = (),
                             model_votes: bool = False) -> tuple[pd.DataFrame, AggregationResult | None]:
    """Aggregate the answers on the crowd items (golden answers and `exclude_workers`' left out) and build the
    final table, with a `model_influenced` column; the aggregation result too (None when no answer is left).

    With `model_votes`, the model's label (`crowd_items`' `model_label`, by `model_version`) joins the answers on
    every item a person answered (see `pipelines.core.model_votes`); an item nobody answered stays unlabelled.
    `model_influenced` marks the items whose label differs from the label people's answers alone give.
    """
    kept = without_workers(answers, exclude_workers)
    on_items = kept[kept.task.astype(str).isin(set(crowd_items.task.astype(str)))]
    result = aggregate(on_items, method) if len(on_items) else None
    table = final_table(model_accepted, crowd_items, result, simulated)
    if not model_votes or result is None:
        return table.assign(model_influenced=False), result
    voted = aggregate(with_model_votes(on_items, _model_predictions(crowd_items, set(on_items.task.astype(str)))),
                      method)
    with_votes = final_table(model_accepted, crowd_items, voted, simulated)
    return with_votes.assign(model_influenced=(with_votes.label != table.label).to_numpy()), voted


def _model_predictions(crowd_items: pd.DataFrame, answered: set[str]) -> pd.DataFrame:
    if "model_label" not in crowd_items.columns:
        raise ModelVotesInvalid("The model can vote only on crowd items that carry its label (`model_label`); "
                                f"the items have {', '.join(map(str, crowd_items.columns))}.")
    items = crowd_items[crowd_items.task.astype(str).isin(answered)]
    versions = items.model_version if "model_version" in items.columns else "model"
    return pd.DataFrame({"item_id": items.task.astype(str), "label": items.model_label, "model_version": versions})


def reaggregated(final: pd.DataFrame, answers: pd.DataFrame, method: AggregationMethod, simulated: bool,
                 exclude_workers: Collection[str], model_predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """A final table with its crowd part aggregated again without `exclude_workers`' answers; the model part and
    the order of items stay as they were. With `model_predictions` (the manual items' `item_id, label,
    model_version`), the model votes again as it did in the run."""
    from_model = final[final.source == "model"]
    model_accepted = pd.DataFrame({"item_id": from_model.item, "text": from_model.text, "label": from_model.label,
                                   "confidence": from_model.score})
    crowd_items = final[final.source != "model"].rename(columns={"item": "task"})[["task", "text"]]
    if model_predictions is not None:
        predicted = model_predictions.set_axis(model_predictions.item_id.astype(str))
        keys = crowd_items.task.astype(str)
        crowd_items = crowd_items.assign(model_label=keys.map(predicted.label).to_numpy(),
                                         model_version=keys.map(predicted.model_version).to_numpy())
    return final_table_from_answers(model_accepted, crowd_items, answers, method, simulated, exclude_workers,
                                    model_votes=model_predictions is not None)[0]


def crowd_labelled(final: pd.DataFrame) -> pd.DataFrame:
    """The rows of a final table that people labelled (not the model's, not `unlabelled`)."""
    return final[final.source.isin(CROWD_SOURCES)]


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells and column names that a spreadsheet would run as formulas, prefixed with a quote so they stay
    text. Applying it twice changes nothing more."""
    def neutralise(value: object) -> object:
        return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value

    def neutralise_column(column: pd.Series) -> pd.Series:
        # Vectorised: a 90,000-row final table has a million cells, one Python call each took seconds.
        if not (column.dtype == object or pd.api.types.is_string_dtype(column)):
            return column
        try:
            formula = column.str.startswith(_FORMULA_STARTS, na=False).astype(bool)
        except AttributeError:  # an object column with no text in it
            return column
        if not formula.any():
            return column
        safe = column.copy()
        safe[formula] = "'" + column[formula].astype(str)
        return safe

    return frame.apply(neutralise_column).rename(columns=neutralise)


def spreadsheet_csv(frame: pd.DataFrame) -> str:
    """`frame` as CSV text for spreadsheets: formula cells neutralised (`spreadsheet_safe`), and every cell with a
    line break quoted (CRLF rows), so a carriage return inside a cell cannot start a row with a formula."""
    return spreadsheet_safe(frame).to_csv(index=False, lineterminator="\r\n")
