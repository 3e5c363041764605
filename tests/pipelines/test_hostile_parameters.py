"""Hostile run parameters and resumes: oversized answers, run ids and dataset paths that would leave the data
folder. Each is refused with a clear message; a paused run stays paused, a started one fails before writing."""

from __future__ import annotations

import pytest
from prefect import get_client
from prefect.client.schemas.objects import StateType
from prefect.settings import PREFECT_API_URL, temporary_settings

from dashboard import gateway
from pipelines.catalog import AUTOHELPER, CROWD_LOOP, INGESTION
from pipelines.core.run_data import run_data_store
from pipelines.core.schema_input import InputInvalid
from pipelines.core.settings import get_settings
from tests.conftest import wait_for_pending_input, wait_for_status

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.hostile]

HUGE = "9" * 5_000_000


def _deep(levels: int) -> list:
    nested: list = []
    for _ in range(levels):
        nested = [nested]
    return nested


def test_an_oversized_or_deeply_nested_resume_through_the_gateway_is_refused_and_the_run_stays_paused() -> None:
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    wait_for_pending_input(run_id)
    for values in ({"number_of_users": HUGE}, {"number_of_users": _deep(5000)}):
        with pytest.raises(InputInvalid, match="Nothing was sent"):
            gateway.resume(run_id, values)
        assert gateway.run(run_id).status == "paused"
    gateway.resume(run_id, {"number_of_users": 1})
    assert wait_for_status(run_id, {"completed"}).status == "completed"


def test_an_oversized_resume_through_prefects_own_api_is_refused_and_the_run_stays_paused(prefect_api: str) -> None:
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    wait_for_pending_input(run_id)
    with temporary_settings(updates={PREFECT_API_URL: prefect_api}), get_client(sync_client=True) as client:
        for run_input in ({"number_of_users": HUGE}, {"number_of_users": _deep(200)}):
            outcome = client.resume_flow_run(run_id, run_input=run_input)
            assert outcome.status.value != "ACCEPT", run_input.keys()
            assert client.read_flow_run(run_id).state.type == StateType.PAUSED
    gateway.resume(run_id, {"number_of_users": 1})
    assert wait_for_status(run_id, {"completed"}).status == "completed"


def test_a_crowd_loop_on_a_run_id_that_is_a_path_fails_before_storing_anything() -> None:
    ended = wait_for_status(gateway.start_run(CROWD_LOOP, {"autohelper_run_id": "../../etc"}), {"failed"})
    assert "'../../etc' is not a run id" in ended.message
    assert not (get_settings().data_dir / "etc").exists()


def test_an_autohelper_run_on_a_path_that_climbs_out_fails_before_writing() -> None:
    run_id = gateway.start_run(AUTOHELPER, {"dataset": f"{get_settings().data_dir}/../../etc/passwd"})
    ended = wait_for_status(run_id, {"failed"}, timeout=120)
    assert "contains '..'" in ended.message
    assert run_data_store().keys(f"autohelper/{run_id}") == []


def test_an_autohelper_run_on_an_upload_name_that_climbs_out_fails_before_writing() -> None:
    run_id = gateway.start_run(AUTOHELPER, {"dataset": "upload:../../etc/passwd"})
    ended = wait_for_status(run_id, {"failed"}, timeout=120)
    assert "is not a run-data key" in ended.message
    assert run_data_store().keys(f"autohelper/{run_id}") == []
