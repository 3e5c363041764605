"""The labelling page under faults: its PostgreSQL answer store restarted mid-batch, and twenty annotators
answering at once. Oracle annotators answer each review shown with its gold label; what lands in the store is
checked against what they were shown and told, never against the page's own bookkeeping."""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import count

import pytest
import sqlalchemy as sa

from pipelines.core.answer_store import AnswerStore
from pipelines.core.settings import get_settings
from tests.conftest import PostgresCluster
from tests.dashboard.views.test_labelling import (
    Oracle,
    _assert_every_answer_is_gold,
    _make_batch,
    _stored_with_text,
)

pytestmark = pytest.mark.fault
RETRY = "your answer was **not** saved"
_databases = count()


@pytest.fixture
def postgres_store(postgres_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[AnswerStore]:
    """A fresh answer database on the throwaway cluster, the one the page under test uses."""
    name = f"labelling_{os.getpid()}_{next(_databases)}"
    admin = sa.create_engine(postgres_cluster.url.format(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    monkeypatch.setenv("HITL_ANSWER_STORE", postgres_cluster.url.format(database=name))
    get_settings.cache_clear()
    store = AnswerStore(get_settings().answer_store_url)
    yield store
    store.engine.dispose()
    get_settings.cache_clear()


def _warnings(oracle: Oracle) -> list[str]:
    return [element.value for element in oracle.app.warning]


def _shown_text(oracle: Oracle) -> list[str]:
    return [element.value for element in oracle.app.text]


def test_postgres_restarted_mid_batch_annotators_are_told_to_retry_and_no_answer_is_lost_or_doubled(
        postgres_cluster: PostgresCluster, postgres_store: AnswerStore, record_property) -> None:
    batch = _make_batch(postgres_store, n_tasks=12, n_golden=3, overlap=2, seed=11)
    annotators = [Oracle(name, batch.gold) for name in ("ana", "ben", "cy")]
    saved: list[tuple[str, str]] = []  # (worker, text) of each click the page did not ask to repeat

    def answer(oracle: Oracle, worker: str) -> None:
        text = oracle.answer()
        assert not oracle.app.exception, oracle.app.exception
        refused = any(RETRY in warning for warning in _warnings(oracle))
        not_needed = any("not needed" in notice for notice in oracle.notices())  # others filled the review
        if not refused and not not_needed:
            saved.append((worker, text))

    for _ in range(2):
        for oracle, worker in zip(annotators, ("ana", "ben", "cy")):
            answer(oracle, worker)
    on_screen = [oracle.shown() for oracle in annotators]

    postgres_cluster.stop()  # mid-batch, each annotator has a review on screen
    try:
        for oracle, text in zip(annotators, on_screen):
            next(button for button in oracle.app.button if button.label == batch.gold[text]).click().run()
            assert not oracle.app.exception, oracle.app.exception
            assert any(RETRY in warning for warning in _warnings(oracle)), _warnings(oracle)
            assert not _shown_text(oracle)  # no review while the store cannot say which ones are open
            oracle.app.run()  # reloads while the store is down say so too
            assert not oracle.app.exception and any("not answering" in w for w in _warnings(oracle))
    finally:
        postgres_cluster.start()

    for oracle, text in zip(annotators, on_screen):
        oracle.app.run()
        assert oracle.shown() == text  # the review the click was refused for waits for the retry
    while busy := [(oracle, worker) for oracle, worker in zip(annotators, ("ana", "ben", "cy"))
                   if oracle.shown() is not None]:
        for oracle, worker in busy:
            answer(oracle, worker)

    answers = _assert_every_answer_is_gold(postgres_store, batch)
    stored = set(zip(answers.worker, answers.text))
    lost = len(set(saved) - stored)
    doubled = int(answers.duplicated(["task", "worker"]).sum())
    record_property("answers_lost", lost)
    record_property("answers_doubled", doubled)
    assert lost == 0 and doubled == 0
    assert len(answers) == len(saved)  # nothing stored that an annotator was told to send again
    tasks = answers[~answers.task.isin(batch.golden_tasks)]
    assert tasks.groupby("task").size().eq(2).all() and tasks.task.nunique() == 12
    progress = postgres_store.progress(batch.id)
    assert progress.complete
    assert len(_stored_with_text(postgres_store, batch.id)) == len(saved)


ANNOTATORS, ANSWERS_EACH, OVERLAP, GOLDEN = 20, 500, 5, 50


def _annotate_like_the_page(url: str, batch_id: int, worker: str, gold: dict[str, str]) -> list[tuple]:
    """One annotator's session: the store calls the labelling page makes to draw a review and to answer it
    (`dashboard/views/labelling.py`), answering each review shown with its gold label. Returns, per click, the
    task and text shown, the label sent, the outcome the page was given, and whether the page then found the
    batch complete (it would resume the batch's owner run; the gateway accepts one such resume)."""
    store = AnswerStore(url)
    clicks = []
    while True:
        [batch] = store.open_batches(source="local")
        item = store.next_item_for(batch.id, worker)
        store.progress(batch.id)
        store.worker_answered(batch.id, worker)
        if item is None:
            return clicks
        label = gold[item.text]
        outcome = store.record_answer(batch.id, item.task, worker, label)
        complete = False
        if outcome == "stored":
            progress = store.progress(batch.id)  # what the page reports to the batch's owner run
            complete = progress.complete
        clicks.append((item.task, item.text, label, outcome, complete))


@pytest.mark.slow  # 10,000 answers through the page's store calls: minutes of CPU
def test_twenty_annotators_at_once_store_every_answer_once_on_the_review_shown_and_fill_the_batch_once(
        tmp_path, record_property) -> None:
    import multiprocessing

    import pandas as pd

    url = f"sqlite:///{tmp_path / 'answers.db'}"
    store = AnswerStore(url)
    n_tasks = ANNOTATORS * (ANSWERS_EACH - GOLDEN) // OVERLAP
    rows = [{"task": f"t{i}", "text": f"Review {i}: " + "so-so " * (i % 50), "is_golden": False,
             "golden_label": None, "gold": "neg" if i % 10 == 0 else "pos"} for i in range(n_tasks)]
    rows += [{"task": f"g{i}", "text": f"Golden review {i}", "is_golden": True, "golden_label": "pos", "gold": "pos"}
             for i in range(GOLDEN)]
    frame = pd.DataFrame(rows)
    batch_id = store.create_batch(frame.drop(columns="gold"), overlap=OVERLAP, labels=["neg", "pos"])
    gold = dict(zip(frame.text, frame.gold))
    workers = [f"annotator-{n}" for n in range(ANNOTATORS)]
    with multiprocessing.get_context("fork").Pool(ANNOTATORS) as pool:
        sessions = pool.starmap(_annotate_like_the_page, [(url, batch_id, worker, gold) for worker in workers])

    sent = pd.DataFrame([(worker, *click) for worker, clicks in zip(workers, sessions) for click in clicks],
                        columns=["worker", "task", "text", "label", "outcome", "complete"])
    assert (sent.text.map(gold) == sent.label).all()
    told_stored = sent[sent.outcome == "stored"]
    answers = store.answers(batch_id).merge(frame[["task", "text"]], on="task", how="left")
    stored = set(zip(answers.worker, answers.task))
    lost = len(set(zip(told_stored.worker, told_stored.task)) - stored)
    doubled = int(answers.duplicated(["worker", "task"]).sum()) + len(answers) - len(told_stored)
    record_property("answers_lost", lost)
    record_property("answers_doubled", doubled)
    assert lost == 0 and doubled == 0
    assert (answers.label == answers.text.map(gold)).all()  # each answer on the review that was shown
    tasks = answers[~answers.task.str.startswith("g")]
    assert tasks.groupby("task").size().eq(OVERLAP).all() and tasks.task.nunique() == n_tasks  # overlap kept
    assert len(tasks) == n_tasks * OVERLAP and len(answers) >= len(tasks) + GOLDEN  # about 500 each, golden mixed in
    progress = store.progress(batch_id)
    assert progress.complete and store.tasks_needing_answers(batch_id) == []
    assert all(store.next_item_for(batch_id, worker) is None for worker in [*workers, "late-comer"])
    # The batch filled once: the answer that completed it was the last stored; only answers that raced it to the
    # end may have seen it complete too (their resumes are refused as stale, see tests/dashboard/test_faults.py).
    assert sent.complete.any()
    record_property("batch_completions_seen", int(sent.complete.sum()))
