"""The dashboard's side of a crowd batch's owner run: its progress artifact follows the answers, and the run is
resumed when the batch's last answer is in (the run itself waits paused instead of polling)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx

from dashboard import gateway
from pipelines.catalog import CROWD_PROGRESS_ARTIFACT_KEY


class OwnerUnreachable(RuntimeError):
    """The answer is stored, but the run waiting for the batch could not be told."""


def report_progress(batch: dict[str, Any], progress: dict[str, int], by: str) -> bool:
    """Tell the batch's owner run how far the crowd is and resume it once complete; True when it was resumed.

    Several annotators may finish at once: only one resume is accepted, the others find the pause over.
    """
    if not batch.get("owner"):
        return False
    run_id = UUID(batch["owner"])
    answers, needed = progress["answers"], progress["needed"]
    try:
        gateway.update_progress(run_id, CROWD_PROGRESS_ARTIFACT_KEY, 100 * answers / max(needed, 1),
                                f"Crowd batch {batch['id']}: {answers} of {needed} answers")
        if answers < needed:
            return False
        gateway.resume(run_id, {"collect_now": True}, analyst=f"batch complete (last answer by {by})")
    except gateway.PauseStale:
        return False
    except httpx.HTTPError as exc:
        raise OwnerUnreachable(f"Your answer is saved, but the crowd loop run could not be told: {exc}") from exc
    return True
