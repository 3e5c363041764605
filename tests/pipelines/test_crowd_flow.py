"""The crowd loop after a real autohelper run: simulated crowd end to end, and people via the answer store."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from dashboard import gateway
from pipelines.catalog import AUDIT_ARTIFACT_KEY, CROWD_LOOP, CROWD_PROGRESS_ARTIFACT_KEY, FINAL_TABLE_ARTIFACT_KEY
from pipelines.core.agreement import krippendorff_alpha
from pipelines.core.answer_store import AnswerStore
from pipelines.core.answer_tables import items
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.crowd import final_table_from_answers
from pipelines.core.run_data import run_data_store
from tests.conftest import wait_for_log, wait_for_pending_input, wait_for_status


@pytest.fixture
def split_run(prefect_api: str, autohelper_split: str) -> str:
    return autohelper_split


def _final(run_id: str) -> pd.DataFrame:
    return AutohelperStore.for_run(run_data_store(), run_id).read("final")


def test_simulated_crowd_labels_every_manual_item(split_run: str) -> None:
    manual = AutohelperStore.for_run(run_data_store(), split_run).read("manual")
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": split_run, "crowd": "simulated"})
    assert wait_for_status(crowd_run, {"completed", "failed"}, timeout=120).status == "completed"
    final = _final(split_run)
    assert len(final) == 60
    assert (final.source == "simulated crowd").sum() == len(manual) and final.label.notna().all()
    artifact = next(a for a in gateway.artifacts(crowd_run) if a.key == FINAL_TABLE_ARTIFACT_KEY)
    assert "simulated crowd (DawidSkene)" in artifact.description
    progress = next(a for a in gateway.artifacts(crowd_run) if a.key == CROWD_PROGRESS_ARTIFACT_KEY)
    assert progress.data == 100 and progress.description.startswith("Simulated crowd batch")


def test_an_adaptive_simulated_crowd_completes_its_batch_with_fewer_answers_than_max(split_run: str,
                                                                                     tmp_path) -> None:
    manual = AutohelperStore.for_run(run_data_store(), split_run).read("manual")
    url = f"sqlite:///{tmp_path / 'adaptive.db'}"
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": split_run, "crowd": "simulated",
                                               "adaptive": True, "database_url": url})
    assert wait_for_status(crowd_run, {"completed", "failed"}, timeout=120).status == "completed"
    store = AnswerStore(url)
    batch_id = gateway.result(crowd_run)["batch_id"]
    assert store.adaptive_rule(batch_id).max_answers == 5
    progress = store.progress(batch_id)
    assert progress.left == 0 and progress.complete  # complete by the rule
    assert store.tasks_needing_answers(batch_id) == []
    assert 2 * len(manual) <= progress.answers < 5 * len(manual)
    final = _final(split_run)
    assert (final.source == "simulated crowd").sum() == len(manual) and final.label.notna().all()
    artifact = next(a for a in gateway.artifacts(crowd_run) if a.key == CROWD_PROGRESS_ARTIFACT_KEY)
    assert artifact.description.endswith(f"closed: {progress.answers} answers given, about 0 more expected")


def test_the_models_label_as_prior_is_stored_with_each_item_and_saves_answers(split_run: str, tmp_path) -> None:
    manual = AutohelperStore.for_run(run_data_store(), split_run).read("manual")
    answers = {}
    for model_prior in (False, True):
        url = f"sqlite:///{tmp_path / f'prior-{model_prior}.db'}"
        crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": split_run, "crowd": "simulated",
                                                   "adaptive": True, "model_prior": model_prior,
                                                   "database_url": url, "seed": 3})
        assert wait_for_status(crowd_run, {"completed", "failed"}, timeout=120).status == "completed"
        store = AnswerStore(url)
        batch_id = gateway.result(crowd_run)["batch_id"]
        assert store.progress(batch_id).complete and store.tasks_needing_answers(batch_id) == []
        answers[model_prior] = store.progress(batch_id).answers
        with store.engine.connect() as connection:
            stored = pd.read_sql(sa.select(items.c.task, items.c.model_label, items.c.model_confidence)
                                 .where(items.c.batch_id == batch_id, items.c.is_golden.is_(False)), connection)
        if model_prior:  # each item carries exactly the label the model gave it, at a calibrated confidence
            expected = manual.set_index(manual.item_id.astype(str)).label
            assert stored.set_index("task").model_label.to_dict() == expected.to_dict()
            assert stored.model_confidence.between(0.5, 0.9).all()
        else:
            assert stored.model_label.isna().all()
        final = _final(split_run)
        assert (final.source == "simulated crowd").sum() == len(manual) and final.label.notna().all()
    assert answers[True] <= answers[False]


def test_people_label_then_the_analyst_collects(split_run: str, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'people.db'}"
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": split_run, "crowd": "local", "overlap": 2,
                                               "database_url": url})
    wait_for_pending_input(crowd_run)
    store = AnswerStore(url)
    for annotator in ("ana", "ben"):
        while (item := store.next_item_for(1, annotator)) is not None:
            store.record_answer(1, item.task, annotator, "pos")
    gateway.resume(crowd_run, {"collect_now": True}, analyst="Lee")
    assert wait_for_status(crowd_run, {"completed", "failed"}).status == "completed"
    final = _final(split_run)
    crowd_rows = final[final.source == "crowd"]
    assert len(crowd_rows) and (crowd_rows.label == "pos").all() and (crowd_rows.score == 1.0).all()


def _start_local(split_run: str, tmp_path, overlap: int = 2) -> tuple[object, AnswerStore, int]:
    url = f"sqlite:///{tmp_path / 'people.db'}"
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": split_run, "crowd": "local", "overlap": overlap,
                                               "database_url": url})
    wait_for_pending_input(crowd_run)
    store = AnswerStore(url)
    [batch] = store.open_batches()
    return crowd_run, store, batch.id


def test_a_batch_answered_all_neg_on_balanced_truth_warns_in_result_log_and_artifact(split_run: str,
                                                                                   tmp_path) -> None:
    crowd_run, store, batch_id = _start_local(split_run, tmp_path)
    golden = store.golden_labels(batch_id)
    assert 0.3 <= (golden == "neg").mean() <= 0.7  # the sample's golden items are balanced
    for annotator in ("ana", "ben"):  # both answer `neg` to everything they are served, and to every golden item
        while (item := store.next_item_for(batch_id, annotator)) is not None:
            assert store.record_answer(batch_id, item.task, annotator, "neg") == "stored"
        for task in golden.index:
            assert store.record_answer(batch_id, task, annotator, "neg") in {"stored", "duplicate"}
    assert (store.answers(batch_id).label == "neg").all()
    gateway.resume(crowd_run, {"collect_now": True}, analyst="Lee")
    assert wait_for_status(crowd_run, {"completed", "failed"}).status == "completed"

    result = gateway.result(crowd_run)
    crowd_items = (_final(split_run).source == "crowd").sum()
    one_class = f"All {crowd_items} crowd labels are 'neg'"
    at_chance = f"The crowd's answers on golden items are right {(golden == 'neg').mean():.0%} of the time"
    assert any(w.startswith(one_class) for w in result["warnings"])
    assert any(w.startswith(at_chance) and "no better than chance (50%)" in w for w in result["warnings"])
    artifact = next(a for a in gateway.artifacts(crowd_run) if a.key == FINAL_TABLE_ARTIFACT_KEY)
    assert f"**Warning:** {one_class}" in artifact.description and f"**Warning:** {at_chance}" in artifact.description
    assert wait_for_log(crowd_run, one_class) and wait_for_log(crowd_run, at_chance)


def test_an_early_close_leaves_unanswered_items_unlabelled_and_says_how_many(split_run: str, tmp_path) -> None:
    crowd_run, store, batch_id = _start_local(split_run, tmp_path)
    truth = AutohelperStore.for_run(run_data_store(), split_run).read("manual").set_index("item_id").true_label
    golden = store.golden_labels(batch_id)
    given: dict[str, str] = {}
    while len(given) < 3:  # an oracle annotator answers three task items from the truth, then the analyst closes
        item = store.next_item_for(batch_id, "ana")
        label = golden[item.task] if item.task in golden.index else truth[item.task]
        assert store.record_answer(batch_id, item.task, "ana", label) == "stored"
        if item.task not in golden.index:
            given[item.task] = label
    gateway.resume(crowd_run, {"collect_now": True}, analyst="Lee")
    assert wait_for_status(crowd_run, {"completed", "failed"}).status == "completed"

    final = _final(split_run).set_index("item")
    crowd_rows = final[final.source != "model"]
    assert crowd_rows.loc[list(given), "label"].to_dict() == given
    assert (crowd_rows.loc[list(given), "source"] == "crowd").all()
    unanswered = crowd_rows.drop(index=list(given))
    assert len(unanswered) == len(truth) - 3
    assert (unanswered.label == "unlabelled").all() and (unanswered.source == "none").all()
    assert gateway.result(crowd_run)["unlabelled"] == len(unanswered)
    artifact = next(a for a in gateway.artifacts(crowd_run) if a.key == FINAL_TABLE_ARTIFACT_KEY)
    assert f"3 from the crowd (DawidSkene), {len(unanswered)} unlabelled" in artifact.description


def test_keep_waiting_leaves_the_batch_open_and_asks_the_same_question_again(split_run: str, tmp_path) -> None:
    crowd_run, store, batch_id = _start_local(split_run, tmp_path)
    first = gateway.pending_input(crowd_run)
    gateway.resume(first, {"collect_now": False}, analyst="Lee")
    second = wait_for_pending_input(crowd_run)
    assert second.pause_key != first.pause_key  # a new pause: a form drawn for the first cannot answer it
    assert (second.description, second.schema) == (first.description, first.schema)
    assert wait_for_log(crowd_run, f"Crowd batch {batch_id}: the analyst chose to keep waiting")
    assert batch_id in {batch.id for batch in store.open_batches()}
    item = store.next_item_for(batch_id, "ana")  # the batch still takes answers while the run waits again
    assert store.record_answer(batch_id, item.task, "ana", "neg") == "stored"

    gateway.resume(second, {"collect_now": True}, analyst="Lee")
    assert wait_for_status(crowd_run, {"completed", "failed"}).status == "completed"
    assert batch_id not in {batch.id for batch in store.open_batches()}
    assert gateway.result(crowd_run)["answers"] == 1
    audit = [row for a in gateway.artifacts(crowd_run) if a.key == AUDIT_ARTIFACT_KEY for row in a.data]
    assert [row["input"] for row in audit] == ["collect_now=False", "collect_now=True"]


@pytest.mark.parametrize("accepts", ["every-task", "none"])
def test_a_threshold_that_accepts_every_task_or_none_still_gives_the_final_table(split_run: str, accepts: str) -> None:
    source = AutohelperStore.for_run(run_data_store(), split_run)
    tasks = pd.concat([source.read("accepted"), source.read("manual")], ignore_index=True)
    extreme = AutohelperStore.for_run(run_data_store(), f"{split_run}-accepts-{accepts}")
    extreme.write("golden", source.read("golden"))
    extreme.write("accepted", tasks if accepts == "every-task" else tasks.iloc[:0])
    extreme.write("manual", tasks.iloc[:0] if accepts == "every-task" else tasks)
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": f"{split_run}-accepts-{accepts}",
                                               "crowd": "simulated", "spammer_share": 0.0})
    assert wait_for_status(crowd_run, {"completed", "failed"}, timeout=120).status == "completed"
    final = extreme.read("final")
    assert sorted(final.item) == sorted(tasks.item_id) and "unlabelled" not in set(final.label)
    expected_source = "model" if accepts == "every-task" else "simulated crowd"
    assert (final.source == expected_source).all()
    if accepts == "every-task":
        assert final.set_index("item").label.to_dict() == tasks.set_index("item_id").label.to_dict()
        assert gateway.result(crowd_run)["warnings"] == []  # nothing went to people


def test_the_model_votes_on_simulated_answers_and_the_run_says_which_labels_it_changed(split_run: str,
                                                                                   tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'votes.db'}"
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": split_run, "crowd": "simulated",
                                               "model_votes": True, "database_url": url})
    assert wait_for_status(crowd_run, {"completed", "failed"}, timeout=120).status == "completed"
    result, final = gateway.result(crowd_run), _final(split_run)
    source = AutohelperStore.for_run(run_data_store(), split_run)
    manual, accepted = source.read("manual"), source.read("accepted")
    store = AnswerStore(url)
    answers = store.answers(result["batch_id"])
    # The model's answers are never stored with people's: not counted as answers, nor toward completion.
    assert not answers.worker.str.startswith("model:").any() and result["answers"] == len(answers)
    progress = store.progress(result["batch_id"])
    assert progress.answers == progress.needed == 3 * len(manual)  # task answers: people's only
    assert len(answers) == 3 * (len(manual) + 20)  # and their golden checks
    tasks = manual.rename(columns={"item_id": "task", "label": "model_label"})
    without, _ = final_table_from_answers(accepted, tasks, answers, "DawidSkene", simulated=True)
    voted, _ = final_table_from_answers(accepted, tasks, answers, "DawidSkene", simulated=True, model_votes=True)
    pd.testing.assert_frame_equal(final, voted)
    assert set(final.item[final.model_influenced]) == set(without.item[without.label != final.label])
    assert result["model_votes"] and result["model_influenced"] == int(final.model_influenced.sum())
    artifact = next(a for a in gateway.artifacts(crowd_run) if a.key == FINAL_TABLE_ARTIFACT_KEY)
    assert f"its vote changed {result['model_influenced']} labels" in artifact.description
    assert "Agreement (Krippendorff's alpha, people only): " in artifact.description
    assert result["alpha"] == pytest.approx(krippendorff_alpha(answers))
