"""The crowd loop (seed 003's crowd half): people label what the model was unsure of; answers are aggregated.

The run does not poll the crowd: it pauses until the analyst, or the labelling page once the batch's last answer
is in, resumes it, so Prefect never sees a long-running loop that looks like a zombie. The batch names this run
as its owner; the labelling page keeps the run's progress artifact current as answers arrive.
"""

from __future__ import annotations

from dataclasses import asdict
from itertools import count
from typing import Any
from uuid import UUID

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.blocks.system import Secret
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.cache_policies import RUN_ID, TASK_SOURCE, Inputs
from prefect.runtime import flow_run

from pipelines.catalog import CROWD_PROGRESS_ARTIFACT_KEY, FINAL_TABLE_ARTIFACT_KEY
from pipelines.core.adaptive import AdaptiveOverlap
from pipelines.core.aggregation import AggregationMethod, batch_warnings
from pipelines.core.agreement import Agreement, batch_agreement
from pipelines.core.answer_store import AnswerStore, BatchProgress
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.crowd import (
    NO_SOURCE,
    CrowdBatch,
    CrowdBackend,
    CrowdKind,
    LocalCrowd,
    SimulatedCrowdBackend,
    crowd_labelled,
    final_table_from_answers,
)
from pipelines.core.markdown import escape_markdown
from pipelines.core.model_votes import with_model_priors
from pipelines.core.run_data import run_data_store
from pipelines.core.settings import get_settings
from pipelines.core.simulated_crowd import SimulatedCrowd
from pipelines.core.threshold import DEFAULT_OVERLAP
from pipelines.core.toloka import TolokaConfig, TolokaCrowd
from pipelines.flows.common import ask, publish_result, table_preview
from pipelines.inputs import CrowdCollectInput, with_defaults

WHERE_PEOPLE_LABEL = {
    "local": "Annotators label on the **Crowd labelling** page.",
    "simulated": "Simulated workers answered at once.",
    "toloka": "Tolokers label in a Toloka pool; the **Crowd results** page fetches their answers.",
}
COLLECT_DESCRIPTION = """\
### Collect the crowd's answers?

Batch {batch_id}: {needed} on {tasks} items ({per_item}), {golden} golden items mixed in.
{where} The run resumes by itself when the last answer is in; resume earlier to close the batch with the
answers given so far.
"""


def _backend(crowd: CrowdKind, store: AnswerStore, simulated_crowd: SimulatedCrowd) -> CrowdBackend:
    if crowd == "simulated":
        return SimulatedCrowdBackend(store, simulated_crowd)
    if crowd == "toloka":
        return TolokaCrowd(store, TolokaConfig.from_settings(get_settings(), stored_toloka_key()))
    return LocalCrowd(store)


def stored_toloka_key() -> str | None:
    """The Toloka API key from its Secret block, or None when there is no such block."""
    try:
        return str(Secret.load(get_settings().toloka_secret_block).get())
    except ValueError:
        return None


def _per_item(batch: CrowdBatch) -> str:
    rule = batch.adaptive
    if rule is None:
        return f"{batch.overlap} per item"
    return (f"{rule.min_answers} to {rule.max_answers} per item: more than {rule.min_answers} only while an item's "
            f"answers leave its leading label below {rule.stop_confidence:.0%} confidence")


def _percent(progress: BatchProgress) -> float:
    return 100 * progress.share


# Once per run: a run suspended for its batch executes again from the top after the resume and must reuse its batch
# and progress artifact, not post the items to the crowd a second time.
@task(cache_policy=RUN_ID + TASK_SOURCE)
def open_batch(backend: CrowdBackend, batch: CrowdBatch, crowd_name: str) -> tuple[int, UUID]:
    """Submit the batch to the crowd and create the run's progress artifact; the batch id and the artifact's id."""
    batch_id = backend.submit(batch)
    progress = backend.progress(batch_id)
    progress_id = create_progress_artifact(_percent(progress), key=CROWD_PROGRESS_ARTIFACT_KEY,
                                           description=f"{crowd_name} batch {batch_id}: {progress.describe()}")
    return batch_id, progress_id


# Recorded per check: a run executed again after a suspend takes the path it took before, up to the pause it was
# resumed from, even though more answers have come in since.
@task(cache_policy=RUN_ID + TASK_SOURCE + Inputs(exclude=["backend"]))
def batch_complete(backend: CrowdBackend, batch_id: int, check: int) -> bool:
    """Whether the batch has every answer it needs, at the run's `check`-th look."""
    return backend.progress(batch_id).complete


