"""Retraining the offline autohelper on human labels, and what that changes for the next round.

The model before (the autohelper's own predictions) and after (the MiniLM head refitted on golden plus
crowd-aggregated labels) are judged the same way: the lowest threshold at which the golden items it accepts are
right at least as often as the target (by default, as often as at the analyst's threshold), or, solving on the
`calibrated` accuracy, at which the task items it accepts are expected to be (see `pipelines.core.threshold`).
The next round is every task item; items the retrained model learnt from are scored out-of-fold, so neither model
is credited for items it has seen. The report says plainly when the crowd labels look wrong and when retraining
made things worse.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.aggregation import chance_level, golden_chance_warning, one_class_warning
from pipelines.core.autohelper import MiniLMSentimentModel, Progress
from pipelines.core.threshold import AccuracyOf, ThresholdCurve, split_at_threshold, wilson_interval


class NothingToRetrainOn(ValueError):
    """The inputs cannot give a fair before/after comparison; the message says why."""


@dataclass(frozen=True)
class RoundForecast:
    """Where one model would put the next round's task items at the target accuracy."""

    threshold: float | None  # None: no threshold reaches the target, everything goes to people
    to_crowd: int
    accepted: int
    golden_accepted: int  # how many golden items the accuracy rests on
    golden_accuracy: float  # on the golden items accepted at the threshold (out-of-fold)
    dataset_accuracy: float | None  # of the accepted task items against the dataset's own labels, where known


@dataclass(frozen=True)
class RetrainReport:
    target_accuracy: float
    accuracy_of: AccuracyOf  # what the target is held to: the golden items accepted, or the calibrated tasks
    golden: int
    crowd_labels: int
    before: RoundForecast
    after: RoundForecast
    crowd_agreement: float  # out-of-fold agreement of the retrained model with the aggregated crowd labels
    golden_accuracy_before: float  # on every golden item, out-of-fold, whatever the threshold
    golden_accuracy_after: float
    warnings: list[str]  # crowd labels that look wrong, and what got worse, in plain words
    predictions: pd.DataFrame  # the retrained model's `item_id, label, confidence, split, scored`

    def summary(self) -> dict[str, Any]:
        """Everything but the predictions, JSON-ready."""
        return {key: value for key, value in asdict(self).items() if key != "predictions"}


def _forecast(curve: ThresholdCurve, target: float, tasks: pd.DataFrame, accuracy_of: AccuracyOf) -> RoundForecast:
    point = curve.for_target(target, "point", accuracy_of)
    if point is None:
        return RoundForecast(None, len(tasks), 0, 0, math.nan, None)
    accepted, _ = split_at_threshold(tasks, point.threshold)
    known = accepted.dropna(subset=["true_label"])
    dataset_accuracy = float((known.label == known.true_label).mean()) if len(known) else None
    return RoundForecast(point.threshold, point.manual, point.accepted, point.labelled_accepted, point.accuracy,
                         dataset_accuracy)


def _sent(curve: ThresholdCurve, threshold: float, tasks: pd.DataFrame) -> RoundForecast:
    """What a round actually did at the threshold it confirmed: its accepted and manual counts, not a forecast."""
    point = curve.at(threshold)
    known = split_at_threshold(tasks, threshold)[0].dropna(subset=["true_label"])
    dataset_accuracy = float((known.label == known.true_label).mean()) if len(known) else None
    return RoundForecast(float(threshold), point.manual, point.accepted, point.labelled_accepted, point.accuracy,
                         dataset_accuracy)


def golden_accuracy_at(predictions: pd.DataFrame, threshold: float) -> float | None:
    """How often the golden items accepted at `threshold` are right; None when the threshold accepts none."""
    accuracy = ThresholdCurve.from_predictions(predictions).at(threshold).accuracy
    return None if math.isnan(accuracy) else float(accuracy)


def task_accuracy_at(predictions: pd.DataFrame, threshold: float) -> float | None:
    """How often the task items accepted at `threshold` are expected to be right, calibrated on golden; None when
    the threshold accepts none."""
    accuracy = ThresholdCurve.from_predictions(predictions).expected_task_accuracy(threshold, "point")
    return None if math.isnan(accuracy) else accuracy


def _label_warnings(crowd_labels: pd.DataFrame, golden: pd.DataFrame, tasks: pd.DataFrame,
                    crowd_golden: tuple[int, int] | None) -> list[str]:
    labels = sorted(set(golden.label))
    reasons = [one_class_warning(crowd_labels.label, golden.label)]
    if crowd_golden is not None:
        reasons.append(golden_chance_warning(*crowd_golden, labels))
    known = crowd_labels[["item_id", "label"]].merge(tasks[["item_id", "true_label"]], on="item_id").dropna()
    if len(known):
        right = int((known.label == known.true_label).sum())
        low, high = wilson_interval(right, len(known))
        if low <= chance_level(labels):
            reasons.append(f"The crowd labels agree with the dataset's own labels on {right / len(known):.0%} of the "
                           f"{len(known)} items that have one (95% interval {low:.0%}–{high:.0%}): no better than "
                           "chance, so the model learnt from labels that look wrong.")
    return [reason for reason in reasons if reason]


