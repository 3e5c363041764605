"""The ingestion deployment end to end on a real embedded Prefect backend, randomuser faked over HTTP."""

from __future__ import annotations

import json

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from dashboard import gateway
from pipelines.blocks import JSON
from pipelines.catalog import INGESTION, USER_SOURCE_ARTIFACT_KEY, USERS_ARTIFACT_KEY, USERS_BLOCK_NAME
from pipelines.core.schema_input import InputInvalid
from tests.conftest import wait_for_log, wait_for_pending_input, wait_for_status

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_pause_schema_carries_bounds_default_and_description() -> None:
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    pending = wait_for_pending_input(run_id)
    field = pending.schema["properties"]["number_of_users"]
    assert field["type"] == "integer"
    assert (field["minimum"], field["maximum"], field["default"]) == (1, 20_000, 2)
    assert "How many users" in pending.description
    gateway.resume(run_id, {"number_of_users": 1})
    wait_for_status(run_id, {"completed"})


def test_resume_fetches_users_from_the_api_and_persists_them(randomuser) -> None:
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    wait_for_pending_input(run_id)
    gateway.resume(run_id, {"number_of_users": 7})
    done = wait_for_status(run_id, {"completed", "failed", "crashed"})
    assert done.status == "completed", done.message

    assert [q["results"] for q in randomuser.requests] == [["7"]]  # one request for all seven
    stored = JSON.load(USERS_BLOCK_NAME).value
    assert len(stored) == 7 and all(u["login"]["username"].startswith("api-") for u in stored)

    result = gateway.result(run_id)
    assert result["source"] == "randomuser" and len(result["users"]) == 7
    by_key = {a.key: a for a in gateway.artifacts(run_id)}
    assert len(by_key[USERS_ARTIFACT_KEY].data) == 7
    assert "name.first" in by_key[USERS_ARTIFACT_KEY].data[0]
    assert by_key[USER_SOURCE_ARTIFACT_KEY].description == "randomuser"


@pytest.mark.bad_input
def test_unreachable_api_falls_back_to_faker_and_says_so(randomuser) -> None:
    randomuser.mode = "down"
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    wait_for_pending_input(run_id)
    gateway.resume(run_id, {"number_of_users": 3})
    done = wait_for_status(run_id, {"completed", "failed", "crashed"}, timeout=90)
    assert done.status == "completed", done.message

    assert len(randomuser.requests) == 2  # the first try and its one retry
    result = gateway.result(run_id)
    assert result["source"] == "faker" and "Faker" in result["note"] and len(result["users"]) == 3
    assert not any(u["login"]["username"].startswith("api-") for u in JSON.load(USERS_BLOCK_NAME).value)
    assert wait_for_log(run_id, "using Faker users")
    # An expected fallback is no failure: Prefect's UI shows `fetch_users` as Unavailable, nothing red.
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    states = {(task.name.rsplit("-", 1)[0], task.state.type.value, task.state.name) for task in tasks}
    assert ("fetch_users", "COMPLETED", "Unavailable") in states
    assert not [state for state in states if state[1] in {"FAILED", "CRASHED"}]


@pytest.fixture(scope="module")
def paused_ingestion(prefect_api_module: str):
    """One ingestion run paused for its user count, shared by the bad-input cases and resumed at the end."""
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    pending = wait_for_pending_input(run_id)
    yield run_id, pending
    gateway.resume(run_id, {"number_of_users": 1})
    wait_for_status(run_id, {"completed"})


@pytest.mark.bad_input
@pytest.mark.parametrize("bad", [0, -1, 10**9, "abc", 2.5, "", None, True])
def test_bad_user_count_is_refused_and_the_run_stays_paused(paused_ingestion, bad: object) -> None:
    run_id, pending = paused_ingestion
    with pytest.raises(InputInvalid, match="Number of users (must|is required)"):
        gateway.resume(pending, {"number_of_users": bad})
    assert gateway.run(run_id).status == "paused"
    assert gateway.pending_input(run_id) == pending


def test_another_prefect_client_can_read_the_schema_and_resume() -> None:
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    wait_for_pending_input(run_id)
    with get_client(sync_client=True) as client:  # Prefect's own client, not the gateway
        state = client.read_flow_run(run_id).state
        keyset = state.state_details.run_input_keyset
        schema = json.loads(client.read_flow_run_input(run_id, keyset["schema"]))
        assert "number_of_users" in schema["properties"]
        client.resume_flow_run(run_id, run_input={"number_of_users": 4})
    wait_for_status(run_id, {"completed"})
    assert len(gateway.result(run_id)["users"]) == 4


def test_resuming_a_run_that_is_no_longer_paused_is_stale() -> None:
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    pending = wait_for_pending_input(run_id)
    gateway.resume(pending, {"number_of_users": 1})
    with pytest.raises(gateway.PauseStale, match="no longer waiting"):
        gateway.resume(pending, {"number_of_users": 1})
    wait_for_status(run_id, {"completed"})
