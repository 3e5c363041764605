"""The model as one more voter: one answer per manual item, never a person's, and deciding only where people
split and the model has earned trust."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene

from pipelines.core.aggregation import worker_table
from pipelines.core.crowd import final_table_from_answers, reaggregated
from pipelines.core.model_votes import (
    MAX_MODEL_PRIOR,
    ModelVotesInvalid,
    calibrated_confidence,
    human_answers,
    is_model_answer,
    model_worker,
    with_model_priors,
    with_model_votes,
)

FLIP = {"pos": "neg", "neg": "pos"}
# Skewed like the shared reviews: 10% negatives.
TRUTH = pd.Series(["neg" if i % 10 == 0 else "pos" for i in range(40)], index=[f"t{i}" for i in range(40)])
NO_ACCEPTED = pd.DataFrame({"item_id": [], "text": [], "label": [], "confidence": []})


def _answers_of(worker: str, labels: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"task": labels.index, "worker": worker, "label": labels.to_numpy()})


def _wrong_on(tasks: list[str]) -> pd.Series:
    labels = TRUTH.copy()
    labels[tasks] = labels[tasks].map(FLIP)
    return labels


# Two people who disagree on five items (ana wrong on two, ben on three, one of them a rare negative); the model is
# right everywhere.
PEOPLE = pd.concat([_answers_of("ana", _wrong_on(["t3", "t5"])), _answers_of("ben", _wrong_on(["t7", "t10", "t11"]))],
                   ignore_index=True)
DISPUTED = {"t3", "t5", "t7", "t10", "t11"}
ITEMS = pd.DataFrame({"task": TRUTH.index, "text": [f"review {i} " * 40 for i in range(40)],
                      "model_label": TRUTH.to_numpy(), "model_version": "minilm-few-shot"})
PREDICTIONS = ITEMS.rename(columns={"task": "item_id", "model_label": "label"})


def test_the_model_adds_exactly_one_answer_per_manual_item_with_its_label() -> None:
    voted = with_model_votes(PEOPLE, PREDICTIONS)
    model = voted[is_model_answer(voted)]
    assert len(voted) == len(PEOPLE) + len(PREDICTIONS)
    assert set(model.worker) == {model_worker("minilm-few-shot")} == {"model:minilm-few-shot"}
    assert model.set_index("task").label.to_dict() == TRUTH.to_dict()  # the model's predicted label, per item
    pd.testing.assert_frame_equal(human_answers(voted), PEOPLE)  # people's answers untouched
    assert len(with_model_votes(voted, PREDICTIONS)) == len(voted)  # voting twice is voting once


def test_the_model_is_never_a_person_in_the_worker_table() -> None:
    voted = with_model_votes(PEOPLE, PREDICTIONS)
    workers = worker_table(voted, TRUTH.iloc[:10], labels=["neg", "pos"])
    assert list(workers.worker) == ["ana", "ben"] and workers.answers.sum() == len(PEOPLE)


def test_predictions_without_a_label_or_a_column_are_refused_with_what_is_missing() -> None:
    with pytest.raises(ModelVotesInvalid, match="missing model_version"):
        with_model_votes(PEOPLE, PREDICTIONS.drop(columns="model_version"))
    with pytest.raises(ModelVotesInvalid, match="1 manual items have no model label, e.g. 't0'"):
        with_model_votes(PEOPLE, PREDICTIONS.assign(label=PREDICTIONS.label.where(PREDICTIONS.item_id != "t0")))


def test_a_reliable_model_decides_where_two_people_disagree_and_is_marked_exactly_there() -> None:
    learnt = DawidSkene(n_iter=20).fit(with_model_votes(PEOPLE, PREDICTIONS)).errors_.loc["model:minilm-few-shot"]
    assert min(learnt.loc["neg", "neg"], learnt.loc["pos", "pos"]) > 0.99  # Dawid-Skene learnt to trust it

    without, _ = final_table_from_answers(NO_ACCEPTED, ITEMS, PEOPLE, "DawidSkene", simulated=False)
    voted, result = final_table_from_answers(NO_ACCEPTED, ITEMS, PEOPLE, "DawidSkene", simulated=False,
                                             model_votes=True)
    wrong_without = set(without.item[without.label != without.item.map(TRUTH)])
    assert wrong_without and wrong_without <= DISPUTED  # people alone got some split items wrong
    assert (voted.label == voted.item.map(TRUTH)).all()  # with the model's vote every label is right
    assert set(voted.item[voted.model_influenced]) == wrong_without
    assert not without.model_influenced.any() and (voted.source == "crowd").all()
    assert result is not None and set(result.labels.index) == set(TRUTH.index)


def test_the_model_does_not_label_an_item_nobody_answered() -> None:
    answered = PEOPLE[PEOPLE.task != "t39"]
    voted, _ = final_table_from_answers(NO_ACCEPTED, ITEMS, answered, "DawidSkene", simulated=False,
                                        model_votes=True)
    assert voted.set_index("item").loc["t39", ["label", "source"]].tolist() == ["unlabelled", "none"]


def test_reaggregating_without_a_worker_lets_the_model_vote_again() -> None:
    voted, _ = final_table_from_answers(NO_ACCEPTED, ITEMS, PEOPLE, "DawidSkene", simulated=False,
                                        model_votes=True)
    again = reaggregated(voted, PEOPLE, "DawidSkene", False, ["ben"], model_predictions=PREDICTIONS)
    direct, _ = final_table_from_answers(NO_ACCEPTED, ITEMS[["task", "text", "model_label", "model_version"]],
                                         PEOPLE[PEOPLE.worker != "ben"], "DawidSkene", False, model_votes=True)
    pd.testing.assert_frame_equal(again, direct)
    # ana alone is wrong on t3 and t5: only there can the model's vote change a label.
    assert set(again.item[again.model_influenced]) <= {"t3", "t5"}
    plain = reaggregated(voted, PEOPLE, "DawidSkene", False, ["ben"])
    assert not plain.model_influenced.any()
    assert set(plain.item[plain.label != plain.item.map(TRUTH)]) == {"t3", "t5"}


def test_confidence_is_calibrated_on_golden_to_how_often_the_model_is_right_there() -> None:
    """Golden items the model never trained on: right 60% of the time at confidence 0.55-0.65, 80% at 0.7-0.8."""
    rng = np.random.default_rng(0)
    low, high = rng.uniform(0.55, 0.65, 400), rng.uniform(0.7, 0.8, 400)
    correct = np.concatenate([rng.random(400) < 0.6, rng.random(400) < 0.8])
    calibrated = calibrated_confidence(np.concatenate([low, high]), correct, np.array([0.6, 0.75, 0.99, 0.1]), 2)
    assert calibrated[0] == pytest.approx(0.6, abs=0.06) and calibrated[1] == pytest.approx(0.8, abs=0.06)
    assert calibrated[2] <= MAX_MODEL_PRIOR and calibrated[3] >= 0.5  # never past the cap, never below chance
    assert list(calibrated[:3]) == sorted(calibrated[:3])  # more confident is never less likely right
    with pytest.raises(ModelVotesInvalid, match="at least two golden"):
        calibrated_confidence(np.array([0.7]), np.array([True]), np.array([0.7]), 2)


def test_a_model_wrong_more_often_than_its_score_says_gets_the_prior_it_earned() -> None:
    golden = pd.DataFrame({"confidence": [0.9] * 10 + [0.6] * 10, "correct": [True] * 6 + [False] * 4 + [True] * 5
                           + [False] * 5})
    tasks = pd.DataFrame({"task": ["t0", "t1"], "model_label": ["pos", "neg"], "confidence": [0.9, 0.6]})
    priors = with_model_priors(tasks, golden, ["neg", "pos"])
    assert list(priors.model_confidence) == pytest.approx([0.6, 0.5])  # its 0.9 was right 60%; its 0.6 at chance
    assert list(priors.columns) == ["task", "model_label", "confidence", "model_confidence"]


def test_a_split_that_accepted_every_item_starts_no_item_from_a_prior_and_raises_nothing() -> None:
    golden = pd.DataFrame({"confidence": [0.9, 0.8, 0.6], "correct": [True, True, False]})
    no_tasks = pd.DataFrame({"task": [], "model_label": [], "confidence": []})
    priors = with_model_priors(no_tasks, golden, ["neg", "pos"])
    assert priors.empty and list(priors.columns) == ["task", "model_label", "confidence", "model_confidence"]
