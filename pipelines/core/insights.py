"""LLM insights on user records through marvin, any pydantic-ai provider, and computed insights beside them.

Large data never goes into a prompt whole: the model sees the column schema, computed aggregates and a bounded
sample, and the answer's footnote says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from pipelines.core.markdown import escape_markdown
from pipelines.core.users import flatten_users

DEFAULT_INSTRUCTIONS = "Group by location and count the number of users in each location."
SAMPLE_SIZE = 20
TOP_GROUPS = 25
_NOT_SENT_PREFIXES = ("login.", "picture.", "id.")
AGE_BANDS = [0, 18, 25, 35, 45, 55, 65, 200]
AGE_LABELS = ["<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"]

# Words that mark an instruction whose natural answer is a table of counts.
_TABLE_WORDS = re.compile(r"\b(group|count|counts|how many|per|top[- ]?\d*|most|rank|distribution|breakdown|table)\b",
                          re.IGNORECASE)


class GroupCount(BaseModel):
    """One row of a tabular answer."""

    group: str = Field(description="The group's name, e.g. a country or city.")
    count: int = Field(description="How many users are in the group.")


@dataclass(frozen=True)
class DataSummary:
    """What the model is shown instead of the whole data set."""

    n_users: int
    columns: dict[str, str]
    aggregates: dict[str, dict[str, int]]
    sample: list[dict[str, Any]]

    @property
    def footnote(self) -> str:
        return (
            f"Based on {self.n_users} users: the model saw the column schema, computed counts (top "
            f"{TOP_GROUPS} per field) and a sample of {len(self.sample)} records, not every record."
        )

    def as_prompt_data(self) -> str:
        return json.dumps(
            {"n_users": self.n_users, "columns": self.columns, "counts": self.aggregates, "sample": self.sample},
            default=str,
        )


@dataclass(frozen=True)
class InsightAnswer:
    instructions: str
    text: str
    rows: list[GroupCount] | None
    footnote: str

    def as_markdown(self) -> str:
        table = ""
        if self.rows:
            table = "\n\n| group | count |\n| --- | --- |\n" + "\n".join(
                f"| {escape_markdown(row.group)} | {row.count} |" for row in self.rows
            )
        # The question is typed and the answer generated: both shown as written, never as links or images.
        return (f"**Question:** {escape_markdown(self.instructions)}\n\n**Answer:** {escape_markdown(self.text)}"
                f"{table}\n\n*{self.footnote}*")


def age_bands(ages: pd.Series) -> pd.Series:
    return pd.cut(ages, bins=AGE_BANDS, labels=AGE_LABELS, right=False)


def computed_insights(users: Sequence[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """Counts that need no model: users by country, by gender and by age band."""
    flat = flatten_users(list(users))
    tables: dict[str, pd.DataFrame] = {}
    for title, column in (("Users by country", "location.country"), ("Users by gender", "gender")):
        if column in flat:
            counts = flat[column].fillna("unknown").value_counts()
            tables[title] = counts.rename_axis("group").reset_index(name="count")
    if "dob.age" in flat:
        bands = age_bands(pd.to_numeric(flat["dob.age"], errors="coerce")).value_counts(sort=False)
        tables["Users by age band"] = bands.rename_axis("group").reset_index(name="count")
    return tables


def summarize_users(users: Sequence[dict[str, Any]], sample_size: int = SAMPLE_SIZE) -> DataSummary:
    """The column schema, per-field counts for categorical fields and a bounded, evenly spaced sample."""
    flat = flatten_users(list(users))
    columns = {column: str(dtype) for column, dtype in flat.dtypes.items()}
    # Credentials, picture links and national ids help no question and should not leave the machine.
    shown = flat[[c for c in flat.columns if not c.startswith(_NOT_SENT_PREFIXES)]]
    aggregates = {}
    for column in shown.columns:
        values = shown[column].dropna().astype(str)
        if 0 < values.nunique() <= min(TOP_GROUPS * 4, max(2, len(values) // 2)):  # categorical: values repeat
            aggregates[column] = values.value_counts().head(TOP_GROUPS).to_dict()
    step = max(1, len(shown) // sample_size) if len(shown) else 1
    sample = shown.iloc[::step].head(sample_size).to_dict(orient="records")
    return DataSummary(n_users=len(flat), columns=columns, aggregates=aggregates, sample=sample)


def wants_table(instructions: str) -> bool:
    """Whether an instruction asks for grouped counts, a ranking or a breakdown."""
    return bool(_TABLE_WORDS.search(instructions))


def ask_model(instructions: str, summary: DataSummary, model: Any) -> InsightAnswer:
    """Ask marvin to answer the instruction on the summary; also ask for typed rows when a table fits.

    `model` is anything marvin's Agent accepts: a pydantic-ai `Model` or a model string.
    """
    import marvin  # imported lazily: marvin opens its own database on import

    instructions = instructions.strip()
    if not instructions:
        raise ValueError("Write an instruction for the model first.")
    agent = marvin.Agent(model=model, name="Insights analyst")
    data = summary.as_prompt_data()
    rows = None
    if wants_table(instructions):
        rows = marvin.extract(data, target=GroupCount, instructions=instructions, agent=agent)
    answers = marvin.extract(data, target=str, instructions=f"{instructions} Answer in plain sentences.", agent=agent)
    return InsightAnswer(instructions, " ".join(answers).strip(), rows, summary.footnote)


ProblemKind = Literal["auth", "rate_limit", "server", "timeout", "unreachable", "bad_request", "malformed", "other"]


@dataclass(frozen=True)
class ProviderProblem:
    """A provider failure in words fit for a person; never carries the key or the raw provider text."""

    kind: ProblemKind
    transient: bool
    message: str


def classify_provider_error(exc: BaseException) -> ProviderProblem:
    """Name what went wrong with the LLM provider and whether retrying can help."""
    from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError, UnexpectedModelBehavior

    if isinstance(exc, ModelHTTPError):
        status = exc.status_code
        if status in (401, 403):
            return ProviderProblem("auth", False, f"The LLM provider refused the API key (HTTP {status}). "
                                   "Check the key stored in the Secret block or environment.")
        if status == 429:
            return ProviderProblem("rate_limit", True, "The LLM provider is rate limiting us (HTTP 429). "
                                   "Wait a minute or raise the account's limits.")
        if status >= 500:
            return ProviderProblem("server", True, f"The LLM provider failed (HTTP {status}). Try again later.")
        return ProviderProblem("bad_request", False, f"The LLM provider rejected the request (HTTP {status}). "
                               "Check the model name.")
    if isinstance(exc, ModelAPIError):
        if "timed out" in str(exc).lower():
            return ProviderProblem("timeout", True, "The LLM provider did not answer in time.")
        return ProviderProblem("unreachable", True, "The LLM provider could not be reached. Check the base URL "
                               "and the network.")
    if isinstance(exc, UnexpectedModelBehavior):  # pydantic-ai has already asked the model again
        return ProviderProblem("malformed", False, "The model's answer did not fit the form asked for (a malformed "
                               "tool call), even when asked again. Try again, or use a more capable model.")
    return ProviderProblem("other", False, f"The model call failed: {type(exc).__name__}.")


def build_model(model_name: str, *, api_key: str | None, base_url: str | None, timeout_seconds: float) -> Any:
    """A pydantic-ai model for `provider:model`, with SDK retries off (the flow retries with backoff).

    `openai:` with a base URL covers OpenAI-compatible local servers (Ollama, vLLM, llama.cpp). Other
    providers fall back to pydantic-ai's own inference, which reads their usual environment variables.
    """
    provider, _, name = model_name.partition(":")
    if not name:
        raise ValueError(f"Model {model_name!r} should look like 'openai:gpt-4o-mini' or 'anthropic:claude-…'.")
    if provider == "openai":
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        # Local servers ignore the key, but the SDK insists on one.
        client = AsyncOpenAI(api_key=api_key or "unused", base_url=base_url, max_retries=0, timeout=timeout_seconds)
        return OpenAIChatModel(name, provider=OpenAIProvider(openai_client=client))
    if provider == "anthropic":
        from anthropic import AsyncAnthropic
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        anthropic = AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_seconds)
        return AnthropicModel(name, provider=AnthropicProvider(anthropic_client=anthropic))
    from pydantic_ai.models import infer_model

    return infer_model(model_name)


def provider_gap(model_name: str, base_url: str | None, key_available: bool) -> str | None:
    """Why the configured provider cannot answer yet, or None when it can."""
    provider, _, name = model_name.partition(":")
    if not name:
        return f"The model {model_name!r} is not in `provider:model` form (e.g. `openai:gpt-4o-mini`)."
    if base_url:
        return None  # a local OpenAI-compatible server needs no key
    if not key_available:
        return (f"No API key for `{provider}`: save one under **LLM provider** at the top of this page (it is "
                "kept in a Prefect Secret block), or set the provider's "
                "environment variable (e.g. OPENAI_API_KEY) for the runner, or point the base URL at a local "
                "OpenAI-compatible server such as Ollama.")
    return None
