"""Artifact approval: publish the cleaned users as `name-table` only if approved; versions and diffs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import gateway
from dashboard.ui.access import require_page
from dashboard.ui.components import (
    analyst_name,
    audit_trail,
    current_run,
    decision_form,
    live_until_settled,
    recent_logs,
    run_header,
)
from pipelines.catalog import APPROVAL, APPROVED_TABLE_ARTIFACT_KEY
from pipelines.core.markdown import escape_markdown
from pipelines.core.table_diff import diff_tables

require_page("approval")

st.title(":material/verified: Artifact approval")
st.caption("Review the latest cleaned users, choose approve (publish them as the `name-table` artifact) or reject, "
           "then confirm.")

if st.button("Start an approval run", key="approval.start", type="primary", icon=":material/play_arrow:"):
    st.session_state["approval.run_id"] = gateway.start_run(APPROVAL, analyst=analyst_name())

run = current_run(APPROVAL.flow, key="approval")
if run is not None:
    run_id = run.id
    run_header(run, show_failure=False)
    if run.status in {"scheduled", "running"}:
        live_until_settled(run)
    elif run.status == "paused" and (pending := gateway.pending_input(run_id)) is not None:
        decision_form(pending, key=f"approval.{run_id}")
    elif run.status in {"failed", "crashed", "cancelled"}:
        st.error(f"The approval run could not go on: {escape_markdown(run.message)}")
    elif run.state_name == "Rejected":
        st.warning(f"Rejected. {escape_markdown(run.message)} Nothing was published.", icon=":material/block:")
    elif run.status == "completed":
        st.success("Approved and published as `name-table`.")
    audit_trail(run_id)
    recent_logs(run_id)

st.header("`name-table` versions")
versions = gateway.artifact_versions(APPROVED_TABLE_ARTIFACT_KEY)
if not versions:
    st.caption("Nothing approved yet.")
    st.stop()
run_names = {r.id: r.name for r in gateway.recent_runs(limit=200, flow_name=APPROVAL.flow)}
history = pd.DataFrame(
    [{"version": len(versions) - i, "created": v.created, "rows": len(v.data), "description": v.description,
      "approval run": run_names.get(v.flow_run_id, "an older run")} for i, v in enumerate(versions)]
)
st.dataframe(history, hide_index=True, key="approval.versions",
             column_config={"created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})
# Versions are named by the run that approved them and when, as in the table above, not by ids.
version_labels = {len(versions) - i: f"v{len(versions) - i} · {run_names.get(v.flow_run_id, 'an older run')} · "
                                     f"{v.created.astimezone():%Y-%m-%d %H:%M:%S}"
                  for i, v in enumerate(versions) if v.created is not None}
st.dataframe(pd.DataFrame(versions[0].data), hide_index=True, key="approval.latest")

if len(versions) >= 2:
    st.subheader("Compare two versions")
    numbers = list(version_labels)
    left, right = st.columns(2)
    old = left.selectbox("Older", numbers, index=1, key="approval.diff.old", format_func=version_labels.get)
    new = right.selectbox("Newer", numbers, index=0, key="approval.diff.new", format_func=version_labels.get)
    diff = diff_tables(versions[len(versions) - old].data, versions[len(versions) - new].data)
    if diff.unchanged:
        st.info("The two versions are identical.")
    st.markdown(f"Columns added: {escape_markdown(', '.join(diff.columns_added)) or '—'} · "
                f"removed: {escape_markdown(', '.join(diff.columns_removed)) or '—'} · "
                f"rows added: **{len(diff.rows_added)}** · rows removed: **{len(diff.rows_removed)}**")
    if diff.rows_added:
        st.markdown(f"**Rows in v{new} that are not in v{old}** ({len(diff.rows_added)})")
        st.dataframe(pd.DataFrame(diff.rows_added), hide_index=True, key="approval.diff.added")
    if diff.rows_removed:
        st.markdown(f"**Rows in v{old} that are no longer in v{new}** ({len(diff.rows_removed)})")
        st.dataframe(pd.DataFrame(diff.rows_removed), hide_index=True, key="approval.diff.removed")
