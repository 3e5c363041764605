"""Every place a person answers a run: what the run receives, and acts on, is what was on screen when they
clicked (AppTest against a real backend; the run's result, audit trail and stored outputs are the oracle)."""

from __future__ import annotations

import re
from uuid import UUID

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import gateway
from pipelines.catalog import (
    APPROVAL,
    APPROVED_TABLE_ARTIFACT_KEY,
    AUDIT_ARTIFACT_KEY,
    AUTOHELPER,
    CLEANED_USERS_ARTIFACT_KEY,
    CROWD_LOOP,
    INGESTION,
)
from tests.conftest import wait_for_child, wait_for_pending_input, wait_for_status
from tests.dashboard.apptest import decide, ingest_until_feature_pause, page_app, start_insights_run, submit

ANALYST = "Robin"

pytestmark = pytest.mark.usefixtures("backend")




def _audit(run_id: object) -> list[dict[str, str]]:
    """The run's answered pauses (step, resumed_by, resumed_at, input), oldest first."""
    found = gateway.artifacts(run_id)  # type: ignore[arg-type]
    return [row for a in found if a.key == AUDIT_ARTIFACT_KEY for row in a.data]




def _flat_columns(rows: list[dict]) -> set[str]:
    return {column for row in rows for column in row}


def test_ingestion_fetches_the_number_of_users_on_screen(randomuser) -> None:
    app = page_app("views/ingestion.py", ANALYST)
    app.run()
    app.button(key="ingestion.start").click().run()
    run_id = app.session_state["ingestion.run_id"]
    wait_for_pending_input(run_id)
    app.run()
    app.text_input(key=f"ingestion.{run_id}.pause.number_of_users").set_value("3")
    shown = int(app.text_input(key=f"ingestion.{run_id}.pause.number_of_users").value)
    submit(app)
    child = wait_for_child(run_id)
    wait_for_pending_input(child)
    gateway.resume(child, {"features_to_drop": []})
    wait_for_status(run_id, {"completed"})

    assert randomuser.requests[-1]["results"] == [str(shown)]  # what the API was asked for
    assert len(gateway.result(run_id)["users"]) == shown == 3
    [decision] = _audit(run_id)
    assert (decision["resumed_by"], decision["input"]) == (ANALYST, f"number_of_users={shown}")


def test_inbox_answers_reach_the_run_whose_box_they_were_typed_in() -> None:
    first, second = (gateway.start_run(INGESTION, {"select_features": False}) for _ in range(2))
    for run_id in (first, second):
        wait_for_pending_input(run_id)
    app = page_app("views/inbox.py", ANALYST)
    app.run()
    app.text_input(key=f"inbox.{second}.number_of_users").set_value("3")
    submit(app, form=f"inbox.{second}")
    assert wait_for_status(second, {"completed"}).status == "completed"
    assert gateway.run(first).status == "paused"  # the other box's run still waits
    app.text_input(key=f"inbox.{first}.number_of_users").set_value("1")
    submit(app, form=f"inbox.{first}")
    wait_for_status(first, {"completed"})
    assert [len(gateway.result(run_id)["users"]) for run_id in (first, second)] == [1, 3]
    assert [_audit(run_id)[0]["input"] for run_id in (first, second)] == ["number_of_users=1",
                                                                          "number_of_users=3"]




def test_feature_dropping_keeps_exactly_the_columns_previewed() -> None:
    parent, child = ingest_until_feature_pause(3)
    app = page_app("views/features.py", ANALYST)
    app.run()
    app.multiselect(key=f"features.{child}.drop").set_value(["name", "location"]).run()
    preview = next(frame.value for frame in app.dataframe if "gender" in frame.value.columns)
    app.button(key=f"features.{child}.resume").click().run()
    wait_for_status(parent, {"completed"})

    cleaned = next(a for a in gateway.artifacts(child) if a.key == CLEANED_USERS_ARTIFACT_KEY)
    assert _flat_columns(cleaned.data) == set(preview.columns)
    assert len(cleaned.data) == len(preview) == 3
    [decision] = _audit(child)
    assert (decision["resumed_by"], decision["input"]) == (ANALYST, "features_to_drop=['name', 'location']")


