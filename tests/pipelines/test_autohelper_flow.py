"""The autohelper deployment on the generated sample with the real offline MiniLM, end to end."""

from __future__ import annotations

import pytest

from dashboard import gateway
from pipelines.catalog import AUTOHELPER, AUTOHELPER_PROGRESS_ARTIFACT_KEY, AUTOHELPER_SUMMARY_ARTIFACT_KEY
from pipelines.core.autohelper import MiniLMSentimentModel
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.run_data import run_data_store
from tests.conftest import wait_for_log, wait_for_pending_input, wait_for_status

pytestmark = pytest.mark.usefixtures("prefect_api")


def _majority(golden) -> tuple[str, float]:
    """The most common stored golden label (the first in sort order on a tie) and its share, counted here."""
    counts = golden.true_label.value_counts()
    return sorted(counts[counts == counts.max()].index)[0], counts.max() / len(golden)


def test_predict_pause_for_threshold_then_split() -> None:
    run_id = gateway.start_run(AUTOHELPER)  # the default split: golden max(100, 10%), every other row a task
    pending = wait_for_pending_input(run_id, timeout=240)
    seed_value = pending.schema["properties"]["threshold"]["default"]
    assert 0 < seed_value <= 1 and f"**{seed_value:.3f}**" in pending.description
    assert seed_value == round(seed_value, 3)  # offered as the page's slider shows it

    store = AutohelperStore.for_run(run_data_store(), str(run_id))
    predictions = store.read("predictions")
    golden = predictions[predictions.split == "golden"]
    assert len(golden) == 100 and (predictions.split == "task").sum() == 220
    progress = next(a for a in gateway.artifacts(run_id) if a.key == AUTOHELPER_PROGRESS_ARTIFACT_KEY)
    assert progress.data == 100.0

    # Auto must have picked the mode that is right more often on golden items it never trained on: both
    # computed here on the stored golden items (the flow's seed, 0, fixes the few-shot folds).
    texts, labels, ids = list(golden.text), list(golden.true_label), list(golden.item_id)
    zero = MiniLMSentimentModel().predict(texts, ids)
    few = MiniLMSentimentModel(seed=0).fit(texts, labels, ids).calibration_predictions()
    honest = {"zero-shot": sum(p.label == t for p, t in zip(zero, labels)) / len(labels),
              "few-shot": sum(p.label == t for p, t in zip(few, labels)) / len(labels)}
    mode = "few-shot" if honest["few-shot"] > honest["zero-shot"] else "zero-shot"
    version = ("minilm-offline:zero-shot" if mode == "zero-shot"
               else f"minilm-offline:few-shot({len(labels)} labelled)")
    assert set(predictions.model_version) == {version}
    assert golden.correct.mean() == pytest.approx(honest[mode])
    assert f"auto picked {mode}" in pending.description
    assert wait_for_log(run_id, f"auto picked {mode}")

    gateway.resume(run_id, {"threshold": 0.9}, analyst="Kim")
    assert wait_for_status(run_id, {"completed", "failed"}).status == "completed"
    accepted, manual = store.read("accepted"), store.read("manual")
    assert len(accepted) + len(manual) == 220
    assert (accepted.confidence >= 0.9).all() and (manual.confidence < 0.9).all()
    summary = next(a for a in gateway.artifacts(run_id) if a.key == AUTOHELPER_SUMMARY_ARTIFACT_KEY)
    assert len(summary.data) == len(accepted)
    assert f"auto picked {mode}" in summary.description
    top, share = _majority(golden)
    assert f"always answering {top!r} would score {share:.1%}" in summary.description
    result = gateway.result(run_id)
    assert result["accepted"] == len(accepted)
    assert (result["model_mode"], result["golden_accuracy"]) == (mode, pytest.approx(honest[mode]))
    assert result["mode_reason"].startswith(f"auto picked {mode}") and f"{honest[mode]:.1%}" in result["mode_reason"]
    assert result["majority_baseline"] == {"label": top, "accuracy": pytest.approx(share)}


def test_zero_shot_as_chosen_and_warned_when_it_does_not_beat_the_majority_class() -> None:
    # Labels mapped the wrong way round: zero-shot reads the tone, so it is wrong on most golden items.
    run_id = gateway.start_run(AUTOHELPER, {"n_tasks": 30, "n_golden": 20, "model_mode": "zero-shot",
                                            "label_map": {"True": "neg", "False": "pos"}})
    pending = wait_for_pending_input(run_id, timeout=240)
    predictions = AutohelperStore.for_run(run_data_store(), str(run_id)).read("predictions")
    assert set(predictions.model_version) == {"minilm-offline:zero-shot"}
    golden = predictions[predictions.split == "golden"]
    accuracy = golden.correct.mean()
    top, share = _majority(golden)
    assert accuracy < share
    assert f"zero-shot, as chosen: {accuracy:.1%} golden accuracy." in pending.description
    assert f"**{accuracy:.1%}**; always answering {top!r} would score {share:.1%}" in pending.description
    assert "**Warning:** The model's golden accuracy" in pending.description
    assert wait_for_log(run_id, "zero-shot, as chosen")
    assert wait_for_log(run_id, f"does not beat always answering {top!r}")

    gateway.resume(run_id, {"threshold": 0.8})
    assert wait_for_status(run_id, {"completed", "failed"}).status == "completed"
    result = gateway.result(run_id)
    assert result["model_mode"] == "zero-shot" and result["golden_accuracy"] == pytest.approx(accuracy)
    assert result["majority_baseline"] == {"label": top, "accuracy": pytest.approx(share)}


def test_threshold_card_shows_a_dash_where_no_golden_item_is_accepted_and_the_seed_it_sends() -> None:
    import numpy as np
    import pandas as pd

    from pipelines.core.threshold import CrowdCost, ThresholdCurve
    from pipelines.flows.autohelper import threshold_description

    golden = pd.DataFrame({"confidence": [0.55, 0.6, 0.577, 0.9], "correct": [True, False, True, True]})
    curve = ThresholdCurve(golden.confidence.to_numpy(), golden.correct.to_numpy(), np.array([0.5, 0.7, 0.99]),
                           CrowdCost())
    card = threshold_description(curve, 0.5771, golden, "summary")
    assert "nan" not in card.lower()
    assert "| 0.990 | 1 | 2 | — (no golden item accepted) |" in card
    assert "gives **0.577**" in card and "| 0.577 |" in card  # the seed as sent: round(seed, 3)
