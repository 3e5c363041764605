"""The crowd form under a completed autohelper run, drawn from the run's stored tables (no backend needed)."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.model_versions import VERSION_PREFIX, is_version_id
from pipelines.core.run_data import run_data_store

BASE_MODEL = "minilm-offline"
RETRAINED = f"{VERSION_PREFIX}20261130-120000-a1b2c3"


def _split_run(model_version: str) -> str:
    run_id = str(uuid4())
    store = AutohelperStore.for_run(run_data_store(), run_id)
    rows = pd.DataFrame({"item_id": ["t1", "t2"], "text": ["Great value.", "Broke in a week."],
                         "label": ["pos", "neg"], "confidence": [0.97, 0.61], "model_version": model_version})
    store.write("accepted", rows.iloc[:1])
    store.write("manual", rows.iloc[1:])
    return run_id


def _crowd_form(run_id: str) -> AppTest:
    def page(run_id: str) -> None:
        from uuid import UUID

        from dashboard.panels.split_results import results

        results(UUID(run_id))

    app = AppTest.from_function(page, args=(run_id,), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    app.checkbox(key="autohelper.adaptive").check().run()
    return app


@pytest.mark.parametrize(("model_version", "proposed_stop"), [(BASE_MODEL, 0.88), (RETRAINED, 0.93)])
def test_the_crowd_form_proposes_a_stricter_stop_for_a_retrained_version(data_dir: Path, model_version: str,
                                                                          proposed_stop: float) -> None:
    assert is_version_id(RETRAINED) and not is_version_id(BASE_MODEL)
    app = _crowd_form(_split_run(model_version))
    assert app.number_input(key="autohelper.stop_confidence").value == pytest.approx(proposed_stop)
    assert app.number_input(key="autohelper.min_answers").value == 1
    assert app.checkbox(key="autohelper.model_prior").value is True
