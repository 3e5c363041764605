"""Crowd labelling: annotators label one review at a time, blind to others' answers."""

from __future__ import annotations

import streamlit as st

from pipelines.core.answer_store import AnswerStore
from pipelines.core.settings import get_settings

st.title(":material/how_to_vote: Crowd labelling")
st.caption("Label what the model was unsure of. You see one review at a time and never others' answers.")


@st.cache_resource
def _store() -> AnswerStore:
    return AnswerStore(get_settings().answer_store_url)


store = _store()
annotator = st.text_input("Your annotator name", key="labelling.annotator").strip()
batches = store.open_batches()
if not batches:
    st.info("No crowd batch is open. Start the crowd loop after confirming an autohelper threshold.")
    st.stop()
if not annotator:
    st.info("Type your annotator name to start.")
    st.stop()
batch = batches[0]
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
        store.record_answer(batch["id"], item.task, annotator, label)  # a double click stores one answer
        st.rerun()
if buttons[-1].button("Skip", key="labelling.skip", use_container_width=True):
    skipped.add(item.task)
    st.rerun()
