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
from pipelines.core.autohelper import (
    DEFAULT_HF_MODEL,
    OFFLINE_MODEL_NAME,
    OfflineMode,
    baseline_warning,
    majority_baseline,
)
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.markdown import escape_markdown
from pipelines.core.model_versions import list_versions
from pipelines.core.reviews import (
    DELIMITERS,
    GOLDEN_DRAWS,
    SAMPLE_NOTE,
    SEED_PRESET,
    DatasetProblem,
    check_dataset_location,
    format_label_map,
    load_reviews,
    parse_label_map,
    prepare_dataset,
    propose_label_map,
    sample_reviews,
    suggest_columns,
)
from pipelines.core.settings import get_settings
from pipelines.core.threshold import BOUND_LABELS, Bound, CrowdCost, ThresholdCurve

HF_MODEL = "A Hugging Face id or path"
SAVED_VERSION = "A saved version"
MODEL_MODES: dict[str, OfflineMode] = {"Auto": "auto", "Zero-shot": "zero-shot", "Few-shot": "few-shot"}
COMPUTE = {"fp32 on the CPU": {"precision": "fp32", "device": "cpu"},
           "bf16 on the CPU": {"precision": "bf16", "device": "cpu"},
           "fp32 on a CUDA GPU": {"precision": "fp32", "device": "cuda"},
           "bf16 on a CUDA GPU": {"precision": "bf16", "device": "cuda"}}
DECIMALS = 3  # the slider's resolution: every threshold set, shown and sent has this many decimals
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
        if location:
            check_dataset_location(location, get_settings().allowed_dataset_folders)
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
    """The dataset pickers; the flow's dataset parameters once the data checks out, else None (with a reason)."""
    with st.expander("Dataset", expanded=True, icon=":material/dataset:"):
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
    return {**reading, "text_column": text_column, "label_column": label_column, "label_map": label_map, **sizes}


def model_picker() -> dict[str, Any]:
    """The flow's `model`, `model_mode`, `precision` and `device`; `model` stays empty until a Hugging Face id or
    path is typed."""
    versions = {version.version_id: version for version in list_versions(get_settings().data_dir)}
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


@st.cache_resource(max_entries=8)
def _curve(run_id: str) -> tuple[ThresholdCurve, pd.DataFrame, pd.DataFrame]:
    predictions = AutohelperStore.for_run(get_settings().data_dir, run_id).read("predictions")
    golden = predictions[predictions.split == "golden"]
    curve = ThresholdCurve(golden.confidence.to_numpy(), golden.correct.to_numpy(),
                           predictions[predictions.split == "task"].confidence.to_numpy(), CrowdCost())
    return curve, golden, curve.curve()


def model_quality(golden: pd.DataFrame) -> None:
    """The model's golden accuracy beside always answering the majority label, warning when it does not beat it."""
    accuracy = float(golden.correct.mean())
    label, baseline = majority_baseline(list(golden.true_label))
    left, right = st.columns(2)
    left.metric("Model's golden accuracy", f"{accuracy:.1%}",
                help="On every golden item at full coverage, each scored by a model that never trained on it.")
    right.metric("Majority-class baseline", f"{baseline:.1%}", help="Always answering the most common golden label.")
    st.text(f"Model {golden.model_version.iloc[0]}; the baseline always answers {label!r}.")
    if warning := baseline_warning(accuracy, (label, baseline)):
        st.warning(escape_markdown(warning), icon=":material/warning:")


def _solve_for_target(curve: ThresholdCurve, key: str) -> None:
    """Set the slider to the lowest threshold meeting the target on the chosen bound, or say what is reachable."""
    target, bound = float(st.session_state[f"{key}.target"]), st.session_state[f"{key}.bound"]
    point = curve.for_target_accuracy(target, bound, decimals=DECIMALS)
    if point is not None:
        st.session_state[key] = point.threshold
        return
    best = curve.best_reachable(bound, decimals=DECIMALS)
    st.session_state[f"{key}.note"] = f"No threshold reaches {target:.1%} on the {BOUND_LABELS[bound]}" + (
        f"; the best reachable is {best.accuracy_bound(bound):.1%}, at threshold {best.threshold:.3f}."
        if best else "; no threshold accepts a golden item.")


def _solve_controls(curve: ThresholdCurve, key: str, seed: float) -> None:
    """Buttons that set the slider: the seed rule, a target accuracy on a chosen bound, a budget."""
    def set_threshold(value: float) -> None:
        st.session_state[key] = min(1.0, value)

    solve, target_col, budget_col = st.columns(3)
    solve.button("Seed rule", key=f"{key}.seed", on_click=set_threshold, args=(seed,),
                 help="90th percentile of confidence on golden items the model got wrong; 0.95 if none.")
    target_col.number_input("Target accuracy", 0.5, 1.0, 0.95, 0.01, key=f"{key}.target")
    bounds: list[Bound] = ["lower", "point"]
    target_col.radio("Solve on the", bounds, format_func=BOUND_LABELS.__getitem__, key=f"{key}.bound",
                     help="95% lower bound: the golden accuracy of accepted items is at least the target with 95% "
                          "confidence (needs more golden evidence). Point estimate: the accuracy measured on golden "
                          "items itself.")
    target_col.button("Solve for accuracy", key=f"{key}.solve_target", on_click=_solve_for_target, args=(curve, key))
    budget_col.number_input("Budget", 0.0, value=curve.at(seed).crowd_cost, key=f"{key}.budget")
    budget_col.button("Solve for budget", key=f"{key}.solve_budget", on_click=lambda: set_threshold(
        curve.for_budget(st.session_state[f"{key}.budget"], decimals=DECIMALS).threshold))
    if note := st.session_state.pop(f"{key}.note", None):
        st.warning(note)


