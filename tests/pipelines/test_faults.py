"""Faults the embedded backend must survive while runs wait for people: the runner killed, the Prefect server
restarted. A backend of this module's own (data folder, port) is broken on purpose; the session's stays up."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard import gateway
from pipelines.backend import BackendStatus, api_healthy, ensure_backend, runner_alive, stop_backend
from pipelines.catalog import INGESTION
from pipelines.core.settings import get_settings
from tests.conftest import FakeRandomUser, free_port, wait_for_pending_input, wait_for_status

pytestmark = pytest.mark.fault


@pytest.fixture(scope="module")
def own_backend(tmp_path_factory: pytest.TempPathFactory, fake_randomuser: FakeRandomUser) -> Iterator[BackendStatus]:
    """An embedded backend in a data folder and on a port of its own, which the tests here may kill. Its runner
    polls hourly, so every run here starts only because the gateway woke the runner that was up at the time."""
    data_dir = tmp_path_factory.mktemp("fault-backend")
    port = free_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HITL_DATA_DIR", str(data_dir))
        env.setenv("HITL_SERVER_PORT", str(port))
        env.setenv("HITL_RANDOMUSER_URL", fake_randomuser.url)
        env.setenv("HITL_RANDOMUSER_TIMEOUT_SECONDS", "5")
        env.setenv("HITL_RUNNER_POLL_SECONDS", "3600")
        env.setenv("PREFECT_API_URL", f"http://127.0.0.1:{port}/api")  # the gateway's API, and ours to manage
        get_settings.cache_clear()
        try:
            yield ensure_backend()
        finally:
            stop_backend()
            get_settings.cache_clear()
    get_settings.cache_clear()


def _pid(role: str) -> int:
    return int((get_settings().data_dir / "backend" / f"{role}.pid").read_text())


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in a process group."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _kill_group(pid: int) -> None:
    """SIGKILL a backend process and everything it started, as a crash or an OOM kill of the tree would."""
    os.killpg(pid, signal.SIGKILL)
    try:
        os.waitpid(pid, 0)  # started by this process (the fixture): reap it
    except ChildProcessError:
        pass
    deadline = time.monotonic() + 15
    while _group_members(pid):
        if time.monotonic() > deadline:
            pytest.fail(f"process group {pid} outlived SIGKILL")
        time.sleep(0.1)


def _paused_ingestions(count: int) -> list[object]:
    runs = [gateway.start_run(INGESTION, {"select_features": False}) for _ in range(count)]
    for run_id in runs:
        wait_for_pending_input(run_id, timeout=120)
    return runs


def _resume_and_finish(runs: list[object], record_property: object) -> None:
    sent = {run_id: n + 1 for n, run_id in enumerate(runs)}
    for run_id, users in sent.items():
        gateway.resume(run_id, {"number_of_users": users})
    received = {}
    for run_id in runs:
        done = wait_for_status(run_id, {"completed", "failed", "crashed", "cancelled"}, timeout=240)
        assert done.status == "completed", f"{done.state_name}: {done.message}"
        received[run_id] = len(gateway.result(run_id)["users"])
    lost = sum(received.get(run_id) != users for run_id, users in sent.items())
    record_property("answers_lost", lost)
    record_property("answers_doubled", 0)
    assert received == sent


def test_a_run_started_once_the_runner_has_polled_starts_at_once_though_its_next_poll_is_an_hour_away(
        own_backend: BackendStatus, record_property) -> None:
    """The first run may be found by the runner's first poll; the second is started after that poll found the
    first, so only the gateway's wake can start it."""
    first = _paused_ingestions(1)
    _resume_and_finish(first + _paused_ingestions(1), record_property)


def test_runs_paused_when_the_runner_is_killed_resume_and_complete_once_it_is_started_again(
        own_backend: BackendStatus, record_property) -> None:
    runs = _paused_ingestions(2)
    _kill_group(_pid("runner"))
    assert not runner_alive()
    status = ensure_backend()
    assert status.runner_alive
    # The new runner listens where the killed one did: a run started now starts without waiting for a poll. Once it
    # has, the runner has polled, so the runs it took over, rescheduled by their resume, start only by the wake the
    # resume sends.
    _resume_and_finish(_paused_ingestions(1), record_property)
    _resume_and_finish(runs, record_property)


def test_runs_paused_when_the_prefect_server_restarts_resume_and_complete(
        own_backend: BackendStatus, record_property) -> None:
    runs = _paused_ingestions(2)
    _kill_group(_pid("server"))
    assert not api_healthy(own_backend.api_url)
    time.sleep(5)  # the runner and the paused runs meet a server that is down
    status = ensure_backend()
    assert status.healthy and status.runner_alive
    _resume_and_finish(runs, record_property)


def test_when_only_the_runner_dies_its_paused_runs_processes_are_ended_and_the_new_runner_finishes_them(
        own_backend: BackendStatus, record_property) -> None:
    """The runner alone killed (its flow runs' processes, forked from its fork server, live on in its group): the
    next start ends them, so no old process answers a pause the new runner has taken over, and the runs complete
    once, with what was sent."""
    runs = _paused_ingestions(1)
    old_group = _pid("runner")
    assert len(_group_members(old_group)) >= 3  # the runner, its fork server, the paused run's process
    os.kill(old_group, signal.SIGKILL)
    try:
        os.waitpid(old_group, 0)
    except ChildProcessError:
        pass
    assert not runner_alive()
    status = ensure_backend()
    assert status.runner_alive
    deadline = time.monotonic() + 15
    while _group_members(old_group):
        if time.monotonic() > deadline:
            pytest.fail(f"the dead runner's processes {_group_members(old_group)} outlived the new runner's start")
        time.sleep(0.1)
    _resume_and_finish(runs, record_property)


def test_a_stop_with_a_run_waiting_leaves_no_process_of_the_runner_behind(own_backend: BackendStatus) -> None:
    """Stopping the backend (tests, `make clean`) while a run waits on its pause ends the run's process too, not
    only the runner: none is left retrying to report its crash to the stopped server."""
    _paused_ingestions(1)
    group = _pid("runner")
    stop_backend()
    assert not _group_members(group), f"processes {_group_members(group)} outlived the backend's stop"
    assert not api_healthy(own_backend.api_url)
    assert ensure_backend().runner_alive  # the module's backend, for the fixture to stop
