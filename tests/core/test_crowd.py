"""The crowd interface over the real answer store, the final table and safe CSV export."""

from __future__ import annotations

import pandas as pd

from pipelines.core.aggregation import aggregate
from pipelines.core.answer_store import AnswerStore
from pipelines.core.crowd import CrowdBatch, LocalCrowd, SimulatedCrowdBackend, final_table, spreadsheet_safe
from pipelines.core.simulated_crowd import SimulatedCrowd

TASKS = pd.DataFrame({"task": [f"t{i}" for i in range(30)], "text": [f"review {i}" for i in range(30)],
                      "model_label": ["pos", "neg"] * 15})
GOLDEN = pd.DataFrame({"task": ["g0", "g1", "g2"], "text": ["great", "awful", "fine"], "label": ["pos", "neg", "pos"]})
BATCH = CrowdBatch(TASKS[["task", "text", "model_label"]], GOLDEN, ["pos", "neg"], overlap=3)


def test_local_crowd_progress_answers_and_close(tmp_path) -> None:
    crowd = LocalCrowd(AnswerStore(f"sqlite:///{tmp_path / 'a.db'}"))
    batch_id = crowd.submit(BATCH)
    assert crowd.progress(batch_id).needed == 90 and not crowd.progress(batch_id).complete
    crowd.store.record_answer(batch_id, "t0", "ana", "pos")
    assert crowd.progress(batch_id).answers == 1
    crowd.close(batch_id)
    assert crowd.store.next_item_for(batch_id, "ben") is None


def test_simulated_crowd_completes_and_feeds_the_final_table(tmp_path) -> None:
    crowd = SimulatedCrowdBackend(AnswerStore(f"sqlite:///{tmp_path / 'a.db'}"), SimulatedCrowd(n_workers=6, seed=1))
    batch_id = crowd.submit(BATCH)
    assert crowd.progress(batch_id).complete
    answers = crowd.answers(batch_id)
    assert answers.worker.str.startswith("sim-").all()
    result = aggregate(answers[~answers.task.str.startswith("g")], "DawidSkene")
    accepted = pd.DataFrame({"item_id": ["m1"], "text": ["=HYPERLINK(\"x\")"], "label": ["pos"],
                             "confidence": [0.99]})
    table = final_table(accepted, TASKS, result, simulated=True)
    assert len(table) == 31 and set(table.source) == {"model", "simulated crowd"}
    assert table.set_index("item").loc["m1", "score"] == 0.99
    safe = spreadsheet_safe(table)
    assert safe.set_index("item").loc["m1", "text"].startswith("'=") and safe.score.dtype == float
