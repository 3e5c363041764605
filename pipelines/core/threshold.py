"""Threshold maths for the autohelper: which items the model keeps, what that costs, how sure we are.

Items with confidence >= threshold are accepted from the model; the rest go to people. Labelled (golden)
predictions say how often accepted items are right. Sorted confidences and cumulative correctness are built
once, so every query is a binary search.

Two ways to judge the accuracy a threshold buys (`AccuracyOf`): `golden`, the share of the golden items it accepts
that are right, and `calibrated`, the expected accuracy of the task items it accepts, each task's chance of being
right read off a logistic fit of golden correctness on confidence (Platt scaling). The golden count rests on the few
golden items above the threshold, so one confident golden mistake moves it far (on the shared reviews, a retrained
head's three golden mistakes at 0.85-0.89 confidence sent 54% of the next round to people instead of 42%, though it
ranked the items better); the calibrated estimate uses every golden item, and its 95% lower bound comes from
refitting on resampled golden items.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

SEED_RULE_PERCENTILE = 90
SEED_RULE_NO_MISTAKES = 0.95
# What an item sent to people costs unless a run says otherwise; the flows' and forms' defaults too.
DEFAULT_OVERLAP = 3
DEFAULT_REWARD_PER_ANSWER = 0.01
WILSON_Z = 1.959963984540054  # two-sided 95%
MIN_GOLDEN_MISTAKES = 5
MIN_GOLDEN_SHARE = 0.10
MIN_GOLDEN_ACCEPTED = 30  # below this many golden items, the accepted share's accuracy is a rough guess
Bound = Literal["point", "lower"]
BOUND_LABELS: dict[Bound, str] = {"point": "point estimate", "lower": "95% lower bound"}
AccuracyOf = Literal["golden", "calibrated"]
ACCURACY_OF_LABELS: dict[AccuracyOf, str] = {"golden": "golden items accepted",
                                             "calibrated": "task items accepted (calibrated on golden)"}
CALIBRATION_RESAMPLES = 200  # golden resamples behind the calibrated estimate's lower bound
CALIBRATION_SEED = 0  # the resamples are seeded: the same predictions always give the same threshold
PLATT_C = 1.0  # inverse L2 strength on the calibration slope: a few confident golden items cannot make it steep


class ThresholdInputInvalid(ValueError):
    """Confidences or labels that threshold maths cannot use."""


class ThinEvidenceWarning(UserWarning):
    """A threshold chosen on too little labelled evidence."""


def _check_confidences(confidences: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(confidences, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ThresholdInputInvalid(f"{name} must be a non-empty list of numbers.")
    if np.isnan(values).any() or (values < 0).any() or (values > 1).any():
        raise ThresholdInputInvalid(f"{name} must lie between 0 and 1.")
    return values


def seed_threshold(confidences: np.ndarray, correct: np.ndarray) -> float:
    """The seed rule: the 90th percentile of confidence on golden items the model got wrong, 0.95 if none."""
    values = _check_confidences(confidences, "Golden confidences")
    right = np.asarray(correct, dtype=bool)
    if right.shape != values.shape:
        raise ThresholdInputInvalid("Golden confidences and correctness must have the same length.")
    wrong = values[~right]
    return float(np.percentile(wrong, SEED_RULE_PERCENTILE)) if wrong.size else SEED_RULE_NO_MISTAKES


def calibrated_correctness(golden_confidences: np.ndarray, golden_correct: np.ndarray, confidences: np.ndarray
                           ) -> np.ndarray:
    """How likely a prediction at each of `confidences` is right: a logistic fit of golden correctness on the
    log-odds of confidence (Platt scaling, the slope L2-penalised as scikit-learn's default).

    Golden items all right (or all wrong) give no slope to fit: every prediction then gets their rate with one
    success and one failure added (Laplace's rule), never a certainty.
    """
    golden = np.asarray(golden_confidences, dtype=float)
    return _platt(golden[None, :], np.asarray(golden_correct, dtype=bool)[None, :], np.asarray(confidences))[0]


def _platt(golden: np.ndarray, right: np.ndarray, confidences: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Row b: the Platt fit on golden[b] and right[b], at `confidences`. Newton steps on every row at once, so a few
    hundred golden resamples take milliseconds."""
    x, y = _log_odds(golden), right.astype(float)
    intercept, slope = np.zeros(len(x)), np.zeros(len(x))
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(intercept[:, None] + slope[:, None] * x)))
        weight = p * (1 - p)
        gradient = np.stack([(p - y).sum(1), ((p - y) * x).sum(1) + slope / PLATT_C])
        h_aa, h_aw, h_ww = weight.sum(1) + 1e-12, (weight * x).sum(1), (weight * x * x).sum(1) + 1 / PLATT_C
        determinant = h_aa * h_ww - h_aw * h_aw
        step_a = (h_ww * gradient[0] - h_aw * gradient[1]) / determinant
        step_w = (h_aa * gradient[1] - h_aw * gradient[0]) / determinant
        intercept, slope = intercept - np.clip(step_a, -5, 5), slope - np.clip(step_w, -5, 5)
    fitted = 1 / (1 + np.exp(-(intercept[:, None] + slope[:, None] * _log_odds(confidences)[None, :])))
    one_class = right.all(axis=1) | ~right.any(axis=1)
    laplace = (right.sum(axis=1) + 1) / (right.shape[1] + 2)
    return np.where(one_class[:, None], laplace[:, None], fitted)


