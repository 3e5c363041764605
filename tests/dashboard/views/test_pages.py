"""Every page renders against a real backend; the ingestion page runs its path (AppTest, widgets by key)."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import gateway
from pipelines.catalog import APPROVAL, INGESTION
from tests.conftest import wait_for_child, wait_for_pending_input, wait_for_status
from tests.dashboard.apptest import decide, ingest_until_feature_pause, page_app, start_insights_run, submit

PAGES = ["views/home.py", "views/inbox.py", "views/ingestion.py", "views/features.py", "views/approval.py",
         "views/insights.py", "views/autohelper.py", "views/labelling.py",
         "views/crowd_results.py"]

pytestmark = pytest.mark.usefixtures("backend")




@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(page: str) -> None:
    app = page_app(page)
    app.run()
    assert not app.exception, app.exception
    assert any("Backend" in s.value for s in app.sidebar.subheader)


def test_home_describes_every_page_of_the_navigation() -> None:
    from tests.dashboard.apptest import APP

    titles = re.findall(r'st\.Page\("views/\w+\.py", title="([^"]+)"', APP.read_text())
    app = page_app("views/home.py")
    app.run()
    table = next(m.value for m in app.markdown if "| Page | What it does |" in m.value)
    assert {"Crowd labelling", "Crowd results"} <= set(titles)
    assert [title for title in titles if title != "Home" and f"| **{title}** |" not in table] == []


def test_ingestion_page_start_answer_and_show_users(randomuser) -> None:
    app = page_app("views/ingestion.py")
    app.run()
    app.button(key="ingestion.start").click().run()
    run_id = app.session_state["ingestion.run_id"]
    wait_for_pending_input(run_id)
    app.run()
    app.text_input(key=f"ingestion.{run_id}.pause.number_of_users").set_value("0")
    submit(app)
    assert any("at least 1" in e.value for e in app.error)
    assert gateway.run(run_id).status == "paused"

    app.text_input(key=f"ingestion.{run_id}.pause.number_of_users").set_value("4")
    submit(app)
    child = wait_for_child(run_id)
    wait_for_pending_input(child)
    app.run()
    assert not app.exception
    users = next(frame.value for frame in app.dataframe if "name.first" in frame.value.columns)
    assert len(users) == 4
    assert any("randomuser.me" in s.value for s in app.success)
    assert any("choose the columns" in i.value for i in app.info)
    gateway.resume(child, {"features_to_drop": []})
    wait_for_status(run_id, {"completed"})


def test_inbox_lists_a_paused_run_with_its_form() -> None:
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    wait_for_pending_input(run_id)
    app = page_app("views/inbox.py")
    app.run()
    field = app.text_input(key=f"inbox.{run_id}.number_of_users")
    assert field.value == "2"  # prefilled from the pause's initial data
    field.set_value("1")
    submit(app)
    assert wait_for_status(run_id, {"completed"}).status == "completed"


def test_inbox_lists_a_paused_run_behind_a_hundred_newer_runs(prefect_api: str) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Completed

    run_id = gateway.start_run(INGESTION, {"select_features": False})
    wait_for_pending_input(run_id)
    with get_client(sync_client=True) as client:  # a long history: 101 finished runs, all newer than the pause
        seeded = flow(name="seeded-history")(lambda: None)
        for _ in range(101):
            client.create_flow_run(seeded, state=Completed())
    assert run_id not in {run.id for run in gateway.recent_runs(limit=100)}
    app = page_app("views/inbox.py")
    app.run()
    assert not app.exception, app.exception
    field = app.text_input(key=f"inbox.{run_id}.number_of_users")
    field.set_value("1")
    submit(app)
    assert wait_for_status(run_id, {"completed"}).status == "completed"






def _preview_columns(app: AppTest) -> list[str]:
    return [list(frame.value.columns) for frame in app.dataframe if "email" in frame.value.columns
            or "gender" in frame.value.columns][-1]


def test_feature_page_preview_follows_the_multiselect_then_resumes() -> None:
    parent, child = ingest_until_feature_pause(3)
    app = page_app("views/features.py")
    app.session_state["analyst"] = "Robin"
    app.run()
    select = app.multiselect(key=f"features.{child}.drop")
    assert "email" in select.value  # the seed's defaults
    select.set_value(["name"]).run()
    preview = _preview_columns(app)
    assert "email" in preview and not any(column.startswith("name.") for column in preview)
    app.multiselect(key=f"features.{child}.drop").set_value(["name", "email"]).run()
    assert "email" not in _preview_columns(app)

    app.button(key=f"features.{child}.resume").click().run()
    assert wait_for_status(parent, {"completed"}).status == "completed"
    app.run()
    assert not app.exception
    audit = next(frame.value for frame in app.dataframe if "resumed_by" in frame.value.columns)
    assert list(audit["resumed_by"]) == ["Robin"]


def test_approval_page_approves_rejects_and_renders_versions() -> None:
    parent, child = ingest_until_feature_pause(2)
    gateway.resume(child, {"features_to_drop": ["login"]})
    wait_for_status(parent, {"completed"})

    app = page_app("views/approval.py")
    app.run()
    for decision in ("approve", "approve", "reject"):
        app.button(key="approval.start").click().run()
        wait_for_pending_input(app.session_state["approval.run_id"])
        app.run()
        decide(app, f"approval.{app.session_state['approval.run_id']}", approve=decision == "approve")
        wait_for_status(app.session_state["approval.run_id"], {"completed", "cancelled"})
    app.run()
    assert not app.exception
    assert any("Rejected. Not approved by anonymous analyst. Nothing was published." in w.value.replace("\\", "")
               for w in app.warning)  # the message is escaped: it holds a name someone typed
    versions = next(frame.value for frame in app.dataframe if "version" in frame.value.columns)
    assert len(versions) >= 2 and versions["rows"].iloc[0] == 2
    # Versions name the run that approved them, as Prefect names runs, not by id.
    names = {run.name for run in gateway.recent_runs(limit=200, flow_name=APPROVAL.flow)}
    assert set(versions["approval run"].head(2)) <= names
    assert app.selectbox(key="approval.diff.new").options[0].startswith(
        f"v{versions['version'].iloc[0]} · {versions['approval run'].iloc[0]} · ")


def test_insights_page_without_a_provider_explains_and_starts_nothing(monkeypatch) -> None:
    from pipelines.core.settings import get_settings

    for variable in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "HITL_LLM_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HITL_LLM_SECRET_BLOCK", "no-such-secret-block")
    get_settings.cache_clear()
    try:
        app = page_app("views/insights.py")
        app.run()
        assert not app.exception
        [gap] = [i.value for i in app.info if "No LLM provider is configured yet" in i.value]
        # The text sends the person to the control where it really is: the expander drawn above it.
        assert "under **LLM provider** at the top of this page" in gap and "below" not in gap
        assert app.expander[0].label == "LLM provider"
        assert app.button(key="insights.start").disabled
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_insights_page_asks_the_provider_and_shows_answer_table_and_chart(fake_llm, prefect_api) -> None:
    from pipelines.blocks import JSON
    from pipelines.catalog import USERS_BLOCK_NAME
    from pipelines.core.settings import get_settings
    from pipelines.core.users import generate_fake_users

    JSON(value=generate_fake_users(12, seed=2)).save(USERS_BLOCK_NAME, overwrite=True)
    canary = "sk-canary-page-51c"
    gateway.store_secret(get_settings().llm_secret_block, canary)
    app = page_app("views/insights.py")
    app.run()
    run_id = start_insights_run(app, fake_llm.base_url)
    assert app.text_input(key=f"insights.{run_id}.pause.input_instructions").value.startswith("Group by location")
    submit(app)
    assert wait_for_status(run_id, {"completed", "failed"}, timeout=120).status == "completed"
    app.run()
    assert not app.exception
    assert any("Most users live in France" in t.value for t in app.text)  # model output shown as text
    [rows] = [frame.value for frame in app.dataframe if "group" in frame.value.columns]  # the table, once
    assert not any("| group | count |" in m.value for m in app.markdown)
    assert rows.iloc[0].to_dict() == {"group": "France", "count": 3}
    page_text = " ".join(str(getattr(e, "value", "")) for e in app.main) + " ".join(
        str(getattr(e, "value", "")) for e in app.sidebar)
    assert canary not in page_text
    assert len([chart for chart in app.get("plotly_chart")]) == 4  # the answer's chart + three computed ones


def test_autohelper_page_slider_moves_the_counts_then_confirms() -> None:
    app = page_app("views/autohelper.py")
    app.run()
    assert not app.exception
    app.button(key="autohelper.start").click().run()
    run_id = app.session_state["autohelper.run_id"]
    wait_for_pending_input(run_id, timeout=240)
    app.run()
    key = f"autohelper.{run_id}.threshold"

    def accepted() -> int:
        return int(next(m for m in app.metric if m.label == "Accepted").value)

    app.slider(key=key).set_value(0.5).run()
    at_half = accepted()
    app.slider(key=key).set_value(0.99).run()
    assert accepted() < at_half
    app.button(key=f"{key}.seed").click().run()
    assert app.slider(key=key).value == pytest.approx(gateway.pending_input(run_id).schema["properties"]
                                                      ["threshold"]["default"])
    assert len(app.get("plotly_chart")) == 3
    app.button(key=f"autohelper.{run_id}.confirm").click().run()
    wait_for_status(run_id, {"completed"})
    app.run()
    assert not app.exception
    sizes = [len(frame.value) for frame in app.dataframe if "confidence" in frame.value.columns]
    assert sum(sizes[-2:]) == 220  # the recommended split of the 320 sample reviews: 100 golden, 220 tasks


def test_autohelper_page_refuses_a_bad_dataset_before_any_run() -> None:
    app = page_app("views/autohelper.py")
    app.run()
    app.radio(key="autohelper.source").set_value("Path or URL").run()
    app.text_input(key="autohelper.location").input("http://127.0.0.1:9/reviews.csv").run()
    assert any("Could not download" in e.value for e in app.error)
    assert app.button(key="autohelper.start").disabled


def test_two_annotators_label_blind_in_their_own_sessions() -> None:
    import pandas as pd

    from pipelines.core.answer_store import AnswerStore
    from pipelines.core.settings import get_settings

    store = AnswerStore(get_settings().answer_store_url)
    items = pd.DataFrame({"task": ["a", "b", "c"], "text": ["Loved it", "Hated it", "Fine"],
                          "is_golden": [False, False, False], "golden_label": [None, None, None]})
    older = store.create_batch(items.assign(text="Older batch review"), overlap=1, labels=["pos", "neg"])
    batch = store.create_batch(items, overlap=2, labels=["pos", "neg"])
    for annotator, label in (("ana", "pos"), ("ben", "neg")):
        tab = page_app("views/labelling.py")
        tab.run()
        tab.text_input(key="labelling.annotator").input(annotator).run()
        assert tab.selectbox(key="labelling.batch").value.id == batch  # the newest open batch first
        _labelling_button(tab, "Skip").click().run()  # skipping one is allowed...
        for _ in range(2):
            _labelling_button(tab, label).click().run()
        assert any("Nothing left for you" in s.value for s in tab.success)  # ...and it is not served again
        assert not tab.exception
    answers = store.answers(batch)
    assert sorted(answers.groupby("worker").size().to_dict().items()) == [("ana", 2), ("ben", 2)]
    store.close(batch)
    tab = page_app("views/labelling.py")
    tab.run()
    tab.text_input(key="labelling.annotator").input("cy").run()
    assert any("Older batch review" in t.value for t in tab.text)  # the one batch still open
    store.close(older)


def _labelling_button(tab: AppTest, label: str) -> object:
    """A button of the review on screen (their keys name the review, so they are found by label)."""
    return next(button for button in tab.button if button.label == label)


def _crowd_form(split: object) -> AppTest:
    """The autohelper page on a run whose threshold is confirmed, so its crowd form is drawn."""
    page = page_app("views/autohelper.py")
    page.session_state["autohelper.run_id"] = split
    page.run()
    return page


def test_simulated_crowd_from_the_autohelper_page_to_the_results_page() -> None:
    from pipelines.catalog import AUTOHELPER

    split = gateway.start_run(AUTOHELPER, {"n_tasks": 40, "n_golden": 20})
    wait_for_pending_input(split, timeout=240)
    gateway.resume(split, {"threshold": 0.95})
    wait_for_status(split, {"completed"})
    page = _crowd_form(split)
    page.selectbox(key="autohelper.crowd_kind").set_value("simulated")
    next(b for b in page.button if b.label == "Start the crowd loop").click().run()
    assert wait_for_status(page.session_state["crowd.run_id"], {"completed", "failed"}).status == "completed"

    results = page_app("views/crowd_results.py")
    results.run()
    assert not results.exception
    final = next(frame.value for frame in results.dataframe if "source" in frame.value.columns)
    assert len(final) == 40 and "simulated crowd" in set(final.source)
    methods = next(frame.value for frame in results.dataframe if "method" in frame.value.columns)
    assert "GLAD" not in set(methods.method) and len(methods) == 4  # the slow two only on demand
    results.toggle(key="crowd.slow_methods").set_value(True).run()
    methods = next(frame.value for frame in results.dataframe if "method" in frame.value.columns)
    assert len(methods) == 6 and methods["golden accuracy"].notna().all()
    results.multiselect(key="crowd.sources").set_value(["simulated crowd"]).run()
    shown = next(frame.value for frame in results.dataframe if "source" in frame.value.columns)
    assert set(shown.source) == {"simulated crowd"} and len(shown) < len(final) + 1

    results.button(key="retrain.start").click().run()
    [retrain] = gateway.recent_runs(limit=1, flow_name="retrain-autohelper")
    assert retrain.parameters["autohelper_run_id"] == str(split)
    assert wait_for_status(retrain.id, {"completed", "failed"}, timeout=180).status == "completed"
    results.run()
    assert not results.exception
    assert any(m.label == "To people next round" for m in results.metric)
    forecasts = next(frame.value for frame in results.dataframe if "to_crowd" in frame.value.columns)
    assert list(forecasts.model) == ["before", "after retraining"]
    assert (forecasts.to_crowd + forecasts.accepted == 40).all()


def test_adaptive_overlap_from_the_crowd_form_reaches_the_run_exactly_and_is_refused_for_toloka(
        autohelper_split: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLOKA_API_KEY", "k")  # with the backend's project, Toloka is offered
    page = _crowd_form(autohelper_split)
    page.checkbox(key="autohelper.adaptive").check()
    page.number_input(key="autohelper.min_answers").set_value(3)
    page.number_input(key="autohelper.max_answers").set_value(4)
    page.number_input(key="autohelper.stop_confidence").set_value(0.9)
    page.selectbox(key="autohelper.crowd_kind").set_value("toloka")
    next(b for b in page.button if b.label == "Start the crowd loop").click().run()
    assert any("Toloka keeps a fixed overlap" in e.value for e in page.error)
    assert "crowd.run_id" not in page.session_state  # nothing started
    assert page.checkbox(key="autohelper.adaptive").value is True  # and nothing the analyst set was lost

    page.selectbox(key="autohelper.crowd_kind").set_value("simulated")
    next(b for b in page.button if b.label == "Start the crowd loop").click().run()
    [crowd_run] = gateway.recent_runs(limit=1, flow_name="crowd-loop")
    assert str(crowd_run.id) == str(page.session_state["crowd.run_id"])
    assert {key: crowd_run.parameters[key] for key in ("crowd", "adaptive", "min_answers", "max_answers",
                                                        "stop_confidence")} == {
        "crowd": "simulated", "adaptive": True, "min_answers": 3, "max_answers": 4, "stop_confidence": 0.9}
    assert wait_for_status(crowd_run.id, {"completed", "failed"}).status == "completed"
