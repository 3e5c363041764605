"""The labelling page stores each answer on the review that was on screen (AppTest, a real SQLite store).

Oracle annotators read the review the page shows, look its gold label up by that text and click it; every
stored answer, joined with the stored item's text, must then equal gold. A page that records a click against
any other item (e.g. one drawn again on the click's rerun) fails these at once.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from pipelines.core.adaptive import AdaptiveOverlap
from pipelines.core.answer_contracts import BatchProgress
from pipelines.core.answer_store import AnswerStore
from pipelines.core.answer_tables import items
from pipelines.core.settings import get_settings

PAGE = Path(__file__).resolve().parents[3] / "dashboard" / "views" / "labelling.py"
FULL_MESSAGE = "Others gave that review its answers meanwhile"
CLOSED_MESSAGE = "The analyst closed this batch meanwhile"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AnswerStore]:
    """A fresh answer store file the page under test uses (through the HITL_ANSWER_STORE setting)."""
    monkeypatch.setenv("HITL_ANSWER_STORE", f"sqlite:///{tmp_path / 'answers.db'}")
    get_settings.cache_clear()
    yield AnswerStore(get_settings().answer_store_url)
    get_settings.cache_clear()


@dataclass(frozen=True)
class Batch:
    id: int
    gold: dict[str, str]  # text -> gold label
    golden_tasks: frozenset[str]


def _text(i: int, rng: random.Random) -> str:
    # Markup a page must not render, and every seventh review long (real product reviews run to pages).
    text = f"Review {i}: the **kettle** [link](http://127.0.0.1:9/{i}) <b>#{i}</b> {rng.random():.6f}"
    return text + " It went on and on." * 60 if i % 7 == 3 else text


def _make_batch(store: AnswerStore, n_tasks: int, n_golden: int, overlap: int, seed: int = 0,
                adaptive: AdaptiveOverlap | None = None) -> Batch:
    """Tasks and golden items with gold labels known here, 80% `pos` (a skewed mix, like real reviews)."""
    rng = random.Random(seed)
    size = n_tasks + n_golden
    labels = ["neg"] * max(1, size // 5) + ["pos"] * (size - max(1, size // 5))
    rng.shuffle(labels)
    rows = []
    for i, label in enumerate(labels):
        golden = i >= n_tasks
        rows.append({"task": f"{'g' if golden else 't'}{i}", "text": _text(i, rng), "is_golden": golden,
                     "golden_label": label if golden else None, "gold": label})
    frame = pd.DataFrame(rows)
    batch_id = store.create_batch(frame.drop(columns="gold"), overlap=overlap, labels=["neg", "pos"],
                                  adaptive=adaptive)
    assert any(len(text) > 1000 for text in frame.text)
    return Batch(batch_id, dict(zip(frame.text, frame.gold)), frozenset(frame.task[frame.is_golden]))


class Oracle:
    """An annotator in a session of their own who answers each review shown with its gold label."""

    def __init__(self, name: str, gold: dict[str, str]) -> None:
        self.gold = gold
        self.app = AppTest.from_file(str(PAGE), default_timeout=30)
        self.app.run()
        self.app.text_input(key="labelling.annotator").input(name).run()

    def shown(self) -> str | None:
        """The review on screen, or None when nothing is left for this annotator."""
        assert not self.app.exception, self.app.exception
        texts = [element.value for element in self.app.text]
        if any("Nothing left for you" in s.value for s in self.app.success):
            assert not texts
            return None
        [text] = texts
        return text

    def answer(self, label: str | None = None) -> str:
        """Click the gold label (or `label`) of the review on screen; return that review's text."""
        text = self.shown()
        assert text is not None
        chosen = label or self.gold[text]
        next(button for button in self.app.button if button.label == chosen).click().run()
        return text

    def skip(self) -> str:
        text = self.shown()
        assert text is not None
        next(button for button in self.app.button if button.label == "Skip").click().run()
        return text

    def notices(self) -> list[str]:
        return [element.value for element in self.app.info]

    def progress_text(self) -> str:
        [bar] = self.app.get("progress")
        return str(bar.proto.text)


