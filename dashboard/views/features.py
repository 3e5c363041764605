"""Feature dropping: the ingestion run's subflow asks which columns to drop; preview before resuming."""

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
    recent_logs,
    resume_with_widgets,
    run_header,
)
from pipelines.catalog import (
    CLEANED_USERS_ARTIFACT_KEY,
    FEATURE_PROFILE_ARTIFACT_KEY,
    FEATURE_SELECTION,
    USERS_ARTIFACT_KEY,
)
from pipelines.core.features import preview_drop
from pipelines.core.markdown import escape_markdown

require_page("features")

st.title(":material/filter_alt: Feature dropping")
st.caption("After an ingestion run has fetched users, its subflow asks which columns to drop. "
           "Start one on the Ingestion page.")

run = current_run(FEATURE_SELECTION, key="features")
if run is None:
    st.info("No feature-dropping run yet: start an ingestion run and answer its user count.")
    st.page_link("views/ingestion.py", label="Go to Ingestion", icon=":material/group_add:")
    st.stop()
parent = gateway.parent_run(run.id)
if parent is not None:
    st.markdown(f"Part of ingestion run [`{parent.name}`]({parent.ui_url}) ({parent.status}).")
run_header(run)
artifacts = {a.key: a for a in gateway.artifacts(run.id)}

if run.status in {"scheduled", "running"}:
    live_until_settled(run)
elif run.status == "paused" and (pending := gateway.pending_input(run.id)) is not None:
    field = pending.schema["properties"]["features_to_drop"]
    choices = field["items"]["enum"]
    if FEATURE_PROFILE_ARTIFACT_KEY in artifacts:
        st.subheader("Columns")
        st.dataframe(pd.DataFrame(artifacts[FEATURE_PROFILE_ARTIFACT_KEY].data), hide_index=True,
                     key="features.profile")
    chosen = st.multiselect("Features to drop", choices, default=field.get("default", []),
                            key=f"features.{run.id}.drop", help=field.get("description"))
    users = next((a for a in gateway.artifacts(parent.id) if a.key == USERS_ARTIFACT_KEY), None) if parent else None
    if users is not None:
        preview = preview_drop(pd.DataFrame(users.data), chosen)
        st.subheader(f"Preview: {len(preview.columns)} columns kept")
        st.dataframe(preview.head(20), hide_index=True, key="features.preview")
    # The click resumes the run and pause drawn here, with the columns chosen on screen.
    st.button("Drop these columns and resume", key=f"features.{run.id}.resume", type="primary",
              on_click=resume_with_widgets,
              args=(pending, {"features_to_drop": f"features.{run.id}.drop"}))
elif run.status == "completed" and CLEANED_USERS_ARTIFACT_KEY in artifacts:
    cleaned = artifacts[CLEANED_USERS_ARTIFACT_KEY]
    st.success(escape_markdown(cleaned.description))
    st.dataframe(pd.DataFrame(cleaned.data), hide_index=True, key="features.cleaned")
st.caption(f"Answers are recorded as **{escape_markdown(analyst_name())}**.")
audit_trail(run.id)
recent_logs(run.id)
