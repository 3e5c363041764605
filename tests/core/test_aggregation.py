"""Aggregation through crowd-kit and the quality guards, on tiny hand-readable answers and a seeded simulated crowd."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy.stats import binomtest

from pipelines.core.aggregation import (
    METHODS,
    UNLABELLED,
    AnswersInvalid,
    DuplicateAnswersWarning,
    accuracy_on,
    aggregate,
    batch_warnings,
    chance_level,
    compare_methods,
    disagreements,
    golden_agreement,
    golden_flag,
    one_class_warning,
    one_label_workers_warning,
    worker_table,
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


# Ten golden items; w1 gets all right, w2 half, w3 none; w4 answers only task items.
GOLD = pd.Series(["pos", "neg"] * 5, index=[f"g{i}" for i in range(10)])
FLIPPED = {"pos": "neg", "neg": "pos"}
WORKER_ANSWERS = pd.DataFrame(
    [(task, "w1", label) for task, label in GOLD.items()]
    + [(task, "w2", label if i < 5 else FLIPPED[label]) for i, (task, label) in enumerate(GOLD.items())]
    + [(task, "w3", FLIPPED[label]) for task, label in GOLD.items()]
    + [("t1", worker, "pos") for worker in ("w1", "w2", "w3", "w4")],
    columns=["task", "worker", "label"],
)


def _wilson_by_scipy(right: int, answered: int) -> tuple[float, float]:
    interval = binomtest(right, answered).proportion_ci(confidence_level=0.95, method="wilson")
    return interval.low, interval.high


def test_worker_table_judges_golden_accuracy_against_chance() -> None:
    table = worker_table(WORKER_ANSWERS, GOLD, labels=["neg", "pos"]).set_index("worker")
    assert list(table.answers) == [11, 11, 11, 1]
    assert list(table.golden_answers) == [10, 10, 10, 0] and list(table.golden_correct) == [10, 5, 0, 0]
    assert list(table.golden_accuracy[:3]) == [1.0, 0.5, 0.0] and math.isnan(table.golden_accuracy["w4"])
    for worker, right in (("w1", 10), ("w2", 5), ("w3", 0)):
        low, high = _wilson_by_scipy(right, 10)
        assert table.loc[worker, "ci_low"] == pytest.approx(low) and table.loc[worker, "ci_high"] == pytest.approx(high)
    assert math.isnan(table.ci_low["w4"]) and math.isnan(table.ci_high["w4"])
    # 10/10: interval (0.72, 1) above 0.5; 5/10 reaches 0.5; 0/10 tops out at 0.28, below it.
    assert dict(table.flag) == {"w1": "ok", "w2": "at chance", "w3": "worse than chance", "w4": "no golden answers"}


def test_chance_is_one_over_the_number_of_labels() -> None:
    # With three labels chance is 1/3: 5 of 10 right (interval 0.24-0.76) still reaches it; 7 of 10 does not.
    assert chance_level(["neg", "neutral", "pos"]) == pytest.approx(1 / 3)
    assert golden_flag(5, 10, 1 / 3) == "at chance" and golden_flag(7, 10, 1 / 3) == "ok"
    with pytest.raises(AnswersInvalid, match="at least two"):
        chance_level(["pos"])


def _skewed_truth(n: int = 200) -> pd.Series:
    """10% negatives, like real product reviews."""
    return pd.Series(["neg" if i % 10 == 0 else "pos" for i in range(n)], index=[f"t{i}" for i in range(n)])


@pytest.mark.parametrize("method", METHODS)
def test_leaving_workers_out_is_aggregating_without_their_answers(method: str) -> None:
    crowd = SimulatedCrowd(n_workers=5, accuracy_mean=0.85, accuracy_sd=0.03, adversarial_share=0.4, seed=4)
    answers = crowd.answer(_skewed_truth(), ["pos", "neg"], overlap=5)
    adversaries = list(crowd.workers().query("kind == 'adversarial'").worker)
    left_out = aggregate(answers, method, exclude_workers=adversaries)
    filtered = aggregate(answers[~answers.worker.isin(adversaries)], method)
    pd.testing.assert_series_equal(left_out.labels.sort_index(), filtered.labels.sort_index())
    pd.testing.assert_series_equal(left_out.confidence.sort_index(), filtered.confidence.sort_index())


def test_leaving_adversaries_out_changes_the_labels_and_leaving_everyone_out_is_refused() -> None:
    truth = _skewed_truth()
    crowd = SimulatedCrowd(n_workers=5, accuracy_mean=0.85, accuracy_sd=0.03, adversarial_share=0.4, seed=4)
    answers = crowd.answer(truth, ["pos", "neg"], overlap=5)
    adversaries = list(crowd.workers().query("kind == 'adversarial'").worker)
    table, _ = compare_methods(answers, truth, ["MajorityVote"])
    without, _ = compare_methods(answers, truth, ["MajorityVote"], exclude_workers=adversaries)
    assert without.accuracy[0] > table.accuracy[0]
    with pytest.raises(AnswersInvalid, match="leave fewer workers out"):
        aggregate(answers, "MajorityVote", exclude_workers=set(answers.worker))


def test_a_batch_of_all_neg_answers_on_balanced_truth_is_warned_about() -> None:
    tasks = [f"t{i}" for i in range(20)]
    answers = pd.DataFrame([(task, worker, "neg") for task in [*tasks, *GOLD.index] for worker in ("ana", "ben")],
                           columns=["task", "worker", "label"])
    crowd_labels = aggregate(answers[answers.task.isin(tasks)], "DawidSkene").labels
    warnings = batch_warnings(crowd_labels, answers, GOLD, ["neg", "pos"])
    assert len(warnings) == 3
    assert warnings[0].startswith("All 20 crowd labels are 'neg', while 50% of golden items are")
    assert "right 50% of the time (10 of 20" in warnings[1] and "no better than chance (50%)" in warnings[1]
    assert warnings[2].startswith("2 of 2 workers are not shown to beat chance")


def test_skewed_batches_warn_only_when_one_class_is_unlikely() -> None:
    golden = _skewed_truth(50).set_axis([f"g{i}" for i in range(50)])  # 90% pos
    honest = pd.DataFrame([(task, worker, label) for task, label in golden.items() for worker in ("ana", "ben")],
                          columns=["task", "worker", "label"])
    # Ten items all `pos` is likely when 90% are (0.9 ** 10 = 0.35); fifty are not (0.005); all `neg` never.
    assert batch_warnings(pd.Series(["pos"] * 10), honest, golden, ["neg", "pos"]) == []
    assert one_class_warning(pd.Series(["pos"] * 50), golden).startswith("All 50 crowd labels are 'pos'")
    assert one_class_warning(pd.Series(["neg"] * 5), golden).startswith("All 5 crowd labels are 'neg', while 10%")
    assert one_class_warning(pd.Series(["neg"] * 4), golden) is None  # under the minimum of items
    assert one_class_warning(pd.Series(["pos"] * 9 + [UNLABELLED] * 41), golden) is None


def test_a_batch_without_golden_answers_says_nothing_checks_it() -> None:
    answers = pd.DataFrame({"task": ["t1", "t2"], "worker": ["ana", "ana"], "label": ["pos", "neg"]})
    assert batch_warnings(pd.Series(["pos", "neg"]), answers, GOLD, ["neg", "pos"]) == [
        "No answers on golden items: nothing checks the crowd's labels."]
    assert golden_agreement(WORKER_ANSWERS, GOLD) == (15, 30)
    assert batch_warnings(pd.Series([UNLABELLED] * 3), answers.iloc[:0], GOLD, ["neg", "pos"]) == [
        "No answers to judge: every crowd item is unlabelled."]
    assert batch_warnings(pd.Series([], dtype=str), answers.iloc[:0], GOLD, ["neg", "pos"]) == []  # none sent


def test_dawid_skene_on_one_answer_per_item_from_one_label_workers_is_warned_about_and_one_coin_keeps_the_answers(
        ) -> None:
    # Two oracle annotators, one answer per item (adaptive overlap that stopped at min_answers=1): ben happened
    # to see only positive reviews. Every answer equals the truth.
    truth = pd.Series({"r1": "neg", "r2": "pos", "r3": "neg", "r4": "pos", "r5": "neg", "r6": "pos", "r7": "pos",
                       "r8": "neg"})
    golden = pd.Series({"g1": "pos", "g2": "neg"})
    who = {"r1": "ana", "r2": "ana", "r3": "ana", "r4": "ben", "r5": "ana", "r6": "ben", "r7": "ben", "r8": "ana"}
    answers = pd.DataFrame([(task, who[task], label) for task, label in truth.items()]
                           + [("g1", "ana", "pos"), ("g2", "ben", "neg")], columns=["task", "worker", "label"])
    on_items = answers[answers.task.isin(truth.index)]
    dawid_skene = aggregate(on_items, "DawidSkene").labels
    assert (dawid_skene[truth.index] != truth).any()  # the degenerate case the warning is about
    one_coin = aggregate(on_items, "OneCoinDawidSkene").labels
    assert (one_coin[truth.index] == truth).all()
    # (Two golden answers cannot show anyone beats chance: that warning comes too, and is not the point here.)
    warnings = batch_warnings(dawid_skene, answers, golden, ["neg", "pos"], method="DawidSkene")
    [warning] = [w for w in warnings if "only one label" in w]
    assert warning.startswith("1 worker(s) gave only one label, and 3 items have only their answer")
    assert not [w for w in batch_warnings(one_coin, answers, golden, ["neg", "pos"], method="OneCoinDawidSkene")
                if "only one label" in w]
    # Two answers an item: nobody's answer stands alone, nothing to warn about.
    doubled = pd.concat([answers, on_items.assign(worker=on_items.worker.map({"ana": "ben", "ben": "ana"}))])
    assert one_label_workers_warning(doubled, golden) is None
