"""Real-browser paths through the app: Playwright drives Debian's headless Chromium against a served app."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from uuid import UUID

import pandas as pd
import pytest

from dashboard import gateway
from pipelines.catalog import INGESTION
from tests.conftest import wait_for_child, wait_for_pending_input, wait_for_status
from tests.served_app import ServedApp, needs_chromium, new_tab, wait_idle

pytestmark = needs_chromium


@pytest.fixture
def served_app(backend, tmp_path: Path) -> Iterator[ServedApp]:
    app = ServedApp(tmp_path)
    app.start()
    yield app
    app.stop()


@pytest.fixture
def page(browser, tmp_path: Path):
    tab = new_tab(browser)
    yield tab
    tab.screenshot(path=str(tmp_path / "last.png"), full_page=True)


def _answer_user_count(page, count: int) -> None:
    wait_idle(page)  # a rerun still drawing the form would put the old value back over what is typed
    field = page.get_by_label("Number of users", exact=True)
    field.fill(str(count))
    assert field.input_value() == str(count)
    page.get_by_role("button", name="Resume run").click()
    wait_idle(page)


def _shown_run(page) -> UUID:
    return UUID(parse_qs(urlparse(page.url).query)["run"][0])


def test_ingestion_start_form_resume_table(served_app: ServedApp, page, randomuser) -> None:
    page.goto(f"{served_app.url}/ingestion")
    page.get_by_role("button", name="Start an ingestion run").click()
    page.get_by_label("Number of users", exact=True).wait_for()
    _answer_user_count(page, 0)
    page.get_by_text("must be at least 1").wait_for()
    run_id = _shown_run(page)
    assert gateway.run(run_id).status == "paused"  # refused: nothing was sent
    _answer_user_count(page, 3)
    deadline = time.monotonic() + 90
    while not randomuser.requests and time.monotonic() < deadline:
        time.sleep(0.5)
    run = gateway.run(run_id)
    assert [request["results"] for request in randomuser.requests] == [["3"]], (
        run.state_name, run.message, page.locator('[data-testid="stMain"]').inner_text())
    page.get_by_text("3 users. Fetched from the randomuser.me API").first.wait_for(timeout=30_000)
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    page.get_by_text("Backend").first.wait_for()
    assert "healthy" in page.locator('[data-testid="stSidebar"]').inner_text()


def test_paused_run_survives_an_app_restart_and_resumes_from_the_inbox(served_app: ServedApp, page) -> None:
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    wait_for_pending_input(run_id)
    served_app.stop()
    served_app.start()

    page.goto(f"{served_app.url}/inbox")
    page.get_by_text("Waiting for input").first.wait_for()
    name = gateway.run(run_id).name
    page.get_by_text(name).first.wait_for()
    # Several runs may wait; answer the one this test started (the innermost box that names it).
    box = page.locator('[data-testid="stVerticalBlock"]').filter(has_text=name).last
    wait_idle(page)
    box.get_by_label("Number of users", exact=True).fill("2")
    box.get_by_role("button", name="Resume run").click()
    assert wait_for_status(run_id, {"completed"}, timeout=90).status == "completed"


def test_a_new_subflow_pause_appears_in_the_open_inbox_without_a_refresh(served_app: ServedApp, page) -> None:
    page.goto(f"{served_app.url}/inbox")
    page.get_by_text("Waiting for input").first.wait_for()
    parent = gateway.start_run(INGESTION)
    wait_for_pending_input(parent)
    gateway.resume(parent, {"number_of_users": 2})
    child = wait_for_child(parent)
    wait_for_pending_input(child)
    # Nobody touches the page: the feature pause of the subflow shows up, with its form, by itself.
    box = page.locator('[data-testid="stVerticalBlock"]').filter(has_text=gateway.run(child).name).last
    box.get_by_text("Features to drop").first.wait_for(timeout=30_000)
    gateway.resume(child, {"features_to_drop": []})
    wait_for_status(parent, {"completed"})


def test_features_preview_then_approve_shows_the_artifact(served_app: ServedApp, page) -> None:
    parent = gateway.start_run(INGESTION)
    wait_for_pending_input(parent)
    gateway.resume(parent, {"number_of_users": 3})
    wait_for_pending_input(wait_for_child(parent))

    page.goto(f"{served_app.url}/features")
    page.get_by_text("Preview:").first.wait_for()
    page.get_by_role("button", name="Drop these columns and resume").click()
    page.get_by_text("Dropped email, login").first.wait_for(timeout=90_000)
    assert wait_for_status(parent, {"completed"}).status == "completed"

    page.goto(f"{served_app.url}/approval")
    page.get_by_role("button", name="Start an approval run").click()
    # The choice (the radio, not the question's text that names it), then its confirmation.
    page.locator('[data-testid="stRadio"]').get_by_text("Approve and publish", exact=True).click(timeout=90_000)
    page.get_by_role("button", name="Confirm: Approve and publish").click()
    page.get_by_text("Approved and published as").first.wait_for(timeout=90_000)
    page.get_by_text("name-table versions").wait_for()


@pytest.fixture
def stored_users(prefect_api: str) -> None:
    # Saved before the browser starts: Playwright's sync API runs an event loop that would turn Prefect's
    # dual sync/async `save` into an unawaited coroutine.
    from pipelines.blocks import JSON
    from pipelines.catalog import USERS_BLOCK_NAME
    from pipelines.core.users import generate_fake_users

    JSON(value=generate_fake_users(10, seed=4)).save(USERS_BLOCK_NAME, overwrite=True)


def test_insights_configure_ask_and_read_the_answer(served_app: ServedApp, stored_users, page, fake_llm) -> None:
    page.goto(f"{served_app.url}/insights")
    page.get_by_test_id("stExpander").get_by_text("LLM provider").click()
    page.get_by_role("textbox", name="Model").fill("openai:local-model")
    page.get_by_role("textbox", name="Model").press("Enter")
    page.get_by_role("textbox", name="OpenAI-compatible base URL (optional)").fill(fake_llm.base_url)
    page.get_by_role("textbox", name="OpenAI-compatible base URL (optional)").press("Enter")
    page.get_by_role("button", name="Ask about the users").click()
    page.get_by_role("textbox", name="Instruction").wait_for(timeout=90_000)
    page.get_by_role("button", name="Resume run").click()
    page.get_by_text("Most users live in France").first.wait_for(timeout=120_000)
    page.get_by_text("Users by country (computed)").first.wait_for()


def _run_the_autohelper(tab, n_tasks: int, slider_keys: list[str]) -> str:
    """On the autohelper page with a dataset chosen: a custom split of `n_tasks` tasks and 20 golden items, run,
    move the slider, confirm.

    Returns the threshold the slider showed when "Confirm threshold" was clicked, as shown.
    """
    # The dataset is read and split (its caption is drawn) and the page is idle, so the click is not lost.
    tab.get_by_text(re.compile(r"\d+ tasks and \d+ golden items")).first.wait_for()
    tab.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
    tab.get_by_text("Custom", exact=True).click()
    # Each number is set once the page has redrawn with the one before: a field typed into mid-rerun can lose it.
    tab.get_by_label("Tasks", exact=True).fill(str(n_tasks))
    tab.get_by_label("Tasks", exact=True).press("Enter")
    tab.get_by_text(re.compile(rf"\b{n_tasks} tasks (and|\+) ")).first.wait_for()
    tab.get_by_label("Golden items", exact=True).fill("20")
    tab.get_by_label("Golden items", exact=True).press("Enter")
    tab.get_by_text(f"{n_tasks} tasks and 20 golden items").wait_for()
    tab.get_by_role("button", name="Run the autohelper").click()
    slider = tab.get_by_role("slider")
    slider.wait_for(timeout=240_000)
    slider.focus()
    for key in slider_keys:
        slider.press(key)
    tab.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
    shown = tab.get_by_test_id("stSliderThumbValue").inner_text()
    tab.get_by_role("button", name="Confirm threshold").click()
    tab.get_by_text("For people to label").first.wait_for(timeout=120_000)
    return shown


def _upload_reviews(tab, served_app: ServedApp, path: Path) -> None:
    """Open the autohelper page and upload a reviews file, as a person would."""
    tab.goto(f"{served_app.url}/autohelper")
    tab.get_by_text("Upload a file").click()
    tab.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))


def test_autohelper_on_an_uploaded_csv_slider_confirm_tables(served_app: ServedApp, page, tmp_path) -> None:
    from pipelines.catalog import AUTOHELPER
    from pipelines.core.autohelper_store import AutohelperStore
    from pipelines.core.review_sample import sample_reviews
    from pipelines.core.run_data import run_data_store

    upload = tmp_path / "my_reviews.txt"  # tab-separated, with a header
    sample_reviews(120, seed=11).rename(columns={"reviews.text": "body", "reviews.doRecommend": "liked"}).to_csv(
        upload, index=False, sep="\t")
    _upload_reviews(page, served_app, upload)
    # Texts and labels are offered by their contents when the seed's column names are absent.
    page.get_by_text("20 tasks and 100 golden items").wait_for()
    shown = _run_the_autohelper(page, n_tasks=100, slider_keys=["ArrowRight"] * 20)
    page.get_by_text("Accepted from the model").first.wait_for()
    # The threshold the run split by is the one the slider showed when the person confirmed.
    [run] = gateway.recent_runs(limit=1, flow_name=AUTOHELPER.flow)
    [decision] = [row for a in gateway.artifacts(run.id) if a.key == "audit-trail" for row in a.data]
    used = float(decision["input"].removeprefix("threshold="))
    assert used == float(shown)  # no hidden decimals: the split follows exactly what was shown
    split = AutohelperStore.for_run(run_data_store(), str(run.id))
    accepted, manual = split.read("accepted"), split.read("manual")
    assert (accepted.confidence >= used).all() and (manual.confidence < used).all()
    assert (f"Accepted from the model ({len(accepted)})", f"For people to label ({len(manual)})") == tuple(
        page.get_by_text(re.compile(rf"^{title} \(\d+\)$")).first.inner_text()
        for title in ("Accepted from the model", "For people to label"))


def _squash(text: str) -> str:
    """Text as compared between the page and the data: the browser may fold runs of whitespace."""
    return " ".join(text.split())


class BrowserOracle:
    """An annotator in a tab of their own who reads the review on screen and clicks its gold label."""

    def __init__(self, browser, url: str, name: str) -> None:
        self.tab = new_tab(browser)
        self.tab.goto(f"{url}/labelling")
        self.tab.get_by_label("Your annotator name").fill(name)
        self.tab.get_by_label("Your annotator name").press("Enter")
        self.given = 0
        self.gold: dict[str, str] = {}
        self.skipped: list[str] = []  # the reviews this annotator skipped, as read on screen
        self.refused: list[str] = []  # reviews whose answer came too late (settled or closed meanwhile)
        # The batch's last answer resumes the run, which may close the batch before the page draws again.
        self.finished = self.tab.get_by_text("Nothing left for you in this batch").or_(
            self.tab.get_by_text("No crowd batch is open"))

    def _review_on_screen(self) -> str | None:
        """The review shown once the page's run is over (so nothing on screen is left from the run before)."""
        self.tab.get_by_text(f"you gave {self.given}.").or_(self.finished).first.wait_for()
        self.tab.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
        if self.finished.first.is_visible():
            return None
        return _squash(self.tab.locator('.st-key-labelling-review [data-testid="stText"]').inner_text())

    def step(self, skip: bool = False) -> bool:
        """Answer (or skip) the review on screen; False when nothing is left for this annotator."""
        text = self._review_on_screen()
        if text is None:
            return False
        if skip:
            self.skipped.append(text)
            self.tab.get_by_role("button", name="Skip", exact=True).click()
            self.tab.get_by_text(text, exact=True).wait_for(state="detached")
            return True
        self.tab.get_by_role("button", name=self.gold[text], exact=True).click()
        # The click's rerun has drawn once the review is gone (an answer and a refusal both serve another) and the
        # page is idle; only then is a refusal on screen this click's, not a stale one from the click before.
        self.tab.get_by_text(text, exact=True).wait_for(state="detached")
        self.tab.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
        refusals = re.compile("Others gave that review its answers meanwhile|The analyst closed this batch meanwhile")
        if self.tab.get_by_text(refusals).count():
            self.refused.append(text)
        else:
            self.given += 1
        return True


