"""The retrain flow on a real autohelper run and a real crowd loop, through the deployment the dashboard uses."""

from __future__ import annotations

from dashboard import gateway
from pipelines.catalog import CROWD_LOOP, RETRAIN, RETRAIN_PROGRESS_ARTIFACT_KEY, RETRAIN_REPORT_ARTIFACT_KEY
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.settings import get_settings
from tests.conftest import wait_for_status


def test_retraining_on_the_crowd_labels_forecasts_the_next_round(autohelper_split: str) -> None:
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "simulated",
                                               "spammer_share": 0.0})
    assert wait_for_status(crowd_run, {"completed", "failed"}, timeout=120).status == "completed"
    retrain = gateway.start_run(RETRAIN, {"autohelper_run_id": autohelper_split, "target_accuracy": 0.9})
    settled = wait_for_status(retrain, {"completed", "failed"}, timeout=180)
    assert settled.status == "completed", settled.message

    report = gateway.result(retrain)
    store = AutohelperStore.for_run(get_settings().data_dir, autohelper_split)
    manual = store.read("manual")
    assert report["crowd_labels"] == len(manual) and report["golden"] == 20 and report["target_accuracy"] == 0.9
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


def test_retraining_before_any_crowd_answer_fails_with_a_plain_reason(backend, tmp_path) -> None:
    run = gateway.start_run(RETRAIN, {"autohelper_run_id": "no-such-run", "target_accuracy": 0.9})
    failed = wait_for_status(run, {"completed", "failed"}, timeout=120)
    assert failed.status == "failed" and "has no final table yet: run the crowd loop first" in failed.message
