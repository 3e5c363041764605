"""Artifact approval ("Create Artifact" in seed 000): publish the cleaned users only if a person approves."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Completed, State

from pipelines.blocks import JSON
from pipelines.catalog import (
    APPROVAL_NOTE_ARTIFACT_KEY,
    APPROVED_TABLE_ARTIFACT_KEY,
    CLEANED_USERS_BLOCK_NAME,
)
from pipelines.core.features import markdown_table
from pipelines.core.markdown import escape_markdown
from pipelines.core.users import flatten_users
from pipelines.flows.common import ask, table_rows
from pipelines.inputs import ApprovalInput, with_defaults

APPROVAL_DESCRIPTION = """\
### Publish these users as the `name-table` artifact?

**{rows} rows**, {n_columns} columns: {columns}.

{preview}

Choose **Approve and publish** or **Reject**, then confirm. A reject publishes nothing and the run ends as
*Rejected*.
"""


class NothingToApprove(RuntimeError):
    """There is no cleaned users table, or it is empty."""


def load_cleaned_users(block_name: str = CLEANED_USERS_BLOCK_NAME) -> list[dict[str, Any]]:
    """The latest cleaned users, refusing a missing or empty table with a clear message."""
    try:
        users = JSON.load(block_name).value
    except ValueError as exc:  # Prefect raises ValueError for a block that does not exist
        raise NothingToApprove(
            f"No cleaned users yet (block {block_name!r} is missing): run an ingestion and choose the "
            "features to drop first."
        ) from exc
    if not users:
        raise NothingToApprove("The cleaned users table is empty: there is nothing to approve.")
    return users


@flow(name="create-artifact", persist_result=True)
def create_artifact(source_block: str = CLEANED_USERS_BLOCK_NAME) -> dict[str, Any] | State:
    """Summarise the cleaned users, pause for approval, then publish them or end as not approved."""
    logger = get_run_logger()
    frame = flatten_users(load_cleaned_users(source_block))
    description = APPROVAL_DESCRIPTION.format(
        rows=len(frame), n_columns=len(frame.columns), columns=", ".join(f"`{c}`" for c in frame.columns),
        preview=markdown_table(frame),
    )
    answer, decision = ask(with_defaults(ApprovalInput, description=description), "approval", long_wait=True)
    if not answer.create_artifact:
        message = f"Not approved by {decision.resumed_by}."
        logger.info(message)
        # A reject is an answer the run asked for, not a failure or a cancellation: the run completes, in a
        # state named for the outcome, so Prefect's UI and the log say what the page says.
        return Completed(name="Rejected", message=message)
    create_table_artifact(
        key=APPROVED_TABLE_ARTIFACT_KEY,
        table=table_rows(frame),
        description=f"{len(frame)} users approved by {decision.resumed_by}.",
    )
    create_markdown_artifact(
        key=APPROVAL_NOTE_ARTIFACT_KEY,
        markdown=(
            f"**Approved** by {escape_markdown(decision.resumed_by)} at {decision.resumed_at:%Y-%m-%d %H:%M:%S UTC}: "
            f"{len(frame)} rows, columns {escape_markdown(', '.join(frame.columns))}."
        ),
        description="What was approved",
    )
    logger.info("Published %d rows as %r.", len(frame), APPROVED_TABLE_ARTIFACT_KEY)
    return {"approved_by": decision.resumed_by, "rows": len(frame), "columns": list(frame.columns)}