def test_feature_choice_goes_to_the_run_shown_even_when_another_starts_meanwhile() -> None:
    shown_parent, shown = ingest_until_feature_pause(3)
    app = page_app("views/features.py", ANALYST)
    app.run()
    app.multiselect(key=f"features.{shown}.drop").set_value(["name", "location"]).run()
    newer_parent, newer = ingest_until_feature_pause(2)  # someone else's ingestion reaches its pause meanwhile
    app.button(key=f"features.{shown}.resume").click().run()
    assert gateway.run(newer).status == "paused" and _audit(newer) == []  # untouched: nobody answered it
    wait_for_status(shown_parent, {"completed"})
    assert _audit(shown)[0]["input"] == "features_to_drop=['name', 'location']"
    assert app.selectbox(key="features.run_picker").value == shown  # the page stays on the run it showed
    gateway.resume(newer, {"features_to_drop": []})
    wait_for_status(newer_parent, {"completed"})


def test_a_resume_for_a_pause_answered_elsewhere_meanwhile_is_refused_and_sends_nothing() -> None:
    parent, child = ingest_until_feature_pause(2)
    drawn = gateway.pending_input(child)  # what a form on screen was drawn for
    gateway.resume(child, {"features_to_drop": ["email"]}, analyst="Sam")  # answered in the Inbox meanwhile
    with pytest.raises(gateway.PauseStale, match="no longer waiting"):
        gateway.resume(drawn, {"features_to_drop": ["name"]}, analyst=ANALYST)
    wait_for_status(parent, {"completed"})
    [decision] = _audit(child)
    assert (decision["resumed_by"], decision["input"]) == ("Sam", "features_to_drop=['email']")


def test_ingestion_form_answers_the_run_shown_even_when_another_reaches_its_pause_meanwhile() -> None:
    shown = gateway.start_run(INGESTION, {"select_features": False})
    wait_for_pending_input(shown)
    app = page_app("views/ingestion.py", ANALYST)
    app.run()  # nothing pinned in this session: the newest run, `shown`, is on screen
    field = f"ingestion.{shown}.pause.number_of_users"
    app.text_input(key=field).set_value("3")
    on_screen = int(app.text_input(key=field).value)
    newer = gateway.start_run(INGESTION, {"select_features": False})  # someone else's run, paused meanwhile
    wait_for_pending_input(newer)
    submit(app)
    assert gateway.run(newer).status == "paused" and _audit(newer) == []
    wait_for_status(shown, {"completed"})
    assert len(gateway.result(shown)["users"]) == on_screen == 3
    [decision] = _audit(shown)
    assert (decision["resumed_by"], decision["input"]) == (ANALYST, f"number_of_users={on_screen}")
    assert app.selectbox(key="ingestion.run_picker").value == shown
    gateway.resume(newer, {"number_of_users": 1})
    wait_for_status(newer, {"completed"})


def _described(app: AppTest) -> tuple[int, list[str]]:
    """The rows and columns the approval question on screen says will be published."""
    text = next(m.value for m in app.markdown if "Publish these users" in m.value)
    rows = int(re.search(r"\*\*(\d+) rows\*\*", text).group(1))  # type: ignore[union-attr]
    columns_line = next(line for line in text.splitlines() if " columns: " in line)
    return rows, re.findall(r"`([^`]+)`", columns_line)


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_approval_publishes_exactly_the_table_described_or_nothing(decision: str) -> None:
    parent, child = ingest_until_feature_pause(2)
    gateway.resume(child, {"features_to_drop": ["login", "email"]})
    wait_for_status(parent, {"completed"})
    app = page_app("views/approval.py", ANALYST)
    app.run()
    app.button(key="approval.start").click().run()
    run_id = app.session_state["approval.run_id"]
    wait_for_pending_input(run_id)
    app.run()
    rows, columns = _described(app)
    decide(app, f"approval.{run_id}", approve=decision == "approve")
    wait_for_status(run_id, {"completed", "cancelled"})

    published = [v for v in gateway.artifact_versions(APPROVED_TABLE_ARTIFACT_KEY) if v.flow_run_id == run_id]
    [audit] = _audit(run_id)
    assert audit["resumed_by"] == ANALYST
    if decision == "reject":
        assert gateway.run(run_id).state_name == "Rejected" and not published
        assert audit["input"] == "create_artifact=False"
        return
    [table] = published
    assert (len(table.data), sorted(_flat_columns(table.data))) == (rows, sorted(columns))
    assert rows == 2
    assert not {"login", "email"} & {column.split(".")[0] for column in columns}
    assert audit["input"] == "create_artifact=True"


