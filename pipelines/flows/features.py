"""Feature dropping ("User Input Remove Features" in seed 000): the analyst picks which columns to drop."""

from __future__ import annotations

from typing import Any

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from pipelines.blocks import JSON
from pipelines.catalog import (
    CLEANED_USERS_ARTIFACT_KEY,
    CLEANED_USERS_BLOCK_NAME,
    FEATURE_PROFILE_ARTIFACT_KEY,
    FEATURE_SELECTION,
)
from pipelines.core.features import available_columns, default_drop, drop_features, profile_columns
from pipelines.core.markdown import escape_markdown
from pipelines.core.run_data import load_parameter, run_data_store
from pipelines.core.users import flatten_users
from pipelines.flows.common import ask, table_rows
from pipelines.inputs import features_to_drop_input

FEATURES_DESCRIPTION = """\
### Which columns should be dropped?

{users} users with {columns} columns. Preselected: the identifying and contact fields present ({default}).
At least one column must stay. Each column's type, an example and its missing share:

{profile}
"""


def profile_description(profile: pd.DataFrame) -> str:
    """Each column's type, example and missing share as a Markdown list; the example, a user's value, as text."""
    return "\n".join(
        f"- `{row.column}` ({row.type}), e.g. {escape_markdown(str(row.example))}, missing {row.null_share:.0%}"
        for row in profile.itertuples()
    )


@flow(name=FEATURE_SELECTION, persist_result=True)
def remove_features(users: list[dict[str, Any]] | str) -> list[dict[str, Any]]:
    """Show the columns of the users handed in, pause for the ones to drop, and store the cleaned users.

    `users` is the list itself, or a run-data reference to it when it is too large for a parameter
    (`parameter_or_reference`).
    """
    logger = get_run_logger()
    users = load_parameter(run_data_store(), users)
    columns = available_columns(users)
    profile = profile_columns(users)
    create_table_artifact(key=FEATURE_PROFILE_ARTIFACT_KEY, table=table_rows(profile), description="Columns")
    profile_lines = profile_description(profile)
    preselected = default_drop(columns)
    description = FEATURES_DESCRIPTION.format(users=len(users), columns=len(columns), profile=profile_lines,
                                              default=", ".join(f"`{column}`" for column in preselected) or "none")
    answer, decision = ask(features_to_drop_input(columns, preselected, description), "features to drop")
    cleaned = drop_features(users, answer.features_to_drop)
    JSON(value=cleaned).save(CLEANED_USERS_BLOCK_NAME, overwrite=True)
    kept = available_columns(cleaned)
    create_table_artifact(
        key=CLEANED_USERS_ARTIFACT_KEY,
        table=table_rows(flatten_users(cleaned)),
        description=f"Dropped {', '.join(answer.features_to_drop) or 'nothing'}; kept {', '.join(kept)}.",
    )
    logger.info("Dropped %s; kept %s (chosen by %s).", answer.features_to_drop, kept, decision.resumed_by)
    return cleaned
