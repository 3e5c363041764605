"""Runner entry point: `python -m pipelines.serve` sets up the notifications, then serves every project deployment
until stopped."""

from __future__ import annotations

from prefect.logging import get_logger

from pipelines.backend import runner_wake_address
from pipelines.blocks import JSON
from pipelines.core.settings import get_settings
from pipelines.deployments import PROJECT_FLOWS, project_deployments
from pipelines.notifications import NotificationSetupError, ensure_notifications
from pipelines.warm_runner import serve_warm

if __name__ == "__main__":
    # Registered once before any run: runs saving their first JSON block at once on a new server would race to
    # register its type, and the loser failed with ObjectAlreadyExists.
    JSON.register_type_and_schema()
    try:
        ensure_notifications()
    except NotificationSetupError as exc:
        # A notification typo must not stop runs: say it in the runner's log and serve without them.
        get_logger("hitl.notifications").error("Notifications are not set up: %s", exc)
    serve_warm(project_deployments(), PROJECT_FLOWS, runner_wake_address(get_settings()))