def test_insights_flow_asks_the_model_the_instruction_typed(fake_llm, prefect_api) -> None:
    from pipelines.blocks import JSON
    from pipelines.catalog import USERS_BLOCK_NAME
    from pipelines.core.settings import get_settings
    from pipelines.core.users import generate_fake_users

    JSON(value=generate_fake_users(6, seed=3)).save(USERS_BLOCK_NAME, overwrite=True)
    gateway.store_secret(get_settings().llm_secret_block, "sk-test-oracle")
    app = page_app("views/insights.py", ANALYST)
    app.run()
    run_id = start_insights_run(app, fake_llm.base_url)
    typed = "Count the users per gender; then name the two largest groups."
    app.text_input(key=f"insights.{run_id}.pause.input_instructions").set_value(typed)
    submit(app)
    assert wait_for_status(run_id, {"completed", "failed"}, timeout=120).status == "completed"

    assert typed in fake_llm.prompts()
    [decision] = _audit(run_id)
    assert (decision["resumed_by"], decision["input"]) == (ANALYST, f"input_instructions={typed!r}")


def test_confirmed_threshold_is_the_one_on_the_slider_and_splits_as_the_counts_said() -> None:
    from pipelines.core.autohelper_store import AutohelperStore
    from pipelines.core.run_data import run_data_store

    run_id = gateway.start_run(AUTOHELPER, {"n_tasks": 40, "n_golden": 20})
    wait_for_pending_input(run_id, timeout=240)
    app = page_app("views/autohelper.py", ANALYST)
    app.session_state["autohelper.run_id"] = run_id
    app.run()
    key = f"autohelper.{run_id}.threshold"
    app.slider(key=key).set_value(0.5).run()
    app.button(key=f"{key}.seed").click().run()  # a threshold set by a button, not by hand
    shown = app.slider(key=key).value
    counts = {m.label: int(m.value) for m in app.metric if m.label in ("Accepted", "To people")}
    app.button(key=f"autohelper.{run_id}.confirm").click().run()
    wait_for_status(run_id, {"completed"})

    [decision] = _audit(run_id)
    assert (decision["resumed_by"], decision["input"]) == (ANALYST, f"threshold={shown!r}")
    split = AutohelperStore.for_run(run_data_store(), str(run_id))
    accepted, manual = split.read("accepted"), split.read("manual")
    assert {"Accepted": len(accepted), "To people": len(manual)} == counts
    assert (accepted.confidence >= shown).all() and (manual.confidence < shown).all()


def test_threshold_confirm_goes_to_the_run_shown_even_when_another_reaches_its_pause_meanwhile() -> None:
    shown = gateway.start_run(AUTOHELPER, {"n_tasks": 40, "n_golden": 20})
    wait_for_pending_input(shown, timeout=240)
    app = page_app("views/autohelper.py", ANALYST)
    app.run()  # nothing pinned in this session: the newest run, `shown`, is on screen
    key = f"autohelper.{shown}.threshold"
    app.slider(key=key).set_value(0.5).run()
    on_screen = app.slider(key=key).value
    newer = gateway.start_run(AUTOHELPER, {"n_tasks": 40, "n_golden": 20})  # someone else's, paused meanwhile
    newer_default = wait_for_pending_input(newer, timeout=240).schema["properties"]["threshold"]["default"]
    assert newer_default != on_screen  # so a confirm landing on the newer run would show in its input
    app.button(key=f"autohelper.{shown}.confirm").click().run()
    assert gateway.run(newer).status == "paused" and _audit(newer) == []
    wait_for_status(shown, {"completed"})
    [decision] = _audit(shown)
    assert (decision["resumed_by"], decision["input"]) == (ANALYST, f"threshold={on_screen!r}")
    assert gateway.result(shown)["threshold"] == on_screen
    gateway.resume(newer, {"threshold": 0.9})
    wait_for_status(newer, {"completed"})


