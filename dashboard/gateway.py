"""The only module through which the dashboard talks to the Prefect API.

Pages call these functions synchronously and get small frozen dataclasses back; no Prefect object leaks out.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from prefect.blocks.system import Secret
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import ArtifactUpdate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.responses import SetStateStatus
from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort, LogSort
from prefect.exceptions import MissingResult, ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

from pipelines.backend import BackendStatus, ensure_backend, wake_runner
from pipelines.blocks import JSON
from pipelines.core.run_data import load_result, run_data_store
from pipelines.core.schema_input import coerce_and_validate
from pipelines.core.settings import get_settings

RunStatus = Literal["scheduled", "running", "paused", "completed", "failed", "cancelled", "crashed"]
TERMINAL_STATUSES: frozenset[RunStatus] = frozenset({"completed", "failed", "cancelled", "crashed"})
STARTED_BY_TAG = "started-by:"

_STATUS_BY_TYPE: dict[StateType, RunStatus] = {
    StateType.SCHEDULED: "scheduled",
    StateType.PENDING: "scheduled",
    StateType.RUNNING: "running",
    StateType.PAUSED: "paused",
    StateType.COMPLETED: "completed",
    StateType.FAILED: "failed",
    StateType.CANCELLED: "cancelled",
    StateType.CANCELLING: "cancelled",
    StateType.CRASHED: "crashed",
}


class GatewayError(RuntimeError):
    """A Prefect call failed in a way the page should show as a message."""


class PauseStale(GatewayError):
    """The pause a form was rendered for is over: resumed elsewhere, timed out, or the run ended."""


@dataclass(frozen=True)
class RunSummary:
    id: UUID
    name: str
    flow_name: str
    status: RunStatus
    state_name: str
    message: str
    created: datetime | None
    parent_task_run_id: UUID | None
    ui_url: str
    parameters: dict[str, Any]
    started_by: str | None = None  # who started it from the dashboard (its `started-by:` tag)


@dataclass(frozen=True)
class PendingInput:
    """What a paused run waits for: a form description, its JSON schema and the pause it belongs to."""

    run_id: UUID
    pause_key: str
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class LogLine:
    timestamp: datetime
    level: int
    message: str


@dataclass(frozen=True)
class ArtifactView:
    key: str | None
    type: str
    description: str
    data: Any
    created: datetime | None
    flow_run_id: UUID | None


def api_url() -> str:
    """The Prefect API the dashboard uses: `PREFECT_API_URL` when set, else the embedded server."""
    return os.environ.get("PREFECT_API_URL") or get_settings().embedded_api_url


def _embedded() -> bool:
    """Whether the dashboard's API is the embedded backend's server (laptop mode)."""
    return api_url().rstrip("/") == get_settings().embedded_api_url


def connect() -> BackendStatus:
    """Make sure a backend is there (starting the embedded one if needed) and report its status."""
    return ensure_backend()


# One started client per API URL, shared by every call and every Streamlit thread: building one (and the
# settings it is built under) costs tens of milliseconds of CPU, and httpx's client may be shared between threads.
_clients: dict[str, SyncPrefectClient] = {}
_clients_lock = threading.Lock()


@contextmanager
def _settings() -> Iterator[None]:
    """Prefect's settings pointed at the dashboard's API, for calls that read them (block loads, run results)."""
    updates: dict[Any, Any] = {PREFECT_API_URL: api_url()}
    if _embedded():
        # Results of embedded runs are files in the embedded backend's storage folder.
        updates[PREFECT_LOCAL_STORAGE_PATH] = get_settings().prefect_home / "storage"
    with temporary_settings(updates=updates):
        yield


@contextmanager
def _client() -> Iterator[SyncPrefectClient]:
    """The shared client for the dashboard's current API URL, built on first use."""
    url = api_url()
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            with _settings():
                client = get_client(sync_client=True)
            client.__enter__()  # started once, left open for the life of the process
            _clients[url] = client
    yield client


