"""Runner entry point: `python -m pipelines.serve` serves every project deployment until stopped."""

from __future__ import annotations

from prefect import serve

from pipelines.deployments import project_deployments

if __name__ == "__main__":
    serve(*project_deployments())