def _worsening(before: RoundForecast, after: RoundForecast, golden_before: float, golden_after: float) -> list[str]:
    reasons = []
    if after.to_crowd > before.to_crowd:
        reasons.append(f"Worse after retraining: the next round would send {after.to_crowd - before.to_crowd} more "
                       f"items to people ({after.to_crowd} instead of {before.to_crowd}).")
    if golden_after < golden_before:
        reasons.append(f"Worse after retraining: the model is right on {golden_after:.1%} of golden items instead "
                       f"of {golden_before:.1%} (every golden item, scored out-of-fold).")
    return reasons


def retrain_on_human_labels(
    predictions: pd.DataFrame,
    golden: pd.DataFrame,
    crowd_labels: pd.DataFrame,
    target_accuracy: float,
    model: MiniLMSentimentModel | None = None,
    progress: Progress | None = None,
    crowd_golden: tuple[int, int] | None = None,
    sent_threshold: float | None = None,
    accuracy_of: AccuracyOf = "golden",
) -> RetrainReport:
    """Refit the offline model on golden + crowd labels and forecast the next round before and after.

    Args:
        predictions: the autohelper's predictions (`item_id, text, label, confidence, true_label, split`).
        golden: golden items `item_id, text, label`.
        crowd_labels: aggregated crowd labels `item_id, text, label` (items nobody answered left out).
        target_accuracy: the accuracy both models are held to (point estimate).
        crowd_golden: the crowd's answers on golden items, (right, answered), when known: a warning if they do
            not beat chance.
        sent_threshold: the threshold round one confirmed; when given, "before" is what that round actually sent
            (its accepted and manual counts), not a forecast at the target.
        accuracy_of: the accuracy held to the target: `golden` (of the golden items accepted) or `calibrated`
            (expected of the task items accepted, calibrated on golden).
    """
    if not 0 < target_accuracy <= 1:
        raise NothingToRetrainOn(f"The target accuracy must be above 0 and at most 1, not {target_accuracy}.")
    tasks_before = predictions[predictions.split == "task"]
    crowd_labels = crowd_labels.dropna(subset=["label"])
    if crowd_labels.empty:
        raise NothingToRetrainOn("The crowd gave no labels yet: there is nothing to retrain on.")
    unknown = set(crowd_labels.label) - set(golden.label)
    if unknown:
        raise NothingToRetrainOn(f"Crowd labels {', '.join(sorted(unknown))} are not among the golden labels.")

    labelled = pd.concat([golden[["item_id", "text", "label"]], crowd_labels[["item_id", "text", "label"]]],
                         ignore_index=True)
    model = model or MiniLMSentimentModel()
    unseen = tasks_before[~tasks_before.item_id.isin(set(crowd_labels.item_id))]
    model.embed(list(labelled.text) + list(unseen.text), progress)  # cached: fitting and scoring reuse it
    model.fit(list(labelled.text), list(labelled.label), list(labelled.item_id))
    out_of_fold = pd.DataFrame([p.__dict__ for p in model.calibration_predictions()]).assign(scored="out-of-fold")
    scored = [out_of_fold]
    if len(unseen):  # every task may have gone to people
        scored.append(pd.DataFrame([p.__dict__ for p in model.predict(list(unseen.text), list(unseen.item_id))]
                                   ).assign(scored="trained head"))
    after = pd.concat(scored, ignore_index=True)[["item_id", "label", "confidence", "scored"]]
    after["split"] = np.where(after.item_id.isin(set(golden.item_id)), "golden", "task")

    golden_after = after[after.split == "golden"].merge(golden[["item_id", "label"]].rename(
        columns={"label": "golden_label"}), on="item_id")
    tasks_after = after[after.split == "task"].merge(tasks_before[["item_id", "true_label"]], on="item_id")
    after_curve = ThresholdCurve(golden_after.confidence.to_numpy(),
                                 (golden_after.label == golden_after.golden_label).to_numpy(),
                                 tasks_after.confidence.to_numpy())
    crowd_oof = out_of_fold.merge(crowd_labels[["item_id", "label"]].rename(columns={"label": "crowd_label"}),
                                  on="item_id")
    before = (_forecast(ThresholdCurve.from_predictions(predictions), target_accuracy, tasks_before, accuracy_of)
              if sent_threshold is None
              else _sent(ThresholdCurve.from_predictions(predictions), sent_threshold, tasks_before))
    after_forecast = _forecast(after_curve, target_accuracy, tasks_after, accuracy_of)
    golden_before = float(predictions[predictions.split == "golden"].correct.mean())
    golden_after_accuracy = float((golden_after.label == golden_after.golden_label).mean())
    return RetrainReport(
        target_accuracy=float(target_accuracy),
        accuracy_of=accuracy_of,
        golden=len(golden),
        crowd_labels=len(crowd_labels),
        before=before,
        after=after_forecast,
        crowd_agreement=float((crowd_oof.label == crowd_oof.crowd_label).mean()),
        golden_accuracy_before=golden_before,
        golden_accuracy_after=golden_after_accuracy,
        warnings=(_label_warnings(crowd_labels, golden, tasks_before, crowd_golden)
                  + _worsening(before, after_forecast, golden_before, golden_after_accuracy)),
        predictions=after,
    )
