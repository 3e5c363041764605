"""The retrain flow on a real autohelper run and a real crowd loop, through the deployment the dashboard uses."""

from __future__ import annotations

import io

import pandas as pd
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from dashboard import gateway
from pipelines.catalog import (
    AUTOHELPER,
    CROWD_LOOP,
    RETRAIN,
    RETRAIN_PROGRESS_ARTIFACT_KEY,
    RETRAIN_REPORT_ARTIFACT_KEY,
)
from pipelines.core.answer_store import AnswerStore
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.model_versions import load_model, load_version, training_data
from pipelines.core.run_data import run_data_store
from tests.conftest import wait_for_log, wait_for_pending_input, wait_for_status


def test_retraining_on_the_crowd_labels_forecasts_the_next_round(autohelper_split: str, prefect_api: str) -> None:
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "simulated",
                                               "spammer_share": 0.0})
    assert wait_for_status(crowd_run, {"completed", "failed"}, timeout=120).status == "completed"
    retrain = gateway.start_run(RETRAIN, {"autohelper_run_id": autohelper_split, "target_accuracy": 0.9,
                                          "round_one_threshold": 0.9})
    settled = wait_for_status(retrain, {"completed", "failed"}, timeout=180)
    assert settled.status == "completed", settled.message

    report = gateway.result(retrain)
    store = AutohelperStore.for_run(run_data_store(), autohelper_split)
    manual = store.read("manual")
    assert report["crowd_labels"] == len(manual) and report["golden"] == 20 and report["target_accuracy"] == 0.9
    # By default the next round is forecast on its tasks' calibrated accuracy, as the report says.
    assert report["accuracy_of"] == "calibrated"
    # "Before" is what round one sent at its confirmed threshold, not a forecast.
    assert (report["before"]["threshold"], report["before"]["to_crowd"]) == (0.9, len(manual))
    for forecast in (report["before"], report["after"]):
        assert forecast["to_crowd"] + forecast["accepted"] == 60
    retrained = store.read("retrained")
    assert len(retrained) == 80
    assert set(retrained[retrained.item_id.isin(set(manual.item_id))].scored) == {"out-of-fold"}
    artifacts = {a.key: a for a in gateway.artifacts(retrain)}
    assert artifacts[RETRAIN_PROGRESS_ARTIFACT_KEY].data == 100
    assert f"{report['before']['to_crowd']} |" in artifacts[RETRAIN_REPORT_ARTIFACT_KEY].data
    assert "20 golden + " in artifacts[RETRAIN_REPORT_ARTIFACT_KEY].data
    assert "simulated crowd labels" in artifacts[RETRAIN_REPORT_ARTIFACT_KEY].data
    assert "on the task items accepted (calibrated on golden)" in artifacts[RETRAIN_REPORT_ARTIFACT_KEY].data

    version = load_version(run_data_store(), report["model_version"])
    assert f"`{version.version_id}`" in artifacts[RETRAIN_REPORT_ARTIFACT_KEY].data
    assert (version.autohelper_run_id, version.n_trained) == (autohelper_split, 20 + len(manual))
    assert version.parent == store.read("predictions").model_version.iloc[0]
    assert version.golden_accuracy == report["golden_accuracy_after"]
    assert set(training_data(version).item_id) == set(store.read("golden").item_id) | set(manual.item_id)
    # Prefect's UI shows the steps as named tasks, each completed.
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[retrain])))
    assert sorted((task.name.rsplit("-", 1)[0], task.state.type.value) for task in tasks) == [
        ("fit_and_forecast", "COMPLETED"), ("load_training_data", "COMPLETED"), ("publish_report", "COMPLETED"),
        ("save_retrained", "COMPLETED")]


