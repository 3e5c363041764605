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
from tests.dashboard.test_labelling import Oracle, _assert_every_answer_is_gold, _make_batch, _stored_with_text

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
    assert progress["answers"] == progress["needed"]
    assert len(_stored_with_text(postgres_store, batch.id)) == len(saved)
