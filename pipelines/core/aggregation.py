"""Aggregating crowd answers with crowd-kit: one entry point, every method, comparisons on golden items.

Answers are a long frame with exactly `task, worker, label`, selected on entry so a missing column fails at once.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

AggregationMethod = Literal["DawidSkene", "MajorityVote", "Wawa", "GLAD", "MACE", "OneCoinDawidSkene"]
METHODS: tuple[AggregationMethod, ...] = ("DawidSkene", "MajorityVote", "Wawa", "GLAD", "MACE", "OneCoinDawidSkene")
ANSWER_COLUMNS = ["task", "worker", "label"]
_ITERATIVE = {"DawidSkene": 20, "OneCoinDawidSkene": 20, "GLAD": 20, "MACE": 20}  # n_iter 20 as seed 003


class AnswersInvalid(ValueError):
    """Answers that do not follow the `task, worker, label` contract."""


class DuplicateAnswersWarning(UserWarning):
    """A worker answered the same task more than once; only the first answer is kept."""


@dataclass(frozen=True)
class AggregationResult:
    method: AggregationMethod
    labels: pd.Series  # indexed by task, named "agg_label"
    confidence: pd.Series  # posterior of the chosen label, or the share of workers who agreed
    worker_skills: pd.Series | None


def validate_answers(answers: pd.DataFrame) -> pd.DataFrame:
    """The answers as `task, worker, label`, one per (task, worker): the first is kept, with a warning."""
    missing = [c for c in ANSWER_COLUMNS if c not in answers.columns]
    if missing:
        raise AnswersInvalid(f"Answers need columns task, worker, label; missing {', '.join(missing)} "
                             f"(present: {', '.join(map(str, answers.columns))}).")
    frame = answers[ANSWER_COLUMNS].dropna()
    if frame.empty:
        raise AnswersInvalid("There are no answers to aggregate.")
    duplicated = frame.duplicated(["task", "worker"])
    if duplicated.any():
        warnings.warn(f"{int(duplicated.sum())} repeated (task, worker) answers dropped; the first is kept.",
                      DuplicateAnswersWarning, stacklevel=2)
        frame = frame[~duplicated]
    return frame.reset_index(drop=True)


def _agreement(answers: pd.DataFrame, labels: pd.Series) -> pd.Series:
    chosen = answers.merge(labels.rename("chosen"), left_on="task", right_index=True)
    return (chosen.label == chosen.chosen).groupby(chosen.task).mean()


def aggregate(answers: pd.DataFrame, method: AggregationMethod = "DawidSkene", **params: Any) -> AggregationResult:
    """Aggregate with one crowd-kit method; `params` go to its constructor (n_iter defaults to 20)."""
    from crowdkit import aggregation

    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; should be one of {', '.join(METHODS)}.")
    frame = validate_answers(answers)
    if method in _ITERATIVE:
        params.setdefault("n_iter", _ITERATIVE[method])
    estimator = getattr(aggregation, method)(**params)
    labels = estimator.fit_predict(frame).rename("agg_label")
    probas = getattr(estimator, "probas_", None)
    if probas is not None:
        confidence = probas.max(axis=1).reindex(labels.index)
    else:
        confidence = _agreement(frame, labels).reindex(labels.index)
    skills = getattr(estimator, "skills_", None)
    return AggregationResult(method, labels, confidence.rename("confidence"), skills)


def accuracy_on(labels: pd.Series, gold: pd.Series) -> tuple[float, int]:
    """Accuracy of aggregated labels on the gold tasks that have them, and how many there were."""
    shared = labels.index.intersection(gold.index)
    if shared.empty:
        return float("nan"), 0
    return float((labels.loc[shared].astype(str) == gold.loc[shared].astype(str)).mean()), len(shared)


def compare_methods(answers: pd.DataFrame, gold: pd.Series | None = None,
                    methods: Sequence[AggregationMethod] = METHODS) -> tuple[pd.DataFrame, dict[str, AggregationResult]]:
    """Every method on the same answers: accuracy on gold and time taken, plus each result."""
    rows, results = [], {}
    for method in methods:
        started = time.perf_counter()
        result = aggregate(answers, method)
        seconds = time.perf_counter() - started
        accuracy, n_gold = accuracy_on(result.labels, gold) if gold is not None else (np.nan, 0)
        rows.append({"method": method, "accuracy": accuracy, "n_gold": n_gold, "seconds": round(seconds, 3)})
        results[method] = result
    return pd.DataFrame(rows), results


def disagreements(results: dict[str, AggregationResult]) -> pd.DataFrame:
    """Tasks where the methods do not all agree, one column per method."""
    table = pd.DataFrame({method: result.labels for method, result in results.items()})
    return table[table.astype(str).nunique(axis=1) > 1]


def worker_table(answers: pd.DataFrame, gold: pd.Series, skills: pd.Series | None = None) -> pd.DataFrame:
    """Per worker: answers given, accuracy on golden items (NaN without any), and a skill estimate if given."""
    frame = validate_answers(answers)
    on_gold = frame[frame.task.isin(gold.index)]
    golden_accuracy = (on_gold.label.astype(str) == gold.loc[on_gold.task].astype(str).to_numpy()).groupby(
        on_gold.worker).mean()
    table = pd.DataFrame({"answers": frame.groupby("worker").size(), "golden_accuracy": golden_accuracy})
    if skills is not None:
        table["skill"] = skills
    return table.rename_axis("worker").reset_index()
