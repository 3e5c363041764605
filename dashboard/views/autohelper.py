"""Sentiment autohelper: pick data and model, run predictions, choose the threshold with a live slider."""

from __future__ import annotations

import streamlit as st

from dashboard import gateway
from dashboard.panels.dataset import dataset_form
from dashboard.panels.model import model_picker
from dashboard.panels.split_results import results
from dashboard.panels.threshold import threshold_panel
from dashboard.ui.access import require_page
from dashboard.ui.components import (
    analyst_name,
    audit_trail,
    current_run,
    live_until_settled,
    recent_logs,
    run_header,
)
from pipelines.catalog import AUTOHELPER, AUTOHELPER_PROGRESS_ARTIFACT_KEY

require_page("autohelper")

st.title(":material/sentiment_satisfied: Sentiment autohelper")
st.caption("A model labels reviews with a confidence; you choose the threshold above which its labels are "
           "accepted, and the rest go to people.")

parameters = dataset_form()
model = model_picker()
ready = parameters is not None and bool(model["model"])
if st.button("Run the autohelper", key="autohelper.start", type="primary", disabled=not ready):
    st.session_state["autohelper.run_id"] = gateway.start_run(AUTOHELPER, {**parameters, **model},
                                                              analyst=analyst_name())

run = current_run(AUTOHELPER.flow, key="autohelper")
if run is None:
    st.stop()
run_id = run.id
run_header(run)
if run.status in {"scheduled", "running"}:

    def progress_bar(artifacts: list[gateway.ArtifactView]) -> None:
        found = next((a for a in artifacts if a.key == AUTOHELPER_PROGRESS_ARTIFACT_KEY), None)
        st.progress(min(1.0, float(found.data) / 100) if found else 0.0, text="Predicting…")

    live_until_settled(run, "Preparing and predicting…", body=progress_bar)
elif run.status == "paused" and (pending := gateway.pending_input(run_id)) is not None:
    threshold_panel(run, pending)
elif run.status == "completed":
    results(run_id)
audit_trail(run_id)
recent_logs(run_id)
