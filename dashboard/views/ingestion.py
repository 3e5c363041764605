"""Ingestion: start a run, answer its pause (how many users), see the users it fetched."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import gateway
from dashboard.ui.access import require_page
from dashboard.ui.components import (
    analyst_name,
    audit_trail,
    current_run,
    live_until_settled,
    pause_form,
    recent_logs,
    run_header,
)
from pipelines.catalog import FEATURE_SELECTION, INGESTION, USER_SOURCE_ARTIFACT_KEY, USERS_ARTIFACT_KEY

require_page("ingestion")

st.title(":material/group_add: Ingestion")
st.caption("Fetch user records from randomuser.me. The run pauses and asks you how many; offline it "
           "generates look-alike users with Faker and says so. Then it asks which columns to drop.")

if st.button("Start an ingestion run", key="ingestion.start", type="primary", icon=":material/play_arrow:"):
    st.session_state["ingestion.run_id"] = gateway.start_run(INGESTION, analyst=analyst_name())

run = current_run(INGESTION.flow, key="ingestion")
if run is None:
    st.info("No ingestion run yet. Start one above.")
    st.stop()
run_id = run.id
run_header(run)
by_key = {a.key: a for a in gateway.artifacts(run_id)}
if run.status == "paused":
    pause_form(run_id, key=f"ingestion.{run_id}.pause")
elif run.status in {"scheduled", "running"}:
    waiting = [child for child in gateway.child_runs(run_id)
               if child.status == "paused" and child.flow_name == FEATURE_SELECTION]
    if waiting:
        st.info("The users are in. The run now waits for you to choose the columns to drop.")
        st.page_link("views/features.py", label="Choose features to drop", icon=":material/filter_alt:",
                     query_params={"run": str(waiting[0].id)})
        live_until_settled(run, "Waiting for the feature choice…", subflows=True)
    else:
        live_until_settled(run, subflows=True)

if (source := by_key.get(USER_SOURCE_ARTIFACT_KEY)) is not None:
    (st.warning if source.description == "faker" else st.success)(source.data)
if (users := by_key.get(USERS_ARTIFACT_KEY)) is not None:
    st.dataframe(pd.DataFrame(users.data), key="ingestion.users", hide_index=True)
audit_trail(run_id)
recent_logs(run_id)
