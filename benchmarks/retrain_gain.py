"""Retraining the offline autohelper on crowd labels, on ../shared/data/reviews (Yelp + IMDb).

Round one as the autohelper runs it: few-shot on a seeded, balanced 10% golden set, seed-rule threshold, the
rest of the items below it go to a simulated crowd (10 workers, 2 of them spammers, overlap 3), aggregated with
Dawid-Skene. Then the model is retrained on golden + those labels and both models are held to the golden
accuracy the seed threshold had. The baseline, in the same process: retraining on the dataset's own labels for
the same items (a crowd that is never wrong). Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.core.aggregation import aggregate  # noqa: E402
from _shared_reviews import golden_split, shared_reviews  # noqa: E402
from pipelines.core.autohelper import MiniLMSentimentModel  # noqa: E402
from pipelines.core.autohelper_store import predictions_frame  # noqa: E402
from pipelines.core.retrain import RoundForecast, golden_accuracy_at, retrain_on_human_labels  # noqa: E402
from pipelines.core.simulated_crowd import SimulatedCrowd  # noqa: E402
from pipelines.core.threshold import seed_threshold, split_at_threshold  # noqa: E402


def _figures(forecast: RoundForecast) -> dict:
    return {"threshold": None if forecast.threshold is None else round(forecast.threshold, 4),
            "to_crowd": forecast.to_crowd, "golden_accepted": forecast.golden_accepted,
            "accepted_dataset_accuracy": None if forecast.dataset_accuracy is None
            else round(forecast.dataset_accuracy, 4)}


def main() -> None:
    data = shared_reviews()
    if data is None:
        print(json.dumps({"benchmark": "retrain_gain", "skipped": "../shared/data/reviews is absent"}))
        return
    prepared = golden_split(data)
    started = time.perf_counter()
    model = MiniLMSentimentModel()  # one encoder cache for every fit below: the same embeddings each time
    model.fit(list(prepared.golden.text), list(prepared.golden.label), list(prepared.golden.item_id))
    predictions = pd.concat([
        predictions_frame(model.calibration_predictions(), prepared.golden, "golden"),
        predictions_frame(model.predict(list(prepared.tasks.text), list(prepared.tasks.item_id)), prepared.tasks,
                          "task")], ignore_index=True)
    golden = predictions[predictions.split == "golden"]
    threshold = seed_threshold(golden.confidence.to_numpy(), golden.correct.to_numpy())
    target = golden_accuracy_at(predictions, threshold)
    _, manual = split_at_threshold(predictions[predictions.split == "task"], threshold)

    crowd = SimulatedCrowd(n_workers=10, spammer_share=0.2, seed=0)
    answers = crowd.answer(manual.set_index("item_id").true_label, ["neg", "pos"], overlap=3)
    aggregated = aggregate(answers, "DawidSkene").labels
    crowd_labels = manual[["item_id", "text"]].assign(label=manual.item_id.map(aggregated))
    with_crowd = retrain_on_human_labels(predictions, prepared.golden, crowd_labels, target, model=model)
    perfect = manual[["item_id", "text", "true_label"]].rename(columns={"true_label": "label"})
    with_truth = retrain_on_human_labels(predictions, prepared.golden, perfect, target, model=model)
    print(json.dumps({
        "benchmark": "retrain_gain", "golden": len(prepared.golden), "tasks": len(prepared.tasks),
        "seed_threshold": round(threshold, 4), "target_golden_accuracy": round(target, 4),
        "round_one_to_crowd": len(manual),
        "crowd_label_accuracy": round(float((crowd_labels.label == manual.true_label).mean()), 4),
        "before": _figures(with_crowd.before),
        "after_crowd_labels": _figures(with_crowd.after),
        "after_true_labels_baseline": _figures(with_truth.after),
        "to_crowd_ratio_after_vs_before": round(with_crowd.after.to_crowd / max(with_crowd.before.to_crowd, 1), 3),
        "to_crowd_ratio_crowd_vs_true_labels": round(with_crowd.after.to_crowd / max(with_truth.after.to_crowd, 1),
                                                     3),
        "crowd_agreement_out_of_fold": round(with_crowd.crowd_agreement, 4),
        "seconds": round(time.perf_counter() - started, 1),
    }))


if __name__ == "__main__":
    main()
