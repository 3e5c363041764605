"""Prediction batches mapped as Prefect tasks on Dask: an existing scheduler, or a LocalCluster for each run.

Configured by `HITL_DASK_SCHEDULER` or `HITL_DASK_WORKERS`; with neither, the model predicts in the run's own
process (laptop mode). A model is sent to the workers without its weights: each worker process loads them once,
into `pipelines.core.autohelper`'s cache, whatever the number of batches it is given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from pipelines.core.autohelper import (
    PREDICTION_CHUNK,
    HFSentimentModel,
    MiniLMSentimentModel,
    Prediction,
    Progress,
    predict_chunks,
)
from pipelines.core.settings import Settings

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner

SentimentModel = HFSentimentModel | MiniLMSentimentModel


def dask_task_runner(settings: Settings) -> DaskTaskRunner | None:
    """The task runner prediction batches are mapped on, or None to predict in this process.

    A LocalCluster's workers are single-threaded for Dask and share this machine's cores for torch, so two
    workers do not fight over the same cores.
    """
    if not (settings.dask_scheduler or settings.dask_workers):
        return None
    from prefect_dask import DaskTaskRunner  # laptop mode never imports Dask

    if settings.dask_scheduler:
        return DaskTaskRunner(address=settings.dask_scheduler)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = str(max(1, cores // settings.dask_workers))
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": settings.dask_workers, "threads_per_worker": 1, "processes": True,
        "dashboard_address": ":0", "env": {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}})


@task(cache_policy=NO_CACHE, persist_result=False)
def predict_batch(model: SentimentModel, texts: list[str], item_ids: list[str]) -> list[Prediction]:
    """Label one batch of texts."""
    # Not persisted: a Dask worker's result storage may be a disk the run's own process cannot read. Embeddings
    # are not remembered: a worker labels batch after batch of new texts.
    return model.predict(texts, item_ids, remember=False)


def predict_in_batches(model: SentimentModel, texts: Sequence[str], item_ids: Sequence[str],
                       runner: DaskTaskRunner, batch_texts: int, progress: Progress | None = None
                       ) -> list[Prediction]:
    """The model's predictions for every text, in input order, its batches of `batch_texts` mapped on `runner`
    (started: entered as a context manager).

    `progress` hears how many texts are labelled each time a batch comes back.
    """
    starts = range(0, len(texts), batch_texts)
    futures = [runner.submit(predict_batch, {"model": model, "texts": list(texts[start:start + batch_texts]),
                                             "item_ids": list(item_ids[start:start + batch_texts])})
               for start in starts]
    sizes = {future.task_run_id: min(batch_texts, len(texts) - start) for future, start in zip(futures, starts)}
    done = 0
    for future in as_completed(futures):
        done += sizes[future.task_run_id]
        if progress is not None:
            progress(done, len(texts))
    return [prediction for future in futures for prediction in future.result()]


def stream_predictions(model: SentimentModel, texts: Sequence[str], item_ids: Sequence[str], settings: Settings,
                       progress: Progress | None = None, *, chunk_size: int = PREDICTION_CHUNK
                       ) -> Iterator[list[Prediction]]:
    """The model's predictions for every text, in input order, a chunk at a time: in this process one chunk of
    `chunk_size` is labelled at once (`predict_chunks`), so memory stays flat however many texts there are; on
    Dask each chunk's batches are mapped on the cluster, which lives until the last chunk is labelled."""
    runner = dask_task_runner(settings)
    if runner is None:
        yield from predict_chunks(model, texts, item_ids, progress, chunk_size=chunk_size)
        return
    # Chunks of whole batches, so batches are as large as the settings ask.
    chunk_size = max(chunk_size, settings.dask_batch_texts)
    with runner:
        for start in range(0, len(texts), chunk_size):
            chunk_progress = None if progress is None else (
                lambda done, _, start=start: progress(start + done, len(texts)))
            yield predict_in_batches(model, texts[start:start + chunk_size], item_ids[start:start + chunk_size],
                                     runner, settings.dask_batch_texts, chunk_progress)
