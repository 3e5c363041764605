"""Precision and device of the autohelper's models, and the per-process model cache Dask workers rely on."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from pipelines.core import autohelper
from pipelines.core.autohelper import (
    ComputeUnavailable,
    MiniLMSentimentModel,
    ModelUnavailable,
    check_compute,
    cpu_supports_bf16,
)
from pipelines.core.review_sample import sample_reviews
from tests.conftest import SHARED_DATA

SHARED_REVIEWS = SHARED_DATA / "reviews"
X86_FLAGS = "flags\t\t: fpu vme sse sse2 avx2 avx512f avx512bw"


def test_bf16_is_native_only_with_its_cpu_flag() -> None:
    assert cpu_supports_bf16(f"processor\t: 0\n{X86_FLAGS} avx512_bf16 amx_tile\n")
    assert cpu_supports_bf16(f"{X86_FLAGS} amx_bf16\n")
    assert cpu_supports_bf16("Features\t: fp asimd sve bf16 i8mm\n")  # Arm
    assert not cpu_supports_bf16(f"processor\t: 0\n{X86_FLAGS}\nmodel name\t: bf16 lookalike\n")
    assert not cpu_supports_bf16("")


def test_unknown_precision_or_device_names_the_allowed_ones() -> None:
    with pytest.raises(ComputeUnavailable, match="use one of fp32, bf16"):
        check_compute("fp16", "cpu")
    with pytest.raises(ComputeUnavailable, match="use one of cpu, cuda"):
        check_compute("fp32", "tpu")
    check_compute("fp32", "cpu")


def test_cuda_without_a_gpu_is_refused_with_what_to_use(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ComputeUnavailable, match="sees no CUDA GPU.*Use device 'cpu'"):
        check_compute("fp32", "cuda")
    # A model asked for CUDA fails the same way when it loads, before any weights are read; it is a
    # ModelUnavailable, like every model that cannot run here.
    with pytest.raises(ModelUnavailable, match="sees no CUDA GPU"):
        MiniLMSentimentModel(device="cuda").predict(["fine"], ["1"])


def test_bf16_on_a_cpu_without_it_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(autohelper, "cpu_supports_bf16", lambda cpuinfo=None: False)
    with pytest.raises(ComputeUnavailable, match="no native bf16.*Use 'fp32'"):
        check_compute("bf16", "cpu")


@pytest.mark.model
def test_a_pickled_model_carries_no_weights_and_its_copy_reuses_this_process_encoder() -> None:
    texts = list(sample_reviews(40)["reviews.text"])
    ids = [str(n) for n in range(len(texts))]
    labels = ["pos" if n % 2 else "neg" for n in range(len(texts))]
    model = MiniLMSentimentModel().fit(texts, labels, ids)
    sent = pickle.dumps(model)
    assert len(sent) < 100_000  # the head and settings; the encoder alone is ~90 MB
    received = pickle.loads(sent)
    assert received._encoder is None and received._cache == {}
    # What a Dask worker does with every batch: the weights come from the process-wide cache, loaded once.
    assert received._load()[1] is model._load()[1]
    assert [p.label for p in received.predict(texts, ids)] == [p.label for p in model.predict(texts, ids)]


def _shared_review_texts() -> list[str]:
    frames = [pd.read_csv(SHARED_REVIEWS / name, sep="\t", quoting=3) for name in ("yelp_labelled.txt",
                                                                                   "imdb_labelled.txt")]
    return pd.concat(frames).iloc[:, 0].dropna().astype(str).tolist()


@pytest.mark.model
@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no native bf16")
@pytest.mark.parametrize("source", ["sample", "shared reviews"])
def test_bf16_labels_agree_with_fp32_on_at_least_995_in_1000(source: str) -> None:
    if source == "shared reviews" and not SHARED_REVIEWS.exists():
        pytest.skip("../shared is absent")
    texts = list(sample_reviews()["reviews.text"]) if source == "sample" else _shared_review_texts()
    ids = [str(n) for n in range(len(texts))]
    fp32 = MiniLMSentimentModel().predict(texts, ids)
    bf16 = MiniLMSentimentModel(precision="bf16").predict(texts, ids)
    agreement = np.mean([a.label == b.label for a, b in zip(fp32, bf16)])
    assert agreement >= 0.995, f"bf16 agrees with fp32 on {agreement:.2%} of {len(texts)} texts"
    assert bf16[0].model_version == fp32[0].model_version
