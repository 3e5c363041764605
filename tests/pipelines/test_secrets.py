"""The Toloka API key a crowd loop uses appears in none of its logs, artifacts, results or failure messages, also
when Toloka's answer quotes it (a real Prefect backend, the fake Toloka API at the HTTP boundary)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from dashboard import gateway
from pipelines.catalog import CROWD_LOOP
from pipelines.core.settings import get_settings
from tests.conftest import wait_for_pending_input, wait_for_status

CANARY = "toloka-canary-5e1b"

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.hostile]


@pytest.fixture
def toloka_key(fake_toloka) -> Iterator[object]:
    """The fake Toloka accepting only the canary key, which is stored where the flow reads it."""
    usual, fake_toloka.api_key = fake_toloka.api_key, CANARY
    gateway.store_secret(get_settings().toloka_secret_block, CANARY)
    yield fake_toloka
    fake_toloka.api_key = usual


def _everything_said(run_id: object) -> str:
    run = gateway.run(run_id)
    said = [line.message for line in gateway.logs(run_id, limit=200)]
    said += [json.dumps(a.data, default=str) + (a.description or "") for a in gateway.artifacts(run_id)]
    pending = gateway.pending_input(run_id)
    said += [pending.description] if pending else []
    return "\n".join([*said, run.message or "", json.dumps(run.parameters, default=str)])


def test_a_crowd_loop_posting_to_toloka_never_shows_the_key(autohelper_split: str, toloka_key) -> None:
    run_id = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "toloka"})
    wait_for_pending_input(run_id)
    assert toloka_key.pools  # the key was used: a pool was posted
    assert CANARY not in _everything_said(run_id)


def test_a_toloka_failure_that_quotes_the_key_fails_the_run_without_it(autohelper_split: str, toloka_key) -> None:
    toloka_key.failure = 429
    run_id = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "toloka"})
    ended = wait_for_status(run_id, {"failed"})
    assert "Toloka answered 429" in ended.message and "<API key>" in ended.message
    assert CANARY not in _everything_said(run_id)
