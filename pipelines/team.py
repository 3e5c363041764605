"""Team mode's deployments: `python -m pipelines.team deploy [--pool NAME]` puts the project's deployments on a
process work pool of the Prefect server `PREFECT_API_URL` names; `prefect worker start --pool NAME` on any machine
with the project installed then runs them.
"""

from __future__ import annotations

import argparse
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL
from prefect.types.entrypoint import EntrypointType
from prefect.workers.process import ProcessWorker

from pipelines.core.settings import get_settings
from pipelines.deployments import project_deployments

# Every team run suspends its long human waits, whatever the environment of the worker that picks it up.
TEAM_RUN_ENV = {"HITL_MODE": "team"}


class TeamSetupError(RuntimeError):
    """Team mode cannot be set up as asked; the message says what to set."""


def ensure_work_pool(pool: str) -> bool:
    """Create the process work pool `pool` unless it exists; True when it was created."""
    with get_client(sync_client=True) as client:
        try:
            existing = client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(
                name=pool, type=ProcessWorker.type, base_job_template=ProcessWorker.get_default_base_job_template(),
                description=f"HITL Studio's flows: start workers with `prefect worker start --pool {pool}`."))
            return True
    if existing.type != ProcessWorker.type:
        raise TeamSetupError(f"Work pool {pool!r} is a {existing.type!r} pool; team mode deploys to a "
                             f"{ProcessWorker.type!r} pool. Name another pool with --pool or HITL_WORK_POOL.")
    return False


def deploy_project(pool: str) -> list[UUID]:
    """Create the work pool if missing and create or update every project deployment on it; their ids.

    The deployments are the ones the laptop's runner serves, by the same names, with module-path entrypoints so a
    worker on another machine imports the installed project.
    """
    if not PREFECT_API_URL.value():  # Prefect would deploy to a throwaway server of its own
        raise TeamSetupError("Set PREFECT_API_URL to the team's Prefect server (e.g. http://server:4200/api) first: "
                             "team mode deploys there, not to the laptop's embedded server.")
    ensure_work_pool(pool)
    deployments = project_deployments(EntrypointType.MODULE_PATH, job_variables={"env": TEAM_RUN_ENV})
    # One by one rather than `prefect.deploy`, which prints a failed deployment and carries on.
    return [deployment.apply(work_pool_name=pool) for deployment in deployments]


def main(argv: list[str] | None = None) -> None:
    """The `python -m pipelines.team` command line."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.team", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    deploy_command = commands.add_parser("deploy", help="create the work pool if missing and deploy every flow")
    deploy_command.add_argument("--pool", default=get_settings().work_pool,
                                help="process work pool name (default HITL_WORK_POOL, else hitl-studio)")
    args = parser.parse_args(argv)
    try:
        ids = deploy_project(args.pool)
    except TeamSetupError as exc:
        parser.exit(2, f"{exc}\n")
    print(f"{len(ids)} deployments on work pool {args.pool!r}. Start workers with: prefect worker start --pool "
          f"{args.pool}")


if __name__ == "__main__":
    main()
