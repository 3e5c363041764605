"""Real-browser paths through the app: Playwright drives Debian's headless Chromium against a served app."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dashboard import gateway
from pipelines.catalog import INGESTION
from tests.conftest import free_port, wait_for_child, wait_for_pending_input, wait_for_status

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium keeps calling home and its connections are refused on this closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


class ServedApp:
    """`streamlit run dashboard/app.py` in a subprocess, restartable, on the test backend in embedded mode."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        # Embedded mode: the app must find and reuse the test's server and runner, not start new ones.
        env.pop("PREFECT_API_URL", None)
        log = open(self.log_dir / "streamlit.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(self.port),
             "--server.headless", "true"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/_stcore/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        pytest.fail(f"streamlit did not start; see {self.log_dir / 'streamlit.log'}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


@pytest.fixture
def served_app(backend, tmp_path: Path) -> Iterator[ServedApp]:
    app = ServedApp(tmp_path)
    app.start()
    yield app
    app.stop()


@pytest.fixture
def page(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(60_000)
        yield tab
        tab.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        browser.close()


def _answer_user_count(page, count: int) -> None:
    field = page.get_by_label("Number of users", exact=True)
    field.fill(str(count))
    page.get_by_role("button", name="Resume run").click()


def test_ingestion_start_form_resume_table(served_app: ServedApp, page, randomuser) -> None:
    page.goto(f"{served_app.url}/ingestion")
    page.get_by_role("button", name="Start an ingestion run").click()
    page.get_by_label("Number of users", exact=True).wait_for()
    _answer_user_count(page, 0)
    page.get_by_text("must be at least 1").wait_for()  # refused; the run is still paused
    _answer_user_count(page, 3)
    page.get_by_text("3 users. Fetched from the randomuser.me API").first.wait_for(timeout=90_000)
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
    box.get_by_label("Number of users", exact=True).fill("2")
    box.get_by_role("button", name="Resume run").click()
    assert wait_for_status(run_id, {"completed"}, timeout=90).status == "completed"


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
    page.get_by_role("button", name="Approve and publish").click(timeout=90_000)
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


def test_autohelper_on_an_uploaded_csv_slider_confirm_tables(served_app: ServedApp, page, tmp_path) -> None:
    from pipelines.core.reviews import sample_reviews

    upload = tmp_path / "my_reviews.csv"
    sample_reviews(120, seed=11).rename(columns={"reviews.text": "body", "reviews.doRecommend": "liked"}).to_csv(
        upload, index=False)
    page.goto(f"{served_app.url}/autohelper")
    page.get_by_text("Upload a CSV").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(upload))
    # The first two columns are offered when the seed's column names are absent; 200 tasks are too many.
    page.get_by_text("Only 120 usable reviews, fewer than the 200 tasks + 20 golden items").wait_for()
    page.get_by_label("Tasks").fill("100")
    page.get_by_label("Tasks").press("Enter")
    page.get_by_text("100 tasks and 20 golden items").wait_for()
    page.get_by_role("button", name="Run the autohelper").click()
    slider = page.get_by_role("slider")
    slider.wait_for(timeout=240_000)
    slider.focus()
    for _ in range(20):
        slider.press("ArrowRight")
    page.get_by_role("button", name="Confirm threshold").click()
    page.get_by_text("Accepted from the model").first.wait_for(timeout=120_000)
    page.get_by_text("For people to label").first.wait_for()
