"""With `[auth]` in the secrets, the whole app (router and pages) lets in only people on the allow-list, each
page enforces their role itself, and answers are recorded under the signed-in identity (AppTest with `st.user`
seeded; no backend: nothing here may reach an analyst's page)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.core.answer_store import AnswerStore
from pipelines.core.settings import get_settings
from tests.dashboard.apptest import page_app

ISSUER = "https://id.example.org"
AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "test-cookie-secret",
        "client_id": "hitl-studio", "client_secret": "test-client-secret",
        "server_metadata_url": f"{ISSUER}/.well-known/openid-configuration"}
ANALYST = {"iss": ISSUER, "sub": "u-1001", "name": "Ada Analyst"}
ANNOTATOR = {"iss": ISSUER, "sub": "u-2002", "name": "Ann Otator"}
ANALYST_PAGES = ["views/home.py", "views/inbox.py", "views/ingestion.py", "views/features.py", "views/approval.py",
                 "views/insights.py", "views/autohelper.py", "views/crowd_results.py"]


@pytest.fixture(autouse=True)
def roles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AnswerStore]:
    """The allow-list (one analyst, one annotator) and a fresh answer store; yields the store."""
    monkeypatch.setenv("HITL_ROLES", json.dumps({f"{ISSUER}|u-1001": "analyst", f"{ISSUER}|u-2002": "annotator"}))
    monkeypatch.setenv("HITL_ANSWER_STORE", f"sqlite:///{tmp_path / 'answers.db'}")
    get_settings.cache_clear()
    yield AnswerStore(get_settings().answer_store_url)
    get_settings.cache_clear()


def _opened(page: str, user: dict) -> AppTest:
    app = page_app(page, timeout=30)
    app.secrets["auth"] = AUTH
    app.user = user
    return app.run()


def _said(app: AppTest) -> str:
    return "\n".join(e.value for kind in (app.title, app.info, app.error, app.markdown, app.caption) for e in kind)


@pytest.mark.parametrize("page", ["views/home.py", "views/ingestion.py", "views/labelling.py"])
def test_signed_out_people_see_only_the_sign_in(page: str) -> None:
    app = _opened(page, {"is_logged_in": False})
    assert not app.exception, app.exception
    assert "Sign in to continue." in [e.value for e in app.info]
    assert [b.label for b in app.button] == ["Sign in"]
    assert [t.value for t in app.title] == [":material/handshake: HITL Studio"]
    assert not app.sidebar.subheader and not app.text_input  # no backend, no name box, no page


def test_signed_in_but_not_on_the_list_gets_a_message_and_nothing_else() -> None:
    app = _opened("views/ingestion.py", {"is_logged_in": True, "iss": ISSUER, "sub": "u-9", "name": "Eve"})
    assert not app.exception, app.exception
    [error] = app.error
    assert f"{ISSUER}|u-9 (Eve)" in error.value.replace("\\", "") and "not on this studio's list" in error.value
    assert [b.label for b in app.button] == ["Sign out"]
    assert "Ingestion" not in _said(app) and not app.sidebar.subheader


def test_a_display_name_of_someone_on_the_list_lets_no_one_in() -> None:
    app = _opened("views/home.py", {"is_logged_in": True, "iss": "https://other.example", "sub": "u-1001",
                                    "name": f"{ISSUER}|u-1001", "email": "ada@example.org"})
    assert "not on this studio's list" in app.error[0].value and [b.label for b in app.button] == ["Sign out"]


def test_a_bad_allow_list_is_said_and_lets_no_one_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_ROLES", json.dumps({f"{ISSUER}|u-1001": "admin"}))
    get_settings.cache_clear()
    app = _opened("views/home.py", {"is_logged_in": True, **ANALYST})
    assert "role 'admin' should be one of 'analyst', 'annotator'" in app.error[0].value
    assert "Runs waiting for your input" not in _said(app)


@pytest.mark.parametrize("page", ANALYST_PAGES[1:])
def test_an_annotator_opening_an_analyst_page_by_address_is_not_allowed(page: str) -> None:
    app = _opened(page, {"is_logged_in": True, **ANNOTATOR})
    assert not app.exception, app.exception
    [error] = app.error
    assert error.value.startswith("Not allowed: this page is for analysts, and you are signed in as an annotator.")
    assert [t.value for t in app.title] == []  # nothing of the page was drawn
    assert not app.main.button and not app.text_input and not app.selectbox and not app.dataframe
    assert [b.label for b in app.sidebar.button] == ["Sign out"]
    assert not app.sidebar.subheader  # the backend section is the analysts'
    assert f"{ISSUER}|u-2002" in "".join(c.value for c in app.sidebar.caption).replace("\\", "")


def test_an_annotator_opening_the_home_address_lands_on_labelling() -> None:
    app = _opened("views/home.py", {"is_logged_in": True, **ANNOTATOR})
    assert not app.exception, app.exception
    assert [t.value for t in app.title] == [":material/how_to_vote: Crowd labelling"]
    assert not app.error


def test_an_annotator_labels_under_their_identity_and_every_answer_is_gold(roles: AnswerStore) -> None:
    rows = [{"task": f"t{i}", "text": f"Review {i}: " + ("awful, broke at once" if i % 10 == 0 else "lovely"),
             "is_golden": False, "golden_label": None} for i in range(10)]  # 10% negatives, like real reviews
    gold = {row["text"]: "neg" if "awful" in row["text"] else "pos" for row in rows}
    batch_id = roles.create_batch(pd.DataFrame(rows), overlap=1, labels=["neg", "pos"])
    app = _opened("views/labelling.py", {"is_logged_in": True, **ANNOTATOR})
    assert not app.text_input  # no name box: the identity is the sign-in's
    assert f"{ISSUER}|u-2002" in "".join(c.value for c in app.caption).replace("\\", "")
    while not app.success:
        [shown] = [t.value for t in app.text]
        next(b for b in app.button if b.label == gold[shown]).click().run()
        assert not app.exception, app.exception
    answers = roles.answers(batch_id).merge(pd.DataFrame(rows)[["task", "text"]], on="task")
    assert len(answers) == 10 and set(answers.worker) == {f"{ISSUER}|u-2002"}
    assert (answers.label == answers.text.map(gold)).all()


def test_the_analyst_name_recorded_is_the_identity_with_the_name_beside_it() -> None:
    def script() -> None:
        import streamlit as st

        from dashboard.ui.components import analyst_name

        st.text(analyst_name())

    app = AppTest.from_function(script, default_timeout=30)
    app.secrets["auth"] = AUTH
    app.user = {"is_logged_in": True, **ANALYST}
    app.session_state["analyst"] = "typed name"  # ignored once people sign in
    assert app.run().text[0].value == f"{ISSUER}|u-1001 (Ada Analyst)"


def test_a_resume_clicked_after_the_role_was_taken_away_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import gateway

    sent: list[tuple] = []
    monkeypatch.setattr(gateway, "resume", lambda *args, **kwargs: sent.append((args, kwargs)))

    def script() -> None:
        from uuid import UUID

        import streamlit as st

        from dashboard.gateway import PendingInput
        from dashboard.ui.components import resume_or_explain

        st.button("Resume", key="go", on_click=resume_or_explain,
                  args=(PendingInput(UUID(int=1), "pause-1", "", {}), {"number_of_users": 2}))

    app = AppTest.from_function(script, default_timeout=30)
    app.secrets["auth"] = AUTH
    app.user = {"is_logged_in": True, **ANALYST}
    app.run()
    monkeypatch.setenv("HITL_ROLES", json.dumps({f"{ISSUER}|u-2002": "annotator"}))  # the analyst is removed
    get_settings.cache_clear()
    app.button(key="go").click().run()
    assert sent == [] and [e.value for e in app.error] == ["Not allowed: only analysts resume runs. Nothing was sent."]

    monkeypatch.setenv("HITL_ROLES", json.dumps({f"{ISSUER}|u-1001": "analyst"}))  # and added back
    get_settings.cache_clear()
    app.button(key="go").click().run()
    assert sent == [((gateway.PendingInput(UUID(int=1), "pause-1", "", {}), {"number_of_users": 2}),
                     {"analyst": f"{ISSUER}|u-1001 (Ada Analyst)"})]


def test_an_answer_clicked_after_the_annotator_was_taken_off_the_list_is_not_stored(
        roles: AnswerStore, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"task": f"t{i}", "text": f"Review {i}: lovely", "is_golden": False, "golden_label": None}
            for i in range(2)]
    batch_id = roles.create_batch(pd.DataFrame(rows), overlap=1, labels=["neg", "pos"])
    app = _opened("views/labelling.py", {"is_logged_in": True, **ANNOTATOR})
    assert [t.value for t in app.text] in (["Review 0: lovely"], ["Review 1: lovely"])
    monkeypatch.setenv("HITL_ROLES", json.dumps({f"{ISSUER}|u-1001": "analyst"}))
    get_settings.cache_clear()
    next(b for b in app.button if b.label == "pos").click().run()
    assert roles.answers(batch_id).empty
    assert "not on this studio's list" in app.error[0].value and not app.text  # and nothing more to label
