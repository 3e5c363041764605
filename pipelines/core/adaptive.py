"""Adaptive overlap (Toloka's incremental relabelling): ask people only as often as an item needs.

An item first gets `min_answers`; it gets more only while it is uncertain, and never more than `max_answers`.
Uncertain means the posterior of its leading label is below `stop_confidence`, computed from the item's answers
alone (cheap enough to decide on every answer) under a one-coin model per worker: an answer of worker `w` is right
with probability `p_w`, and a wrong answer picks any of the other `K - 1` labels alike. With a uniform prior over
the true label, dividing every label's likelihood by the same product leaves

    P(c | answers) = exp(e_c) / sum_k exp(e_k),    e_c = sum of log r_w over the answers giving c,
    r_w = p_w (K - 1) / (1 - p_w)

(`Votes.evidence`). When every answer has the same `p` (r = p (K - 1) / (1 - p)), P(c | n_1..n_K) = r^n_c /
sum_k r^n_k: only the differences between label counts matter; in a binary batch with p = 0.9 (r = 9), two
agreeing answers give 81/82 = 0.988, a 2-1 split gives 9/10 = 0.9. With the model's label as a prior (its
calibrated probability of being right, `q`, on the label it chose, the rest shared by the others) the prior
replaces the uniform one: P(c | n) = prior_c r^n_c / sum_k prior_k r^n_k. In a binary batch with p = 0.77, one
answer agreeing with a model right 75% of the time gives 0.91; two give 0.97, where two people alone give 0.92.

`p_w` is the worker's golden accuracy so far, smoothed towards the batch's, itself the batch's golden accuracy
smoothed towards a prior (`answer_accuracy`, `CrowdAccuracy`): a batch starts from the prior and learns how good
its crowd is, and which of its workers to trust; a spammer's answers (p_w near 1/K) soon weigh almost nothing, so
the items they answered take another answer. A crowd no better than chance never makes an item confident, and
every item then gets `max_answers`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ACCURACY_PRIOR = 0.8  # a typical crowd worker's accuracy (D_PosSent's 85 workers average 0.79)
PRIOR_WEIGHT = 10  # how many golden answers the prior counts as
# p is kept off 0 and 1 so log r stays finite: no single answer is ever proof.
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


def answer_weight(accuracy: float, n_labels: int) -> float:
    """The evidence one answer of this accuracy adds to the label it gives: log r = log(p (K - 1) / (1 - p)); zero
    at chance (p = 1/K), negative below it (such an answer points away from its label)."""
    low, high = _ACCURACY_RANGE
    p = min(high, max(low, accuracy))
    return math.log(p * (n_labels - 1) / (1 - p))


@dataclass(frozen=True)
class Votes:
    """An item's answers so far: how many were `given`, and each label's `evidence`, the sum of the
    `answer_weight`s of the answers that gave it (each answer weighed by its own worker's accuracy)."""

    given: int
    evidence: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.evidence) < 2:
            raise ValueError("Votes are needed for every label of the batch, at least two.")

    @classmethod
    def none(cls, n_labels: int) -> Votes:
        return cls(0, (0.0,) * n_labels)

    @classmethod
    def alike(cls, counts: Sequence[int], accuracy: float) -> Votes:
        """Answer counts per label, every answer of the same accuracy (the one-coin case of the module docstring)."""
        cls.none(len(counts))  # refuses fewer than two labels before a weight is computed for them
        weight = answer_weight(accuracy, len(counts))
        return cls(sum(counts), tuple(count * weight for count in counts))

    def plus(self, label: int, accuracy: float) -> Votes:
        """These votes and one more answer, for `label`, of this accuracy."""
        weight = answer_weight(accuracy, len(self.evidence))
        return Votes(self.given + 1, tuple(value + weight * (index == label)
                                           for index, value in enumerate(self.evidence)))


@dataclass(frozen=True)
class CrowdAccuracy:
    """How often one answer is right: the batch's golden accuracy (`answer_accuracy`), and each worker's own,
    smoothed towards the batch's, so a worker with few golden answers counts about as much as the crowd's average
    and a spammer's answers soon count for little."""

    batch: float
    workers: Mapping[str, float]

    @classmethod
    def from_golden(cls, golden_by_worker: Mapping[str, tuple[int, int]]) -> CrowdAccuracy:
        """From each worker's (right, answered) golden answers."""
        batch = answer_accuracy(sum(right for right, _ in golden_by_worker.values()),
                                sum(answered for _, answered in golden_by_worker.values()))
        return cls(batch, {worker: answer_accuracy(right, answered, prior=batch)
                           for worker, (right, answered) in golden_by_worker.items()})

    def of(self, worker: str) -> float:
        return self.workers.get(worker, self.batch)


def posterior(votes: Votes, prior: Sequence[float] | None = None) -> list[float]:
    """Each label's posterior, given the item's votes (evidence for every label of the batch, zeros included) and a
    prior over the labels (uniform when None; see the module docstring)."""
    evidence = votes.evidence
    if prior is not None and (len(prior) != len(evidence) or min(prior) <= 0):
        raise ValueError("A prior needs one positive probability per label of the batch.")
    logs = [value + (0.0 if prior is None else math.log(prior[label])) for label, value in enumerate(evidence)]
    # Shifted by the largest term so no power overflows however many answers an item has.
    top = max(logs)
    weights = [math.exp(value - top) for value in logs]
    total = sum(weights)
    return [weight / total for weight in weights]


def leading_posterior(votes: Votes, prior: Sequence[float] | None = None) -> float:
    """The posterior of the most likely label (see `posterior`)."""
    return max(posterior(votes, prior))


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

    def needs_answer(self, votes: Votes, prior: Sequence[float] | None = None) -> bool:
        """Whether an item with these votes takes another answer."""
        if votes.given >= self.max_answers:
            return False
        return votes.given < self.min_answers or leading_posterior(votes, prior) < self.stop_confidence - _ROUNDING

    def answers_left(self, votes: Votes, accuracy: float, prior: Sequence[float] | None = None) -> int:
        """The fewest further answers, each of `accuracy` (the crowd's), that could settle the item: each agreeing
        with its most likely label, at least up to `min_answers`, at most up to `max_answers` (an optimistic
        estimate: disagreement adds more)."""
        likely = posterior(votes, prior)
        lead = likely.index(max(likely))
        settled = votes
        for more in range(self.max_answers - votes.given + 1):
            if not self.needs_answer(settled, prior):
                return more
            settled = settled.plus(lead, accuracy)
        return max(0, self.max_answers - votes.given)
