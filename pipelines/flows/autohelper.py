"""Sentiment autohelper ("ML assisted pipeline" in seed 003): predict, ask for a threshold, split the work."""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact
from prefect.runtime import flow_run

from pipelines.catalog import AUTOHELPER_PROGRESS_ARTIFACT_KEY, AUTOHELPER_SUMMARY_ARTIFACT_KEY
from pipelines.core.autohelper import (
    OFFLINE_MODEL_NAME,
    Device,
    HFSentimentModel,
    MiniLMSentimentModel,
    OfflineMode,
    Precision,
    Progress,
    baseline_warning,
    check_compute,
    fit_offline,
    majority_baseline,
)
from pipelines.core.autohelper_store import AutohelperStore, predictions_frame
from pipelines.core.markdown import escape_markdown
from pipelines.core.model_versions import is_version_id, load_model, load_version, predict_with_version
from pipelines.core.review_files import load_reviews
from pipelines.core.review_sample import sample_reviews
from pipelines.core.reviews import (
    DEFAULT_LABEL_COLUMN,
    DEFAULT_TEXT_COLUMN,
    GoldenDraw,
    PreparedDataset,
    check_dataset_location,
    prepare_dataset,
)
from pipelines.core.run_data import is_upload, load_upload, run_data_store
from pipelines.core.settings import get_settings
from pipelines.core.threshold import (
    DEFAULT_OVERLAP,
    DEFAULT_REWARD_PER_ANSWER,
    CrowdCost,
    ThresholdCurve,
    seed_threshold,
    split_at_threshold,
)
from pipelines.flows.common import ask, publish_result, published_progress, table_preview
from pipelines.flows.scale_out import stream_predictions
from pipelines.inputs import ThresholdInput, with_defaults

SAMPLE_DATASET = "sample"
THRESHOLD_DESCRIPTION = """\
### Which confidence should the model's labels need to be accepted?

{summary}

The seed rule (90th percentile of confidence on golden items the model got wrong) gives **{seed:.3f}**.
{golden} golden items, {mistakes} of them wrong; {tasks} task items.

| threshold | accepted | manual | golden accuracy of accepted (95% interval) | crowd cost |
| --- | --- | --- | --- | --- |
{rows}
"""


@task
def prepare(dataset: str, text_column: str, label_column: str, label_map: dict[str, str] | None, n_tasks: int | None,
            n_golden: int | None, seed: int, delimiter: str | None = None, header: bool = True,
            golden_draw: GoldenDraw = "stratified") -> PreparedDataset:
    """Load the reviews (the sample, an upload in the run data, a path or a URL) and split them into tasks and
    golden items."""
    if dataset == SAMPLE_DATASET:
        frame = sample_reviews()
    elif is_upload(dataset):
        frame = load_reviews(load_upload(run_data_store(), dataset), delimiter=delimiter, header=header)
    else:
        check_dataset_location(dataset, get_settings().allowed_dataset_folders)
        frame = load_reviews(dataset, delimiter=delimiter, header=header)
    return prepare_dataset(frame, text_column, label_column, label_map, n_tasks=n_tasks, n_golden=n_golden, seed=seed,
                           golden_draw=golden_draw)


