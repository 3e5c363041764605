"""Threshold maths against hand-computed cases and a naive pandas computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipelines.core.threshold import (
    CrowdCost,
    ThinEvidenceWarning,
    ThresholdCurve,
    ThresholdInputInvalid,
    seed_threshold,
    wilson_interval,
)

# Ten labelled items: confidences and whether the model was right.
CONF = np.array([0.55, 0.60, 0.65, 0.70, 0.80, 0.85, 0.90, 0.92, 0.97, 0.99])
RIGHT = np.array([False, True, False, True, True, False, True, True, True, True])
TASKS = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.3])


def test_seed_rule_is_the_90th_percentile_of_wrong_confidences() -> None:
    # Wrong at 0.55, 0.65, 0.85: numpy's linear 90th percentile = 0.65 + 0.8 * (0.85 - 0.65) = 0.81.
    assert seed_threshold(CONF, RIGHT) == pytest.approx(0.81)
    assert seed_threshold(CONF, np.ones(10, dtype=bool)) == 0.95


def test_wilson_interval_matches_the_formula_by_hand() -> None:
    # 8/10: centre (0.8 + 1.9208/10) / 1.38415 = 0.71674, half 1.96*sqrt(0.016 + 0.009604)/1.38415 = 0.22658.
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_counts_accuracy_cost_and_saving_at_a_threshold() -> None:
    curve = ThresholdCurve(CONF, RIGHT, TASKS, CrowdCost(overlap=3, reward_per_answer=0.05, golden_overhead=0.1))
    point = curve.at(0.8)
    # Tasks >= 0.8: 0.8, 0.9, 0.95, 0.99 → 4 accepted, 4 manual.
    assert (point.accepted, point.manual, point.coverage) == (4, 4, 0.5)
    # Labelled >= 0.8: 0.80 0.85 0.90 0.92 0.97 0.99 → 6, of which 5 right.
    assert (point.labelled_accepted, point.accuracy) == (6, pytest.approx(5 / 6))
    assert point.expected_wrong == pytest.approx(4 / 6)
    # Cost: 4 manual × 3 answers × 0.05 × 1.1 = 0.66; all eight would cost 1.32.
    assert point.crowd_cost == pytest.approx(0.66) and point.cost_all_to_crowd == pytest.approx(1.32)
    assert point.saving == pytest.approx(0.66) and point.saving_share == pytest.approx(0.5)


def test_target_accuracy_picks_the_lowest_threshold_whose_lower_bound_meets_it() -> None:
    confidences = np.linspace(0.5, 1.0, 200)
    correct = confidences > 0.7  # always right above 0.7
    curve = ThresholdCurve(confidences, correct, confidences)
    point = curve.for_target_accuracy(0.9)
    assert point is not None and point.ci_low >= 0.9
    below = curve.candidates()[curve.candidates() < point.threshold][-1]
    assert not curve.at(below).ci_low >= 0.9
    assert ThresholdCurve(CONF, RIGHT, TASKS).for_target_accuracy(0.99) is None


def test_target_accuracy_on_the_point_estimate() -> None:
    curve = ThresholdCurve(CONF, RIGHT, TASKS)
    # Labelled >= 0.90: 0.90 0.92 0.97 0.99, all right; >= 0.85 adds a wrong one (5 of 6 would be 83%).
    assert curve.for_target_accuracy(1.0, use_interval=False).threshold == 0.90
    # >= 0.70: 0.70 0.80 0.85 0.90 0.92 0.97 0.99 → 6 of 7 = 85.7% ≥ 0.85; >= 0.65 is 6 of 8.
    assert curve.for_target_accuracy(0.85, use_interval=False).threshold == 0.70


def test_budget_picks_the_most_manual_work_it_can_pay_for() -> None:
    curve = ThresholdCurve(CONF, RIGHT, TASKS, CrowdCost(overlap=1, reward_per_answer=1.0, golden_overhead=0.0))
    point = curve.for_budget(3)  # three items to people: the three least confident tasks (0.3, 0.5, 0.6)
    assert (point.manual, point.crowd_cost, point.threshold) == (3, 3.0, 0.7)
    assert curve.for_budget(100).manual == 8 and curve.for_budget(0).manual == 0
    with pytest.raises(ThresholdInputInvalid, match="negative"):
        curve.for_budget(-1)


def test_thin_evidence_is_warned() -> None:
    curve = ThresholdCurve(CONF[:3], RIGHT[:3], np.linspace(0, 1, 100))
    with pytest.warns(ThinEvidenceWarning):
        reasons = curve.warnings_for(curve.at(0.5))
    assert any("2 golden mistakes" in r for r in reasons) and any("3% of tasks" in r for r in reasons)


@pytest.mark.parametrize(
    ("confidences", "correct", "message"),
    [([], [], "non-empty"), ([0.5, 1.2], [True, False], "between 0 and 1"), ([0.5], [True, False], "same length")],
)
def test_bad_input_is_refused_clearly(confidences, correct, message) -> None:
    with pytest.raises(ThresholdInputInvalid, match=message):
        ThresholdCurve(np.array(confidences), np.array(correct), np.array([0.5]))


def test_matches_a_naive_pandas_computation() -> None:
    rng = np.random.default_rng(0)
    labelled = pd.DataFrame({"conf": rng.random(500), "right": rng.random(500) < 0.8})
    tasks = pd.Series(rng.random(2000))
    curve = ThresholdCurve(labelled.conf.to_numpy(), labelled.right.to_numpy(), tasks.to_numpy())
    for threshold in rng.random(50):
        point = curve.at(threshold)
        kept = labelled[labelled.conf >= threshold]
        assert point.accepted == int((tasks >= threshold).sum())
        assert point.labelled_accepted == len(kept)
        assert point.accuracy == pytest.approx(kept.right.mean())
