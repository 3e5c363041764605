"""What the page tests share: the app under AppTest on one page, a pause form's submit, and an ingestion run
brought to its feature pause."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from streamlit.testing.v1 import AppTest

from dashboard import gateway
from pipelines.catalog import INGESTION
from tests.conftest import wait_for_child, wait_for_pending_input

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def page_app(page: str, analyst: str | None = None, timeout: float = 90) -> AppTest:
    """The whole app (router, sidebar) opened on `page`; `analyst` is the name answers are recorded under."""
    app = AppTest.from_file(str(APP), default_timeout=timeout)
    app.switch_page(page)
    if analyst is not None:
        app.session_state["analyst"] = analyst
    return app


def submit(app: AppTest, form: str | None = None) -> None:
    """Click a pause form's "Resume run" (the one in `form`, when given)."""
    button = next(b for b in app.button if b.label == "Resume run" and (form is None or b.form_id == form))
    button.click().run()


def ingest_until_feature_pause(count: int) -> tuple[UUID, UUID]:
    """An ingestion run answered with `count` users, and its feature subflow, paused for the columns to drop."""
    parent = gateway.start_run(INGESTION)
    wait_for_pending_input(parent)
    gateway.resume(parent, {"number_of_users": count})
    child = wait_for_child(parent)
    wait_for_pending_input(child)
    return parent, child  # type: ignore[return-value]


def start_insights_run(app: AppTest, base_url: str) -> UUID:
    """On the insights page: point it at an OpenAI-compatible server, start a run, and draw its pause form."""
    app.text_input(key="insights.model").set_value("openai:local-model")
    app.text_input(key="insights.base_url").set_value(base_url)
    app.button(key="insights.start").click().run()
    run_id = app.session_state["insights.run_id"]
    wait_for_pending_input(run_id)
    app.run()
    return run_id


def decide(app: AppTest, key: str, approve: bool) -> None:
    """Answer a decision form drawn under `key`: the confirm button is off until a choice is made, then sends it."""
    assert app.radio(key=f"{key}.create_artifact").value is None  # nothing is chosen for the person
    assert app.button(key=f"{key}.confirm").disabled
    app.radio(key=f"{key}.create_artifact").set_value(approve).run()
    confirm = app.button(key=f"{key}.confirm")
    assert confirm.label == f"Confirm: {'Approve and publish' if approve else 'Reject'}" and not confirm.disabled
    confirm.click().run()
