"""Sign-in in a real browser: the app served with `[auth]` pointing at a local OIDC provider (oidc-provider-mock)
that the test starts; an analyst and an annotator sign in by choosing their subject on its authorize form.

Truth is read back from where it lands: the run's audit trail and the answer store must name each person by the
token's issuer and subject.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from uuid import UUID

import pandas as pd
import pytest

from dashboard import gateway
from pipelines.catalog import AUDIT_ARTIFACT_KEY
from pipelines.core.answer_store import AnswerStore
from tests.served_app import ServedApp, needs_chromium, new_tab, wait_idle

pytestmark = needs_chromium

ANALYST, ANNOTATOR = "ada", "ann"
NAMES = {ANALYST: "Ada Analyst", ANNOTATOR: "Ann Otator"}


@pytest.fixture
def issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local OIDC provider on a free port, with the two people as one-click users; yields its issuer."""
    from oidc_provider_mock import User, run_server_in_thread

    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # the provider serves plain http on this machine
    users = [User(sub=sub, claims={"name": name}) for sub, name in NAMES.items()]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def answer_store(tmp_path: Path) -> AnswerStore:
    return AnswerStore(f"sqlite:///{tmp_path / 'answers.db'}")


@pytest.fixture
def signed_app(backend, issuer: str, answer_store: AnswerStore, tmp_path: Path) -> Iterator[ServedApp]:
    """The app with `[auth]` in a secrets file of its own and the allow-list in HITL_ROLES."""
    secrets = tmp_path / "secrets.toml"
    roles = {f"{issuer}|{ANALYST}": "analyst", f"{issuer}|{ANNOTATOR}": "annotator"}
    app = ServedApp(tmp_path, args=("--secrets.files", str(secrets)),
                    env={"HITL_ROLES": json.dumps(roles), "HITL_ANSWER_STORE": str(answer_store.engine.url)})
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "{app.url}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-of-some-length"\n'
        'client_id = "hitl-studio"\n'
        'client_secret = "hitl-studio-secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
    )
    app.start()
    yield app
    app.stop()


def _signed_in(browser, app: ServedApp, subject: str, address: str = ""):
    """A tab in a browser context of its own (its own cookies: one person) signed in as `subject`, having
    opened the app at `address` signed out (where only the sign-in shows)."""
    tab = new_tab(browser)
    tab.goto(f"{app.url}/{address}")
    tab.get_by_text("Sign in to continue.").wait_for()
    wait_idle(tab)
    assert [" ".join(text.split()) for text in tab.get_by_role("button").all_inner_texts()] == ["login Sign in"]
    tab.get_by_role("button", name="Sign in").click()
    tab.get_by_role("button", name=subject, exact=True).click()  # the provider's authorize form
    tab.get_by_text(f"Signed in as {NAMES[subject]}").wait_for()
    return tab


def test_an_analyst_starts_and_resumes_a_run_recorded_under_issuer_and_subject(signed_app: ServedApp, browser,
                                                                                issuer: str) -> None:
    tab = _signed_in(browser, signed_app, ANALYST)
    sidebar = tab.get_by_test_id("stSidebar")
    for title in ("Inbox", "Ingestion", "Crowd labelling", "Crowd results"):  # analysts see every page
        sidebar.get_by_role("link", name=title).wait_for()
    sidebar.get_by_text("Backend").wait_for()

    tab.goto(f"{signed_app.url}/ingestion")
    tab.get_by_role("button", name="Start an ingestion run").click()
    tab.get_by_label("Number of users", exact=True).wait_for()
    wait_idle(tab)
    tab.get_by_label("Number of users", exact=True).fill("2")
    tab.get_by_role("button", name="Resume run").click()
    tab.get_by_text("The users are in.").wait_for(timeout=90_000)
    run = gateway.run(UUID(parse_qs(urlparse(tab.url).query)["run"][0]))  # the run the page shows
    who = f"{issuer}|{ANALYST} ({NAMES[ANALYST]})"
    assert run.started_by == who
    [decision] = [row for a in gateway.artifacts(run.id) if a.key == AUDIT_ARTIFACT_KEY for row in a.data]
    assert decision["resumed_by"] == who and decision["input"] == "number_of_users=2"


def test_an_annotator_labels_under_issuer_and_subject_and_cannot_open_analyst_pages(
        signed_app: ServedApp, browser, issuer: str, answer_store: AnswerStore) -> None:
    # Skewed like real reviews (1 in 5 negative), one long review.
    rows = [{"task": f"t{i}", "text": f"Review #{i}. " + ("It broke on day one." if i % 5 == 0 else "Works well.")
             + (" It went on and on." * 80 if i == 3 else ""), "is_golden": False, "golden_label": None}
            for i in range(10)]
    gold = {row["text"]: "neg" if "broke" in row["text"] else "pos" for row in rows}
    batch_id = answer_store.create_batch(pd.DataFrame(rows), overlap=1, labels=["neg", "pos"])

    tab = _signed_in(browser, signed_app, ANNOTATOR, "ingestion")  # back home: an annotator lands on labelling
    tab.get_by_role("heading", name="Crowd labelling").wait_for()
    wait_idle(tab)
    sidebar = tab.get_by_test_id("stSidebar")
    [link] = sidebar.get_by_role("link").all_inner_texts()  # the one page an annotator may open
    assert link.endswith("Crowd labelling")
    assert "Backend" not in sidebar.inner_text()

    review = tab.locator('.st-key-labelling-review [data-testid="stText"]')
    done = tab.get_by_text("Nothing left for you in this batch.")
    while True:
        done.or_(review).first.wait_for()
        wait_idle(tab)
        if done.is_visible():
            break
        shown = " ".join(review.inner_text().split())
        tab.get_by_role("button", name=gold[next(t for t in gold if " ".join(t.split()) == shown)],
                        exact=True).click()
        done.or_(review.filter(has_not_text=shown.split(".")[0] + ".")).first.wait_for()

    answers = answer_store.answers(batch_id).merge(pd.DataFrame(rows)[["task", "text"]], on="task")
    assert len(answers) == len(rows) and set(answers.worker) == {f"{issuer}|{ANNOTATOR}"}
    assert (answers.label == answers.text.map(gold)).all(), answers

    for page in ("ingestion", "inbox", "crowd_results"):  # opened by address
        tab.goto(f"{signed_app.url}/{page}")
        tab.get_by_text("Not allowed: this page is for analysts").wait_for()
        wait_idle(tab)
        assert tab.get_by_role("button", name="Start an ingestion run").count() == 0
        assert tab.get_by_role("heading", name="Inbox").count() == 0