def _stored_with_text(store: AnswerStore, batch_id: int) -> pd.DataFrame:
    """Every stored answer joined with the stored item it was recorded against."""
    with store.engine.connect() as connection:
        texts = pd.DataFrame(connection.execute(sa.select(items.c.task, items.c.text).where(
            items.c.batch_id == batch_id)).all(), columns=["task", "text"])
    return store.answers(batch_id).merge(texts, on="task", how="left", validate="many_to_one")


def _assert_every_answer_is_gold(store: AnswerStore, batch: Batch) -> pd.DataFrame:
    answers = _stored_with_text(store, batch.id)
    assert len(answers) and answers.text.notna().all()
    wrong = answers[answers.label != answers.text.map(batch.gold)]
    assert wrong.empty, f"{len(wrong)} of {len(answers)} answers are not on the item shown:\n{wrong}"
    return answers


def test_one_oracle_annotator_every_stored_answer_is_gold(store: AnswerStore) -> None:
    batch = _make_batch(store, n_tasks=16, n_golden=4, overlap=1)
    ana = Oracle("ana", batch.gold)
    while ana.shown() is not None:
        ana.answer()
    answers = _assert_every_answer_is_gold(store, batch)
    tasks = answers[~answers.task.isin(batch.golden_tasks)]
    assert sorted(tasks.task) == sorted(f"t{i}" for i in range(16))  # each task once, overlap 1
    assert answers.task.isin(batch.golden_tasks).any()  # golden items were mixed in and answered too
    assert set(answers.label) == {"neg", "pos"}


def test_two_oracle_annotators_taking_turns_with_overlap_two(store: AnswerStore) -> None:
    batch = _make_batch(store, n_tasks=12, n_golden=3, overlap=2, seed=1)
    annotators = [Oracle("ana", batch.gold), Oracle("ben", batch.gold)]
    while busy := [a for a in annotators if a.shown() is not None]:
        for annotator in busy:
            annotator.answer()
    answers = _assert_every_answer_is_gold(store, batch)
    tasks = answers[~answers.task.isin(batch.golden_tasks)]
    assert tasks.groupby("task").worker.nunique().eq(2).all() and tasks.task.nunique() == 12
    assert store.progress(batch.id).complete


def test_skipped_reviews_get_no_answer_and_later_answers_stay_on_the_review_shown(store: AnswerStore) -> None:
    batch = _make_batch(store, n_tasks=15, n_golden=3, overlap=1, seed=2)
    ana = Oracle("ana", batch.gold)
    skipped: set[str] = set()
    turn = 0
    while ana.shown() is not None:
        if turn % 3 == 1:
            skipped.add(ana.skip())
        else:
            ana.answer()
        turn += 1
    assert skipped
    answers = _assert_every_answer_is_gold(store, batch)
    assert not set(answers.text) & skipped  # a skipped review got no answer from the one who skipped it
    ben = Oracle("ben", batch.gold)  # what ana skipped is still open for others
    shown_to_ben = set()
    while ben.shown() is not None:
        shown_to_ben.add(ben.answer())
    assert skipped <= shown_to_ben
    _assert_every_answer_is_gold(store, batch)


def test_a_click_on_a_review_others_filled_meanwhile_is_refused_and_another_shown(store: AnswerStore) -> None:
    batch = _make_batch(store, n_tasks=6, n_golden=0, overlap=1, seed=3)
    ana, ben = Oracle("ana", batch.gold), Oracle("ben", batch.gold)
    pinned = ana.shown()
    while ben.shown() != pinned:  # ben skips until he is served ana's review, then answers it
        ben.skip()
    ben.answer()
    ana.app.run()  # ana's page reruns (any widget) before her click: her review stays the same
    assert ana.shown() == pinned
    ana.answer()
    assert any(FULL_MESSAGE in notice for notice in ana.notices())
    answers = _stored_with_text(store, batch.id)
    assert answers[answers.text == pinned].worker.tolist() == ["ben"]
    assert ana.shown() not in (None, pinned)
    ana.answer()
    assert (_assert_every_answer_is_gold(store, batch).worker == "ana").sum() == 1


