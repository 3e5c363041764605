"""`make team-check`: team mode end to end on this machine, started from nothing and stopped again.

A throwaway PostgreSQL cluster holds the Prefect server's database and the crowd answers; the project's deployments
go on a process work pool served by two `prefect worker start` processes; the dashboard's gateway, in a process of
its own, runs the autohelper on the generated sample, confirms its threshold on the suspended run, runs the crowd loop
with a simulated crowd and reads the final table. Everything started is stopped again, also on failure. The outcome
is one JSON line; the exit status is 0 only when the final table came out.

`python -m pipelines.team_check` (the `--dashboard` flag is the gateway's side, started by the check itself).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from pipelines.backend import api_healthy
from pipelines.core.settings import PROJECT_ROOT

POOL = "hitl-team-check"
WORKERS = 2
SAMPLE_TASKS, SAMPLE_GOLDEN = 60, 20
THRESHOLD = 0.9
# Until the run-data store (branch `store`, HITL_RUN_DATA_URL) lands, the dashboard reads the Parquet files runs
# write in the workers' data folder: set this to False then, and the dashboard gets a data folder of its own.
# The dashboard and the workers share nothing but the Prefect API URL and the store URLs (run data, answers).
DASHBOARD_SHARES_DATA_DIR = False
STOP_SECONDS = 15


class TeamCheckFailed(RuntimeError):
    """A part of the team stack did not start or the runs did not end as expected; the message names the log."""


DASK_WORKERS = 2


def dask_settings() -> tuple[dict[str, str], int]:
    """The `HITL_DASK_*` settings the workers get and how many Dask workers they make: each autohelper run maps its
    prediction batches on a LocalCluster of `DASK_WORKERS` workers."""
    return {"HITL_DASK_WORKERS": str(DASK_WORKERS)}, DASK_WORKERS


def start_process(stack: ExitStack, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `args` in a session of its own, logging to `log`, and stop its whole process group when `stack` closes."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, cwd=str(PROJECT_ROOT))
    stack.callback(stop_process, process)
    return process


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started by `start_process` and everything it started: SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=STOP_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_for(ready: Any, seconds: float, what: str, log: Path | None = None) -> None:
    """Poll `ready()` until it is true; raise `TeamCheckFailed` naming `what` (and its log) after `seconds`."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise TeamCheckFailed(f"{what} was not ready within {seconds:.0f} s" + (f"; see {log}." if log else "."))
        time.sleep(0.5)


