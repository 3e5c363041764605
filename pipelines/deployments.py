"""The project's deployments, with the stable names the dashboard starts runs by.

Declared once: the laptop's runner serves them (`python -m pipelines.serve`), team mode deploys the same list to a
work pool (`python -m pipelines.team deploy`).
"""

from __future__ import annotations

from typing import Any

from prefect import Flow
from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

from pipelines.catalog import APPROVAL, AUTOHELPER, CROWD_LOOP, INGESTION, INSIGHTS, RETRAIN
from pipelines.flows.approval import create_artifact
from pipelines.flows.autohelper import sentiment_autohelper
from pipelines.flows.crowd import crowd_loop
from pipelines.flows.ingestion import create_names
from pipelines.flows.insights import extract_user_insights
from pipelines.flows.retrain import retrain_autohelper


# Deployment name → flow: the laptop's runner starts their runs from these objects, imported once
# (`pipelines.warm_runner`).
PROJECT_FLOWS: dict[str, Flow[..., Any]] = {
    INGESTION.name: create_names,
    APPROVAL.name: create_artifact,
    INSIGHTS.name: extract_user_insights,
    AUTOHELPER.name: sentiment_autohelper,
    CROWD_LOOP.name: crowd_loop,
    RETRAIN.name: retrain_autohelper,
}


def project_deployments(
    entrypoint_type: EntrypointType = EntrypointType.FILE_PATH, job_variables: dict[str, Any] | None = None
) -> list[RunnerDeployment]:
    """Every deployment the project's runner serves.

    Args:
        entrypoint_type: how a run finds its flow; team mode uses `MODULE_PATH`, so a worker imports the installed
            project instead of a file path that exists only on the machine that deployed.
        job_variables: a work pool's job variables (team mode sets the environment of every run).
    """
    return [flow.to_deployment(name=name, tags=["hitl-studio"], entrypoint_type=entrypoint_type,
                               job_variables=job_variables)
            for name, flow in PROJECT_FLOWS.items()]
