"""The autohelper page's parts: the dataset form, the live threshold panel, and the split results."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from uuid import UUID

import pandas as pd
import streamlit as st

from dashboard import charts, gateway
from dashboard.components import resume_or_explain
from dashboard.crowd_sync import toloka_configured
from pipelines.catalog import CROWD_LOOP
from pipelines.core.aggregation import METHODS
from pipelines.core.autohelper import OFFLINE_MODEL_NAME
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.markdown import escape_markdown
from pipelines.core.reviews import (
    DELIMITERS,
    GOLDEN_DRAWS,
    SAMPLE_NOTE,
    SEED_PRESET,
    DatasetProblem,
    format_label_map,
    load_reviews,
    parse_label_map,
    prepare_dataset,
    propose_label_map,
    sample_reviews,
    suggest_columns,
)
from pipelines.core.settings import get_settings
from pipelines.core.threshold import CrowdCost, ThresholdCurve

SOURCES = ["Generated sample", "Path or URL", "Upload a file"]
DETECT = "Detect"
SPLITS = {"recommended": "Recommended: golden max(100, 10%), all other rows as tasks",
          "seed": f"Seed: {SEED_PRESET['n_tasks']} tasks, {SEED_PRESET['n_golden']} golden, balanced",
          "custom": "Custom"}


def _load(source: str) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """The chosen reviews and how the flow will load them: its `dataset`, `delimiter` and `header` parameters."""
    if source == SOURCES[0]:
        st.caption(SAMPLE_NOTE)
        return sample_reviews(), {"dataset": "sample", "delimiter": None, "header": True}
    left, right = st.columns(2)
    chosen = left.selectbox("Delimiter", [DETECT, *DELIMITERS], key="autohelper.delimiter",
                            help="Detect tries comma, tab, semicolon and pipe.")
    reading = {"delimiter": None if chosen == DETECT else chosen,
               "header": right.checkbox("First row is a header", True, key="autohelper.header")}
    if source == SOURCES[1]:
        location = st.text_input("Path or URL (CSV, TSV or TXT)", key="autohelper.location").strip()
        return (load_reviews(location, **reading), {"dataset": location, **reading}) if location else (None, {})
    upload = st.file_uploader("Reviews file", type=["csv", "tsv", "txt"], key="autohelper.upload")
    if upload is None:
        return None, {}
    content = upload.getvalue()
    # The runner reads the upload from the data folder; named by content so a re-upload is not a new file.
    name = f"{hashlib.sha256(content).hexdigest()[:16]}{Path(upload.name).suffix.lower()}"
    path = get_settings().data_dir / "uploads" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return load_reviews(content, **reading), {"dataset": str(path), **reading}


def _label_mapping(frame: pd.DataFrame, dataset: str, label_column: str) -> str:
    """The mapping text input, pre-filled from the label column's values; an edit stays while the column does."""
    key = "autohelper.label_map"
    try:
        proposal, problem = format_label_map(propose_label_map(frame[label_column])), None
    except DatasetProblem as exc:
        proposal, problem = "", exc
    if key not in st.session_state or st.session_state.get(f"{key}.for") != (dataset, label_column):
        st.session_state[key] = proposal
        st.session_state[f"{key}.for"] = (dataset, label_column)
    text = st.text_input("Label mapping", key=key, help="How the label column's values become labels: "
                         f"`value=label`, comma-separated. Proposed from the values seen: "
                         f"{escape_markdown(proposal) or 'none'}.")
    if problem and not text.strip():
        st.warning(escape_markdown(str(problem)))
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
    """Dataset and model pickers; the flow's parameters once the data checks out, else None (with a reason)."""
    with st.expander("Dataset and model", expanded=True, icon=":material/dataset:"):
        source = st.radio("Reviews", SOURCES, key="autohelper.source", horizontal=True)
        try:
            frame, reading = _load(source)
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
        mapping_text = _label_mapping(frame, reading["dataset"], label_column)
        sizes = _split()
        model = st.text_input("Model", OFFLINE_MODEL_NAME, key="autohelper.model",
                              help=f"`{OFFLINE_MODEL_NAME}` (packaged MiniLM, works offline), or any Hugging Face "
                                   "sequence-classification id or local path, e.g. "
                                   "distilbert-base-uncased-finetuned-sst-2-english.")
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
    return {**reading, "text_column": text_column, "label_column": label_column, "label_map": label_map, **sizes,
            "model": model.strip() or OFFLINE_MODEL_NAME}


