"""`make team-check` as a test: the same function, the same stack (PostgreSQL, a Prefect server, two workers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.team_check import DASHBOARD_SHARES_DATA_DIR, DASK_WORKERS, POOL, SAMPLE_TASKS, WORKERS, main

# PostgreSQL, a Prefect server and two workers, the sample predicted once: five minutes here, more on a busy machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.mark.skipif(not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")),
                    reason="Debian's postgresql is not installed (make postgres)")
def test_team_check_runs_the_sample_to_the_final_table_through_suspended_runs_and_two_workers() -> None:
    outcome = main([])
    assert outcome["prefect_database"] == "postgresql" and outcome["work_pool"] == POOL
    assert outcome["workers"] == WORKERS and outcome["runs_completed"] == 2
    # The autohelper's task predictions were mapped as batches on the Dask cluster.
    assert outcome["dask_workers"] == DASK_WORKERS and outcome["dask_prediction_batches"] >= 1
    assert outcome["threshold_wait"] == "Suspended"  # the threshold question held no worker
    assert outcome["final_rows"] == SAMPLE_TASKS == outcome["accepted_by_model"] + outcome["labelled_by_crowd"]
    assert outcome["dashboard_data_dir_shared"] is DASHBOARD_SHARES_DATA_DIR is False
    assert outcome["dashboard_data_files"] == 0  # everything it read came through the API and the stores
    assert outcome["seconds"] > 0
