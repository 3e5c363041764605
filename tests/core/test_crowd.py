"""The crowd interface over the real answer store, the final table and safe CSV export."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.core.aggregation import UNLABELLED, aggregate
from pipelines.core.answer_store import AnswerStore
from pipelines.core.crowd import (
    FINAL_COLUMNS,
    NO_SOURCE,
    CrowdBatch,
    Closed,
    LocalCrowd,
    SimulatedCrowdBackend,
    crowd_labelled,
    final_table,
    final_table_from_answers,
    reaggregated,
    spreadsheet_safe,
)
from pipelines.core.simulated_crowd import SimulatedCrowd

TASKS = pd.DataFrame({"task": [f"t{i}" for i in range(30)], "text": [f"review {i}" for i in range(30)],
                      "model_label": ["pos", "neg"] * 15})
GOLDEN = pd.DataFrame({"task": ["g0", "g1", "g2"], "text": ["great", "awful", "fine"], "label": ["pos", "neg", "pos"]})
BATCH = CrowdBatch(TASKS[["task", "text", "model_label"]], GOLDEN, ["pos", "neg"], overlap=3)


def test_local_crowd_progress_answers_and_close(tmp_path) -> None:
    crowd = LocalCrowd(AnswerStore(f"sqlite:///{tmp_path / 'a.db'}"))
    batch_id = crowd.submit(BATCH)
    assert crowd.progress(batch_id).needed == 90 and not crowd.progress(batch_id).complete
    crowd.store.record_answer(batch_id, "t0", "ana", "pos")
    assert crowd.progress(batch_id).answers == 1
    assert crowd.close(batch_id) == Closed()  # nothing to fetch: the answers are already in the store
    assert crowd.store.next_item_for(batch_id, "ben") is None


def test_simulated_crowd_completes_and_feeds_the_final_table(tmp_path) -> None:
    crowd = SimulatedCrowdBackend(AnswerStore(f"sqlite:///{tmp_path / 'a.db'}"), SimulatedCrowd(n_workers=6, seed=1))
    batch_id = crowd.submit(BATCH)
    assert crowd.progress(batch_id).complete
    answers = crowd.answers(batch_id)
    assert answers.worker.str.startswith("sim-").all()
    result = aggregate(answers[~answers.task.str.startswith("g")], "DawidSkene")
    accepted = pd.DataFrame({"item_id": ["m1"], "text": ["=HYPERLINK(\"x\")"], "label": ["pos"],
                             "confidence": [0.99]})
    table = final_table(accepted, TASKS, result, simulated=True)
    assert len(table) == 31 and set(table.source) == {"model", "simulated crowd"}
    assert table.set_index("item").loc["m1", "score"] == 0.99
    safe = spreadsheet_safe(table)
    assert safe.set_index("item").loc["m1", "text"].startswith("'=") and safe.score.dtype == float


ACCEPTED = pd.DataFrame({"item_id": ["m1", "m2"], "text": ["lovely", "dreadful"], "label": ["pos", "neg"],
                         "confidence": [0.97, 0.91]})


def test_final_table_when_the_threshold_accepts_every_task() -> None:
    table = final_table(ACCEPTED, TASKS.iloc[:0], None, simulated=False)
    assert list(table.item) == ["m1", "m2"] and set(table.source) == {"model"}
    assert list(table.columns) == FINAL_COLUMNS and table.score.dtype == float


def test_final_table_when_the_threshold_accepts_none() -> None:
    answers = pd.DataFrame({"task": ["t0", "t0", "t1"], "worker": ["ana", "ben", "ana"],
                            "label": ["neg", "neg", "pos"]})
    table = final_table(ACCEPTED.iloc[:0], TASKS, aggregate(answers, "MajorityVote"), simulated=False)
    assert len(table) == 30 and "model" not in set(table.source)
    assert table.set_index("item").loc["t0", ["label", "source", "score"]].tolist() == ["neg", "crowd", 1.0]
    assert table.set_index("item").loc["t1", "label"] == "pos"
    assert final_table(ACCEPTED.iloc[:0], TASKS.iloc[:0], None, simulated=False).empty


def test_items_nobody_answered_before_an_early_close_are_unlabelled() -> None:
    answers = pd.DataFrame({"task": ["t0", "t1"], "worker": ["ana", "ana"], "label": ["neg", "pos"]})
    table = final_table(ACCEPTED, TASKS, aggregate(answers, "MajorityVote"), simulated=False).set_index("item")
    unanswered = [f"t{i}" for i in range(2, 30)]
    assert (table.loc[unanswered, "label"] == UNLABELLED).all() and (table.loc[unanswered, "source"] == NO_SOURCE).all()
    assert table.loc[unanswered, "score"].isna().all()
    assert table.loc[["t0", "t1"], "label"].tolist() == ["neg", "pos"]
    assert (table.loc[["t0", "t1"], "source"] == "crowd").all()
    assert list(crowd_labelled(table.reset_index()).item) == ["t0", "t1"]  # what retraining may learn from
    nobody = final_table(ACCEPTED, TASKS, None, simulated=True)
    assert (nobody.source == NO_SOURCE).sum() == 30 and "crowd" not in set(nobody.source)


def test_crowd_items_are_matched_to_answers_whatever_the_type_of_their_ids() -> None:
    numbered = pd.DataFrame({"task": [7, 8], "text": ["a", "b"]})  # the answer store keeps ids as text
    answers = pd.DataFrame({"task": ["7"], "worker": ["ana"], "label": ["pos"]})
    table = final_table(ACCEPTED.iloc[:0], numbered, aggregate(answers, "MajorityVote"), simulated=False)
    assert table.label.tolist() == ["pos", UNLABELLED]


def test_reaggregating_without_a_worker_is_aggregating_the_answers_left() -> None:
    # 10% negatives; ana reads the truth, two spammers answer at random, one adversary flips every label.
    truth = pd.Series(["neg" if i % 10 == 0 else "pos" for i in range(30)], index=TASKS.task)
    rng = np.random.default_rng(0)
    answers = pd.concat([
        pd.DataFrame({"task": truth.index, "worker": "ana", "label": truth.to_numpy()}),
        *(pd.DataFrame({"task": truth.index, "worker": spammer, "label": rng.choice(["pos", "neg"], 30)})
          for spammer in ("spam1", "spam2")),
        pd.DataFrame({"task": truth.index, "worker": "flip", "label": truth.map({"pos": "neg", "neg": "pos"})}),
        pd.DataFrame({"task": GOLDEN.task, "worker": "ana", "label": GOLDEN.label}),  # golden answers stay out
    ], ignore_index=True)
    stored, _ = final_table_from_answers(ACCEPTED, TASKS, answers, "MajorityVote", simulated=False)
    again = reaggregated(stored, answers, "MajorityVote", False, ["spam1", "spam2", "flip"])
    assert list(again.item) == list(stored.item)
    assert again[again.source == "model"].equals(stored[stored.source == "model"])
    assert (stored[stored.source == "crowd"].set_index("item").label != truth).any()  # the spam shows before
    expected = aggregate(answers[(answers.worker == "ana") & answers.task.isin(TASKS.task)], "MajorityVote").labels
    crowd = again[again.source == "crowd"].set_index("item").label
    assert crowd.to_dict() == expected.to_dict() == truth.to_dict()
    nobody_left = reaggregated(stored, answers, "MajorityVote", False, ["ana", "spam1", "spam2", "flip"])
    assert (nobody_left[nobody_left.source != "model"].label == UNLABELLED).all()


FORMULAS = ("=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://example.invalid")')


def test_every_formula_start_is_neutralised_in_cells_and_column_names_once() -> None:
    frame = pd.DataFrame({"text": [*FORMULAS, "fine"], "=cmd": [1.0] * (len(FORMULAS) + 1)})
    safe = spreadsheet_safe(frame)
    assert list(safe.text) == [*(f"'{value}" for value in FORMULAS), "fine"]
    assert list(safe.columns) == ["text", "'=cmd"] and safe["'=cmd"].dtype == float
    pd.testing.assert_frame_equal(spreadsheet_safe(safe), safe)


def test_only_text_cells_are_neutralised_in_columns_of_mixed_or_no_text() -> None:
    frame = pd.DataFrame({"mixed": ["=1+1", None, 3, True, "-2", 1.5, "ok"],
                          "no_text": pd.Series([None, 1, 2.5, False, None, 7, None], dtype=object),
                          "typed": pd.Series(["@x", None, "fine", "+y", "a", "b", "c"], dtype="string")})
    safe = spreadsheet_safe(frame)
    assert list(safe.mixed) == ["'=1+1", None, 3, True, "'-2", 1.5, "ok"]
    assert list(safe.no_text) == list(frame.no_text) and safe.no_text.dtype == object
    assert safe.typed.dtype == "string" and safe.typed.tolist() == ["'@x", pd.NA, "fine", "'+y", "a", "b", "c"]
    pd.testing.assert_frame_equal(spreadsheet_safe(safe), safe)
