"""The adaptive-overlap rule, computed by hand: P(lead) = 1 / sum_k r^(n_k - n_lead), r = p (K - 1) / (1 - p)."""

from __future__ import annotations

import math

import pytest

from pipelines.core.adaptive import (
    AdaptiveOverlap,
    CrowdAccuracy,
    Votes,
    answer_accuracy,
    answer_weight,
    leading_posterior,
    model_prior,
    posterior,
)

RULE = AdaptiveOverlap(min_answers=2, max_answers=5, stop_confidence=0.95)
alike = Votes.alike  # counts per label, every answer of the same accuracy


def test_answer_accuracy_is_golden_accuracy_smoothed_towards_the_prior() -> None:
    assert answer_accuracy(0, 0) == pytest.approx(0.8)  # no golden answer yet: the prior
    assert answer_accuracy(10, 10) == pytest.approx(18 / 20)  # ten right count as much as the prior's ten
    assert answer_accuracy(5, 10) == pytest.approx(13 / 20)
    assert answer_accuracy(1000, 1000) == 0.99  # never certain
    with pytest.raises(ValueError, match="between 0 and the answers given"):
        answer_accuracy(3, 2)


def test_leading_posterior_binary_and_multi_class_by_hand() -> None:
    assert leading_posterior(alike([2, 0], 0.8)) == pytest.approx(16 / 17)  # r = 4
    assert leading_posterior(alike([0, 3], 0.8)) == pytest.approx(64 / 65)
    assert leading_posterior(alike([2, 1], 0.9)) == pytest.approx(9 / 10)  # r = 9: only the difference counts
    assert leading_posterior(alike([12, 11], 0.9)) == pytest.approx(9 / 10)
    assert leading_posterior(alike([0, 0], 0.9)) == pytest.approx(1 / 2)
    assert leading_posterior(alike([2, 0, 0], 0.8)) == pytest.approx(64 / 66)  # K = 3: r = 0.8 * 2 / 0.2 = 8
    assert leading_posterior(alike([1, 1, 0], 0.8)) == pytest.approx(8 / 17)
    assert leading_posterior(alike([1, 0, 0, 0], 0.25)) == pytest.approx(1 / 4)  # chance level: answers say nothing
    with pytest.raises(ValueError, match="at least two"):
        leading_posterior(alike([3], 0.9))


def test_an_item_needs_min_answers_then_more_only_while_uncertain_never_past_max() -> None:
    assert RULE.needs_answer(alike([1, 0], 0.99))  # below min_answers, however sure
    assert RULE.needs_answer(alike([2, 0], 0.8))  # 16/17 = 0.941 < 0.95
    assert not RULE.needs_answer(alike([2, 0], 0.9))  # 81/82 = 0.988
    assert RULE.needs_answer(alike([2, 1], 0.9))  # 0.9
    assert not RULE.needs_answer(alike([3, 2], 0.9))  # still 0.9, but at max_answers
    assert RULE.needs_answer(alike([4, 0], 0.5))  # a crowd at chance settles nothing...
    assert not RULE.needs_answer(alike([5, 0], 0.5))  # ...until max_answers


def test_a_posterior_at_the_stop_confidence_but_for_float_rounding_settles_the_item() -> None:
    rule = AdaptiveOverlap(min_answers=1, max_answers=5, stop_confidence=0.9)
    # 0.75 * 0.75 / (0.75 * 0.75 + 0.25 * 0.25) is 0.9 exactly; in floats it comes out a hair below.
    assert leading_posterior(alike([0, 1], 0.75), [0.25, 0.75]) < 0.9
    assert not rule.needs_answer(alike([0, 1], 0.75), [0.25, 0.75])
    assert rule.answers_left(alike([0, 0], 0.75), 0.75, [0.25, 0.75]) == 1
    assert rule.needs_answer(alike([0, 1], 0.7499), [0.25, 0.75])  # truly below: one more answer


def test_answers_left_is_the_fewest_agreeing_answers_that_settle_the_item() -> None:
    assert RULE.answers_left(alike([0, 0], 0.9), 0.9) == 2  # min_answers
    assert RULE.answers_left(alike([0, 0], 0.8), 0.8) == 3  # 4^3 / (4^3 + 1) = 0.985; two give 0.941
    assert RULE.answers_left(alike([2, 1], 0.9), 0.9) == 1  # [3, 1]: 81/82
    assert RULE.answers_left(alike([1, 1], 0.9), 0.9) == 2  # [3, 1]
    assert RULE.answers_left(alike([2, 2], 0.9), 0.9) == 1  # one more reaches max_answers
    assert RULE.answers_left(alike([0, 0], 0.5), 0.5) == 5
    assert RULE.answers_left(alike([2, 0], 0.9), 0.9) == 0
    assert RULE.answers_left(alike([3, 2], 0.5), 0.5) == 0


