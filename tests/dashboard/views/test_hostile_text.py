"""Hostile user fields and LLM answers on the pages: shown exactly as written, never as images, links or tags,
and the LLM key used for the run appears nowhere (AppTest against a real backend)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import gateway
from pipelines.blocks import JSON
from pipelines.catalog import CLEANED_USERS_BLOCK_NAME, USERS_BLOCK_NAME
from pipelines.core.settings import get_settings
from pipelines.core.users import generate_fake_users
from tests.conftest import wait_for_pending_input, wait_for_status
from tests.dashboard.apptest import page_app, start_insights_run, submit
from tests.hostile import HOSTILE, HOSTILE_PARTS, active_elements, assert_shown_as_text

pytestmark = [pytest.mark.usefixtures("backend"), pytest.mark.hostile]

MARKDOWN_ELEMENTS = ("markdown", "caption", "error", "warning", "info", "success", "title", "header", "subheader")


def _markdown_on(app: AppTest) -> list[str]:
    return [element.value for kind in MARKDOWN_ELEMENTS for element in app.get(kind)]


def _assert_nothing_active_from(app: AppTest) -> None:
    """No element of the page renders an image, a tag or a link anywhere but the Prefect UI."""
    active = [found for value in _markdown_on(app) for found in active_elements(value)
              if not found.startswith("link_open http://127.0.0.1")]
    assert active == []


def _hostile_users() -> list[dict]:
    users = generate_fake_users(2, seed=9)
    for user in users:
        user["name"]["title"], user["name"]["first"], user["name"]["last"], user["email"] = HOSTILE_PARTS
    return users


def test_approval_question_shows_hostile_user_fields_as_text(prefect_api) -> None:
    JSON(value=_hostile_users()).save(CLEANED_USERS_BLOCK_NAME, overwrite=True)
    app = page_app("views/approval.py", "Robin")
    app.run()
    app.button(key="approval.start").click().run()
    run_id = app.session_state["approval.run_id"]
    wait_for_pending_input(run_id)
    app.run()
    assert not app.exception
    [question] = [value for value in _markdown_on(app) if "Publish these users" in value]
    for part in HOSTILE_PARTS:
        assert_shown_as_text(question, part)
    _assert_nothing_active_from(app)
    gateway.resume(run_id, {"create_artifact": False})
    wait_for_status(run_id, {"completed"})


def test_hostile_llm_answer_is_shown_as_written_and_the_key_nowhere(fake_llm, prefect_api) -> None:
    JSON(value=_hostile_users()).save(USERS_BLOCK_NAME, overwrite=True)
    canary = "sk-canary-hostile-93d"
    gateway.store_secret(get_settings().llm_secret_block, canary)
    fake_llm.text = HOSTILE
    app = page_app("views/insights.py", "Robin")
    app.run()
    run_id = start_insights_run(app, fake_llm.base_url)
    app.text_input(key=f"insights.{run_id}.pause.input_instructions").set_value(f"Say {HOSTILE}")
    submit(app)
    assert wait_for_status(run_id, {"completed", "failed"}, timeout=120).status == "completed"
    app.run()
    assert not app.exception
    assert fake_llm.auth_headers[-1] == f"Bearer {canary}"  # the run did use the key
    assert HOSTILE in [element.value for element in app.text]  # the answer, exactly as the model gave it
    _assert_nothing_active_from(app)

    page = " ".join(str(getattr(element, "value", "")) for element in [*app.main, *app.sidebar])
    logs = " ".join(line.message for line in gateway.logs(run_id, limit=200))
    artifacts = " ".join(f"{artifact.data} {artifact.description}" for artifact in gateway.artifacts(run_id))
    said = " ".join([page, logs, artifacts, str(gateway.result(run_id)), gateway.run(run_id).message or ""])
    assert canary not in said
