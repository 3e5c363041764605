"""Every page renders against a real backend; the ingestion page runs its path (AppTest, widgets by key)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import gateway
from pipelines.catalog import INGESTION
from tests.conftest import wait_for_child, wait_for_pending_input, wait_for_status

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGES = ["views/home.py", "views/inbox.py", "views/ingestion.py", "views/features.py", "views/approval.py"]

pytestmark = pytest.mark.usefixtures("backend")


def _app(page: str) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=90)
    app.switch_page(page)
    return app


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(page: str) -> None:
    app = _app(page)
    app.run()
    assert not app.exception, app.exception
    assert any("Backend" in s.value for s in app.sidebar.subheader)


def test_ingestion_page_start_answer_and_show_users(randomuser) -> None:
    app = _app("views/ingestion.py")
    app.run()
    app.button(key="ingestion.start").click().run()
    run_id = app.session_state["ingestion.run_id"]
    wait_for_pending_input(run_id)
    app.run()
    app.number_input(key="ingestion.pause.number_of_users").set_value(0)
    _submit(app)
    assert any("at least 1" in e.value for e in app.error)
    assert gateway.run(run_id).status == "paused"

    app.number_input(key="ingestion.pause.number_of_users").set_value(4)
    _submit(app)
    child = wait_for_child(run_id)
    wait_for_pending_input(child)
    app.run()
    assert not app.exception
    users = next(frame.value for frame in app.dataframe if "name.first" in frame.value.columns)
    assert len(users) == 4
    assert any("randomuser.me" in s.value for s in app.success)
    assert any("choose the columns" in i.value for i in app.info)
    gateway.resume(child, {"features_to_drop": []})
    wait_for_status(run_id, {"completed"})


def test_inbox_lists_a_paused_run_with_its_form() -> None:
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    wait_for_pending_input(run_id)
    app = _app("views/inbox.py")
    app.run()
    field = app.number_input(key=f"inbox.{run_id}.number_of_users")
    assert field.value == 2  # prefilled from the pause's initial data
    field.set_value(1)
    _submit(app)
    assert wait_for_status(run_id, {"completed"}).status == "completed"


def _submit(app: AppTest) -> None:
    submit = next(b for b in app.button if b.label == "Resume run")
    submit.click().run()


def _ingest_until_feature_pause(count: int) -> tuple[object, object]:
    parent = gateway.start_run(INGESTION)
    wait_for_pending_input(parent)
    gateway.resume(parent, {"number_of_users": count})
    child = wait_for_child(parent)
    wait_for_pending_input(child)
    return parent, child


def _preview_columns(app: AppTest) -> list[str]:
    return [list(frame.value.columns) for frame in app.dataframe if "email" in frame.value.columns
            or "gender" in frame.value.columns][-1]


def test_feature_page_preview_follows_the_multiselect_then_resumes() -> None:
    parent, child = _ingest_until_feature_pause(3)
    app = _app("views/features.py")
    app.session_state["analyst"] = "Robin"
    app.run()
    select = app.multiselect(key=f"features.{child}.drop")
    assert "email" in select.value  # the seed's defaults
    select.set_value(["name"]).run()
    preview = _preview_columns(app)
    assert "email" in preview and not any(column.startswith("name.") for column in preview)
    app.multiselect(key=f"features.{child}.drop").set_value(["name", "email"]).run()
    assert "email" not in _preview_columns(app)

    app.button(key="features.resume").click().run()
    assert wait_for_status(parent, {"completed"}).status == "completed"
    app.run()
    assert not app.exception
    audit = next(frame.value for frame in app.dataframe if "resumed_by" in frame.value.columns)
    assert list(audit["resumed_by"]) == ["Robin"]


def test_approval_page_approves_rejects_and_renders_versions() -> None:
    parent, child = _ingest_until_feature_pause(2)
    gateway.resume(child, {"features_to_drop": ["login"]})
    wait_for_status(parent, {"completed"})

    app = _app("views/approval.py")
    app.run()
    for decision in ("approval.approve", "approval.reject"):
        app.button(key="approval.start").click().run()
        wait_for_pending_input(app.session_state["approval.run_id"])
        app.run()
        app.button(key=decision).click().run()
        wait_for_status(app.session_state["approval.run_id"], {"completed", "cancelled"})
    app.run()
    assert not app.exception
    assert any("Rejected. Not approved by anonymous analyst." in w.value for w in app.warning)
    versions = next(frame.value for frame in app.dataframe if "version" in frame.value.columns)
    assert len(versions) >= 1 and versions["rows"].iloc[0] == 2
