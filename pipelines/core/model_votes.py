"""The model as one more voter: its label on each manual item joins people's answers when they are aggregated.

The model answers as a worker named `model:<model_version>`, once per item, with its predicted label; Dawid-Skene
then learns how far to trust it from how often it agrees with people, as it does for anyone. Its answers exist
only at aggregation time: they are never stored with people's answers, so they never count toward a batch's
completion, as human answers, or in the worker quality table.

Why a learnt skill and not the model's confidence as a weight: the items people label are the ones below the
threshold, where the model's confidence says least; what the crowd's answers show about the model on exactly
those items is the better measure. Its confidence already decided which items went to people.
"""

from __future__ import annotations

import pandas as pd

MODEL_WORKER_PREFIX = "model:"
PREDICTION_COLUMNS = ["item_id", "label", "model_version"]


class ModelVotesInvalid(ValueError):
    """Model predictions that cannot vote: a column is missing or an item has no label."""


def model_worker(model_version: str) -> str:
    """The worker id the model answers under."""
    return f"{MODEL_WORKER_PREFIX}{model_version}"


def is_model_answer(answers: pd.DataFrame) -> pd.Series:
    """Which answers are the model's votes rather than a person's."""
    return answers.worker.astype(str).str.startswith(MODEL_WORKER_PREFIX)


def human_answers(answers: pd.DataFrame) -> pd.DataFrame:
    """The answers people gave: the model's votes left out."""
    return answers[~is_model_answer(answers)].reset_index(drop=True)


def with_model_votes(answers: pd.DataFrame, manual_predictions: pd.DataFrame) -> pd.DataFrame:
    """People's answers plus one model answer per manual item: worker `model:<model_version>`, the model's label.

    Args:
        answers: `task, worker, label` (any model votes already in it are replaced, so adding twice adds once).
        manual_predictions: the model's predictions on the manual items, `item_id, label, model_version`.
    """
    missing = [column for column in PREDICTION_COLUMNS if column not in manual_predictions.columns]
    if missing:
        present = ", ".join(map(str, manual_predictions.columns))
        raise ModelVotesInvalid(f"Model predictions need columns {', '.join(PREDICTION_COLUMNS)}; missing "
                                f"{', '.join(missing)} (present: {present}).")
    unlabelled = manual_predictions.label.isna()
    if unlabelled.any():
        example = manual_predictions.item_id[unlabelled].iloc[0]
        raise ModelVotesInvalid(f"{int(unlabelled.sum())} manual items have no model label, e.g. {example!r}: "
                                "run the autohelper on them first.")
    votes = pd.DataFrame({"task": manual_predictions.item_id.astype(str).to_numpy(),
                          "worker": [model_worker(str(version)) for version in manual_predictions.model_version],
                          "label": manual_predictions.label.astype(str).to_numpy()})
    people = human_answers(answers)[["task", "worker", "label"]]
    return pd.concat([people.assign(task=people.task.astype(str)), votes], ignore_index=True)
