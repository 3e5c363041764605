"""The autohelper's dataset form: where the reviews come from, how they are read, labelled and split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from pipelines.core.markdown import escape_markdown
from pipelines.core.review_files import DELIMITERS, load_reviews
from pipelines.core.review_sample import SAMPLE_NOTE, sample_reviews
from pipelines.core.reviews import (
    GOLDEN_DRAWS,
    SEED_PRESET,
    DatasetProblem,
    check_columns,
    check_dataset_location,
    format_label_map,
    parse_label_map,
    prepare_dataset,
    propose_label_map,
    suggest_columns,
)
from pipelines.core.run_data import RunDataNotWritten, run_data_store, save_upload, upload_reference
from pipelines.core.settings import get_settings

SOURCES = ["Generated sample", "Path or URL", "Upload a file"]
DETECT = "Detect"
SPLITS = {"recommended": "Recommended: golden max(100, 10%), all other rows as tasks",
          "seed": f"Seed: {SEED_PRESET['n_tasks']} tasks, {SEED_PRESET['n_golden']} golden, balanced",
          "custom": "Custom"}


def _load(source: str) -> tuple[pd.DataFrame | None, dict[str, Any], tuple[bytes, str] | None]:
    """The chosen reviews, how the flow will load them (its `dataset`, `delimiter` and `header` parameters) and,
    for an upload, its bytes and suffix: `dataset` names them, stored only once the data checks out."""
    if source == SOURCES[0]:
        st.caption(SAMPLE_NOTE)
        return sample_reviews(), {"dataset": "sample", "delimiter": None, "header": True}, None
    left, right = st.columns(2)
    chosen = left.selectbox("Delimiter", [DETECT, *DELIMITERS], key="autohelper.delimiter",
                            help="Detect tries comma, tab, semicolon and pipe.")
    reading = {"delimiter": None if chosen == DETECT else chosen,
               "header": right.checkbox("First row is a header", True, key="autohelper.header")}
    if source == SOURCES[1]:
        location = st.text_input("Path or URL (CSV, TSV or TXT)", key="autohelper.location").strip()
        if location:
            check_dataset_location(location, get_settings().allowed_dataset_folders)
        return (load_reviews(location, **reading), {"dataset": location, **reading}, None) if location \
            else (None, {}, None)
    upload = st.file_uploader("Reviews file", type=["csv", "tsv", "txt"], key="autohelper.upload")
    if upload is None:
        return None, {}, None
    content = upload.getvalue()
    # Named by content; stored only once the data checks out, so a refused file leaves nothing behind.
    suffix = Path(upload.name).suffix
    return load_reviews(content, **reading), {"dataset": upload_reference(content, suffix), **reading}, \
        (content, suffix)


def _label_mapping(frame: pd.DataFrame, dataset: str, label_column: str) -> str:
    """The mapping text input, pre-filled from the label column's values; an edit stays while the column does."""
    key = "autohelper.label_map"
    try:
        proposed = propose_label_map(frame[label_column])
        proposal, problem = format_label_map(proposed), None
    except DatasetProblem as exc:
        proposed, proposal, problem = {}, "", str(exc)
    if len(proposed) == 1:
        problem = (f"Column {label_column!r} holds one value only ({next(iter(proposed))}): reviews of one label "
                   "can neither train nor measure the model. Pick the column with the labels, or add reviews of "
                   "another label.")
    if key not in st.session_state or st.session_state.get(f"{key}.for") != (dataset, label_column):
        st.session_state[key] = proposal
        st.session_state[f"{key}.for"] = (dataset, label_column)
    text = st.text_input("Label mapping", key=key, help="How the label column's values become labels: "
                         f"`value=label`, comma-separated. Proposed from the values seen: "
                         f"{escape_markdown(proposal) or 'none'}.")
    if problem and text.strip() in ("", proposal):
        st.warning(escape_markdown(problem))
    return text


def _split() -> dict[str, Any]:
    """The split preset, as the flow's `n_tasks`, `n_golden` and `golden_draw` parameters."""
    split = st.radio("Split", list(SPLITS), format_func=SPLITS.get, key="autohelper.split")
    if split == "seed":
        return dict(SEED_PRESET)
    golden_draw = st.radio("Golden draw", GOLDEN_DRAWS, key="autohelper.golden_draw", horizontal=True,
                           help="stratified: golden keeps the data's class shares; balanced: as many of each "
                                "class as the data allows (the seed's draw). Tasks keep every class either way.")
    if split == "recommended":
        return {"n_tasks": None, "n_golden": None, "golden_draw": golden_draw}
    left, right = st.columns(2)
    n_tasks = left.number_input("Tasks", 1, 1_000_000, 200, key="autohelper.n_tasks")
    n_golden = right.number_input("Golden items", 2, 100_000, 100, key="autohelper.n_golden")
    return {"n_tasks": int(n_tasks), "n_golden": int(n_golden), "golden_draw": golden_draw}


def _shares(labels: pd.Series) -> str:
    shares = labels.fillna("no label").value_counts(normalize=True).sort_index().sort_values(ascending=False,
                                                                                          kind="stable")
    return escape_markdown(", ".join(f"{label} {share:.0%}" for label, share in shares.items()))


def dataset_form() -> dict[str, Any] | None:
    """The dataset pickers; the flow's dataset parameters once the data checks out, else None (with a reason)."""
    with st.expander("Dataset", expanded=True, icon=":material/dataset:"):
        source = st.radio("Reviews", SOURCES, key="autohelper.source", horizontal=True)
        try:
            frame, reading, upload = _load(source)
        except DatasetProblem as exc:
            st.error(escape_markdown(str(exc)))
            return None
        if frame is None:
            return None
        columns = list(frame.columns)
        text_default, label_default = suggest_columns(frame)
        left, right = st.columns(2)
        text_column = left.selectbox("Text column", columns, key="autohelper.text_column",
                                     index=columns.index(text_default))
        label_column = right.selectbox("Label column", columns, key="autohelper.label_column",
                                       index=columns.index(label_default))
        try:
            check_columns(frame, text_column, label_column)
        except DatasetProblem as exc:
            st.error(escape_markdown(str(exc)))
            return None
        mapping_text = _label_mapping(frame, reading["dataset"], label_column)
        sizes = _split()
        try:
            label_map = parse_label_map(mapping_text)
            prepared = prepare_dataset(frame, text_column, label_column, label_map, **sizes)
        except DatasetProblem as exc:
            st.error(escape_markdown(str(exc)))
            return None
        st.caption(f"{len(prepared.tasks)} tasks and {len(prepared.golden)} golden items; dropped "
                   f"{prepared.report['empty_texts']} empty and {prepared.report['duplicates']} duplicate texts. "
                   f"Golden: {_shares(prepared.golden.label)}. Tasks: {_shares(prepared.tasks.label)}.")
        for warning in prepared.warnings:
            st.warning(escape_markdown(warning))
        if upload is not None:
            try:
                save_upload(run_data_store(), *upload)  # the run reads it from the run-data store
            except OSError as exc:  # RunDataNotWritten too: a full disk, an unwritable folder
                cause = exc.__cause__ if isinstance(exc, RunDataNotWritten) and exc.__cause__ else exc
                reason = getattr(cause, "strerror", None) or str(cause)
                st.error(escape_markdown(f"Could not save the upload ({reason}); nothing was saved. Free some "
                                         "space, then upload it again."))
                return None
    return {**reading, "text_column": text_column, "label_column": label_column, "label_map": label_map, **sizes}
