"""The simulated crowd: workers resampled from a real crowd, and answers that land on the task they are for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.core.answer_store import AnswerStore
from pipelines.core.answer_store import BatchProgress
from pipelines.core.crowd import CrowdBatch, SimulatedCrowdBackend
from pipelines.core.simulated_crowd import SimulatedCrowd, real_worker_accuracies
from tests.conftest import SHARED_DATA


def test_real_worker_accuracies_by_hand() -> None:
    answers = pd.DataFrame({"task": ["a", "b", "c", "d", "a", "b", "x"],
                            "worker": ["w1", "w1", "w1", "w1", "w2", "w2", "w2"],
                            "label": ["1", "0", "0", "1", "0", "0", "1"]})
    truth = pd.Series({"a": "1", "b": "0", "c": "1", "d": "1"})
    # w1: a, b, d right and c wrong; w2: a wrong, b right (x has no truth and is not scored).
    assert real_worker_accuracies(answers, truth, min_answers=2).tolist() == [0.75, 0.5]
    assert real_worker_accuracies(answers, truth, min_answers=3).tolist() == [0.75]
    with pytest.raises(ValueError, match="5 or more"):
        real_worker_accuracies(answers, truth, min_answers=5)


def test_resampled_accuracies_come_from_the_real_ones_and_shape_the_answers() -> None:
    crowd = SimulatedCrowd(n_workers=40, accuracies=(0.55, 0.95), seed=3)
    assert set(crowd.workers().accuracy.round(2)) <= {0.55, 0.95}
    truth = pd.Series(["pos", "neg"] * 2000, index=[f"t{i}" for i in range(4000)])
    answers = crowd.answer(truth, ["pos", "neg"], overlap=3)
    accuracy = (answers.label.to_numpy() == truth.loc[answers.task].to_numpy()).mean()
    expected = crowd.workers().accuracy.mean()  # workers are picked uniformly
    assert abs(accuracy - expected) < 0.02
    with pytest.raises(ValueError, match="between 0 and 1"):
        SimulatedCrowd(accuracies=(1.2,))


def test_a_perfect_simulated_crowd_stores_every_answer_on_its_own_task(tmp_path) -> None:
    """The oracle check for the simulated path: workers who are always right must leave exactly the truth."""
    rng = np.random.default_rng(0)
    true = np.where(rng.random(60) < 0.1, "neg", "pos")  # skewed, as real data is
    tasks = pd.DataFrame({"task": [f"t{i}" for i in range(60)], "text": [f"review {i} " * 50 for i in range(60)],
                          "model_label": "pos", "true_label": true})
    golden = pd.DataFrame({"task": ["g0", "g1"], "text": ["great", "awful"], "label": ["pos", "neg"]})
    store = AnswerStore(f"sqlite:///{tmp_path / 'a.db'}")
    backend = SimulatedCrowdBackend(store, SimulatedCrowd(n_workers=5, accuracies=(1.0,), seed=2))
    batch_id = backend.submit(CrowdBatch(tasks, golden, ["neg", "pos"], overlap=3))
    stored = store.answers(batch_id)
    expected = pd.concat([tasks.set_index("task").true_label, golden.set_index("task").label])
    assert len(stored) == 62 * 3
    assert (stored.label.to_numpy() == expected.loc[stored.task].to_numpy()).all()


@pytest.mark.skipif(not (SHARED_DATA / "crowd" / "d_sentiment").exists(), reason="../shared is absent")
def test_d_possent_worker_accuracies() -> None:
    folder = SHARED_DATA / "crowd" / "d_sentiment"
    answers = pd.read_csv(folder / "answer.csv").set_axis(["task", "worker", "label"], axis=1)
    truth = pd.read_csv(folder / "truth.csv").set_axis(["task", "truth"], axis=1).set_index("task").truth
    accuracies = real_worker_accuracies(answers, truth)
    assert len(accuracies) == 85 and 0.75 < accuracies.mean() < 0.85  # 85 workers, mean 0.79 (SOURCES.md)


def _skewed_batch(n_tasks: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    true = np.where(rng.random(n_tasks) < 0.1, "neg", "pos")
    tasks = pd.DataFrame({"task": [f"t{i}" for i in range(n_tasks)], "model_label": "pos", "true_label": true,
                          "text": [f"review {i} " * 50 for i in range(n_tasks)]})
    golden = pd.DataFrame({"task": ["g0", "g1", "g2"], "text": ["great", "awful", "fine"],
                           "label": ["pos", "neg", "pos"]})
    return tasks, golden, pd.concat([tasks.set_index("task").true_label, golden.set_index("task").label])


def test_an_adaptive_perfect_crowd_gives_exactly_min_answers_per_item_and_leaves_the_truth(tmp_path) -> None:
    tasks, golden, expected = _skewed_batch(60, seed=0)
    store = AnswerStore(f"sqlite:///{tmp_path / 'a.db'}")
    backend = SimulatedCrowdBackend(store, SimulatedCrowd(n_workers=6, accuracies=(1.0,), seed=2))
    batch_id = backend.submit(CrowdBatch(tasks, golden, ["neg", "pos"], min_answers=2, max_answers=5,
                                         stop_confidence=0.95))
    stored = store.answers(batch_id)
    assert (stored.label.to_numpy() == expected.loc[stored.task].to_numpy()).all()
    assert (stored.groupby("task").size() == 2).all() and stored.task.nunique() == 63
    assert backend.progress(batch_id) == BatchProgress(answers=120, needed=120, tasks=60, left=0)
    assert backend.progress(batch_id).describe() == "120 answers given, about 0 more expected"


def test_an_adaptive_noisy_crowd_asks_more_only_where_answers_disagree(tmp_path) -> None:
    tasks, golden, _ = _skewed_batch(200, seed=1)
    store = AnswerStore(f"sqlite:///{tmp_path / 'a.db'}")
    backend = SimulatedCrowdBackend(store, SimulatedCrowd(n_workers=10, accuracies=(0.75,), seed=3))
    batch_id = backend.submit(CrowdBatch(tasks, golden, ["neg", "pos"], min_answers=2, max_answers=5,
                                         stop_confidence=0.95))
    on_tasks = store.answers(batch_id).query("task.str.startswith('t')")
    per_task = on_tasks.groupby("task").agg(n=("label", "size"), kinds=("label", "nunique"),
                                            first_two_agree=("label", lambda s: s.iloc[0] == s.iloc[1]))
    assert per_task.n.between(2, 5).all() and len(per_task) == 200
    assert (per_task.n[~per_task.first_two_agree] >= 3).all()  # a 1-1 start always gets more
    assert (per_task.n[per_task.kinds > 1] >= 3).all()
    assert per_task.n.sum() < 5 * 200 and (per_task.n > 2).any()
    assert store.tasks_needing_answers(batch_id) == []
    assert backend.progress(batch_id).complete
