"""Runner entry point: `python -m pipelines.serve` serves every project deployment until stopped."""

from __future__ import annotations

from prefect import serve

from pipelines.blocks import JSON
from pipelines.deployments import project_deployments

if __name__ == "__main__":
    # Registered once before any run: runs saving their first JSON block at once on a new server would race to
    # register its type, and the loser failed with ObjectAlreadyExists.
    JSON.register_type_and_schema()
    serve(*project_deployments())
