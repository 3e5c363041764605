"""The autohelper deployment on the generated sample with the real offline MiniLM, end to end."""

from __future__ import annotations

import pytest

from dashboard import gateway
from pipelines.catalog import AUTOHELPER, AUTOHELPER_PROGRESS_ARTIFACT_KEY, AUTOHELPER_SUMMARY_ARTIFACT_KEY
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.settings import get_settings
from tests.conftest import wait_for_pending_input, wait_for_status

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_predict_pause_for_threshold_then_split() -> None:
    run_id = gateway.start_run(AUTOHELPER)  # the default split: golden max(100, 10%), every other row a task
    pending = wait_for_pending_input(run_id, timeout=240)
    seed_value = pending.schema["properties"]["threshold"]["default"]
    assert 0 < seed_value <= 1 and f"**{seed_value:.3f}**" in pending.description

    store = AutohelperStore.for_run(get_settings().data_dir, str(run_id))
    predictions = store.read("predictions")
    assert (predictions.split == "golden").sum() == 100 and (predictions.split == "task").sum() == 220
    assert predictions.model_version.str.startswith("minilm-offline:few-shot(100").all()
    progress = next(a for a in gateway.artifacts(run_id) if a.key == AUTOHELPER_PROGRESS_ARTIFACT_KEY)
    assert progress.data == 100.0

    gateway.resume(run_id, {"threshold": 0.9}, analyst="Kim")
    assert wait_for_status(run_id, {"completed", "failed"}).status == "completed"
    accepted, manual = store.read("accepted"), store.read("manual")
    assert len(accepted) + len(manual) == 220
    assert (accepted.confidence >= 0.9).all() and (manual.confidence < 0.9).all()
    summary = next(a for a in gateway.artifacts(run_id) if a.key == AUTOHELPER_SUMMARY_ARTIFACT_KEY)
    assert len(summary.data) == len(accepted)
    assert gateway.result(run_id)["accepted"] == len(accepted)