def _summary(flow_run: FlowRun, flow_names: dict[UUID, str]) -> RunSummary:
    state = flow_run.state
    status = _STATUS_BY_TYPE.get(state.type, "running") if state else "scheduled"
    return RunSummary(
        id=flow_run.id,
        name=flow_run.name,
        flow_name=flow_names.get(flow_run.flow_id, ""),
        status=status,
        state_name=state.name if state else "Scheduled",
        message=(state.message or "") if state else "",
        created=flow_run.created,
        parent_task_run_id=flow_run.parent_task_run_id,
        ui_url=f"{api_url().rstrip('/').removesuffix('/api')}/runs/flow-run/{flow_run.id}",
        parameters=dict(flow_run.parameters or {}),
        started_by=next((tag.removeprefix(STARTED_BY_TAG) for tag in flow_run.tags
                         if tag.startswith(STARTED_BY_TAG)), None),
    )


# A flow id names one flow for good (a flow deleted and made again gets a new id), so each flow's name is read
# once per API: a watching page reads its run every second, and a run list names runs of a few flows.
_flow_names: dict[tuple[str, UUID], str] = {}


def _summaries(client: SyncPrefectClient, flow_runs: list[FlowRun]) -> list[RunSummary]:
    url, flow_names = api_url(), {}
    for flow_id in {run.flow_id for run in flow_runs}:
        if (url, flow_id) not in _flow_names:
            _flow_names[url, flow_id] = client.read_flow(flow_id).name
        flow_names[flow_id] = _flow_names[url, flow_id]
    return [_summary(run, flow_names) for run in flow_runs]


def start_run(deployment_name: str, parameters: dict[str, Any] | None = None, wait_seconds: float = 30,
              analyst: str | None = None) -> UUID:
    """Start a run of a deployment (`flow-name/deployment-name`) and return its id.

    Waits briefly for the deployment to be registered, since a runner that just started registers it late.
    `analyst` (who starts it) is kept as the run's tag `started-by:<analyst>`, which Prefect's UI shows too.
    """
    deadline = time.monotonic() + wait_seconds
    with _client() as client:
        while True:
            try:
                deployment = client.read_deployment_by_name(deployment_name)
                break
            except ObjectNotFound:
                if time.monotonic() > deadline:
                    raise GatewayError(
                        f"Deployment {deployment_name!r} is not registered. Is the runner serving it?"
                    ) from None
                time.sleep(0.5)
        flow_run = client.create_flow_run_from_deployment(
            deployment.id, parameters=parameters or {}, tags=[f"{STARTED_BY_TAG}{analyst}"] if analyst else None)
    if _embedded():
        wake_runner(get_settings())
    return flow_run.id


def run(run_id: UUID) -> RunSummary:
    """A run's status, state name and message."""
    with _client() as client:
        return _summaries(client, [client.read_flow_run(run_id)])[0]


def find_run(run_id: str) -> RunSummary | None:
    """The run with this id (as text, e.g. from a URL), or None when the text names no run."""
    try:
        wanted = UUID(run_id)
    except ValueError:
        return None
    with _client() as client:
        try:
            return _summaries(client, [client.read_flow_run(wanted)])[0]
        except ObjectNotFound:
            return None


def recent_runs(limit: int = 50, flow_name: str | None = None) -> list[RunSummary]:
    """The newest flow runs (of one flow, if named), newest first."""
    flow_filter = FlowFilter(name=FlowFilterName(any_=[flow_name])) if flow_name else None
    with _client() as client:
        flow_runs = client.read_flow_runs(flow_filter=flow_filter, sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit)
        return _summaries(client, sorted(flow_runs, key=lambda r: r.created or datetime.min, reverse=True))


def child_runs(run_id: UUID) -> list[RunSummary]:
    """Subflow runs started by a run."""
    with _client() as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id]))
        )
        return _summaries(client, children)


