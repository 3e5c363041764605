"""The answer store's tables: batches, their items, and the answers people gave; and the columns added since the
first release, which an older store gets when it is opened (`AnswerStore._add_new_columns`)."""

from __future__ import annotations

import sqlalchemy as sa

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
    # Adaptive overlap (all three set) or fixed overlap (all three NULL; `overlap` answers per task item).
    sa.Column("min_answers", sa.Integer),
    sa.Column("max_answers", sa.Integer),
    sa.Column("stop_confidence", sa.Float),
)
# Columns added after the first release, with the value older batches get.
ADDED_BATCH_COLUMNS = {"owner": ("VARCHAR(200)", None), "source": ("VARCHAR(200)", "local"),
                        "min_answers": ("INTEGER", None), "max_answers": ("INTEGER", None),
                        "stop_confidence": ("FLOAT", None)}
items = sa.Table(
    "items", metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), primary_key=True),
    sa.Column("task", sa.String(200), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("is_golden", sa.Boolean, nullable=False),
    sa.Column("golden_label", sa.String(100)),
    # The model's label and its calibrated confidence, when the batch lets the model's label be an adaptive
    # overlap's prior (NULL otherwise, and on golden items).
    sa.Column("model_label", sa.String(100)),
    sa.Column("model_confidence", sa.Float),
)
ADDED_ITEM_COLUMNS = {"model_label": ("VARCHAR(100)", None), "model_confidence": ("FLOAT", None)}
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
