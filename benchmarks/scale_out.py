"""Autohelper predictions on the same texts: one process in fp32, Dask LocalClusters of 1 and 2 workers, and bf16.

Texts: the shared reviews (Yelp + IMDb), else the generated sample; the offline MiniLM, zero-shot. Each contender
is timed warm (weights loaded, no embedding cached); a Dask cluster's first pass (cluster start and one model load
per worker) is reported apart. Batches go to Dask as Prefect tasks, so a fresh embedded backend is started. Labels
are compared with one process in fp32. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _shared_reviews import shared_reviews  # noqa: E402

from pipelines.core.autohelper import MiniLMSentimentModel, Prediction, cpu_supports_bf16  # noqa: E402
from pipelines.core.review_sample import sample_reviews  # noqa: E402

BATCH_TEXTS = 256
WORKERS = (1, 2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _texts() -> tuple[list[str], str]:
    data = shared_reviews()
    if data is not None:
        return data.iloc[:, 0].dropna().astype(str).tolist(), "shared reviews (Yelp + IMDb)"
    return sample_reviews(2000)["reviews.text"].tolist(), "generated sample"


def _single_process(texts: list[str], ids: list[str], precision: str) -> tuple[float, list[Prediction]]:
    MiniLMSentimentModel(precision=precision).predict(texts[:8], ids[:8])  # loads the weights, untimed
    started = time.perf_counter()
    predictions = MiniLMSentimentModel(precision=precision).predict(texts, ids)  # a fresh embedding cache
    return time.perf_counter() - started, predictions


def _dask(texts: list[str], ids: list[str], workers: int) -> tuple[float, float, list[Prediction]]:
    """Seconds of the first pass (cluster start, model loads), of a warm pass, and the warm pass's labels."""
    from prefect import flow

    from pipelines.core.settings import Settings
    from pipelines.flows.scale_out import dask_task_runner, predict_in_batches

    @flow(name=f"scale-out-benchmark-{workers}")
    def passes() -> tuple[float, float, list[Prediction]]:
        started = time.perf_counter()
        with dask_task_runner(Settings(dask_workers=workers)) as runner:
            predict_in_batches(MiniLMSentimentModel(), texts, ids, runner, BATCH_TEXTS)
            first = time.perf_counter() - started
            started = time.perf_counter()
            predictions = predict_in_batches(MiniLMSentimentModel(), texts, ids, runner, BATCH_TEXTS)
            return first, time.perf_counter() - started, predictions

    return passes()


def main() -> None:
    texts, source = _texts()
    ids = [str(n) for n in range(len(texts))]
    data_dir = Path(tempfile.mkdtemp(prefix="hitl-bench-"))
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.update(HITL_DATA_DIR=str(data_dir), HITL_SERVER_PORT=str(_free_port()))
    from pipelines.backend import ensure_backend, stop_backend

    os.environ["PREFECT_API_URL"] = ensure_backend().api_url  # read by Prefect below and by the Dask workers
    try:
        seconds, labels = {}, {}
        seconds["single_fp32"], baseline = _single_process(texts, ids, "fp32")
        first_pass = {}
        for workers in WORKERS:
            name = f"dask_{workers}_worker{'s' if workers > 1 else ''}_fp32"
            first_pass[name], seconds[name], labels[name] = _dask(texts, ids, workers)
        if cpu_supports_bf16():
            seconds["single_bf16"], labels["single_bf16"] = _single_process(texts, ids, "bf16")
    finally:
        stop_backend()
    rate = {name: len(texts) / s for name, s in seconds.items()}
    print(json.dumps({
        "benchmark": "scale_out", "texts": len(texts), "source": source, "cpu_cores": os.cpu_count(),
        "batch_texts": BATCH_TEXTS, "bf16_native": cpu_supports_bf16(),
        "texts_per_s": {name: round(value, 1) for name, value in rate.items()},
        "ratio_vs_single_fp32": {name: round(value / rate["single_fp32"], 2) for name, value in rate.items()},
        "dask_first_pass_s": {name: round(value, 1) for name, value in first_pass.items()},
        "identical_labels_vs_single_fp32": {
            name: sum(p.label == b.label for p, b in zip(predicted, baseline)) for name, predicted in labels.items()},
        "max_confidence_difference_vs_single_fp32": {
            name: round(max(abs(p.confidence - b.confidence) for p, b in zip(predicted, baseline)), 6)
            for name, predicted in labels.items()},
    }))


if __name__ == "__main__":
    main()
