"""Bad answers resumed from outside the dashboard, through Prefect's own API (`prefect.flow_runs.resume_flow_run`,
or its HTTP endpoint), into every pause the flows make; and a wrong answer store URL.

After each: Prefect says why (the field and the reason), the run is still paused on the same pause, its audit trail
is empty and the stored users are unchanged. The same kinds of input typed into the pages are in
tests/dashboard/test_bad_input.py.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect.flow_runs import resume_flow_run

from dashboard import gateway
from pipelines.catalog import (
    APPROVAL,
    AUDIT_ARTIFACT_KEY,
    AUTOHELPER,
    CLEANED_USERS_BLOCK_NAME,
    CROWD_LOOP,
    USERS_BLOCK_NAME,
)
from pipelines.core.settings import get_settings
from tests.conftest import wait_for_log, wait_for_pending_input, wait_for_status
from tests.dashboard.apptest import ingest_until_feature_pause

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.bad_input]

COLUMNS = ["name", "gender", "location", "email", "login", "dob", "registered", "phone", "cell", "id", "picture",
           "nat"]


def _audit(run_id: UUID) -> list[dict[str, Any]]:
    return [row for a in gateway.artifacts(run_id) if a.key == AUDIT_ARTIFACT_KEY for row in a.data]


def _stored() -> tuple[Any, Any]:
    """What earlier runs stored and a bad answer must leave as it was: the users and the cleaned users."""
    return gateway.json_block(USERS_BLOCK_NAME), gateway.json_block(CLEANED_USERS_BLOCK_NAME)


def _assert_refused(run_id: UUID, answer: Any, reason: str) -> None:
    """Resume `run_id` with `answer` through Prefect's API: refused for `reason` (a regex), nothing changed."""
    pending, stored = gateway.pending_input(run_id), _stored()
    assert pending is not None
    with pytest.raises((RuntimeError, ValueError), match=reason):
        resume_flow_run(run_id, run_input=answer)
    assert gateway.run(run_id).status == "paused"
    assert gateway.pending_input(run_id) == pending  # the same pause, still waiting for its answer
    assert _audit(run_id) == [] and _stored() == stored


def _resume_raw(run_id: UUID, body: str) -> dict[str, Any]:
    """POST a resume whose JSON body is written by hand (Python's client refuses to send NaN).

    A busy server answers 503 without acting; like Prefect's own client, this tries again.
    """
    for _ in range(5):
        response = httpx.post(f"{gateway.api_url()}/flow_runs/{run_id}/resume", content=body,
                              headers={"Content-Type": "application/json"}, timeout=30)
        if response.status_code != 503:
            break
        time.sleep(2)
    response.raise_for_status()
    return response.json()


def _failure(field: str, reason: str) -> str:
    return rf"Cannot resume this run: Reason: Validation failed for field '{field}'\. Failure reason: {reason}"


@pytest.mark.parametrize(("answer", "reason"), [
    ({"number_of_users": "abc"}, _failure("number_of_users", "'abc' is not of type 'integer'")),
    ({"number_of_users": "5"}, _failure("number_of_users", "'5' is not of type 'integer'")),
    ({"number_of_users": -1}, _failure("number_of_users", "-1 is less than the minimum of 1")),
    ({"number_of_users": 0}, _failure("number_of_users", "0 is less than the minimum of 1")),
    ({"number_of_users": 20_001}, _failure("number_of_users", "20001 is greater than the maximum of 20000")),
    ({"number_of_users": 10**30}, _failure("number_of_users", f"{10**30} is greater than the maximum of 20000")),
    ({"number_of_users": 2.5}, _failure("number_of_users", "2.5 is not of type 'integer'")),
    ({"number_of_users": True}, _failure("number_of_users", "True is not of type 'integer'")),
    ({"number_of_users": None}, _failure("number_of_users", "None is not of type 'integer'")),
    ({"number_of_users": float("nan")}, "Out of range float values are not JSON compliant"),
    ({"number_of_users": 3, "extra": 1}, r"Additional properties are not allowed \('extra' was unexpected\)"),
    ({"number_of_users": 3, "resumed_by": "x" * 201}, _failure("resumed_by", "'x+' is too long")),
    ({"number_of_users": {"__prefect_kind": "workspace_variable", "variable_name": "no-such-variable"}},
     "Error hydrating run input: Variable 'no-such-variable' not found"),
], ids=["text", "number as text", "negative", "zero", "one over", "huge", "fraction", "boolean", "missing", "NaN",
        "unknown field", "name too long", "unknown variable"])
