"""The end-to-end benchmark, small: both sides do the same work, and repeats alternate and are all reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "end_to_end.py"

pytestmark = [pytest.mark.backend, pytest.mark.model]


def test_two_repeats_agree_with_the_core_and_report_each_pair(tmp_path: Path) -> None:
    completed = subprocess.run([sys.executable, str(SCRIPT), "--n", "300", "--repeats", "2"], capture_output=True,
                               text=True, timeout=900, check=True, cwd=tmp_path)
    figures = json.loads(completed.stdout.strip().splitlines()[-1])

    # The pages' path and the core alone split, asked and aggregated the same items.
    flows, core = figures["flows"], figures["direct"]
    assert (flows["threshold"], flows["answers"], flows["items"]) == (core["threshold"], core["answers"],
                                                                      core["items"])
    assert core["items"] == 200  # every task has a final label: 300 reviews, 100 of them golden (the least)
    assert [pair["flow_first"] for pair in figures["pairs"]] == [True, False]
    for pair in figures["pairs"]:
        assert pair["overhead_share"] == pytest.approx(
            (pair["flow_wall_s"] - pair["direct_wall_s"]) / pair["flow_wall_s"], abs=0.002)
        assert pair["flow_cpu_s"] > 0 and pair["direct_cpu_s"] > 0
    walls = [pair["flow_wall_s"] for pair in figures["pairs"]]
    assert figures["flow_wall_s"] == pytest.approx(sum(walls) / 2, abs=0.01)  # the median of two
    shares = [pair["overhead_share"] for pair in figures["pairs"]]
    assert figures["overhead_share"] == pytest.approx(sum(shares) / 2, abs=0.002)  # paired, not of the medians
    assert figures["peak_rss_mb_flow_process"] > 0 and figures["peak_rss_mb_direct"] > 0
