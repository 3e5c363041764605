"""Autohelper inference throughput on real MiniLM weights: HF pipeline per item, pipeline batched, and ours.

Every contender embeds the same texts with the same encoder (mean pooling) and labels them with the same
zero-shot prototypes, so labels must be identical. Also measures this machine's fp32 GEMM throughput with the
model's own matrix shapes, and the share of it our path reaches. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _shared_reviews import shared_reviews  # noqa: E402

from pipelines.core.autohelper import PROTOTYPES, MiniLMSentimentModel  # noqa: E402
from pipelines.core.review_sample import sample_reviews  # noqa: E402

N_TEXTS = 1000


def _texts() -> tuple[list[str], str]:
    data = shared_reviews()
    if data is not None:
        texts = data.iloc[:, 0].dropna().astype(str).tolist()
        return texts[:N_TEXTS], "shared reviews (Yelp + IMDb)"
    return sample_reviews(N_TEXTS)["reviews.text"].tolist(), "generated sample"


def _mean_pool(token_vectors: np.ndarray) -> np.ndarray:
    vector = token_vectors.mean(axis=0)
    return vector / np.linalg.norm(vector)


def _gemm_gflops(hidden: int, intermediate: int, rows: int = 4096, repeats: int = 20) -> float:
    a = torch.randn(rows, hidden)
    weights = [torch.randn(hidden, hidden), torch.randn(hidden, intermediate), torch.randn(intermediate, hidden)]
    inputs = [a, a, torch.randn(rows, intermediate)]
    flops = sum(2 * x.shape[0] * x.shape[1] * w.shape[1] for x, w in zip(inputs, weights))
    for x, w in zip(inputs, weights):
        x @ w  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        for x, w in zip(inputs, weights):
            x @ w
    return flops * repeats / (time.perf_counter() - started) / 1e9


def main() -> None:
    texts, source = _texts()
    ours_model = MiniLMSentimentModel(batch_size=64)
    tokenizer, encoder = ours_model._load()
    config = encoder.config
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=256)["input_ids"]]
    useful_tokens = sum(lengths)

    from transformers import pipeline

    extractor = pipeline("feature-extraction", model=encoder, tokenizer=tokenizer, device=-1,
                         tokenizer_kwargs={"truncation": True, "max_length": 256})
    prototypes = np.stack([ours_model.embed(PROTOTYPES[label]).mean(axis=0) for label in ours_model.labels_])
    prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True)

    def labels_of(vectors: np.ndarray) -> list[int]:
        return list((vectors @ prototypes.T).argmax(axis=1))

    timings, labels = {}, {}
    started = time.perf_counter()
    per_item = np.stack([_mean_pool(np.asarray(extractor(t)[0])) for t in texts])
    timings["pipeline_per_item"] = time.perf_counter() - started
    labels["pipeline_per_item"] = labels_of(per_item)

    started = time.perf_counter()
    # Batched pipeline outputs keep their padding rows: drop them so the pooling matches per-item calls.
    batched = np.stack([_mean_pool(np.asarray(v[0])[:n]) for v, n in zip(extractor(texts, batch_size=64), lengths)])
    timings["pipeline_batch_64"] = time.perf_counter() - started
    labels["pipeline_batch_64"] = labels_of(batched)

    fresh = MiniLMSentimentModel(batch_size=64)
    fresh._encoder = ours_model._encoder  # same weights, empty embedding cache
    started = time.perf_counter()
    ours = fresh.embed(texts)
    timings["ours"] = time.perf_counter() - started
    labels["ours"] = labels_of(ours)

    hidden, intermediate, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    mean_len = useful_tokens / len(texts)
    flops_per_token = layers * (2 * (4 * hidden * hidden + 2 * hidden * intermediate) + 4 * mean_len * hidden)
    gemm = _gemm_gflops(hidden, intermediate)
    ours_gflops = flops_per_token * useful_tokens / timings["ours"] / 1e9
    figures = {name: {"texts_per_s": round(len(texts) / s, 1), "useful_tokens_per_s": round(useful_tokens / s)}
               for name, s in timings.items()}
    print(json.dumps({
        "benchmark": "autohelper_throughput", "texts": len(texts), "source": source,
        "useful_tokens": useful_tokens, "threads": torch.get_num_threads(), **figures,
        "speedup_vs_per_item": round(timings["pipeline_per_item"] / timings["ours"], 2),
        "speedup_vs_batch_64": round(timings["pipeline_batch_64"] / timings["ours"], 2),
        "identical_labels": labels["ours"] == labels["pipeline_per_item"] == labels["pipeline_batch_64"],
        "labels_differing_from_per_item": {name: int(np.sum(np.array(labels[name]) != np.array(
            labels["pipeline_per_item"]))) for name in ("pipeline_batch_64", "ours")},
        "max_embedding_difference_vs_per_item": round(float(np.abs(ours - per_item).max()), 6),
        "gemm_gflops": round(gemm, 1), "ours_effective_gflops": round(ours_gflops, 1),
        "share_of_gemm_roofline": round(ours_gflops / gemm, 3),
        "goals": {"vs_per_item": 3, "vs_batch_64": 1.5, "share_of_gemm_roofline": 0.7},
    }))


if __name__ == "__main__":
    main()
