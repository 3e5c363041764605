"""Per-query time of `ThresholdCurve.at` on 1M predictions vs a naive pandas filter, same process.

Prints one JSON line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.core.threshold import ThresholdCurve  # noqa: E402

N_PREDICTIONS = 1_000_000
N_QUERIES = 1_000
N_NAIVE_QUERIES = 50


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[int(0.9 * (len(ordered) - 1))] * 1e3


def main() -> None:
    rng = np.random.default_rng(42)
    confidences = rng.beta(5, 1.5, N_PREDICTIONS)
    correct = rng.random(N_PREDICTIONS) < confidences  # better calibrated than not, like a real model
    started = time.perf_counter()
    curve = ThresholdCurve(confidences, correct, confidences)
    build_seconds = time.perf_counter() - started
    frame = pd.DataFrame({"conf": confidences, "right": correct})

    thresholds = rng.random(N_QUERIES)
    ours = []
    for threshold in thresholds:
        started = time.perf_counter()
        curve.at(threshold)
        ours.append(time.perf_counter() - started)
    naive = []
    for threshold in thresholds[:N_NAIVE_QUERIES]:
        started = time.perf_counter()
        kept = frame[frame.conf >= threshold]
        naive_counts = (len(kept), int(kept.right.sum()))
        naive.append(time.perf_counter() - started)
        point = curve.at(threshold)
        assert naive_counts == (point.accepted, round(point.accuracy * point.labelled_accepted)), threshold
    ours_median, ours_p90 = _ms(ours)
    naive_median, _ = _ms(naive)
    print(json.dumps({
        "benchmark": "threshold_query",
        "n_predictions": N_PREDICTIONS,
        "build_seconds": round(build_seconds, 3),
        "query_ms_median": round(ours_median, 4),
        "query_ms_p90": round(ours_p90, 4),
        "naive_query_ms_median": round(naive_median, 2),
        "speedup": round(naive_median / ours_median, 1),
        "identical_counts": True,
        "goal_query_ms": 5,
        "meets_goal": ours_p90 <= 5,
    }))


if __name__ == "__main__":
    main()
