"""Crowd results: warnings about the batch, the workers on golden items (any can be left out, re-aggregating
live), the aggregated sentiment table, how much people agree, and every aggregation method side by side."""

from __future__ import annotations

import streamlit as st

from dashboard import gateway
from dashboard.ui.components import (
    analyst_name,
    audit_trail,
    current_run,
    live_until_settled,
    pause_form,
    run_header,
)
from dashboard.panels.crowd_results import (
    agreement_section,
    final_section,
    final_table,
    manual_predictions,
    methods_on,
    methods_section,
    show_warnings,
    workers_section,
)
from dashboard.crowd_sync import fetch_toloka_answers, is_toloka_batch, report_progress
from dashboard.panels.retrain import retrain_section
from dashboard.ui.access import require_page
from pipelines.catalog import CROWD_LOOP
from pipelines.core.aggregation import batch_warnings, chance_level, without_workers, worker_table
from pipelines.core.answer_store import AnswerStore, AnswerStoreUnavailable
from pipelines.core.crowd import reaggregated
from pipelines.core.markdown import escape_markdown
from pipelines.core.settings import get_settings
from pipelines.core.toloka import TolokaError

require_page("crowd_results")

st.title(":material/table_chart: Crowd results")
# The autohelper page pins the crowd loop it starts (`crowd.run_id`), so that run is the one shown here.
run = current_run(CROWD_LOOP.flow, key="crowd",
                  detail=lambda r: f"{r.parameters.get('crowd', 'local')} crowd")
if run is None:
    st.info("No crowd loop yet: confirm an autohelper threshold, then send its manual items to the crowd.")
    st.stop()
run_header(run)
try:
    store = AnswerStore(run.parameters.get("database_url") or get_settings().answer_store_url)
except AnswerStoreUnavailable as exc:
    st.error(str(exc))
    st.stop()
if run.status == "paused":
    waiting = next((b for b in store.open_batches() if b.owner == str(run.id)), None)
    if waiting is not None and is_toloka_batch(waiting):
        st.button("Fetch answers from Toloka now", key="crowd.fetch", icon=":material/sync:")
        try:
            fetched = fetch_toloka_answers(store, waiting)  # on every visit, and on the button's rerun
        except TolokaError as exc:
            st.error(escape_markdown(str(exc)))
        else:
            st.caption(f"{fetched.new_answers} new answers fetched from Toloka.")
            if fetched.refused:
                st.warning(f"{len(fetched.refused)} Toloka answers were not stored, e.g.: "
                           f"{escape_markdown(str(fetched.refused[0]))}")
    if waiting is not None:
        finisher = "Toloka" if is_toloka_batch(waiting) else analyst_name()

        @st.fragment(run_every=3.0)
        def _batch_progress() -> None:
            progress = store.progress(waiting.id)
            st.progress(progress.share, text=f"Batch {waiting.id}: {progress.describe()}")
            # A local batch's last answer resumes the run from the labelling page; this catches a batch
            # completed before the run paused, and Toloka batches, whose answers arrive here.
            if (progress.complete and report_progress(waiting, progress, finisher)
                    or gateway.run(run.id).status != "paused"):
                st.rerun(scope="app")

        _batch_progress()
    st.caption("The run resumes when the batch's last answer is in; collect now to close the batch with the "
               "answers given so far.")
    pause_form(run.id, key=f"crowd.{run.id}.collect")
    st.stop()
if run.status in {"scheduled", "running"}:
    live_until_settled(run)
    st.stop()
outcome = gateway.result(run.id) if run.status == "completed" else None
if not outcome:
    st.stop()
final = final_table(outcome)
if final is None:
    st.error(f"This crowd loop's final table is gone from the run data ({escape_markdown(outcome['final'])}).")
    st.stop()
answers = store.answers(outcome["batch_id"])
golden = store.golden_labels(outcome["batch_id"])
labels = outcome.get("labels") or sorted(set(golden) | set(answers.label))  # older runs did not keep them
alerts = st.container()  # warnings about what is shown, drawn above everything once the exclusion is known
excluded: list[str] = []
if answers.empty:
    st.info("The batch was closed before anyone answered: there are no answers to compare or retrain on.")
else:
    dawid_skene = methods_on(str(run.id), outcome["batch_id"], answers, golden, (), ("DawidSkene",))[1]
    workers = worker_table(answers, golden, dawid_skene["DawidSkene"].worker_skills, labels=labels)
    excluded = workers_section(workers, chance_level(labels))
model_votes = bool(run.parameters.get("model_votes"))
method = run.parameters.get("method", "DawidSkene")
shown = (reaggregated(final, answers, method,
                      run.parameters.get("crowd") == "simulated", excluded,
                      manual_predictions(outcome) if model_votes else None) if excluded else final)
show_warnings(alerts, batch_warnings(shown.label[shown.source != "model"], without_workers(answers, excluded),
                                     golden, labels, method=method))
final_section(final, shown, excluded, model_votes)
if not answers.empty:
    agreement_section(outcome["batch_id"], answers, shown)
    methods_section(str(run.id), outcome["batch_id"], answers, golden, excluded)
    retrain_section(outcome, run.parameters.get("database_url"))
audit_trail(run.id)
