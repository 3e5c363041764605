"""Ingestion: start a run, answer its pause (how many users), see the users it fetched."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import gateway
from dashboard.components import audit_trail, live_until_settled, pause_form, recent_logs, run_header
from pipelines.catalog import INGESTION, USER_SOURCE_ARTIFACT_KEY, USERS_ARTIFACT_KEY

st.title(":material/group_add: Ingestion")
st.caption("Fetch user records from randomuser.me. The run pauses and asks you how many; offline it "
           "generates look-alike users with Faker and says so. Then it asks which columns to drop.")

if st.button("Start an ingestion run", key="ingestion.start", type="primary", icon=":material/play_arrow:"):
    st.session_state["ingestion.run_id"] = gateway.start_run(INGESTION)

run_id = st.session_state.get("ingestion.run_id")
if run_id is None and (latest := gateway.recent_runs(limit=1, flow_name=INGESTION.split("/")[0])):
    run_id = latest[0].id
if run_id is None:
    st.info("No ingestion run yet. Start one above.")
    st.stop()

run = gateway.run(run_id)
run_header(run)
by_key = {a.key: a for a in gateway.artifacts(run_id)}
if run.status == "paused":
    if pause_form(run_id, key="ingestion.pause"):
        st.rerun()
elif run.status in {"scheduled", "running"}:
    if any(child.status == "paused" for child in gateway.child_runs(run_id)):
        st.info("The users are in. The run now waits for you to choose the columns to drop.")
        st.page_link("views/features.py", label="Choose features to drop", icon=":material/filter_alt:")
        live_until_settled(run, "Waiting for the feature choice…")
    else:
        live_until_settled(run)

if (source := by_key.get(USER_SOURCE_ARTIFACT_KEY)) is not None:
    (st.warning if source.description == "faker" else st.success)(source.data)
if (users := by_key.get(USERS_ARTIFACT_KEY)) is not None:
    st.dataframe(pd.DataFrame(users.data), key="ingestion.users", hide_index=True)
audit_trail(run_id)
recent_logs(run_id)