@task
def predict(prepared: PreparedDataset, run_id: str, model_name: str, model_mode: OfflineMode = "auto", seed: int = 0,
            precision: Precision = "fp32", device: Device = "cpu") -> tuple[str | None, str]:
    """Label golden and task items with a confidence into the run's `predictions` table, reporting progress to a
    Prefect progress artifact.

    Task items are labelled and stored a chunk at a time (on Dask in batches when a cluster is configured), so
    memory does not grow with their number. Returns the offline mode used (None for a Hugging Face model) and why.
    """
    progress_id = create_progress_artifact(0.0, key=AUTOHELPER_PROGRESS_ARTIFACT_KEY, description="Predicting")
    total = len(prepared.golden) + len(prepared.tasks)
    golden, tasks = prepared.golden, prepared.tasks
    model: HFSentimentModel | MiniLMSentimentModel
    with published_progress(progress_id) as progress:

        def report(offset: int) -> Progress:
            return lambda done, _: progress(100 * (offset + done) / total)

        if model_name == OFFLINE_MODEL_NAME:
            # Golden confidences never come from a head that saw those items (few-shot scores them out-of-fold),
            # so the threshold is calibrated honestly whichever mode wins.
            choice = fit_offline(list(golden.text), list(golden.label), list(golden.item_id), model_mode, seed=seed,
                                 progress=report(0), precision=precision, device=device)
            model, golden_predictions, mode, reason = (choice.model, choice.golden_predictions, choice.mode,
                                                       choice.reason)
        elif is_version_id(model_name):
            version = load_version(run_data_store(), model_name)
            model = load_model(version, MiniLMSentimentModel(precision=precision, device=device))
            # Golden items the version learnt from keep its out-of-fold predictions: an honest threshold, no refit.
            golden_predictions = predict_with_version(version, list(golden.text), list(golden.item_id), model,
                                                      report(0))
            mode, reason = "saved version", (f"{version.describe()}, used as it is; golden items it learnt from are "
                                             "scored out-of-fold.")
        else:
            model = HFSentimentModel(model_name, precision=precision, device=device)
            golden_predictions = model.predict(list(golden.text), list(golden.item_id), report(0))
            mode, reason = None, "used as it is, never trained on the golden items, so its golden accuracy is honest."
            if model_mode != "auto":
                reason += f" The mode {model_mode!r} applies to the offline model only."
        task_chunks = stream_predictions(model, list(tasks.text), list(tasks.item_id), get_settings(),
                                         report(len(golden)))
        AutohelperStore.for_run(run_data_store(), run_id).write_chunks("predictions", chain(
            [predictions_frame(golden_predictions, golden, "golden")],
            (predictions_frame(chunk, tasks, "task") for chunk in task_chunks)))
        progress(100.0)
    return mode, reason


def model_summary(model: str, mode: str | None, reason: str, golden_accuracy: float, baseline: tuple[str, float]
                  ) -> str:
    """Which model and mode labelled the items, why, and its golden accuracy beside the majority baseline."""
    name = model.replace("`", "'")  # a typed model path is shown as code, never as markdown
    warning = baseline_warning(golden_accuracy, baseline)
    return (f"Model `{name}`{f' ({mode})' if mode else ''}: {reason} Golden accuracy at full coverage "
            f"**{golden_accuracy:.1%}**; always answering "
            f"{escape_markdown(repr(baseline[0]))} would score {baseline[1]:.1%}."
            + (f"\n\n**Warning:** {escape_markdown(warning)}" if warning else ""))


def threshold_description(curve: ThresholdCurve, seed: float, golden: pd.DataFrame, summary: str) -> str:
    rows = []
    for threshold in sorted({0.5, 0.7, 0.8, 0.9, 0.95, 0.99, round(seed, 3)}):
        p = curve.at(threshold)
        rows.append(f"| {threshold:.3f} | {p.accepted} | {p.manual} | {p.accuracy_text()} | {p.crowd_cost:.2f} |")
    return THRESHOLD_DESCRIPTION.format(summary=summary, seed=seed, golden=len(golden),
                                        mistakes=int((~golden.correct).sum()), tasks=curve.n_tasks,
                                        rows="\n".join(rows))


def dataset_warnings(warnings: list[str]) -> str:
    """The split's warnings as a Markdown list for the pause description; label values in them are escaped."""
    if not warnings:
        return ""
    return "\n**About the data**\n\n" + "".join(f"- {escape_markdown(warning)}\n" for warning in warnings)


