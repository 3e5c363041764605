"""One typed settings object, read once from `HITL_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Where data lives, where the embedded backend listens, and how long humans may take."""

    model_config = SettingsConfigDict(env_prefix="HITL_", extra="ignore")

    data_dir: Path = Field(
        default=PROJECT_ROOT / ".data",
        description="Folder for the embedded Prefect database, backend logs and project outputs.",
    )
    server_host: str = "127.0.0.1"
    server_port: int = Field(default=4280, ge=1, le=65535)
    randomuser_url: str = "https://randomuser.me/api/"
    randomuser_timeout_seconds: float = Field(default=10.0, gt=0)
    # A person answers a pause; an hour (Prefect's hidden default) is too short for a working day.
    pause_timeout_seconds: int = Field(default=8 * 3600, ge=10)
    # Prefect polls a paused run every 10 s by default; a person clicking "Resume" should not wait that long.
    pause_poll_seconds: float = Field(default=0.25, gt=0, le=10)
    llm_model: str = Field(default="openai:gpt-4o-mini", description="pydantic-ai model string, provider:model.")
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible server, e.g. Ollama's /v1.")
    llm_secret_block: str = "openai-creds-interactive-workflows"
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_retry_delays_seconds: list[float] = Field(default=[2.0, 5.0, 15.0], description="Backoff, one per retry.")
    answer_store: str | None = Field(default=None, description="Crowd answers database URL (PostgreSQL works); "
                                     "default an SQLite file in the data folder.")
    run_data_url: str | None = Field(default=None, description="Where run data lives (uploads, run tables, model "
                                     "versions, results): unset, the data folder; a PostgreSQL (or SQLite) URL, a "
                                     "table in that database, shared by the dashboard and every worker.")
    toloka_project_id: str | None = Field(default=None, description="Toloka project the crowd loop posts pools "
                                          "to; Toloka is offered only when this and an API key are set.")
    toloka_url: str = "https://toloka.dev/api/v1"
    toloka_secret_block: str = Field(default="toloka-api-key", description="Secret block with the Toloka API "
                                     "key; the TOLOKA_API_KEY environment variable is used when it is absent.")
    runner_process_limit: int = Field(default=25, ge=1, description="Flow runs the runner executes at once.")
    backend_start_timeout_seconds: float = Field(default=90.0, gt=0)
    dataset_folders: list[Path] | None = Field(
        default=None, description="Folders local review files may be read from, besides the data folder's uploads; "
                                  "unset: any local path (laptop mode). Set it on a shared server.")

    @property
    def prefect_home(self) -> Path:
        return self.data_dir / "prefect"

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.prefect_home / 'prefect.db'}"

    @property
    def allowed_dataset_folders(self) -> list[Path] | None:
        """Where local datasets may be read from: the uploads folder and `dataset_folders`; None when unrestricted."""
        return None if self.dataset_folders is None else [self.data_dir / "uploads", *self.dataset_folders]

    @property
    def answer_store_url(self) -> str:
        return self.answer_store or f"sqlite:///{self.data_dir / 'answers.db'}"

    @property
    def embedded_api_url(self) -> str:
        return f"http://{self.server_host}:{self.server_port}/api"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment on first use."""
    return Settings()
