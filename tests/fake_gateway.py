"""An in-memory Prefect behind the gateway's public functions, for the fast tier of page tests.

The full suite drives every page against a real Prefect server; this fake stands where the gateway meets Prefect so
that pages can be opened, read and answered in well under a second each. It keeps what a page can observe: runs with
a status, pauses with the real RunInput schemas, and resumes validated by the same core rule the gateway applies
(`coerce_and_validate`) against the schema of the `PendingInput` resumed, refused once that pause is over.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from dashboard import gateway
from pipelines.backend import BackendStatus
from pipelines.catalog import Deployment
from pipelines.core.schema_input import coerce_and_validate
from pipelines.inputs import AuditedInput

FAKE_API = "http://fake-prefect.invalid/api"


@dataclass(frozen=True)
class Resume:
    """One accepted resume: which run and pause, with what values, by whom."""

    run_id: UUID
    pause_key: str
    values: dict[str, Any]


@dataclass
class FakeGateway:
    runs: dict[UUID, gateway.RunSummary] = field(default_factory=dict)
    pending: dict[UUID, gateway.PendingInput] = field(default_factory=dict)
    resumes: list[Resume] = field(default_factory=list)
    started: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _clock: itertools.count = field(default_factory=itertools.count)

    def _add(self, deployment: Deployment, status: gateway.RunStatus, parameters: dict[str, Any]) -> UUID:
        run_id = uuid4()
        created = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=next(self._clock))
        self.runs[run_id] = gateway.RunSummary(
            id=run_id, name=f"fake-run-{len(self.runs) + 1}", flow_name=deployment.flow, status=status,
            state_name=status.title(), message="", created=created, parent_task_run_id=None,
            ui_url=f"http://fake-prefect.invalid/runs/flow-run/{run_id}", parameters=parameters)
        return run_id

    def add_paused_run(self, deployment: Deployment, input_type: type[AuditedInput], description: str,
                       parameters: dict[str, Any] | None = None) -> UUID:
        """A run of `deployment` paused for `input_type` (already carrying the flow's defaults and description)."""
        run_id = self._add(deployment, "paused", parameters or {})
        self.pause(run_id, input_type, description)
        return run_id

    def pause(self, run_id: UUID, input_type: type[AuditedInput], description: str) -> None:
        """The run pauses (again) for `input_type`, under a pause key of its own."""
        self.runs[run_id] = replace(self.runs[run_id], status="paused", state_name="Paused")
        self.pending[run_id] = gateway.PendingInput(run_id, f"pause-{uuid4().hex[:8]}", description,
                                                    input_type.model_json_schema())

    def finish(self, run_id: UUID) -> None:
        self.runs[run_id] = replace(self.runs[run_id], status="completed", state_name="Completed")

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeGateway:
        for name in ("api_url", "connect", "start_run", "run", "find_run", "recent_runs", "waiting_runs", "child_runs",
                     "pending_input", "resume", "logs", "artifacts", "artifact_versions", "update_progress",
                     "parent_run", "result", "waiting_count", "secret_stored", "secret_value", "json_block"):
            monkeypatch.setattr(gateway, name, getattr(self, name))
        return self

    # The gateway's public functions, as the pages call them.
    def api_url(self) -> str:
        return FAKE_API

    def connect(self) -> BackendStatus:
        return BackendStatus(FAKE_API, FAKE_API.removesuffix("/api"), healthy=True, runner_alive=True, embedded=False)

    def start_run(self, deployment_name: str, parameters: dict[str, Any] | None = None, wait_seconds: float = 30,
                  analyst: str | None = None) -> UUID:
        self.started.append((deployment_name, dict(parameters or {})))
        run_id = self._add(Deployment(deployment_name), "scheduled", dict(parameters or {}))
        self.runs[run_id] = replace(self.runs[run_id], started_by=analyst)
        return run_id

    def run(self, run_id: UUID) -> gateway.RunSummary:
        return self.runs[run_id]

    def find_run(self, run_id: str) -> gateway.RunSummary | None:
        try:
            return self.runs.get(UUID(run_id))
        except ValueError:
            return None

    def recent_runs(self, limit: int = 50, flow_name: str | None = None) -> list[gateway.RunSummary]:
        chosen = [r for r in self.runs.values() if flow_name is None or r.flow_name == flow_name]
        return sorted(chosen, key=lambda r: r.created, reverse=True)[:limit]  # type: ignore[arg-type, return-value]

    def waiting_runs(self, limit: int = 100) -> list[gateway.RunSummary]:
        return [run for run in self.recent_runs(limit=len(self.runs)) if run.status == "paused"][:limit]

    def child_runs(self, run_id: UUID) -> list[gateway.RunSummary]:
        return []

    def pending_input(self, run_id: UUID) -> gateway.PendingInput | None:
        return self.pending.get(run_id)

    def resume(self, pending: gateway.PendingInput | UUID, values: dict[str, Any],
               analyst: str | None = None) -> dict[str, Any]:
        waiting = self.pending.get(pending if isinstance(pending, UUID) else pending.run_id)
        if waiting is None or (not isinstance(pending, UUID) and waiting.pause_key != pending.pause_key):
            raise gateway.PauseStale("This run is no longer waiting for this input: it was resumed elsewhere or ended.")
        pending, run_id = (waiting if isinstance(pending, UUID) else pending), waiting.run_id  # as the gateway does
        values = dict(values)
        if analyst and "resumed_by" in pending.schema.get("properties", {}) and not values.get("resumed_by"):
            values["resumed_by"] = analyst
        clean = coerce_and_validate(pending.schema, values)
        del self.pending[run_id]
        self.runs[run_id] = replace(self.runs[run_id], status="running", state_name="Running")
        self.resumes.append(Resume(run_id, pending.pause_key, clean))
        return clean

    def logs(self, run_id: UUID, limit: int = 50) -> list[gateway.LogLine]:
        return []

    def artifacts(self, run_id: UUID) -> list[gateway.ArtifactView]:
        return []

    def artifact_versions(self, key: str, limit: int = 50) -> list[gateway.ArtifactView]:
        return []

    def update_progress(self, run_id: UUID, key: str, percent: float, description: str) -> bool:
        return False

    def parent_run(self, run_id: UUID) -> gateway.RunSummary | None:
        return None

    def result(self, run_id: UUID) -> Any:
        return None

    def waiting_count(self) -> int:
        return len(self.pending)

    def secret_stored(self, name: str) -> bool:
        return False

    def secret_value(self, name: str) -> str | None:
        return None

    def json_block(self, name: str) -> Any:
        return None
