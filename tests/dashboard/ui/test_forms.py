"""The pause form in a real Streamlit script run (AppTest), widgets found by key, its submit resumed through the
fake gateway: what is checked is what the run receives, validated once against the pause the form was drawn for."""

from __future__ import annotations

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.catalog import INGESTION
from pipelines.inputs import ThresholdInput, UserInput, features_to_drop_input, with_defaults
from tests.core.test_schema_input import SCHEMA as EVERYTHING_SCHEMA
from tests.fake_gateway import FakeGateway
from tests.hostile import rendered

USER_SCHEMA = with_defaults(UserInput, description="d", number_of_users=2).model_json_schema()
FEATURE_SCHEMA = features_to_drop_input(["email", "phone", "nat"], ["email"], "d").model_json_schema()
ANALYST = "Ada Analyst"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeGateway:
    return FakeGateway().install(monkeypatch)


def _form_app(fake: FakeGateway, schema: dict) -> AppTest:
    run_id = fake.add_paused_run(INGESTION, UserInput, "### Question")
    fake.pending[run_id] = replace(fake.pending[run_id], schema=schema)

    def script() -> None:
        import streamlit as st

        from dashboard import gateway
        from dashboard.ui.components import pause_form, run_header

        run_header(gateway.run(st.session_state["run_id"]))  # as every page does: it shows what a resume did
        pause_form(st.session_state["run_id"], key="pause")

    app = AppTest.from_function(script, default_timeout=30)
    app.session_state["run_id"] = run_id
    app.session_state["analyst"] = ANALYST
    return app.run()


def _submit(app: AppTest) -> AppTest:
    return next(b for b in app.button if b.label == "Resume run").click().run()


def _received(fake: FakeGateway) -> dict:
    """What the one resume sent, less the audit field the dashboard fills."""
    [resume] = fake.resumes
    return {name: value for name, value in resume.values.items() if name != "resumed_by"}


def test_user_count_is_prefilled_and_submitted(fake: FakeGateway) -> None:
    app = _form_app(fake, USER_SCHEMA)
    assert "### Question" in [markdown.value for markdown in app.markdown]  # the pause's description
    assert app.text_input(key="pause.number_of_users").value == "2"
    assert not [w for w in app.text_input if w.key == "pause.resumed_by"]  # hidden: filled by the dashboard
    app.text_input(key="pause.number_of_users").set_value("7")
    _submit(app)
    assert [resume.values for resume in fake.resumes] == [{"number_of_users": 7, "resumed_by": ANALYST}]


@pytest.mark.bad_input
@pytest.mark.parametrize(("bad", "reason"), [("0", "at least 1"), (str(10**9), "at most 20000"),
                                            ("abc", "must be a whole number (got 'abc')"), ("", "is required")])
def test_bad_counts_show_an_error_and_submit_nothing(fake: FakeGateway, bad: str, reason: str) -> None:
    """Text that is no count in range is refused with a message, never replaced by the default or clamped."""
    app = _form_app(fake, USER_SCHEMA)
    app.text_input(key="pause.number_of_users").set_value(bad)
    app = _submit(app)
    assert any(reason in rendered(error.value)[1] for error in app.error)  # as shown: the message is escaped
    assert fake.resumes == [] and len(fake.pending) == 1  # nothing sent; the run still waits


def test_multiselect_offers_exactly_the_choices(fake: FakeGateway) -> None:
    app = _form_app(fake, FEATURE_SCHEMA)
    select = app.multiselect(key="pause.features_to_drop")
    assert select.options == ["email", "phone", "nat"] and select.value == ["email"]
    select.set_value(["phone", "nat"])
    _submit(app)
    assert _received(fake) == {"features_to_drop": ["phone", "nat"]}


def test_every_field_kind_renders_and_round_trips(fake: FakeGateway) -> None:
    app = _form_app(fake, EVERYTHING_SCHEMA)
    assert app.selectbox(key="pause.mode").options == ["fast", "careful"]
    assert app.selectbox(key="pause.colour").value == "red"
    assert app.checkbox(key="pause.approve").value is False
    app.checkbox(key="pause.approve").check()
    app.text_area(key="pause.tags").input("x\ny")
    app.text_area(key="pause.origin").input('{"x": 1, "y": 2}')
    _submit(app)
    submitted = _received(fake)
    assert submitted["approve"] is True and submitted["tags"] == ["x", "y"]
    assert submitted["origin"] == {"x": 1, "y": 2} and submitted["count"] == 2


def test_a_threshold_is_shown_as_exactly_the_value_the_form_sends(fake: FakeGateway) -> None:
    """The Inbox's threshold form showed 0.58 while it sent 0.577: the text shown is the value sent."""
    app = _form_app(fake, with_defaults(ThresholdInput, description="d", threshold=0.577).model_json_schema())
    assert app.text_input(key="pause.threshold").value == "0.577"
    _submit(app)
    assert _received(fake) == {"threshold": 0.577}
