"""Shared fixtures: a fake randomuser API at the HTTP boundary and a real embedded Prefect backend."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from pipelines.core.users import generate_fake_users

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
_databases = count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the real Prefect backend or the PostgreSQL cluster, so the fast tier
    (`make test-fast`) can leave it out. Fixtures that reach the cluster only for one of their params mark that
    param (`POSTGRESQL`)."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "backend" in fixtures:
            item.add_marker(pytest.mark.backend)
        if "postgres_cluster" in fixtures:
            item.add_marker(pytest.mark.postgres)


# A store fixture's PostgreSQL case: it starts the cluster, so it is marked like the tests that ask for it.
POSTGRESQL = pytest.param("postgresql", marks=pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _main_module_kept() -> Iterator[None]:
    """AppTest runs each page script as `__main__` and leaves it there; a process spawned later in the same test
    session (a Dask worker) would run that page again as it starts, and fail."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_database(server: str, prefix: str) -> str:
    """A new, empty database on the `postgres_server` cluster; its URL."""
    import sqlalchemy as sa

    name = f"{prefix}_{os.getpid()}_{next(_databases)}"
    admin = sa.create_engine(server.format(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server.format(database=name)


@pytest.fixture(params=["folder", "sqlite", POSTGRESQL])
def run_data(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    """An empty run-data store of each kind: the data folder (laptop mode), an SQLite file, a PostgreSQL database."""
    from pipelines.core.run_data import DatabaseRunData, FolderRunData

    if request.param == "folder":
        return FolderRunData(tmp_path / "data")
    if request.param == "sqlite":
        return DatabaseRunData(f"sqlite:///{tmp_path / 'run-data.db'}")
    return DatabaseRunData(new_database(request.getfixturevalue("postgres_server"), "run_data"))


@dataclass
class FakeRandomUser:
    """A local stand-in for randomuser.me: `mode` switches between serving users and failing."""

    url: str
    mode: str = "up"  # "up" or "down"
    requests: list[dict[str, list[str]]] = field(default_factory=list)


def _handler(fake: FakeRandomUser) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            query = parse_qs(urlparse(self.path).query)
            fake.requests.append(query)
            if fake.mode == "down":
                self.send_response(503)
                self.end_headers()
                return
            count = int(query.get("results", ["1"])[0])
            users = generate_fake_users(count, seed=len(fake.requests))
            for user in users:
                user["login"]["username"] = "api-" + user["login"]["username"]
            body = json.dumps({"results": users, "info": {"seed": "fake", "results": count, "page": 1}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def fake_randomuser() -> Iterator[FakeRandomUser]:
    port = free_port()
    fake = FakeRandomUser(url=f"http://127.0.0.1:{port}/api/")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()


@pytest.fixture
def randomuser(fake_randomuser: FakeRandomUser) -> Iterator[FakeRandomUser]:
    """The fake randomuser API, up and with an empty request log; put back up afterwards."""
    fake_randomuser.mode = "up"
    fake_randomuser.requests.clear()
    yield fake_randomuser
    fake_randomuser.mode = "up"


@dataclass
class PostgresCluster:
    """A throwaway PostgreSQL cluster on a Unix socket; `url` takes a database name (`url.format(database=...)`)."""

    folder: Path
    port: int
    binaries: Path
    as_owner: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://hitl@/{{database}}?host={self.folder}&port={self.port}"

    def pg_ctl(self, *args: object) -> None:
        subprocess.run([*self.as_owner, self.binaries / "pg_ctl", "-D", self.folder / "data", *args], check=True,
                       capture_output=True)

    def start(self) -> None:
        self.pg_ctl("-l", self.folder / "server.log", "-w", "start",
                    "-o", f"-p {self.port} -k {self.folder} -c listen_addresses='' -c max_connections=200")

    def stop(self) -> None:
        """Stop at once, as a crash would: open connections break, transactions in flight roll back."""
        self.pg_ctl("-m", "immediate", "-w", "stop")


@pytest.fixture(scope="module")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster from Debian's postgresql, which a test may stop and start again."""
    if not POSTGRES_BINARIES:
        pytest.skip("Debian's postgresql is not installed")
    folder = Path(tempfile.mkdtemp(prefix="hitl-pg-"))
    # PostgreSQL refuses to run as root; under root (CI) the cluster belongs to Debian's `postgres` user.
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_owner:
        shutil.chown(folder, "postgres")
    cluster = PostgresCluster(folder, free_port(), POSTGRES_BINARIES[-1], as_owner)
    subprocess.run([*as_owner, cluster.binaries / "initdb", "-D", folder / "data", "-A", "trust", "-U", "hitl"],
                   check=True, capture_output=True)
    cluster.start()
    yield cluster
    subprocess.run([*as_owner, cluster.binaries / "pg_ctl", "-D", folder / "data", "-m", "immediate", "stop"],
                   check=False, capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres_server(postgres_cluster: PostgresCluster) -> str:
    """The throwaway cluster's server URL, with a `{database}` placeholder (see `PostgresCluster.url`)."""
    return postgres_cluster.url


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory, fake_randomuser: FakeRandomUser,
            fake_toloka_server: object) -> Iterator[object]:
    """A real embedded backend (Prefect server on SQLite + the project's runner) in a temporary data folder."""
    from pipelines.backend import ensure_backend, stop_backend
    from pipelines.core.settings import get_settings

    data_dir = tmp_path_factory.mktemp("hitl-data")
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.update(
        HITL_DATA_DIR=str(data_dir),
        HITL_SERVER_PORT=str(free_port()),
        HITL_RANDOMUSER_URL=fake_randomuser.url,
        HITL_RANDOMUSER_TIMEOUT_SECONDS="5",
        HITL_LLM_TIMEOUT_SECONDS="2",
        HITL_LLM_RETRY_DELAYS_SECONDS="[0.2, 0.2]",
        HITL_TOLOKA_URL=fake_toloka_server.base_url,  # type: ignore[attr-defined]
        HITL_TOLOKA_PROJECT_ID="77",
    )
    get_settings.cache_clear()
    status = ensure_backend()
    os.environ["PREFECT_API_URL"] = status.api_url  # for the dashboard's gateway and Streamlit subprocesses
    yield status
    os.environ.pop("PREFECT_API_URL", None)
    stop_backend()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def autohelper_split(backend: object) -> str:
    """A real autohelper run on the generated sample (60 tasks, 20 golden) with its threshold confirmed at 0.9."""
    from dashboard import gateway
    from pipelines.catalog import AUTOHELPER

    run_id = gateway.start_run(AUTOHELPER, {"n_tasks": 60, "n_golden": 20})
    wait_for_pending_input(run_id, timeout=240)
    gateway.resume(run_id, {"threshold": 0.9})
    wait_for_status(run_id, {"completed"})
    return str(run_id)


def wait_for_status(run_id: object, statuses: set[str], timeout: float = 60.0) -> object:
    """Poll the gateway until the run reaches one of `statuses`; fail with its last state otherwise."""
    import time

    from dashboard import gateway

    deadline = time.monotonic() + timeout
    while True:
        current = gateway.run(run_id)  # type: ignore[arg-type]
        if current.status in statuses:
            return current
        if time.monotonic() > deadline:
            pytest.fail(f"run stayed {current.status} ({current.state_name}: {current.message})")
        time.sleep(0.2)


def wait_for_pending_input(run_id: object, timeout: float = 60.0) -> object:
    """Wait until a run is paused and its form schema is saved."""
    import time

    from dashboard import gateway

    wait_for_status(run_id, {"paused"}, timeout)
    deadline = time.monotonic() + timeout
    while (pending := gateway.pending_input(run_id)) is None:  # type: ignore[arg-type]
        if time.monotonic() > deadline:
            pytest.fail("run paused but its input schema never appeared")
        time.sleep(0.1)
    return pending


@contextmanager
def prefect_api_of(backend: object) -> Iterator[str]:
    """Prefect's settings in this process pointed at the test backend, for as long as the block lasts."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    api_url = backend.api_url  # type: ignore[attr-defined]
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        yield api_url


@pytest.fixture
def prefect_api(backend: object) -> Iterator[str]:
    """Point Prefect's own client in this process at the test backend (its settings were read at import)."""
    with prefect_api_of(backend) as api_url:
        yield api_url


@pytest.fixture(scope="module")
def prefect_api_module(backend: object) -> Iterator[str]:
    with prefect_api_of(backend) as api_url:
        yield api_url


def wait_for_child(parent_id: object, timeout: float = 60.0) -> object:
    """Wait until a run has started a subflow run and return the subflow run's id."""
    import time

    from dashboard import gateway

    deadline = time.monotonic() + timeout
    while not (children := gateway.child_runs(parent_id)):  # type: ignore[arg-type]
        if time.monotonic() > deadline:
            pytest.fail("the run started no subflow")
        time.sleep(0.2)
    return children[0].id


def wait_for_log(run_id: object, text: str, timeout: float = 20.0) -> bool:
    """Whether a log line containing `text` reaches the API in time (run logs are shipped in batches)."""
    import time

    from dashboard import gateway

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line.message for line in gateway.logs(run_id, limit=200)):
            return True
        time.sleep(0.5)
    return False


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[object]:
    from tests.fake_llm import start_fake_llm

    fake, server = start_fake_llm(free_port())
    yield fake
    server.shutdown()


@pytest.fixture
def fake_llm(fake_llm_server: object) -> Iterator[object]:
    """The fake OpenAI-compatible server, answering normally and with an empty request log."""
    from tests.fake_llm import TEXT

    fake_llm_server.mode = "ok"  # type: ignore[attr-defined]
    fake_llm_server.text = TEXT  # type: ignore[attr-defined]
    fake_llm_server.requests.clear()  # type: ignore[attr-defined]
    fake_llm_server.auth_headers.clear()  # type: ignore[attr-defined]
    yield fake_llm_server
    fake_llm_server.mode = "ok"  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def fake_toloka_server() -> Iterator[object]:
    from tests.fake_toloka import start_fake_toloka

    fake, server = start_fake_toloka(free_port())
    yield fake
    server.shutdown()


@pytest.fixture
def fake_toloka(fake_toloka_server: object) -> Iterator[object]:
    """The fake Toloka API, empty."""
    fake_toloka_server.reset()  # type: ignore[attr-defined]
    yield fake_toloka_server


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's headless Chromium through Playwright, for the real-browser tests (see tests/served_app.py)."""
    from playwright.sync_api import sync_playwright

    from tests.served_app import launch_chromium

    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        yield launched
        launched.close()


# Runs waiting in each kind of pause, shared by the tests that answer them badly through the pages
# (tests/dashboard/test_bad_input.py) and through Prefect's own API (tests/pipelines/test_bad_input.py).
# Each is answered well at the end, so the module leaves no run waiting.

@pytest.fixture(scope="module")
def user_count_pause(backend: object) -> Iterator[object]:
    from dashboard import gateway
    from pipelines.catalog import INGESTION

    run_id = gateway.start_run(INGESTION, {"select_features": False})
    wait_for_pending_input(run_id)
    yield run_id
    gateway.resume(run_id, {"number_of_users": 1})
    wait_for_status(run_id, {"completed"})


@pytest.fixture(scope="module")
def feature_pause(backend: object) -> Iterator[object]:
    from dashboard import gateway
    from tests.dashboard.apptest import ingest_until_feature_pause

    parent, child = ingest_until_feature_pause(2)
    yield child
    gateway.resume(child, {"features_to_drop": []})
    wait_for_status(parent, {"completed"})


@pytest.fixture(scope="module")
def instruction_pause(prefect_api_module: str, fake_llm_server: object) -> Iterator[object]:
    from dashboard import gateway
    from pipelines.blocks import JSON
    from pipelines.catalog import INSIGHTS, USERS_BLOCK_NAME
    from pipelines.core.settings import get_settings

    JSON(value=generate_fake_users(6, seed=3)).save(USERS_BLOCK_NAME, overwrite=True)
    gateway.store_secret(get_settings().llm_secret_block, "sk-test-bad-input")
    run_id = gateway.start_run(INSIGHTS, {"model": "openai:local-model",
                                          "base_url": fake_llm_server.base_url})  # type: ignore[attr-defined]
    wait_for_pending_input(run_id)
    yield run_id
    fake_llm_server.mode = "ok"  # type: ignore[attr-defined]
    gateway.resume(run_id, {"input_instructions": "Count the users per gender."})
    assert wait_for_status(run_id, {"completed", "failed"}, timeout=120).status == "completed"
