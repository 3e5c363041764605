"""The project's deployments, with the stable names the dashboard starts runs by."""

from __future__ import annotations

from prefect.deployments.runner import RunnerDeployment

from pipelines.catalog import APPROVAL, AUTOHELPER, CROWD_LOOP, INGESTION, INSIGHTS, RETRAIN
from pipelines.flows.approval import create_artifact
from pipelines.flows.autohelper import sentiment_autohelper
from pipelines.flows.crowd import crowd_loop
from pipelines.flows.ingestion import create_names
from pipelines.flows.insights import extract_user_insights
from pipelines.flows.retrain import retrain_autohelper


def project_deployments() -> list[RunnerDeployment]:
    """Every deployment the project's runner serves."""
    return [
        create_names.to_deployment(name=INGESTION.name, tags=["hitl-studio"]),
        create_artifact.to_deployment(name=APPROVAL.name, tags=["hitl-studio"]),
        extract_user_insights.to_deployment(name=INSIGHTS.name, tags=["hitl-studio"]),
        sentiment_autohelper.to_deployment(name=AUTOHELPER.name, tags=["hitl-studio"]),
        crowd_loop.to_deployment(name=CROWD_LOOP.name, tags=["hitl-studio"]),
        retrain_autohelper.to_deployment(name=RETRAIN.name, tags=["hitl-studio"]),
    ]