def _log_odds(confidences: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(confidences, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped))


def wilson_interval(successes: int, trials: int, z: float = WILSON_Z) -> tuple[float, float]:
    """The Wilson score interval of a proportion; (nan, nan) with no trials."""
    if trials == 0:
        return math.nan, math.nan
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class CrowdCost:
    """What sending one item to people costs: `overlap` answers at `reward` each, plus golden overhead."""

    overlap: int = DEFAULT_OVERLAP
    reward_per_answer: float = DEFAULT_REWARD_PER_ANSWER
    golden_overhead: float = 0.1

    def __post_init__(self) -> None:
        if self.overlap < 1 or self.reward_per_answer < 0 or self.golden_overhead < 0:
            raise ThresholdInputInvalid("Overlap must be at least 1; reward and golden overhead not negative.")

    def for_items(self, items: int) -> float:
        return items * self.overlap * self.reward_per_answer * (1 + self.golden_overhead)


@dataclass(frozen=True)
class ThresholdPoint:
    threshold: float
    accepted: int
    manual: int
    coverage: float
    labelled_accepted: int
    accuracy: float
    ci_low: float
    ci_high: float
    expected_wrong: float
    crowd_cost: float
    cost_all_to_crowd: float
    saving: float
    saving_share: float

    def accuracy_text(self) -> str:
        """Golden accuracy of the accepted items with its 95% interval and evidence; a dash when none is accepted."""
        if not self.labelled_accepted:
            return "— (no golden item accepted)"
        return (f"{self.accuracy:.1%} ({self.ci_low:.1%}–{self.ci_high:.1%}) on {self.labelled_accepted} golden "
                f"item{'s' if self.labelled_accepted != 1 else ''}")

    def accuracy_bound(self, bound: Bound) -> float:
        """The golden accuracy of accepted items (`point`) or its 95% Wilson lower bound (`lower`)."""
        _check_bound(bound)
        return self.accuracy if bound == "point" else self.ci_low


def _check_bound(bound: str) -> None:
    if bound not in BOUND_LABELS:
        raise ThresholdInputInvalid(f"The bound should be 'point' or 'lower', not {bound!r}.")


def _round_down(values: np.ndarray, decimals: int) -> np.ndarray:
    """The largest multiples of 10**-decimals at or below each value (exactly: float error corrected)."""
    step = 10.0 ** -decimals
    down = np.round(np.floor(values / step) * step, decimals)
    down = np.where(down > values, np.round(down - step, decimals), down)
    up = np.round(down + step, decimals)
    return np.where(up <= values, up, down)