def test_a_bad_user_count_through_prefects_api_is_refused(user_count_pause: UUID, answer: dict,
                                                          reason: str) -> None:
    _assert_refused(user_count_pause, answer, reason)


def test_a_nan_user_count_sent_by_hand_is_refused(user_count_pause: UUID) -> None:
    pending, stored = gateway.pending_input(user_count_pause), _stored()
    outcome = _resume_raw(user_count_pause, '{"run_input": {"number_of_users": NaN}}')
    assert outcome["status"] == "REJECT" and "nan is not of type 'integer'" in outcome["details"]["reason"]
    assert gateway.pending_input(user_count_pause) == pending and _stored() == stored


@pytest.mark.parametrize(("answer", "reason"), [
    (["mail"], _failure(r"features_to_drop\[0\]", "'mail' is not one of")),
    (COLUMNS, _failure("features_to_drop", r"\[.*\] is too long")),
    (["email", "email"], _failure("features_to_drop", r"\['email', 'email'\] has non-unique elements")),
    ("email", _failure("features_to_drop", "'email' is not of type 'array'")),
    ([["email"]], _failure(r"features_to_drop\[0\]", r"\['email'\] is not one of")),
], ids=["unknown column", "every column", "twice the same", "not a list", "nested list"])
def test_bad_columns_to_drop_through_prefects_api_are_refused(feature_pause: UUID, answer: Any, reason: str) -> None:
    _assert_refused(feature_pause, {"features_to_drop": answer}, reason)


@pytest.fixture(scope="module")
def approval_pause(prefect_api_module: str) -> Iterator[UUID]:
    parent, child = ingest_until_feature_pause(2)
    gateway.resume(child, {"features_to_drop": ["login"]})
    wait_for_status(parent, {"completed"})
    run_id = gateway.start_run(APPROVAL)
    wait_for_pending_input(run_id)
    yield run_id
    gateway.resume(run_id, {"create_artifact": False})
    wait_for_status(run_id, {"completed"})


@pytest.mark.parametrize(("answer", "reason"), [
    ({}, r"Validation failed\. Failure reason: 'create_artifact' is a required property"),
    ({"create_artifact": "yes"}, _failure("create_artifact", "'yes' is not of type 'boolean'")),
    ({"create_artifact": 1}, _failure("create_artifact", "1 is not of type 'boolean'")),
], ids=["no decision", "yes as text", "one"])
def test_a_bad_approval_through_prefects_api_is_refused(approval_pause: UUID, answer: dict, reason: str) -> None:
    _assert_refused(approval_pause, answer, reason)


@pytest.mark.parametrize(("answer", "reason"), [
    ("", _failure("input_instructions", "'' is too short")),
    ("ab", _failure("input_instructions", "'ab' is too short")),
    ("x" * 1_000_000, _failure("input_instructions", "'x+' is too long")),
    (None, _failure("input_instructions", "None is not of type 'string'")),
], ids=["empty", "two letters", "one megabyte", "missing"])
def test_a_bad_instruction_through_prefects_api_is_refused(instruction_pause: UUID, answer: Any,
                                                           reason: str) -> None:
    _assert_refused(instruction_pause, {"input_instructions": answer}, reason)


@pytest.fixture(scope="module")
def threshold_pause(prefect_api_module: str) -> Iterator[UUID]:
    run_id = gateway.start_run(AUTOHELPER, {"n_tasks": 40, "n_golden": 20})
    wait_for_pending_input(run_id, timeout=240)
    yield run_id
    if gateway.pending_input(run_id) is not None:  # the NaN case answers it itself
        gateway.resume(run_id, {"threshold": 0.9})
    wait_for_status(run_id, {"completed"})