@contextmanager
def postgres_cluster(folder: Path) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (Debian's server); yields its URL without a driver or database,
    `hitl@127.0.0.1:PORT`, the `hitl` role a superuser (Prefect's migrations create the `pg_trgm` extension)."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not binaries:
        raise TeamCheckFailed("Debian's postgresql is not installed: run `make postgres` first.")
    bin_dir = binaries[-1]
    folder.mkdir(parents=True)
    # PostgreSQL refuses to run as root; under root the cluster belongs to Debian's `postgres` user.
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_owner:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", _free_port()
    subprocess.run([*as_owner, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "hitl"], check=True,
                   capture_output=True)
    subprocess.run([*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
                    "start", "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200"],
                   check=True, capture_output=True)
    try:
        for database in ("prefect", "answers", "run_data"):
            subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "hitl", database],
                           check=True, capture_output=True)
        yield f"hitl@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       check=False, capture_output=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def team_env(folder: Path, api_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a team member on this machine: the server's API, the shared result storage, team mode."""
    env = dict(os.environ)
    env.update(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(folder / "prefect-home"),
        # Every worker (and the dashboard) reads and writes the same results: a suspended run restarted by another
        # worker finds its earlier tasks' results there.
        PREFECT_LOCAL_STORAGE_PATH=str(folder / "results"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",  # pick a resumed run up within a second, not Prefect's 10 s
        HITL_MODE="team",
        HITL_DATA_DIR=str(data_dir),
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        **extra,
    )
    return env


def start_prefect_server(stack: ExitStack, folder: Path, database_url: str) -> str:
    """A Prefect server on `database_url`; its API URL once healthy."""
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = team_env(folder, api_url, folder / "server-data", PREFECT_SERVER_DATABASE_CONNECTION_URL=database_url,
                   PREFECT_UI_API_URL=api_url)
    log = folder / "logs" / "server.log"
    start_process(stack, [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                          str(port)], env, log)
    wait_for(lambda: api_healthy(api_url), 180, "The Prefect server", log)
    return api_url


def deploy(env: dict[str, str], pool: str, log: Path) -> None:
    """`python -m pipelines.team deploy --pool POOL`, as a person would run it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        done = subprocess.run([sys.executable, "-m", "pipelines.team", "deploy", "--pool", pool], env=env,
                              check=False, stdout=out, stderr=subprocess.STDOUT, cwd=str(PROJECT_ROOT), timeout=300)
    if done.returncode:
        raise TeamCheckFailed(f"Deploying to work pool {pool!r} failed; see {log}.")


def start_worker(stack: ExitStack, env: dict[str, str], pool: str, name: str, log: Path) -> subprocess.Popen[bytes]:
    """`prefect worker start --pool POOL --name NAME`, as on any team machine."""
    return start_process(stack, [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--name",
                                 name], env, log)


def online_workers(api_url: str, pool: str) -> list[str]:
    """Names of the workers the server sees polling `pool`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import WorkerFilter, WorkerFilterStatus
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        workers = client.read_workers_for_work_pool(
            pool, worker_filter=WorkerFilter(status=WorkerFilterStatus(any_=["ONLINE"])))
    return sorted(worker.name for worker in workers)


def run_team_check(folder: Path) -> dict[str, Any]:
    """Start the team stack under `folder`, run the sample through it from the dashboard's side, stop it all."""
    started = time.monotonic()
    logs = folder / "logs"
    with ExitStack() as stack:
        postgres = stack.enter_context(postgres_cluster(folder / "postgres"))
        api_url = start_prefect_server(stack, folder, f"postgresql+asyncpg://{postgres}/prefect")
        worker_data = folder / "worker-data"
        dashboard_data = worker_data if DASHBOARD_SHARES_DATA_DIR else folder / "dashboard-data"
        dask_env, dask_workers = dask_settings()
        stores = {"HITL_ANSWER_STORE": f"postgresql+psycopg://{postgres}/answers",
                  "HITL_RUN_DATA_URL": f"postgresql+psycopg://{postgres}/run_data"}
        env = team_env(folder, api_url, worker_data, **stores, **dask_env)
        deploy(env, POOL, logs / "deploy.log")
        for number in range(1, WORKERS + 1):
            start_worker(stack, env, POOL, f"team-check-{number}", logs / f"worker-{number}.log")
        wait_for(lambda: len(online_workers(api_url, POOL)) == WORKERS, 120, f"{WORKERS} workers on {POOL!r}",
                 logs / "worker-1.log")
        # A Prefect home and result storage of its own too: the dashboard reads run results from the run data.
        dashboard_env = team_env(folder / "dashboard", api_url, dashboard_data, **stores)
        outcome = _run_dashboard(dashboard_env, logs / "dashboard.log")
        workers = online_workers(api_url, POOL)
    return {"prefect_database": "postgresql", "work_pool": POOL, "workers": len(workers),
            "dask_workers": dask_workers, **outcome, "dashboard_data_dir_shared": dashboard_data == worker_data,
            "dashboard_data_files": sum(path.is_file() for path in dashboard_data.rglob("*")),
            "seconds": round(time.monotonic() - started, 1)}


def _run_dashboard(env: dict[str, str], log: Path) -> dict[str, Any]:
    """The dashboard's side in a process of its own (its environment, its data folder); what it reports."""
    with open(log, "ab") as out:
        done = subprocess.run([sys.executable, "-m", "pipelines.team_check", "--dashboard"], env=env,
                              check=False, stdout=subprocess.PIPE, stderr=out, cwd=str(PROJECT_ROOT), timeout=1500)
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode or not lines:
        raise TeamCheckFailed(f"The dashboard's side failed; see {log}.")
    return json.loads(lines[-1])


def dashboard_side() -> dict[str, Any]:
    """What an analyst does on the dashboard, through its gateway: the autohelper on the sample, its threshold
    confirmed on the suspended run, then the crowd loop with a simulated crowd; the final table's size."""
    from dashboard import gateway
    from pipelines.catalog import AUTOHELPER, CROWD_LOOP

    status = gateway.connect()
    if not status.healthy or status.embedded:
        raise TeamCheckFailed(f"The dashboard does not see the team's server at {status.api_url}.")
    autohelper = gateway.start_run(AUTOHELPER, {"n_tasks": SAMPLE_TASKS, "n_golden": SAMPLE_GOLDEN})
    wait_for(lambda: gateway.pending_input(autohelper) is not None, 900, "The autohelper's threshold question")
    suspended = gateway.run(autohelper).state_name
    gateway.resume(autohelper, {"threshold": THRESHOLD}, analyst="team-check")
    split = _finished(autohelper, 600)
    crowd = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": str(autohelper), "crowd": "simulated",
                                           "spammer_share": 0.0})
    final = _finished(crowd, 600)
    if split["threshold"] != THRESHOLD or final["items"] != split["accepted"] + split["manual"]:
        raise TeamCheckFailed(f"The final table has {final['items']} rows for a split of {split}.")
    completed = sum(gateway.run(run_id).status == "completed" for run_id in (autohelper, crowd))
    return {"runs_completed": completed, "final_rows": final["items"], "threshold_wait": suspended,
            "accepted_by_model": split["accepted"], "labelled_by_crowd": split["manual"],
            "dask_prediction_batches": _prediction_batches(autohelper)}


def _prediction_batches(run_id: Any) -> int:
    """How many prediction batches the run mapped as tasks (on Dask, when the workers were told to use it)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    return sum(run.name.startswith("predict_batch") and run.state is not None and run.state.is_completed()
               for run in task_runs)


def _finished(run_id: Any, seconds: float) -> dict[str, Any]:
    from dashboard import gateway

    wait_for(lambda: gateway.run(run_id).status in gateway.TERMINAL_STATUSES, seconds, f"Run {run_id}")
    run = gateway.run(run_id)
    if run.status != "completed":
        raise TeamCheckFailed(f"Run {run_id} ended {run.state_name}: {run.message}")
    return gateway.result(run_id)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the check, print its JSON line and return it; `--keep` leaves the folder with the logs."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.team_check", description=__doc__)
    parser.add_argument("--dashboard", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the check's folder (logs, results) on success too")
    args = parser.parse_args(argv)
    if args.dashboard:
        outcome = dashboard_side()
    else:
        folder = Path(tempfile.mkdtemp(prefix="hitl-team-check-"))
        folder.chmod(0o755)  # the PostgreSQL cluster's owner must reach its folder inside
        # A check stopped by SIGTERM (or `timeout`) still stops everything it started, on the way out.
        previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
        try:
            outcome = run_team_check(folder)  # on failure the folder stays, with the logs the error names
        finally:
            signal.signal(signal.SIGTERM, previous)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(outcome), flush=True)
    return outcome


if __name__ == "__main__":
    main()