def pending_input(run_id: UUID) -> PendingInput | None:
    """The input a paused run waits for, or None when it is not paused for input."""
    with _client() as client:
        try:
            flow_run = client.read_flow_run(run_id)
        except ObjectNotFound:
            return None  # deleted
        state = flow_run.state
        if state is None or not state.is_paused() or not state.state_details.run_input_keyset:
            return None
        keyset = state.state_details.run_input_keyset
        schema = _read_input(client, run_id, keyset["schema"])
        if schema is None:
            return None  # paused a moment ago; the flow has not saved its schema yet
        description = _read_input(client, run_id, keyset["description"]) or ""
        return PendingInput(run_id, str(state.state_details.pause_key), description, schema)


def _read_input(client: SyncPrefectClient, run_id: UUID, key: str) -> Any:
    """A flow run input's JSON value, or None when it does not exist (yet)."""
    try:
        return json.loads(client.read_flow_run_input(run_id, key))
    except ObjectNotFound:
        return None
    except PrefectHTTPStatusError as exc:
        if exc.response.status_code == 404:
            return None
        raise


def resume(pending: PendingInput | UUID, values: dict[str, Any], analyst: str | None = None) -> dict[str, Any]:
    """Resume the pause `pending` with `values`, validated once against the schema the person's form was drawn from.

    The page passes the `PendingInput` it drew its form for: the run is read once here to check that this pause
    (by its key) is still the one waiting, and nothing else is read again. A run id instead answers whatever the
    run waits for now (for scripts and tests that draw no form). `analyst` fills the audit field `resumed_by` when
    the pause has one and the values leave it empty.

    Raises:
        InputInvalid: the values do not fit the schema; the run stays paused.
        PauseStale: the run no longer waits for this input (resumed elsewhere, timed out, ended).
    """
    if isinstance(pending, UUID):
        found = pending_input(pending)
        if found is None:
            raise PauseStale(_NOT_WAITING)
        pending = found
    values = dict(values)
    if analyst and "resumed_by" in pending.schema.get("properties", {}) and not values.get("resumed_by"):
        values["resumed_by"] = analyst
    with _client() as client:
        if _current_pause_key(client, pending.run_id) != pending.pause_key:
            raise PauseStale(_NOT_WAITING)
        clean = coerce_and_validate(pending.schema, values)
        outcome = client.resume_flow_run(pending.run_id, run_input=clean)
    if outcome.status != SetStateStatus.ACCEPT:
        reason = getattr(outcome.details, "reason", "") or outcome.status.value
        raise PauseStale(f"Prefect did not resume the run: {reason}")
    if _embedded() and outcome.state is not None and outcome.state.is_scheduled():
        # A pause the runner took over after a restart is rescheduled by its resume: the runner starts it again.
        # A run resumed in its own process (Running) needs no runner, and a poll now would only contend for the
        # server's SQLite while it records the resume (which once cost an automation the run's Running event).
        wake_runner(get_settings())
    return clean


_NOT_WAITING = "This run is no longer waiting for this input: it was resumed elsewhere or ended."


def _current_pause_key(client: SyncPrefectClient, run_id: UUID) -> str | None:
    """The key of the pause the run waits in now, or None when it waits in none (or is gone)."""
    try:
        state = client.read_flow_run(run_id).state
    except ObjectNotFound:
        return None
    if state is None or not state.is_paused():
        return None
    return str(state.state_details.pause_key)


def logs(run_id: UUID, limit: int = 50) -> list[LogLine]:
    """The run's most recent log lines, oldest first."""
    with _client() as client:
        records = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])),
            limit=limit,
            sort=LogSort.TIMESTAMP_DESC,
        )
    return [LogLine(r.timestamp, r.level, r.message) for r in reversed(records)]


def artifacts(run_id: UUID) -> list[ArtifactView]:
    """Every artifact a run created, oldest first (the server's default order is by random id), table data parsed."""
    with _client() as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])),
            sort=ArtifactSort.CREATED_DESC,
        )
    return [_artifact_view(a) for a in reversed(found)]


