"""The autohelper's prediction batches on a real two-worker Dask LocalCluster label exactly like one process."""

from __future__ import annotations

import contextvars
import threading
import time
import uuid
from collections.abc import Iterator

import pandas as pd
import pytest
from prefect import flow

from dashboard import gateway
from pipelines.core.autohelper import MiniLMSentimentModel, Prediction
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.review_sample import sample_reviews
from pipelines.core.run_data import run_data_store
from pipelines.core.settings import Settings, get_settings
from pipelines.flows.autohelper import sentiment_autohelper
from pipelines.flows.scale_out import dask_task_runner, stream_predictions
from tests.conftest import SHARED_DATA, wait_for_pending_input, wait_for_status

pytestmark = pytest.mark.usefixtures("prefect_api")


def _assert_same_predictions(scaled: list[Prediction] | pd.DataFrame, single: list[Prediction]) -> None:
    frame = scaled if isinstance(scaled, pd.DataFrame) else pd.DataFrame([p.__dict__ for p in scaled])
    assert list(frame.item_id) == [p.item_id for p in single]
    assert list(frame.label) == [p.label for p in single]  # every label
    assert list(frame.confidence) == pytest.approx([p.confidence for p in single], abs=1e-5)


@pytest.fixture
def two_dask_workers(monkeypatch) -> Iterator[Settings]:
    """This process's settings name a two-worker LocalCluster and 32-text batches, for one test."""
    monkeypatch.setenv("HITL_DASK_WORKERS", "2")
    monkeypatch.setenv("HITL_DASK_BATCH_TEXTS", "32")
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()


def _run_id_named(name: str, timeout: float = 60.0) -> uuid.UUID:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while not (runs := client.read_flow_runs(flow_run_filter=FlowRunFilter(
                name=FlowRunFilterName(any_=[name])))):
            if time.monotonic() > deadline:
                pytest.fail(f"no flow run named {name!r} appeared")
            time.sleep(0.2)
    return runs[0].id


def _task_run_names(run_id: uuid.UUID) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    return [run.name for run in runs if run.state and run.state.is_completed()]


def test_autohelper_on_two_dask_workers_stores_the_labels_of_one_process(two_dask_workers: Settings) -> None:
    # The flow runs in this process (whose settings name the cluster) against the real backend: the runner's
    # own process was started without Dask, as laptop mode is.
    name = f"dask-{uuid.uuid4().hex[:8]}"
    flow_with_name = sentiment_autohelper.with_options(flow_run_name=name)
    # The thread sees this test's Prefect settings (the backend's API) only through a copy of its context.
    run = threading.Thread(target=contextvars.copy_context().run, args=(flow_with_name,),
                           kwargs={"n_tasks": 100, "n_golden": 30, "model_mode": "zero-shot"}, daemon=True)
    run.start()
    run_id = _run_id_named(name)
    wait_for_pending_input(run_id, timeout=240)

    predictions = AutohelperStore.for_run(run_data_store(two_dask_workers), str(run_id)).read("predictions")
    tasks = predictions[predictions.split == "task"]
    assert len(tasks) == 100
    single = MiniLMSentimentModel().predict(list(tasks.text), list(tasks.item_id))
    _assert_same_predictions(tasks, single)
    # 100 texts in batches of 32: four Prefect task runs of this flow run, on the cluster.
    assert sorted(n.rsplit("-", 1)[0] for n in _task_run_names(run_id) if n.startswith("predict_batch")) == [
        "predict_batch"] * 4

    gateway.resume(run_id, {"threshold": 0.8})
    assert wait_for_status(run_id, {"completed", "failed"}).status == "completed"
    run.join(timeout=30)


@pytest.mark.skipif(not (SHARED_DATA / "reviews").exists(), reason="../shared is absent")
def test_shared_reviews_on_two_dask_workers_get_the_labels_of_one_process() -> None:
    frames = [pd.read_csv(SHARED_DATA / "reviews" / name, sep="\t", quoting=3)
              for name in ("yelp_labelled.txt", "imdb_labelled.txt")]
    texts = pd.concat(frames).iloc[:, 0].dropna().astype(str).tolist()
    ids = [str(n) for n in range(len(texts))]
    golden = texts[:200]
    labels = ["pos" if label == 1 else "neg" for label in pd.concat(frames).iloc[:200, 1]]
    model = MiniLMSentimentModel().fit(golden, labels, ids[:200])  # a few-shot head travels with each batch

    @flow
    def predict_on_dask(texts: list[str], ids: list[str]) -> list[Prediction]:
        chunks = stream_predictions(model, texts, ids, Settings(dask_workers=2, dask_batch_texts=256))
        return [prediction for chunk in chunks for prediction in chunk]

    _assert_same_predictions(predict_on_dask(texts, ids), model.predict(texts, ids))


def test_an_existing_scheduler_gets_the_batches_and_each_worker_loads_the_model_once() -> None:
    from distributed import Client, LocalCluster

    texts = list(sample_reviews(48)["reviews.text"])
    ids = [str(n) for n in range(len(texts))]
    model = MiniLMSentimentModel()

    def cached_models() -> list[str]:
        from pipelines.core import autohelper

        return sorted("/".join(key) for key in autohelper._LOADED)

    @flow
    def predict_on_scheduler(address: str) -> list[Prediction]:
        chunks = stream_predictions(model, texts, ids, Settings(dask_scheduler=address, dask_batch_texts=16),
                                    chunk_size=16)  # several chunks, each mapped on the cluster
        return [prediction for chunk in chunks for prediction in chunk]

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster:
        _assert_same_predictions(predict_on_scheduler(cluster.scheduler_address), model.predict(texts, ids))
        with Client(cluster) as client:
            loaded = client.run(cached_models)
    # Three batches over two workers; each worker that got any holds one MiniLM in fp32 on the CPU.
    assert sorted(loaded.values()) in ([["minilm-offline/fp32/cpu"]] * 2, [[], ["minilm-offline/fp32/cpu"]])


def test_a_cluster_only_when_one_is_configured_and_never_two() -> None:
    assert dask_task_runner(Settings()) is None  # laptop mode: predict in the run's process
    assert dask_task_runner(Settings(dask_scheduler="tcp://10.0.0.5:8786")).address == "tcp://10.0.0.5:8786"
    local = dask_task_runner(Settings(dask_workers=3))
    assert local.cluster_kwargs["n_workers"] == 3 and local.cluster_kwargs["threads_per_worker"] == 1
    with pytest.raises(ValueError, match="HITL_DASK_SCHEDULER .* or HITL_DASK_WORKERS .* not both"):
        Settings(dask_scheduler="tcp://10.0.0.5:8786", dask_workers=2)
