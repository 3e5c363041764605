"""The crowd loop after a real autohelper run: simulated crowd end to end, and people via the answer store."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import gateway
from pipelines.catalog import CROWD_LOOP, CROWD_PROGRESS_ARTIFACT_KEY, FINAL_TABLE_ARTIFACT_KEY
from pipelines.core.answer_store import AnswerStore
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.settings import get_settings
from tests.conftest import wait_for_pending_input, wait_for_status


@pytest.fixture
def split_run(prefect_api: str, autohelper_split: str) -> str:
    return autohelper_split


def _final(run_id: str) -> pd.DataFrame:
    return pd.read_parquet(AutohelperStore.for_run(get_settings().data_dir, run_id).folder / "final.parquet")


def test_simulated_crowd_labels_every_manual_item(split_run: str) -> None:
    manual = AutohelperStore.for_run(get_settings().data_dir, split_run).read("manual")
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": split_run, "crowd": "simulated"})
    assert wait_for_status(crowd_run, {"completed", "failed"}, timeout=120).status == "completed"
    final = _final(split_run)
    assert len(final) == 60
    assert (final.source == "simulated crowd").sum() == len(manual) and final.label.notna().all()
    artifact = next(a for a in gateway.artifacts(crowd_run) if a.key == FINAL_TABLE_ARTIFACT_KEY)
    assert "simulated crowd (DawidSkene)" in artifact.description
    progress = next(a for a in gateway.artifacts(crowd_run) if a.key == CROWD_PROGRESS_ARTIFACT_KEY)
    assert progress.data == 100 and progress.description.startswith("Simulated crowd batch")


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
