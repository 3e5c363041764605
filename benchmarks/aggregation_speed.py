"""Dawid-Skene on 1M simulated answers: our `aggregate()` against crowd-kit called directly, same process.

Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
from crowdkit.aggregation import DawidSkene

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.core.aggregation import aggregate  # noqa: E402
from pipelines.core.simulated_crowd import SimulatedCrowd  # noqa: E402

N_TASKS, OVERLAP = 200_000, 5


def main() -> None:
    truth = pd.Series(["pos", "neg"] * (N_TASKS // 2), index=[f"t{i}" for i in range(N_TASKS)])
    crowd = SimulatedCrowd(n_workers=200, accuracy_mean=0.75, accuracy_sd=0.1, spammer_share=0.2, seed=0)
    answers = crowd.answer(truth, ["pos", "neg"], overlap=OVERLAP)
    started = time.perf_counter()
    direct = DawidSkene(n_iter=20).fit_predict(answers)
    direct_s = time.perf_counter() - started
    started = time.perf_counter()
    ours = aggregate(answers, "DawidSkene").labels
    ours_s = time.perf_counter() - started
    print(json.dumps({
        "benchmark": "aggregation_speed", "answers": len(answers), "tasks": N_TASKS, "workers": 200,
        "crowdkit_direct_s": round(direct_s, 2), "ours_s": round(ours_s, 2), "ratio": round(ours_s / direct_s, 3),
        "identical_labels": bool((direct.sort_index() == ours.sort_index()).all()),
        "accuracy": round(float((ours.reindex(truth.index) == truth).mean()), 4), "goal_ratio": 1.1,
    }))


if __name__ == "__main__":
    main()
