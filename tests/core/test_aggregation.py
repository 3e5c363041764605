"""Aggregation through crowd-kit, on tiny hand-readable answers and a seeded simulated crowd."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.core.aggregation import (
    METHODS,
    AnswersInvalid,
    DuplicateAnswersWarning,
    accuracy_on,
    aggregate,
    compare_methods,
    disagreements,
)
from pipelines.core.simulated_crowd import SimulatedCrowd

ANSWERS = pd.DataFrame(
    [("t1", "w1", "pos"), ("t1", "w2", "pos"), ("t1", "w3", "neg"),
     ("t2", "w1", "neg"), ("t2", "w2", "neg"), ("t2", "w3", "neg"),
     ("t3", "w1", "pos"), ("t3", "w2", "neg"), ("t3", "w3", "neg")],
    columns=["task", "worker", "label"],
)


def test_majority_vote_with_agreement_as_confidence() -> None:
    result = aggregate(ANSWERS, "MajorityVote")
    expected = pd.Series({"t1": "pos", "t2": "neg", "t3": "neg"}, name="agg_label").rename_axis("task")
    pd.testing.assert_series_equal(result.labels.sort_index(), expected, check_index_type=False)
    assert result.confidence["t2"] == 1.0


@pytest.mark.parametrize("method", METHODS)
def test_every_method_labels_every_task(method: str) -> None:
    result = aggregate(ANSWERS, method)
    assert set(result.labels.index) == {"t1", "t2", "t3"} and set(result.labels) <= {"pos", "neg"}
    assert result.confidence.between(0, 1).all()


def test_contract_errors_and_duplicates() -> None:
    with pytest.raises(AnswersInvalid, match="missing label"):
        aggregate(ANSWERS.rename(columns={"label": "answer"}))
    with pytest.raises(ValueError, match="should be one of DawidSkene"):
        aggregate(ANSWERS, "Vote")  # type: ignore[arg-type]
    doubled = pd.concat([ANSWERS, ANSWERS.iloc[[0]].assign(label="neg")])
    with pytest.warns(DuplicateAnswersWarning, match="1 repeated"):
        assert aggregate(doubled, "MajorityVote").labels["t1"] == "pos"  # the first answer counts


def test_dawid_skene_beats_majority_vote_when_two_of_five_spam() -> None:
    truth = pd.Series(["pos", "neg"] * 150, index=[f"t{i}" for i in range(300)])
    crowd = SimulatedCrowd(n_workers=5, accuracy_mean=0.85, accuracy_sd=0.03, spammer_share=0.4, seed=3)
    answers = crowd.answer(truth, ["pos", "neg"], overlap=5)
    assert answers.worker.str.startswith("sim-").all()
    table, results = compare_methods(answers, truth, ["MajorityVote", "DawidSkene"])
    accuracy = table.set_index("method").accuracy
    assert accuracy["DawidSkene"] > accuracy["MajorityVote"]
    assert accuracy_on(results["DawidSkene"].labels, truth)[1] == 300
    assert set(disagreements(results).columns) == {"MajorityVote", "DawidSkene"}


def test_simulated_crowd_is_seeded_and_kinds_behave() -> None:
    truth = pd.Series(["pos"] * 50, index=range(50))
    adversaries = SimulatedCrowd(n_workers=4, adversarial_share=1.0, seed=1).answer(truth, ["pos", "neg"], 2)
    assert (adversaries.label == "neg").all()
    crowd = SimulatedCrowd(n_workers=6, seed=2)
    pd.testing.assert_frame_equal(crowd.answer(truth, ["pos", "neg"]), crowd.answer(truth, ["pos", "neg"]))
    assert (crowd.answer(truth, ["pos", "neg"], 3).groupby("task").worker.nunique() == 3).all()
    with pytest.raises(ValueError, match="Overlap 7"):
        crowd.answer(truth, ["pos", "neg"], 7)