def _artifact_view(artifact: Any) -> ArtifactView:
    data = artifact.data
    if artifact.type == "table" and isinstance(data, str):
        data = json.loads(data)
    return ArtifactView(
        artifact.key, artifact.type or "", artifact.description or "", data, artifact.created, artifact.flow_run_id
    )


def artifact_versions(key: str, limit: int = 50) -> list[ArtifactView]:
    """Every version of a keyed artifact, newest first."""
    with _client() as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=limit,
        )
    return [_artifact_view(a) for a in found]


def update_progress(run_id: UUID, key: str, percent: float, description: str) -> bool:
    """Move a run's newest progress artifact with this key; False when the run has none."""
    with _client() as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]),
                                           flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
        if not found:
            return False
        # The client announces the update as an event through Prefect's process-wide events worker, which finds
        # its server in the settings, not in this client: outside them it would start a temporary local server
        # in the dashboard's process and send the event there. Of the gateway's calls only this one emits events,
        # so only it pays for entering the settings.
        with _settings():
            client.update_artifact(found[0].id, ArtifactUpdate(data=min(max(percent, 0.0), 100.0),
                                                               description=description))
    return True


def parent_run(run_id: UUID) -> RunSummary | None:
    """The run that started this one as a subflow, if any."""
    with _client() as client:
        flow_run = client.read_flow_run(run_id)
        if flow_run.parent_task_run_id is None:
            return None
        parent_id = client.read_task_run(flow_run.parent_task_run_id).flow_run_id
        return _summaries(client, [client.read_flow_run(parent_id)])[0] if parent_id else None


def result(run_id: UUID) -> Any:
    """The return value of a completed run, or None when it has none (not completed, not kept).

    Read from the run-data store, where the flows keep what the pages read, so the dashboard never needs the
    runner's disk. Runs from before that are read from the embedded backend's result storage (laptop mode only).
    """
    with _client() as client:
        flow_run = client.read_flow_run(run_id)
    if flow_run.state is None or not flow_run.state.is_completed():
        return None
    kept = load_result(run_data_store(), str(run_id))
    if kept is not None or not _embedded():
        return kept
    with _settings():  # the result is read from the storage the settings name
        try:
            return flow_run.state.result(raise_on_failure=False)
        except MissingResult:  # a run that kept no result (its storage was cleared, or it persisted none)
            return None


def waiting_count() -> int:
    """How many runs wait for a person."""
    with _client() as client:
        paused = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            )
        )
    return len(paused)


def waiting_runs(limit: int = 100) -> list[RunSummary]:
    """The runs waiting for a person (paused), newest first, however many newer runs the history holds."""
    with _client() as client:
        paused = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit,
        )
        return _summaries(client, sorted(paused, key=lambda r: r.created or datetime.min, reverse=True))


def secret_stored(name: str) -> bool:
    """Whether a Secret block exists (its value is never read here)."""
    with _client() as client:
        try:
            client.read_block_document_by_name(name=name, block_type_slug="secret", include_secrets=False)
        except ObjectNotFound:
            return False
    return True


def secret_value(name: str) -> str | None:
    """A Secret block's value, for a client the dashboard itself must authenticate (never shown on a page)."""
    with _settings():  # points Block.load at the dashboard's Prefect API
        try:
            return str(Secret.load(name).get())
        except ValueError:  # Prefect's answer for a missing block
            return None


def store_secret(name: str, value: str) -> None:
    """Create or replace a Secret block; the value is written once and never returned."""
    if not value.strip():
        raise ValueError("The key is empty.")
    with _settings():  # points Block.save at the dashboard's Prefect API
        Secret(value=value.strip()).save(name, overwrite=True)


def json_block(name: str) -> Any:
    """The value of one of the project's JSON blocks, or None when it does not exist."""
    with _settings():
        try:
            return JSON.load(name).value
        except ValueError:  # Prefect's answer for a missing block
            return None
