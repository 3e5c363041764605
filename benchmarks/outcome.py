"""The promise, measured: how many final labels are right, against the dataset's own truth, for how much human work.

The project's own core, end to end: split the reviews (golden drawn stratified, the default golden size), let the
offline autohelper label them (mode `auto`, or `--model-mode`), solve the threshold for `--target` on the golden
items (95% lower bound), send the rest through the answer store to a simulated crowd whose workers' accuracies
are resampled from a real crowd (D_PosSent, Zheng et al. PVLDB 2017: 85 workers on tweet sentiment), aggregate
with Dawid-Skene, and score the final table against the true labels. The baseline, in the same process: the same
crowd at the same overlap labels every task. `human_answers` counts answers on task items; the golden checks mixed
into a batch are reported apart. With `--adaptive` the same split goes to the same crowd a second time with
adaptive overlap (`--min-answers`, `--max-answers`, `--stop-confidence`), and the line gets `fixed` and
`adaptive` sections, each with `final_accuracy`, `human_answers` and `human_share` (of the fixed-overlap all-crowd
answers). With `--rounds 2` the tasks are split in two seeded halves: round one runs on the first; the model is
retrained on golden + round one's crowd labels (the final table the crowd loop stores: with `--model-votes`, the
labels aggregated with the model's votes) and saved as a model version, and round two runs that version (no
refit; golden items it learnt from scored out-of-fold) on the second half, items no model or person has labelled,
with the same crowd and overlap rule as round one (adaptive under `--adaptive`; `--round2-stop-confidence` sets
round two's stop), scored on their true labels. The line gets `round1` and `round2` sections, and
`round2_without_retraining` (round one's model and threshold on the same second half, round two's rule). Prints one
JSON line.

    python benchmarks/outcome.py                                   # the shared Yelp + IMDb sentences
    python benchmarks/outcome.py --adaptive                        # fixed and adaptive overlap side by side
    python benchmarks/outcome.py --reviews my.tsv --text-column body --label-column stars --label-map "1=pos,0=neg"
    python benchmarks/outcome.py --model-votes     # also: the same answers aggregated with the model as a voter
    python benchmarks/outcome.py --rounds 2 --adaptive --min-answers 1   # round two with the retrained version
    python benchmarks/outcome.py --rounds 2 --adaptive --model-prior --model-votes --min-answers 1 \
        --stop-confidence 0.88 --round2-stop-confidence 0.93   # the crowd form's defaults in each round
    python benchmarks/outcome.py --accuracy-of golden   # solve on the golden items accepted instead

The threshold is solved on `--accuracy-of`: `calibrated` (the default), the expected accuracy of the accepted task
items with golden-calibrated confidences, or `golden`, the accuracy of the golden items accepted; on its 95% lower
bound either way (see pipelines/core/threshold.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _shared_crowd import CROWD, load_crowd  # noqa: E402
from _shared_reviews import shared_reviews  # noqa: E402

from pipelines.core.adaptive import AdaptiveOverlap  # noqa: E402
from pipelines.core.aggregation import aggregate  # noqa: E402
from pipelines.core.answer_store import AnswerStore  # noqa: E402
from pipelines.core.autohelper import MiniLMSentimentModel, fit_offline, majority_baseline  # noqa: E402
from pipelines.core.autohelper_store import predictions_frame  # noqa: E402
from pipelines.core.crowd import (  # noqa: E402
    CrowdBatch,
    SimulatedCrowdBackend,
    crowd_labelled,
    final_table,
    final_table_from_answers,
)
from pipelines.core.model_versions import load_model, predict_with_version, save_version  # noqa: E402
from pipelines.core.model_votes import with_model_priors  # noqa: E402
from pipelines.core.retrain import retrain_on_human_labels  # noqa: E402
from pipelines.core.review_files import load_reviews  # noqa: E402
from pipelines.core.reviews import parse_label_map, prepare_dataset  # noqa: E402
from pipelines.core.run_data import FolderRunData  # noqa: E402
from pipelines.core.simulated_crowd import SimulatedCrowd, real_worker_accuracies  # noqa: E402
from pipelines.core.threshold import ACCURACY_OF_LABELS, AccuracyOf, ThresholdCurve, split_at_threshold  # noqa: E402

REAL_CROWD = "d_sentiment"  # D_PosSent in the paper's Table 6


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", help="CSV/TSV path (delimiter sniffed); default: the shared reviews")
    parser.add_argument("--text-column", help="default: the file's first column")
    parser.add_argument("--label-column", help="default: the file's second column")
    parser.add_argument("--label-map", help='e.g. "1=pos,0=neg"; default: proposed from the label values')
    parser.add_argument("--target", type=float, default=0.95, help="accuracy the accepted labels must reach")
    parser.add_argument("--model-mode", default="auto", choices=["auto", "zero-shot", "few-shot"])
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--workers", type=int, default=30, help="simulated workers in the crowd")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-votes", action="store_true",
                        help="add a model_votes section: the same crowd answers, the model voting as one more worker")
    parser.add_argument("--adaptive", action="store_true", help="also run adaptive overlap; report both")
    parser.add_argument("--min-answers", type=int, default=2, help="adaptive: answers every item gets first")
    parser.add_argument("--max-answers", type=int, default=5, help="adaptive: answers an item gets at most")
    parser.add_argument("--stop-confidence", type=float, default=0.95,
                        help="adaptive: posterior of the leading label at which an item takes no more answers")
    parser.add_argument("--round2-stop-confidence", type=float, default=None,
                        help="adaptive, --rounds 2: round two's stop confidence (default: --stop-confidence), for "
                             "both round-two runs")
    parser.add_argument("--model-prior", action="store_true",
                        help="adaptive: start each item from the model's label, its confidence calibrated on golden")
    parser.add_argument("--accuracy-of", default="calibrated", choices=list(ACCURACY_OF_LABELS),
                        help="the accuracy the threshold is solved on: calibrated, the accepted tasks' expected "
                             "accuracy with golden-calibrated confidences; golden, the accepted golden items' accuracy")
    parser.add_argument("--rounds", type=int, default=1, choices=[1, 2],
                        help="2: round one on half the tasks, round two with the retrained version on the rest")
    return parser.parse_args()


@dataclass(frozen=True)
class CrowdRun:
    """One pass of the manual items through the simulated crowd: the final table and the human work it took."""

    final: pd.DataFrame
    answers_on_tasks: pd.DataFrame
    golden_checks: int

    @property
    def human_answers(self) -> int:
        return len(self.answers_on_tasks)


def _final_labels(store: AnswerStore, crowd: SimulatedCrowd, accepted: pd.DataFrame, manual: pd.DataFrame,
                  golden: pd.DataFrame, labels: list[str], overlap: int, adaptive: AdaptiveOverlap | None = None,
                  prior_from: pd.DataFrame | None = None) -> CrowdRun:
    """The final table when the model keeps `accepted` and `manual` goes through the answer store to the simulated
    crowd (right or wrong about each item's true label), as the crowd loop does, with a fixed `overlap` or
    `adaptive` overlap; with `prior_from` (the model's golden predictions), adaptive overlap starts each item from
    the model's label, its confidence calibrated on them."""
    rule = {} if adaptive is None else {"min_answers": adaptive.min_answers, "max_answers": adaptive.max_answers,
                                        "stop_confidence": adaptive.stop_confidence}
    tasks = manual.rename(columns={"item_id": "task", "label": "model_label"})
    if prior_from is not None:
        tasks = with_model_priors(tasks, prior_from, labels)
    batch = CrowdBatch(tasks, golden.rename(columns={"item_id": "task"}), labels, overlap,
                       model_prior=prior_from is not None, **rule)
    batch_id = SimulatedCrowdBackend(store, crowd).submit(batch)
    answers = store.answers(batch_id)
    on_tasks = answers[answers.task.isin(set(batch.tasks.task))]
    result = aggregate(on_tasks, "DawidSkene") if len(on_tasks) else None
    return CrowdRun(final_table(accepted, batch.tasks, result, simulated=True), on_tasks, len(answers) - len(on_tasks))


def _voted_final(accepted: pd.DataFrame, manual: pd.DataFrame, answers_on_tasks: pd.DataFrame) -> pd.DataFrame:
    """The final table as the crowd loop stores it with the model voting on the manual items."""
    items = manual.rename(columns={"item_id": "task", "label": "model_label"})
    return final_table_from_answers(accepted, items, answers_on_tasks, "DawidSkene", simulated=True,
                                    model_votes=True)[0]


def _model_votes_section(accepted: pd.DataFrame, manual: pd.DataFrame, answers_on_tasks: pd.DataFrame,
                         truth: pd.Series, all_crowd_answers: int) -> dict[str, object]:
    """The default run's answers aggregated again with the model voting on the manual items: same split, same
    crowd, same answers, so the difference is the model's vote alone."""
    final = _voted_final(accepted, manual, answers_on_tasks)
    human_answers = len(answers_on_tasks)
    return {"final_accuracy": round(_accuracy(final, truth), 4), "human_answers": human_answers,
            "human_share": round(human_answers / all_crowd_answers, 4),
            "influenced": int(final.model_influenced.sum()),
            "crowd_accuracy": round(_accuracy(final[final.source != "model"], truth), 4) if len(manual) else None}


@dataclass(frozen=True)
class Crowd:
    """The simulated crowd, the answer store it answers through, the labels and the overlap rule of a run."""

    store: AnswerStore
    people: SimulatedCrowd
    labels: list[str]
    overlap: int
    adaptive: AdaptiveOverlap | None
    model_prior: bool = False


def _split(task_predictions: pd.DataFrame, golden_predictions: pd.DataFrame, target: float,
           accuracy_of: AccuracyOf) -> tuple[float | None, pd.DataFrame, pd.DataFrame]:
    """The threshold solved for `target` on the 95% lower bound of `accuracy_of`, and the accepted and manual
    tasks."""
    curve = ThresholdCurve(golden_predictions.confidence.to_numpy(), golden_predictions.correct.to_numpy(),
                           task_predictions.confidence.to_numpy())
    point = curve.for_target(target, "lower", accuracy_of)
    # No threshold meeting the target on golden means the model's labels cannot be trusted: all go to people.
    threshold = point.threshold if point is not None else float(np.nextafter(1.0, 2.0))
    return (None if point is None else threshold, *split_at_threshold(task_predictions, threshold))


def _round(crowd: Crowd, golden: pd.DataFrame, task_predictions: pd.DataFrame, threshold: float | None,
           accepted: pd.DataFrame, manual: pd.DataFrame, truth: pd.Series, model_votes: bool,
           golden_predictions: pd.DataFrame) -> dict[str, object]:
    """One round's figures on its tasks: the run under the crowd's rule beside all of them to a fixed overlap."""
    run = _final_labels(crowd.store, crowd.people, accepted, manual, golden, crowd.labels, crowd.overlap,
                        crowd.adaptive, golden_predictions if crowd.model_prior else None)
    all_crowd = _final_labels(crowd.store, crowd.people, accepted.iloc[:0], task_predictions, golden, crowd.labels,
                              crowd.overlap)
    figures: dict[str, object] = {
        "tasks": len(task_predictions), "threshold": None if threshold is None else round(threshold, 4),
        **({"stop_confidence": crowd.adaptive.stop_confidence} if crowd.adaptive else {}),
        "coverage": round(len(accepted) / len(task_predictions), 4),
        "accepted_accuracy": round(_accuracy(run.final[run.final.source == "model"], truth), 4) if len(accepted)
        else None,
        "final_accuracy": round(_accuracy(run.final, truth), 4), "human_answers": run.human_answers,
        "all_crowd_human_answers": all_crowd.human_answers,
        "human_share": round(run.human_answers / all_crowd.human_answers, 4),
        # What the crowd loop would store, so what round two retrains on: with the model's votes when they count.
        "final": _voted_final(accepted, manual, run.answers_on_tasks) if model_votes and len(manual) else run.final}
    if model_votes:
        figures["model_votes"] = _model_votes_section(accepted, manual, run.answers_on_tasks, truth,
                                                      all_crowd.human_answers)
    return figures


def _public(figures: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in figures.items() if key != "final"}


def _second_round(crowd: Crowd, golden: pd.DataFrame, round_one: pd.DataFrame, first: dict[str, object],
                  base: MiniLMSentimentModel, held_out: pd.DataFrame, target: float, accuracy_of: AccuracyOf,
                  truth: pd.Series, model_votes: bool) -> dict[str, object]:
    """Retrain on golden + round one's crowd labels, save it as a version, and run that version on `held_out`."""
    final = first["final"]
    assert isinstance(final, pd.DataFrame)
    crowd_labels = crowd_labelled(final).rename(columns={"item": "item_id"})
    model = base.untrained_copy()  # shares the embeddings already computed
    report = retrain_on_human_labels(round_one, golden, crowd_labels, target, model=model)
    training = pd.concat([golden[["item_id", "text", "label"]], crowd_labels[["item_id", "text", "label"]]])
    with tempfile.TemporaryDirectory() as folder:
        version = save_version(FolderRunData(Path(folder)), model, training, golden_accuracy=report.golden_accuracy_after,
                               autohelper_run_id=None, parent=str(round_one.model_version.iloc[0]))
        retrained = load_model(version, base=model)
        golden_predictions = predictions_frame(
            predict_with_version(version, list(golden.text), list(golden.item_id), retrained), golden, "golden")
    task_predictions = predictions_frame(retrained.predict(list(held_out.text), list(held_out.item_id)), held_out,
                                         "task")
    threshold, accepted, manual = _split(task_predictions, golden_predictions, target, accuracy_of)
    figures = _round(crowd, golden, task_predictions, threshold, accepted, manual, truth, model_votes,
                     golden_predictions)
    return {"model": {"trained_on": len(training), "crowd_labels": len(crowd_labels),
                      "golden_accuracy_out_of_fold": round(report.golden_accuracy_after, 4)}, **_public(figures)}


def _accuracy(final: pd.DataFrame, truth: pd.Series) -> float:
    """Share of items whose final label is their true label (an item left without a label counts as wrong)."""
    return float((final.label.astype(object) == final.item.map(truth)).mean()) if len(final) else float("nan")


def main() -> None:
    args = _arguments()
    frame = load_reviews(args.reviews) if args.reviews else shared_reviews()
    if frame is None or not CROWD.exists():
        print(json.dumps({"benchmark": "outcome", "skipped": "../shared/data is absent"}))
        return
    started = time.perf_counter()
    text_column = args.text_column or str(frame.columns[0])
    label_column = args.label_column or str(frame.columns[1])
    label_map = parse_label_map(args.label_map) if args.label_map else None
    prepared = prepare_dataset(frame, text_column, label_column, label_map, seed=args.seed)
    tasks, golden = prepared.tasks, prepared.golden
    if tasks.label.isna().any():
        raise SystemExit("Every task needs a true label to score the outcome against.")
    held_out = tasks.sample(frac=0.5, random_state=args.seed) if args.rounds == 2 else tasks.iloc[:0]
    tasks = tasks.drop(held_out.index)

    choice = fit_offline(list(golden.text), list(golden.label), list(golden.item_id), args.model_mode,
                         seed=args.seed)
    golden_predictions = predictions_frame(choice.golden_predictions, golden, "golden")
    task_predictions = predictions_frame(choice.model.predict(list(tasks.text), list(tasks.item_id)), tasks, "task")
    threshold, accepted, manual = _split(task_predictions, golden_predictions, args.target, args.accuracy_of)

    labels = sorted(set(golden.label))
    majority_label, majority_accuracy = majority_baseline(list(golden.label))
    crowd = SimulatedCrowd(n_workers=args.workers, seed=args.seed,
                           accuracies=tuple(real_worker_accuracies(*load_crowd(REAL_CROWD))))
    truth = pd.concat([tasks, held_out]).set_index("item_id").label
    rounds: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        store = AnswerStore(f"sqlite:///{Path(folder) / 'answers.db'}")
        run = _final_labels(store, crowd, accepted, manual, golden, labels, args.overlap)
        all_crowd = _final_labels(store, crowd, accepted.iloc[:0], task_predictions, golden, labels, args.overlap)
        model_votes = (_model_votes_section(accepted, manual, run.answers_on_tasks, truth, all_crowd.human_answers)
                       if args.model_votes else None)
        if args.adaptive:
            rule = AdaptiveOverlap(args.min_answers, args.max_answers, args.stop_confidence)
            adaptive = _final_labels(store, crowd, accepted, manual, golden, labels, args.overlap, rule,
                                     golden_predictions if args.model_prior else None)
        if args.rounds == 2:
            people = Crowd(store, crowd, labels, args.overlap, rule if args.adaptive else None,
                           args.adaptive and args.model_prior)
            later = people
            if args.adaptive and args.round2_stop_confidence is not None:
                later = replace(people, adaptive=replace(rule, stop_confidence=args.round2_stop_confidence))
            round_one = pd.concat([golden_predictions, task_predictions], ignore_index=True)
            first = _round(people, golden, task_predictions, threshold, accepted, manual, truth, args.model_votes,
                           golden_predictions)
            again = predictions_frame(choice.model.predict(list(held_out.text), list(held_out.item_id)), held_out,
                                      "task")
            cutoff = threshold if threshold is not None else float(np.nextafter(1.0, 2.0))
            rounds = {
                "rounds_split": "tasks in two seeded halves: round one on the first, round two on the second",
                "round1": _public(first),
                "round2": _second_round(later, golden, round_one, first, choice.model, held_out, args.target,
                                        args.accuracy_of, truth, args.model_votes),
                "round2_without_retraining": _public(_round(
                    later, golden, again, threshold, *split_at_threshold(again, cutoff), truth, args.model_votes,
                    golden_predictions)),
            }
    final, human_answers, all_crowd_answers = run.final, run.human_answers, all_crowd.human_answers
    final_accuracy = _accuracy(final, truth)
    sections = {}
    if args.adaptive:
        sections = {
            "fixed": {"overlap": args.overlap, "final_accuracy": round(final_accuracy, 4),
                      "human_answers": human_answers,
                      "human_share": round(human_answers / all_crowd_answers, 4)},
            "adaptive": {"min_answers": rule.min_answers, "max_answers": rule.max_answers,
                         "stop_confidence": rule.stop_confidence, "model_prior": args.model_prior,
                         "final_accuracy": round(_accuracy(adaptive.final, truth), 4),
                         "crowd_accuracy": round(_accuracy(adaptive.final[adaptive.final.source != "model"],
                                                           truth), 4) if len(manual) else None,
                         "human_answers": adaptive.human_answers,
                         "answers_per_item": round(adaptive.human_answers / len(manual), 3) if len(manual)
                         else None,
                         "golden_check_answers": adaptive.golden_checks,
                         "human_share": round(adaptive.human_answers / all_crowd_answers, 4),
                         **({"model_votes": _model_votes_section(accepted, manual, adaptive.answers_on_tasks, truth,
                                                                 all_crowd_answers)} if args.model_votes else {})},
        }
    print(json.dumps({
        "benchmark": "outcome",
        "dataset": args.reviews or "shared reviews (Yelp + IMDb)",
        "tasks": len(tasks), "golden": len(golden),
        "negative_share": round(float((truth == "neg").mean()), 4) if "neg" in labels else None,
        "model": {"mode": choice.mode, "reason": choice.reason,
                  "golden_accuracy": {mode: round(value, 4) for mode, value in choice.golden_accuracy.items()},
                  "majority_baseline": {"label": majority_label, "golden_accuracy": round(majority_accuracy, 4)}},
        "target_accuracy": args.target,
        "threshold": None if threshold is None else round(threshold, 4),
        "threshold_rule": f"lowest threshold whose 95% lower bound on the accuracy of the "
                          f"{ACCURACY_OF_LABELS[args.accuracy_of]} meets the target",
        "coverage": round(len(accepted) / len(tasks), 4),
        "accepted_accuracy": round(_accuracy(final[final.source == "model"], truth), 4) if len(accepted) else None,
        "crowd_accuracy": round(_accuracy(final[final.source != "model"], truth), 4) if len(manual) else None,
        "final_accuracy": round(final_accuracy, 4),
        "meets_target": final_accuracy >= args.target,
        "human_answers": human_answers,
        "golden_check_answers": run.golden_checks,
        "all_crowd_human_answers": all_crowd_answers,
        "all_crowd_golden_check_answers": all_crowd.golden_checks,
        "all_crowd_final_accuracy": round(_accuracy(all_crowd.final, truth), 4),
        "human_share": round(human_answers / all_crowd_answers, 4),
        "crowd": {"source": "D_PosSent per-worker accuracies, resampled", "workers": args.workers,
                  "mean_worker_accuracy": round(float(crowd.workers().accuracy.mean()), 4),
                  "overlap": args.overlap, "aggregation": "DawidSkene"},
        **({"model_votes": model_votes} if model_votes is not None else {}),
        **sections,
        **rounds,
        "seconds": round(time.perf_counter() - started, 1),
    }))


if __name__ == "__main__":
    main()
