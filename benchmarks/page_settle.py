"""How long each dashboard page takes to settle in headless Chromium, on a fresh `streamlit run dashboard/app.py`.

"Settled": the page's script run is over (Streamlit's app element says `notRunning`) and its main block is drawn.
Each page is opened once cold, then `--visits` times warm; the warm median is the figure. With `--runs N` (and
`--batch-items M`) the same pages are measured first on the empty history (the baseline, same process) and again
after N flow runs are seeded into the Prefect history (and an open crowd batch of M items into the answer store);
the ratios say how much a long history costs. Prints one JSON line. Needs Debian's chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# URL path of each sidebar page ("" is Home).
PAGES = ["", "inbox", "ingestion", "features", "approval", "insights", "autohelper", "labelling", "crowd_results"]
GOAL_WARM_S = 3.0  # issue #14: every page settles within 3 s warm
GOAL_WARM_S_SEEDED = 2.0  # issue #15: 2 s with a long history (1,000 runs and a 100k-item batch)
# Flows whose runs fill the seeded history, as the pages filter them.
SEEDED_FLOWS = ["create-names", "create-artifact", "extract-user-insights", "sentiment-autohelper", "crowd-loop"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _settle_seconds(tab, url: str) -> tuple[float, int]:
    start = time.perf_counter()
    tab.goto(url)
    tab.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=240_000)
    tab.locator('[data-testid="stMain"]').first.wait_for()
    return time.perf_counter() - start, tab.locator('[data-testid="stException"]').count()


def _measure(tab, base_url: str, visits: int) -> dict[str, dict[str, float | int]]:
    figures = {}
    for page in PAGES:
        cold, exceptions = _settle_seconds(tab, f"{base_url}/{page}")
        warm = []
        for _ in range(visits):
            seconds, errors = _settle_seconds(tab, f"{base_url}/{page}")
            warm.append(seconds)
            exceptions += errors
        figures[page or "home"] = {"cold_s": round(cold, 2), "warm_s": round(statistics.median(warm), 2),
                                   "exceptions": exceptions}
    return figures


def _seed_history(runs: int) -> None:
    """`runs` flow runs in the history, spread over the project's flows and final states (no runner executes them)."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled, Completed, Failed

    states = [Completed, Completed, Completed, Failed, Cancelled]
    with get_client(sync_client=True) as client:
        flows = {name: flow(name=name)(lambda: None) for name in SEEDED_FLOWS}
        for index in range(runs):
            state = states[index % len(states)]()
            client.create_flow_run(flows[SEEDED_FLOWS[index % len(SEEDED_FLOWS)]], state=state)


def _seed_batch(items: int, answer_store_url: str) -> None:
    import pandas as pd

    from pipelines.core.answer_store import AnswerStore

    frame = pd.DataFrame({"task": [f"t{i}" for i in range(items)],
                          "text": [f"Review number {i}: it was fine, mostly." for i in range(items)],
                          "is_golden": False, "golden_label": None})
    AnswerStore(answer_store_url).create_batch(frame, overlap=3, labels=["neg", "pos"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=0, help="flow runs to seed into the history after the baseline")
    parser.add_argument("--batch-items", type=int, default=0, help="items of an open crowd batch to seed")
    parser.add_argument("--visits", type=int, default=3, help="warm visits per page")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    data_dir = Path(tempfile.mkdtemp(prefix="page-settle-"))
    server_port, app_port = _free_port(), _free_port()
    env = {**os.environ, "HITL_DATA_DIR": str(data_dir), "HITL_SERVER_PORT": str(server_port)}
    env.pop("PREFECT_API_URL", None)
    os.environ.update(HITL_DATA_DIR=str(data_dir), HITL_SERVER_PORT=str(server_port))
    app = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(app_port),
                            "--server.headless", "true"], env=env, stdout=open(data_dir / "streamlit.log", "wb"),
                           stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{app_port}"
    goal = GOAL_WARM_S_SEEDED if args.runs or args.batch_items else GOAL_WARM_S
    result: dict[str, object] = {"goal_warm_s": goal, "runs_seeded": args.runs, "batch_items": args.batch_items}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            deadline = time.monotonic() + 240
            while True:  # the first visit starts the embedded backend
                try:
                    _settle_seconds(tab, base_url)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
            baseline = _measure(tab, base_url, args.visits)
            result["empty_history"] = baseline
            if args.runs or args.batch_items:
                from pipelines.core.settings import get_settings

                os.environ["PREFECT_API_URL"] = get_settings().embedded_api_url
                started = time.perf_counter()
                _seed_history(args.runs)
                if args.batch_items:
                    _seed_batch(args.batch_items, get_settings().answer_store_url)
                result["seed_s"] = round(time.perf_counter() - started, 1)
                seeded = _measure(tab, base_url, args.visits)
                result["seeded_history"] = seeded
                result["warm_ratio_seeded_to_empty"] = {
                    page: round(seeded[page]["warm_s"] / max(baseline[page]["warm_s"], 1e-3), 2) for page in seeded}
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=30)
        subprocess.run([sys.executable, "-c", "from pipelines.backend import stop_backend; stop_backend()"], env=env,
                       check=False)
    measured = result.get("seeded_history", result["empty_history"])
    result["max_warm_s"] = max(figures["warm_s"] for figures in measured.values())  # type: ignore[union-attr]
    result["exceptions"] = sum(figures["exceptions"] for figures in measured.values())  # type: ignore[union-attr]
    result["goal_met"] = result["max_warm_s"] <= goal and result["exceptions"] == 0
    print(json.dumps(result))


if __name__ == "__main__":
    main()
