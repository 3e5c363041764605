"""Retraining the real offline MiniLM autohelper on human labels: a fair before/after forecast."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.core.autohelper import MiniLMSentimentModel
from pipelines.core.autohelper_store import predictions_frame
from pipelines.core.retrain import (
    NothingToRetrainOn,
    golden_accuracy_at,
    retrain_on_human_labels,
    task_accuracy_at,
)
from pipelines.core.review_sample import sample_reviews
from pipelines.core.reviews import prepare_dataset
from pipelines.core.threshold import ThresholdCurve, seed_threshold

pytestmark = pytest.mark.model  # every case starts from MiniLM fitted on the sample


@pytest.fixture(scope="module")
def round_one() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, float]:
    """The autohelper's first round on the sample: few-shot on 20 golden items, 60 tasks, seed-rule threshold."""
    prepared = prepare_dataset(sample_reviews(), n_tasks=60, n_golden=20, seed=0)
    golden = prepared.golden
    model = MiniLMSentimentModel().fit(list(golden.text), list(golden.label), list(golden.item_id))
    predictions = pd.concat([
        predictions_frame(model.calibration_predictions(), golden, "golden"),
        predictions_frame(model.predict(list(prepared.tasks.text), list(prepared.tasks.item_id)), prepared.tasks,
                          "task")], ignore_index=True)
    scored_golden = predictions[predictions.split == "golden"]
    threshold = seed_threshold(scored_golden.confidence.to_numpy(), scored_golden.correct.to_numpy())
    return predictions, golden, prepared.tasks, threshold


def test_human_labels_on_the_unsure_items_shrink_the_next_round(round_one) -> None:
    predictions, golden, tasks, threshold = round_one
    manual = predictions[(predictions.split == "task") & (predictions.confidence < threshold)]
    # A crowd that is always right: the dataset's own labels on the items the model was unsure of.
    crowd = manual[["item_id", "text", "true_label"]].rename(columns={"true_label": "label"})
    scored_golden = predictions[predictions.split == "golden"]
    curve = ThresholdCurve(scored_golden.confidence.to_numpy(), scored_golden.correct.to_numpy(),
                           predictions[predictions.split == "task"].confidence.to_numpy())
    target = golden_accuracy_at(predictions, threshold)
    assert target == curve.at(threshold).accuracy
    report = retrain_on_human_labels(predictions, golden, crowd, target)
    assert report.target_accuracy == target
    for forecast in (report.before, report.after):
        assert forecast.to_crowd + forecast.accepted == len(tasks)
        assert forecast.golden_accuracy >= report.target_accuracy and forecast.golden_accepted > 0
    assert report.before.to_crowd == int((predictions[predictions.split == "task"].confidence
                                          < report.before.threshold).sum())
    assert (report.golden, report.crowd_labels) == (20, len(crowd))
    assert report.after.to_crowd < report.before.to_crowd
    assert report.after.dataset_accuracy >= report.before.dataset_accuracy
    assert 0.5 < report.crowd_agreement <= 1.0

    retrained = report.predictions.set_index("item_id")
    assert sorted(retrained.index) == sorted(predictions.item_id)  # every item once
    learnt_from = set(golden.item_id) | set(crowd.item_id)
    assert (retrained.loc[list(learnt_from), "scored"] == "out-of-fold").all()
    assert (retrained.drop(index=list(learnt_from)).scored == "trained head").all()
    assert set(report.summary()) == {"target_accuracy", "accuracy_of", "golden", "crowd_labels", "before", "after",
                                     "crowd_agreement", "golden_accuracy_before", "golden_accuracy_after", "warnings"}
    assert not [w for w in report.warnings if "crowd" in w]  # right labels: nothing to say about them


def test_retraining_on_adversarial_crowd_labels_says_so_and_shows_the_drop(round_one) -> None:
    predictions, golden, tasks, _ = round_one
    # A crowd that flips every label, on every task, and got every golden item wrong.
    flipped = tasks[["item_id", "text", "label"]].assign(label=tasks.label.map({"pos": "neg", "neg": "pos"}))
    report = retrain_on_human_labels(predictions, golden, flipped, 0.9, crowd_golden=(0, 20))
    golden_before = (predictions[predictions.split == "golden"].correct).mean()
    assert report.golden_accuracy_before == golden_before
    assert report.golden_accuracy_after < report.golden_accuracy_before
    assert any(w.startswith("The crowd's answers on golden items are right 0% of the time (0 of 20")
               for w in report.warnings)
    assert any(w.startswith(f"The crowd labels agree with the dataset's own labels on 0% of the {len(tasks)} items")
               for w in report.warnings)
    assert (f"Worse after retraining: the model is right on {report.golden_accuracy_after:.1%} of golden items "
            f"instead of {golden_before:.1%}") in " ".join(report.warnings)
    if report.after.to_crowd > report.before.to_crowd:
        assert any(w.startswith("Worse after retraining: the next round would send") for w in report.warnings)


