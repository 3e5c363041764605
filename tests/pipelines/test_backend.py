"""The embedded backend: reused while alive, never started when an external Prefect API is configured."""

from __future__ import annotations

import httpx
import pytest

from pipelines.backend import (
    BackendStartError,
    BackendStatus,
    ensure_backend,
    runner_alive,
    runner_wake_address,
    wake_runner,
)
from pipelines.core.settings import Settings, get_settings
from tests.conftest import free_port


def test_a_second_start_reuses_the_running_server_and_runner(backend: BackendStatus) -> None:
    settings = get_settings()
    pids = {role: (settings.data_dir / "backend" / f"{role}.pid").read_text() for role in ("server", "runner")}
    again = ensure_backend()
    assert again == backend and again.healthy and again.runner_alive and again.embedded
    assert {role: (settings.data_dir / "backend" / f"{role}.pid").read_text() for role in pids} == pids


def test_an_external_api_url_starts_nothing(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    external = f"http://127.0.0.1:{free_port()}/api"
    monkeypatch.setenv("PREFECT_API_URL", external)
    settings = Settings(data_dir=tmp_path, server_port=free_port())
    status = ensure_backend(settings)
    assert status == BackendStatus(external, external.removesuffix("/api"), False, None, embedded=False)
    assert not (tmp_path / "backend").exists() and not runner_alive(settings)


def test_team_mode_without_a_server_url_says_to_set_one_and_starts_nothing(tmp_path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    settings = Settings(data_dir=tmp_path, server_port=free_port(), mode="team")
    with pytest.raises(BackendStartError, match="set PREFECT_API_URL"):
        ensure_backend(settings)
    assert not (tmp_path / "backend").exists()


def test_a_wake_reaches_a_listening_runner_and_is_no_error_when_nobody_listens(tmp_path) -> None:
    import socket

    settings = Settings(data_dir=tmp_path, server_port=free_port())
    wake_runner(settings)  # no runner has listened here yet
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as runner:
        runner.bind(str(runner_wake_address(settings)))
        runner.settimeout(5)
        wake_runner(settings)
        assert runner.recv(64) == b"run"
    wake_runner(settings)  # the runner gone, its address left behind


def test_the_embedded_server_runs_its_periodic_services_at_the_embedded_pace(backend: BackendStatus) -> None:
    # Read back from the running server, so a setting name Prefect does not know (and so ignores) fails here.
    services = httpx.get(f"{backend.api_url}/admin/settings", timeout=10).json()["server"]["services"]
    running = {"late_runs": services["late_runs"]["loop_seconds"],
               "pause_expirations": services["pause_expirations"]["loop_seconds"],
               "recent_deployments": services["scheduler"]["recent_deployments_loop_seconds"],
               "cleanup_reconciler": services["cleanup_reconciler"]["loop_seconds"],
               "foreman": services["foreman"]["loop_seconds"],
               "repossessor": services["repossessor"]["loop_seconds"]}
    assert running == {"late_runs": 30, "pause_expirations": 30, "recent_deployments": 30,
                       "cleanup_reconciler": 60, "foreman": 60, "repossessor": 60}
