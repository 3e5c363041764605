"""The fast tier's page tests: every page against the in-memory Prefect of tests/fake_gateway.py.

What a person types or chooses on a page must reach the run drawn on screen exactly; the full suite checks the
same against a real server (tests/dashboard/views/test_human_inputs.py), this tier in seconds.
"""

from __future__ import annotations

from uuid import UUID

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.catalog import APPROVAL, INGESTION
from pipelines.core.settings import get_settings
from pipelines.inputs import ApprovalInput, UserInput, with_defaults
from tests.dashboard.apptest import decide, page_app, submit
from tests.fake_gateway import FakeGateway

PAGES = ["views/home.py", "views/inbox.py", "views/ingestion.py", "views/features.py", "views/approval.py",
         "views/insights.py", "views/autohelper.py", "views/labelling.py", "views/crowd_results.py"]
ANALYST = "Ada Analyst"
HOW_MANY = with_defaults(UserInput, description="How many users?", number_of_users=2)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path) -> FakeGateway:
    monkeypatch.setenv("HITL_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield FakeGateway().install(monkeypatch)
    get_settings.cache_clear()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_on_an_empty_history(fake: FakeGateway, page: str) -> None:
    app = page_app(page, analyst=ANALYST, timeout=30)
    app.run()
    assert not app.exception, app.exception


def test_the_ingestion_count_typed_reaches_the_run_shown(fake: FakeGateway) -> None:
    older = fake.add_paused_run(INGESTION, HOW_MANY, "How many users?")
    shown = fake.add_paused_run(INGESTION, HOW_MANY, "How many users?")
    app = page_app("views/ingestion.py", analyst=ANALYST, timeout=30)
    app.run()
    app.text_input(key=f"ingestion.{shown}.pause.number_of_users").set_value("17")
    submit(app)
    assert not app.exception
    assert [(r.run_id, r.values) for r in fake.resumes] == [
        (shown, {"number_of_users": 17, "resumed_by": ANALYST})]
    assert older in fake.pending


@pytest.mark.parametrize("typed", ["abc", "0", "-3", "2.5", ""])
def test_a_count_that_is_no_count_is_refused_and_the_run_stays_paused(fake: FakeGateway, typed: str) -> None:
    run_id = fake.add_paused_run(INGESTION, HOW_MANY, "How many users?")
    app = page_app("views/ingestion.py", analyst=ANALYST, timeout=30)
    app.run()
    app.text_input(key=f"ingestion.{run_id}.pause.number_of_users").set_value(typed)
    submit(app)
    assert app.error and not app.exception
    assert fake.resumes == [] and run_id in fake.pending


@pytest.mark.parametrize("approve", [True, False])
def test_an_approval_is_sent_only_as_the_explicit_choice_confirmed(fake: FakeGateway, approve: bool) -> None:
    run_id = fake.add_paused_run(APPROVAL, ApprovalInput, "Publish 3 cleaned users?")
    app = page_app("views/approval.py", analyst=ANALYST, timeout=30)
    app.run()
    decide(app, f"approval.{run_id}", approve)
    assert not app.exception
    assert [r.values for r in fake.resumes] == [{"create_artifact": approve, "resumed_by": ANALYST}]


def test_the_inbox_answers_each_run_with_what_was_typed_in_its_own_box(fake: FakeGateway) -> None:
    first = fake.add_paused_run(INGESTION, HOW_MANY, "How many users?")
    second = fake.add_paused_run(INGESTION, HOW_MANY, "How many users?")
    app = page_app("views/inbox.py", analyst=ANALYST, timeout=30)
    app.run()
    app.text_input(key=f"inbox.{second}.number_of_users").set_value("3")
    app.text_input(key=f"inbox.{first}.number_of_users").set_value("1")
    submit(app, form=f"inbox.{first}")
    assert not app.exception
    assert [(r.run_id, r.values["number_of_users"]) for r in fake.resumes] == [(first, 1)]


def _ingestion_page_on(run_id: UUID) -> AppTest:
    app = page_app("views/ingestion.py", analyst=ANALYST, timeout=30)
    app.query_params["run"] = str(run_id)
    app.run()
    return app


def test_a_late_answer_is_refused_and_the_refusal_stays_when_the_run_then_finishes(fake: FakeGateway) -> None:
    run_id = fake.add_paused_run(INGESTION, HOW_MANY, "How many users?")
    late, first = _ingestion_page_on(run_id), _ingestion_page_on(run_id)
    submit(first)
    submit(late)  # the same pause, answered in another session meanwhile
    refusal = [w.value for w in late.warning if "no longer waiting" in w.value]
    assert refusal and len(fake.resumes) == 1

    fake.finish(run_id)
    late.run()  # what the page's live view does when the run changes
    assert [w.value for w in late.warning if "no longer waiting" in w.value] == refusal


def test_resumed_is_dropped_once_the_run_asks_again(fake: FakeGateway) -> None:
    run_id = fake.add_paused_run(INGESTION, HOW_MANY, "How many users?")
    app = _ingestion_page_on(run_id)
    submit(app)
    assert [s.value for s in app.success] == ["Resumed."]

    fake.pause(run_id, HOW_MANY, "How many users this time?")
    app.run()
    assert "Resumed." not in [s.value for s in app.success]
    assert any(b.label == "Resume run" for b in app.button)
