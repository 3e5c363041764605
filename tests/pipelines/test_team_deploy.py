"""Team mode's deployments: the laptop runner's list, by the same names, importable on any machine."""

from __future__ import annotations

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.types.entrypoint import EntrypointType

from pipelines.catalog import APPROVAL, AUTOHELPER, CROWD_LOOP, INGESTION, INSIGHTS, RETRAIN
from pipelines.deployments import project_deployments
from pipelines.team import TEAM_RUN_ENV, main


def test_team_deployments_are_the_runners_by_name_with_module_entrypoints_and_team_mode() -> None:
    served = project_deployments()
    team = project_deployments(EntrypointType.MODULE_PATH, job_variables={"env": TEAM_RUN_ENV})
    names = {f"{d.flow_name}/{d.name}" for d in team}
    assert names == {f"{d.flow_name}/{d.name}" for d in served} == {
        INGESTION, APPROVAL, INSIGHTS, AUTOHELPER, CROWD_LOOP, RETRAIN}
    for deployment in team:
        module, _, function = deployment.entrypoint.rpartition(".")
        assert module.startswith("pipelines.flows.") and "/" not in module and function
        assert deployment.job_variables == {"env": {"HITL_MODE": "team"}}
    assert all(d.job_variables == {} or d.job_variables is None for d in served)


def test_deploy_without_a_server_url_exits_with_what_to_set(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(restore_defaults={PREFECT_API_URL}), pytest.raises(SystemExit) as exited:
        main(["deploy", "--pool", "anything"])
    assert exited.value.code == 2 and "Set PREFECT_API_URL" in capsys.readouterr().err
