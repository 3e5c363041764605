"""Adaptive overlap (Toloka's incremental relabelling): ask people only as often as an item needs.

An item first gets `min_answers`; it gets more only while it is uncertain, and never more than `max_answers`.
Uncertain means the posterior of its leading label is below `stop_confidence`, computed from the item's answer
counts alone (cheap enough to decide on every answer) under a one-coin model: each answer is right with the
same probability `p`, and a wrong answer picks any of the other `K - 1` labels alike. With a uniform prior over
the true label, label `c`'s likelihood is `p^n_c ((1 - p)/(K - 1))^(N - n_c)`; divided through by
`((1 - p)/(K - 1))^N` it leaves

    P(c | n_1..n_K) = r^n_c / sum_k r^n_k,      r = p (K - 1) / (1 - p)

so only the differences between label counts matter: in a binary batch with p = 0.9 (r = 9), two agreeing
answers give 81/82 = 0.988, a 2-1 split gives 9/10 = 0.9. With the model's label as a prior (its calibrated
probability of being right, `q`, on the label it chose, the rest shared by the others) the prior replaces the
uniform one: P(c | n) = prior_c r^n_c / sum_k prior_k r^n_k. In a binary batch with p = 0.77, one answer agreeing
with a model right 75% of the time gives 0.91; two give 0.97, where two people alone give 0.92. `p` is the batch's golden accuracy so far, smoothed
towards a prior (`answer_accuracy`), so a batch starts from the prior and learns how good its crowd is; a crowd
no better than chance (p <= 1/K) never makes an item confident, and every item then gets `max_answers`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ACCURACY_PRIOR = 0.8  # a typical crowd worker's accuracy (D_PosSent's 85 workers average 0.79)
PRIOR_WEIGHT = 10  # how many golden answers the prior counts as
# p is kept off 0 and 1 so r stays finite and positive: no single answer is ever proof.
_ACCURACY_RANGE = (0.01, 0.99)


def answer_accuracy(right: int, answered: int, prior: float = ACCURACY_PRIOR, weight: float = PRIOR_WEIGHT) -> float:
    """The estimated accuracy of one answer: `right` of `answered` golden answers, smoothed towards `prior` as if
    `weight` golden answers had been `prior` right (a Beta prior's mean), kept within [0.01, 0.99]."""
    if not 0 <= right <= answered:
        raise ValueError(f"Right golden answers ({right}) must lie between 0 and the answers given ({answered}).")
    low, high = _ACCURACY_RANGE
    return min(high, max(low, (right + prior * weight) / (answered + weight)))


# A posterior equal to the stop confidence but for float rounding has reached it: a 0.75 prior and one answer of
# accuracy 0.75 give 0.9 exactly, computed as 0.8999999999999999.
_ROUNDING = 1e-9


def posterior(counts: Sequence[int], accuracy: float, prior: Sequence[float] | None = None) -> list[float]:
    """Each label's posterior, given each label's answer count (one count per label of the batch, zeros included),
    the accuracy of one answer, and a prior over the labels (uniform when None; see the module docstring)."""
    if len(counts) < 2:
        raise ValueError("Counts are needed for every label of the batch, at least two.")
    if prior is not None and (len(prior) != len(counts) or min(prior) <= 0):
        raise ValueError("A prior needs one positive probability per label of the batch.")
    low, high = _ACCURACY_RANGE
    p = min(high, max(low, accuracy))
    log_ratio = math.log(p * (len(counts) - 1) / (1 - p))
    logs = [count * log_ratio + (0.0 if prior is None else math.log(prior[label]))
            for label, count in enumerate(counts)]
    # Shifted by the largest term so no power overflows however many answers an item has.
    top = max(logs)
    weights = [math.exp(value - top) for value in logs]
    total = sum(weights)
    return [weight / total for weight in weights]


def leading_posterior(counts: Sequence[int], accuracy: float, prior: Sequence[float] | None = None) -> float:
    """The posterior of the most likely label (see `posterior`)."""
    return max(posterior(counts, accuracy, prior))


def model_prior(model_label_index: int, model_confidence: float, n_labels: int) -> list[float]:
    """The prior a model's label gives an item: its calibrated confidence on that label, the rest shared alike."""
    rest = (1 - model_confidence) / (n_labels - 1)
    return [model_confidence if label == model_label_index else rest for label in range(n_labels)]


@dataclass(frozen=True)
class AdaptiveOverlap:
    """How many answers an item gets: `min_answers` first, more while uncertain, at most `max_answers`."""

    min_answers: int = 2
    max_answers: int = 5
    stop_confidence: float = 0.95

    def __post_init__(self) -> None:
        if not 1 <= self.min_answers <= self.max_answers:
            raise ValueError(f"Adaptive overlap needs 1 <= min_answers <= max_answers (got min_answers="
                             f"{self.min_answers}, max_answers={self.max_answers}).")
        if not 0 < self.stop_confidence < 1:
            raise ValueError(f"stop_confidence should lie between 0 and 1 (got {self.stop_confidence}).")

    def needs_answer(self, counts: Sequence[int], accuracy: float, prior: Sequence[float] | None = None) -> bool:
        """Whether an item with these answer counts (one per label) takes another answer."""
        given = sum(counts)
        if given >= self.max_answers:
            return False
        return given < self.min_answers or leading_posterior(counts, accuracy, prior) < self.stop_confidence - _ROUNDING

    def answers_left(self, counts: Sequence[int], accuracy: float, prior: Sequence[float] | None = None) -> int:
        """The fewest further answers that could settle the item: each agreeing with its most likely label, at
        least up to `min_answers`, at most up to `max_answers` (an optimistic estimate: disagreement adds more)."""
        given = sum(counts)
        likely = posterior(counts, accuracy, prior)
        lead = likely.index(max(likely))
        for more in range(self.max_answers - given + 1):
            settled = [count + more if label == lead else count for label, count in enumerate(counts)]
            if not self.needs_answer(settled, accuracy, prior):
                return more
        return max(0, self.max_answers - given)
