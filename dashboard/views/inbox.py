"""Inbox: every run of the project's flows, newest first; paused runs can be answered here."""

from __future__ import annotations

from uuid import UUID

import streamlit as st

from dashboard import gateway
from dashboard.ui.access import require_page
from dashboard.ui.components import pause_form, resume_notices_for_runs_not_shown, run_header, runs_table

require_page("inbox")

st.title(":material/inbox: Inbox")
st.button("Refresh", key="inbox.refresh", icon=":material/refresh:")


def _waiting(runs: list[gateway.RunSummary]) -> frozenset[tuple[UUID, bool]]:
    """The runs waiting for input, each with whether its form is ready (a run shows as paused a moment before
    its form is saved)."""
    return frozenset((run.id, gateway.pending_input(run.id) is not None) for run in runs if run.status == "paused")


@st.fragment(run_every=3.0)
def _redraw_when_waiting_changes(shown: frozenset[tuple[UUID, bool]]) -> None:
    # A subflow's pause, or any run's, appears (and an answered one goes) without a manual refresh.
    if _waiting(gateway.waiting_runs()) != shown:
        st.rerun(scope="app")


# Asked for by state, not picked from the newest runs: a pause behind 100 newer runs still waits for someone.
paused = gateway.waiting_runs()
_redraw_when_waiting_changes(_waiting(paused))  # taken before the forms are drawn, so none is missed
st.subheader(f"Waiting for input ({len(paused)})")
resume_notices_for_runs_not_shown({run.id for run in paused})
if not paused:
    st.caption("No run is waiting for you.")
for run in paused:
    with st.container(border=True):
        run_header(run)
        pause_form(run.id, key=f"inbox.{run.id}")

st.subheader("All runs")
runs_table(gateway.recent_runs(limit=100), key="inbox.runs")
