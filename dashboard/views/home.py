"""Home: what each page does, the backend, recent runs and how many wait for a person."""

from __future__ import annotations

import streamlit as st

from dashboard import gateway
from dashboard.ui.access import require_page
from dashboard.ui.components import runs_table

require_page("home")

st.title(":material/handshake: HITL Studio")
st.markdown(
    """
Human-in-the-loop data work on real Prefect flows. Each workflow page starts a flow run that **pauses and asks
you** for a decision; the run waits in Prefect until you answer, here or in Prefect's own UI.

| Page | What it does |
| --- | --- |
| **Inbox** | Every run, newest first. Runs waiting for input show their form so you can answer them from one place. |
| **Ingestion** | Fetches user records from randomuser.me (offline: Faker users of the same schema, clearly marked). The run asks how many. |
| **Feature dropping** | The ingestion run's subflow asks which columns to drop; you see each column and a live preview first. |
| **Marvin insights** | Ask an LLM (any provider) about the users; computed counts beside the answer. |
| **Sentiment autohelper** | A model labels reviews with a confidence; a live threshold slider splits what it keeps from what people label. |
| **Artifact approval** | A run asks you to approve the cleaned users; approved tables become the `name-table` artifact, with history and diffs. |
| **Crowd labelling** | Annotators label the reviews the model was unsure of, one at a time, blind to each other's answers. |
| **Crowd results** | The batch's aggregated labels, the workers on golden items, how much people agree, every aggregation method side by side, and retraining on the crowd's labels. |
"""
)

waiting = gateway.waiting_count()
st.metric("Runs waiting for your input", waiting)
if waiting:
    st.page_link("views/inbox.py", label="Answer them in the inbox", icon=":material/inbox:")

st.subheader("Recent runs")
runs_table(gateway.recent_runs(limit=10), key="home.runs")
