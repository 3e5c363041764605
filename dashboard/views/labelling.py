"""Crowd labelling: annotators label one review at a time, blind to others' answers."""

from __future__ import annotations

import streamlit as st

from dashboard.crowd_sync import OwnerUnreachable, report_progress
from pipelines.core.answer_store import AnswerStore
from pipelines.core.settings import get_settings

OUTCOME_MESSAGES = {
    "full": "Others gave that review its answers meanwhile, so yours was not needed. Here is another one.",
    "closed": "The analyst closed this batch meanwhile; your last answer was not needed.",
}

st.title(":material/how_to_vote: Crowd labelling")
st.caption("Label what the model was unsure of. You see one review at a time and never others' answers.")


@st.cache_resource
def _store() -> AnswerStore:
    return AnswerStore(get_settings().answer_store_url)


store = _store()
annotator = st.text_input("Your annotator name", key="labelling.annotator").strip()
if notice := st.session_state.pop("labelling.notice", None):
    st.info(notice)
batches = store.open_batches(source="local")  # simulated and Toloka batches are not for people here
if not batches:
    st.info("No crowd batch is open. Start the crowd loop after confirming an autohelper threshold; this page "
            "shows the batch as soon as it opens.")

    @st.fragment(run_every=3.0)
    def _wait_for_a_batch() -> None:
        if store.open_batches(source="local"):
            st.rerun()

    _wait_for_a_batch()
    st.stop()
if not annotator:
    st.info("Type your annotator name to start.")
    st.stop()
batch = (batches[0] if len(batches) == 1 else
         st.selectbox("Batch", batches, format_func=lambda b: f"Batch {b['id']}", key="labelling.batch"))
skipped = st.session_state.setdefault(f"labelling.{batch['id']}.{annotator}.skipped", set())
item = store.next_item_for(batch["id"], annotator, skip=skipped)
progress = store.progress(batch["id"])
st.progress(min(1.0, progress["answers"] / max(progress["needed"], 1)),
            text=f"Batch {batch['id']}: {progress['answers']} of {progress['needed']} answers; "
                 f"you gave {store.worker_answered(batch['id'], annotator)}.")
if item is None:
    st.success("Nothing left for you in this batch. Thank you!")
    st.stop()
with st.container(border=True):
    st.markdown(f"#### {item.text}")
buttons = st.columns(len(batch["labels"]) + 1)
for column, label in zip(buttons, batch["labels"]):
    if column.button(label, key=f"labelling.{label}", type="primary", use_container_width=True):
        outcome = store.record_answer(batch["id"], item.task, annotator, label)  # a double click stores one
        if outcome in OUTCOME_MESSAGES:
            st.session_state["labelling.notice"] = OUTCOME_MESSAGES[outcome]
        try:
            if report_progress(batch, store.progress(batch["id"]), annotator):
                st.session_state["labelling.notice"] = ("That was the batch's last answer: the crowd loop is "
                                                        "aggregating. Results appear on the Crowd results page.")
        except OwnerUnreachable as exc:
            st.session_state["labelling.notice"] = str(exc)
        st.rerun()
if buttons[-1].button("Skip", key="labelling.skip", use_container_width=True):
    skipped.add(item.task)
    st.rerun()
