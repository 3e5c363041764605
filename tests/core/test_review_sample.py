"""The generated sample: n distinct balanced reviews for any n the templates allow, refused at once beyond."""

from __future__ import annotations

import pytest

from pipelines.core.review_sample import SAMPLE_MAX_REVIEWS, sample_reviews
from pipelines.core.reviews import DatasetProblem, prepare_dataset


def test_the_generated_sample_makes_100k_distinct_balanced_reviews_that_all_survive_the_split() -> None:
    sample = sample_reviews(100_000)
    assert sample["reviews.text"].is_unique and len(sample) == 100_000
    assert sample["reviews.doRecommend"].value_counts().to_dict() == {True: 50_000, False: 50_000}
    prepared = prepare_dataset(sample)
    assert prepared.report["duplicates"] == 0 and len(prepared.tasks) + len(prepared.golden) == 100_000


def test_a_sample_larger_than_the_templates_allow_is_refused_at_once() -> None:
    assert sample_reviews(SAMPLE_MAX_REVIEWS)["reviews.text"].is_unique
    with pytest.raises(DatasetProblem, match=f"at most {SAMPLE_MAX_REVIEWS} distinct reviews, not "):
        sample_reviews(SAMPLE_MAX_REVIEWS + 1)
