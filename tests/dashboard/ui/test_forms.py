"""The pause form renderer in a real Streamlit script run (AppTest), widgets found by key."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.inputs import ThresholdInput, UserInput, features_to_drop_input, with_defaults
from tests.core.test_schema_input import SCHEMA as EVERYTHING_SCHEMA
from tests.hostile import rendered

USER_SCHEMA = with_defaults(UserInput, description="d", number_of_users=2).model_json_schema()
FEATURE_SCHEMA = features_to_drop_input(["email", "phone", "nat"], ["email"], "d").model_json_schema()


def _form_app(schema: dict) -> AppTest:
    def script() -> None:
        import json

        import streamlit as st

        from dashboard.ui.forms import render_pause_form

        values = render_pause_form(
            json.loads(st.session_state["schema"]), key="pause", description="### Question", hidden=("resumed_by",)
        )
        if values is not None:
            st.session_state["submitted"] = values

    app = AppTest.from_function(script, default_timeout=30)
    app.session_state["schema"] = json.dumps(schema)
    return app.run()


def _submit(app: AppTest) -> AppTest:
    return next(b for b in app.button if b.label == "Resume run").click().run()


def test_user_count_is_prefilled_and_submitted() -> None:
    app = _form_app(USER_SCHEMA)
    assert app.markdown[0].value == "### Question"
    assert app.text_input(key="pause.number_of_users").value == "2"
    assert not [w for w in app.text_input if w.key == "pause.resumed_by"]  # hidden: filled by the dashboard
    app.text_input(key="pause.number_of_users").set_value("7")
    assert _submit(app).session_state["submitted"] == {"number_of_users": 7}


@pytest.mark.bad_input
@pytest.mark.parametrize(("bad", "reason"), [("0", "at least 1"), (str(10**9), "at most 20000"),
                                            ("abc", "must be a whole number (got 'abc')"), ("", "is required")])
def test_bad_counts_show_an_error_and_submit_nothing(bad: str, reason: str) -> None:
    """Text that is no count in range is refused with a message, never replaced by the default or clamped."""
    app = _form_app(USER_SCHEMA)
    app.text_input(key="pause.number_of_users").set_value(bad)
    app = _submit(app)
    assert any(reason in rendered(error.value)[1] for error in app.error)  # as shown: the message is escaped
    assert "submitted" not in app.session_state


def test_multiselect_offers_exactly_the_choices() -> None:
    app = _form_app(FEATURE_SCHEMA)
    select = app.multiselect(key="pause.features_to_drop")
    assert select.options == ["email", "phone", "nat"] and select.value == ["email"]
    select.set_value(["phone", "nat"])
    assert _submit(app).session_state["submitted"] == {"features_to_drop": ["phone", "nat"]}


def test_every_field_kind_renders_and_round_trips() -> None:
    app = _form_app(EVERYTHING_SCHEMA)
    assert app.selectbox(key="pause.mode").options == ["fast", "careful"]
    assert app.selectbox(key="pause.colour").value == "red"
    assert app.checkbox(key="pause.approve").value is False
    app.checkbox(key="pause.approve").check()
    app.text_area(key="pause.tags").input("x\ny")
    app.text_area(key="pause.origin").input('{"x": 1, "y": 2}')
    submitted = _submit(app).session_state["submitted"]
    assert submitted["approve"] is True and submitted["tags"] == ["x", "y"]
    assert submitted["origin"] == {"x": 1, "y": 2} and submitted["count"] == 2


def test_a_threshold_is_shown_as_exactly_the_value_the_form_sends() -> None:
    """The Inbox's threshold form showed 0.58 while it sent 0.577: the text shown is the value sent."""
    app = _form_app(with_defaults(ThresholdInput, description="d", threshold=0.577).model_json_schema())
    assert app.text_input(key="pause.threshold").value == "0.577"
    assert _submit(app).session_state["submitted"] == {"threshold": 0.577}
