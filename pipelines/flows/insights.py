"""Marvin insights ("Extract User Insights" in seed 000): the analyst asks, an LLM answers on a summary."""

from __future__ import annotations

import os
from typing import Any

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.blocks.system import Secret
from prefect.client.schemas.objects import State, TaskRun

from pipelines.blocks import JSON
from pipelines.catalog import INSIGHT_ARTIFACT_KEY, INSIGHT_TABLE_ARTIFACT_KEY, USERS_BLOCK_NAME
from pipelines.core.insights import (
    DataSummary,
    InsightAnswer,
    ask_model,
    build_model,
    classify_provider_error,
    summarize_users,
)
from pipelines.core.settings import get_settings
from pipelines.flows.common import ask, publish_result
from pipelines.inputs import InsightInput, with_defaults

INSTRUCTIONS_DESCRIPTION = """\
### What would you like to know about the {users} users?

The model sees the column schema, computed counts and a sample of at most 20 records, not every record.
Instructions that group, count or rank also get a table and a chart.
"""
_KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


class LLMProviderFailed(RuntimeError):
    """The LLM provider could not answer; the message is for people and never holds the key."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class NoUsersYet(RuntimeError):
    """There are no stored users to ask about."""


def load_api_key(secret_block: str, model_name: str) -> str | None:
    """The API key from the Secret block, else the provider's environment variable, else HITL_LLM_API_KEY."""
    try:
        return str(Secret.load(secret_block).get())
    except ValueError:  # no such block
        provider = model_name.partition(":")[0]
        return os.environ.get(_KEY_VARIABLES.get(provider, ""), "") or os.environ.get("HITL_LLM_API_KEY")


def _retry_if_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    error = state.result(raise_on_failure=False)
    return isinstance(error, LLMProviderFailed) and error.transient


@task(retry_condition_fn=_retry_if_transient)
def ask_llm(instructions: str, summary: DataSummary, model_name: str, base_url: str | None) -> InsightAnswer:
    """Ask the model, turning provider failures into a clear, key-free message."""
    settings = get_settings()
    api_key = load_api_key(settings.llm_secret_block, model_name)
    model = build_model(model_name, api_key=api_key, base_url=base_url, timeout_seconds=settings.llm_timeout_seconds)
    try:
        return ask_model(instructions, summary, model)
    except Exception as exc:  # any provider error; classified, never shown raw (it may echo the key)
        problem = classify_provider_error(exc)
        get_run_logger().warning("LLM call failed: %s", problem.message)
        raise LLMProviderFailed(problem.message, problem.transient) from None


@flow(name="extract-user-insights", persist_result=True)
def extract_user_insights(
    model: str | None = None, base_url: str | None = None, source_block: str = USERS_BLOCK_NAME
) -> dict[str, Any]:
    """Pause for an instruction, ask the LLM on a summary of the stored users, publish the answer."""
    settings = get_settings()
    try:
        users = JSON.load(source_block).value
    except ValueError:
        raise NoUsersYet("No users yet: run an ingestion first.") from None
    summary = summarize_users(users)
    description = INSTRUCTIONS_DESCRIPTION.format(users=len(users))
    answer, _ = ask(with_defaults(InsightInput, description=description,
                                  input_instructions=InsightInput.model_fields["input_instructions"].default),
                    "instruction")
    model_name = model or settings.llm_model
    delays = settings.llm_retry_delays_seconds
    insight = ask_llm.with_options(retries=len(delays), retry_delay_seconds=delays)(
        answer.input_instructions, summary, model_name, base_url or settings.llm_base_url
    )
    get_run_logger().info("Answer: %s", insight.text)
    create_markdown_artifact(key=INSIGHT_ARTIFACT_KEY, markdown=insight.as_markdown(), description=model_name)
    rows = [row.model_dump() for row in insight.rows or []]
    if rows:
        create_table_artifact(key=INSIGHT_TABLE_ARTIFACT_KEY, table=rows, description=insight.instructions)
    return publish_result({"instructions": insight.instructions, "text": insight.text, "rows": rows,
                           "footnote": insight.footnote})
