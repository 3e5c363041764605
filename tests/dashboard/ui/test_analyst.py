"""The analyst's name survives a reload: it is kept in the page's address (`?analyst=`), and answers are
recorded under it rather than as "anonymous analyst" (AppTest, no backend needed)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _script() -> None:
    import streamlit as st

    from dashboard.ui.components import analyst_field, analyst_name

    analyst_field()
    st.text(analyst_name())


def _opened(**query: str) -> AppTest:
    app = AppTest.from_function(_script, default_timeout=30)
    app.query_params.update(query)
    return app.run()


def test_a_typed_name_goes_into_the_address_and_a_reload_keeps_it() -> None:
    app = _opened()
    assert app.text[0].value == "anonymous analyst"
    app.text_input(key="analyst").set_value("  Ada Lovelace ").run()
    assert app.text[0].value == "Ada Lovelace"
    assert app.query_params["analyst"] == "Ada Lovelace"

    reloaded = _opened(analyst=app.query_params["analyst"])  # a new session on the same address
    assert reloaded.text_input(key="analyst").value == "Ada Lovelace"
    assert reloaded.text[0].value == "Ada Lovelace"


def test_clearing_the_name_clears_the_address() -> None:
    app = _opened(analyst="Ada")
    app.text_input(key="analyst").set_value("").run()
    assert "analyst" not in app.query_params and app.text[0].value == "anonymous analyst"
