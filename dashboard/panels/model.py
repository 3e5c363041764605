"""The autohelper's model picker: the packaged MiniLM, a saved version, or a Hugging Face model."""

from __future__ import annotations

from typing import Any

import streamlit as st

from pipelines.core.autohelper import DEFAULT_HF_MODEL, OFFLINE_MODEL_NAME, OfflineMode
from pipelines.core.model_versions import list_versions
from pipelines.core.run_data import run_data_store

HF_MODEL = "A Hugging Face id or path"
SAVED_VERSION = "A saved version"
MODEL_MODES: dict[str, OfflineMode] = {"Auto": "auto", "Zero-shot": "zero-shot", "Few-shot": "few-shot"}
COMPUTE = {"fp32 on the CPU": {"precision": "fp32", "device": "cpu"},
           "bf16 on the CPU": {"precision": "bf16", "device": "cpu"},
           "fp32 on a CUDA GPU": {"precision": "fp32", "device": "cuda"},
           "bf16 on a CUDA GPU": {"precision": "bf16", "device": "cuda"}}


def model_picker() -> dict[str, Any]:
    """The flow's `model`, `model_mode`, `precision` and `device`; `model` stays empty until a Hugging Face id or
    path is typed."""
    versions = {version.version_id: version for version in list_versions(run_data_store())}
    with st.expander("Model", expanded=True, icon=":material/model_training:"):
        kind = st.radio("Model", [OFFLINE_MODEL_NAME, *([SAVED_VERSION] if versions else []), HF_MODEL],
                        key="autohelper.model_kind", horizontal=True,
                        help=f"`{OFFLINE_MODEL_NAME}`: the packaged MiniLM, works offline. A saved version: MiniLM "
                             "retrained on a run's human labels. A Hugging Face sequence-classification model "
                             "needs the hub or a local copy.")
        compute = COMPUTE[st.selectbox("Precision and device", list(COMPUTE), key="autohelper.compute",
                                       help="bf16 is faster than fp32 on a CPU with AVX512-BF16 or AMX and agrees "
                                            "with it on at least 99.5% of labels. A run on a machine that cannot "
                                            "do what is picked stops at once and says what to pick instead.")]
        if kind == SAVED_VERSION:
            chosen = st.selectbox("Version", list(versions), key="autohelper.model_version",
                                  format_func=lambda version_id: versions[version_id].describe(),
                                  help="Newest first: name, when it was saved, the run whose labels it learnt "
                                       "from, and its out-of-fold golden accuracy. Its head labels the run as "
                                       "it is.")
            return {"model": chosen, "model_mode": "auto", **compute}
        if kind == OFFLINE_MODEL_NAME:
            mode = st.selectbox("Mode", list(MODEL_MODES), key="autohelper.model_mode",
                                help="Zero-shot: the label whose example sentences are closest wins. Few-shot: a "
                                     "head trained on the golden items (needs two of each label). Auto: whichever "
                                     "is right more often on golden items it never trained on.")
            return {"model": OFFLINE_MODEL_NAME, "model_mode": MODEL_MODES[mode], **compute}
        model = st.text_input("Hugging Face id or path", DEFAULT_HF_MODEL, key="autohelper.model",
                              help="Any sequence-classification id or local path, used as it is.").strip()
        if not model:
            st.info("Type a model id or path to run the autohelper.")
        return {"model": model, "model_mode": "auto", **compute}