def _answer_store():
    from pipelines.core.answer_store import AnswerStore
    from pipelines.core.settings import get_settings

    return AnswerStore(get_settings().answer_store_url)


def _stored_answers(batch_id: int) -> pd.DataFrame:
    """Every stored answer of a batch with the text of the item it was stored against."""
    import sqlalchemy as sa

    from pipelines.core.answer_tables import items

    store = _answer_store()
    with store.engine.connect() as connection:
        texts = pd.DataFrame(connection.execute(sa.select(items.c.task, items.c.text).where(
            items.c.batch_id == batch_id)).all(), columns=["task", "text"])
    answers = store.answers(batch_id).merge(texts, on="task", how="left", validate="many_to_one")
    return answers.assign(text=answers.text.map(_squash))


def _two_oracles_label_a_local_batch(served_app: ServedApp, browser, crowd_form) -> pd.Series:
    """The analyst sends 8 reviews to people (threshold 1.0), fills the crowd form with `crowd_form(tab)` and starts
    the local crowd loop; two oracle annotators in tabs of their own answer until nothing is left for them.

    Checks that the run ended by itself, every stored answer is the gold label, and once Crowd results shows the
    final table, all 8 crowd labels are the truth. Returns how many answers each of the 8 reviews got.
    """
    from pipelines.catalog import CROWD_LOOP
    from pipelines.core.autohelper_store import AutohelperStore
    from pipelines.core.run_data import run_data_store

    analyst = new_tab(browser)
    analyst.goto(f"{served_app.url}/autohelper")
    assert _run_the_autohelper(analyst, n_tasks=8, slider_keys=["End"]) == "1.000"  # every task goes to people
    # the annotators are there before the batch: their pages pick it up when it opens
    oracles = {name: BrowserOracle(browser, served_app.url, name) for name in ("ana", "ben")}
    for oracle in oracles.values():
        oracle.tab.get_by_text("No crowd batch is open").wait_for()
    crowd_form(analyst)
    analyst.get_by_role("button", name="Start the crowd loop").click()
    analyst.get_by_text("Follow it on Crowd results").wait_for()
    [crowd_run] = gateway.recent_runs(limit=1, flow_name=CROWD_LOOP.flow)
    wait_for_pending_input(crowd_run.id)
    [batch] = [b for b in _answer_store().open_batches() if b.owner == str(crowd_run.id)]
    split = AutohelperStore.for_run(run_data_store(), crowd_run.parameters["autohelper_run_id"])
    truth = pd.concat([split.read("tasks"), split.read("golden")])  # the dataset's own labels
    gold = dict(zip(truth.text.map(_squash), truth.label))
    for oracle in oracles.values():
        oracle.gold = gold
        oracle.tab.get_by_text("you gave 0.").wait_for()  # no reload: the waiting page noticed the batch
    busy = set(oracles)
    while busy:  # the two people take turns, each in their own session
        for name in sorted(busy):
            if not oracles[name].step():
                busy.discard(name)
    assert sum(o.tab.get_by_text("That was the batch's last answer").count() for o in oracles.values()) == 1

    assert wait_for_status(crowd_run.id, {"completed", "failed"}, timeout=120).status == "completed"
    audit = [row for a in gateway.artifacts(crowd_run.id) if a.key == "audit-trail" for row in a.data]
    assert audit[0]["resumed_by"].startswith("batch complete (last answer by ")  # nobody had to collect
    answers = _stored_answers(batch.id)
    assert len(answers) == sum(oracle.given for oracle in oracles.values())
    assert (answers.label == answers.text.map(gold)).all(), answers  # every answer on the review shown
    analyst.goto(f"{served_app.url}/crowd_results")
    analyst.get_by_text("Aggregated sentiment").first.wait_for(timeout=90_000)
    analyst.get_by_text("Aggregation methods on the same answers").first.wait_for()
    # Read from the store, not `gateway.result`: Playwright's event loop would make Prefect's result a coroutine.
    final = split.read("final")
    crowd = final[final.source == "crowd"]
    assert len(crowd) == 8
    assert (crowd.label == crowd.text.map(_squash).map(gold)).all(), crowd  # the final labels are the truth
    return answers[answers.task.isin(crowd.item)].groupby("task").size()


