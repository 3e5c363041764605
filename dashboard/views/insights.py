"""Marvin insights: ask an LLM about the users; computed counts beside it, labelled as computed."""

from __future__ import annotations

import os

import pandas as pd
import plotly.express as px
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
from pipelines.catalog import INSIGHTS, USERS_BLOCK_NAME
from pipelines.core.insights import computed_insights, provider_gap
from pipelines.core.settings import get_settings

require_page("insights")

settings = get_settings()
st.title(":material/psychology: Marvin insights")
st.caption("Write an instruction; `marvin.extract` answers through the LLM provider you configure.")

with st.expander("LLM provider", icon=":material/settings:"):
    model = st.text_input("Model", value=settings.llm_model, key="insights.model",
                          help="pydantic-ai form: `openai:gpt-4o-mini`, `anthropic:claude-3-5-haiku-latest`, or "
                               "`openai:<model>` with a base URL for Ollama, vLLM or llama.cpp.")
    base_url = st.text_input("OpenAI-compatible base URL (optional)", value=settings.llm_base_url or "",
                             key="insights.base_url", placeholder="http://127.0.0.1:11434/v1").strip()
    with st.form("insights.key_form", clear_on_submit=True):
        new_key = st.text_input(f"API key (saved to Secret block `{settings.llm_secret_block}`)", type="password",
                                key="insights.api_key")
        if st.form_submit_button("Save key") and new_key.strip():
            gateway.store_secret(settings.llm_secret_block, new_key)
            st.success("Saved. The key is not shown again.")
    stored = gateway.secret_stored(settings.llm_secret_block)
    st.caption("A key is stored." if stored else "No key is stored.")

env_key = any(os.environ.get(v) for v in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "HITL_LLM_API_KEY"))
gap = provider_gap(model, base_url or None, key_available=stored or env_key)
users = gateway.json_block(USERS_BLOCK_NAME)
if gap:
    st.info(f"**No LLM provider is configured yet.** {gap}", icon=":material/info:")
if not users:
    st.info("No users yet: run an ingestion first.", icon=":material/info:")
if st.button("Ask about the users", key="insights.start", type="primary", disabled=bool(gap) or not users):
    st.session_state["insights.run_id"] = gateway.start_run(INSIGHTS, {"model": model, "base_url": base_url or None},
                                                            analyst=analyst_name())

run = current_run(INSIGHTS.flow, key="insights")
if run is not None:
    run_id = run.id
    run_header(run)
    if run.status == "paused":
        pause_form(run_id, key=f"insights.{run_id}.pause")
    elif run.status in {"scheduled", "running"}:
        live_until_settled(run, "Asking the model…")
    elif run.status == "completed" and (outcome := gateway.result(run_id)):
        # The answer once: its text as text (model output is untrusted), its rows as one table and a chart.
        st.subheader("The model's answer")
        st.text(f"Question: {outcome['instructions']}")
        st.text(outcome["text"])
        if outcome["rows"]:
            rows = pd.DataFrame(outcome["rows"])
            st.dataframe(rows, hide_index=True, key="insights.rows")
            st.plotly_chart(px.bar(rows, x="group", y="count", title=outcome["instructions"]), key="insights.chart")
        st.caption(outcome["footnote"])
    audit_trail(run_id)
    recent_logs(run_id)

st.header("Computed from the data (no model)")
st.caption("Plain counts over every stored user. They are not the model's answer.")
if users:
    for title, counts in computed_insights(users).items():
        st.plotly_chart(px.bar(counts, x="group", y="count", title=f"{title} (computed)"), key=f"insights.{title}")