def threshold_panel(run_id: UUID, pending: gateway.PendingInput) -> None:
    """A slider that updates counts, accuracy, cost and charts live; buttons that solve for a threshold."""
    curve, golden, points = _curve(str(run_id))
    key = f"autohelper.{run_id}.threshold"
    seed = round(float(pending.schema["properties"]["threshold"]["default"]), DECIMALS)
    st.session_state.setdefault(key, seed)
    model_quality(golden)
    _solve_controls(curve, key, seed)

    # Rounded as the slider shows it: the counts, the charts and the confirmed value all use this one number.
    threshold = round(float(st.slider("Threshold", 0.0, 1.0, step=0.001, format="%.3f", key=key)), DECIMALS)
    point = curve.at(threshold)
    metrics = st.columns(5)
    metrics[0].metric("Accepted", point.accepted)
    metrics[1].metric("To people", point.manual)
    metrics[2].metric("Golden accuracy", f"{point.accuracy:.1%}" if point.labelled_accepted else "—",
                      help=f"Of accepted golden items: {point.accuracy_text()}.")
    metrics[3].metric("Crowd cost", f"{point.crowd_cost:.2f}")
    metrics[4].metric("Saving", f"{point.saving:.2f}", f"{point.saving_share:.0%}")
    for reason in curve.warnings_for(point):
        st.warning(reason)
    st.plotly_chart(charts.confidence_histogram(golden, threshold), key=f"{key}.histogram")
    st.plotly_chart(charts.accuracy_coverage(points, threshold, point.coverage, point.accuracy), key=f"{key}.curve")
    st.plotly_chart(charts.cost_curve(points, threshold), key=f"{key}.cost")
    # The click goes to the run and pause it was drawn for, never a newer run's.
    st.button(f"Confirm threshold {threshold:.3f}", key=f"autohelper.{run_id}.confirm", type="primary",
              on_click=_confirm_threshold, args=(run_id, key, pending.pause_key))


def _confirm_threshold(run_id: UUID, key: str, pause_key: str) -> None:
    # The slider's value at the click, not the one bound when the button was drawn: a slider moved just before the
    # click reaches the server in the same rerun as the click, before the button's label could catch up.
    resume_or_explain(run_id, {"threshold": round(float(st.session_state[key]), DECIMALS)}, pause_key)


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
        model_votes = st.checkbox(
            "Let the model vote", key="autohelper.model_votes",
            help="The model's label on each item people answer joins their answers as one more worker, trusted as "
                 "far as it agrees with them. It never counts as a person's answer; the final table marks the "
                 "labels its vote changed.")
        adaptive = adaptive_overlap_inputs()
        if st.form_submit_button("Start the crowd loop", type="primary"):
            if adaptive and crowd == "toloka":
                st.error("Toloka keeps a fixed overlap: untick adaptive overlap to post this batch to Toloka with "
                         f"{int(overlap)} answers per item, or choose the local or simulated crowd.")
                return
            if adaptive and adaptive["min_answers"] > adaptive["max_answers"]:
                st.error(f"Adaptive overlap: the answers every item gets first ({adaptive['min_answers']}) cannot "
                         f"exceed the most an item gets ({adaptive['max_answers']}).")
                return
            st.session_state["crowd.run_id"] = gateway.start_run(CROWD_LOOP, {
                "autohelper_run_id": str(run_id), "crowd": crowd, "method": method, "overlap": int(overlap),
                "model_votes": bool(model_votes), **({"adaptive": True, **adaptive} if adaptive else {})})
            st.page_link("views/crowd_results.py", label="Follow it on Crowd results", icon=":material/table_chart:",
                         query_params={"run": str(st.session_state["crowd.run_id"])})


def adaptive_overlap_inputs() -> dict[str, int | float] | None:
    """The crowd form's adaptive-overlap fields: the rule's parameters when ticked, else None."""
    on, first, most, stop = st.columns(4)
    adaptive = on.checkbox("Adaptive overlap", key="autohelper.adaptive",
                           help="Ask people only as often as an item needs: every item gets the first answers, "
                                "more only while they disagree, up to the most. Not for Toloka (fixed overlap).")
    min_answers = first.number_input("First answers per item", 1, 10, 2, key="autohelper.min_answers")
    max_answers = most.number_input("Most answers per item", 1, 10, 5, key="autohelper.max_answers")
    stop_confidence = stop.number_input("Stop at confidence", 0.5, 0.999, 0.95, step=0.01, format="%.3f",
                                        key="autohelper.stop_confidence",
                                        help="An item takes no more answers once its leading label is this likely.")
    if not adaptive:
        return None
    return {"min_answers": int(min_answers), "max_answers": int(max_answers),
            "stop_confidence": float(stop_confidence)}
