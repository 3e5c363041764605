"""Tasks and helpers every interactive flow shares: pausing with the project's settings, auditing answers."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TypeVar
from uuid import UUID

import pandas as pd
import pydantic

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import RUN_ID, TASK_SOURCE, Inputs
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactUpdate
from prefect.context import FlowRunContext
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.runtime import flow_run

from pipelines.catalog import AUDIT_ARTIFACT_KEY
from pipelines.core.audit import Decision, decision_from_answer
from pipelines.core.markdown import escape_markdown
from pipelines.core.notify import pause_labels
from pipelines.core.progress import ThrottledProgress
from pipelines.core.run_data import run_data_store, save_result
from pipelines.core.settings import Settings, get_settings
from pipelines.inputs import AuditedInput

InputT = TypeVar("InputT", bound=AuditedInput)
# A table artifact's rows travel in one server event, which the server drops above 1.5 MB: a preview stays
# well under it (description and event envelope included), and names where the whole table is.
PREVIEW_MAX_ROWS = 1_000
PREVIEW_MAX_BYTES = 500_000
PREVIEW_MAX_CELL_CHARS = 1_000


def ask(input_type: type[InputT], step: str, long_wait: bool = False) -> tuple[InputT, Decision]:
    """Pause the current flow run for `input_type`, then record who answered, when and what.

    `long_wait`: the answer may take hours (a crowd batch, an approval). In team mode such a run suspends instead:
    its process exits and frees the worker, and a worker runs the flow again from the top once it is resumed, with
    the tasks before this point cached and this call returning the answer. Laptop mode, subflows and runs without a
    deployment (Prefect can only suspend top-level deployment runs) keep pausing in place.

    An answer Prefect's server accepted but the input type cannot read is not the end of the run: it is logged
    and the run waits again for the same question, saying why.
    """
    settings = get_settings()
    label_pause(step, getattr(input_type, "_description", None), settings.pause_timeout_seconds)
    asked = input_type
    while True:
        try:
            if long_wait and _can_suspend(settings):
                answer = suspend_flow_run(wait_for_input=asked, timeout=settings.pause_timeout_seconds)
            else:
                answer = pause_flow_run(
                    wait_for_input=asked,
                    timeout=settings.pause_timeout_seconds,
                    poll_interval=settings.pause_poll_seconds,  # type: ignore[arg-type]  # Prefect sleeps a float
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
    record_decision(decision, _pauses_so_far())
    return answer, decision


def _asked_again(input_type: type[InputT], problem: str) -> type[InputT]:
    """`input_type` with its question led by why the last answer could not be used."""
    model = pydantic.create_model(input_type.__name__, __base__=input_type)
    question = input_type._description if isinstance(input_type._description, str) else ""
    model._description = (f"**The last answer could not be used:** {escape_markdown(problem)}. Answer again.\n\n"
                          f"{question}")
    return model


def label_pause(step: str, description: object, timeout_seconds: int) -> None:
    """Write what the run is about to wait for, and its pause timeout, as the run's labels: the notification an
    automation sends on the pause reads them (it cannot read the pause input's description)."""
    labels = pause_labels(step, description if isinstance(description, str) else None, timeout_seconds,
                          datetime.now(timezone.utc))
    with get_client(sync_client=True) as client:
        client.update_flow_run_labels(FlowRunContext.get().flow_run.id, labels)  # type: ignore[union-attr]


def _can_suspend(settings: Settings) -> bool:
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    return (settings.mode == "team" and run is not None and run.deployment_id is not None
            and run.parent_task_run_id is None)


def _pauses_so_far() -> int:
    """How many pauses and suspends this execution of the run has reached: the number of the one just answered."""
    context = FlowRunContext.get()
    return context.observed_flow_pauses.get("counter", 0) if context else 0


# One record per pause of a run: a suspended run executes again from the top after each resume, answering its
# earlier pauses again from their saved inputs, and must not record those decisions twice.
@task(cache_policy=RUN_ID + TASK_SOURCE + Inputs(exclude=["decision"]))
def record_decision(decision: Decision, pause_number: int) -> None:
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
