"""Ingestion ("Create Names" in seed 000): ask how many users, fetch them, persist them, pick features."""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from prefect.states import Completed, State

from pipelines.blocks import JSON
from pipelines.catalog import USER_SOURCE_ARTIFACT_KEY, USERS_ARTIFACT_KEY, USERS_BLOCK_NAME
from pipelines.core.run_data import parameter_or_reference, run_data_store
from pipelines.core.settings import get_settings
from pipelines.core.users import (
    RandomUserUnavailable,
    UserBatch,
    fetch_random_users,
    flatten_users,
    load_users,
)
from pipelines.flows.common import ask, table_rows
from pipelines.flows.features import remove_features
from pipelines.inputs import UserInput, with_defaults

USER_COUNT_DESCRIPTION = """\
### How many users should we fetch?

The flow fetches user records from the [randomuser.me](https://randomuser.me) API in as few requests as it
allows (5,000 users per request). If the API cannot be reached it generates the same number of users with
Faker, in the same schema, and says so in the result. Next, it asks which columns to drop.
"""


API_ATTEMPTS = 2
API_RETRY_SECONDS = 5.0
UNAVAILABLE = "Unavailable"


@task
def fetch_users(number_of_users: int) -> list[dict[str, Any]] | State:
    """Fetch users from the randomuser API, trying twice; end as `Unavailable` if it stays down.

    An unreachable API is an outcome the flow expects (it answers with Faker users), so the task ends in a
    completed state named for it rather than as a failure: Prefect's UI then tells what the page tells.
    """
    settings = get_settings()
    problem: RandomUserUnavailable | None = None
    for _ in range(API_ATTEMPTS):
        if problem is not None:
            get_run_logger().info("%s; trying again in %g s.", problem, API_RETRY_SECONDS)
            time.sleep(API_RETRY_SECONDS)
        try:
            return fetch_random_users(
                number_of_users, api_url=settings.randomuser_url, timeout_seconds=settings.randomuser_timeout_seconds
            )
        except RandomUserUnavailable as exc:
            problem = exc
    return Completed(name=UNAVAILABLE, message=str(problem))


def users_from_api(number_of_users: int) -> list[dict[str, Any]]:
    """The `fetch_users` task's users, raising `RandomUserUnavailable` when it ended `Unavailable`."""
    state = fetch_users(number_of_users, return_state=True)
    if state.name == UNAVAILABLE:
        raise RandomUserUnavailable(state.message or "randomuser API unavailable")
    return state.result()


@task
def save_users(batch: UserBatch) -> None:
    """Persist the users in the `all-users-json` block and publish them as a table artifact."""
    JSON(value=batch.users).save(USERS_BLOCK_NAME, overwrite=True)
    create_table_artifact(
        key=USERS_ARTIFACT_KEY,
        table=table_rows(flatten_users(batch.users)),
        description=f"{len(batch.users)} users. {batch.note}",
    )
    create_markdown_artifact(
        key=USER_SOURCE_ARTIFACT_KEY, markdown=f"**{len(batch.users)} users.** {batch.note}", description=batch.source
    )


@flow(name="create-names", persist_result=True)
def create_names(select_features: bool = True) -> dict[str, Any]:
    """Pause for a user count, fetch that many users (Faker if the API is down), persist them, then run
    the feature-dropping subflow on them."""
    logger = get_run_logger()
    answer, _ = ask(with_defaults(UserInput, description=USER_COUNT_DESCRIPTION, number_of_users=2), "user count")
    logger.info("Fetching %d users.", answer.number_of_users)
    batch = load_users(
        answer.number_of_users,
        fetch=users_from_api,
        on_fallback=lambda exc: logger.warning("randomuser API unavailable (%s); using Faker users.", exc),
    )
    save_users(batch)
    logger.info("Saved %d users from %s. %s", len(batch.users), batch.source, batch.note)
    outcome: dict[str, Any] = {"source": batch.source, "note": batch.note, "users": batch.users}
    if select_features:
        # Handed on as the subflow's parameter (a run-data reference when large), not through the block saved above.
        users = parameter_or_reference(run_data_store(), str(flow_run.get_id()), "users", batch.users)
        outcome["cleaned_users"] = remove_features(users)
    return outcome
