"""The insights deployment on a real backend; the LLM provider is a local OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest

from dashboard import gateway
from pipelines.blocks import JSON
from pipelines.catalog import INSIGHT_ARTIFACT_KEY, INSIGHT_TABLE_ARTIFACT_KEY, INSIGHTS, USERS_BLOCK_NAME
from pipelines.core.insights import DEFAULT_INSTRUCTIONS
from pipelines.core.settings import get_settings
from pipelines.core.users import generate_fake_users
from tests.conftest import wait_for_pending_input, wait_for_status
from tests.fake_llm import TEXT
from tests.hostile import rendered

CANARY = "sk-canary-7f3a9c"

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture(autouse=True)
def _users_and_canary_key(prefect_api: str) -> None:
    JSON(value=generate_fake_users(30, seed=5)).save(USERS_BLOCK_NAME, overwrite=True)
    gateway.store_secret(get_settings().llm_secret_block, CANARY)


def _ask(fake_llm, instructions: str = DEFAULT_INSTRUCTIONS) -> object:
    run_id = gateway.start_run(INSIGHTS, {"model": "openai:local-model", "base_url": fake_llm.base_url})
    pending = wait_for_pending_input(run_id)
    assert pending.schema["properties"]["input_instructions"]["default"] == DEFAULT_INSTRUCTIONS
    gateway.resume(run_id, {"input_instructions": instructions})
    return wait_for_status(run_id, {"completed", "failed", "crashed"}, timeout=120), run_id


def _everything_said(run_id: object) -> str:
    said = [line.message for line in gateway.logs(run_id, limit=200)]
    said += [json.dumps(a.data) + a.description for a in gateway.artifacts(run_id)]
    return "\n".join(said) + gateway.run(run_id).message


def test_answer_table_and_question_reach_the_artifacts(fake_llm) -> None:
    ended, run_id = _ask(fake_llm)
    assert ended.status == "completed", ended.message
    assert DEFAULT_INSTRUCTIONS in fake_llm.prompts() and '\\"n_users\\": 30' in fake_llm.prompts()
    assert fake_llm.auth_headers[0] == f"Bearer {CANARY}"  # the key came from the Secret block
    by_key = {a.key: a for a in gateway.artifacts(run_id)}
    shown = rendered(by_key[INSIGHT_ARTIFACT_KEY].data)[1]  # the artifact's Markdown escapes the text it quotes
    assert DEFAULT_INSTRUCTIONS in shown and TEXT in shown
    assert by_key[INSIGHT_TABLE_ARTIFACT_KEY].data[0] == {"group": "France", "count": 3}
    assert gateway.result(run_id)["text"] == TEXT
    assert CANARY not in _everything_said(run_id)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("mode", "message", "attempts"),
    [("401", "refused the API key", 1), ("429", "rate limiting", 3), ("500", "HTTP 500", 3),
     ("hang", "did not answer in time", 3), ("malformed", "a malformed tool call", 2)],
)
def test_provider_failures_end_in_a_clear_failed_state(fake_llm, mode: str, message: str, attempts: int) -> None:
    fake_llm.mode = mode
    ended, run_id = _ask(fake_llm)
    assert ended.status == "failed" and message in ended.message
    assert len(fake_llm.requests) == attempts  # transient failures retried with backoff, the rest not
    assert CANARY not in _everything_said(run_id)
