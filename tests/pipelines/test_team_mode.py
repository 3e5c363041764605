"""Team mode: a crowd loop suspended for its batch outlives the worker that ran it.

Its own Prefect server (SQLite), a process work pool with the project deployed by `python -m pipelines.team deploy`,
and `prefect worker start` subprocesses; the dashboard's gateway in this process resumes the run.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pandas as pd
import pytest

from dashboard import gateway
from pipelines.catalog import AUDIT_ARTIFACT_KEY, CROWD_LOOP, CROWD_PROGRESS_ARTIFACT_KEY
from pipelines.core.answer_store import AnswerStore
from pipelines.core.autohelper import Prediction
from pipelines.core.autohelper_store import AutohelperStore, predictions_frame
from pipelines.core.run_data import FolderRunData
from pipelines.core.settings import get_settings
from pipelines.team_check import deploy, start_prefect_server, start_worker, team_env
from tests.conftest import wait_for_pending_input, wait_for_status

# A server, a deployment and three flow-run processes: about four minutes on this 2-core machine
# A worker killed while its run is suspended is one of the faults `make reliability` counts.
pytestmark = [pytest.mark.slow, pytest.mark.fault, pytest.mark.timeout(1200)]

POOL = "hitl-test-team"
SPLIT_RUN = "team-split-1"


@dataclass
class Team:
    stack: ExitStack
    env: dict[str, str]
    folder: Path


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """A Prefect server with the project deployed to a process work pool (no worker yet); this process's gateway
    and settings pointed at it, with the workers' data folder."""
    folder = tmp_path_factory.mktemp("team")
    with ExitStack() as stack, pytest.MonkeyPatch.context() as patch:
        api_url = start_prefect_server(stack, folder, f"sqlite+aiosqlite:///{folder / 'prefect.db'}")
        env = team_env(folder, api_url, folder / "data")
        deploy(env, POOL, folder / "logs" / "deploy.log")
        for name in ("PREFECT_API_URL", "HITL_DATA_DIR", "HITL_MODE"):
            patch.setenv(name, env[name])
        get_settings.cache_clear()
        yield Team(stack, env, folder)
    get_settings.cache_clear()


def _write_skewed_split(data_dir: Path) -> pd.Series:
    """An autohelper split shaped like real reviews: one negative in ten, long texts; the manual items' truth."""
    texts = {f"r{i}": f"Review {i}: " + "the fabric, the stitching and the zip were checked twice. " * 12
             for i in range(36)}
    truth = pd.DataFrame({"item_id": list(texts), "text": list(texts.values()),
                          "label": ["neg" if i % 10 == 0 else "pos" for i in range(36)]})
    golden, tasks = truth.iloc[:6], truth.iloc[6:]
    # The model said `pos` everywhere, surely on the first ten tasks and unsure on the rest.
    predictions = [Prediction(item, "pos", 0.99 if n < 10 else 0.6, "minilm-test") for n, item in
                   enumerate(tasks.item_id)]
    frame = predictions_frame(predictions, tasks, "task")
    store = AutohelperStore.for_run(FolderRunData(data_dir), SPLIT_RUN)
    store.write("golden", golden)
    store.write("accepted", frame[frame.confidence >= 0.9])
    store.write("manual", frame[frame.confidence < 0.9])
    return frame[frame.confidence < 0.9].set_index("item_id").true_label


def _answer_as_oracle(store: AnswerStore, batch_id: int, worker: str, truth: pd.Series) -> dict[str, str]:
    """An annotator who answers every item served with its true (or golden) label; what they answered."""
    golden = store.golden_labels(batch_id)
    given: dict[str, str] = {}
    while (item := store.next_item_for(batch_id, worker)) is not None:
        label = golden[item.task] if item.task in golden.index else truth[item.task]
        assert store.record_answer(batch_id, item.task, worker, label) == "stored"
        given[item.task] = label
    return given


