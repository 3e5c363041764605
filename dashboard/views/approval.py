"""Artifact approval: publish the cleaned users as `name-table` only if approved; versions and diffs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import gateway
from dashboard.components import (
    audit_trail,
    current_run,
    live_until_settled,
    recent_logs,
    resume_or_explain,
    run_header,
)
from pipelines.catalog import APPROVAL, APPROVED_TABLE_ARTIFACT_KEY
from pipelines.core.table_diff import diff_tables

st.title(":material/verified: Artifact approval")
st.caption("Review the latest cleaned users and approve (publish them as the `name-table` artifact) or reject.")

if st.button("Start an approval run", key="approval.start", type="primary", icon=":material/play_arrow:"):
    st.session_state["approval.run_id"] = gateway.start_run(APPROVAL)

run = current_run(APPROVAL.split("/")[0], key="approval")
if run is not None:
    run_id = run.id
    run_header(run, show_failure=False)
    if run.status in {"scheduled", "running"}:
        live_until_settled(run)
    elif run.status == "paused" and (pending := gateway.pending_input(run_id)) is not None:
        st.markdown(pending.description)
        approve, reject = st.columns(2)
        # Each click answers the run and pause drawn here, whatever run is newest by then.
        approve.button("Approve and publish", key=f"approval.{run_id}.approve", type="primary",
                       icon=":material/check:", on_click=resume_or_explain,
                       args=(run_id, {"create_artifact": True}, pending.pause_key))
        reject.button("Reject", key=f"approval.{run_id}.reject", icon=":material/close:",
                      on_click=resume_or_explain,
                      args=(run_id, {"create_artifact": False}, pending.pause_key))
    elif run.status == "cancelled":
        st.warning(f"Rejected. {run.message}", icon=":material/block:")
    elif run.status in {"failed", "crashed"}:
        st.error(f"The approval run could not go on: {run.message}")
    elif run.status == "completed":
        st.success("Approved and published as `name-table`.")
    audit_trail(run_id)
    recent_logs(run_id)

st.header("`name-table` versions")
versions = gateway.artifact_versions(APPROVED_TABLE_ARTIFACT_KEY)
if not versions:
    st.caption("Nothing approved yet.")
    st.stop()
history = pd.DataFrame(
    [{"version": len(versions) - i, "created": v.created, "rows": len(v.data), "description": v.description,
      "flow run": str(v.flow_run_id)} for i, v in enumerate(versions)]
)
st.dataframe(history, hide_index=True, key="approval.versions")
st.dataframe(pd.DataFrame(versions[0].data), hide_index=True, key="approval.latest")

if len(versions) >= 2:
    st.subheader("Compare two versions")
    numbers = list(history["version"])
    left, right = st.columns(2)
    old = left.selectbox("Older", numbers, index=1, key="approval.diff.old")
    new = right.selectbox("Newer", numbers, index=0, key="approval.diff.new")
    diff = diff_tables(versions[len(versions) - old].data, versions[len(versions) - new].data)
    if diff.unchanged:
        st.info("The two versions are identical.")
    st.markdown(f"Columns added: {', '.join(diff.columns_added) or '—'} · "
                f"removed: {', '.join(diff.columns_removed) or '—'} · "
                f"rows added: **{len(diff.rows_added)}** · rows removed: **{len(diff.rows_removed)}**")
    if diff.rows_added:
        st.dataframe(pd.DataFrame(diff.rows_added), hide_index=True, key="approval.diff.added")
    if diff.rows_removed:
        st.dataframe(pd.DataFrame(diff.rows_removed), hide_index=True, key="approval.diff.removed")