@flow(name="crowd-loop", persist_result=True)
def crowd_loop(
    autohelper_run_id: str,
    crowd: CrowdKind = "local",
    method: AggregationMethod = "DawidSkene",
    overlap: int = DEFAULT_OVERLAP,
    n_simulated_workers: int = 10,
    spammer_share: float = 0.2,
    seed: int = 0,
    database_url: str | None = None,
    model_votes: bool = False,
    adaptive: bool = False,
    min_answers: int = 2,
    max_answers: int = 5,
    stop_confidence: float = 0.95,
    model_prior: bool = False,
) -> dict[str, Any]:
    """Send an autohelper run's manual items to a crowd, wait, aggregate, and publish the final table.

    `adaptive`: each item gets `min_answers`, more only while its answers leave it uncertain (leading label's
    posterior below `stop_confidence`), at most `max_answers`, instead of `overlap` each. Toloka keeps the fixed
    `overlap` (the run says so in its log).

    With `model_votes`, the model's label on each manual item joins people's answers as one more worker whose
    skill is learnt like theirs (`pipelines.core.model_votes`); it never counts as a person's answer.
    With `model_prior` (adaptive only), each item starts from the model's label, its confidence calibrated on the
    golden items, so people agreeing with a likely label settle it with fewer answers.
    """
    logger = get_run_logger()
    if adaptive and crowd == "toloka":
        logger.warning("Toloka keeps a fixed overlap: this batch gets %d answers per item, not adaptive overlap.",
                       overlap)
        adaptive = False
    # Built first so a rule that cannot work fails the run before anything is stored.
    rule = AdaptiveOverlap(min_answers, max_answers, stop_confidence) if adaptive else None
    source = AutohelperStore.for_run(run_data_store(), autohelper_run_id)
    accepted = source.read("accepted")
    batch = _batch_from_split(source, autohelper_run_id, overlap, rule, model_prior)
    store = AnswerStore(database_url or get_settings().answer_store_url)
    simulated = crowd == "simulated"
    backend = _backend(crowd, store, SimulatedCrowd(n_workers=n_simulated_workers, spammer_share=spammer_share,
                                                    seed=seed))
    crowd_name = "Simulated crowd" if simulated else "Crowd"
    batch_id, progress_id = open_batch(backend, batch, crowd_name)
    _collect_until_complete(backend, batch, batch_id, crowd)
    closed = backend.close(batch_id)
    if closed.fetched:
        logger.info("Crowd batch %d: %d answers fetched from the %s crowd on closing.", batch_id, closed.fetched,
                    backend.kind)
    for reason in closed.refused[:20]:
        logger.warning("A %s answer was not stored: %s", backend.kind, reason)
    progress = store.progress(batch_id)  # the store, not the backend: nothing more to fetch once closed
    update_progress_artifact(progress_id, _percent(progress), description=f"{crowd_name} batch {batch_id} closed: "
                             f"{progress.describe()}")
    answers = backend.answers(batch_id)
    table, _ = final_table_from_answers(accepted, batch.tasks, answers, method, simulated, model_votes=model_votes)
    warnings = batch_warnings(table.label[table.source != "model"], answers, store.golden_labels(batch_id),
                              batch.labels, method=method)
    for warning in warnings:
        logger.warning("Crowd batch %d: %s", batch_id, warning)
    agreement = batch_agreement(answers) if len(answers) else None
    final_location = _publish_final(source, table, method, simulated, warnings, agreement, model_votes, batch_id)
    return publish_result({
        "batch_id": batch_id, "answers": len(answers), "items": len(table), "final": final_location,
        "autohelper_run_id": autohelper_run_id, "labels": batch.labels,
        "unlabelled": int((table.source == NO_SOURCE).sum()), "warnings": warnings,
        "model_votes": model_votes, "model_influenced": int(table.model_influenced.sum()),
        "alpha": None if agreement is None or pd.isna(agreement.alpha) else agreement.alpha})


