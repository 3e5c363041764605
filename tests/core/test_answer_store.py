"""The answer store on a real SQLite file and a real PostgreSQL server: blind serving, idempotent answers,
concurrent writers racing for an item's last slot, a killed writer."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.core.adaptive import AdaptiveOverlap, Votes, answer_accuracy
from pipelines.core.answer_store import AnswerStore, Batch, BatchProgress
from pipelines.core.crowd import CrowdBatch, LocalCrowd
from tests.conftest import POSTGRESQL, new_database


@pytest.fixture(params=["sqlite", POSTGRESQL])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty answer database: an SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'answers.db'}"
    return new_database(request.getfixturevalue("postgres_server"), "answers")

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


def test_double_submit_stores_one_answer_and_labels_are_checked(store_url: str) -> None:
    store = AnswerStore(store_url)
    batch = store.create_batch(_items(3, 1), overlap=2, labels=LABELS)
    assert store.record_answer(batch, "t0", "ana", "pos") == "stored"
    assert store.record_answer(batch, "t0", "ana", "neg") == "duplicate"
    assert store.answers(batch).to_dict("records") == [{"task": "t0", "worker": "ana", "label": "pos"}]
    with pytest.raises(ValueError, match="should be one of pos, neg"):
        store.record_answer(batch, "t1", "ana", "meh")
    with pytest.raises(ValueError, match="has no item 'nope'"):
        store.record_answer(batch, "nope", "ana", "pos")


def test_a_full_task_takes_no_more_answers_golden_takes_everyones_and_closed_takes_none(store_url: str) -> None:
    store = AnswerStore(store_url)
    batch = store.create_batch(_items(2, 1), overlap=2, labels=LABELS, owner="run-42")
    assert [store.record_answer(batch, "t0", worker, "pos") for worker in ("ana", "ben", "cy")] == [
        "stored", "stored", "full"]
    assert [store.record_answer(batch, "g0", worker, "pos") for worker in ("ana", "ben", "cy")] == ["stored"] * 3
    assert store.open_batches() == [Batch(batch, tuple(LABELS), overlap=2, owner="run-42", source="local")]
    assert store.open_batches(source="toloka:7") == []
    store.close(batch)
    assert store.record_answer(batch, "t1", "ana", "neg") == "closed"
    assert len(store.answers(batch)) == 5 and store.open_batches() == []


def test_a_store_from_an_earlier_release_gets_the_new_columns(tmp_path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE batches (id INTEGER PRIMARY KEY, created_at DATETIME NOT NULL, "
                           "overlap INTEGER NOT NULL, labels TEXT NOT NULL, closed BOOLEAN NOT NULL)")
        connection.execute("""INSERT INTO batches VALUES (1, '2026-01-01 00:00:00', 2, '["pos", "neg"]', 0)""")
        connection.execute("CREATE TABLE items (batch_id INTEGER NOT NULL, task VARCHAR(200) NOT NULL, text TEXT "
                           "NOT NULL, is_golden BOOLEAN NOT NULL, golden_label VARCHAR(100), PRIMARY KEY (batch_id, "
                           "task))")
        connection.execute("INSERT INTO items VALUES (1, 't0', 'fine', 0, NULL)")
    store = AnswerStore(f"sqlite:///{path}")
    assert store.open_batches() == [Batch(1, tuple(LABELS), overlap=2, owner=None, source="local")]
    assert store.adaptive_rule(1) is None  # a batch from before adaptive overlap keeps its fixed overlap
    columns = {column["name"] for column in sa.inspect(store.engine).get_columns("items")}
    assert {"model_label", "model_confidence"} <= columns
    assert store.next_item_for(1, "ana").task == "t0"  # an item from before model priors is served as before


def test_serving_is_blind_mixes_golden_and_respects_overlap(store_url: str) -> None:
    store = AnswerStore(store_url)
    batch = store.create_batch(_items(20, 3), overlap=2, labels=LABELS)
    served = []
    while (item := store.next_item_for(batch, "ana")) is not None:
        assert set(item.__dict__) == {"task", "text"}  # nothing about golden status or others' answers
        served.append(item.task)
        store.record_answer(batch, item.task, "ana", "pos")
    assert len(served) == len(set(served))
    assert sum(task.startswith("g") for task in served) >= 0.1 * len(served)
    assert store.progress(batch) == BatchProgress(answers=20, needed=40, tasks=20)
    _annotate(store_url, batch, "ben")
    assert store.next_item_for(batch, "cy") is None  # every task has its two answers
    store.close(batch)


def _at_once(annotate: Callable[[str, int, str], int], url: str, batch: int, per_kind: int) -> int:
    """`per_kind` annotators in threads and as many in processes label the batch at once; the answers they were
    told were stored."""
    results: list[int] = []
    threads = [threading.Thread(target=lambda w=w: results.append(annotate(url, batch, f"w{w}")))
               for w in range(per_kind)]
    with multiprocessing.get_context("spawn").Pool(per_kind) as pool:
        pending = pool.starmap_async(annotate, [(url, batch, f"p{w}") for w in range(per_kind)])
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results.extend(pending.get(timeout=300))
    return sum(results)


@pytest.mark.slow  # spawns ten annotator processes beside ten threads
def test_twenty_concurrent_annotators_lose_and_duplicate_nothing(store_url: str) -> None:
    url = store_url
    store = AnswerStore(url)
    batch = store.create_batch(_items(100, 10), overlap=5, labels=LABELS)  # 500 task answers
    stored = _at_once(_annotate, url, batch, per_kind=10)
    answers = store.answers(batch)
    assert len(answers) == stored  # every answer reported stored is there
    assert not answers.duplicated(["task", "worker"]).any()
    per_task = answers[answers.task.str.startswith("t")].groupby("task").size()
    assert len(per_task) == 100 and (per_task == 5).all()  # no task got a sixth answer in a race for its last slot
    assert store.progress(batch).answers == 500


def _given(*answers: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(answers, columns=["task", "worker", "label"])


def _one_by_one(store: AnswerStore, batch: int, given: pd.DataFrame) -> list[str]:
    return [store.record_answer(batch, *row) for row in given.itertuples(index=False)]


def test_answers_in_bulk_are_kept_or_refused_exactly_as_one_by_one(store_url: str) -> None:
    store = AnswerStore(store_url)
    earlier = _given(("t0", "ana", "pos"))
    given = _given(("t0", "ana", "neg"), ("t0", "ben", "neg"), ("t0", "cy", "pos"), ("t1", "ben", "pos"),
                   ("t1", "ben", "neg"), ("g0", "ana", "pos"), ("g0", "ben", "neg"), ("g0", "cy", "pos"))
    bulk, single = (store.create_batch(_items(2, 1), overlap=2, labels=LABELS) for _ in range(2))
    store.record_answers(bulk, earlier)
    _one_by_one(store, single, earlier)
    outcomes = store.record_answers(bulk, given)
    assert outcomes == _one_by_one(store, single, given) == [
        "duplicate", "stored", "full", "stored", "duplicate", "stored", "stored", "stored"]
    assert store.answers(bulk).equals(store.answers(single))
    assert store.record_answers(bulk, given) == ["duplicate"] * 2 + ["full"] + ["duplicate"] * 5  # idempotent
    store.close(bulk)
    assert store.record_answers(bulk, _given(("t1", "cy", "pos"))) == ["closed"]
    assert len(store.answers(bulk)) == 6


def test_adaptive_answers_in_bulk_follow_the_rule_as_one_by_one(store_url: str) -> None:
    store = AnswerStore(store_url)
    # Golden answers first move the accuracy the rule judges t1 with; t0 settles at two agreeing answers.
    given = _given(("g0", "ana", "pos"), ("g0", "ben", "pos"), ("t0", "ana", "pos"), ("t0", "ben", "pos"),
                   ("t0", "cy", "pos"), ("t1", "ana", "pos"), ("t1", "ben", "neg"), ("t1", "cy", "pos"),
                   ("t1", "dan", "pos"), ("t1", "eve", "pos"))
    bulk, single = (store.create_batch(_items(3, 1), overlap=3, labels=LABELS, adaptive=RULE) for _ in range(2))
    assert store.record_answers(bulk, given) == _one_by_one(store, single, given) == [
        "stored", "stored", "stored", "stored", "full", "stored", "stored", "stored", "stored", "full"]
    assert store.progress(bulk) == store.progress(single) == BatchProgress(answers=6, needed=8, tasks=3, left=2)


@pytest.mark.parametrize("bad, message", [(("t1", "cy", "meh"), r"Labels \['meh'\] should be among pos, neg"),
                                          (("nope", "cy", "pos"), r"has no items \['nope'\]")])
def test_answers_in_bulk_with_one_bad_answer_store_none(store_url: str, bad: tuple, message: str) -> None:
    store = AnswerStore(store_url)
    batch = store.create_batch(_items(2, 1), overlap=2, labels=LABELS)
    with pytest.raises(ValueError, match=f"{message}.*nothing was stored"):
        store.record_answers(batch, _given(("t0", "ana", "pos"), bad, ("t1", "ana", "pos")))
    assert store.answers(batch).empty


def _annotate_in_bulk_or_one_by_one(url: str, batch_id: int, worker: str) -> int:
    """Even-numbered workers answer every item in bulks of 7; the others one by one as they are served."""
    if int(worker[1:]) % 2:
        return _annotate(url, batch_id, worker)
    store = AnswerStore(url)
    tasks = sorted(set(store.answers(batch_id).task) | {f"t{i}" for i in range(100)} | {f"g{i}" for i in range(10)})
    random.Random(worker).shuffle(tasks)
    stored = 0
    for start in range(0, len(tasks), 7):
        chunk = _given(*((task, worker, "pos") for task in tasks[start:start + 7]))
        stored += store.record_answers(batch_id, chunk).count("stored")
    return stored


@pytest.mark.slow  # spawns six annotator processes beside six threads
def test_bulk_and_single_writers_at_once_never_overfill_a_task_nor_lose_an_answer(store_url: str) -> None:
    store = AnswerStore(store_url)
    batch = store.create_batch(_items(100, 10), overlap=5, labels=LABELS)
    stored = _at_once(_annotate_in_bulk_or_one_by_one, store_url, batch, per_kind=6)
    answers = store.answers(batch)
    assert len(answers) == stored and not answers.duplicated(["task", "worker"]).any()
    per_task = answers[answers.task.str.startswith("t")].groupby("task").size()
    assert len(per_task) == 100 and (per_task == 5).all()


RULE = AdaptiveOverlap(min_answers=2, max_answers=5, stop_confidence=0.95)


def test_an_adaptive_item_stops_once_confident_and_takes_more_while_answers_disagree(store_url: str) -> None:
    store = AnswerStore(store_url)
    batch = store.create_batch(_items(3, 1), overlap=3, labels=LABELS, adaptive=RULE)
    assert store.adaptive_rule(batch) == RULE
    assert store.progress(batch) == BatchProgress(answers=0, needed=9, tasks=3, left=9)  # 3 each at the prior 0.8
    for worker in ("ana", "ben"):  # two right golden answers: p = (2 + 8) / 12, r = 5
        assert store.record_answer(batch, "g0", worker, "pos") == "stored"
    # Two agreeing answers: 25/26 = 0.96 >= 0.95, so the item is settled and a third is not taken.
    assert [store.record_answer(batch, "t0", worker, "pos") for worker in ("ana", "ben", "cy")] == [
        "stored", "stored", "full"]
    # 1-1 (0.5), then 2-1 (5/6 = 0.83): both uncertain; 3-1 (25/26) settles it.
    assert [store.record_answer(batch, "t1", worker, label) for worker, label in
            [("ana", "pos"), ("ben", "neg"), ("cy", "pos"), ("dan", "pos"), ("eve", "pos")]] == [
        "stored", "stored", "stored", "stored", "full"]
    assert store.tasks_needing_answers(batch) == ["t2"]
    assert store.progress(batch) == BatchProgress(answers=6, needed=8, tasks=3, left=2)
    assert store.next_item_for(batch, "fay").task in {"t2", "g0"}
    store.close(batch)
    assert store.tasks_needing_answers(batch) == []


def test_the_models_label_as_prior_settles_agreeing_items_sooner_in_every_path(store_url: str) -> None:
    """Items carrying the model's label (calibrated 0.75) start from it: with p = 0.8 (r = 4, no golden yet) one
    agreeing answer gives 0.923 and two 0.98, where two people alone give 0.941. Every path judges the same."""
    store = AnswerStore(store_url)
    items = _items(4, 0).assign(model_label=["pos", "pos", "neg", None], model_confidence=[0.75, 0.75, 0.75, None])
    rule = AdaptiveOverlap(min_answers=1, max_answers=5, stop_confidence=0.95)
    batch = store.create_batch(items, overlap=5, labels=LABELS, adaptive=rule)
    # Each item's next answer needs: t0 and t1 (model pos) 2 agreeing, t2 (model neg) 2, t3 (no model) 3.
    assert store.progress(batch) == BatchProgress(answers=0, needed=9, tasks=4, left=9)
    assert [store.record_answer(batch, "t0", worker, "pos") for worker in ("ana", "ben", "cy")] == [
        "stored", "stored", "full"]  # agrees with the model: settled after two
    # Against the model: pos, pos leaves 0.84 for pos; a third pos (0.955) settles it.
    assert [store.record_answer(batch, "t2", worker, "pos") for worker in ("ana", "ben", "cy", "dan")] == [
        "stored", "stored", "stored", "full"]
    bulk = store.record_answers(batch, pd.DataFrame({"task": ["t1", "t1", "t1", "t3", "t3", "t3", "t3"],
                                                     "worker": ["ana", "ben", "cy", "ana", "ben", "cy", "dan"],
                                                     "label": ["pos"] * 7}))
    assert bulk == ["stored", "stored", "full", "stored", "stored", "stored", "full"]  # t3: people alone, 3
    assert store.tasks_needing_answers(batch) == [] and store.progress(batch).complete


def test_an_answer_counts_as_much_as_its_workers_golden_record_in_every_path(store_url: str) -> None:
    """Ana got all ten golden items right, Sam half: with the batch at (15 + 8) / 30 = 0.767, Ana's answers are
    right (10 + 7.67) / 20 = 0.883 of the time and Sam's 0.633. At stop 0.85 one answer of Ana settles an item;
    one of Sam, or of a newcomer (the batch's 0.767), does not."""
    store = AnswerStore(store_url)
    rule = AdaptiveOverlap(min_answers=1, max_answers=5, stop_confidence=0.85)
    golden = _given(*[(f"g{i}", "ana", "pos") for i in range(10)],
                    *[(f"g{i}", "sam", "pos" if i < 5 else "neg") for i in range(10)])
    given = _given(("t0", "ana", "neg"), ("t0", "ben", "neg"), ("t1", "sam", "pos"), ("t1", "ben", "pos"),
                   ("t2", "ben", "pos"), ("t2", "cy", "pos"))
    bulk, single = (store.create_batch(_items(3, 10), overlap=3, labels=LABELS, adaptive=rule) for _ in range(2))
    for batch in (bulk, single):
        store.record_answers(batch, golden)
    assert store.record_answers(bulk, given) == _one_by_one(store, single, given) == [
        "stored", "full", "stored", "stored", "stored", "stored"]
    for batch in (bulk, single):
        assert store.tasks_needing_answers(batch) == []
    # Served next: the item whose only answer came from the least trusted worker.
    batch = store.create_batch(_items(3, 10), overlap=3, labels=LABELS, adaptive=rule)
    store.record_answers(batch, pd.concat([golden, _given(("t0", "sam", "pos"), ("t1", "ben", "pos"))]))
    assert store.next_item_for(batch, "zed", skip=[f"g{i}" for i in range(10)]).task == "t2"  # none yet
    store.record_answer(batch, "t2", "ana", "pos")  # settled
    assert store.tasks_needing_answers(batch) == ["t0", "t1"]
    assert store.next_item_for(batch, "zed", skip=[f"g{i}" for i in range(10)]).task == "t0"


def test_a_model_prior_needs_adaptive_overlap_and_a_calibrated_confidence(tmp_path) -> None:
    tasks = pd.DataFrame({"task": ["t0"], "text": ["fine"], "model_label": ["pos"]})
    golden = pd.DataFrame({"task": ["g0"], "text": ["great"], "label": ["pos"]})
    store = AnswerStore(f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(ValueError, match="needs adaptive overlap and tasks with model_label and model_confidence"):
        LocalCrowd(store).submit(CrowdBatch(tasks, golden, LABELS, overlap=3, model_prior=True))
    with pytest.raises(ValueError, match="model_confidence"):
        LocalCrowd(store).submit(CrowdBatch(tasks, golden, LABELS, min_answers=1, max_answers=3,
                                            stop_confidence=0.9, model_prior=True))
    assert store.open_batches() == []


def test_an_adaptive_item_never_takes_more_than_max_answers(store_url: str) -> None:
    store = AnswerStore(store_url)
    batch = store.create_batch(_items(1, 0), overlap=3, labels=LABELS, adaptive=RULE)
    outcomes = [store.record_answer(batch, "t0", f"w{i}", "pos" if i % 2 else "neg") for i in range(7)]
    assert outcomes == ["stored"] * 5 + ["full"] * 2  # 3-2 at max_answers: still uncertain, but no more
    assert store.progress(batch) == BatchProgress(answers=5, needed=5, tasks=1, left=0)
    assert store.next_item_for(batch, "w9") is None


def test_adaptive_serving_gives_the_fewest_answers_below_min_first_then_the_least_confident(store_url: str) -> None:
    store = AnswerStore(store_url)
    batch = store.create_batch(_items(5, 0), overlap=3, labels=LABELS, adaptive=RULE)  # no golden: p = 0.8, r = 4
    given = {"t1": ["pos"], "t2": ["pos", "neg"], "t3": ["pos"] * 3, "t4": ["pos", "pos", "neg"]}
    for task, labels in given.items():
        for i, label in enumerate(labels):
            assert store.record_answer(batch, task, f"w{i}", label) == "stored"
    served = []
    while (item := store.next_item_for(batch, "zed")) is not None:
        served.append(item.task)
        store.record_answer(batch, item.task, "zed", "pos")
    # t0 (no answer), t1 (one), then t2 (1-1: 0.5) before t4 (2-1: 0.8); t3 (3-0: 64/65) needs none.
    assert served == ["t0", "t1", "t2", "t4"]


def _annotate_at_random(url: str, batch_id: int, worker: str) -> int:
    store, rng = AnswerStore(url), random.Random(worker)
    stored = 0
    while (item := store.next_item_for(batch_id, worker)) is not None:
        stored += store.record_answer(batch_id, item.task, worker, rng.choice(LABELS)) == "stored"
    return stored


@pytest.mark.slow  # spawns eight annotator processes beside eight threads
def test_concurrent_annotators_never_push_an_adaptive_item_past_what_it_needs(store_url: str) -> None:
    url = store_url
    store = AnswerStore(url)
    batch = store.create_batch(_items(60, 0), overlap=3, labels=LABELS, adaptive=RULE)
    stored = _at_once(_annotate_at_random, url, batch, per_kind=8)
    answers = store.answers(batch)
    assert len(answers) == stored and not answers.duplicated(["task", "worker"]).any()
    # No golden items, so p stays at the prior: replay each task's answers in the order they were stored.
    accuracy = answer_accuracy(0, 0)
    for task, labels in answers.groupby("task").label:
        votes = Votes.none(2)
        for label in labels:
            assert RULE.needs_answer(votes), f"{task} took an answer it did not need: {list(labels)}"
            votes = votes.plus(LABELS.index(label), accuracy)
        assert not RULE.needs_answer(votes)  # and every task was settled or at max_answers
    assert answers.task.nunique() == 60 and store.progress(batch).left == 0


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
