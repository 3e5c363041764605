"""Our MajorityVote and Dawid-Skene accuracies on three crowd datasets next to Zheng et al. (PVLDB 2017) Table 6.

Data: ../shared/data/crowd (answer.csv: task, worker, answer; truth.csv: task, truth). S_Rel has repeated
(task, worker) rows; the first answer of each pair is kept. MV ties are broken by crowd-kit (deterministically),
the paper broke them at random. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _shared_crowd import CROWD, load_crowd  # noqa: E402
from pipelines.core.aggregation import DuplicateAnswersWarning, accuracy_on, aggregate  # noqa: E402

PAPER = {  # Table 6, accuracy in %
    "d_sentiment": ("D_PosSent", {"MajorityVote": 93.31, "DawidSkene": 96.00}),
    "d_jn_product": ("D_Product", {"MajorityVote": 89.66, "DawidSkene": 93.66}),
    "s4_relevance": ("S_Rel", {"MajorityVote": 54.19, "DawidSkene": 61.30}),
}


def main() -> None:
    if not CROWD.exists():
        print(json.dumps({"benchmark": "aggregation_paper", "skipped": "../shared/data/crowd is absent"}))
        return
    datasets = {}
    for folder, (paper_name, paper) in PAPER.items():
        answers, truth = load_crowd(folder)
        figures = {}
        for method, paper_accuracy in paper.items():
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DuplicateAnswersWarning)  # counted below
                accuracy, n_gold = accuracy_on(aggregate(answers, method).labels, truth)
            figures[method] = {"ours": round(100 * accuracy, 2), "paper": paper_accuracy,
                               "difference_points": round(100 * accuracy - paper_accuracy, 2),
                               "seconds": round(time.perf_counter() - started, 2)}
        datasets[paper_name] = {"gold_tasks": n_gold, "answers": len(answers),
                                "duplicate_rows_dropped": int(answers.duplicated(["task", "worker"]).sum()),
                                **figures}
    within = all(abs(f["difference_points"]) <= 0.5 for d in datasets.values()
                 for k, f in d.items() if isinstance(f, dict))
    print(json.dumps({"benchmark": "aggregation_paper", "datasets": datasets, "goal_points": 0.5,
                      "all_within_goal": within}))


if __name__ == "__main__":
    main()