class ThresholdCurve:
    """Every threshold's counts, accuracy and cost, from predictions computed once."""

    def __init__(
        self, labelled_confidences: np.ndarray, labelled_correct: np.ndarray, task_confidences: np.ndarray,
        cost: CrowdCost | None = None,
    ) -> None:
        labelled = _check_confidences(labelled_confidences, "Labelled confidences")
        correct = np.asarray(labelled_correct, dtype=bool)
        if correct.shape != labelled.shape:
            raise ThresholdInputInvalid("Labelled confidences and correctness must have the same length.")
        order = np.argsort(labelled, kind="stable")
        self._labelled = labelled[order]
        # right_at_or_above[i]: correct items among labelled[i:], so a query needs one subtraction.
        self._right_at_or_above = np.concatenate([np.cumsum(correct[order][::-1])[::-1], [0]])
        self._tasks = np.sort(_check_confidences(task_confidences, "Task confidences"))
        self._correct = correct[order]
        self.cost = cost or CrowdCost()
        self.golden_mistakes = int((~correct).sum())
        self._expected: dict[Bound, np.ndarray] = {}

    @classmethod
    def from_predictions(cls, predictions: pd.DataFrame, cost: CrowdCost | None = None) -> ThresholdCurve:
        """The curve of an autohelper predictions table: golden rows (`split`, `confidence`, `correct`) score the
        thresholds, task rows are what they split."""
        golden = predictions[predictions.split == "golden"]
        return cls(golden.confidence.to_numpy(), golden.correct.to_numpy(),
                   predictions[predictions.split == "task"].confidence.to_numpy(), cost)

    @property
    def n_tasks(self) -> int:
        return int(self._tasks.size)

    def at(self, threshold: float) -> ThresholdPoint:
        """Counts, accuracy with its 95% Wilson interval, cost and saving at one threshold."""
        first_task = int(np.searchsorted(self._tasks, threshold, side="left"))
        accepted = self.n_tasks - first_task
        first_labelled = int(np.searchsorted(self._labelled, threshold, side="left"))
        labelled_accepted = self._labelled.size - first_labelled
        right = int(self._right_at_or_above[first_labelled])
        accuracy = right / labelled_accepted if labelled_accepted else math.nan
        low, high = wilson_interval(right, labelled_accepted)
        all_cost = self.cost.for_items(self.n_tasks)
        crowd_cost = self.cost.for_items(self.n_tasks - accepted)
        return ThresholdPoint(
            threshold=float(threshold), accepted=accepted, manual=self.n_tasks - accepted,
            coverage=accepted / self.n_tasks, labelled_accepted=labelled_accepted, accuracy=accuracy,
            ci_low=low, ci_high=high,
            expected_wrong=accepted * (1 - accuracy) if labelled_accepted else math.nan,
            crowd_cost=crowd_cost, cost_all_to_crowd=all_cost, saving=all_cost - crowd_cost,
            saving_share=(all_cost - crowd_cost) / all_cost if all_cost else 0.0,
        )

    def candidates(self, decimals: int | None = None) -> np.ndarray:
        """Thresholds where anything changes: each distinct labelled confidence, and 1.0.

        With `decimals` (a slider's resolution), each is rounded down to that many decimals, which accepts the
        same golden items; one that would fall to or below the confidence before it is left out, as no threshold
        with those decimals accepts exactly its golden items.
        """
        exact = np.unique(np.concatenate([self._labelled, [1.0]]))
        if decimals is None:
            return exact
        down = _round_down(exact, decimals)
        return down[np.concatenate([[True], down[1:] > exact[:-1]])]

    def for_target_accuracy(self, target: float, bound: Bound = "lower", *, decimals: int | None = None
                            ) -> ThresholdPoint | None:
        """The lowest candidate threshold whose golden accuracy of accepted items meets `target`.

        Args:
            target: the accuracy to reach, e.g. 0.95.
            bound: `"lower"` holds the 95% Wilson lower bound to the target, `"point"` the accuracy itself.
            decimals: only thresholds with this many decimals (see `candidates`).

        Returns:
            The point, or None when no threshold meets the target (see `best_reachable`).
        """
        _check_bound(bound)
        for threshold in self.candidates(decimals):
            point = self.at(threshold)
            if point.labelled_accepted and point.accuracy_bound(bound) >= target:
                return point
        return None

    def expected_task_accuracy(self, threshold: float, bound: Bound = "lower") -> float:
        """The expected accuracy of the task items accepted at `threshold`, calibrated on golden (`point`), or its
        one-sided 95% lower bound over golden resamples (`lower`); nan when it accepts no task."""
        _check_bound(bound)
        accepted = self.n_tasks - int(np.searchsorted(self._tasks, threshold, side="left"))
        return float(self._expected_accuracy(bound)[accepted - 1]) if accepted else math.nan

    def highest_expected_task_accuracy(self, bound: Bound = "lower") -> float:
        """The expected accuracy of the most confident task items alone: the most any threshold can promise."""
        return self.expected_task_accuracy(float(self._tasks[-1]), bound)

    def _expected_accuracy(self, bound: Bound) -> np.ndarray:
        """[k]: the expected accuracy of the k + 1 most confident tasks."""
        if bound not in self._expected:
            most_confident_first = self._tasks[::-1]
            counts = np.arange(1, self.n_tasks + 1)
            if bound == "point":
                fits = _platt(self._labelled[None, :], self._correct[None, :], most_confident_first)
            else:
                draws = np.random.default_rng(CALIBRATION_SEED).integers(
                    0, self._labelled.size, (CALIBRATION_RESAMPLES, self._labelled.size))
                fits = _platt(self._labelled[draws], self._correct[draws], most_confident_first)
            means = np.cumsum(fits, axis=1) / counts
            self._expected[bound] = means[0] if bound == "point" else np.percentile(means, 5, axis=0)
        return self._expected[bound]

    def for_target_task_accuracy(self, target: float, bound: Bound = "lower", *, decimals: int | None = None
                                 ) -> ThresholdPoint | None:
        """The lowest threshold whose accepted task items are expected to be right at least `target` of the time
        (see `expected_task_accuracy`); None when not even the most confident task is.

        With `decimals`, the threshold is rounded up to that many decimals: it accepts only more confident tasks,
        so the target still holds.
        """
        _check_bound(bound)
        meeting = np.flatnonzero(self._expected_accuracy(bound) >= target)
        if not meeting.size:
            return None
        threshold = float(self._tasks[self.n_tasks - 1 - int(meeting[-1])])
        # Ties with the last accepted task are accepted too; drop down the list until the target holds with them.
        while self.expected_task_accuracy(threshold, bound) < target:
            higher = self._tasks[self._tasks > threshold]
            if not higher.size:
                return None
            threshold = float(higher[0])
        if decimals is not None:
            threshold = min(1.0, float(np.ceil(np.round(threshold * 10**decimals, 9)) / 10**decimals))
        return self.at(threshold)

    def for_target(self, target: float, bound: Bound = "lower", accuracy_of: AccuracyOf = "golden", *,
                   decimals: int | None = None) -> ThresholdPoint | None:
        """The lowest threshold meeting `target` on the accuracy `accuracy_of` names (see the module's notes)."""
        if accuracy_of not in ACCURACY_OF_LABELS:
            raise ThresholdInputInvalid(f"The accuracy to solve on should be 'golden' or 'calibrated', not "
                                        f"{accuracy_of!r}.")
        if accuracy_of == "calibrated":
            return self.for_target_task_accuracy(target, bound, decimals=decimals)
        return self.for_target_accuracy(target, bound, decimals=decimals)

    def best_reachable(self, bound: Bound = "lower", *, decimals: int | None = None) -> ThresholdPoint | None:
        """The threshold with the highest accuracy on `bound` (the lowest such one); None if none accepts golden."""
        _check_bound(bound)
        points = [p for p in map(self.at, self.candidates(decimals)) if p.labelled_accepted]
        return max(points, key=lambda p: (p.accuracy_bound(bound), -p.threshold), default=None)

    def for_budget(self, budget: float, *, decimals: int | None = None) -> ThresholdPoint:
        """The highest threshold (the most items to people) whose crowd cost fits the budget.

        With `decimals`, the threshold is rounded down to that many decimals: fewer items to people, so still
        within the budget.
        """
        if budget < 0:
            raise ThresholdInputInvalid("The budget cannot be negative.")
        per_item = self.cost.for_items(1)
        affordable = self.n_tasks if per_item == 0 else min(self.n_tasks, int(budget // per_item))
        if affordable >= self.n_tasks:
            threshold = float(np.nextafter(1.0, 2.0))  # above every confidence: all to people
        else:
            # Items strictly below tasks[affordable] number at most `affordable`; any higher threshold adds one.
            threshold = float(self._tasks[affordable])
        if decimals is not None:
            threshold = float(_round_down(np.array([threshold]), decimals)[0])
        return self.at(threshold)

    def curve(self, n_points: int = 101) -> pd.DataFrame:
        """Points over [0, 1] (plus every candidate threshold) for accuracy–coverage and cost plots."""
        grid = np.unique(np.concatenate([np.linspace(0, 1, n_points), self.candidates()]))
        return pd.DataFrame([self.at(t).__dict__ for t in grid])

    def warnings_for(self, point: ThresholdPoint) -> list[str]:
        """Reasons to distrust a threshold; each is also issued as a `ThinEvidenceWarning`."""
        reasons = []
        if self.golden_mistakes < MIN_GOLDEN_MISTAKES:
            reasons.append(f"Only {self.golden_mistakes} golden mistakes: the threshold rests on fewer than "
                           f"{MIN_GOLDEN_MISTAKES}. Add golden items.")
        if self._labelled.size < MIN_GOLDEN_SHARE * self.n_tasks:
            reasons.append(f"Golden items are {self._labelled.size / self.n_tasks:.0%} of tasks, under "
                           f"{MIN_GOLDEN_SHARE:.0%}.")
        if point.labelled_accepted == 0:
            reasons.append("The accepted share rests on 0 golden items: its accuracy is unknown. Lower the threshold "
                           "or add golden items.")
        elif point.labelled_accepted < MIN_GOLDEN_ACCEPTED:
            reasons.append(f"The accepted share rests on {point.labelled_accepted} golden items, fewer than "
                           f"{MIN_GOLDEN_ACCEPTED}: its accuracy is a rough guess. Add golden items or lower the "
                           "threshold.")
        for reason in reasons:
            warnings.warn(reason, ThinEvidenceWarning, stacklevel=2)
        return reasons


def split_at_threshold(tasks: pd.DataFrame, threshold: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tasks accepted from the model (confidence at or above `threshold`) and those left for people."""
    accepted = tasks.confidence >= threshold
    return tasks[accepted], tasks[~accepted]