def test_inputs_that_allow_no_fair_comparison_are_refused_plainly(round_one) -> None:
    predictions, golden, _, threshold = round_one
    crowd = predictions[predictions.split == "task"].head(3)[["item_id", "text", "label"]]
    with pytest.raises(NothingToRetrainOn, match="no labels yet"):
        retrain_on_human_labels(predictions, golden, crowd.assign(label=None), 0.9)
    with pytest.raises(NothingToRetrainOn, match="meh are not among the golden labels"):
        retrain_on_human_labels(predictions, golden, crowd.assign(label="meh"), 0.9)
    with pytest.raises(NothingToRetrainOn, match="at most 1, not 1.5"):
        retrain_on_human_labels(predictions, golden, crowd, 1.5)
    assert golden_accuracy_at(predictions, 1.01) is None  # no golden item accepted: no accuracy to hold to


def test_a_target_no_threshold_reaches_sends_everything_to_people(round_one) -> None:
    predictions, golden, tasks, threshold = round_one
    crowd = predictions[predictions.split == "task"].head(10)[["item_id", "text", "true_label"]]
    report = retrain_on_human_labels(predictions, golden, crowd.rename(columns={"true_label": "label"}), 1.0)
    for forecast in (report.before, report.after):
        assert forecast.threshold is None or forecast.golden_accuracy == 1.0
        if forecast.threshold is None:
            assert (forecast.to_crowd, forecast.accepted) == (len(tasks), 0)


def test_every_task_labelled_by_people_is_scored_out_of_fold(round_one) -> None:
    predictions, golden, tasks, _ = round_one
    crowd = tasks[["item_id", "text", "label"]]
    report = retrain_on_human_labels(predictions, golden, crowd, 0.9)
    assert len(report.predictions) == len(tasks) + len(golden) and set(report.predictions.scored) == {"out-of-fold"}


def test_before_is_what_round_one_sent_at_its_confirmed_threshold(round_one) -> None:
    predictions, golden, tasks, threshold = round_one
    tasks_scored = predictions[predictions.split == "task"]
    manual = tasks_scored[tasks_scored.confidence < threshold]
    crowd = manual[["item_id", "text", "true_label"]].rename(columns={"true_label": "label"})
    report = retrain_on_human_labels(predictions, golden, crowd, 0.99, sent_threshold=threshold)
    accepted = tasks_scored[tasks_scored.confidence >= threshold]
    assert (report.before.threshold, report.before.to_crowd, report.before.accepted) == (
        threshold, len(manual), len(accepted))
    assert report.before.dataset_accuracy == pytest.approx((accepted.label == accepted.true_label).mean())


def test_held_to_the_calibrated_accuracy_both_rounds_are_solved_on_their_tasks_expected_accuracy(round_one) -> None:
    predictions, golden, tasks, threshold = round_one
    tasks_scored = predictions[predictions.split == "task"]
    manual = tasks_scored[tasks_scored.confidence < threshold]
    crowd = manual[["item_id", "text", "true_label"]].rename(columns={"true_label": "label"})
    target = task_accuracy_at(predictions, threshold)
    assert target == ThresholdCurve.from_predictions(predictions).expected_task_accuracy(threshold, "point")
    report = retrain_on_human_labels(predictions, golden, crowd, target, accuracy_of="calibrated")
    assert (report.accuracy_of, report.target_accuracy) == ("calibrated", target)
    before = ThresholdCurve.from_predictions(predictions).for_target(target, "point", "calibrated")
    assert report.before.threshold == before.threshold and report.before.to_crowd == before.manual
    after = report.predictions.merge(pd.concat([golden, tasks])[["item_id", "label"]].rename(
        columns={"label": "true_label"}), on="item_id").assign(correct=lambda f: f.label == f.true_label)
    expected = ThresholdCurve.from_predictions(after).for_target(target, "point", "calibrated")
    assert report.after.threshold == expected.threshold and report.after.to_crowd == expected.manual
    assert task_accuracy_at(predictions, 1.01) is None  # no task accepted: nothing to expect
