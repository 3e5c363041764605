"""Threshold maths against hand-computed cases and a naive pandas computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipelines.core.threshold import (
    WILSON_Z,
    CrowdCost,
    ThinEvidenceWarning,
    ThresholdCurve,
    ThresholdInputInvalid,
    calibrated_correctness,
    seed_threshold,
    split_at_threshold,
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
    assert curve.for_target_accuracy(1.0, bound="point").threshold == 0.90
    # >= 0.70: 0.70 0.80 0.85 0.90 0.92 0.97 0.99 → 6 of 7 = 85.7% ≥ 0.85; >= 0.65 is 6 of 8.
    assert curve.for_target_accuracy(0.85, bound="point").threshold == 0.70


def test_target_the_point_estimate_reaches_but_the_lower_bound_does_not() -> None:
    curve = ThresholdCurve(CONF, RIGHT, TASKS)
    # Lower bounds by hand, Wilson with z² = 3.8415: from 0.55 up, 7/10 → 0.397, 7/9 → 0.453, 6/8 → 0.409,
    # 6/7 → 0.487, 5/6 → 0.437, 4/5 → 0.376, 4/4 → 4 / (4 + z²) = 0.510, 3/3 → 0.438, 2/2 → 0.342, 1/1 → 0.207.
    assert curve.for_target_accuracy(0.85, bound="point").threshold == 0.70  # 6 of 7
    assert curve.for_target_accuracy(0.85, bound="lower") is None
    best = curve.best_reachable("lower")
    assert best.threshold == 0.90 and best.ci_low == pytest.approx(4 / (4 + WILSON_Z**2))
    assert best.accuracy_bound("lower") == best.ci_low and best.accuracy_bound("point") == 1.0
    # The lowest threshold whose lower bound reaches 0.5 is 0.90 too; 0.45 is first reached at 0.60 (7 of 9).
    assert curve.for_target_accuracy(0.5).threshold == 0.90
    assert curve.for_target_accuracy(0.45, bound="lower").threshold == 0.60
    # The best point estimate is 100%, first at 0.90 (the lowest of the thresholds that reach it).
    assert curve.best_reachable("point").threshold == 0.90
    with pytest.raises(ThresholdInputInvalid, match="'point' or 'lower'"):
        curve.for_target_accuracy(0.9, bound="upper")  # type: ignore[arg-type]


def test_thresholds_with_the_sliders_decimals_accept_the_same_golden_items() -> None:
    golden, right, tasks = np.array([0.5774, 0.5776, 0.9, 0.9004]), np.array([True, False, True, True]), \
        np.array([0.5, 0.57745, 0.95])
    curve = ThresholdCurve(golden, right, tasks)
    # 0.5774 → 0.577 (all four golden); 0.5776 would also round to 0.577, so no 3-decimal threshold accepts just
    # its three; 0.9 stays; 0.9004 → 0.900 is no higher than 0.9, so it is left out; 1.0 stays.
    assert list(curve.candidates(decimals=3)) == [0.577, 0.9, 1.0]
    # 0.5776 and up: 2 of 3 right (66.7%); every golden item: 3 of 4 (75%) — so 75% is first met at 0.577.
    point = curve.for_target_accuracy(0.75, bound="point", decimals=3)
    assert (point.threshold, point.labelled_accepted) == (0.577, 4)
    assert curve.for_target_accuracy(0.75, bound="point").threshold == 0.5774
    # A budget for one item to people: exactly 0.57745 (one task below it); to 3 decimals 0.577 sends none.
    costly = ThresholdCurve(golden, right, tasks, CrowdCost(overlap=1, reward_per_answer=1.0, golden_overhead=0.0))
    assert costly.for_budget(1).threshold == 0.57745 and costly.for_budget(1).manual == 1
    assert costly.for_budget(1, decimals=3).threshold == 0.577 and costly.for_budget(1, decimals=3).manual == 1


def test_accuracy_text_says_when_no_golden_item_is_accepted() -> None:
    curve = ThresholdCurve(CONF, RIGHT, TASKS)
    assert curve.at(0.995).accuracy_text() == "— (no golden item accepted)"
    assert curve.at(0.90).accuracy_text() == "100.0% (51.0%–100.0%) on 4 golden items"


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


def test_thin_evidence_counts_the_golden_items_the_threshold_accepts() -> None:
    confidences = np.linspace(0.5, 0.99, 40)  # 40 golden, right above 0.6: five or more mistakes, 40% of tasks
    curve = ThresholdCurve(confidences, confidences > 0.6, np.linspace(0, 1, 100))
    assert curve.warnings_for(curve.at(0.5)) == []  # all 40 accepted
    # Above 0.75: 0.7513, 0.7638, ... 0.99 → 20 golden items accepted.
    with pytest.warns(ThinEvidenceWarning, match="rests on 20 golden items"):
        assert curve.warnings_for(curve.at(0.75)) == [
            "The accepted share rests on 20 golden items, fewer than 30: its accuracy is a rough guess. Add golden "
            "items or lower the threshold."]
    with pytest.warns(ThinEvidenceWarning, match="rests on 0 golden items: its accuracy is unknown"):
        curve.warnings_for(curve.at(0.995))


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


def test_split_at_threshold_accepts_at_or_above_and_sends_the_rest_to_people() -> None:
    tasks = pd.DataFrame({"item_id": [1, 2, 3, 4], "confidence": [0.5, 0.8, 0.79999, 0.95]})
    accepted, manual = split_at_threshold(tasks, 0.8)
    assert list(accepted.item_id) == [2, 4] and list(manual.item_id) == [1, 3]


def test_curve_from_predictions_scores_golden_rows_and_splits_task_rows() -> None:
    predictions = pd.DataFrame({
        "split": ["golden", "golden", "golden", "task", "task", "task"],
        "confidence": [0.9, 0.6, 0.95, 0.7, 0.92, 0.99],
        "correct": [True, False, True, False, False, False],
    })
    point = ThresholdCurve.from_predictions(predictions, CrowdCost(overlap=5, reward_per_answer=0.02)).at(0.9)
    assert (point.accepted, point.manual, point.labelled_accepted, point.accuracy) == (2, 1, 2, 1.0)
    assert point.crowd_cost == pytest.approx(1 * 5 * 0.02 * 1.1)


def _minilm_like(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Confidences and correctness shaped like the MiniLM head's on the shared reviews: right about 89% of the
    time, confidences from 0.5 (median about 0.8) and under-confident, nearly always right above 0.8."""
    rng = np.random.default_rng(seed)
    confidence = 0.5 + 0.5 * rng.beta(1.4, 1.0, n)
    chance_right = 1 / (1 + np.exp(-(2.2 * np.log(confidence / (1 - confidence)) + 0.3)))
    return confidence, rng.random(n) < chance_right


