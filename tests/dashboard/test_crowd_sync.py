"""A crowd loop run waiting for people: its progress artifact follows the answers and the last answer resumes it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from dashboard import gateway
from dashboard.crowd_sync import report_progress
from pipelines.catalog import AUDIT_ARTIFACT_KEY, CROWD_LOOP, CROWD_PROGRESS_ARTIFACT_KEY
from pipelines.core.answer_store import AnswerStore, Batch, BatchProgress
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.run_data import run_data_store
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
    assert batch.owner == str(crowd_run)
    needed = store.progress(batch.id).needed
    seen = []
    annotator = "ana"
    while (item := store.next_item_for(batch.id, annotator)) is not None:
        assert store.record_answer(batch.id, item.task, annotator, "neg") == "stored"
        progress = store.progress(batch.id)
        if progress.answers == needed - 1:
            break  # the last answer is given by two people at once below
        assert report_progress(batch, progress, annotator) is False
        seen.append(_progress_artifact(crowd_run).data)
        annotator = "ben" if annotator == "ana" else "ana"
    assert seen == sorted(seen)
    assert seen[-1] == 100 * (needed - 2) / needed
    assert gateway.run(crowd_run).status == "paused"

    while (complete := store.progress(batch.id)).answers < needed:  # cy is served golden items too
        item = store.next_item_for(batch.id, "cy")
        assert store.record_answer(batch.id, item.task, "cy", "pos") == "stored"
    with ThreadPoolExecutor(2) as pool:  # both finishers' pages report at once; the run is resumed once
        resumed = list(pool.map(lambda who: report_progress(batch, complete, who), ["cy", "dee"]))
    assert sorted(resumed) == [False, True]

    assert wait_for_status(crowd_run, {"completed", "failed"}).status == "completed"
    assert _progress_artifact(crowd_run).data == 100
    [decision] = [row for a in gateway.artifacts(crowd_run) if a.key == AUDIT_ARTIFACT_KEY for row in a.data]
    assert decision["resumed_by"].startswith("batch complete (last answer by ")
    final = AutohelperStore.for_run(run_data_store(), autohelper_split).read("final")
    assert final[final.source == "crowd"].label.notna().all()
    assert store.open_batches() == []


def test_tolokers_answers_are_fetched_on_the_results_page_which_resumes_the_run(autohelper_split: str,
                                                                             fake_toloka) -> None:
    from streamlit.testing.v1 import AppTest

    gateway.store_secret(get_settings().toloka_secret_block, fake_toloka.api_key)
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "toloka",
                                               "overlap": 2})
    wait_for_pending_input(crowd_run)
    [pool_id] = fake_toloka.pools
    items = [t["input_values"]["item"] for t in fake_toloka.tasks[pool_id] if "known_solutions" not in t]
    golden = [t for t in fake_toloka.tasks[pool_id] if "known_solutions" in t]
    for user, label in (("u1", "pos"), ("u2", "neg")):
        fake_toloka.work(pool_id, user, {item: label for item in items}
                         | {golden[0]["input_values"]["item"]: golden[0]["known_solutions"][0]["output_values"]["label"]})

    results = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py"),
                                default_timeout=90)
    results.switch_page("views/crowd_results.py")
    results.run()
    assert not results.exception and not results.error
    assert wait_for_status(crowd_run, {"completed", "failed"}).status == "completed"
    assert fake_toloka.pools[pool_id]["status"] == "CLOSED"
    [decision] = [row for a in gateway.artifacts(crowd_run) if a.key == AUDIT_ARTIFACT_KEY for row in a.data]
    assert decision["resumed_by"] == "batch complete (last answer by Toloka)"
    answers = AnswerStore(get_settings().answer_store_url).answers(gateway.result(crowd_run)["batch_id"])
    assert set(answers.worker) == {"toloka-u1", "toloka-u2"} and len(answers) == 2 * len(items) + 2
    final = pd.read_parquet(gateway.result(crowd_run)["final"])
    assert (final.source == "crowd").sum() == len(items) and final.label.notna().all()


def test_a_batch_without_an_owner_reports_nothing(tmp_path) -> None:
    batch = Batch(1, ("neg", "pos"), overlap=3, owner=None, source="local")
    assert report_progress(batch, BatchProgress(answers=3, needed=3, tasks=1), "ana") is False


def test_toloka_is_offered_only_with_a_project_and_a_key(backend, monkeypatch) -> None:
    from dashboard.crowd_sync import toloka_configured

    monkeypatch.delenv("TOLOKA_API_KEY", raising=False)
    monkeypatch.setenv("HITL_TOLOKA_SECRET_BLOCK", "no-such-toloka-block")
    try:
        get_settings.cache_clear()
        assert not toloka_configured()  # a project, no key
        monkeypatch.setenv("TOLOKA_API_KEY", "k")
        assert toloka_configured()
        monkeypatch.delenv("HITL_TOLOKA_PROJECT_ID")
        get_settings.cache_clear()
        assert not toloka_configured()  # a key, no project
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