def test_a_saved_version_labels_the_next_run_with_its_own_head(autohelper_split: str) -> None:
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "simulated",
                                               "spammer_share": 0.0})
    assert wait_for_status(crowd_run, {"completed", "failed"}, timeout=120).status == "completed"
    retrain = gateway.start_run(RETRAIN, {"autohelper_run_id": autohelper_split, "target_accuracy": 0.9,
                                          "accuracy_of": "golden"})
    assert wait_for_status(retrain, {"completed", "failed"}, timeout=180).status == "completed"
    assert gateway.result(retrain)["accuracy_of"] == "golden"
    version = load_version(run_data_store(), gateway.result(retrain)["model_version"])

    next_run = gateway.start_run(AUTOHELPER, {"n_tasks": 60, "n_golden": 20, "model": version.version_id})
    pending = wait_for_pending_input(next_run, timeout=240)
    assert version.name in pending.description
    predictions = AutohelperStore.for_run(run_data_store(), str(next_run)).read("predictions")
    assert set(predictions.model_version) == {version.version_id}
    tasks = predictions[predictions.split == "task"]
    head = load_model(version).predict(list(tasks.text), list(tasks.item_id))
    assert list(tasks.label) == [p.label for p in head]  # the version's head, no refit
    # The golden items it learnt from keep its out-of-fold predictions: the threshold is calibrated honestly.
    out_of_fold = pd.read_parquet(io.BytesIO(version.read("calibration.parquet"))).set_index("item_id")
    golden = predictions[predictions.split == "golden"].set_index("item_id")
    assert (golden.label == out_of_fold.loc[golden.index, "label"]).all()
    gateway.resume(next_run, {"threshold": 0.9})
    assert wait_for_status(next_run, {"completed", "failed"}).status == "completed"


def test_retraining_before_any_crowd_answer_fails_with_a_plain_reason(backend, tmp_path) -> None:
    run = gateway.start_run(RETRAIN, {"autohelper_run_id": "no-such-run", "target_accuracy": 0.9})
    failed = wait_for_status(run, {"completed", "failed"}, timeout=120)
    assert failed.status == "failed" and "has no final table yet: run the crowd loop first" in failed.message


def test_retraining_on_a_crowd_that_flips_labels_warns_and_skips_unlabelled_items(autohelper_split: str,
                                                                                 tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'people.db'}"
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "local",
                                               "overlap": 1, "database_url": url})
    wait_for_pending_input(crowd_run)
    answers = AnswerStore(url)
    [batch] = answers.open_batches()
    store = AutohelperStore.for_run(run_data_store(), autohelper_split)
    truth = store.read("manual").set_index("item_id").true_label
    golden = answers.golden_labels(batch.id)
    flip = {"pos": "neg", "neg": "pos"}
    flipped = 0
    while flipped < 5:  # one annotator answers five task items, and every golden item, wrongly; then the close
        item = answers.next_item_for(batch.id, "flip")
        is_golden = item.task in golden.index
        label = flip[golden[item.task] if is_golden else truth[item.task]]
        assert answers.record_answer(batch.id, item.task, "flip", label) == "stored"
        flipped += not is_golden
    for task, label in golden.items():
        assert answers.record_answer(batch.id, task, "flip", flip[label]) in {"stored", "duplicate"}
    gateway.resume(crowd_run, {"collect_now": True}, analyst="Lee")
    assert wait_for_status(crowd_run, {"completed", "failed"}).status == "completed"
    assert (store.read("final").label == "unlabelled").sum() == len(truth) - 5

    retrain = gateway.start_run(RETRAIN, {"autohelper_run_id": autohelper_split, "target_accuracy": 0.9,
                                          "batch_id": batch.id, "database_url": url})
    settled = wait_for_status(retrain, {"completed", "failed"}, timeout=180)
    assert settled.status == "completed", settled.message
    report = gateway.result(retrain)
    assert report["crowd_labels"] == 5  # never the unlabelled items
    at_chance = "The crowd's answers on golden items are right 0% of the time (0 of 20"
    odds = "The crowd labels agree with the dataset's own labels on 0% of the 5 items that have one"
    # Both said, whatever else is (all five labels one class is warned too when the five served happen to be).
    said = report["warnings"]
    assert any(w.startswith(at_chance) for w in said) and any(w.startswith(odds) for w in said), said
    markdown = next(a for a in gateway.artifacts(retrain) if a.key == RETRAIN_REPORT_ARTIFACT_KEY).data
    assert "**Warnings**" in markdown and all(f"- {w}" in markdown for w in report["warnings"])
    assert wait_for_log(retrain, at_chance)