def test_two_oracle_annotators_in_two_tabs_take_reviews_to_the_final_table(served_app: ServedApp,
                                                                           browser) -> None:
    def overlap_two(analyst) -> None:
        analyst.get_by_label("Answers per item", exact=True).fill("2")

    per_task = _two_oracles_label_a_local_batch(served_app, browser, overlap_two)
    assert (per_task == 2).all(), per_task


def test_an_adaptive_batch_in_two_tabs_ends_by_itself_once_every_item_is_confident(served_app: ServedApp,
                                                                                    browser) -> None:
    def adaptive_one_to_three(analyst) -> None:
        # One answer an item is where Dawid-Skene's full confusion matrices cannot be learnt (see
        # `one_label_workers_warning`): the one-coin model is the method for it.
        analyst.get_by_role("combobox", name="Aggregation").click()
        analyst.get_by_role("option", name="OneCoinDawidSkene").click()
        analyst.get_by_text("Adaptive overlap", exact=True).click()
        analyst.get_by_label("First answers per item", exact=True).fill("1")
        analyst.get_by_label("Most answers per item", exact=True).fill("3")
        analyst.get_by_label("Stop at confidence", exact=True).fill("0.800")
        # People alone: where the model's label disagrees with a right answer, its prior would ask for a second,
        # and its vote would tie with the one answer an item has.
        analyst.get_by_text("Start each item from the model's label", exact=True).click()
        analyst.get_by_text("Let the model vote", exact=True).click()

    per_task = _two_oracles_label_a_local_batch(served_app, browser, adaptive_one_to_three)
    # Both people were right on their golden items, so one answer made each review confident (posterior above
    # 0.8): half the answers a fixed overlap of 2 would have asked for.
    assert (per_task == 1).all(), per_task


