"""Insights: the real marvin code path against pydantic-ai's FunctionModel and a local OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from pipelines.core.insights import (
    DEFAULT_INSTRUCTIONS,
    GroupCount,
    InsightAnswer,
    ask_model,
    build_model,
    classify_provider_error,
    computed_insights,
    provider_gap,
    summarize_users,
    wants_table,
)
from pipelines.core.users import generate_fake_users
from tests.fake_llm import ROWS, TEXT
from tests.hostile import HOSTILE, HOSTILE_PARTS, assert_shown_as_text, rendered

USERS = generate_fake_users(400, seed=3)


@pytest.fixture(autouse=True)
def _marvin_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MARVIN_HOME_PATH", str(tmp_path))


def test_summary_is_bounded_and_keeps_secrets_out() -> None:
    summary = summarize_users(USERS)
    data = summary.as_prompt_data()
    assert summary.n_users == 400 and len(summary.sample) == 20 and len(data) < 20_000
    assert "login.password" in summary.columns and "login.password" not in json.dumps(summary.sample)
    assert USERS[1]["login"]["password"] not in data
    assert sum(summary.aggregates["location.country"].values()) == 400
    assert "400 users" in summary.footnote and "sample of 20 records" in summary.footnote


def test_computed_insights_count_every_user() -> None:
    tables = computed_insights(USERS)
    assert set(tables) == {"Users by country", "Users by gender", "Users by age band"}
    assert all(table["count"].sum() == 400 for table in tables.values())


def test_instruction_and_summary_reach_the_model_and_rows_come_back() -> None:
    prompts: list[str] = []

    async def stream(messages: list, info: AgentInfo):
        prompts.append(str(messages))
        items = info.output_tools[0].parameters_json_schema["properties"]["result"]["items"]
        result = ROWS if items.get("type") != "string" else [TEXT]
        yield {0: DeltaToolCall(name=info.output_tools[0].name, json_args=json.dumps({"result": result}))}

    answer = ask_model(DEFAULT_INSTRUCTIONS, summarize_users(USERS), FunctionModel(stream_function=stream))
    assert answer.text == TEXT and [row.model_dump() for row in answer.rows] == ROWS
    assert all(DEFAULT_INSTRUCTIONS in prompt and '"n_users": 400' in prompt for prompt in prompts)
    markdown = answer.as_markdown()
    shown = rendered(markdown)[1]
    assert DEFAULT_INSTRUCTIONS in shown and "France\n3\n" in shown and answer.footnote in shown


def test_plain_questions_get_text_only() -> None:
    async def stream(messages: list, info: AgentInfo):
        yield {0: DeltaToolCall(name=info.output_tools[0].name, json_args=json.dumps({"result": ["Young."]}))}

    assert not wants_table("Describe the typical user")
    answer = ask_model("Describe the typical user", summarize_users(USERS), FunctionModel(stream_function=stream))
    assert answer.rows is None and answer.text == "Young."


def test_openai_compatible_server_answers_through_the_real_client(fake_llm) -> None:
    model = build_model("openai:local-model", api_key="sk-test", base_url=fake_llm.base_url, timeout_seconds=5)
    answer = ask_model(DEFAULT_INSTRUCTIONS, summarize_users(USERS), model)
    assert answer.text == TEXT and answer.rows[0].group == "France"
    assert DEFAULT_INSTRUCTIONS in fake_llm.prompts() and fake_llm.auth_headers[0] == "Bearer sk-test"


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("mode", "kind", "transient", "words"),
    [("401", "auth", False, "refused the API key"), ("429", "rate_limit", True, "rate limiting"),
     ("500", "server", True, "HTTP 500"), ("hang", "timeout", True, "did not answer in time"),
     ("malformed", "malformed", False, "did not fit the form asked for (a malformed tool call)")],
)
def test_provider_failures_are_named_without_the_key(fake_llm, mode, kind, transient, words) -> None:
    fake_llm.mode = mode
    model = build_model("openai:local-model", api_key="sk-canary-123", base_url=fake_llm.base_url, timeout_seconds=1)
    with pytest.raises(Exception) as caught:
        ask_model(DEFAULT_INSTRUCTIONS, summarize_users(USERS[:5]), model)
    problem = classify_provider_error(caught.value)
    assert (problem.kind, problem.transient) == (kind, transient) and words in problem.message
    assert "sk-canary" not in problem.message


@pytest.mark.bad_input
def test_unreachable_provider_and_configuration_gaps() -> None:
    model = build_model("openai:m", api_key="k", base_url="http://127.0.0.1:9/v1", timeout_seconds=2)
    with pytest.raises(Exception) as caught:
        ask_model("count users", summarize_users(USERS[:3]), model)
    assert classify_provider_error(caught.value).kind == "unreachable"
    assert "No API key" in provider_gap("openai:gpt-4o-mini", None, key_available=False)
    assert provider_gap("openai:llama3", "http://127.0.0.1:11434/v1", key_available=False) is None
    assert "provider:model" in provider_gap("gpt-4o", None, key_available=True)
    with pytest.raises(ValueError, match="should look like"):
        build_model("gpt-4o", api_key=None, base_url=None, timeout_seconds=1)


def test_answer_artifact_shows_a_hostile_question_answer_and_group_as_text() -> None:
    answer = InsightAnswer(instructions=HOSTILE, text=HOSTILE, rows=[GroupCount(group=HOSTILE_PARTS[0], count=1)],
                           footnote="Based on 1 user.")
    markdown = answer.as_markdown()
    assert_shown_as_text(markdown, f"Question: {HOSTILE}")
    assert_shown_as_text(markdown, f"Answer: {HOSTILE}")
    assert_shown_as_text(markdown, HOSTILE_PARTS[0])
