"""Team mode's run-data boundary: the runner and the dashboard have different data folders and share nothing but
the Prefect API URL and the database URLs (run data and answers, PostgreSQL), yet go from an upload to the final
table; the dashboard shows exactly the table the run wrote, and its own data folder holds no run file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pandas as pd
import pytest

from dashboard import gateway
from pipelines.backend import ensure_backend, stop_backend
from pipelines.catalog import FINAL_TABLE_ARTIFACT_KEY
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.run_data import DatabaseRunData
from pipelines.core.settings import Settings, get_settings
from tests.conftest import free_port, new_database, wait_for_pending_input, wait_for_status
from tests.dashboard.apptest import page_app
from tests.review_files import skewed_reviews, write_reviews

ANALYST = "Robin"


@pytest.fixture
def team(postgres_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """A runner (Prefect server + serve) with data folder A, and this process set up as the dashboard with data
    folder B; both get the same run-data and answer-store URLs, nothing else in common but the API URL."""
    shared = {"HITL_RUN_DATA_URL": new_database(postgres_server, "run_data"),
              "HITL_ANSWER_STORE": new_database(postgres_server, "answers")}
    runner_dir, dashboard_dir = tmp_path / "runner-data", tmp_path / "dashboard-data"
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    for name, value in {**shared, "HITL_DATA_DIR": str(runner_dir), "HITL_SERVER_PORT": str(free_port()),
                        "HITL_BACKEND_START_TIMEOUT_SECONDS": "600"}.items():  # a busy machine starts slowly
        monkeypatch.setenv(name, value)
    runner = Settings()
    try:
        status = ensure_backend(runner)  # the runner's processes inherit this environment
        monkeypatch.setenv("HITL_DATA_DIR", str(dashboard_dir))
        monkeypatch.setenv("HITL_SERVER_PORT", str(free_port()))  # the dashboard embeds nothing of its own
        monkeypatch.setenv("PREFECT_API_URL", status.api_url)
        get_settings.cache_clear()
        yield {"runner_dir": runner_dir, "dashboard_dir": dashboard_dir, **shared}
    finally:
        stop_backend(runner)
        get_settings.cache_clear()


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def test_an_upload_reaches_the_final_table_with_the_dashboard_and_runner_on_different_disks(
        team: dict[str, object], tmp_path: Path) -> None:
    reviews = skewed_reviews(300)  # 10% negatives, tab-separated with a header, as the UCI files are
    upload = write_reviews(tmp_path / "my_reviews.tsv", reviews).read_bytes()

    app = page_app("views/autohelper.py", ANALYST)
    app.run()
    app.radio(key="autohelper.source").set_value("Upload a file").run()
    app.file_uploader(key="autohelper.upload").upload("my_reviews.tsv", upload, "text/plain").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    app.button(key="autohelper.start").click().run()
    run_id = app.session_state["autohelper.run_id"]
    assert gateway.run(run_id).parameters["dataset"].startswith("upload:")  # a name in the run data, not a path

    wait_for_pending_input(run_id, timeout=300)
    app.run()  # the threshold panel, drawn from predictions the runner stored
    key = f"autohelper.{run_id}.threshold"
    threshold = app.slider(key=key).value
    counts = {m.label: int(m.value) for m in app.metric if m.label in ("Accepted", "To people")}
    app.button(key=f"autohelper.{run_id}.confirm").click().run()
    assert wait_for_status(run_id, {"completed", "failed"}, timeout=120).status == "completed"
    assert gateway.result(run_id)["threshold"] == threshold  # the result, read from the run data

    app.run()  # the split tables and the crowd form
    app.selectbox(key="autohelper.crowd_kind").set_value("simulated")
    next(b for b in app.button if b.label == "Start the crowd loop").click().run()
    crowd_run = app.session_state["crowd.run_id"]
    assert wait_for_status(crowd_run, {"completed", "failed"}, timeout=180).status == "completed"

    results = page_app("views/crowd_results.py", ANALYST, timeout=120)
    results.session_state["crowd.run_id"] = crowd_run
    results.run()
    assert not results.exception, results.exception
    shown = next(frame.value for frame in results.dataframe if {"item", "source", "score"} <= set(frame.value.columns))

    # What the run wrote, read as the runner stored it, and as it reported it to Prefect.
    run_data = DatabaseRunData(str(team["HITL_RUN_DATA_URL"]))
    split = AutohelperStore.for_run(run_data, str(run_id))
    written = split.read("final")
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), written.reset_index(drop=True))
    [artifact] = [a for a in gateway.artifacts(UUID(str(crowd_run))) if a.key == FINAL_TABLE_ARTIFACT_KEY]
    reported = pd.DataFrame(artifact.data)
    assert reported[["item", "label", "source"]].to_dict("records") == shown[["item", "label", "source"]].to_dict(
        "records")

    # The table is the upload's: every task once, the model's labels where it was sure, with the counts shown.
    accepted, manual = split.read("accepted"), split.read("manual")
    assert {"Accepted": len(accepted), "To people": len(manual)} == counts
    assert sorted(shown.item) == sorted([*accepted.item_id, *manual.item_id])
    assert set(shown.text) <= set(reviews.sentence.str.strip())
    from_model = shown[shown.source == "model"].set_index("item").label
    assert from_model.to_dict() == accepted.set_index("item_id").label.to_dict()
    truth = pd.concat([accepted, manual]).true_label
    assert round((truth == "neg").mean(), 2) == 0.1  # the skew of the file survived the upload

    # Nothing of the run lies on either disk: the dashboard's folder has no file at all, the runner's only its
    # Prefect server and logs.
    assert _files(Path(str(team["dashboard_dir"]))) == []
    runner_dir = Path(str(team["runner_dir"]))
    assert not any((runner_dir / folder).exists() for folder in ("uploads", "autohelper", "models", "results"))
    assert run_data.keys("uploads") and run_data.keys(f"autohelper/{run_id}")
