"""One typed settings object, read once from `HITL_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
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
    # The dashboard wakes the embedded runner when it starts or resumes a run; polling finds the runs started
    # elsewhere. Each poll costs the server about 20 ms of CPU, which inference on a small machine feels: polling
    # each second took a quarter of the idle server's CPU.
    runner_poll_seconds: int = Field(default=10, ge=1, le=3600, description="How often the embedded runner looks "
                                     "for runs started outside the dashboard (Prefect's UI or CLI).")
    backend_start_timeout_seconds: float = Field(default=90.0, gt=0)
    mode: Literal["laptop", "team"] = Field(
        default="laptop", description="laptop: the embedded server and one runner on this machine; team: an external "
                                      "Prefect server (PREFECT_API_URL) whose work-pool workers run the flows, and "
                                      "long human waits suspend their run instead of holding a worker.")
    work_pool: str = Field(default="hitl-studio", description="Team mode: the process work pool deployments run on.")
    dataset_folders: list[Path] | None = Field(
        default=None, description="Folders local review files may be read from, besides the data folder's uploads; "
                                  "unset: any local path (laptop mode). Set it on a shared server.")
    # Notifications when a run waits for a person; none of the four channels set: no notifications.
    notify_slack_url: SecretStr | None = Field(default=None, description="Slack incoming webhook URL.")
    notify_teams_url: SecretStr | None = Field(default=None, description="Microsoft Teams (Power Automate "
                                               "Workflows) webhook URL.")
    notify_webhook_url: SecretStr | None = Field(default=None, description="Any URL that takes a JSON POST "
                                                 "`{\"title\": ..., \"text\": ...}`.")
    notify_block: str | None = Field(default=None, description="An existing Prefect notification block, "
                                     "`<block-type-slug>/<block-name>`, e.g. `slack-webhook/team-alerts`.")
    notify_dashboard_url: str = Field(default="http://127.0.0.1:8501", description="The dashboard's address as "
                                      "people open it; messages link to `<this>/<page>?run=<id>`.")
    # Prefect's proactive triggers look at least 10 s ahead.
    notify_reminder_hours: float = Field(default=4.0, ge=10 / 3600, description="Remind again when a pause has "
                                         "waited this long.")
    # Kept as text and checked by pipelines.core.roles, so a typo shows as a message on the page, not a crash.
    roles: str | None = Field(
        default=None, description='Who may sign in, as a JSON object: "issuer|subject" (or, opting in to email, '
                                  '"email:name@domain") -> "analyst" or "annotator". Used when [auth] is configured.')
    roles_file: Path | None = Field(default=None, description="A JSON file of more roles, in HITL_ROLES' form.")
    dask_scheduler: str | None = Field(
        default=None, description="Address of a running Dask scheduler (tcp://host:8786) the autohelper sends its "
                                  "prediction batches to. Its workers need the project installed and PREFECT_API_URL.")
    dask_workers: int | None = Field(
        default=None, ge=1, description="Dask LocalCluster worker processes the autohelper starts for each run's "
                                        "prediction batches. Unset, and no scheduler: predict in the run's process.")
    dask_batch_texts: int = Field(default=256, ge=1, description="Texts in one prediction batch sent to Dask.")

    @model_validator(mode="after")
    def _one_dask_cluster(self) -> Settings:
        if self.dask_scheduler and self.dask_workers:
            raise ValueError("Set HITL_DASK_SCHEDULER (a running scheduler) or HITL_DASK_WORKERS (a local cluster "
                             "per run), not both.")
        return self

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
    def notifications_configured(self) -> bool:
        """Whether any notification channel is set."""
        return any([self.notify_slack_url, self.notify_teams_url, self.notify_webhook_url, self.notify_block])

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
