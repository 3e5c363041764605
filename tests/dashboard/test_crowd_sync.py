"""A crowd loop run waiting for people: its progress artifact follows the answers and the last answer resumes it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from dashboard import gateway
from dashboard.crowd_sync import report_progress
from pipelines.catalog import AUDIT_ARTIFACT_KEY, CROWD_LOOP, CROWD_PROGRESS_ARTIFACT_KEY
from pipelines.core.answer_store import AnswerStore
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.settings import get_settings
from tests.conftest import wait_for_pending_input, wait_for_status


def _progress_artifact(run_id: object) -> gateway.ArtifactView:
    return next(a for a in gateway.artifacts(run_id) if a.key == CROWD_PROGRESS_ARTIFACT_KEY)


def test_progress_follows_the_answers_and_the_last_answer_resumes_the_run(autohelper_split: str, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'people.db'}"
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "local",
                                               "overlap": 2, "database_url": url})
    wait_for_pending_input(crowd_run)
    store = AnswerStore(url)
    [batch] = store.open_batches()
    assert batch["owner"] == str(crowd_run)
    needed = store.progress(batch["id"])["needed"]
    seen = []
    annotator = "ana"
    while (item := store.next_item_for(batch["id"], annotator)) is not None:
        assert store.record_answer(batch["id"], item.task, annotator, "neg") == "stored"
        progress = store.progress(batch["id"])
        if progress["answers"] == needed - 1:
            break  # the last answer is given by two people at once below
        assert report_progress(batch, progress, annotator) is False
        seen.append(_progress_artifact(crowd_run).data)
        annotator = "ben" if annotator == "ana" else "ana"
    assert seen == sorted(seen)
    assert seen[-1] == 100 * (needed - 2) / needed
    assert gateway.run(crowd_run).status == "paused"

    while (complete := store.progress(batch["id"]))["answers"] < needed:  # cy is served golden items too
        item = store.next_item_for(batch["id"], "cy")
        assert store.record_answer(batch["id"], item.task, "cy", "pos") == "stored"
    with ThreadPoolExecutor(2) as pool:  # both finishers' pages report at once; the run is resumed once
        resumed = list(pool.map(lambda who: report_progress(batch, complete, who), ["cy", "dee"]))
    assert sorted(resumed) == [False, True]

    assert wait_for_status(crowd_run, {"completed", "failed"}).status == "completed"
    assert _progress_artifact(crowd_run).data == 100
    [decision] = [row for a in gateway.artifacts(crowd_run) if a.key == AUDIT_ARTIFACT_KEY for row in a.data]
    assert decision["resumed_by"].startswith("batch complete (last answer by ")
    final = pd.read_parquet(AutohelperStore.for_run(get_settings().data_dir, autohelper_split).folder
                            / "final.parquet")
    assert final[final.source == "crowd"].label.notna().all()
    assert store.open_batches() == []


def test_a_batch_without_an_owner_reports_nothing(tmp_path) -> None:
    assert report_progress({"id": 1, "owner": None}, {"answers": 3, "needed": 3}, "ana") is False
