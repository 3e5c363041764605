"""Retrain the offline autohelper on human labels and show what the next round would send to people."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact

from pipelines.catalog import RETRAIN_PROGRESS_ARTIFACT_KEY, RETRAIN_REPORT_ARTIFACT_KEY
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.retrain import RoundForecast, retrain_on_human_labels
from pipelines.core.settings import get_settings

REPORT = """\
### Retrained on {golden} golden + {crowd} {source} labels

Both models held to a golden accuracy of **{target:.1%}**.

| model | threshold | to people next round | accepted | golden accepted | golden accuracy | dataset accuracy |
| --- | --- | --- | --- | --- | --- | --- |
| before (the autohelper's predictions) | {before} |
| after (MiniLM refitted) | {after} |

The retrained model agrees with the aggregated {source} labels on {agreement:.1%} of them (scored out-of-fold).
"""


def _row(forecast: RoundForecast) -> str:
    if forecast.threshold is None:
        return f"none reaches it | {forecast.to_crowd} | 0 | 0 | n/a | n/a"
    dataset = "n/a" if forecast.dataset_accuracy is None else f"{forecast.dataset_accuracy:.1%}"
    return (f"{forecast.threshold:.3f} | {forecast.to_crowd} | {forecast.accepted} | {forecast.golden_accepted} | "
            f"{forecast.golden_accuracy:.1%} | {dataset}")


@flow(name="retrain-autohelper", persist_result=True)
def retrain_autohelper(autohelper_run_id: str, target_accuracy: float) -> dict[str, Any]:
    """Refit the offline model on golden + the crowd's aggregated labels of an autohelper run's final table, and
    forecast the next round before and after at `target_accuracy` on golden items."""
    store = AutohelperStore.for_run(get_settings().data_dir, autohelper_run_id)
    predictions, golden, final = store.read("predictions"), store.read("golden"), store.read("final")
    if predictions is None or golden is None or final is None:
        raise ValueError(f"Autohelper run {autohelper_run_id} has no final table yet: run the crowd loop first.")
    crowd_labels = final[final.source != "model"].rename(columns={"item": "item_id"})
    progress_id = create_progress_artifact(0.0, key=RETRAIN_PROGRESS_ARTIFACT_KEY, description="Embedding reviews")
    report = retrain_on_human_labels(
        predictions, golden, crowd_labels, target_accuracy,
        progress=lambda done, total: update_progress_artifact(progress_id, progress=100 * done / max(total, 1)))
    update_progress_artifact(progress_id, progress=100.0, description="Retrained")
    store.write("retrained", report.predictions)
    get_run_logger().info("Next round to people: %d before, %d after retraining on %d labels.",
                          report.before.to_crowd, report.after.to_crowd, report.golden + report.crowd_labels)
    create_markdown_artifact(key=RETRAIN_REPORT_ARTIFACT_KEY, markdown=REPORT.format(
        golden=report.golden, crowd=report.crowd_labels, source=" and ".join(sorted(set(crowd_labels.source))),
        target=report.target_accuracy,
        before=_row(report.before), after=_row(report.after), agreement=report.crowd_agreement),
        description="Autohelper retrained on human labels")
    return {**report.summary(), "autohelper_run_id": autohelper_run_id}
