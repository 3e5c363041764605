"""Aggregating crowd answers with crowd-kit: one entry point, every method, comparisons on golden items, and the
quality guards that say when a batch's labels should not be trusted.

Answers are a long frame with exactly `task, worker, label`, selected on entry so a missing column fails at once.
Golden items are judged against chance, 1 / the number of labels, with a 95% Wilson interval: a worker or a batch
whose interval reaches chance has not been shown to do better than guessing.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from pipelines.core.model_votes import human_answers
from pipelines.core.threshold import wilson_interval

AggregationMethod = Literal["DawidSkene", "MajorityVote", "Wawa", "GLAD", "MACE", "OneCoinDawidSkene"]
METHODS: tuple[AggregationMethod, ...] = ("DawidSkene", "MajorityVote", "Wawa", "GLAD", "MACE", "OneCoinDawidSkene")
ANSWER_COLUMNS = ["task", "worker", "label"]
_ITERATIVE = {"DawidSkene": 20, "OneCoinDawidSkene": 20, "GLAD": 20, "MACE": 20}  # n_iter 20 as seed 003
WorkerFlag = Literal["ok", "at chance", "worse than chance", "no golden answers"]
UNRELIABLE_FLAGS: tuple[WorkerFlag, ...] = ("at chance", "worse than chance")
UNLABELLED = "unlabelled"  # the final label of an item no answer reached
MIN_ITEMS_FOR_ONE_CLASS = 5
# All labels one class is suspicious when the golden items' class shares make it this unlikely (share ** items).
ONE_CLASS_LIKELIHOOD = 0.05


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


def without_workers(answers: pd.DataFrame, workers: Collection[str]) -> pd.DataFrame:
    """The answers minus those of `workers`."""
    return answers[~answers.worker.isin(set(workers))].reset_index(drop=True) if len(workers) else answers


def aggregate(answers: pd.DataFrame, method: AggregationMethod = "DawidSkene",
              exclude_workers: Collection[str] = (), **params: Any) -> AggregationResult:
    """Aggregate with one crowd-kit method, leaving out the answers of `exclude_workers`; `params` go to its
    constructor (n_iter defaults to 20)."""
    from crowdkit import aggregation

    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; should be one of {', '.join(METHODS)}.")
    frame = without_workers(validate_answers(answers), exclude_workers)
    if frame.empty:
        raise AnswersInvalid("Every answer came from a worker left out: leave fewer workers out.")
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
                    methods: Sequence[AggregationMethod] = METHODS, exclude_workers: Collection[str] = (),
                    ) -> tuple[pd.DataFrame, dict[str, AggregationResult]]:
    """Every method on the same answers (less `exclude_workers`'): accuracy on gold and time taken, plus each
    result."""
    rows, results = [], {}
    for method in methods:
        started = time.perf_counter()
        result = aggregate(answers, method, exclude_workers)
        seconds = time.perf_counter() - started
        accuracy, n_gold = accuracy_on(result.labels, gold) if gold is not None else (np.nan, 0)
        rows.append({"method": method, "accuracy": accuracy, "n_gold": n_gold, "seconds": round(seconds, 3)})
        results[method] = result
    return pd.DataFrame(rows), results


def disagreements(results: dict[str, AggregationResult]) -> pd.DataFrame:
    """Tasks where the methods do not all agree, one column per method."""
    table = pd.DataFrame({method: result.labels for method, result in results.items()})
    return table[table.astype(str).nunique(axis=1) > 1]


def chance_level(labels: Sequence[str]) -> float:
    """The accuracy of guessing among `labels`: 1 / how many there are."""
    distinct = set(map(str, labels))
    if len(distinct) < 2:
        raise AnswersInvalid(f"Chance needs the batch's labels, at least two; got {sorted(distinct)}.")
    return 1 / len(distinct)


def golden_flag(correct: int, answered: int, chance: float) -> WorkerFlag:
    """How `correct` of `answered` golden answers compare with chance, by their 95% Wilson interval."""
    if answered == 0:
        return "no golden answers"
    low, high = wilson_interval(correct, answered)
    if high < chance:
        return "worse than chance"
    return "at chance" if low <= chance else "ok"


def _on_gold(tasks: pd.Series, gold: pd.Series) -> np.ndarray:
    """Which of `tasks` are golden items. Hashed through the golden index: `Series.isin` on text columns builds a
    pyarrow scalar for each golden item, 0.19 s a call with 10,000 of them."""
    return gold.index.unique().get_indexer(tasks) >= 0


def _right_on_gold(answers: pd.DataFrame, gold: pd.Series) -> pd.DataFrame:
    on_gold = answers[_on_gold(answers.task, gold)]
    right = on_gold.label.astype(str).to_numpy() == on_gold.task.map(gold).astype(str).to_numpy()
    return on_gold.assign(right=right)


def worker_table(answers: pd.DataFrame, gold: pd.Series, skills: pd.Series | None = None, *,
                 labels: Sequence[str]) -> pd.DataFrame:
    """Per worker: answers given; golden answers, how many were right, golden accuracy (NaN without any) with its
    95% Wilson interval `ci_low, ci_high`; a `flag` (see `golden_flag`, chance = 1 / len(labels)); and a skill
    estimate if given. The model's votes are not a person's answers and are left out."""
    frame = human_answers(validate_answers(answers))
    chance = chance_level(labels)
    on_gold = _right_on_gold(frame, gold).groupby("worker").right
    table = pd.DataFrame({"answers": frame.groupby("worker").size(), "golden_answers": on_gold.size(),
                          "golden_correct": on_gold.sum()})
    table[["golden_answers", "golden_correct"]] = table[["golden_answers", "golden_correct"]].fillna(0).astype(int)
    table["golden_accuracy"] = table.golden_correct / table.golden_answers.where(table.golden_answers > 0)
    bounds = [wilson_interval(right, n) for right, n in zip(table.golden_correct, table.golden_answers)]
    table["ci_low"] = [low for low, _ in bounds]
    table["ci_high"] = [high for _, high in bounds]
    table["flag"] = [golden_flag(right, n, chance) for right, n in zip(table.golden_correct, table.golden_answers)]
    if skills is not None:
        table["skill"] = skills
    return table.rename_axis("worker").reset_index()


def golden_agreement(answers: pd.DataFrame, gold: pd.Series) -> tuple[int, int]:
    """How many answers on golden items match their golden label, and how many answers there are on them."""
    right = _right_on_gold(answers, gold).right
    return int(right.sum()), len(right)


def golden_chance_warning(correct: int, answered: int, labels: Sequence[str]) -> str | None:
    """A warning when the crowd's answers on golden items are not shown to beat chance; None when they are."""
    chance = chance_level(labels)
    if answered == 0:
        return "No answers on golden items: nothing checks the crowd's labels."
    low, high = wilson_interval(correct, answered)
    if low > chance:
        return None
    return (f"The crowd's answers on golden items are right {correct / answered:.0%} of the time ({correct} of "
            f"{answered}, 95% interval {low:.0%}–{high:.0%}): no better than chance ({chance:.0%}). Check that "
            "answers belong to the items the annotators saw, and who answered.")


def one_class_warning(crowd_labels: pd.Series, gold: pd.Series, min_items: int = MIN_ITEMS_FOR_ONE_CLASS,
                      ) -> str | None:
    """A warning when every aggregated label is the same class and the golden items' class shares make that
    unlikely (share ** items below 5%); None otherwise, or under `min_items` labels.

    On skewed data a few items all of the majority class is to be expected; all of the minority class, or
    many items of one class, is not.
    """
    given = crowd_labels.dropna().astype(str)
    given = given[given != UNLABELLED]
    if len(given) < min_items or given.nunique() != 1:
        return None
    label = given.iloc[0]
    share = float((gold.astype(str) == label).mean()) if len(gold) else 0.0
    if share ** len(given) >= ONE_CLASS_LIKELIHOOD:
        return None
    return (f"All {len(given)} crowd labels are {label!r}, while {share:.0%} of golden items are: the aggregated "
            "labels look wrong. Check the workers' golden accuracy before using them.")


def one_label_workers_warning(answers: pd.DataFrame, gold: pd.Series) -> str | None:
    """Why Dawid-Skene may overrule good answers: a worker who gave only one label (on two or more non-golden
    items) has a confusion matrix it cannot learn, so it reads them as giving that label whatever the truth, and
    an item only they answered takes the class prior instead. Seen with two oracle annotators and one answer per
    item: perfect answers came out flipped in about 1 of 5 small batches. One-coin models are not affected."""
    on_items = validate_answers(answers)
    on_items = on_items[~_on_gold(on_items.task, gold)]
    per_worker = on_items.groupby("worker").label.agg(["nunique", "size"])
    one_label = per_worker.index[(per_worker["nunique"] == 1) & (per_worker["size"] >= 2)]
    answers_per_item = on_items.groupby("task").size()
    alone = on_items[on_items.worker.isin(one_label) & on_items.task.map(answers_per_item).eq(1)]
    if alone.empty:
        return None
    return (f"{len(one_label)} worker(s) gave only one label, and {alone.task.nunique()} items have only their "
            "answer: Dawid-Skene cannot tell them from workers who give that label whatever the review, so those "
            "items may take the most common label instead of the answer. Use OneCoinDawidSkene or MajorityVote "
            "for this batch, or give every item at least two answers.")


def batch_warnings(crowd_labels: pd.Series, answers: pd.DataFrame, gold: pd.Series, labels: Sequence[str],
                   min_items: int = MIN_ITEMS_FOR_ONE_CLASS, method: AggregationMethod | None = None) -> list[str]:
    """Reasons to doubt a batch's crowd labels, in plain words; empty when there are none.

    Args:
        crowd_labels: the final label of every item sent to people (`unlabelled` ones included, not judged).
        answers: the answers they were aggregated from, golden items' included.
        gold: golden labels indexed by task.
        labels: the batch's labels (chance is 1 / how many).
        method: the aggregation used, for the warnings that concern one method only.
    """
    if crowd_labels.empty:
        return []  # nothing went to people: no label of theirs to doubt
    if answers.empty:
        return ["No answers to judge: every crowd item is unlabelled."]
    reasons = [one_class_warning(crowd_labels, gold, min_items),
               golden_chance_warning(*golden_agreement(answers, gold), labels),
               one_label_workers_warning(answers, gold) if method == "DawidSkene" else None]
    workers = worker_table(answers, gold, labels=labels)
    flagged = int(workers.flag.isin(UNRELIABLE_FLAGS).sum())
    if flagged > len(workers) / 2:
        reasons.append(f"{flagged} of {len(workers)} workers are not shown to beat chance on golden items (their "
                       "95% interval reaches it): too few golden answers, or guessing.")
    return [reason for reason in reasons if reason]
