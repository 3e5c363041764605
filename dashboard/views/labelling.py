"""Crowd labelling: annotators label one review at a time, blind to others' answers.

The review shown is pinned in session state per (batch, annotator) until it is answered or skipped, and each
button carries the task it was drawn with: a click reruns the page before its handler, so an answer must never
go to whatever item the rerun would pick.
"""

from __future__ import annotations

import streamlit as st

from dashboard.crowd_sync import OwnerUnreachable, report_progress
from dashboard.ui.access import current_role, require_page
from pipelines.core.answer_store import AnswerStore, AnswerStoreUnavailable, Batch
from pipelines.core.markdown import escape_markdown
from pipelines.core.settings import get_settings

access = require_page("labelling")

OUTCOME_MESSAGES = {
    "full": "Others gave that review its answers meanwhile, so yours was not needed. Here is another one.",
    "closed": "The analyst closed this batch meanwhile; your last answer was not needed.",
}
RETRY_MESSAGE = ("The answer store is not answering right now, so your answer was **not** saved. The same review "
                 "stays on screen: click your answer again in a moment.")

st.title(":material/how_to_vote: Crowd labelling")
st.caption("Label what the model was unsure of. You see one review at a time and never others' answers.")


@st.cache_resource
def _store(url: str) -> AnswerStore:
    return AnswerStore(url)


try:
    store = _store(get_settings().answer_store_url)
except AnswerStoreUnavailable as exc:
    st.error(str(exc))
    st.stop()


def _pin_key(batch_id: int, annotator: str) -> str:
    return f"labelling.{batch_id}.{annotator}.item"


def _answer(batch: Batch, annotator: str, task: str, label: str) -> None:
    """Record `label` for the task shown with the button, then let the next run draw a new item.

    When the store does not answer, the review stays pinned so the retry goes to it; an answer whose commit was
    cut off and is sent again comes back "duplicate", never stored twice.
    """
    if current_role() is None:  # the handler runs before the page's guard: the person may be off the list by now
        st.session_state.pop(_pin_key(batch.id, annotator), None)
        return
    try:
        outcome = store.record_answer(batch.id, task, annotator, label)  # a double click stores one
    except AnswerStoreUnavailable:
        st.session_state["labelling.store_error"] = RETRY_MESSAGE
        return
    st.session_state.pop(_pin_key(batch.id, annotator), None)
    if outcome in OUTCOME_MESSAGES:
        st.session_state["labelling.notice"] = OUTCOME_MESSAGES[outcome]
    if outcome != "stored":
        return
    try:
        if report_progress(batch, store.progress(batch.id), annotator):
            st.session_state["labelling.notice"] = ("That was the batch's last answer: the crowd loop is "
                                                    "aggregating. Results appear on the Crowd results page.")
    except OwnerUnreachable as exc:
        st.session_state["labelling.notice"] = str(exc)
    except AnswerStoreUnavailable:
        st.session_state["labelling.notice"] = ("Your answer is saved; the batch's progress could not be read "
                                                "just now and is reported with the next answer.")


def _skip(batch_id: int, annotator: str, task: str) -> None:
    st.session_state.pop(_pin_key(batch_id, annotator), None)
    st.session_state[f"labelling.{batch_id}.{annotator}.skipped"].add(task)


def _store_down(message: str) -> None:
    """Say the store is not answering, and draw the page again by itself once it answers."""
    st.warning(message, icon=":material/cloud_off:")

    @st.fragment(run_every=3.0)
    def _wait_for_the_store() -> None:
        try:
            store.open_batches(source="local")
        except AnswerStoreUnavailable:
            return
        st.rerun()

    _wait_for_the_store()
    st.stop()


if access.identity is None:
    annotator = st.text_input("Your annotator name", key="labelling.annotator").strip()
else:  # answers are stored under the signed-in identity, which no one else can claim; the name is only shown
    annotator = access.identity.key
    st.caption(f"Labelling as **{escape_markdown(access.identity.name or access.identity.subject)}** "
               f"({escape_markdown(annotator)})")
if notice := st.session_state.pop("labelling.notice", None):
    st.info(notice)
store_error = st.session_state.pop("labelling.store_error", None)
try:
    batches = store.open_batches(source="local")  # simulated and Toloka batches are not for people here
except AnswerStoreUnavailable:
    _store_down(store_error or "The answer store is not answering right now; this page tries again every few "
                "seconds. Nothing you answered is lost.")
if store_error:
    st.warning(store_error, icon=":material/cloud_off:")
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
         st.selectbox("Batch", batches, format_func=lambda b: f"Batch {b.id}", key="labelling.batch"))
skipped = st.session_state.setdefault(f"labelling.{batch.id}.{annotator}.skipped", set())
pin = _pin_key(batch.id, annotator)
try:
    item = st.session_state.get(pin) or store.next_item_for(batch.id, annotator, skip=skipped)
    progress = store.progress(batch.id)
    given = store.worker_answered(batch.id, annotator)
except AnswerStoreUnavailable:
    _store_down("The answer store stopped answering; this page tries again every few seconds.")
st.progress(progress.share, text=f"Batch {batch.id}: {progress.describe()}; you gave {given}.")
if item is None:
    st.success("Nothing left for you in this batch. Thank you!")
    st.stop()
st.session_state[pin] = item
with st.container(border=True, key="labelling.review"):
    st.text(item.text)  # untrusted text: never rendered as Markdown
buttons = st.columns(len(batch.labels) + 1)
for column, label in zip(buttons, batch.labels):
    # Keyed by the task too: a late click on a button drawn for an earlier item never lands on this one.
    column.button(label, key=f"labelling.{batch.id}.{item.task}.{label}", type="primary", width="stretch",
                  on_click=_answer, args=(batch, annotator, item.task, label))
buttons[-1].button("Skip", key=f"labelling.{batch.id}.{item.task}.skip", width="stretch",
                   on_click=_skip, args=(batch.id, annotator, item.task))
