"""The dashboard's side of a crowd batch: its owner run's progress artifact follows the answers and the run is
resumed when the batch's last answer is in (the run itself waits paused instead of polling); Toloka batches get
their answers fetched here."""

from __future__ import annotations

import os
from uuid import UUID

import httpx

from dashboard import gateway
from pipelines.catalog import CROWD_PROGRESS_ARTIFACT_KEY
from pipelines.core.answer_store import AnswerStore, Batch, BatchProgress
from pipelines.core.settings import get_settings
from pipelines.core.toloka import API_KEY_VARIABLE, SOURCE_PREFIX, SyncResult, TolokaConfig, TolokaCrowd


class OwnerUnreachable(RuntimeError):
    """The answer is stored, but the run waiting for the batch could not be told."""


def report_progress(batch: Batch, progress: BatchProgress, by: str) -> bool:
    """Tell the batch's owner run how far the crowd is and resume it once complete; True when it was resumed.

    Several annotators may finish at once: only one resume is accepted, the others find the pause over.
    """
    if not batch.owner:
        return False
    run_id = UUID(batch.owner)
    try:
        gateway.update_progress(run_id, CROWD_PROGRESS_ARTIFACT_KEY, 100 * progress.share,
                                f"Crowd batch {batch.id}: {progress.describe()}")
        if not progress.complete:
            return False
        gateway.resume(run_id, {"collect_now": True}, analyst=f"batch complete (last answer by {by})")
    except gateway.PauseStale:
        return False
    except httpx.HTTPError as exc:
        raise OwnerUnreachable(f"Your answer is saved, but the crowd loop run could not be told: {exc}") from exc
    return True


def toloka_configured() -> bool:
    """Whether Toloka can be offered: a project and an API key (Secret block or environment)."""
    settings = get_settings()
    return bool(settings.toloka_project_id) and (
        bool(os.environ.get(API_KEY_VARIABLE)) or gateway.secret_stored(settings.toloka_secret_block))


def is_toloka_batch(batch: Batch) -> bool:
    return batch.source.startswith(SOURCE_PREFIX)


def fetch_toloka_answers(store: AnswerStore, batch: Batch) -> SyncResult:
    """Copy the Tolokers' answers of a batch into the store (raises `TolokaError` with a plain message)."""
    settings = get_settings()
    config = TolokaConfig.from_settings(settings, gateway.secret_value(settings.toloka_secret_block))
    with TolokaCrowd(store, config) as toloka:
        return toloka.sync(batch.id)