def test_one_oracle_annotator_skipping_some_reviews(served_app: ServedApp, browser) -> None:
    store = _answer_store()
    # Skewed like real reviews (2 of 8 tasks negative), one long review, markup that must show as typed.
    labels = ["pos", "neg", "pos", "pos", "pos", "neg", "pos", "pos", "pos", "neg"]
    texts = [f"Review {i}: the **kettle** <b>#{i}</b>" + (" It went on and on." * 60 if i == 3 else "")
             for i in range(len(labels))]
    golden = [i >= 8 for i in range(len(labels))]
    batch_id = store.create_batch(pd.DataFrame({
        "task": [f"t{i}" for i in range(len(labels))], "text": texts, "is_golden": golden,
        "golden_label": [label if is_golden else None for label, is_golden in zip(labels, golden)]}),
        overlap=1, labels=["neg", "pos"])
    oracle = BrowserOracle(browser, served_app.url, "cy")
    oracle.gold = dict(zip(map(_squash, texts), labels))
    turn = 0
    while oracle.step(skip=turn % 3 == 1):
        turn += 1
    store.close(batch_id)
    answers = _stored_answers(batch_id)
    assert oracle.skipped and len(answers) == oracle.given >= 5
    assert (answers.label == answers.text.map(oracle.gold)).all(), answers  # every answer on the review shown
    assert not set(answers.text) & set(oracle.skipped)  # a skipped review got no answer from her