@pytest.mark.parametrize(("answer", "reason"), [
    (-0.1, _failure("threshold", "-0.1 is less than the minimum of 0.0")),
    (1.5, _failure("threshold", "1.5 is greater than the maximum of 1.0")),
    ("high", _failure("threshold", "'high' is not of type 'number'")),
    (True, _failure("threshold", "True is not of type 'number'")),
    (float("inf"), "Out of range float values are not JSON compliant"),
], ids=["negative", "over one", "text", "boolean", "infinite"])
def test_a_bad_threshold_through_prefects_api_is_refused(threshold_pause: UUID, answer: Any, reason: str) -> None:
    _assert_refused(threshold_pause, {"threshold": answer}, reason)


def test_a_nan_threshold_the_server_lets_through_is_asked_again_not_a_failed_run(threshold_pause: UUID) -> None:
    """Prefect's server checks NaN against `minimum`/`maximum` (every comparison is false, so it passes) and stores
    it as null; the run used to fail reading it, losing its predictions. It pauses again and says why."""
    asked = gateway.pending_input(threshold_pause)
    assert _resume_raw(threshold_pause, '{"run_input": {"threshold": NaN}}')["status"] == "ACCEPT"
    again = wait_for_pending_input(threshold_pause)
    assert again.pause_key != asked.pause_key and again.schema == asked.schema
    shown = re.sub(r"\\(.)", r"\1", again.description)  # as rendered: the reason is escaped Markdown
    assert shown.startswith("**The last answer could not be used:** threshold: Input should be a valid number.")
    assert wait_for_log(threshold_pause, "could not be used (threshold: Input should be a valid number)")
    assert _audit(threshold_pause) == []  # nothing was decided
    gateway.resume(again, {"threshold": 0.8}, analyst="Robin")
    assert wait_for_status(threshold_pause, {"completed", "failed"}).status == "completed"
    assert [(row["resumed_by"], row["input"]) for row in _audit(threshold_pause)] == [("Robin", "threshold=0.8")]


@pytest.fixture(scope="module")
def collect_pause(autohelper_split: str) -> Iterator[UUID]:
    run_id = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "local", "overlap": 1})
    wait_for_pending_input(run_id)
    yield run_id
    gateway.resume(run_id, {"collect_now": True})
    wait_for_status(run_id, {"completed"})


@pytest.mark.parametrize(("answer", "reason"), [
    ("yes", _failure("collect_now", "'yes' is not of type 'boolean'")),
    (1, _failure("collect_now", "1 is not of type 'boolean'")),
], ids=["yes as text", "one"])
def test_a_bad_collect_answer_through_prefects_api_is_refused(collect_pause: UUID, answer: Any, reason: str) -> None:
    from pipelines.core.answer_store import AnswerStore

    store = AnswerStore(get_settings().answer_store_url)
    batches = json.dumps(store.open_batches(), default=str)
    _assert_refused(collect_pause, {"collect_now": answer}, reason)
    assert json.dumps(store.open_batches(), default=str) == batches  # the batch is still open, unchanged


@pytest.mark.parametrize(("url", "message"), [
    ("answers-db", "The answer store URL is not a database URL"),
    ("postgresql+psycopg://annotator:hunter2@127.0.0.1:9/answers",
     "The answer store at postgresql+psycopg://annotator:***@127.0.0.1:9/answers cannot be opened (connection"),
], ids=["not a URL", "nothing listening"])
def test_a_crowd_loop_on_a_wrong_answer_store_url_fails_before_storing_anything(autohelper_split: str, url: str,
                                                                                message: str) -> None:
    from pipelines.core.answer_store import AnswerStore

    store = AnswerStore(get_settings().answer_store_url)
    batches = store.open_batches()
    run_id = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "simulated",
                                            "database_url": url})
    ended = wait_for_status(run_id, {"completed", "failed", "crashed"})
    assert ended.status == "failed" and message in ended.message and "hunter2" not in ended.message
    assert store.open_batches() == batches