def test_a_click_after_the_batch_was_closed_is_refused_and_stores_nothing(store: AnswerStore) -> None:
    batch = _make_batch(store, n_tasks=4, n_golden=1, overlap=1, seed=4)
    ana = Oracle("ana", batch.gold)
    assert ana.shown() is not None
    store.close(batch.id)
    ana.answer()
    assert any(CLOSED_MESSAGE in notice for notice in ana.notices())
    assert any("No crowd batch is open" in notice for notice in ana.notices())
    assert store.answers(batch.id).empty


def test_each_annotator_name_and_batch_has_its_own_pinned_review(store: AnswerStore) -> None:
    # No golden items: every draw is random, so a review that stays put was pinned, not drawn again.
    first = _make_batch(store, n_tasks=8, n_golden=0, overlap=2, seed=5)
    second = _make_batch(store, n_tasks=8, n_golden=0, overlap=2, seed=6)
    gold = first.gold | second.gold
    tab = Oracle("ana", gold)
    assert tab.app.selectbox(key="labelling.batch").value.id == second.id  # the newest open batch first
    for_ana = tab.shown()
    for _ in range(3):  # reruns from elsewhere on the page keep the review
        tab.app.run()
        assert tab.shown() == for_ana
    tab.app.text_input(key="labelling.annotator").input("ben").run()
    for_ben = tab.answer()  # ben answers the review shown to ben
    tab.app.text_input(key="labelling.annotator").input("ana").run()
    assert tab.shown() == for_ana  # ana's review waited for her
    tab.app.selectbox(key="labelling.batch").select_index(1).run()
    in_first = tab.answer()
    tab.app.selectbox(key="labelling.batch").select_index(0).run()
    assert tab.shown() == for_ana
    tab.answer()

    assert _stored_with_text(store, first.id)[["worker", "text"]].values.tolist() == [["ana", in_first]]
    in_second = _stored_with_text(store, second.id)
    assert in_second[["worker", "text"]].values.tolist() == [["ben", for_ben], ["ana", for_ana]]
    _assert_every_answer_is_gold(store, first)
    _assert_every_answer_is_gold(store, second)


def test_two_oracle_annotators_end_an_adaptive_batch_by_themselves_once_every_item_is_confident(
        store: AnswerStore) -> None:
    rule = AdaptiveOverlap(min_answers=2, max_answers=5, stop_confidence=0.95)
    batch = _make_batch(store, n_tasks=12, n_golden=3, overlap=3, seed=7, adaptive=rule)
    annotators = [Oracle("ana", batch.gold), Oracle("ben", batch.gold)]
    assert "0 answers given, about 36 more expected" in annotators[0].progress_text()  # 3 each at the prior 0.8
    while busy := [a for a in annotators if a.shown() is not None]:
        for annotator in busy:
            annotator.answer()
    answers = _assert_every_answer_is_gold(store, batch)
    tasks = answers[~answers.task.isin(batch.golden_tasks)]
    # Right golden answers raise the batch's accuracy estimate, so two agreeing answers settle each item: the
    # batch ends with min_answers per item, not max_answers, and nobody is left waiting for a third annotator.
    assert tasks.task.nunique() == 12 and tasks.groupby("task").worker.nunique().eq(2).all()
    assert store.progress(batch.id) == BatchProgress(answers=24, needed=24, tasks=12, left=0)
    assert store.tasks_needing_answers(batch.id) == []
    annotators[0].app.run()
    assert "24 answers given, about 0 more expected" in annotators[0].progress_text()
    cy = Oracle("cy", batch.gold)
    assert cy.shown() is None  # a newcomer is offered nothing: every item is confident