@pytest.mark.parametrize(("arguments", "message"), [
    ({"min_answers": 0}, "1 <= min_answers <= max_answers"),
    ({"min_answers": 4, "max_answers": 3}, "1 <= min_answers <= max_answers"),
    ({"stop_confidence": 1.0}, "between 0 and 1"),
])
def test_a_rule_that_cannot_work_is_refused(arguments: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AdaptiveOverlap(**arguments)  # type: ignore[arg-type]


def test_the_models_label_as_a_prior_by_hand() -> None:
    """P(c | n) = prior_c r^n_c / sum_k prior_k r^n_k; a uniform prior changes nothing."""
    p, q = 0.77, 0.75
    r = p / (1 - p)
    prior = model_prior(1, q, 2)  # the model said the second label, right 75% of the time
    assert prior == pytest.approx([0.25, 0.75])
    assert leading_posterior(alike([0, 1], p), prior) == pytest.approx(q * r / (q * r + (1 - q)))  # 0.909
    assert leading_posterior(alike([0, 2], p), prior) == pytest.approx(q * r * r / (q * r * r + (1 - q)))  # 0.971
    assert leading_posterior(alike([0, 2], p)) == pytest.approx(r * r / (r * r + 1))  # people alone: 0.918
    assert posterior(alike([1, 0], p), prior) == pytest.approx(
        [r * 0.25 / (r * 0.25 + 0.75), 0.75 / (r * 0.25 + 0.75)])
    assert posterior(alike([3, 1], 0.8), [0.5, 0.5]) == pytest.approx(posterior(alike([3, 1], 0.8)))
    # K = 3, nobody answered:
    assert leading_posterior(alike([0, 0, 0], p), model_prior(0, 0.9, 3)) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="one positive probability per label"):
        posterior(alike([1, 0], p), [1.0])


def test_people_agreeing_with_a_likely_model_settle_an_item_sooner_and_disagreeing_later() -> None:
    rule = AdaptiveOverlap(min_answers=1, max_answers=5, stop_confidence=0.95)
    prior = model_prior(1, 0.75, 2)
    assert rule.needs_answer(alike([0, 2], 0.77))  # two people alone: 0.918
    assert not rule.needs_answer(alike([0, 2], 0.77), prior)  # with the model: 0.971
    assert rule.answers_left(alike([0, 0], 0.77), 0.77, prior) == 2
    assert rule.answers_left(alike([0, 0], 0.77), 0.77) == 3
    # Against the model, the people's label leads once they outnumber it enough, and needs more to settle.
    assert posterior(alike([2, 0], 0.77), prior)[0] > 0.5
    assert rule.answers_left(alike([1, 0], 0.77), 0.77, prior) > rule.answers_left(alike([1, 0], 0.77), 0.77)


def test_each_answer_weighs_what_its_workers_accuracy_says() -> None:
    assert answer_weight(0.5, 2) == pytest.approx(0.0)  # a coin flip says nothing
    assert answer_weight(0.9, 2) == pytest.approx(math.log(9))
    assert answer_weight(0.8, 3) == pytest.approx(math.log(8))  # 0.8 * 2 / 0.2
    assert answer_weight(0.3, 2) < 0  # worse than chance points away from its label
    good_then_spammer = Votes.none(2).plus(0, 0.9).plus(1, 0.55)
    assert good_then_spammer.given == 2
    assert good_then_spammer.evidence == pytest.approx((math.log(9), math.log(0.55 / 0.45)))
    assert Votes.none(2).plus(0, 0.8).plus(0, 0.8).plus(1, 0.8) == pytest.approx(alike([2, 1], 0.8))


def test_worker_accuracy_is_their_golden_record_smoothed_towards_the_batchs() -> None:
    accuracy = CrowdAccuracy.from_golden({"careful": (10, 10), "spammer": (5, 10)})
    batch = answer_accuracy(15, 20)
    assert accuracy.batch == pytest.approx(batch)
    assert accuracy.of("careful") == pytest.approx(answer_accuracy(10, 10, prior=batch))
    assert accuracy.of("spammer") == pytest.approx((5 + 10 * batch) / 20)
    assert accuracy.of("newcomer") == accuracy.batch  # no golden answer yet: the crowd's
    assert CrowdAccuracy.from_golden({}).batch == pytest.approx(answer_accuracy(0, 0))


def test_an_answer_from_a_trusted_worker_settles_an_item_one_from_a_spammer_does_not() -> None:
    rule = AdaptiveOverlap(min_answers=1, max_answers=5, stop_confidence=0.9)
    prior = model_prior(0, 0.75, 2)
    assert not rule.needs_answer(Votes.none(2).plus(0, 0.9), prior)  # 0.75 * 9 / (0.75 * 9 + 0.25) = 0.964
    assert rule.needs_answer(Votes.none(2).plus(0, 0.55), prior)  # 0.786
    # Two who disagree: the trusted one's label leads.
    split = Votes.none(2).plus(0, 0.9).plus(1, 0.55)
    assert posterior(split)[0] == pytest.approx(9 / (9 + 0.55 / 0.45))
