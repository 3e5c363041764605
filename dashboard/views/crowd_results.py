"""Crowd results: the aggregated sentiment table, every aggregation method side by side, and the workers."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import gateway
from dashboard.components import analyst_name, audit_trail, live_until_settled, pause_form, run_header
from dashboard.crowd_sync import fetch_toloka_answers, is_toloka_batch, report_progress
from dashboard.retrain_panel import retrain_section
from pipelines.catalog import CROWD_LOOP
from pipelines.core.aggregation import compare_methods, disagreements, worker_table
from pipelines.core.answer_store import AnswerStore
from pipelines.core.crowd import spreadsheet_safe
from pipelines.core.settings import get_settings
from pipelines.core.toloka import TolokaError

st.title(":material/table_chart: Crowd results")
runs = gateway.recent_runs(limit=20, flow_name=CROWD_LOOP.split("/")[0])
if not runs:
    st.info("No crowd loop yet: confirm an autohelper threshold, then send its manual items to the crowd.")
    st.stop()
by_id = {r.id: r for r in runs}
ids = list(by_id)
started_here = st.session_state.get("crowd.run_id")  # the run the autohelper page just started, if any
# No widget key: when a new run appears the options change and the choice goes back to the newest (or that one).
# The labels leave the status out, so a run changing state keeps its place.
chosen = st.selectbox("Crowd loop run", ids, index=ids.index(started_here) if started_here in by_id else 0,
                      help="The newest first.", format_func=lambda run_id: (
                          f"{by_id[run_id].name} · {by_id[run_id].parameters.get('crowd', 'local')} crowd"))
run = by_id[chosen]
run_header(run)
store = AnswerStore(run.parameters.get("database_url") or get_settings().answer_store_url)
if run.status == "paused":
    waiting = next((b for b in store.open_batches() if b["owner"] == str(run.id)), None)
    if waiting is not None and is_toloka_batch(waiting):
        st.button("Fetch answers from Toloka now", key="crowd.fetch", icon=":material/sync:")
        try:
            fetched = fetch_toloka_answers(store, waiting)  # on every visit, and on the button's rerun
        except TolokaError as exc:
            st.error(str(exc))
        else:
            st.caption(f"{fetched.new_answers} new answers fetched from Toloka.")
            if fetched.refused:
                st.warning(f"{len(fetched.refused)} Toloka answers were not stored, e.g.: {fetched.refused[0]}")
    if waiting is not None:
        finisher = "Toloka" if is_toloka_batch(waiting) else analyst_name()

        @st.fragment(run_every=3.0)
        def _batch_progress() -> None:
            progress = store.progress(waiting["id"])
            st.progress(min(1.0, progress["answers"] / max(progress["needed"], 1)),
                        text=f"Batch {waiting['id']}: {progress['answers']} of {progress['needed']} answers")
            # A local batch's last answer resumes the run from the labelling page; this catches a batch
            # completed before the run paused, and Toloka batches, whose answers arrive here.
            complete = progress["answers"] >= progress["needed"]
            if (complete and report_progress(waiting, progress, finisher)) or gateway.run(run.id).status != "paused":
                st.rerun(scope="app")

        _batch_progress()
    st.caption("The run resumes when the batch's last answer is in; collect now to close the batch with the "
               "answers given so far.")
    if pause_form(run.id, key="crowd.collect"):
        st.rerun()
    st.stop()
if run.status in {"scheduled", "running"}:
    live_until_settled(run)
    st.stop()
outcome = gateway.result(run.id) if run.status == "completed" else None
if not outcome:
    st.stop()
final = pd.read_parquet(outcome["final"])
st.subheader("Aggregated sentiment")
left, middle, right = st.columns(3)
sources = left.multiselect("Source", sorted(final.source.unique()), key="crowd.sources")
labels = middle.multiselect("Label", sorted(final.label.dropna().unique()), key="crowd.labels")
low = right.slider("Only scores below", 0.0, 1.0, 1.0, 0.05, key="crowd.low")
shown = final[(final.source.isin(sources) if sources else True) & (final.label.isin(labels) if labels else True)
              & (final.score.fillna(0) <= low)]
st.dataframe(shown, hide_index=True, key="crowd.final")
st.download_button("CSV", spreadsheet_safe(shown).to_csv(index=False), "aggregated_sentiment.csv", key="crowd.csv")
st.download_button("Parquet", shown.to_parquet(index=False), "aggregated_sentiment.parquet", key="crowd.parquet")
st.plotly_chart(px.histogram(final, x="label", color="source", title="Label distribution"), key="crowd.labels_chart")

answers = store.answers(outcome["batch_id"])
golden = store.golden_labels(outcome["batch_id"])
if answers.empty:
    st.info("The batch was closed before anyone answered: there are no answers to compare or retrain on.")
    audit_trail(run.id)
    st.stop()
st.subheader("Aggregation methods on the same answers")
comparison, results = compare_methods(answers, golden)
st.dataframe(comparison, hide_index=True, key="crowd.methods")
st.caption(f"{len(disagreements(results))} items where the methods disagree.")
st.subheader("Workers")
workers = worker_table(answers, golden, results["DawidSkene"].worker_skills)
st.dataframe(workers, hide_index=True, key="crowd.workers")
st.plotly_chart(px.scatter(workers, x="answers", y="golden_accuracy", hover_name="worker",
                           title="Workers: answers and golden accuracy"), key="crowd.workers_chart")
retrain_section(outcome)
audit_trail(run.id)