def test_calibrated_correctness_is_a_platt_fit_on_the_log_odds() -> None:
    from sklearn.linear_model import LogisticRegression

    confidence, right = _minilm_like(0, 200)
    log_odds = np.log(confidence / (1 - confidence))[:, None]
    query = np.array([0.5, 0.6, 0.75, 0.9, 0.99])
    fit = LogisticRegression(tol=1e-10).fit(log_odds, right)
    expected = fit.predict_proba(np.log(query / (1 - query))[:, None])[:, 1]
    assert calibrated_correctness(confidence, right, query) == pytest.approx(expected, abs=1e-4)
    # All golden right: no slope to fit, so Laplace's rule, never certainty.
    assert calibrated_correctness(np.array([0.7, 0.9, 0.95]), np.ones(3, dtype=bool), query) == pytest.approx(
        np.full(5, 4 / 5))


def test_calibrated_target_is_the_lowest_threshold_whose_accepted_tasks_are_expected_to_meet_it() -> None:
    golden, right = _minilm_like(1, 200)
    tasks, _ = _minilm_like(2, 900)
    curve = ThresholdCurve(golden, right, tasks)
    chance = calibrated_correctness(golden, right, tasks)
    point = curve.for_target(0.95, "point", "calibrated")
    assert point is not None and chance[tasks >= point.threshold].mean() >= 0.95
    assert chance[tasks >= tasks[tasks < point.threshold].max()].mean() < 0.95  # one task more and it fails
    accepted = tasks >= point.threshold
    assert curve.expected_task_accuracy(point.threshold, "point") == pytest.approx(chance[accepted].mean())
    lower = curve.for_target(0.95, "lower", "calibrated")
    assert lower is not None and lower.threshold > point.threshold
    assert curve.expected_task_accuracy(lower.threshold, "lower") >= 0.95
    # On the slider's three decimals the threshold rounds up: fewer, more confident tasks, the target still met.
    rounded = curve.for_target(0.95, "lower", "calibrated", decimals=3)
    assert rounded.threshold == round(rounded.threshold, 3) >= lower.threshold
    assert curve.expected_task_accuracy(rounded.threshold, "lower") >= 0.95
    # A fit never promises certainty: a target of 100% is out of reach, and the page says how far.
    assert curve.for_target(1.0, "lower", "calibrated") is None
    assert curve.highest_expected_task_accuracy("lower") < 1.0
    with pytest.raises(ThresholdInputInvalid, match="'golden' or 'calibrated', not 'tasks'"):
        curve.for_target(0.95, "lower", "tasks")  # type: ignore[arg-type]


def test_the_calibrated_lower_bound_keeps_its_promise_on_tasks_and_covers_more() -> None:
    """Over 20 draws of 200 golden and 900 tasks, judged on the tasks' true correctness: the accepted tasks meet
    the target at least as often as a 95% bound promises, and more of them are accepted than on golden."""
    met, calibrated_coverage, golden_coverage = 0, [], []
    for seed in range(20):
        golden, right = _minilm_like(seed, 200)
        tasks, task_right = _minilm_like(100 + seed, 900)
        curve = ThresholdCurve(golden, right, tasks)
        calibrated, on_golden = curve.for_target(0.95, "lower", "calibrated"), curve.for_target(0.95, "lower")
        met += task_right[tasks >= calibrated.threshold].mean() >= 0.95
        calibrated_coverage.append(calibrated.coverage)
        golden_coverage.append(on_golden.coverage if on_golden else 0.0)
    assert met >= 18
    assert np.mean(calibrated_coverage) > np.mean(golden_coverage)


def test_two_confident_golden_mistakes_send_everything_to_people_on_golden_but_not_calibrated() -> None:
    golden, right = _minilm_like(3, 200)
    tasks, _ = _minilm_like(103, 900)
    unlucky = right.copy()
    unlucky[np.argsort(golden)[-60:-58]] = False  # two mistakes among the 60 most confident golden items
    assert ThresholdCurve(golden, right, tasks).for_target(0.95, "lower").coverage > 0.6
    after = ThresholdCurve(golden, unlucky, tasks)
    assert after.for_target(0.95, "lower") is None
    assert after.for_target(0.95, "lower", "calibrated").coverage > 0.5
