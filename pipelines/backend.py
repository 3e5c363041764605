"""The embedded backend: a local Prefect server (SQLite) and a runner serving the project's deployments.

Both run as detached processes recorded in the data folder, so they outlive Streamlit reruns and restarts:
`ensure_backend()` reuses them when they are alive and starts only what is missing. A run paused for a person
waits inside a flow process the runner started; when the runner dies, a new one takes over those pauses.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator
from uuid import UUID

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterParentTaskRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Paused

from pipelines.core.settings import Settings, get_settings

RUNNER_MODULE = "pipelines.serve"
# What a flow run's process runs, by its command line: the warm runner forks runs from a fork server, Prefect's own
# runner (where there is no fork server) starts `python -m prefect.engine`.
FLOW_RUN_COMMANDS = ("multiprocessing.forkserver", "prefect.engine")
RUN_EXIT_GRACE_S = 10.0  # how long a stop waits for the runner's runs to end after the signal before killing them


class BackendStartError(RuntimeError):
    """The embedded Prefect server or runner did not come up; the message names the log to read."""


@dataclass(frozen=True)
class BackendStatus:
    """What the sidebar shows about the backend."""

    api_url: str
    ui_url: str
    healthy: bool
    runner_alive: bool | None  # None: an external server whose runner we do not manage
    embedded: bool


def api_healthy(api_url: str, timeout_seconds: float = 2.0) -> bool:
    """Whether a Prefect API answers its health endpoint."""
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout_seconds).status_code == 200
    except httpx.HTTPError:
        return False


def ui_url_for(api_url: str) -> str:
    return api_url.rstrip("/").removesuffix("/api")


def backend_env(settings: Settings) -> dict[str, str]:
    """Environment for the server, the runner and anything else that should use the embedded backend."""
    env = dict(os.environ)
    env.update(
        PREFECT_HOME=str(settings.prefect_home),
        PREFECT_API_URL=settings.embedded_api_url,
        PREFECT_API_DATABASE_CONNECTION_URL=settings.database_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_API_URL=settings.embedded_api_url,
        HITL_DATA_DIR=str(settings.data_dir),
        MARVIN_HOME_PATH=str(settings.data_dir / "marvin"),
        # A paused run keeps its process waiting for a person; Prefect's default of 5 would let five open
        # questions block every new run.
        PREFECT_RUNNER_PROCESS_LIMIT=str(settings.runner_process_limit),
        # Runs the dashboard starts are started at once (`wake_runner`); others within this, not Prefect's 10 s.
        PREFECT_RUNNER_POLL_FREQUENCY=str(settings.runner_poll_seconds),
        # The server's triggers service evaluates automations and runs their actions: the notifications that a
        # run waits for a person (pipelines.notifications) depend on it, whatever a Prefect profile says.
        PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED="true",
        **EMBEDDED_SERVICE_LOOPS,
    )
    return env


# The embedded server's periodic services, each checked less often than Prefect's defaults (5 s, 15 s): every
# check is a task through the server's in-process task queue, and together they cost the idle server 2.6 s of CPU a
# minute, taken from the runs on the same two cores (about 2.0 s with these). What they look for here is rare or slow by
# nature: a run late to start (the runner starts runs at once), a pause past its timeout (hours; at least 10 s),
# workers and leases (the embedded backend has a runner, not workers), deployments given a schedule.
EMBEDDED_SERVICE_LOOPS = {
    "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "30",
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_LOOP_SECONDS": "30",
    "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "30",
    "PREFECT_SERVER_SERVICES_CLEANUP_RECONCILER_LOOP_SECONDS": "60",
    "PREFECT_SERVER_SERVICES_FOREMAN_LOOP_SECONDS": "60",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "60",
}


def _backend_dir(settings: Settings) -> Path:
    path = settings.data_dir / "backend"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runner_wake_address(settings: Settings) -> Path:
    """Where the embedded runner listens to be told that a run is waiting (a Unix datagram socket)."""
    return _backend_dir(settings) / "runner.wake"


def wake_runner(settings: Settings) -> None:
    """Tell the embedded runner that a run is waiting, so that it starts the run now rather than on its next poll.
    Nobody listening (no runner yet, one that could not listen, a team's workers) is not an error: the run is then
    found by polling."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as wake:
        wake.setblocking(False)
        try:
            wake.sendto(b"run", str(runner_wake_address(settings)))
        except OSError:
            pass


@contextmanager
def _start_lock(settings: Settings) -> Iterator[None]:
    # Several Streamlit sessions may rerun at once; only one of them may start processes.
    with open(_backend_dir(settings) / "start.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _process_matches(pid, pid_file.stem) else None


def _process_matches(pid: int, role: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    marker = RUNNER_MODULE if role == "runner" else "server start"
    return marker in cmdline


def _spawn(role: str, args: list[str], settings: Settings) -> int:
    backend_dir = _backend_dir(settings)
    log = open(backend_dir / f"{role}.log", "ab")
    process = subprocess.Popen(
        [sys.executable, *args],
        env=backend_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # survives the Streamlit process that started it
        cwd=str(settings.data_dir),
    )
    (backend_dir / f"{role}.pid").write_text(str(process.pid))
    return process.pid


def _flow_run_processes(group: int) -> list[int]:
    """The flow run processes in a runner's process group (Prefect's engine, or forked from the warm server)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pgid = int(stat.read_text().rsplit(")", 1)[1].split()[2])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if pgid == group and any(command.encode() in cmdline for command in FLOW_RUN_COMMANDS):
            found.append(int(stat.parent.name))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _end_orphaned_flow_runs(settings: Settings) -> None:
    """Kill the flow run processes a dead runner left behind (its process group), before a new runner starts.

    The new runner takes their paused runs over (`pipelines.serve`); one left polling would run them a second time.
    """
    try:
        group = int((_backend_dir(settings) / "runner.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    _kill(_flow_run_processes(group))


def _adopt_orphaned_pauses(api_url: str) -> list[UUID]:
    """Make every in-process pause of a deployment run, whose process died with the runner, one that a resume
    reschedules: the new runner then runs the flow again, and its pause, already answered, returns the person's
    input instead of asking again. The pause keeps its key, input keys and deadline, so an open form still works.

    Prefect reschedules no subflow; a pause inside one is left as it is. Returns the runs taken over.
    """
    adopted = []
    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        paused = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
            deployment_id=FlowRunFilterDeploymentId(is_null_=False),
            parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True),
        ))
        for flow_run in paused:
            details = flow_run.state.state_details
            if details.pause_reschedule:
                continue  # rescheduled on resume already
            state = Paused(pause_expiration_time=details.pause_timeout, reschedule=True, pause_key=details.pause_key,
                           state_details={"run_input_keyset": details.run_input_keyset})
            state.message = flow_run.state.message
            client.set_flow_run_state(flow_run.id, state, force=True)
            adopted.append(flow_run.id)
    return adopted


def runner_alive(settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    return _read_pid(_backend_dir(settings) / "runner.pid") is not None


def ensure_backend(settings: Settings | None = None) -> BackendStatus:
    """Use `PREFECT_API_URL` when set; otherwise start (or reuse) the embedded server and runner."""
    settings = settings or get_settings()
    external = os.environ.get("PREFECT_API_URL")
    if external and external.rstrip("/") != settings.embedded_api_url:
        return BackendStatus(external, ui_url_for(external), api_healthy(external), None, embedded=False)
    if settings.mode == "team":
        raise BackendStartError("Team mode (HITL_MODE=team) uses the team's Prefect server and starts none here: set "
                                "PREFECT_API_URL to it, e.g. http://prefect-server:4200/api.")

    api_url = settings.embedded_api_url
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    with _start_lock(settings):
        if not api_healthy(api_url):
            server_args = ["-m", "prefect", "server", "start", "--host", settings.server_host,
                           "--port", str(settings.server_port)]
            _spawn("server", server_args, settings)
            _wait_until(lambda: api_healthy(api_url), settings, "server")
        if not runner_alive(settings):
            _end_orphaned_flow_runs(settings)
            _adopt_orphaned_pauses(api_url)
            _spawn("runner", ["-m", RUNNER_MODULE], settings)
    return BackendStatus(api_url, ui_url_for(api_url), api_healthy(api_url), runner_alive(settings), True)


def _wait_until(ready: object, settings: Settings, role: str) -> None:
    deadline = time.monotonic() + settings.backend_start_timeout_seconds
    while time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.25)
    log = _backend_dir(settings) / f"{role}.log"
    raise BackendStartError(
        f"The embedded Prefect {role} did not start within {settings.backend_start_timeout_seconds:.0f} s. "
        f"See {log}."
    )


def stop_backend(settings: Settings | None = None) -> None:
    """Stop the embedded runner and server (tests and `make clean` use this; the app never does)."""
    settings = settings or get_settings()
    backend_dir = _backend_dir(settings)
    for role in ("runner", "server"):
        pid = _read_pid(backend_dir / f"{role}.pid")
        if pid is None:
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _read_pid(backend_dir / f"{role}.pid") is not None:
            time.sleep(0.1)
        if _read_pid(backend_dir / f"{role}.pid") is not None:
            os.killpg(pid, signal.SIGKILL)
        if role == "runner":
            # Runs the signal reached report their crash while the server is still up; one still retrying once
            # it is gone would linger for minutes.
            deadline = time.monotonic() + RUN_EXIT_GRACE_S
            while time.monotonic() < deadline and _flow_run_processes(pid):
                time.sleep(0.1)
            _kill(_flow_run_processes(pid))
