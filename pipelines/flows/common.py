"""Tasks and helpers every interactive flow shares: pausing with the project's settings, auditing answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pandas as pd
import pydantic

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactUpdate
from prefect.flow_runs import pause_flow_run

from pipelines.catalog import AUDIT_ARTIFACT_KEY
from pipelines.core.audit import Decision, decision_from_answer
from pipelines.core.markdown import escape_markdown
from pipelines.core.progress import ThrottledProgress
from pipelines.core.settings import get_settings
from pipelines.inputs import AuditedInput

InputT = TypeVar("InputT", bound=AuditedInput)
# A table artifact's rows travel in one server event, which the server drops above 1.5 MB: a preview stays
# well under it (description and event envelope included), and names where the whole table is.
PREVIEW_MAX_ROWS = 1_000
PREVIEW_MAX_BYTES = 500_000
PREVIEW_MAX_CELL_CHARS = 1_000


def ask(input_type: type[InputT], step: str) -> tuple[InputT, Decision]:
    """Pause the current flow run for `input_type`, then record who answered, when and what.

    An answer Prefect's server accepted but the input type cannot read is not the end of the run: it is logged
    and the run pauses again for the same question, saying why.
    """
    settings = get_settings()
    asked = input_type
    while True:
        try:
            answer = pause_flow_run(
                wait_for_input=asked,
                timeout=settings.pause_timeout_seconds,
                poll_interval=settings.pause_poll_seconds,  # type: ignore[arg-type]  # Prefect sleeps a float fine
            )
            break
        except pydantic.ValidationError as exc:
            # The server checks an answer against the schema, but a NaN (valid JSON to it) passes `minimum` and
            # `maximum` and is stored as null, which the input type then refuses.
            problem = "; ".join(f"{'.'.join(map(str, error['loc'])) or 'answer'}: {error['msg']}"
                                for error in exc.errors())
            get_run_logger().warning("The answer to %s could not be used (%s); asking again.", step, problem)
            asked = _asked_again(input_type, problem)
    decision = decision_from_answer(step, answer.model_dump(), datetime.now(timezone.utc))
    record_decision(decision)
    return answer, decision


def _asked_again(input_type: type[InputT], problem: str) -> type[InputT]:
    """`input_type` with its question led by why the last answer could not be used."""
    model = pydantic.create_model(input_type.__name__, __base__=input_type)
    question = input_type._description if isinstance(input_type._description, str) else ""
    model._description = f"**The last answer could not be used:** {escape_markdown(problem)}. Answer again.\n\n{question}"
    return model


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


def table_preview(frame: pd.DataFrame, *where: Path) -> tuple[list[dict[str, Any]], str]:
    """A table artifact's rows, bounded, and a sentence to add to its description ("" when the table is whole).

    At most `PREVIEW_MAX_ROWS` rows and `PREVIEW_MAX_BYTES` of JSON, texts over `PREVIEW_MAX_CELL_CHARS` cut
    with an ellipsis; when anything is left out, the sentence says how much is shown and names `where` the whole
    table is (its Parquet file, its CSV copy).
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


@contextmanager
def published_progress(artifact_id: UUID) -> Iterator[ThrottledProgress]:
    """A progress callback (a percentage) that moves a progress artifact at most once a second, through one Prefect
    client for the whole block (Prefect's `update_progress_artifact` builds a client per call); the last value
    reported is published on leaving the block."""
    with get_client(sync_client=True) as client:
        progress = ThrottledProgress(lambda percent: client.update_artifact(artifact_id, ArtifactUpdate(data=percent)))
        yield progress
        progress.flush()
