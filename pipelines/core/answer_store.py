"""Crowd answers in a real database: an SQLite file by default, PostgreSQL through a URL.

One transaction per answer; a UNIQUE (batch, task, worker) constraint makes a double submit store one answer.
Annotators work blind: what they are served never shows others' answers, nor whether an item is golden.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from collections.abc import Collection
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

GOLDEN_SHARE = 0.10
# What became of a submitted answer: kept; this worker had answered already; the item had its `overlap`
# answers from others meanwhile; the batch was closed.
AnswerOutcome = Literal["stored", "duplicate", "full", "closed"]

metadata = sa.MetaData()
batches = sa.Table(
    "batches", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("overlap", sa.Integer, nullable=False),
    sa.Column("labels", sa.Text, nullable=False),
    sa.Column("closed", sa.Boolean, nullable=False, default=False),
    # Who waits for the batch (a flow run id): the dashboard reports progress to it and resumes it when complete.
    sa.Column("owner", sa.String(200)),
    # Where answers come from: "local" (the dashboard's labelling page), "simulated", or "toloka:<pool id>".
    sa.Column("source", sa.String(200)),
)
# Columns added after the first release, with the value older batches get.
_ADDED_BATCH_COLUMNS = {"owner": ("VARCHAR(200)", None), "source": ("VARCHAR(200)", "local")}
items = sa.Table(
    "items", metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), primary_key=True),
    sa.Column("task", sa.String(200), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("is_golden", sa.Boolean, nullable=False),
    sa.Column("golden_label", sa.String(100)),
)
answers_table = sa.Table(
    "answers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.Integer, nullable=False),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("worker", sa.String(200), nullable=False),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("batch_id", "task", "worker", name="one_answer_per_worker"),
)


@dataclass(frozen=True)
class ServedItem:
    """What an annotator sees: the item and nothing about its answers or whether it is golden."""

    task: str
    text: str


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA busy_timeout=30000")  # concurrent writers wait instead of failing
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class AnswerStore:
    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        self._add_new_columns()

    def _add_new_columns(self) -> None:
        """Stores created by an earlier release get the batch columns added since."""
        present = {column["name"] for column in sa.inspect(self.engine).get_columns("batches")}
        with self.engine.begin() as connection:
            for name, (sql_type, old_value) in _ADDED_BATCH_COLUMNS.items():
                if name not in present:
                    connection.execute(sa.text(f"ALTER TABLE batches ADD COLUMN {name} {sql_type}"))
                    if old_value is not None:
                        connection.execute(batches.update().values({name: old_value}))

    def create_batch(self, batch_items: pd.DataFrame, overlap: int, labels: list[str], owner: str | None = None,
                     source: str = "local") -> int:
        """Store items (`task, text, is_golden, golden_label`) to be answered by `overlap` people each."""
        if overlap < 1 or len(set(labels)) < 2:
            raise ValueError("A batch needs overlap >= 1 and at least two labels.")
        with self.engine.begin() as connection:
            batch_id = connection.execute(batches.insert().values(
                created_at=datetime.now(timezone.utc), overlap=overlap, labels=json.dumps(labels), closed=False,
                owner=owner, source=source)).inserted_primary_key[0]
            rows = batch_items.assign(batch_id=batch_id)[["batch_id", "task", "text", "is_golden", "golden_label"]]
            connection.execute(items.insert(), rows.astype(object).where(rows.notna(), None).to_dict("records"))
        return int(batch_id)

    def _batch(self, connection: Any, batch_id: int) -> Any:
        batch = connection.execute(sa.select(batches).where(batches.c.id == batch_id)).first()
        if batch is None:
            raise ValueError(f"No batch {batch_id}.")
        return batch

    def next_item_for(self, batch_id: int, worker: str, skip: Collection[str] = ()) -> ServedItem | None:
        """An item this worker has not answered (nor skipped) that still needs answers; golden mixed in (>= 10%)."""
        with self.engine.connect() as connection:
            batch = self._batch(connection, batch_id)
            if batch.closed:
                return None
            counts = sa.select(answers_table.c.task, sa.func.count().label("n")).where(
                answers_table.c.batch_id == batch_id).group_by(answers_table.c.task).subquery()
            mine = sa.select(answers_table.c.task).where(answers_table.c.batch_id == batch_id,
                                                         answers_table.c.worker == worker)
            open_items = connection.execute(
                sa.select(items.c.task, items.c.text, items.c.is_golden, sa.func.coalesce(counts.c.n, 0).label("n"))
                .outerjoin(counts, counts.c.task == items.c.task)
                .where(items.c.batch_id == batch_id, items.c.task.not_in(mine))
            ).all()
            answered_golden, answered = connection.execute(
                sa.select(sa.func.sum(sa.cast(items.c.is_golden, sa.Integer)), sa.func.count())
                .select_from(answers_table.join(items, sa.and_(items.c.batch_id == answers_table.c.batch_id,
                                                               items.c.task == answers_table.c.task)))
                .where(answers_table.c.batch_id == batch_id, answers_table.c.worker == worker)
            ).one()
        skipped = set(skip)
        open_items = [row for row in open_items if row.task not in skipped]
        tasks = [row for row in open_items if not row.is_golden and row.n < batch.overlap]
        if not tasks:
            return None
        golden = [row for row in open_items if row.is_golden]
        if golden and (answered_golden or 0) < GOLDEN_SHARE * (answered + 1):
            pick = random.choice(golden)
        else:
            fewest = min(row.n for row in tasks)
            pick = random.choice([row for row in tasks if row.n == fewest])
        return ServedItem(pick.task, pick.text)

    def record_answer(self, batch_id: int, task: str, worker: str, label: str) -> AnswerOutcome:
        """Store one answer in its own transaction, unless the worker answered the task already, the task has its
        `overlap` answers (golden items take everyone's), or the batch is closed.

        The checks and the insert are one `INSERT ... SELECT` statement, atomic on SQLite; on PostgreSQL the
        batch row (shared) and the item row (exclusive) are locked first, so `close` and a task's last slot are
        never raced.
        """
        with self.engine.connect() as connection:
            allowed = json.loads(self._batch(connection, batch_id).labels)
        if label not in allowed:
            raise ValueError(f"Label {label!r} should be one of {', '.join(allowed)}.")
        answered = sa.select(sa.func.count()).where(answers_table.c.batch_id == batch_id,
                                                    answers_table.c.task == task).scalar_subquery()
        open_batch = sa.select(batches.c.overlap).where(batches.c.id == batch_id, batches.c.closed.is_(False))
        try:
            with self.engine.begin() as connection:
                connection.execute(open_batch.with_for_update(read=True))
                item = connection.execute(sa.select(items.c.is_golden).where(
                    items.c.batch_id == batch_id, items.c.task == task).with_for_update()).first()
                if item is None:
                    raise ValueError(f"Batch {batch_id} has no item {task!r}.")
                row = sa.select(sa.literal(batch_id), sa.literal(task), sa.literal(worker), sa.literal(label),
                                sa.literal(datetime.now(timezone.utc), sa.DateTime(timezone=True))
                                ).where(open_batch.exists())
                if not item.is_golden:
                    row = row.where(answered < open_batch.scalar_subquery())
                inserted = connection.execute(answers_table.insert().from_select(
                    ["batch_id", "task", "worker", "label", "created_at"], row),
                    execution_options={"preserve_rowcount": True}).rowcount  # PostgreSQL gives -1 without it
        except IntegrityError:
            return "duplicate"
        if inserted:
            return "stored"
        with self.engine.connect() as connection:
            if self._batch(connection, batch_id).closed:
                return "closed"
        return "full"

    def answers(self, batch_id: int) -> pd.DataFrame:
        """Every answer as `task, worker, label`, oldest first."""
        query = sa.select(answers_table.c.task, answers_table.c.worker, answers_table.c.label).where(
            answers_table.c.batch_id == batch_id).order_by(answers_table.c.id)
        with self.engine.connect() as connection:
            return pd.DataFrame(connection.execute(query).all(), columns=["task", "worker", "label"])

    def progress(self, batch_id: int) -> dict[str, int]:
        """Answers given and needed on task items (golden answers are extra)."""
        with self.engine.connect() as connection:
            batch = self._batch(connection, batch_id)
            n_tasks = connection.execute(sa.select(sa.func.count()).where(
                items.c.batch_id == batch_id, items.c.is_golden.is_(False))).scalar_one()
            given = connection.execute(sa.select(sa.func.count()).select_from(answers_table.join(
                items, sa.and_(items.c.batch_id == answers_table.c.batch_id, items.c.task == answers_table.c.task)))
                .where(answers_table.c.batch_id == batch_id, items.c.is_golden.is_(False))).scalar_one()
        return {"answers": int(given), "needed": int(n_tasks * batch.overlap), "tasks": int(n_tasks)}

    def close(self, batch_id: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(batches.update().where(batches.c.id == batch_id).values(closed=True))

    def open_batches(self, source: str | None = None) -> list[dict[str, Any]]:
        """Batches still taking answers (from `source`, when given), newest first, with their labels."""
        query = sa.select(batches).where(batches.c.closed.is_(False)).order_by(batches.c.id.desc())
        if source is not None:
            query = query.where(batches.c.source == source)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [{"id": row.id, "labels": json.loads(row.labels), "overlap": row.overlap, "owner": row.owner,
                 "source": row.source} for row in rows]

    def batch_source(self, batch_id: int) -> str:
        with self.engine.connect() as connection:
            return str(self._batch(connection, batch_id).source)

    def set_source(self, batch_id: int, source: str) -> None:
        """Say where a batch's answers come from once that is known (e.g. the external pool it was posted to)."""
        with self.engine.begin() as connection:
            connection.execute(batches.update().where(batches.c.id == batch_id).values(source=source))

    def worker_answered(self, batch_id: int, worker: str) -> int:
        """How many answers this worker has given in the batch."""
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).where(
                answers_table.c.batch_id == batch_id, answers_table.c.worker == worker)).scalar_one())

    def golden_labels(self, batch_id: int) -> pd.Series:
        """The known labels of the batch's golden items, indexed by task."""
        query = sa.select(items.c.task, items.c.golden_label).where(items.c.batch_id == batch_id,
                                                                   items.c.is_golden.is_(True))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return pd.Series({row.task: row.golden_label for row in rows}, name="golden_label", dtype=object)
