"""Feature dropping (a subflow of ingestion) and artifact approval on a real embedded Prefect backend."""

from __future__ import annotations

import logging
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client

from dashboard import gateway
from pipelines.blocks import JSON
from pipelines.catalog import (
    APPROVAL,
    APPROVED_TABLE_ARTIFACT_KEY,
    AUDIT_ARTIFACT_KEY,
    CLEANED_USERS_BLOCK_NAME,
    FEATURE_SELECTION,
    INGESTION,
)
from pipelines.core.audit import UNKNOWN_ANALYST
from pipelines.core.schema_input import InputInvalid
from tests.conftest import wait_for_child, wait_for_log, wait_for_pending_input, wait_for_status

pytestmark = pytest.mark.usefixtures("prefect_api")


def _ingest_to_feature_pause(count: int = 3) -> tuple[UUID, UUID]:
    parent = gateway.start_run(INGESTION)
    wait_for_pending_input(parent)
    gateway.resume(parent, {"number_of_users": count}, analyst="Dana")
    child = wait_for_child(parent)
    assert gateway.run(child).flow_name == FEATURE_SELECTION
    wait_for_pending_input(child)
    return parent, child


def _audit_rows(run_id: UUID) -> list[dict]:
    return [row for a in gateway.artifacts(run_id) if a.key == AUDIT_ARTIFACT_KEY for row in a.data]


def test_drop_columns_keeps_structure_and_records_who(randomuser) -> None:
    parent, child = _ingest_to_feature_pause()
    field = gateway.pending_input(child).schema["properties"]["features_to_drop"]
    assert set(field["items"]["enum"]) >= {"name", "email", "location", "login"}
    assert field["default"] == ["email", "login", "dob", "registered", "phone", "cell", "id", "nat"]
    assert gateway.parent_run(child).id == parent
    description = gateway.pending_input(child).description
    assert "Preselected: the identifying and contact fields present (`email`, `login`," in description
    assert "seed" not in description.lower()  # the project's history is no help to the person deciding
    assert len(gateway.run(child).parameters["users"]) == 3  # handed over as the subflow's parameter, no block

    gateway.resume(child, {"features_to_drop": ["email", "login", "picture"]}, analyst="Dana")
    assert wait_for_status(parent, {"completed", "failed"}).status == "completed"
    cleaned = JSON.load(CLEANED_USERS_BLOCK_NAME).value
    assert len(cleaned) == 3 and "email" not in cleaned[0] and set(cleaned[0]["name"]) == {"title", "first", "last"}
    assert [r["step"] for r in _audit_rows(parent)] == ["user count"]
    assert _audit_rows(child)[0]["resumed_by"] == "Dana"
    assert "features_to_drop=['email', 'login', 'picture']" in _audit_rows(child)[0]["input"]


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("bad", "message"),
    [(["mail"], "not one of"), (["name", "gender", "location", "email", "login", "dob", "registered", "phone",
                                  "cell", "id", "picture", "nat"], "at most|no more than|too many")],
)
def test_unknown_or_all_columns_are_refused_and_the_run_stays_paused(bad: list[str], message: str) -> None:
    parent, child = _ingest_to_feature_pause(2)
    with pytest.raises(InputInvalid, match=message):
        gateway.resume(child, {"features_to_drop": bad})
    assert gateway.run(child).status == "paused"
    gateway.resume(child, {"features_to_drop": []})
    wait_for_status(parent, {"completed"})


def test_approve_publishes_name_table_and_reject_ends_cleanly() -> None:
    parent, child = _ingest_to_feature_pause(4)
    gateway.resume(child, {"features_to_drop": ["login"]})
    wait_for_status(parent, {"completed"})
    before = len(gateway.artifact_versions(APPROVED_TABLE_ARTIFACT_KEY))

    approval = gateway.start_run(APPROVAL)
    pending = wait_for_pending_input(approval)
    assert "**4 rows**" in pending.description
    gateway.resume(approval, {"create_artifact": True}, analyst="Lee")
    assert wait_for_status(approval, {"completed", "failed"}).status == "completed"
    versions = gateway.artifact_versions(APPROVED_TABLE_ARTIFACT_KEY)
    assert len(versions) == before + 1 and len(versions[0].data) == 4 and versions[0].flow_run_id == approval
    assert "approved by Lee" in versions[0].description

    rejected = gateway.start_run(APPROVAL)
    wait_for_pending_input(rejected)
    gateway.resume(rejected, {"create_artifact": False}, analyst="Lee")
    ended = wait_for_status(rejected, {"cancelled", "failed", "completed"})
    # A reject is an expected outcome: the run completes as Rejected, and nothing in its log is an error.
    assert (ended.status, ended.state_name, ended.message) == ("completed", "Rejected", "Not approved by Lee.")
    assert wait_for_log(rejected, "Finished in state Rejected")
    assert [line.message for line in gateway.logs(rejected) if line.level >= logging.WARNING] == []
    assert len(gateway.artifact_versions(APPROVED_TABLE_ARTIFACT_KEY)) == before + 1


def test_resume_through_prefects_api_is_audited_too() -> None:
    approval = gateway.start_run(APPROVAL)
    wait_for_pending_input(approval)
    with get_client(sync_client=True) as client:
        client.resume_flow_run(approval, run_input={"create_artifact": False})
    wait_for_status(approval, {"completed"})
    assert _audit_rows(approval)[0]["resumed_by"] == UNKNOWN_ANALYST


def test_many_users_reach_the_subflow_by_a_run_data_reference_not_as_a_huge_parameter() -> None:
    """600 users are ~700 KB of JSON, over `MAX_PARAMETER_BYTES`: Prefect's database keeps only the reference."""
    parent, child = _ingest_to_feature_pause(count=600)
    handed = gateway.run(child).parameters["users"]
    assert handed == f"run-data:parameters/{parent}/users.json"
    field = gateway.pending_input(child).schema["properties"]["features_to_drop"]
    assert "600 users with" in gateway.pending_input(child).description and "email" in field["items"]["enum"]
    gateway.resume(child, {"features_to_drop": ["email"]}, analyst="Dana")
    assert wait_for_status(parent, {"completed", "failed"}).status == "completed"
    cleaned = gateway.result(parent)["cleaned_users"]
    assert len(cleaned) == 600 and all("email" not in user and "login" in user for user in cleaned)


def test_stale_pause_is_refused_without_a_traceback() -> None:
    approval = gateway.start_run(APPROVAL)
    pending = wait_for_pending_input(approval)
    with get_client(sync_client=True) as client:
        client.resume_flow_run(approval, run_input={"create_artifact": False})
    with pytest.raises(gateway.PauseStale):
        gateway.resume(pending, {"create_artifact": True})
    assert wait_for_status(approval, {"completed"}).state_name == "Rejected"


def test_empty_cleaned_table_is_refused_before_any_pause() -> None:
    JSON(value=[]).save("empty-users-json", overwrite=True)
    run_id = gateway.start_run(APPROVAL, {"source_block": "empty-users-json"})
    ended = wait_for_status(run_id, {"failed", "paused"})
    assert ended.status == "failed" and "nothing to approve" in ended.message
