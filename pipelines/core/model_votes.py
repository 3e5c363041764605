"""The model as one more voter: its label on each manual item joins people's answers when they are aggregated.

The model answers as a worker named `model:<model_version>`, once per item, with its predicted label; Dawid-Skene
then learns how far to trust it from how often it agrees with people, as it does for anyone. Its answers exist
only at aggregation time: they are never stored with people's answers, so they never count toward a batch's
completion, as human answers, or in the worker quality table.

Why a learnt skill and not the model's confidence as a weight: the items people label are the ones below the
threshold, where the model's confidence says least; what the crowd's answers show about the model on exactly
those items is the better measure. Its confidence already decided which items went to people.

The model can also start an adaptive batch's items from its label as a prior (`pipelines.core.adaptive`): then its
confidence is used, calibrated first on golden items it never trained on (`calibrated_confidence`), so a label
the model gets right 70% of the time at that confidence counts as 70%, not as the raw score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MODEL_WORKER_PREFIX = "model:"
PREDICTION_COLUMNS = ["item_id", "label", "model_version"]
# Before anyone answers, the model's label never counts for more than this: an item always needs a person.
MAX_MODEL_PRIOR = 0.9


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


def calibrated_confidence(golden_confidence: np.ndarray, golden_correct: np.ndarray, confidence: np.ndarray,
                          n_labels: int) -> np.ndarray:
    """How often the model is right at each `confidence`, learnt from golden items it never trained on.

    Isotonic (a more confident label is never less likely right), kept between chance (1 / `n_labels`, where the
    prior says nothing) and `MAX_MODEL_PRIOR`.
    """
    golden_confidence = np.asarray(golden_confidence, dtype=float)
    if golden_confidence.size < 2:
        raise ModelVotesInvalid("Calibrating the model's confidence needs at least two golden predictions.")
    confidence = np.asarray(confidence, dtype=float)
    if confidence.size == 0:  # a split that accepted every item: nothing to start from a prior (sklearn refuses it)
        return confidence
    # Imported here: sklearn (with scipy) is a second of every flow run's start, and most runs never calibrate.
    from sklearn.isotonic import IsotonicRegression

    chance = 1.0 / n_labels
    fit = IsotonicRegression(y_min=chance, y_max=MAX_MODEL_PRIOR, increasing=True, out_of_bounds="clip")
    fit.fit(golden_confidence, np.asarray(golden_correct, dtype=float))
    return np.clip(fit.predict(confidence), chance, MAX_MODEL_PRIOR)


def with_model_priors(tasks: pd.DataFrame, golden_predictions: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Task items (`model_label`, `confidence`) with the calibrated `model_confidence` an adaptive batch starts
    each one from; `golden_predictions` are the model's out-of-fold `confidence` and `correct` on golden items."""
    calibrated = calibrated_confidence(golden_predictions.confidence.to_numpy(), golden_predictions.correct.to_numpy(),
                                       tasks.confidence.to_numpy(), len(labels))
    return tasks.assign(model_confidence=calibrated)
