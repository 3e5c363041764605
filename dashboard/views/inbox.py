"""Inbox: every run of the project's flows, newest first; paused runs can be answered here."""

from __future__ import annotations

import streamlit as st

from dashboard import gateway
from dashboard.components import pause_form, run_header, runs_table

st.title(":material/inbox: Inbox")
st.button("Refresh", key="inbox.refresh", icon=":material/refresh:")

runs = gateway.recent_runs(limit=100)
paused = [run for run in runs if run.status == "paused"]
st.subheader(f"Waiting for input ({len(paused)})")
if not paused:
    st.caption("No run is waiting for you.")
for run in paused:
    with st.container(border=True):
        run_header(run)
        pause_form(run.id, key=f"inbox.{run.id}")

st.subheader("All runs")
runs_table(runs, key="inbox.runs")
