"""Agreement between people: Krippendorff's alpha and per-item uncertainty against values worked out by hand,
and the disagreement list most uncertain first."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from crowdkit.metrics.data import alpha_krippendorff

from pipelines.core.agreement import (
    RELIABLE_ALPHA,
    alpha_reading,
    batch_agreement,
    disagreement_list,
    item_uncertainty,
    krippendorff_alpha,
)

# X: 2 pos, 1 neg; Y: 3 neg; Z: 1 pos, 1 neg. The model's vote on X is not a person's and must be left out.
ANSWERS = pd.DataFrame({"task": ["X", "X", "X", "Y", "Y", "Y", "Z", "Z", "X"],
                        "worker": ["ana", "ben", "cy", "ana", "ben", "cy", "ana", "ben", "model:minilm"],
                        "label": ["pos", "pos", "neg", "neg", "neg", "neg", "pos", "neg", "neg"]})
FINAL = pd.DataFrame({"item": ["X", "Y", "Z", "m1"], "text": ["=cmd|x", "fine", "meh", "great"],
                      "label": ["pos", "neg", "pos", "pos"], "source": ["crowd", "crowd", "crowd", "model"],
                      "score": [0.9, 1.0, 0.5, 0.97]})


def test_alpha_matches_the_hand_computed_value_and_crowd_kit() -> None:
    # Coincidences (pairs within an item, each weighted 1 / (answers - 1)): pos-pos 1, neg-neg 3, pos-neg 2 + 2;
    # n = 8, n_pos = 3, n_neg = 5. Observed disagreement 4/8, expected 2·3·5 / (8·7) = 30/56: alpha = 1 - 224/240.
    assert krippendorff_alpha(ANSWERS) == pytest.approx(1 / 15)
    people = ANSWERS[ANSWERS.worker != "model:minilm"]
    assert krippendorff_alpha(ANSWERS) == pytest.approx(alpha_krippendorff(people))


def test_uncertainty_is_the_entropy_of_each_items_answers() -> None:
    expected = {"X": -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)), "Y": 0.0, "Z": math.log(2)}
    assert item_uncertainty(ANSWERS).to_dict() == pytest.approx(expected)


def test_the_disagreement_list_is_most_uncertain_first_with_the_votes() -> None:
    disputed = disagreement_list(ANSWERS, FINAL)
    assert list(disputed.item) == ["Z", "X"]  # Y was unanimous; m1 was the model's
    assert list(disputed.votes) == ["neg 1 · pos 1", "pos 2 · neg 1"] and list(disputed.answers) == [2, 3]
    assert list(disputed.label) == ["pos", "pos"] and disputed.uncertainty.is_monotonic_decreasing


def test_alpha_in_plain_words() -> None:
    assert "unreliable" in batch_agreement(ANSWERS).reading
    assert "reliable" in alpha_reading(RELIABLE_ALPHA) and "tentative" in alpha_reading(0.7)
    assert "no more than chance" in alpha_reading(-0.1)
    one_each = ANSWERS.drop_duplicates("task")
    assert math.isnan(krippendorff_alpha(one_each)) and "cannot be measured" in batch_agreement(one_each).reading
    assert krippendorff_alpha(ANSWERS[ANSWERS.task == "Y"]) == 1.0  # one label everywhere: crowd-kit divides by 0