@st.cache_resource(max_entries=8)
def _curve(run_id: str) -> tuple[ThresholdCurve, pd.DataFrame, pd.DataFrame]:
    predictions = AutohelperStore.for_run(get_settings().data_dir, run_id).read("predictions")
    golden = predictions[predictions.split == "golden"]
    curve = ThresholdCurve(golden.confidence.to_numpy(), golden.correct.to_numpy(),
                           predictions[predictions.split == "task"].confidence.to_numpy(), CrowdCost())
    return curve, golden, curve.curve()


def threshold_panel(run_id: UUID, pending: gateway.PendingInput) -> None:
    """A slider that updates counts, accuracy, cost and charts live; buttons that solve for a threshold."""
    curve, golden, points = _curve(str(run_id))
    key = f"autohelper.{run_id}.threshold"
    seed = float(pending.schema["properties"]["threshold"]["default"])
    st.session_state.setdefault(key, seed)

    def set_threshold(value: float | None) -> None:
        if value is None:
            st.session_state[f"{key}.note"] = "No threshold meets that target on the golden items."
        else:
            st.session_state[key] = min(1.0, float(value))

    solve, target_col, budget_col = st.columns(3)
    solve.button("Seed rule", key=f"{key}.seed", on_click=set_threshold, args=(seed,),
                 help="90th percentile of confidence on golden items the model got wrong; 0.95 if none.")
    target = target_col.number_input("Target accuracy", 0.5, 1.0, 0.95, 0.01, key=f"{key}.target")
    target_col.button("Solve for accuracy", key=f"{key}.solve_target", on_click=lambda: set_threshold(
        getattr(curve.for_target_accuracy(target), "threshold", None)))
    budget = budget_col.number_input("Budget", 0.0, value=curve.at(seed).crowd_cost, key=f"{key}.budget")
    budget_col.button("Solve for budget", key=f"{key}.solve_budget",
                      on_click=lambda: set_threshold(curve.for_budget(budget).threshold))
    if note := st.session_state.pop(f"{key}.note", None):
        st.warning(note)

    threshold = st.slider("Threshold", 0.0, 1.0, step=0.001, format="%.3f", key=key)
    point = curve.at(threshold)
    metrics = st.columns(5)
    metrics[0].metric("Accepted", point.accepted)
    metrics[1].metric("To people", point.manual)
    metrics[2].metric("Golden accuracy", f"{point.accuracy:.1%}" if point.labelled_accepted else "—",
                      help=f"95% interval {point.ci_low:.1%}–{point.ci_high:.1%} on {point.labelled_accepted} items")
    metrics[3].metric("Crowd cost", f"{point.crowd_cost:.2f}")
    metrics[4].metric("Saving", f"{point.saving:.2f}", f"{point.saving_share:.0%}")
    for reason in curve.warnings_for(point):
        st.warning(reason)
    st.plotly_chart(charts.confidence_histogram(golden, threshold), key=f"{key}.histogram")
    st.plotly_chart(charts.accuracy_coverage(points, threshold, point.coverage, point.accuracy), key=f"{key}.curve")
    st.plotly_chart(charts.cost_curve(points, threshold), key=f"{key}.cost")
    if st.button("Confirm threshold", key="autohelper.confirm", type="primary") and resume_or_explain(
        run_id, {"threshold": threshold}, pending.pause_key, key="autohelper"
    ):
        st.rerun()


def results(run_id: UUID) -> None:
    store = AutohelperStore.for_run(get_settings().data_dir, str(run_id))
    columns = ["item_id", "text", "label", "confidence", "model_version"]
    for table, title in (("accepted", "Accepted from the model"), ("manual", "For people to label")):
        frame = store.read(table)
        if frame is not None:
            st.subheader(f"{title} ({len(frame)})")
            st.dataframe(frame[columns], hide_index=True, key=f"autohelper.{table}")
    with st.form("autohelper.crowd"):
        st.markdown("**Send the items for people to a crowd**")
        left, middle, right = st.columns(3)
        crowd = left.selectbox("Crowd", ["local", "simulated"] + (["toloka"] if toloka_configured() else []),
                               key="autohelper.crowd_kind",
                               help="local: annotators on the Crowd labelling page; simulated: seeded simulated "
                                    "workers, for demos (marked as simulated everywhere); toloka (when configured): "
                                    "a pool in your Toloka project.")
        method = middle.selectbox("Aggregation", list(METHODS), key="autohelper.method")
        overlap = right.number_input("Answers per item", 1, 10, 3, key="autohelper.overlap")
        if st.form_submit_button("Start the crowd loop", type="primary"):
            st.session_state["crowd.run_id"] = gateway.start_run(CROWD_LOOP, {
                "autohelper_run_id": str(run_id), "crowd": crowd, "method": method, "overlap": int(overlap)})
            st.page_link("views/crowd_results.py", label="Follow it on Crowd results", icon=":material/table_chart:")
