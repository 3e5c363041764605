"""The run a page shows (`current_run`): picked from the flow's runs, pinned against newer runs, kept in the
address (AppTest against a real backend, on the ingestion page)."""

from __future__ import annotations

from uuid import UUID

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import gateway
from pipelines.catalog import APPROVAL, INGESTION
from tests.conftest import wait_for_pending_input, wait_for_status
from tests.dashboard.apptest import page_app

PICKER = "ingestion.run_picker"

pytestmark = pytest.mark.usefixtures("backend")




def _completed_ingestion() -> UUID:
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    wait_for_pending_input(run_id)
    gateway.resume(run_id, {"number_of_users": 1})
    wait_for_status(run_id, {"completed"})
    return run_id  # type: ignore[return-value]


def _header_names(app: AppTest, run_id: UUID) -> bool:
    """Whether the run header on screen names this run."""
    return any(f"`{gateway.run(run_id).name}`" in m.value for m in app.markdown)


def test_the_address_opens_the_run_it_names_and_the_page_stays_on_the_run_picked() -> None:
    older, newer = _completed_ingestion(), _completed_ingestion()
    app = page_app("views/ingestion.py")
    app.query_params["run"] = str(older)
    app.run()
    assert not app.exception
    assert app.selectbox(key=PICKER).value == older and _header_names(app, older)
    assert app.query_params["run"] == str(older)
    assert any(c.value.startswith("1 newer run of this flow") for c in app.caption)

    elsewhere = gateway.start_run(INGESTION, {"select_features": False})  # someone else's run starts meanwhile
    app.run()
    assert app.selectbox(key=PICKER).value == older and _header_names(app, older)

    app.selectbox(key=PICKER).set_value(newer).run()
    assert app.selectbox(key=PICKER).value == newer and _header_names(app, newer)
    assert app.query_params["run"] == str(newer)
    labels = app.selectbox(key=PICKER).options
    assert labels[0].startswith(f"{gateway.run(elsewhere).name} · ")  # newest first, by name, not by id
    assert not any(str(run_id) in label for label in labels for run_id in (older, newer, elsewhere))
    wait_for_pending_input(elsewhere)
    gateway.resume(elsewhere, {"number_of_users": 1})
    wait_for_status(elsewhere, {"completed"})


@pytest.mark.parametrize("asked", ["not-a-run-id", "00000000-0000-4000-8000-000000000000", "approval"])
def test_an_address_naming_no_run_of_the_flow_is_ignored_with_a_message(asked: str) -> None:
    _completed_ingestion()
    other_flow = gateway.start_run(APPROVAL) if asked == "approval" else None  # a real run, of another flow
    asked = str(other_flow or asked)
    [newest] = gateway.recent_runs(limit=1, flow_name=INGESTION.flow)
    app = page_app("views/ingestion.py")
    app.query_params["run"] = asked
    app.run()
    assert not app.exception
    assert any("which is no create-names run: it is ignored" in w.value for w in app.warning)
    assert app.selectbox(key=PICKER).value == newest.id
    assert app.query_params["run"] == str(newest.id)
    app.run()
    assert not any("is ignored" in w.value for w in app.warning)  # said once: the address names the run shown
    if other_flow is not None:
        if wait_for_status(other_flow, {"paused", "completed", "failed"}).status == "paused":
            wait_for_pending_input(other_flow)
            gateway.resume(other_flow, {"create_artifact": False})
        wait_for_status(other_flow, {"completed", "failed", "cancelled"})