def _task_states(run_id: UUID, expected: dict[str, Counter[str]]) -> dict[str, Counter[str]]:
    """Each task's state names over every execution of the run, e.g. {'open_batch': Counter({'Cached': 2, ...})},
    once they are `expected` or after a minute: task runs reach the server as events, after the run ends."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    deadline = time.monotonic() + 60
    with temporary_settings(updates={PREFECT_API_URL: gateway.api_url()}), get_client(sync_client=True) as client:
        while True:
            states: dict[str, Counter[str]] = {}
            for task_run in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))):
                states.setdefault(task_run.task_key.rsplit("-", 1)[0], Counter())[task_run.state_name or ""] += 1
            if states == expected or time.monotonic() > deadline:
                return states
            time.sleep(1)


def _next_pause(run_id: UUID, after: str) -> object:
    """The run's pause once it is a new one (another pause key than `after`), waited for through the gateway."""
    import time

    deadline = time.monotonic() + 300
    while (pending := gateway.pending_input(run_id)) is None or pending.pause_key == after:
        assert time.monotonic() < deadline, f"the run stayed {gateway.run(run_id).state_name}"
        time.sleep(0.5)
    return pending


def test_a_suspended_crowd_loop_outlives_its_worker_and_ends_with_what_people_answered(team: Team,
                                                                                       record_property) -> None:
    data_dir = Path(team.env["HITL_DATA_DIR"])
    truth = _write_skewed_split(data_dir)
    answers_url = f"sqlite:///{team.folder / 'answers.db'}"
    logs = team.folder / "logs"
    first_worker = start_worker(team.stack, team.env, POOL, "first", logs / "first.log")
    run_id = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": SPLIT_RUN, "crowd": "local", "overlap": 2,
                                            "method": "MajorityVote", "database_url": answers_url})
    first = wait_for_pending_input(run_id, timeout=300)
    assert gateway.run(run_id).state_name == "Suspended"  # the run's process is gone; nothing holds the worker
    store = AnswerStore(answers_url)
    [batch] = store.open_batches()
    given = {"ana": _answer_as_oracle(store, batch.id, "ana", truth)}
    # The analyst keeps waiting: a worker runs the flow again, which suspends at its next pause.
    gateway.resume(first, {"collect_now": False}, analyst="Lee")
    second = _next_pause(run_id, after=first.pause_key)
    assert gateway.run(run_id).state_name == "Suspended"

    os.killpg(first_worker.pid, signal.SIGKILL)  # the worker and everything it started, with no goodbye
    first_worker.wait()
    given["ben"] = _answer_as_oracle(store, batch.id, "ben", truth)
    start_worker(team.stack, team.env, POOL, "second", logs / "second.log")
    gateway.resume(second, {"collect_now": True}, analyst="Lee")
    assert wait_for_status(run_id, {"completed", "failed", "crashed"}, timeout=300).status == "completed"

    # What people answered is what the run aggregated: every manual item gets its true label, and the model's
    # accepted items keep the model's.
    final = AutohelperStore.for_run(FolderRunData(data_dir), SPLIT_RUN).read("final").set_index("item")
    crowd_rows = final[final.source == "crowd"]
    assert crowd_rows.label.to_dict() == truth.to_dict()
    assert (final[final.source == "model"].label == "pos").all() and len(final) == 30
    result = gateway.result(run_id)
    sent = sum(len(answers) for answers in given.values())
    record_property("answers_lost", max(0, sent - result["answers"]))
    record_property("answers_doubled", max(0, result["answers"] - sent))
    assert result["answers"] == sent and result["items"] == 30
    # Each execution replays the ones before it from cache: the batch opened once, each look at its progress and
    # each answer recorded once.
    expected = {"open_batch": Counter({"Completed": 1, "Cached": 2}),
                "batch_complete": Counter({"Completed": 2, "Cached": 3}),
                "record_decision": Counter({"Completed": 2, "Cached": 1})}
    assert _task_states(run_id, expected) == expected
    # Three executions of the run, one batch, one progress artifact, one audit record per answer.
    with sqlite3.connect(team.folder / "answers.db") as connection:
        assert connection.execute("SELECT count(*) FROM batches").fetchone() == (1,)
    artifacts = gateway.artifacts(run_id)
    assert sum(a.key == CROWD_PROGRESS_ARTIFACT_KEY for a in artifacts) == 1
    audit = [row for a in artifacts if a.key == AUDIT_ARTIFACT_KEY for row in a.data]
    assert [(row["input"], row["resumed_by"]) for row in audit] == [("collect_now=False", "Lee"),
                                                                   ("collect_now=True", "Lee")]