def _batch_from_split(source: AutohelperStore, autohelper_run_id: str, overlap: int, rule: AdaptiveOverlap | None,
                      model_prior: bool) -> CrowdBatch:
    """The crowd batch for an autohelper run's manual items, with its golden items mixed in."""
    manual, accepted, golden = source.read("manual"), source.read("accepted"), source.read("golden")
    if manual is None or accepted is None or golden is None:
        raise ValueError(f"Autohelper run {autohelper_run_id} has no split yet: confirm its threshold first.")
    tasks = manual.rename(columns={"item_id": "task", "label": "model_label"})[["task", "text", "model_label",
                                                                                "model_version", "true_label",
                                                                                "confidence"]]
    labels = sorted(golden.label.unique())
    model_prior = model_prior and rule is not None
    if model_prior:
        predictions = source.read("predictions")
        tasks = with_model_priors(tasks, predictions[predictions.split == "golden"], labels)
        get_run_logger().info(
            "Each item starts from the model's label, its confidence calibrated on %d golden items: median %.2f.",
            int((predictions.split == "golden").sum()),
            float(tasks.model_confidence.median()) if len(tasks) else float("nan"))
    return CrowdBatch(tasks, golden.rename(columns={"item_id": "task"}), labels, overlap,
                      owner=str(flow_run.get_id()), model_prior=model_prior, **(asdict(rule) if rule else {}))


def _collect_until_complete(backend: CrowdBackend, batch: CrowdBatch, batch_id: int, crowd: CrowdKind) -> None:
    """Wait until the batch is complete or the analyst says to collect it now; keeping on waiting asks again."""
    logger = get_run_logger()
    progress = backend.progress(batch_id)
    logger.info("Crowd batch %d (%s): %d items, %s (%s).", batch_id, crowd, len(batch.tasks), progress.describe(),
                _per_item(batch))
    needed = f"about {progress.needed} answers expected" if progress.adaptive else f"{progress.needed} answers needed"
    question = with_defaults(CrowdCollectInput, collect_now=True, description=COLLECT_DESCRIPTION.format(
        batch_id=batch_id, needed=needed, tasks=len(batch.tasks), per_item=_per_item(batch),
        golden=len(batch.golden), where=WHERE_PEOPLE_LABEL[crowd]))
    checks = count()
    collect = batch_complete(backend, batch_id, next(checks))
    while not collect:
        # Each pause gets the next of the run's pause keys, so asking again is a new pause with a new form.
        collect = (ask(question, "collect crowd answers", long_wait=True)[0].collect_now
                   or batch_complete(backend, batch_id, next(checks)))
        if not collect:
            logger.info("Crowd batch %d: the analyst chose to keep waiting; the batch stays open and the same "
                        "question is asked again.", batch_id)


def _publish_final(source: AutohelperStore, table: pd.DataFrame, method: AggregationMethod, simulated: bool,
                   warnings: list[str], agreement: Agreement | None, model_votes: bool, batch_id: int) -> str:
    """Store the final table (and its spreadsheet-safe CSV) and publish its artifact; where the table lives."""
    if model_votes:
        get_run_logger().info("Crowd batch %d: the model's vote changed %d of %d crowd labels.", batch_id,
                              int(table.model_influenced.sum()), len(crowd_labelled(table)))
    final_location = source.write("final", table)
    csv_location = source.export_csv("final", table)
    rows, preview_note = table_preview(table, final_location, csv_location)
    create_table_artifact(key=FINAL_TABLE_ARTIFACT_KEY, table=rows, description="\n\n".join(filter(None, [
        _final_description(table, method, simulated, warnings, agreement, model_votes), preview_note])))
    return final_location


def _final_description(table: pd.DataFrame, method: AggregationMethod, simulated: bool, warnings: list[str],
                       agreement: Agreement | None, model_votes: bool) -> str:
    counts = (f"{len(table)} items: {int((table.source == 'model').sum())} from the model, "
              f"{len(crowd_labelled(table))} from the {'simulated ' if simulated else ''}crowd ({method}), "
              f"{int((table.source == NO_SOURCE).sum())} unlabelled (the batch closed before anyone answered them).")
    parts = [counts]
    if model_votes:
        parts.append(f"The model voted as one more worker on the items people answered: its vote changed "
                     f"{int(table.model_influenced.sum())} labels (column `model_influenced`).")
    if agreement is not None:
        parts.append(f"Agreement (Krippendorff's alpha, people only): {agreement.reading}")
    # Warnings quote label values from the data: escaped so a label never renders as a link, image or tag.
    return "\n\n".join([*parts, *(f"**Warning:** {escape_markdown(warning)}" for warning in warnings)])