@flow(name="sentiment-autohelper", persist_result=True)
def sentiment_autohelper(
    dataset: str = SAMPLE_DATASET,
    delimiter: str | None = None,
    header: bool = True,
    text_column: str = DEFAULT_TEXT_COLUMN,
    label_column: str = DEFAULT_LABEL_COLUMN,
    label_map: dict[str, str] | None = None,
    n_tasks: int | None = None,
    n_golden: int | None = None,
    golden_draw: GoldenDraw = "stratified",
    model: str = OFFLINE_MODEL_NAME,
    model_mode: OfflineMode = "auto",
    seed: int = 0,
    overlap: int = DEFAULT_OVERLAP,
    reward_per_answer: float = DEFAULT_REWARD_PER_ANSWER,
    precision: Precision = "fp32",
    device: Device = "cpu",
) -> dict[str, Any]:
    """Prepare the dataset, predict, pause for the threshold, then split accepted from manual items.

    `model` is the offline model's name, a saved version's id (its head predicts, no refit) or a Hugging Face id
    or path. `model_mode` (auto, zero-shot or few-shot) applies to the offline model; auto picks the mode with the
    better out-of-fold golden accuracy. The model runs in `precision` (fp32 or bf16) on `device` (cpu or cuda);
    one this machine cannot run is refused before any work.
    """
    check_compute(precision, device)
    logger = get_run_logger()
    run_id = str(flow_run.get_id())
    store = AutohelperStore.for_run(run_data_store(), run_id)
    prepared = prepare(dataset, text_column, label_column, label_map, n_tasks, n_golden, seed, delimiter=delimiter,
                       header=header, golden_draw=golden_draw)
    for warning in prepared.warnings:
        logger.warning("Dataset: %s", warning)
    store.write("tasks", prepared.tasks)
    store.write("golden", prepared.golden)
    mode, mode_reason = predict(prepared, run_id, model, model_mode, seed, precision, device)
    predictions = store.read("predictions")
    golden = predictions[predictions.split == "golden"]
    task_rows = predictions[predictions.split == "task"]
    curve = ThresholdCurve.from_predictions(predictions, CrowdCost(overlap, reward_per_answer))
    seed_value = seed_threshold(golden.confidence.to_numpy(), golden.correct.to_numpy())
    golden_accuracy = float(golden.correct.mean())
    baseline = majority_baseline(list(golden.true_label))
    summary = model_summary(model, mode, mode_reason, golden_accuracy, baseline)
    logger.info("Predicted %d items with %s%s: %s", len(predictions), model, f" ({mode})" if mode else "",
                mode_reason)
    logger.info("Golden accuracy %.1f%% against %.1f%% for always answering %r; seed-rule threshold %.3f.",
                100 * golden_accuracy, 100 * baseline[1], baseline[0], seed_value)
    if warning := baseline_warning(golden_accuracy, baseline):
        logger.warning(warning)
    # Three decimals, as the page's slider shows it, so the value offered is the value confirmed.
    description = threshold_description(curve, seed_value, golden, summary) + dataset_warnings(prepared.warnings)
    answer, decision = ask(with_defaults(ThresholdInput, description=description, threshold=round(seed_value, 3)),
                           "threshold", long_wait=True)
    accepted, manual = split_at_threshold(task_rows, answer.threshold)
    accepted_path = store.write("accepted", accepted)
    store.write("manual", manual)
    point = curve.at(answer.threshold)
    rows, preview_note = table_preview(accepted[["item_id", "text", "label", "confidence", "model_version"]],
                                       accepted_path)
    create_table_artifact(key=AUTOHELPER_SUMMARY_ARTIFACT_KEY, table=rows, description="\n\n".join(filter(None, [
        f"{len(accepted)} accepted from the model at threshold {answer.threshold:.3f}. {summary}", preview_note])))
    create_markdown_artifact(markdown=(
        f"Threshold **{answer.threshold:.3f}** (seed rule {seed_value:.3f}), chosen by {decision.resumed_by}: "
        f"{len(accepted)} accepted, {len(manual)} to people; golden accuracy of accepted {point.accuracy_text()}; "
        f"crowd cost {point.crowd_cost:.2f}, saving {point.saving:.2f}.\n\n{summary}"
    ), description="Autohelper split")
    return publish_result({
        "threshold": answer.threshold, "seed_threshold": seed_value, "accepted": len(accepted),
        "manual": len(manual), "store": store.run_data.location(store.prefix),
        "task_accuracy_of_accepted": float(np.mean(accepted.correct)) if len(accepted) else None,
        "model_mode": mode, "mode_reason": mode_reason, "golden_accuracy": golden_accuracy,
        "majority_baseline": {"label": baseline[0], "accuracy": baseline[1]}})
