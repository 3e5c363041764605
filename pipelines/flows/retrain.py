"""Retrain the offline autohelper on human labels and show what the next round would send to people."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from pipelines.catalog import RETRAIN_PROGRESS_ARTIFACT_KEY, RETRAIN_REPORT_ARTIFACT_KEY
from pipelines.core.aggregation import golden_agreement
from pipelines.core.answer_store import AnswerStore
from pipelines.core.autohelper import MiniLMSentimentModel
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.crowd import crowd_labelled
from pipelines.core.model_versions import ModelVersion, save_version
from pipelines.core.retrain import RetrainReport, RoundForecast, retrain_on_human_labels
from pipelines.core.run_data import run_data_store
from pipelines.core.settings import get_settings
from pipelines.core.threshold import ACCURACY_OF_LABELS, AccuracyOf
from pipelines.flows.common import publish_result, published_progress

REPORT = """\
### Retrained on {golden} golden + {crowd} {source} labels

Both models held to an accuracy of **{target:.1%}** on the {accuracy_of}.

| model | threshold | to people next round | accepted | golden accepted | golden accuracy | dataset accuracy |
| --- | --- | --- | --- | --- | --- | --- |
| before (the autohelper's predictions) | {before} |
| after (MiniLM refitted) | {after} |

On every golden item (scored out-of-fold) the model is right {golden_before:.1%} of the time before and \
{golden_after:.1%} after.
The retrained model agrees with the aggregated {source} labels on {agreement:.1%} of them (scored out-of-fold).
{warnings}"""


def _row(forecast: RoundForecast) -> str:
    if forecast.threshold is None:
        return f"none reaches it | {forecast.to_crowd} | 0 | 0 | n/a | n/a"
    dataset = "n/a" if forecast.dataset_accuracy is None else f"{forecast.dataset_accuracy:.1%}"
    return (f"{forecast.threshold:.3f} | {forecast.to_crowd} | {forecast.accepted} | {forecast.golden_accepted} | "
            f"{forecast.golden_accuracy:.1%} | {dataset}")


def _warnings(warnings: list[str]) -> str:
    if not warnings:
        return ""
    return "\n**Warnings**\n\n" + "\n".join(f"- {warning}" for warning in warnings) + "\n"


@dataclass(frozen=True)
class TrainingData:
    """What a retrain learns from: an autohelper run's predictions and golden items, the crowd's aggregated labels
    of its final table and, with the crowd's batch, how the crowd did on golden items."""

    predictions: pd.DataFrame
    golden: pd.DataFrame
    crowd_labels: pd.DataFrame
    crowd_golden: tuple[int, int] | None  # (right, of) answers on golden items

    @property
    def sources(self) -> str:
        """Who gave the crowd labels, for the report ("local", "simulated and toloka")."""
        return " and ".join(sorted(set(self.crowd_labels.source)))


# The tasks hand frames and a fitted model to each other in memory: nothing is worth caching or persisting (the
# flow keeps its report, predictions and model version itself), and a model is no cache key.
@task(cache_policy=NO_CACHE, persist_result=False)
def load_training_data(autohelper_run_id: str, batch_id: int | None, database_url: str | None) -> TrainingData:
    """Read the autohelper run's tables and, with a batch, the crowd's golden agreement from the answer store."""
    store = AutohelperStore.for_run(run_data_store(), autohelper_run_id)
    predictions, golden, final = store.read("predictions"), store.read("golden"), store.read("final")
    if predictions is None or golden is None or final is None:
        raise ValueError(f"Autohelper run {autohelper_run_id} has no final table yet: run the crowd loop first.")
    crowd_golden = None
    if batch_id is not None:
        answers_store = AnswerStore(database_url or get_settings().answer_store_url)
        crowd_golden = golden_agreement(answers_store.answers(batch_id), answers_store.golden_labels(batch_id))
    crowd_labels = crowd_labelled(final).rename(columns={"item": "item_id"})  # never the unlabelled items
    return TrainingData(predictions, golden, crowd_labels, crowd_golden)


@task(cache_policy=NO_CACHE, persist_result=False)
def fit_and_forecast(data: TrainingData, target_accuracy: float, round_one_threshold: float | None,
                     accuracy_of: AccuracyOf) -> tuple[MiniLMSentimentModel, RetrainReport]:
    """Refit MiniLM on golden + crowd labels and forecast the next round before and after, with a progress bar."""
    progress_id = create_progress_artifact(0.0, key=RETRAIN_PROGRESS_ARTIFACT_KEY, description="Embedding reviews")
    model = MiniLMSentimentModel()
    with published_progress(progress_id) as progress:
        report = retrain_on_human_labels(
            data.predictions, data.golden, data.crowd_labels, target_accuracy, model=model,
            progress=lambda done, total: progress(100 * done / max(total, 1)), crowd_golden=data.crowd_golden,
            sent_threshold=round_one_threshold, accuracy_of=accuracy_of)
    update_progress_artifact(progress_id, progress=100.0, description="Retrained")
    return model, report


@task(cache_policy=NO_CACHE, persist_result=False)
def save_retrained(autohelper_run_id: str, data: TrainingData, model: MiniLMSentimentModel,
                   report: RetrainReport) -> ModelVersion:
    """Keep the retrained predictions with the autohelper run and save the model as a new version."""
    run_data = run_data_store()
    AutohelperStore.for_run(run_data, autohelper_run_id).write("retrained", report.predictions)
    training = pd.concat([data.golden[["item_id", "text", "label"]], data.crowd_labels[["item_id", "text", "label"]]],
                         ignore_index=True)
    version = save_version(
        run_data, model, training, golden_accuracy=report.golden_accuracy_after, autohelper_run_id=autohelper_run_id,
        parent=str(data.predictions.model_version.iloc[0]) if len(data.predictions) else None,
        name=f"retrained on {report.golden} golden + {report.crowd_labels} crowd labels")
    get_run_logger().info("Saved the retrained model as version %s.", version.version_id)
    return version


@task(cache_policy=NO_CACHE, persist_result=False)
def publish_report(report: RetrainReport, version: ModelVersion, sources: str) -> None:
    """Log the forecast and its warnings and publish the report artifact the retrain panel shows."""
    logger = get_run_logger()
    logger.info("Next round to people: %d before, %d after retraining on %d labels.",
                report.before.to_crowd, report.after.to_crowd, report.golden + report.crowd_labels)
    for warning in report.warnings:
        logger.warning(warning)
    create_markdown_artifact(key=RETRAIN_REPORT_ARTIFACT_KEY, markdown=REPORT.format(
        golden=report.golden, crowd=report.crowd_labels, source=sources, target=report.target_accuracy,
        accuracy_of=ACCURACY_OF_LABELS[report.accuracy_of], before=_row(report.before), after=_row(report.after),
        agreement=report.crowd_agreement,
        golden_before=report.golden_accuracy_before, golden_after=report.golden_accuracy_after,
        warnings=_warnings(report.warnings)) + f"\nSaved as model version `{version.version_id}`.\n",
        description="Autohelper retrained on human labels")


@flow(name="retrain-autohelper", persist_result=True)
def retrain_autohelper(autohelper_run_id: str, target_accuracy: float, batch_id: int | None = None,
                       database_url: str | None = None, round_one_threshold: float | None = None,
                       accuracy_of: AccuracyOf = "calibrated") -> dict[str, Any]:
    """Refit the offline model on golden + the crowd's aggregated labels of an autohelper run's final table, and
    forecast the next round before and after at `target_accuracy` on golden items. With the crowd's `batch_id`
    (in the answer store at `database_url`), the report also says whether the crowd's golden answers beat chance.
    With `round_one_threshold` (the threshold the autohelper run confirmed), "before" is what that round sent.
    `accuracy_of` is the accuracy held to the target: `calibrated` (the task items accepted, expected from
    golden-calibrated confidences; the default, as it rests on every golden item) or `golden` (the golden items
    accepted).

    The retrained model is saved as a model version; its id is the result's `model_version`, usable as the
    autohelper's `model`."""
    data = load_training_data(autohelper_run_id, batch_id, database_url)
    model, report = fit_and_forecast(data, target_accuracy, round_one_threshold, accuracy_of)
    version = save_retrained(autohelper_run_id, data, model, report)
    publish_report(report, version, data.sources)
    return publish_result({**report.summary(), "autohelper_run_id": autohelper_run_id,
                           "model_version": version.version_id, "model_version_name": version.name})
