"""Tasks and helpers every interactive flow shares: pausing with the project's settings, auditing answers."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TypeVar
from uuid import UUID

import pandas as pd

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactUpdate
from prefect.flow_runs import pause_flow_run
from prefect.runtime import flow_run

from pipelines.catalog import AUDIT_ARTIFACT_KEY
from pipelines.core.audit import Decision, decision_from_answer
from pipelines.core.progress import ThrottledProgress
from pipelines.core.run_data import run_data_store, save_result
from pipelines.core.settings import get_settings
from pipelines.inputs import AuditedInput

InputT = TypeVar("InputT", bound=AuditedInput)
# A table artifact's rows travel in one server event, which the server drops above 1.5 MB: a preview stays
# well under it (description and event envelope included), and names where the whole table is.
PREVIEW_MAX_ROWS = 1_000
PREVIEW_MAX_BYTES = 500_000
PREVIEW_MAX_CELL_CHARS = 1_000


def ask(input_type: type[InputT], step: str) -> tuple[InputT, Decision]:
    """Pause the current flow run for `input_type`, then record who answered, when and what."""
    settings = get_settings()
    answer = pause_flow_run(
        wait_for_input=input_type,
        timeout=settings.pause_timeout_seconds,
        poll_interval=settings.pause_poll_seconds,  # type: ignore[arg-type]  # Prefect sleeps a float fine
    )
    decision = decision_from_answer(step, answer.model_dump(), datetime.now(timezone.utc))
    record_decision(decision)
    return answer, decision


@task
def record_decision(decision: Decision) -> None:
    """Save a human decision with the run, as a table artifact Prefect's UI shows too."""
    get_run_logger().info("%s answered by %s: %s", decision.step, decision.resumed_by, decision.as_row()["input"])
    create_table_artifact(
        key=AUDIT_ARTIFACT_KEY, table=[decision.as_row()], description=f"Audit trail: {decision.step}"
    )


def table_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows for a table artifact: JSON-ready values, missing ones as null."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def table_preview(frame: pd.DataFrame, *where: str) -> tuple[list[dict[str, Any]], str]:
    """A table artifact's rows, bounded, and a sentence to add to its description ("" when the table is whole).

    At most `PREVIEW_MAX_ROWS` rows and `PREVIEW_MAX_BYTES` of JSON, texts over `PREVIEW_MAX_CELL_CHARS` cut
    with an ellipsis; when anything is left out, the sentence says how much is shown and names `where` the whole
    table is (its Parquet table, its CSV copy, as the run-data store names where they lie).
    """
    rows: list[dict[str, Any]] = []
    size, cut = 0, False
    for row in table_rows(frame.head(PREVIEW_MAX_ROWS)):
        shown = {column: _cut(value) for column, value in row.items()}
        size += len(json.dumps(shown, default=str))
        if size > PREVIEW_MAX_BYTES:
            break
        cut = cut or shown != row
        rows.append(shown)
    if len(rows) == len(frame) and not cut:
        return rows, ""
    shown = f"the first {len(rows)} of {len(frame)} rows" + (", long texts cut" if cut else "")
    return rows, f"This artifact shows {shown}; the whole table is in {' and '.join(f'`{p}`' for p in where)}."


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > PREVIEW_MAX_CELL_CHARS:
        return value[:PREVIEW_MAX_CELL_CHARS] + "…"
    return value


def publish_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the current flow run's result in the run-data store, where the dashboard reads it (it never reads the
    runner's disk), and return it as the run's return value."""
    save_result(run_data_store(), str(flow_run.get_id()), result)
    return dict(result)


@contextmanager
def published_progress(artifact_id: UUID) -> Iterator[ThrottledProgress]:
    """A progress callback (a percentage) that moves a progress artifact at most once a second, through one Prefect
    client for the whole block (Prefect's `update_progress_artifact` builds a client per call); the last value
    reported is published on leaving the block."""
    with get_client(sync_client=True) as client:
        progress = ThrottledProgress(lambda percent: client.update_artifact(artifact_id, ArtifactUpdate(data=percent)))
        yield progress
        progress.flush()
