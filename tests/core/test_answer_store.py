"""The answer store on a real SQLite file: blind serving, idempotent answers, concurrent writers, a killed writer."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
import time

import pandas as pd
import pytest

from pipelines.core.answer_store import AnswerStore

LABELS = ["pos", "neg"]


def _items(n_tasks: int, n_golden: int) -> pd.DataFrame:
    rows = [(f"t{i}", f"review {i}", False, None) for i in range(n_tasks)]
    rows += [(f"g{i}", f"golden {i}", True, "pos") for i in range(n_golden)]
    return pd.DataFrame(rows, columns=["task", "text", "is_golden", "golden_label"])


def _annotate(url: str, batch_id: int, worker: str) -> int:
    store = AnswerStore(url)
    stored = 0
    while (item := store.next_item_for(batch_id, worker)) is not None:
        outcome = store.record_answer(batch_id, item.task, worker, "pos" if hash(item.task) % 2 else "neg")
        stored += outcome == "stored"
    return stored


def test_double_submit_stores_one_answer_and_labels_are_checked(tmp_path) -> None:
    store = AnswerStore(f"sqlite:///{tmp_path / 'answers.db'}")
    batch = store.create_batch(_items(3, 1), overlap=2, labels=LABELS)
    assert store.record_answer(batch, "t0", "ana", "pos") == "stored"
    assert store.record_answer(batch, "t0", "ana", "neg") == "duplicate"
    assert store.answers(batch).to_dict("records") == [{"task": "t0", "worker": "ana", "label": "pos"}]
    with pytest.raises(ValueError, match="should be one of pos, neg"):
        store.record_answer(batch, "t1", "ana", "meh")
    with pytest.raises(ValueError, match="has no item 'nope'"):
        store.record_answer(batch, "nope", "ana", "pos")


def test_a_full_task_takes_no_more_answers_golden_takes_everyones_and_closed_takes_none(tmp_path) -> None:
    store = AnswerStore(f"sqlite:///{tmp_path / 'answers.db'}")
    batch = store.create_batch(_items(2, 1), overlap=2, labels=LABELS, owner="run-42")
    assert [store.record_answer(batch, "t0", worker, "pos") for worker in ("ana", "ben", "cy")] == [
        "stored", "stored", "full"]
    assert [store.record_answer(batch, "g0", worker, "pos") for worker in ("ana", "ben", "cy")] == ["stored"] * 3
    assert store.open_batches() == [{"id": batch, "labels": LABELS, "overlap": 2, "owner": "run-42"}]
    store.close(batch)
    assert store.record_answer(batch, "t1", "ana", "neg") == "closed"
    assert len(store.answers(batch)) == 5 and store.open_batches() == []


def test_a_store_from_before_batch_owners_gets_the_column(tmp_path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE batches (id INTEGER PRIMARY KEY, created_at DATETIME NOT NULL, "
                           "overlap INTEGER NOT NULL, labels TEXT NOT NULL, closed BOOLEAN NOT NULL)")
        connection.execute("""INSERT INTO batches VALUES (1, '2026-01-01 00:00:00', 2, '["pos", "neg"]', 0)""")
    store = AnswerStore(f"sqlite:///{path}")
    assert store.open_batches() == [{"id": 1, "labels": LABELS, "overlap": 2, "owner": None}]


def test_serving_is_blind_mixes_golden_and_respects_overlap(tmp_path) -> None:
    store = AnswerStore(f"sqlite:///{tmp_path / 'answers.db'}")
    batch = store.create_batch(_items(20, 3), overlap=2, labels=LABELS)
    served = []
    while (item := store.next_item_for(batch, "ana")) is not None:
        assert set(item.__dict__) == {"task", "text"}  # nothing about golden status or others' answers
        served.append(item.task)
        store.record_answer(batch, item.task, "ana", "pos")
    assert len(served) == len(set(served))
    assert sum(task.startswith("g") for task in served) >= 0.1 * len(served)
    assert store.progress(batch) == {"answers": 20, "needed": 40, "tasks": 20}
    _annotate(f"sqlite:///{tmp_path / 'answers.db'}", batch, "ben")
    assert store.next_item_for(batch, "cy") is None  # every task has its two answers
    store.close(batch)


def test_twenty_concurrent_annotators_lose_and_duplicate_nothing(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'answers.db'}"
    store = AnswerStore(url)
    batch = store.create_batch(_items(100, 10), overlap=5, labels=LABELS)  # 500 task answers
    results: list[int] = []
    threads = [threading.Thread(target=lambda w=w: results.append(_annotate(url, batch, f"w{w}")))
               for w in range(10)]
    with multiprocessing.get_context("spawn").Pool(10) as pool:
        pending = pool.starmap_async(_annotate, [(url, batch, f"p{w}") for w in range(10)])
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results.extend(pending.get(timeout=300))
    answers = store.answers(batch)
    assert len(answers) == sum(results)  # every answer reported stored is there
    assert not answers.duplicated(["task", "worker"]).any()
    per_task = answers[answers.task.str.startswith("t")].groupby("task").size()
    assert len(per_task) == 100 and (per_task == 5).all()  # no task got a sixth answer in a race for its last slot
    assert store.progress(batch)["answers"] == 500


def _write_forever(url: str, batch_id: int) -> None:
    store = AnswerStore(url)
    for i in range(10**9):
        store.record_answer(batch_id, f"t{i % 1000}", f"killer{i // 1000}", "pos")


def test_a_writer_killed_mid_way_leaves_the_database_intact(tmp_path) -> None:
    path = tmp_path / "answers.db"
    store = AnswerStore(f"sqlite:///{path}")
    batch = store.create_batch(_items(1000, 0), overlap=3, labels=LABELS)
    writer = multiprocessing.get_context("spawn").Process(target=_write_forever, args=(f"sqlite:///{path}", batch))
    writer.start()
    deadline = time.monotonic() + 60
    while len(store.answers(batch)) < 50 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    committed = store.answers(batch)
    assert len(committed) >= 50 and not committed.duplicated(["task", "worker"]).any()
    assert store.record_answer(batch, "t999", "after", "neg") == "stored"
