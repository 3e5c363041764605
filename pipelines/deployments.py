"""The project's deployments, with the stable names the dashboard starts runs by.

Declared once: the laptop's runner serves them (`python -m pipelines.serve`), team mode deploys the same list to a
work pool (`python -m pipelines.team deploy`).
"""

from __future__ import annotations

from typing import Any

from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

from pipelines.catalog import APPROVAL, AUTOHELPER, CROWD_LOOP, INGESTION, INSIGHTS, RETRAIN
from pipelines.flows.approval import create_artifact
from pipelines.flows.autohelper import sentiment_autohelper
from pipelines.flows.crowd import crowd_loop
from pipelines.flows.ingestion import create_names
from pipelines.flows.insights import extract_user_insights
from pipelines.flows.retrain import retrain_autohelper


def project_deployments(
    entrypoint_type: EntrypointType = EntrypointType.FILE_PATH, job_variables: dict[str, Any] | None = None
) -> list[RunnerDeployment]:
    """Every deployment the project's runner serves.

    Args:
        entrypoint_type: how a run finds its flow; team mode uses `MODULE_PATH`, so a worker imports the installed
            project instead of a file path that exists only on the machine that deployed.
        job_variables: a work pool's job variables (team mode sets the environment of every run).
    """
    options: dict[str, Any] = {"tags": ["hitl-studio"], "entrypoint_type": entrypoint_type,
                               "job_variables": job_variables}
    return [
        create_names.to_deployment(name=INGESTION.name, **options),
        create_artifact.to_deployment(name=APPROVAL.name, **options),
        extract_user_insights.to_deployment(name=INSIGHTS.name, **options),
        sentiment_autohelper.to_deployment(name=AUTOHELPER.name, **options),
        crowd_loop.to_deployment(name=CROWD_LOOP.name, **options),
        retrain_autohelper.to_deployment(name=RETRAIN.name, **options),
    ]
