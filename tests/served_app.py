"""The served app and the browser that drives it, shared by the real-browser tests: `streamlit run dashboard/app.py`
in a subprocess, and Debian's headless Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium keeps calling home and its connections are refused on this closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


class ServedApp:
    """`streamlit run dashboard/app.py` in a subprocess, restartable, on the test backend in embedded mode."""

    def __init__(self, log_dir: Path, args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.args = args  # more `streamlit run` options, e.g. a secrets file
        self.env = env or {}  # more environment for the app, e.g. HITL_ROLES
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, **self.env)
        # Embedded mode: the app must find and reuse the test's server and runner, not start new ones.
        env.pop("PREFECT_API_URL", None)
        log = open(self.log_dir / "streamlit.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(self.port),
             "--server.headless", "true", *self.args],
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


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def new_tab(browser):
    """A tab in a context of its own, so each tab is a separate Streamlit session (a separate person)."""
    tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    tab.set_default_timeout(60_000)
    return tab


def wait_idle(tab, timeout: float = 60_000) -> None:
    """Wait until the page's script has finished its rerun, so what is typed next is not redrawn over."""
    tab.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout)