def test_collect_now_closes_the_batch_with_the_answers_people_gave_on_screen(autohelper_split: str) -> None:
    from pipelines.core.answer_store import AnswerStore
    from pipelines.core.autohelper_store import AutohelperStore
    from pipelines.core.run_data import run_data_store
    from pipelines.core.settings import get_settings
    from tests.dashboard.views.test_labelling import Oracle

    split = AutohelperStore.for_run(run_data_store(), autohelper_split)
    truth = {**dict(zip(split.read("tasks").text, split.read("tasks").label)),
             **dict(zip(split.read("golden").text, split.read("golden").label))}
    run_id = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "local",
                                            "overlap": 1})
    wait_for_pending_input(run_id)
    store = AnswerStore(get_settings().answer_store_url)
    [batch] = [b for b in store.open_batches() if b.owner == str(run_id)]
    annotator = Oracle("ana", truth)
    answered = [annotator.answer() for _ in range(5)]

    app = page_app("views/crowd_results.py", ANALYST)
    app.session_state["crowd.run_id"] = run_id
    app.run()
    assert app.checkbox(key=f"crowd.{run_id}.collect.collect_now").value is True
    submit(app)
    wait_for_status(run_id, {"completed"})

    [decision] = _audit(run_id)
    assert (decision["resumed_by"], decision["input"]) == (ANALYST, "collect_now=True")
    assert batch.id not in {b.id for b in store.open_batches()}
    final = split.read("final").set_index("text")
    crowd_answered = [text for text in answered if text in final.index]  # golden items are not in the table
    assert crowd_answered and all(final.label[text] == truth[text] for text in crowd_answered)


@pytest.mark.parametrize("model_votes", [True, False])
def test_the_crowd_form_starts_the_crowd_loop_with_the_model_vote_as_ticked(autohelper_split: str,
                                                                           model_votes: bool) -> None:
    app = page_app("views/autohelper.py", ANALYST)
    app.session_state["autohelper.run_id"] = UUID(autohelper_split)
    app.run()
    assert app.checkbox(key="autohelper.model_votes").value is True  # on unless unticked
    app.selectbox(key="autohelper.crowd_kind").set_value("simulated")
    app.checkbox(key="autohelper.model_votes").set_value(model_votes)
    next(b for b in app.button if b.label == "Start the crowd loop").click().run()
    assert not app.exception, app.exception

    run_id = app.session_state["crowd.run_id"]
    assert gateway.run(run_id).parameters["model_votes"] is model_votes
    wait_for_status(run_id, {"completed"}, timeout=120)
    assert gateway.result(run_id)["model_votes"] is model_votes


def test_inbox_decides_an_approval_only_by_an_explicit_choice_and_its_confirmation() -> None:
    parent, child = ingest_until_feature_pause(2)
    gateway.resume(child, {"features_to_drop": ["login"]})
    wait_for_status(parent, {"completed"})
    run_id = gateway.start_run(APPROVAL)
    wait_for_pending_input(run_id)
    app = page_app("views/inbox.py", ANALYST)
    app.run()
    assert not [b for b in app.button if b.form_id == f"inbox.{run_id}"]  # no one-click "Resume run" form
    app.run()
    assert gateway.run(run_id).status == "paused"  # drawing and redrawing the Inbox decides nothing
    decide(app, f"inbox.{run_id}", approve=False)
    ended = wait_for_status(run_id, {"completed", "failed", "cancelled"})
    assert (ended.status, ended.state_name) == ("completed", "Rejected")
    assert [(row["resumed_by"], row["input"]) for row in _audit(run_id)] == [(ANALYST, "create_artifact=False")]
