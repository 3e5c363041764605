"""Time from the gateway's resume call to the paused flow running again, on a fresh embedded backend.

The baseline is Prefect's default pause poll interval (10 s), run in the same process with the same flow.
Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RUNS = 12
BASELINE_RUNS = 3  # each waits up to 10 s, so fewer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _measure(gateway, run_id) -> float:
    """Seconds from resume() to the first log line the flow writes after resuming."""
    from dashboard.gateway import logs

    gateway.resume(run_id, {"number_of_users": 1})
    resumed_at = time.time()
    while True:
        for line in logs(run_id, limit=20):
            if line.message.startswith("Resuming flow run execution"):
                return line.timestamp.timestamp() - resumed_at
        time.sleep(0.05)


def _latencies(gateway, runs: int) -> list[float]:
    from pipelines.catalog import INGESTION

    latencies = []
    for _ in range(runs):
        run_id = gateway.start_run(INGESTION)
        while gateway.pending_input(run_id) is None:
            time.sleep(0.05)
        latencies.append(_measure(gateway, run_id))
    return latencies


def _summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "median_s": round(statistics.median(ordered), 3),
        "p90_s": round(ordered[max(0, round(0.9 * len(ordered)) - 1)], 3),
        "n": len(ordered),
    }


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="hitl-bench-"))
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.update(HITL_DATA_DIR=str(data_dir), HITL_SERVER_PORT=str(_free_port()),
                      HITL_RANDOMUSER_URL="http://127.0.0.1:9/unreachable")
    from dashboard import gateway
    from pipelines.backend import stop_backend
    from pipelines.core.settings import get_settings

    started = time.monotonic()
    gateway.connect()
    startup_s = time.monotonic() - started
    try:
        ours = _latencies(gateway, RUNS)
        stop_backend()
        # Baseline: the same flow with Prefect's default poll interval.
        os.environ["HITL_PAUSE_POLL_SECONDS"] = "10"
        get_settings.cache_clear()
        gateway.connect()
        baseline = _latencies(gateway, BASELINE_RUNS)
    finally:
        stop_backend()
    ours_summary, baseline_summary = _summary(ours), _summary(baseline)
    print(json.dumps({
        "benchmark": "resume_latency",
        "backend_startup_s": round(startup_s, 2),
        "ours": ours_summary,
        "baseline_prefect_default_poll": baseline_summary,
        "median_speedup": round(baseline_summary["median_s"] / ours_summary["median_s"], 1),
        "goal_median_s": 1.0,
        "meets_goal": ours_summary["median_s"] <= 1.0,
    }))


if __name__ == "__main__":
    main()
