"""A completed autohelper run: the accepted and manual tables, and the form that sends the manual items to a crowd."""

from __future__ import annotations

from uuid import UUID

import streamlit as st

from dashboard import gateway
from dashboard.crowd_sync import toloka_configured
from dashboard.ui.components import analyst_name
from pipelines.catalog import CROWD_LOOP
from pipelines.core.aggregation import METHODS
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.model_versions import is_version_id
from pipelines.core.run_data import run_data_store
from pipelines.core.threshold import DEFAULT_OVERLAP

FIRST_STOP_CONFIDENCE = 0.88
RETRAINED_STOP_CONFIDENCE = 0.93


def results(run_id: UUID) -> None:
    store = AutohelperStore.for_run(run_data_store(), str(run_id))
    columns = ["item_id", "text", "label", "confidence", "model_version"]
    retrained = False
    for table, title in (("accepted", "Accepted from the model"), ("manual", "For people to label")):
        frame = store.read(table)
        if frame is not None:
            st.subheader(f"{title} ({len(frame)})")
            st.dataframe(frame[columns], hide_index=True, key=f"autohelper.{table}")
            retrained = retrained or any(is_version_id(str(version)) for version in frame.model_version.unique())
    with st.form("autohelper.crowd"):
        st.markdown("**Send the items for people to a crowd**")
        left, middle, right = st.columns(3)
        crowd = left.selectbox("Crowd", ["local", "simulated"] + (["toloka"] if toloka_configured() else []),
                               key="autohelper.crowd_kind",
                               help="local: annotators on the Crowd labelling page; simulated: seeded simulated "
                                    "workers, for demos (marked as simulated everywhere); toloka (when configured): "
                                    "a pool in your Toloka project.")
        method = middle.selectbox("Aggregation", list(METHODS), key="autohelper.method")
        overlap = right.number_input("Answers per item", 1, 10, DEFAULT_OVERLAP, key="autohelper.overlap")
        model_votes = st.checkbox(
            "Let the model vote", value=True, key="autohelper.model_votes",
            help="The model's label on each item people answer joins their answers as one more worker, trusted as "
                 "far as it agrees with them. It never counts as a person's answer; the final table marks the "
                 "labels its vote changed. On by default: on the shared reviews it made the final labels 1.2-5.6 "
                 "points more accurate for the same answers on every seed (see the outcome benchmark).")
        adaptive = adaptive_overlap_inputs(retrained)
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
                "model_votes": bool(model_votes), **({"adaptive": True, **adaptive} if adaptive else {})},
                analyst=analyst_name())
            st.page_link("views/crowd_results.py", label="Follow it on Crowd results", icon=":material/table_chart:",
                         query_params={"run": str(st.session_state["crowd.run_id"])})


def adaptive_overlap_inputs(retrained: bool = False) -> dict[str, int | float | bool] | None:
    """The crowd form's adaptive-overlap fields: the rule's parameters when ticked, else None. `retrained`: the
    run's model is a version retrained on people's labels, which gets a stricter stop."""
    on, first, most, stop = st.columns(4)
    adaptive = on.checkbox("Adaptive overlap", key="autohelper.adaptive",
                           help="Ask people only as often as an item needs: every item gets the first answers, "
                                "more only while they disagree, up to the most. Not for Toloka (fixed overlap).")
    # One first answer and a 0.88 stop: with the model's prior and vote, 95.7-96.5% final accuracy for 0.20-0.35 of
    # the all-crowd answers on the shared reviews (outcome benchmark, five seeds). A retrained version's prior is
    # calibrated more finely, so at 0.88 its items stop just at the line and the round lost 1-2 points; at 0.93 the
    # second round was as accurate as the first for fewer answers (`--round2-stop-confidence`, five seeds).
    min_answers = first.number_input("First answers per item", 1, 10, 1, key="autohelper.min_answers")
    max_answers = most.number_input("Most answers per item", 1, 10, 5, key="autohelper.max_answers")
    stop_confidence = stop.number_input(
        "Stop at confidence", 0.5, 0.999, RETRAINED_STOP_CONFIDENCE if retrained else FIRST_STOP_CONFIDENCE,
        step=0.01, format="%.3f", key="autohelper.stop_confidence",
        help=f"An item takes no more answers once its leading label is this likely. Proposed: "
             f"{FIRST_STOP_CONFIDENCE} for the base model, {RETRAINED_STOP_CONFIDENCE} for a retrained version "
             "(its finer prior settles items closer to the line).")
    model_prior = st.checkbox(
        "Start each item from the model's label", value=True, key="autohelper.model_prior",
        help="Adaptive overlap only: the model's label counts as a prior, as likely as the model is right at its "
             "confidence (calibrated on the golden items), so people agreeing with a likely label settle the item "
             "with fewer answers; people disagreeing need a clearer majority. On by default: on the shared "
             "reviews it kept the final accuracy for a fifth fewer answers (see the outcome benchmark).")
    if not adaptive:
        return None
    return {"min_answers": int(min_answers), "max_answers": int(max_answers),
            "stop_confidence": float(stop_confidence), "model_prior": bool(model_prior)}
